// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_CLIENT_CONFIG_HPP
#define JOINME_API_CLIENT_CONFIG_HPP

/// @file
/// The configuration and counters of an API client (`api::any_client`, `api::basic_client`).

#include <joinme/http/pool_options.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/token_source_options.hpp>
#include <joinme/proxy.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace joinme::api {

/// join.me's REST API base URL.
inline constexpr std::string_view default_api_base_url = "https://api.join.me";

/// Configuration of a `basic_client`.
///
/// Printing is not offered: `oauth` holds the client secret (it prints redacted through its
/// own `operator<<`).
struct client_config {
    /// The REST API's base URL, an absolute `http` or `https` URL, possibly with a path prefix;
    /// `/v1/...` is appended to it. A trailing `/` is ignored.
    std::string api_base_url{default_api_base_url};

    /// Client registration and the authorization server's endpoints (token, expire access,
    /// renew authorization). Used by the token source to refresh tokens and by
    /// `renew_authorization_url`.
    oauth::config oauth{};

    /// The connection pool shared by API calls and token refreshes: connections per origin,
    /// connect timeout, per-exchange deadline and header/body limits (`limits`), the retry
    /// policy for 429 / 503 / over-QPS answers (`retry`), `user_agent`, and the optional
    /// `on_request` observability callback (it sees method, path, status, duration, attempt
    /// and connection reuse; never a header or body, so never a token).
    http::pool_options pool{};

    /// Which HTTP proxy the client's connections go through: an explicit proxy
    /// (`proxy.set_proxy("http://user:password@proxy:3128")`), or the environment's
    /// (`proxy = proxy_config_from_environment(ec)`), with the hosts that bypass it
    /// (`no_proxy`). Empty by default: every connection is direct. Honoured by a
    /// `basic_client<proxy_stream>` (it replaces its context's proxy configuration); any other
    /// stream type cannot go through a proxy, so its constructor throws `std::invalid_argument`
    /// when this is not empty. Not used by a client over a shared pool: the pool's context
    /// decides. The password is a `secret`, never printed.
    proxy_config proxy{};

    /// The overall deadline of every API call, from its start: waiting for a connection, the
    /// connect, a token refresh it waits for, the exchange, the replay after a rejected token
    /// and the retries of rate-limited answers, each within its own limit (`pool`) too. A call
    /// that runs out of it fails with `errc::timeout` (`errc::pool_exhausted` while it waited
    /// in line for a connection or for its turn among the client's calls), and a retry that would start after it is not made: the last
    /// answer is reported. Kept without a timer per call (see `http::request_options::
    /// deadline`). `joinme::timeout_after(d, token)` sets it for one call. Zero: none.
    std::chrono::milliseconds call_timeout{60'000};

    /// Refresh margin, clock, token store and user key of the token source.
    oauth::token_source_options token_source{};

    /// Lets the API and the authorization server be in different environments: one of them
    /// production join.me, the other not. Off by default: such a client fails every call with
    /// `errc::invalid_url` and says why, so that a test set-up that points only the API at a
    /// test server cannot send the client secret and refresh tokens to production.
    bool allow_mixed_environments = false;

    /// Points the whole environment, the API and the authorization server, at `base`, where
    /// an emulator such as the bundled sandbox serves both: `api_base_url` becomes `base`, and
    /// `oauth.set_auth_base_url(base)` sets the OAuth endpoints.
    client_config& set_base_url(std::string_view base) {
        api_base_url = std::string(base);
        oauth.set_auth_base_url(base);
        return *this;
    }
};

/// Counters of a client's authorization handling, for tests and monitoring.
struct client_stats {
    std::size_t rejected_tokens = 0; ///< API answers that rejected the access token.
    std::size_t replays = 0;         ///< Calls sent again with a refreshed token.
};

} // namespace joinme::api

#endif
