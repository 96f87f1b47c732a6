// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_HPP
#define JOINME_OAUTH_TOKEN_HPP

/// @file
/// `joinme::oauth::token`: an access token with what is known about it (refresh token, type,
/// absolute expiry, scopes), expiry helpers, and a JSON form for persistence.

#include <joinme/detail/time.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/secret.hpp>

#include <boost/json/conversion.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace joinme::oauth {

/// The clock every expiry is measured against. Callers pass "now" explicitly, so that tests and
/// a token source can use any clock they like (one corrected for server skew, say).
using time_point = std::chrono::system_clock::time_point;

/// The longest lifetime joinme honours: a longer `expires_in` is cut to ten years, which keeps
/// the time arithmetic far from overflow whatever a server sends.
inline constexpr std::chrono::seconds max_token_lifetime{10LL * 366 * 24 * 3600};

namespace detail {

// `expires_in` sent as text (the implicit grant's fragment, or a JSON string from a lenient
// server): decimal digits, surrounding spaces tolerated. Values above the limit are cut.
inline std::optional<std::chrono::seconds> parse_expires_in(std::string_view s) noexcept {
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    if (s.empty())
        return std::nullopt;
    for (char c : s)
        if (c < '0' || c > '9')
            return std::nullopt;
    unsigned long long v = 0;
    auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    (void)end;
    if (err == std::errc::result_out_of_range ||
        v > static_cast<unsigned long long>(max_token_lifetime.count()))
        return max_token_lifetime;
    return std::chrono::seconds(static_cast<long long>(v));
}

} // namespace detail

/// An OAuth 2.0 access token as received from a token response or an implicit-grant redirect.
///
/// The expiry is absolute: it is computed when the response arrives (`obtained_at` plus
/// `expires_in`, rounded down to whole seconds so that it errs early), hence stays right
/// however long the token is kept. A token without `expires_at` has an unknown lifetime: it is
/// used until the server rejects it.
///
/// Printing shows no secret. The JSON form (`boost::json::value_from` / `value_to`) does hold
/// the tokens in clear, because it exists to persist them: store it like a password.
///
/// Thread safety: a value type; distinct objects may be used concurrently.
struct token {
    /// The access token; never empty in a token returned by a joinme parser.
    joinme::secret access_token;

    /// The refresh token; empty when the server issued none (always so for the implicit grant).
    joinme::secret refresh_token;

    /// The token type as the server spelt it; `"bearer"` when the server omitted it.
    std::string token_type = "bearer";

    /// When the access token expires; empty when the server did not say.
    std::optional<std::chrono::sys_seconds> expires_at;

    /// When the response carrying this token arrived.
    std::chrono::sys_seconds obtained_at{};

    /// The scopes granted; the requested ones when the server did not list them.
    scope_set scopes;

    /// True when a refresh token is held, so the token can be renewed without the user.
    bool refreshable() const noexcept { return !refresh_token.empty(); }

    /// True for a bearer token (the type compared case-insensitively, RFC 6749 §5.1).
    bool is_bearer() const noexcept {
        constexpr std::string_view bearer = "bearer";
        if (token_type.size() != bearer.size())
            return false;
        for (std::size_t i = 0; i < bearer.size(); ++i) {
            char c = token_type[i];
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
            if (c != bearer[i])
                return false;
        }
        return true;
    }

    /// The lifetime the server granted (`expires_at - obtained_at`); empty when unknown.
    std::optional<std::chrono::seconds> lifetime() const noexcept {
        if (!expires_at)
            return std::nullopt;
        return *expires_at - obtained_at;
    }

    /// True when the expiry is known and has been reached at `now`.
    bool expired(time_point now) const noexcept { return expires_within({}, now); }

    /// True when the expiry is known and falls at or before `now + margin`.
    bool expires_within(std::chrono::milliseconds margin, time_point now) const noexcept {
        return expires_at && now + margin >= *expires_at;
    }

    /// True when a refresh should start at `now`: the token expires within `margin`, where
    /// the margin is cut to half the token's lifetime so that a short-lived token is not
    /// refreshed as soon as it arrives. False when the expiry is unknown.
    bool refresh_due(std::chrono::milliseconds margin, time_point now) const noexcept {
        if (auto life = lifetime(); life && margin > *life / 2)
            margin = *life / 2;
        return expires_within(margin, now);
    }

