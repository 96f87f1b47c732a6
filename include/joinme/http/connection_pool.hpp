// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_CONNECTION_POOL_HPP
#define JOINME_HTTP_CONNECTION_POOL_HPP

/// @file
/// `http::connection_pool`: where the stream type is erased. Everything above the transport
/// (the OAuth steps, the token source, the API client) sends its requests through this
/// interface and is compiled once, whatever the stream; `basic_connection_pool<Stream>`
/// (pool.hpp) implements it over one stream type.

#include <joinme/http/message.hpp>
#include <joinme/http/pool_options.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/url/url_view.hpp>

#include <chrono>
#include <cstddef>

namespace joinme::http {

/// Addresses `req` to the absolute URL `url`: sets its method and its target (`/` when the URL
/// has none) and returns the origin to send it to; `ec` is `errc::invalid_url` for anything
/// but an `http` or `https` URL.
inline origin address(request& req, beast_http::verb method, boost::urls::url_view url,
                      error_code& ec) {
    auto o = origin_of(url, ec);
    req.method(method);
    std::string target(url.encoded_target());
    req.target(target.empty() ? "/" : target);
    return o;
}

/// How the pool may treat one request (see `connection_pool::co_request`).
struct request_options {
    /// When not null and a new connection fails, receives in `client_message` what the stream
    /// says about the failure (`stream_traits`' `describe_connect_failure`: for TLS, why the
    /// certificate was rejected, and its subject; through a proxy, the proxy's answer, whose
    /// status, `Proxy-Authenticate` and `Via` also go to `status`, `proxy_authenticate` and
    /// `via`). Nothing else is written to it.
    diagnostics* diag = nullptr;

    /// Send the request once more on a fresh connection when a reused one failed before any
    /// byte of answer, even if it is not idempotent and was completely written (a connection
    /// the server closed as the request went out). Ordinary requests are sent again only if
    /// idempotent or not completely written. joinme's OAuth steps set it for their token
    /// requests (see `oauth::detail::post` for why that is safe).
    bool replay_unanswered = false;

    /// The deadline of the whole call this request belongs to (an API call's
    /// `client_config::call_timeout`): waiting in line for a connection, the connect, the
    /// exchange and the retries of rate-limited answers all end by it, each within its own
    /// limit too. Past it, the request fails with `errc::timeout` (`errc::pool_exhausted`
    /// while waiting in line), and a retry that would start after it is not made: the last
    /// answer is returned. The default sets no deadline beyond the pool's own limits.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/// Keep-alive HTTP/1.1 connections, whatever their stream type: the one boundary where the
/// stream is erased. One virtual call per request, on a path that is a coroutine anyway.
///
/// Thread safety: not thread-safe; use it from its executor (a strand on a multi-threaded
/// io_context).
class connection_pool {
public:
    /// The executor type of every pool.
    using executor_type = boost::asio::any_io_executor;

    virtual ~connection_pool() = default;

    /// The executor of every connection and operation.
    virtual executor_type get_executor() const noexcept = 0;

    /// The options the pool was made with.
    virtual const pool_options& options() const noexcept = 0;

    /// Counters for tests and monitoring.
    virtual pool_stats stats() const noexcept = 0;

    /// Sends `req` to `target` and reads the response into `res` (left empty on failure),
    /// which must outlive the operation; `target` is read before this returns. The pool sets
    /// `Host`, `User-Agent` (unless present), keep-alive and `Content-Length`. A response with any
    /// status is a success at this level, except that 429 / 503 / over-QPS answers are retried per
    /// the retry policy and the last one is returned when retries run out.
    ///
    /// For a coroutine running on the pool's executor. Errors: those of `async_exchange`,
    /// connect and TLS errors (`errc::certificate_*` when the server's certificate is
    /// rejected), `operation_aborted`. Cancellation: that of the awaiting coroutine
    /// (terminal); the connection in use is closed. `opts`: where a failed connect is
    /// explained, and when the request may be sent again.
    virtual boost::asio::awaitable<error_code>
    co_request(const origin& target, request req, response& res, request_options opts = {}) = 0;

    /// Opens connections to `target`, one after another, until `count` of them (at most
    /// `pool_options::max_connections_per_origin`) are open, and keeps them idle: the connects
    /// and TLS handshakes happen now, for a server that warms up before it takes traffic, not
    /// in its first calls. Stops at the first failure and returns it; the connections opened
    /// before it stay.
    ///
    /// For a coroutine running on the pool's executor. Errors: connect and TLS errors,
    /// `errc::timeout` (`connect_timeout`), `errc::invalid_url`, `operation_aborted`;
    /// `operation_not_supported` from a pool that does not override it. `diag` as in
    /// `request_options`.
    virtual boost::asio::awaitable<error_code> co_warm_up(const origin& target, std::size_t count,
                                                          diagnostics* diag = nullptr) {
        (void)target;
        (void)count;
        (void)diag;
        co_return boost::asio::error::operation_not_supported;
    }

    /// Closes every idle connection at once (no TLS close_notify) and fails waiting requests.
    /// Requests in flight finish; their connections are closed afterwards.
    virtual void close() = 0;

protected:
    /// For implementations.
    connection_pool() = default;
    /// For implementations.
    connection_pool(const connection_pool&) = default;
    /// For implementations.
    connection_pool& operator=(const connection_pool&) = default;
};

} // namespace joinme::http

#endif
