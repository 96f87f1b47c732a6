// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_RESPONSE_HPP
#define JOINME_OAUTH_TOKEN_RESPONSE_HPP

/// @file
/// Parsing the authorization server's answers: token responses (RFC 6749 §5.1, errors §5.2)
/// with the tolerances real servers need, and join.me's expire-access response. Input is the
/// HTTP status and body only, so any HTTP layer can feed it.

#include <joinme/error.hpp>
#include <joinme/oauth/detail/common.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/secret.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace joinme::oauth {

/// The longest token or expire-access response body parsed, in bytes. A larger body is
/// `errc::body_too_large`; the HTTP layer should stop reading at about this size anyway.
inline constexpr std::size_t max_token_response_size = 64 * 1024;

namespace detail {

inline bool is_success(unsigned status) noexcept {
    return status >= 200 && status < 300;
}

// The body as a JSON object, or null when it is not one.
inline std::optional<boost::json::object> parse_object(std::string_view body) {
    boost::json::error_code jec;
    auto v = boost::json::parse(body, jec);
    if (jec || !v.is_object())
        return std::nullopt;
    return std::move(v.get_object());
}

// A string member: absent and null give nothing; `ok` turns false for another kind.
inline std::optional<std::string_view> string_member(const boost::json::object& o,
                                                     std::string_view key, bool& ok) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null())
        return std::nullopt;
    if (const auto* s = v->if_string())
        return std::string_view(*s);
    ok = false;
    return std::nullopt;
}

// Copies a §5.2 error object into `diag` and `ec`. False when the object has no `error`.
inline bool read_oauth_error(const boost::json::object& o, error_code& ec, diagnostics& diag) {
    bool ok = true;
    auto error = string_member(o, "error", ok);
    if (!error || error->empty())
        return false;
    diag.error = std::string(*error);
    // Optional members of the wrong kind are skipped: the error itself is what matters.
    if (auto d = string_member(o, "error_description", ok))
        diag.error_description = std::string(*d);
    if (auto u = string_member(o, "error_uri", ok))
        diag.error_uri = std::string(*u);
    // join.me's server_error carries a ticket id for its support; diagnostics has no field
    // of that name, so it goes to `message`.
    if (auto t = string_member(o, "error_ticket_id", ok); t && !t->empty())
        diag.error_ticket_id = std::string(*t);
    ec = to_oauth_errc(*error);
    return true;
}

// A failure status without an OAuth error: the status decides the code; what the body says
// (join.me's `Message`/`ErrorCode`, or the start of an HTML page) goes to `diag`.
inline void report_status(unsigned status, std::string_view body,
                          const std::optional<boost::json::object>& o, error_code& ec,
                          diagnostics& diag) {
    if (o) {
        bool ok = true;
        if (auto m = string_member(*o, "Message", ok))
            diag.message = std::string(*m);
        if (auto c = string_member(*o, "ErrorCode", ok))
            diag.error_code = std::string(*c);
    }
    diag.set_body_excerpt(body);
    if (status == 429)
        ec = errc::rate_limited;
    else if (status >= 500)
        ec = errc::server_error;
    else
        ec = errc::unexpected_status;
}

// `expires_in` as a number, a numeric string, or null/absent (unknown). False when it is
// something else.
inline bool read_expires_in(const boost::json::object& o,
                            std::optional<std::chrono::seconds>& out) {
    const auto* v = o.if_contains("expires_in");
    out.reset();
    if (!v || v->is_null())
        return true;
    if (const auto* i = v->if_int64()) {
        if (*i < 0)
            return false;
        out = std::min(std::chrono::seconds(*i), max_token_lifetime);
        return true;
    }
    if (const auto* u = v->if_uint64()) {
        out = *u > static_cast<std::uint64_t>(max_token_lifetime.count())
                  ? max_token_lifetime
                  : std::chrono::seconds(static_cast<long long>(*u));
        return true;
    }
    if (const auto* d = v->if_double()) {
        if (!std::isfinite(*d) || *d < 0)
            return false;
        out = *d >= static_cast<double>(max_token_lifetime.count())
                  ? max_token_lifetime
                  : std::chrono::seconds(static_cast<long long>(*d));
        return true;
    }
    if (const auto* s = v->if_string()) {
        if (s->empty())
            return true;
        out = parse_expires_in(*s);
        return out.has_value();
    }
    return false;
}

