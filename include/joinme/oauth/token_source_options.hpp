// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_SOURCE_OPTIONS_HPP
#define JOINME_OAUTH_TOKEN_SOURCE_OPTIONS_HPP

/// @file
/// The settings and counters of a `token_source` (token_source.hpp). Plain values, light to
/// include.

#include <joinme/clock.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace joinme::oauth {

class token_store;

/// Settings of a token source.
struct token_source_options {
    /// Refresh this long before the token expires; cut to half the token's lifetime, so a
    /// short-lived token is not refreshed as soon as it arrives. Sub-second values are honoured
    /// (a whole number of seconds converts implicitly).
    std::chrono::milliseconds refresh_margin{60'000};

    /// The local clock; the pool's (`http::pool_options::clock`, the system clock unless set)
    /// when empty.
    clock_function clock;

    /// Measure expiry against the server's clock: the offset between the token endpoint's
    /// `Date` header and the local clock at arrival is remembered and added to the local
    /// clock. Tokens (and the store) then hold server times. From the first refresh on, this
    /// offset also cancels whatever skew an injected local clock has against the server: a
    /// test that wants its own clock to count against a server that sends `Date` turns this
    /// off.
    bool use_server_date = true;

    /// Where tokens are saved (and, with several processes, shared); none when null. Must
    /// outlive the token source's operations.
    std::shared_ptr<token_store> store;

    /// The store's key for this source's tokens.
    std::string user;

    /// Bound on one refresh request (connect, retries, exchange). The store's lease is held
    /// no longer than this plus the store's own local work.
    std::chrono::milliseconds refresh_timeout{60'000};
};

/// Counters for tests and monitoring.
struct token_source_stats {
    std::size_t refresh_requests = 0; ///< Refresh requests sent to the token endpoint.
    std::size_t adopted = 0;          ///< Newer tokens taken from the store.
    std::size_t saves = 0;            ///< Successful saves to the store.
};

} // namespace joinme::oauth

#endif
