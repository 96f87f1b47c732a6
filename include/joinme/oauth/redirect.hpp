// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_REDIRECT_HPP
#define JOINME_OAUTH_REDIRECT_HPP

/// @file
/// Parsing the redirect that ends an authorization request: the code of RFC 6749 §4.1.2 from
/// the query, the access token of §4.2.2 from the fragment, the errors of §4.1.2.1 and
/// §4.2.2.1 from either, and the `state` check that makes a forged redirect fail.

#include <joinme/detail/form.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/secret.hpp>

#include <boost/system/errc.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace joinme::oauth {

/// How a redirect is checked.
struct redirect_options {
    /// The longest redirect accepted, in bytes; longer input is `errc::malformed_response`
    /// before anything is parsed.
    std::size_t max_size = 8192;

    /// Also require the redirect to target the `redirect_uri` that was sent: the same path,
    /// and when the redirect is a full URL, the same scheme, host and port. A request target
    /// (`/callback?...`) is checked by its path only.
    bool check_redirect_uri = false;
};

/// What a successful redirect carried.
///
/// Printing shows no secret.
struct redirect_response {
    /// The grant the redirect answered.
    response_type type = response_type::code;

    /// The authorization code (code grant); empty for the implicit grant.
    joinme::secret code;

    /// The access token (implicit grant), dated on arrival, never refreshable; empty for the
    /// code grant.
    std::optional<token> implicit_token;

    /// Prints the type and the token's public fields; never the code or a token.
    friend std::ostream& operator<<(std::ostream& os, const redirect_response& r) {
        os << "redirect_response{type " << to_string(r.type) << ", code " << r.code;
        if (r.implicit_token)
            os << ", " << *r.implicit_token;
        return os << "}";
    }
};

namespace detail {

// The parameters a redirect may carry, each at most once.
struct redirect_params {
    std::optional<std::string> code, state, access_token, token_type, expires_in, scope, error,
        error_description, error_uri;
    bool duplicate = false;

    std::optional<std::string>* slot(std::string_view key) noexcept {
        if (key == "code")
            return &code;
        if (key == "state")
            return &state;
        if (key == "access_token")
            return &access_token;
        if (key == "token_type")
            return &token_type;
        if (key == "expires_in")
            return &expires_in;
        if (key == "scope")
            return &scope;
        if (key == "error")
            return &error;
        if (key == "error_description")
            return &error_description;
        if (key == "error_uri")
            return &error_uri;
        return nullptr;
    }

    // Reads the form-encoded pairs of a query, or of a fragment, which uses the query's
    // characters (RFC 6749 Appendix B: `+` is a space). A known key seen twice makes the whole
    // redirect ambiguous, hence malformed (RFC 6749 §3.1: "MUST NOT be included more than
    // once").
    void collect(boost::urls::pct_string_view component) {
        auto keep = [this](const std::string& key, std::string value) {
            auto* s = slot(key);
            if (!s)
                return;
            if (*s)
                duplicate = true;
            *s = std::move(value);
        };
        joinme::detail::for_each_form_param(std::string_view(component.data(), component.size()),
                                            keep);
    }
};

// 0 when the scheme has no well-known port.
inline std::uint16_t effective_port(const boost::urls::url_view& u) noexcept {
    if (u.has_port())
        return u.port_number();
    if (u.scheme_id() == boost::urls::scheme::https)
        return 443;
    if (u.scheme_id() == boost::urls::scheme::http)
        return 80;
    return 0;
}

// Does `actual` target `expected`? See redirect_options::check_redirect_uri.
inline bool same_target(const boost::urls::url_view& actual,
                        const boost::urls::url_view& expected) {
    auto path = [](const boost::urls::url_view& u) {
        std::string p = u.path();
        return p.empty() ? std::string("/") : p;
    };
    if (path(actual) != path(expected))
        return false;
    if (actual.has_scheme() &&
        !boost::urls::grammar::ci_is_equal(actual.scheme(), expected.scheme()))
        return false;
    if (actual.has_authority() &&
        (!boost::urls::grammar::ci_is_equal(actual.encoded_host(), expected.encoded_host()) ||
         effective_port(actual) != effective_port(expected)))
        return false;
    return true;
}

} // namespace detail

