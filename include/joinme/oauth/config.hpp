// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_CONFIG_HPP
#define JOINME_OAUTH_CONFIG_HPP

/// @file
/// `joinme::oauth::config`: the client's registration and the authorization server's
/// endpoints. The defaults are production join.me; every endpoint can be replaced on its own,
/// so the same OAuth steps work against any RFC 6749 server.

#include <joinme/secret.hpp>

#include <ostream>
#include <string>
#include <string_view>

namespace joinme::oauth {

/// join.me's authorization endpoint.
inline constexpr std::string_view default_authorize_url =
    "https://secure.join.me/api/public/v1/auth/oauth2";
/// join.me's token endpoint.
inline constexpr std::string_view default_token_url =
    "https://secure.join.me/api/public/v1/auth/token";
/// join.me's expire-access endpoint (a test helper that ends an access token's life early).
inline constexpr std::string_view default_expire_access_url =
    "https://secure.join.me/api/public/v1/auth/expireaccesstoken";
/// join.me's renew-authorization page, for a `stale_token`.
inline constexpr std::string_view default_renew_authorization_url =
    "https://secure.join.me/api/public/v1/auth/renewauthorization";

/// How the client proves its identity to the token endpoint (RFC 6749 §2.3.1; the names are
/// those of RFC 7591's `token_endpoint_auth_method`). The configured method is the only one
/// used: joinme never retries with another.
enum class client_auth_method {
    /// `client_id` and `client_secret` in the form body; what join.me expects.
    client_secret_post,
    /// `Authorization: Basic` with the form-urlencoded id and secret; `client_id` is then not
    /// repeated in the body.
    client_secret_basic,
    /// A public client (a native app using PKCE, say): `client_id` in the body, no secret.
    none,
};

/// The name of `m` as RFC 7591 spells it.
constexpr std::string_view to_string(client_auth_method m) noexcept {
    switch (m) {
    case client_auth_method::client_secret_post:
        return "client_secret_post";
    case client_auth_method::client_secret_basic:
        return "client_secret_basic";
    case client_auth_method::none:
        return "none";
    }
    return {};
}

/// A client's registration with an authorization server, and where that server's endpoints are.
///
/// Endpoint URLs are absolute `http` or `https` URLs; the authorization endpoint may carry a
/// query of its own, which is kept. An endpoint a program does not use may be left empty: the
/// step that needs it then fails with `errc::invalid_url`. The URLs are checked when a request
/// is built, not here.
///
/// Printing shows no secret. Thread safety: a value type.
struct config {
    /// The application's client id (join.me: the API key).
    std::string client_id;

    /// The application's client secret; empty for a public client.
    joinme::secret client_secret;

    /// The redirect URI registered for the application (join.me: the "Callback URL"). Sent in
    /// the authorization request and the code exchange when not empty.
    std::string redirect_uri;

    /// The authorization endpoint (RFC 6749 §3.1).
    std::string authorize_url{default_authorize_url};

    /// The token endpoint (RFC 6749 §3.2).
    std::string token_url{default_token_url};

    /// join.me's expire-access endpoint; not part of RFC 6749.
    std::string expire_access_url{default_expire_access_url};

    /// join.me's renew-authorization page; not part of RFC 6749.
    std::string renew_authorization_url{default_renew_authorization_url};

    /// How the client authenticates at the token and expire-access endpoints.
    client_auth_method auth_method = client_auth_method::client_secret_post;

    /// Points the four endpoints at join.me's paths below `base` (an absolute URL, possibly
    /// with a path prefix; a trailing `/` is ignored): `{base}/api/public/v1/auth/oauth2`,
    /// `.../token`, `.../expireaccesstoken` and `.../renewauthorization`. For a join.me
    /// emulator such as the bundled sandbox, or a recording proxy; production join.me is the
    /// default and needs no call.
    config& set_auth_base_url(std::string_view base) {
        while (!base.empty() && base.back() == '/')
            base.remove_suffix(1);
        std::string prefix(base);
        prefix += "/api/public/v1/auth/";
        authorize_url = prefix + "oauth2";
        token_url = prefix + "token";
        expire_access_url = prefix + "expireaccesstoken";
        renew_authorization_url = prefix + "renewauthorization";
        return *this;
    }

    /// Prints every field, the client secret redacted.
    friend std::ostream& operator<<(std::ostream& os, const config& c) {
        return os << "config{client_id \"" << c.client_id << "\", client_secret " << c.client_secret
                  << ", redirect_uri \"" << c.redirect_uri << "\", authorize_url \""
                  << c.authorize_url << "\", token_url \"" << c.token_url
                  << "\", expire_access_url \"" << c.expire_access_url
                  << "\", renew_authorization_url \"" << c.renew_authorization_url
                  << "\", auth_method " << to_string(c.auth_method) << "}";
    }
};

} // namespace joinme::oauth

#endif
