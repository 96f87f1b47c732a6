// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_REQUEST_HPP
#define JOINME_OAUTH_TOKEN_REQUEST_HPP

/// @file
/// The back-channel requests to the authorization server, as values an HTTP layer sends
/// unchanged: the code exchange (RFC 6749 §4.1.3), the refresh (§6) and join.me's
/// expire-access request, form-encoded, with the configured client authentication (§2.3.1).

#include <joinme/error.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/detail/common.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/secret.hpp>

#include <boost/system/errc.hpp>

#include <joinme/detail/form.hpp>
#include <joinme/detail/random.hpp>

#include <openssl/evp.h>

#include <algorithm>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace joinme::oauth {

/// A POST to an authorization-server endpoint: send `body` to `url` with these headers.
///
/// The body and the `Authorization` value hold credentials, hence are `secret`s; printing
/// the request shows neither.
struct token_request {
    /// The endpoint, an absolute http(s) URL.
    std::string url;

    /// The form-encoded body.
    joinme::secret body;

    /// The `Content-Type` of `body`.
    std::string_view content_type = "application/x-www-form-urlencoded";

    /// The `Accept` header to send: token responses are JSON (RFC 6749 §5.1), and some
    /// servers answer in another format unless asked.
    std::string_view accept = "application/json";

    /// The `Authorization` header value (`Basic ...`) with `client_secret_basic`; empty
    /// otherwise, when no such header is sent.
    joinme::secret authorization;

    /// Prints the URL and headers; the body and credentials redacted.
    friend std::ostream& operator<<(std::ostream& os, const token_request& r) {
        return os << "token_request{url \"" << r.url << "\", content_type \"" << r.content_type
                  << "\", body " << r.body << ", authorization " << r.authorization << "}";
    }
};

