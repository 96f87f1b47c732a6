// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_POOL_OPTIONS_HPP
#define JOINME_HTTP_POOL_OPTIONS_HPP

/// @file
/// The settings and counters of a connection pool: limits of one exchange, the retry policy,
/// the observability callback. Plain values, light to include.

#include <joinme/clock.hpp>
#include <joinme/error.hpp>
#include <joinme/version.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace joinme::http {

namespace beast_http = boost::beast::http;

/// Bounds on one exchange.
struct exchange_limits {
    /// Deadline for writing the request and reading the whole response.
    std::chrono::milliseconds timeout{30'000};
    /// Largest accepted response header (status line and fields), in bytes.
    std::size_t header_limit = 16 * 1024;
    /// Largest accepted response body (after chunked decoding), in bytes. Memory stays within
    /// about header_limit + body_limit however much the server sends.
    std::size_t body_limit = 1024 * 1024;
};

/// Waits `delay`, then completes the handler. Replace the default timer with a function that
/// completes at once (and records the delay) to test retries without sleeping. It must
/// complete the handler exactly once, never inline, and may honour its cancellation slot.
using sleep_function = std::function<void(std::chrono::milliseconds delay,
                                          boost::asio::any_completion_handler<void(error_code)>)>;

/// Retries of rate-limited answers with exponential backoff and full jitter.
struct retry_policy {
    /// Attempts in all, the first included; 1 disables retries.
    unsigned max_attempts = 3;
    /// Backoff before the second attempt, doubled before each later one.
    std::chrono::milliseconds initial_backoff{500};
    /// Upper bound of one wait, `Retry-After` included: a server asking for longer gets its
    /// answer passed to the caller instead.
    std::chrono::milliseconds max_backoff{30'000};
    /// Upper bound of all waits of one call together.
    std::chrono::milliseconds max_total{60'000};
    /// Randomise backoff (not `Retry-After`) over [0, backoff] so clients do not synchronise.
    bool jitter = true;
    /// Retry non-idempotent requests (POST, PATCH) too. Off by default: a 503 does not prove
    /// the server did nothing.
    bool retry_non_idempotent = false;
    /// How to wait; empty means a `steady_timer` on the operation's executor.
    sleep_function sleep;
};

/// What happened to one attempt of a request; given to `pool_options::on_request`. It holds
/// no header and no body, so no token or secret can leak through it.
struct request_event {
    beast_http::verb method{};                      ///< The request's method.
    std::string path;                               ///< Request target without its query.
    unsigned status = 0;                            ///< 0 when no response arrived.
    error_code ec;                                  ///< The attempt's failure, if any.
    std::chrono::steady_clock::duration duration{}; ///< From the start of the attempt to its end.
    unsigned attempt = 1;           ///< 1 for the first attempt of a call, 2 for its first retry...
    bool reused_connection = false; ///< Sent on a kept-alive connection.
};

/// Configuration of a `basic_connection_pool`.
struct pool_options {
    /// Connections kept per origin (in use and idle together). Requests beyond it wait.
    std::size_t max_connections_per_origin = 8;
    /// Requests sent on one connection before it is replaced; 0 for no limit.
    std::size_t max_requests_per_connection = 0;
    /// Deadline for resolve + connect + TLS handshake.
    std::chrono::milliseconds connect_timeout{10'000};
    /// Deadline and size limits of each request/response exchange.
    exchange_limits limits;
    /// How often the pool checks the deadlines of the exchanges in flight: one that passes its
    /// deadline fails with `errc::timeout` between 0 and this much later. Over TCP and TLS one
    /// timer per pool (the watchdog) keeps every deadline, where a timer per read and per write
    /// would cost system calls on every request. It runs only while requests are in flight.
    /// Values under 1 ms count as 1 ms.
    std::chrono::milliseconds deadline_resolution{100};
    /// Retries of 429 / 503 / over-QPS answers.
    retry_policy retry;
    /// Sent as `User-Agent` unless the request has one.
    std::string user_agent = "joinme/" JOINME_VERSION_STRING;
    /// Called after every attempt, on the pool's executor. Optional.
    std::function<void(const request_event&)> on_request;
    /// The wall clock of the pool and of what runs over it: `Retry-After` dates here, the
    /// dating of the tokens the OAuth steps return, and the token source's expiry checks
    /// unless it has a clock of its own. Empty: the system clock.
    clock_function clock;
};

/// Counters for tests and monitoring.
struct pool_stats {
    std::size_t connections_opened = 0; ///< Successful connects.
    std::size_t requests_sent = 0;      ///< Exchanges attempted.
    std::size_t reused = 0;             ///< Exchanges on a kept-alive connection.
    std::size_t stale_discarded = 0;    ///< Idle connections closed by the server, or sent bytes.
    std::size_t replayed_on_fresh = 0;  ///< Requests re-sent after a stale connection failed.
    std::size_t rate_limit_retries = 0; ///< Retries after 429 / 503 / over-QPS.
    /// Times the deadline watchdog started. It stops when nothing is left in flight, so this
    /// counts bursts of activity, not requests.
    std::size_t watchdog_starts = 0;
};

} // namespace joinme::http

#endif