/// Parses the redirect that answers `sent`, given as a full URL
/// (`https://app.example/cb?code=...&state=...`) or as a request target (`/cb?code=...`);
/// for the implicit grant, whose parameters travel in the fragment that browsers keep to
/// themselves, as the full URL the redirect page relays.
///
/// The code grant reads the query, the implicit grant the fragment; an `error` is taken from
/// either (RFC 6749 §4.1.2.1, §4.2.2.1). Whatever the redirect carries, its `state` must equal
/// `sent.state` (compared in constant time), otherwise it is rejected as possibly forged.
///
/// Errors, checked in this order:
/// - `errc::malformed_response`: longer than `opts.max_size`, not a URI reference, or a
///   parameter repeated;
/// - `boost::system::errc::invalid_argument`: `sent.state` is empty, or `check_redirect_uri`
///   is asked with no `sent.redirect_uri`;
/// - `errc::redirect_mismatch`: with `check_redirect_uri`, another target;
/// - `errc::missing_state`, `errc::state_mismatch`: no or another `state`; any OAuth error
///   the redirect carries is still copied to `diag`;
/// - an `oauth_errc` (`access_denied` when the user declined): the server's `error`,
///   `error_description` and `error_uri` are in `diag`;
/// - `errc::missing_parameter`: no `code` (code grant) or `access_token` (implicit grant);
/// - `errc::malformed_response`: an `expires_in` that is not a number of seconds.
///
/// The implicit grant's token is dated at `now`; its type defaults to `bearer`, its scopes to
/// `sent.scopes` when the fragment has no `scope`, and its expiry is unknown without
/// `expires_in`. `diag` receives what is found and an explanation in `client_message`; it is
/// not cleared first. Neither `diag` nor any error carries the code or a token.
inline redirect_response parse_redirect(std::string_view redirect,
                                        const authorization_request& sent, time_point now,
                                        const redirect_options& opts, error_code& ec,
                                        diagnostics& diag) {
    ec = {};
    redirect_response out;
    out.type = sent.type;
    if (redirect.size() > opts.max_size) {
        detail::fail(ec, diag, errc::malformed_response, "the redirect exceeds the size limit");
        return out;
    }
    auto parsed = joinme::detail::parse_reference(redirect);
    if (!parsed) {
        detail::fail(ec, diag, errc::malformed_response, "the redirect is not a valid URI");
        return out;
    }
    const auto& u = *parsed;
    if (sent.state.empty()) {
        detail::fail(ec, diag,
                     boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                     "no state was kept for the authorization request");
        return out;
    }
    if (opts.check_redirect_uri) {
        auto expected = joinme::detail::parse_reference(sent.redirect_uri);
        if (sent.redirect_uri.empty() || !expected) {
            detail::fail(
                ec, diag,
                boost::system::errc::make_error_code(boost::system::errc::invalid_argument),
                "no valid redirect_uri was kept to check the redirect against");
            return out;
        }
        if (!detail::same_target(u, *expected)) {
            detail::fail(ec, diag, errc::redirect_mismatch,
                         "the redirect does not target the redirect_uri sent");
            return out;
        }
    }

    detail::redirect_params query, fragment;
    if (u.has_query())
        query.collect(u.encoded_query());
    if (u.has_fragment())
        fragment.collect(u.encoded_fragment());
    if (query.duplicate || fragment.duplicate) {
        detail::fail(ec, diag, errc::malformed_response, "the redirect repeats a parameter");
        return out;
    }
    // The grant's own component answers, unless only the other one carries an error.
    const bool code_grant = sent.type == response_type::code;
    auto* src = code_grant ? &query : &fragment;
    auto* other = code_grant ? &fragment : &query;
    if (!src->error && other->error && !src->code && !src->access_token)
        src = other;

    if (src->error) {
        diag.error = *src->error;
        diag.error_description = src->error_description.value_or(std::string());
        diag.error_uri = src->error_uri.value_or(std::string());
    }
    if (!src->state) {
        detail::fail(ec, diag, errc::missing_state, "the redirect carries no state");
        return out;
    }
    if (!joinme::detail::constant_time_equal(*src->state, sent.state)) {
        detail::fail(ec, diag, errc::state_mismatch,
                     "the redirect's state differs from the one sent");
        return out;
    }
    if (src->error) {
        ec = to_oauth_errc(*src->error);
        if (src->error->empty())
            diag.client_message = "the redirect carries an empty error parameter";
        return out;
    }

    if (code_grant) {
        if (!src->code || src->code->empty()) {
            detail::fail(ec, diag, errc::missing_parameter, "the redirect carries no code");
            return out;
        }
        out.code = joinme::secret(std::move(*src->code));
        return out;
    }

    if (!src->access_token || src->access_token->empty()) {
        detail::fail(ec, diag, errc::missing_parameter, "the redirect carries no access_token");
        return out;
    }
    std::optional<std::chrono::seconds> expires_in;
    if (src->expires_in && !src->expires_in->empty()) {
        expires_in = detail::parse_expires_in(*src->expires_in);
        if (!expires_in) {
            detail::fail(ec, diag, errc::malformed_response,
                         "the redirect's expires_in is not a number of seconds");
            return out;
        }
    }
    token t;
    t.access_token = joinme::secret(std::move(*src->access_token));
    if (src->token_type && !src->token_type->empty())
        t.token_type = std::move(*src->token_type);
    t.scopes = src->scope ? scope_set::parse(*src->scope) : sent.scopes;
    detail::stamp(t, now, expires_in);
    out.implicit_token = std::move(t);
    return out;
}

/// As above with the default `redirect_options`.
inline redirect_response parse_redirect(std::string_view redirect,
                                        const authorization_request& sent, time_point now,
                                        error_code& ec, diagnostics& diag) {
    return parse_redirect(redirect, sent, now, redirect_options{}, ec, diag);
}

/// As above; throws `error_with_diagnostics` instead of returning an error.
inline redirect_response parse_redirect(std::string_view redirect,
                                        const authorization_request& sent, time_point now,
                                        const redirect_options& opts = {}) {
    error_code ec;
    diagnostics diag;
    auto r = parse_redirect(redirect, sent, now, opts, ec, diag);
    throw_on_error(ec, diag);
    return r;
}

} // namespace joinme::oauth

#endif