namespace detail {

inline error_code invalid_argument() noexcept {
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
}

// Starts a request to `endpoint`: checks the URL and the client's credentials.
inline token_request start_request(const config& cfg, std::string_view endpoint, error_code& ec) {
    token_request req;
    auto u = parse_endpoint(endpoint, ec);
    if (ec)
        return req;
    const bool needs_secret = cfg.auth_method != client_auth_method::none;
    if (cfg.client_id.empty() || (needs_secret && cfg.client_secret.empty())) {
        ec = invalid_argument();
        return req;
    }
    req.url = std::string(u.buffer());
    return req;
}

// Adds the client's credentials the configured way, and only that way (RFC 6749 §2.3: the
// client "MUST NOT use more than one authentication method in each request").
inline void authenticate(const config& cfg, std::string& body, token_request& req) {
    switch (cfg.auth_method) {
    case client_auth_method::client_secret_post:
        append_form(body, "client_id", cfg.client_id);
        append_form(body, "client_secret", cfg.client_secret.reveal());
        break;
    case client_auth_method::client_secret_basic: {
        // RFC 6749 §2.3.1: form-urlencode id and secret, then the Basic scheme of RFC 7617.
        std::string credentials =
            form_encode(cfg.client_id) + ':' + form_encode(cfg.client_secret.reveal());
        req.authorization = joinme::secret(
            "Basic " +
            joinme::detail::base64(
                {reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size()}));
        break;
    }
    case client_auth_method::none:
        append_form(body, "client_id", cfg.client_id);
        break;
    }
}

// What `tr` carries that diagnostics must never show, both decoded and as sent, longest first:
// the credentials in its body, and the Basic credentials with the client secret inside them.
inline std::vector<std::string> sent_secrets(const token_request& tr) {
    std::vector<std::string> out;
    auto add = [&out](std::string value) {
        if (value.empty())
            return;
        if (auto sent = form_encode(value); sent != value)
            out.push_back(std::move(sent));
        out.push_back(std::move(value));
    };
    joinme::detail::for_each_form_param(tr.body.reveal(), [&](std::string key, std::string value) {
        if (key == "client_secret" || key == "code" || key == "code_verifier" ||
            key == "refresh_token" || key == "access_token")
            add(std::move(value));
    });
    if (std::string_view basic = tr.authorization.reveal(); basic.starts_with("Basic ")) {
        basic.remove_prefix(6);
        // base64 of `form_encode(id):form_encode(secret)` (RFC 6749 §2.3.1).
        std::string credentials(basic.size(), '\0');
        int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(credentials.data()),
                                reinterpret_cast<const unsigned char*>(basic.data()),
                                static_cast<int>(basic.size()));
        credentials.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        while (!credentials.empty() && credentials.back() == '\0') // the padding's bytes
            credentials.pop_back();
        add(std::string(basic));
        if (auto colon = credentials.find(':'); colon != std::string::npos)
            joinme::detail::for_each_form_param("s=" + credentials.substr(colon + 1),
                                                [&](std::string, std::string v) { add(v); });
    }
    std::ranges::sort(out, [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return out;
}

} // namespace detail

/// The code exchange of RFC 6749 §4.1.3 for `cfg.token_url`: `grant_type=authorization_code`,
/// `code`, `redirect_uri` (when configured, as the authorization request sent it),
/// `code_verifier` (when not empty), and the client's credentials.
///
/// Errors: `errc::invalid_url` for an unusable `cfg.token_url`;
/// `boost::system::errc::invalid_argument` for an empty code or client id, or no client
/// secret when the auth method needs one.
inline token_request make_code_exchange_request(const config& cfg, const joinme::secret& code,
                                                const joinme::secret& code_verifier,
                                                error_code& ec) {
    auto req = detail::start_request(cfg, cfg.token_url, ec);
    if (ec)
        return req;
    if (code.empty()) {
        ec = detail::invalid_argument();
        return req;
    }
    std::string body;
    detail::append_form(body, "grant_type", "authorization_code");
    detail::append_form(body, "code", code.reveal());
    if (!cfg.redirect_uri.empty())
        detail::append_form(body, "redirect_uri", cfg.redirect_uri);
    if (!code_verifier.empty())
        detail::append_form(body, "code_verifier", code_verifier.reveal());
    detail::authenticate(cfg, body, req);
    req.body = joinme::secret(std::move(body));
    return req;
}

/// The refresh of RFC 6749 §6 for `cfg.token_url`: `grant_type=refresh_token`,
/// `refresh_token`, `scope` when `scopes` is not empty (to narrow the grant), and the
/// client's credentials.
///
/// Errors: `errc::reauthorization_required` for an empty refresh token (an implicit-grant
/// token, say); otherwise as `make_code_exchange_request`.
inline token_request make_refresh_request(const config& cfg, const joinme::secret& refresh_token,
                                          const scope_set& scopes, error_code& ec) {
    auto req = detail::start_request(cfg, cfg.token_url, ec);
    if (ec)
        return req;
    if (refresh_token.empty()) {
        ec = errc::reauthorization_required;
        return req;
    }
    std::string body;
    detail::append_form(body, "grant_type", "refresh_token");
    detail::append_form(body, "refresh_token", refresh_token.reveal());
    if (!scopes.empty())
        detail::append_form(body, "scope", scopes.to_string());
    detail::authenticate(cfg, body, req);
    req.body = joinme::secret(std::move(body));
    return req;
}

/// As above, keeping the scopes already granted.
inline token_request make_refresh_request(const config& cfg, const joinme::secret& refresh_token,
                                          error_code& ec) {
    return make_refresh_request(cfg, refresh_token, scope_set{}, ec);
}

/// join.me's expire-access request for `cfg.expire_access_url`: `access_token` and the
/// client's credentials (with `client_secret_post`, join.me's way: `client_id` and
/// `client_secret` in the body).
///
/// Errors: `boost::system::errc::invalid_argument` for an empty access token; otherwise as
/// `make_code_exchange_request`, for `cfg.expire_access_url`.
inline token_request
make_expire_access_request(const config& cfg, const joinme::secret& access_token, error_code& ec) {
    auto req = detail::start_request(cfg, cfg.expire_access_url, ec);
    if (ec)
        return req;
    if (access_token.empty()) {
        ec = detail::invalid_argument();
        return req;
    }
    std::string body;
    detail::append_form(body, "access_token", access_token.reveal());
    detail::authenticate(cfg, body, req);
    req.body = joinme::secret(std::move(body));
    return req;
}

} // namespace joinme::oauth

#endif
