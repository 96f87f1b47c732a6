// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_AUTHORIZATION_HPP
#define JOINME_OAUTH_AUTHORIZATION_HPP

/// @file
/// The front-channel URLs a user's browser is sent to: the authorization request (RFC 6749
/// §4.1.1 and §4.2.1, with optional PKCE of RFC 7636) and join.me's renew-authorization page.

#include <joinme/detail/random.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/detail/common.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/secret.hpp>

#include <boost/system/errc.hpp>

#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joinme::oauth {

/// The grant a redirect answers: what `response_type` asks for.
enum class response_type {
    code,  ///< Authorization code grant: the code arrives in the redirect's query.
    token, ///< Implicit grant: the access token arrives in the redirect's fragment.
};

/// `"code"` or `"token"`.
constexpr std::string_view to_string(response_type t) noexcept {
    return t == response_type::code ? "code" : "token";
}

/// A fresh PKCE `code_verifier` (RFC 7636 §4.1): 32 bytes from OpenSSL's CSPRNG, base64url,
/// 43 characters. Throws `std::runtime_error` when the generator fails.
inline joinme::secret make_pkce_verifier() {
    return joinme::secret(joinme::detail::random_token(32));
}

/// The S256 `code_challenge` of `verifier` (RFC 7636 §4.2): base64url(SHA-256(verifier)).
/// Throws `std::runtime_error` when OpenSSL cannot hash.
inline std::string pkce_challenge(const joinme::secret& verifier) {
    return joinme::detail::base64url(joinme::detail::sha256(verifier.reveal()));
}

/// What to ask for in an authorization request.
struct authorization_options {
    /// The grant: `code` (the default, the only one with a refresh token) or `token`.
    response_type type = response_type::code;

    /// The scopes to request; the `scope` parameter is left out when empty.
    scope_set scopes;

    /// Adds PKCE S256 (RFC 7636). Off by default because join.me does not document it; turn
    /// it on for servers that support it, and always for a public client. Code grant only.
    bool pkce = false;

    /// Further parameters for this server (`prompt`, `login_hint`, ...), appended in order.
    /// They may not repeat one joinme sets.
    std::vector<std::pair<std::string, std::string>> extra_params;
};

/// An authorization request ready to send the browser to, with what must be kept until its
/// redirect comes back (for instance in the user's server-side session).
///
/// Printing shows no secret.
struct authorization_request {
    /// The URL to send the user's browser to.
    std::string url;

    /// The `state` sent, 256 bits from OpenSSL's CSPRNG, base64url. The redirect must return
    /// it unchanged; `parse_redirect` checks that.
    std::string state;

    /// The PKCE verifier, to send with the code exchange; empty without PKCE.
    joinme::secret code_verifier;

    /// The grant asked for.
    response_type type = response_type::code;

    /// The `redirect_uri` sent (the config's); empty when none was sent.
    std::string redirect_uri;

    /// The scopes asked for; a token whose response omits `scope` is given these.
    scope_set scopes;

    /// Prints the URL, state, type and scopes; the verifier redacted.
    friend std::ostream& operator<<(std::ostream& os, const authorization_request& r) {
        return os << "authorization_request{url \"" << r.url << "\", state \"" << r.state
                  << "\", type " << to_string(r.type) << ", code_verifier " << r.code_verifier
                  << ", redirect_uri \"" << r.redirect_uri << "\", scope \"" << r.scopes << "\"}";
    }
};

/// Builds an authorization request for `cfg.authorize_url`, keeping any query that URL
/// already has: `response_type`, `client_id`, `redirect_uri` (when configured), `scope` (when
/// not empty), a fresh `state`, and with `opts.pkce` a fresh verifier and its S256
/// `code_challenge`. Every value is percent-encoded by Boost.URL.
///
/// Errors: `errc::invalid_url` when `cfg.authorize_url` is not an absolute http(s) URL
/// without fragment; `boost::system::errc::invalid_argument` when `cfg.client_id` is empty,
/// PKCE is asked for the implicit grant, or an extra parameter repeats one joinme sets.
/// Throws `std::runtime_error` only if OpenSSL's generator fails.
inline authorization_request
make_authorization_request(const config& cfg, const authorization_options& opts, error_code& ec) {
    ec = {};
    auto u = detail::parse_endpoint(cfg.authorize_url, ec);
    if (ec)
        return {};
    static constexpr std::string_view reserved[] = {
        "response_type", "client_id",      "redirect_uri",         "scope",
        "state",         "code_challenge", "code_challenge_method"};
    for (const auto& [key, value] : opts.extra_params)
        for (auto r : reserved)
            if (key == r) {
                ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
                return {};
            }
    if (cfg.client_id.empty() || (opts.pkce && opts.type != response_type::code)) {
        ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
        return {};
    }

    authorization_request req;
    req.type = opts.type;
    req.redirect_uri = cfg.redirect_uri;
    req.scopes = opts.scopes;
    req.state = joinme::detail::random_token(32);

    detail::append_query(u, "response_type", to_string(opts.type));
    detail::append_query(u, "client_id", cfg.client_id);
    if (!cfg.redirect_uri.empty())
        detail::append_query(u, "redirect_uri", cfg.redirect_uri);
    if (!opts.scopes.empty())
        detail::append_query(u, "scope", opts.scopes.to_string());
    detail::append_query(u, "state", req.state);
    if (opts.pkce) {
        req.code_verifier = make_pkce_verifier();
        detail::append_query(u, "code_challenge", pkce_challenge(req.code_verifier));
        detail::append_query(u, "code_challenge_method", "S256");
    }
    for (const auto& [key, value] : opts.extra_params)
        detail::append_query(u, key, value);
    req.url = std::string(u.buffer());
    return req;
}

/// As above; throws `error_with_diagnostics` (a `boost::system::system_error`) instead.
inline authorization_request make_authorization_request(const config& cfg,
                                                        const authorization_options& opts = {}) {
    error_code ec;
    auto req = make_authorization_request(cfg, opts, ec);
    throw_on_error(ec);
    return req;
}

/// join.me's renew-authorization URL for a token the API called stale (401 with `ErrorCode`
/// `stale_token`): `{cfg.renew_authorization_url}?client_id=...&access_token=...`. Send the
/// user's browser there; after the user confirms, the existing token works again.
///
/// The URL carries the access token, so it is returned as a `secret`.
///
/// Errors: `errc::invalid_url` when `cfg.renew_authorization_url` is not an absolute http(s)
/// URL; `boost::system::errc::invalid_argument` when the client id or token is empty.
inline joinme::secret make_renew_authorization_url(const config& cfg,
                                                   const joinme::secret& access_token,
                                                   error_code& ec) {
    auto u = detail::parse_endpoint(cfg.renew_authorization_url, ec);
    if (ec)
        return {};
    if (cfg.client_id.empty() || access_token.empty()) {
        ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
        return {};
    }
    detail::append_query(u, "client_id", cfg.client_id);
    detail::append_query(u, "access_token", access_token.reveal());
    return joinme::secret(std::string(u.buffer()));
}

/// As above; throws `error_with_diagnostics` (a `boost::system::system_error`) instead.
inline joinme::secret make_renew_authorization_url(const config& cfg,
                                                   const joinme::secret& access_token) {
    error_code ec;
    auto u = make_renew_authorization_url(cfg, access_token, ec);
    throw_on_error(ec);
    return u;
}

} // namespace joinme::oauth

#endif