    /// Prints the type, expiry, scopes and whether tokens are present; never a token.
    friend std::ostream& operator<<(std::ostream& os, const token& t) {
        os << "token{type " << t.token_type << ", access_token " << t.access_token
           << ", refresh_token " << t.refresh_token << ", expires_at ";
        if (t.expires_at)
            os << joinme::detail::format_iso8601(*t.expires_at);
        else
            os << "unknown";
        return os << ", scope \"" << t.scopes << "\"}";
    }
};

/// Stores `t` as a JSON object for persistence:
/// `{"access_token", "token_type", "obtained_at", "scope", ["refresh_token"], ["expires_at"]}`,
/// times in ISO 8601 UTC. Absent values are left out. The tokens are in clear.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const token& t) {
    boost::json::object o;
    o["access_token"] = t.access_token.reveal();
    if (t.refreshable())
        o["refresh_token"] = t.refresh_token.reveal();
    o["token_type"] = t.token_type;
    if (t.expires_at)
        o["expires_at"] = joinme::detail::format_iso8601(*t.expires_at);
    o["obtained_at"] = joinme::detail::format_iso8601(t.obtained_at);
    o["scope"] = t.scopes.to_string();
    jv = std::move(o);
}

/// Reads a token stored by the conversion above. Unknown fields are ignored, so that a later
/// version may add some. Errors: `boost::json::error::not_object`, `not_string` (a field of
/// the wrong type), `not_found` (no or an empty `access_token`), `errc::malformed_response`
/// (a time that is not ISO 8601). `boost::json::value_to<token>` throws these instead.
inline boost::system::result<token> tag_invoke(boost::json::try_value_to_tag<token>,
                                               const boost::json::value& jv) {
    const auto* o = jv.if_object();
    if (!o)
        return error_code(boost::json::error::not_object);
    // Each optional string field: absent or null is fine, another kind is an error.
    auto text = [o](std::string_view key, std::optional<std::string_view>& out) -> bool {
        const auto* v = o->if_contains(key);
        if (!v || v->is_null())
            return true;
        const auto* s = v->if_string();
        if (!s)
            return false;
        out = std::string_view(*s);
        return true;
    };
    std::optional<std::string_view> access, refresh, type, expires, obtained, scope;
    if (!text("access_token", access) || !text("refresh_token", refresh) ||
        !text("token_type", type) || !text("expires_at", expires) ||
        !text("obtained_at", obtained) || !text("scope", scope))
        return error_code(boost::json::error::not_string);
    if (!access || access->empty())
        return error_code(boost::json::error::not_found);
    token t;
    t.access_token = joinme::secret(*access);
    if (refresh)
        t.refresh_token = joinme::secret(*refresh);
    if (type && !type->empty())
        t.token_type = std::string(*type);
    if (expires) {
        t.expires_at = joinme::detail::parse_iso8601(*expires);
        if (!t.expires_at)
            return error_code(errc::malformed_response);
    }
    if (obtained) {
        auto when = joinme::detail::parse_iso8601(*obtained);
        if (!when)
            return error_code(errc::malformed_response);
        t.obtained_at = *when;
    }
    if (scope)
        t.scopes = scope_set::parse(*scope);
    return t;
}

/// A token from values kept elsewhere (the program's own storage, a test): the access token,
/// the refresh token (empty: none, so the token cannot be refreshed), and the lifetime left
/// from `now`. An empty `expires_in` is allowed and means an unknown expiry: the token is
/// used until the API rejects it, then refreshed. The type is `bearer`; `scopes` as given.
inline token make_token(std::string_view access_token, std::string_view refresh_token = {},
                        std::optional<std::chrono::seconds> expires_in = std::nullopt,
                        scope_set scopes = {}, time_point now = std::chrono::system_clock::now());

namespace detail {

// Dates a token on arrival: `obtained_at` is `now` rounded down, the expiry (when known) that
// plus the lifetime, cut to `max_token_lifetime`.
inline void stamp(token& t, time_point now, std::optional<std::chrono::seconds> expires_in) {
    t.obtained_at = std::chrono::floor<std::chrono::seconds>(now);
    if (expires_in)
        t.expires_at = t.obtained_at + std::min(*expires_in, max_token_lifetime);
    else
        t.expires_at.reset();
}

} // namespace detail

inline token make_token(std::string_view access_token, std::string_view refresh_token,
                        std::optional<std::chrono::seconds> expires_in, scope_set scopes,
                        time_point now) {
    token t;
    t.access_token = joinme::secret(access_token);
    t.refresh_token = joinme::secret(refresh_token);
    t.scopes = std::move(scopes);
    detail::stamp(t, now, expires_in);
    return t;
}

} // namespace joinme::oauth

#endif
