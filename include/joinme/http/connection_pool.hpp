// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_CONNECTION_POOL_HPP
#define JOINME_HTTP_CONNECTION_POOL_HPP

/// @file
/// `http::connection_pool`: where the stream type is erased. Everything above the transport
/// (the OAuth steps, the token source, the API client) sends its requests through this
/// interface and is compiled once, whatever the stream; `basic_connection_pool<Stream>`
/// (pool.hpp) implements it over one stream type.

#include <joinme/clock.hpp>
#include <joinme/http/message.hpp>
#include <joinme/http/retry.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace joinme::http {

/// What happened to one attempt of a request; given to `pool_options::on_request`. It holds
/// no header and no body, so no token or secret can leak through it.
struct request_event {
    beast_http::verb method{};
    std::string path;    ///< Request target without its query.
    unsigned status = 0; ///< 0 when no response arrived.
    error_code ec;       ///< The attempt's failure, if any.
    std::chrono::steady_clock::duration duration{};
    unsigned attempt = 1; ///< 1 for the first attempt of a call, 2 for its first retry...
    bool reused_connection = false;
};

/// Configuration of a `basic_connection_pool`.
struct pool_options {
    /// Connections kept per origin (in use and idle together). Requests beyond it wait.
    std::size_t max_connections_per_origin = 8;
    /// Requests sent on one connection before it is replaced; 0 for no limit.
    std::size_t max_requests_per_connection = 0;
    /// An idle connection is checked for a close by the server (one system call) before it is
    /// reused when it has been idle at least this long; 0 checks every time. A server seldom
    /// closes a kept-alive connection within a second of its answer, and an idempotent
    /// request that meets such a connection is sent again on a fresh one.
    std::chrono::milliseconds validate_after_idle{1000};
    /// Deadline for resolve + connect + TLS handshake.
    std::chrono::milliseconds connect_timeout{10'000};
    /// Deadline and size limits of each request/response exchange.
    exchange_limits limits;
    /// Retries of 429 / 503 / over-QPS answers.
    retry_policy retry;
    /// Sent as `User-Agent` unless the request has one.
    std::string user_agent = "joinme/0.1";
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
    std::size_t stale_discarded = 0;    ///< Idle connections found closed by the server.
    std::size_t replayed_on_fresh = 0;  ///< Requests re-sent after a stale connection failed.
    std::size_t rate_limit_retries = 0; ///< Retries after 429 / 503 / over-QPS.
};

/// Keep-alive HTTP/1.1 connections, whatever their stream type: the one boundary where the
/// stream is erased. One virtual call per request, on a path that is a coroutine anyway.
///
/// Thread safety: not thread-safe; use it from its executor (a strand on a multi-threaded
/// io_context).
class connection_pool {
public:
    using executor_type = boost::asio::any_io_executor;

    virtual ~connection_pool() = default;

    /// The executor of every connection and operation.
    virtual executor_type get_executor() const noexcept = 0;

    /// The options the pool was made with.
    virtual const pool_options& options() const noexcept = 0;

    /// Counters for tests and monitoring.
    virtual pool_stats stats() const noexcept = 0;

    /// Sends `req` to `target` and reads the response into `res` (left empty on failure),
    /// which must outlive the operation. The pool sets `Host`, `User-Agent` (unless present),
    /// keep-alive and `Content-Length`. A response with any status is a success at this
    /// level, except that 429 / 503 / over-QPS answers are retried per the retry policy and
    /// the last one is returned when retries run out.
    ///
    /// For a coroutine running on the pool's executor. Errors: those of `async_exchange`,
    /// connect and TLS errors, `operation_aborted`. Cancellation: that of the awaiting
    /// coroutine (terminal); the connection in use is closed.
    virtual boost::asio::awaitable<error_code> co_request(origin target, request req,
                                                          response& res) = 0;

    /// Closes every idle connection at once (no TLS close_notify) and fails waiting requests.
    /// Requests in flight finish; their connections are closed afterwards.
    virtual void close() = 0;

protected:
    connection_pool() = default;
    connection_pool(const connection_pool&) = default;
    connection_pool& operator=(const connection_pool&) = default;
};

} // namespace joinme::http

#endif