// `scope` as RFC 6749's space-delimited string or, from some servers, an array of names.
inline bool read_scope(const boost::json::object& o, std::optional<scope_set>& out) {
    const auto* v = o.if_contains("scope");
    if (!v || v->is_null())
        return true;
    if (const auto* s = v->if_string()) {
        out = scope_set::parse(*s);
        return true;
    }
    if (const auto* a = v->if_array()) {
        scope_set set;
        for (const auto& e : *a) {
            const auto* s = e.if_string();
            if (!s)
                return false;
            set.insert(std::string_view(*s));
        }
        out = std::move(set);
        return true;
    }
    return false;
}

// The shared body of both token parsers; `previous` is the token being refreshed, if any.
inline token parse_token(unsigned status, std::string_view body, time_point now,
                         const scope_set& requested, const token* previous, error_code& ec,
                         diagnostics& diag) {
    ec = {};
    diag.status = status;
    token t;
    if (body.size() > max_token_response_size) {
        fail(ec, diag, errc::body_too_large, "the token response exceeds the size limit");
        return t;
    }
    auto o = parse_object(body);
    if (!is_success(status)) {
        if (!o || !read_oauth_error(*o, ec, diag))
            report_status(status, body, o, ec, diag);
        return t;
    }
    if (!o) {
        // No excerpt here: a successful body may hold a token in some other format.
        fail(ec, diag, errc::malformed_response, "the token response is not a JSON object");
        return t;
    }
    bool ok = true;
    auto access = string_member(*o, "access_token", ok);
    if (!ok) {
        fail(ec, diag, errc::malformed_response, "access_token is not a string");
        return t;
    }
    if (!access || access->empty()) {
        // Some servers answer 200 with an error object (RFC 6749 wants 400).
        if (!read_oauth_error(*o, ec, diag))
            fail(ec, diag, errc::missing_parameter, "the token response has no access_token");
        return t;
    }
    auto type = string_member(*o, "token_type", ok);
    auto refresh = string_member(*o, "refresh_token", ok);
    if (!ok) {
        fail(ec, diag, errc::malformed_response, "token_type or refresh_token is not a string");
        return t;
    }
    std::optional<std::chrono::seconds> expires_in;
    if (!read_expires_in(*o, expires_in)) {
        fail(ec, diag, errc::malformed_response, "expires_in is not a number of seconds");
        return t;
    }
    std::optional<scope_set> scopes;
    if (!read_scope(*o, scopes)) {
        fail(ec, diag, errc::malformed_response, "scope is not a string");
        return t;
    }
    t.access_token = joinme::secret(*access);
    if (type && !type->empty())
        t.token_type = std::string(*type);
    if (refresh && !refresh->empty())
        t.refresh_token = joinme::secret(*refresh);
    else if (previous)
        t.refresh_token = previous->refresh_token; // RFC 6749 §6: a new one is optional.
    t.scopes = scopes ? std::move(*scopes) : requested;
    stamp(t, now, expires_in);
    return t;
}

} // namespace detail

/// Parses the token endpoint's answer to a code exchange, received at `now`.
///
/// Accepts what RFC 6749 §5.1 allows and what real servers do besides: any 2xx status, no
/// `expires_in` (expiry unknown), `expires_in` as a number or a numeric string, no
/// `token_type` (bearer), `scope` as a string or an array, or absent (then `requested`),
/// and unknown members (ignored).
///
/// Errors (`diag.status` is always set; `diag` is not cleared first):
/// - `errc::body_too_large`: more than `max_token_response_size` bytes;
/// - an `oauth_errc` for a §5.2 error object (also when sent with a 2xx status), with
///   `error`, `error_description`, `error_uri` and join.me's `error_ticket_id` in `diag`; unknown
///   codes give `oauth_errc::unknown_error`, the text kept;
/// - other failure statuses: `errc::rate_limited` (429), `errc::server_error` (5xx) or
///   `errc::unexpected_status`, with the start of the body in `diag.body_excerpt` and a JSON
///   `Message`/`ErrorCode` in `diag`;
/// - 2xx: `errc::malformed_response` for a body that is not a JSON object or a member of the
///   wrong type, `errc::missing_parameter` without `access_token`. The body is not copied
///   to `diag` then, as it may hold a token.
inline token parse_token_response(unsigned status, std::string_view body, time_point now,
                                  const scope_set& requested, error_code& ec, diagnostics& diag) {
    return detail::parse_token(status, body, now, requested, nullptr, ec, diag);
}

/// Parses the token endpoint's answer to a refresh of `previous`, received at `now`.
///
/// As `parse_token_response`, and: without a new `refresh_token` the previous one is kept
/// (RFC 6749 §6 makes issuing a new one optional); without `scope`, the previous scopes.
inline token parse_refresh_response(unsigned status, std::string_view body, time_point now,
                                    const token& previous, error_code& ec, diagnostics& diag) {
    return detail::parse_token(status, body, now, previous.scopes, &previous, ec, diag);
}

/// Parses join.me's expire-access answer, `{"success": true, "message": "..."}`; `success`
/// may also be the string `"true"`. Returns the message.
///
/// Errors (`diag.status` is always set; `diag` is not cleared first):
/// - `errc::body_too_large`: more than `max_token_response_size` bytes;
/// - `"success": false` (or `"false"`): `errc::bad_request`, or `errc::server_error` with a
///   5xx status, the message in `diag.message`;
/// - a §5.2 error object: its `oauth_errc`, as for a token response;
/// - another failure status: as for a token response;
/// - 2xx: `errc::malformed_response` for a body that is not a JSON object or a `success`
///   that is neither a boolean nor `"true"`/`"false"`, `errc::missing_parameter` without
///   `success`.
inline std::string parse_expire_access_response(unsigned status, std::string_view body,
                                                error_code& ec, diagnostics& diag) {
    ec = {};
    diag.status = status;
    if (body.size() > max_token_response_size) {
        detail::fail(ec, diag, errc::body_too_large,
                     "the expire-access response exceeds the size limit");
        return {};
    }
    auto o = detail::parse_object(body);
    // `success`: absent, true, false, or of another kind.
    enum class verdict { absent, yes, no, invalid } success = verdict::absent;
    std::string message;
    if (o) {
        bool ok = true;
        if (auto m = detail::string_member(*o, "message", ok))
            message = std::string(*m);
        if (const auto* v = o->if_contains("success")) {
            success = verdict::invalid;
            if (const auto* b = v->if_bool())
                success = *b ? verdict::yes : verdict::no;
            else if (const auto* s = v->if_string(); s && (*s == "true" || *s == "false"))
                success = *s == "true" ? verdict::yes : verdict::no;
        }
    }
    if (success == verdict::no) {
        diag.message = message;
        detail::fail(ec, diag, status >= 500 ? errc::server_error : errc::bad_request,
                     "the server could not expire the access token");
        return {};
    }
    if (!detail::is_success(status)) {
        if (!o || !detail::read_oauth_error(*o, ec, diag))
            detail::report_status(status, body, o, ec, diag);
        return {};
    }
    if (success == verdict::yes)
        return message;
    if (o && detail::read_oauth_error(*o, ec, diag))
        return {};
    diag.set_body_excerpt(body);
    if (!o)
        detail::fail(ec, diag, errc::malformed_response,
                     "the expire-access response is not a JSON object");
    else if (success == verdict::absent)
        detail::fail(ec, diag, errc::missing_parameter,
                     "the expire-access response has no success member");
    else
        detail::fail(ec, diag, errc::malformed_response,
                     "the expire-access response's success is not a boolean");
    return {};
}

} // namespace joinme::oauth

#endif
