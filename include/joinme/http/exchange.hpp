// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_EXCHANGE_HPP
#define JOINME_HTTP_EXCHANGE_HPP

/// @file
/// One HTTP/1.1 request and its response over an open stream, with a deadline and limits on
/// the size of the response's header and body.

#include <joinme/detail/async_run.hpp>
#include <joinme/http/message.hpp>
#include <joinme/http/pool_options.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace joinme::http {

/// How far an exchange got, which decides whether a failed request may be sent again.
struct exchange_progress {
    bool request_written = false;  ///< The whole request was handed to the stream.
    bool response_started = false; ///< At least one byte of a response arrived.
    /// The answer read allows the connection to be kept alive, as its parser found out (no
    /// `Connection: close`, a length that does not run to the end of the stream).
    bool keep_alive = false;
};

/// Translates Beast's reading errors into joinme's conditions; other codes pass through.
inline error_code map_read_error(error_code ec) {
    namespace bh = boost::beast::http;
    if (ec == bh::error::body_limit || ec == bh::error::buffer_overflow)
        return errc::body_too_large;
    if (ec == bh::error::header_limit)
        return errc::header_too_large;
    if (ec == boost::beast::error::timeout)
        return errc::timeout;
    if (ec == bh::error::end_of_stream || ec == bh::error::partial_message ||
        ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
        ec == boost::asio::error::connection_aborted || ec == boost::asio::error::broken_pipe ||
        ec == boost::asio::ssl::error::stream_truncated)
        return errc::connection_closed;
    if (ec.category() == bh::make_error_code(bh::error::bad_version).category())
        return errc::malformed_response;
    return ec;
}

namespace detail {

namespace asio = boost::asio;

// The fields the pool sends with a request that does not set them itself. Written with the
// request rather than inserted into it: each insertion into Beast's field set allocates.
struct request_defaults {
    std::string_view host;       // sent first, as RFC 9110 §7.2 asks
    std::string_view user_agent; // sent last
};

// Writes `req` into `out` exactly as Beast's serializer would send it: request line, the
// fields in order, a blank line, the body (a chunked one as one chunk and the last chunk); and
// the `defaults` that `req` lacks. One contiguous buffer, kept per connection, goes out in one
// write: far cheaper per request than Beast's composed write over a chain of buffers.
inline void serialize_request(const request& req, std::string& out,
                              request_defaults defaults = {}) {
    using namespace std::string_view_literals; // no strlen per piece
    namespace bh = boost::beast::http;
    auto line = [&out](std::string_view name, std::string_view value) {
        out.append(name);
        out.append(": "sv);
        out.append(value);
        out.append("\r\n"sv);
    };
    bool chunked = false;
    for (const auto& field : req) { // a few fields: a scan is cheaper than three lookups
        if (field.name() == bh::field::host)
            defaults.host = {};
        else if (field.name() == bh::field::user_agent)
            defaults.user_agent = {};
        else if (field.name() == bh::field::transfer_encoding)
            chunked = req.chunked();
    }
    out.clear();
    out.append(req.method_string());
    out += ' ';
    out.append(req.target());
    out.append(" HTTP/"sv);
    out += static_cast<char>('0' + req.version() / 10 % 10);
    out += '.';
    out += static_cast<char>('0' + req.version() % 10);
    out.append("\r\n"sv);
    if (!defaults.host.empty())
        line("Host"sv, defaults.host);
    for (const auto& field : req)
        line(field.name_string(), field.value());
    if (!defaults.user_agent.empty())
        line("User-Agent"sv, defaults.user_agent);
    out.append("\r\n"sv);
    if (!chunked) {
        out.append(req.body());
        return;
    }
    if (!req.body().empty()) {
        char size[2 * sizeof(std::size_t)];
        auto end = std::to_chars(size, size + sizeof size, req.body().size(), 16).ptr;
        out.append(size, end);
        out.append("\r\n"sv);
        out.append(req.body());
        out.append("\r\n"sv);
    }
    out.append("0\r\n\r\n"sv);
}

// Streams over Beast's `basic_stream` (TCP, TLS over TCP) honour per-operation cancellation,
// and have a deadline of their own: on expiry the socket is closed and pending operations fail
// with `beast::error::timeout`. That deadline arms and cancels a timer around every read and
// write; the pool keeps its exchanges' deadlines with one watchdog instead.
template <class Stream>
concept has_native_deadline = requires(Stream& s, std::chrono::milliseconds d) {
    boost::beast::get_lowest_layer(s).expires_after(d);
    boost::beast::get_lowest_layer(s).expires_never();
};

// The first read of an answer, started on an idle connection before its request exists. The
// pool keeps one pending on every idle connection over TCP and TLS (see
// basic_connection_pool): bytes or an end of stream that arrive while nobody asked for them
// close the connection at once, and otherwise the read simply becomes the first read of the
// next answer: noticing them costs the one system call of the read's first attempt, which finds
// nothing. `exchange` waits for it after writing instead of starting a read of its own.
struct early_read {
    bool pending = false;  // started, and not yet consumed by an exchange
    bool done = false;     // completed with `ec`; the bytes read are in the connection's buffer
    bool stopping = false; // cancelled by the pool, which parks idle connections when quiet
    bool restart = false;  // a request took the connection while it was being stopped
    error_code ec;
    // Who waits for the completion. (Boost 1.81's any_completion_handler cannot be
    // move-assigned: its move assignment copies the handler into a new wrapper of itself.)
    std::optional<asio::any_completion_handler<void()>> waiter;

    // Waits until the read completes. Cancellation closes `stream`, which ends the read.
    template <class Stream>
    auto async_wait(Stream& stream) {
        auto wait = [this, &stream](auto handler) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected())
                slot.assign(
                    [&stream](asio::cancellation_type) { stream_traits<Stream>::close(stream); });
            waiter.emplace(std::move(handler));
        };
        auto token = asio::deferred;
        return asio::async_initiate<decltype(token), void()>(wait, token);
    }

    // Called on the pool's executor, which is the waiter's too (a pool is used from one).
    void resume() {
        auto w = std::move(*waiter);
        waiter.reset();
        asio::get_associated_cancellation_slot(w).clear();
        std::move(w)();
    }
};

// Parses what `buffer` already holds (the early read's bytes, or those of a pipelined answer)
// into `parser`, as far as they go; returns the bytes used. Beast's read would parse them too,
// but when they hold the whole answer it posts its completion: one more turn of the event
// loop for every call.
template <class Parser>
std::size_t parse_buffered(Parser& parser, boost::beast::flat_buffer& buffer, error_code& ec) {
    std::size_t used = 0;
    parser.eager(true);
    while (buffer.size() > 0 && !parser.is_done()) {
        auto n = parser.put(buffer.data(), ec);
        buffer.consume(n);
        used += n;
        if (ec == boost::beast::http::error::need_more)
            ec = {};
        if (ec || n == 0)
            break;
    }
    return used;
}

// The exchange proper, without a deadline. `scratch` holds the serialized request, with the
// `defaults` it lacks; `early`, if any, is a read already pending on the stream.
//
// Asio's operations are awaited as `deferred` operations, here and wherever a call waits (the
// pool, the token source, the client's line of calls): Boost 1.81's awaitable then waits for
// one in the awaiting coroutine's frame, where `use_awaitable` makes a coroutine of its own
// for each (an allocation, and memory a waiting call holds).
template <class Stream>
asio::awaitable<error_code>
exchange(Stream& stream, boost::beast::flat_buffer& buffer, const request& req, response& res,
         const exchange_limits& limits, exchange_progress& progress, std::string& scratch,
         request_defaults defaults = {}, early_read* early = nullptr) {
    serialize_request(req, scratch, defaults);
    auto [wec, written] =
        co_await asio::async_write(stream, asio::buffer(scratch), asio::as_tuple(asio::deferred));
    if (wec)
        co_return map_read_error(wec);
    progress.request_written = true;
    if (early) {
        if (!early->done)
            co_await early->async_wait(stream);
        early->pending = false;
        progress.response_started = buffer.size() > 0;
        if (early->ec)
            co_return map_read_error(early->ec);
    }

    // Interim (1xx) responses come before the answer and are skipped (RFC 9110 §15.2): a few,
    // within the header limit altogether. A 101 was not asked for: the connection would no
    // longer speak HTTP.
    std::size_t interim_bytes = 0;
    for (;;) {
        boost::beast::http::response_parser<boost::beast::http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit - interim_bytes));
        parser.body_limit(limits.body_limit);
        if (req.method() == boost::beast::http::verb::head)
            parser.skip(true);
        auto before = buffer.size();
        error_code rec;
        std::size_t read = parse_buffered(parser, buffer, rec);
        if (!rec && !parser.is_done()) {
            auto [ec, n] = co_await boost::beast::http::async_read(stream, buffer, parser,
                                                                   asio::as_tuple(asio::deferred));
            rec = ec;
            read += n;
        }
        progress.response_started |= parser.got_some() || read > 0 || buffer.size() > before;
        if (rec)
            co_return map_read_error(rec);
        auto status = parser.get().result_int();
        if (status == 101)
            co_return errc::malformed_response;
        if (status < 100 || status >= 200) {
            progress.keep_alive = parser.keep_alive();
            res = parser.release();
            co_return error_code{};
        }
        interim_bytes += read;
        if (interim_bytes >= limits.header_limit)
            co_return errc::header_too_large;
    }
}

// Runs `op` with a deadline. Not every stream honours per-operation cancellation (Beast's
// test stream does not), so on expiry, and on the caller's own cancellation, the watchdog
// also calls `abort`, which closes the stream and makes any pending operation complete.
// The stream is unusable afterwards either way: the caller must discard it.
// Result: op's own result, errc::timeout, or operation_aborted.
template <class Abort>
asio::awaitable<error_code> with_deadline(asio::awaitable<error_code> op,
                                          std::chrono::milliseconds timeout, Abort abort) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    bool done = false;
    bool expired = false;
    auto guarded = [&]() -> asio::awaitable<error_code> {
        auto ec = co_await std::move(op);
        done = true;
        co_return ec;
    };
    auto watchdog = [&]() -> asio::awaitable<void> {
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::deferred));
        if (!done) {
            expired = !ec;
            abort();
        }
    };
    auto r = co_await (guarded() || watchdog());
    if (r.index() == 0 && !expired)
        co_return std::get<0>(r);
    co_return expired ? error_code(errc::timeout) : error_code(asio::error::operation_aborted);
}

// `exchange` within `timeout`. After a failure the stream must be discarded.
template <class Stream>
asio::awaitable<error_code>
exchange_with_deadline(Stream& stream, boost::beast::flat_buffer& buffer, const request& req,
                       response& res, const exchange_limits& limits, exchange_progress& progress,
                       std::string& scratch, std::chrono::milliseconds timeout,
                       request_defaults defaults = {}) {
    if constexpr (has_native_deadline<Stream>) {
        auto& lowest = boost::beast::get_lowest_layer(stream);
        lowest.expires_after(timeout);
        auto ec = co_await exchange(stream, buffer, req, res, limits, progress, scratch, defaults);
        if (!ec)
            lowest.expires_never(); // a connection kept for reuse must not time out while idle
        co_return ec;
    } else {
        co_return co_await with_deadline(
            exchange(stream, buffer, req, res, limits, progress, scratch, defaults), timeout,
            [&stream] { stream_traits<Stream>::close(stream); });
    }
}

} // namespace detail

/// Sends `req` on an open `stream` and reads the response, within `limits`.
///
/// @param stream  an open stream; after any failure its state is unspecified: close it.
/// @param buffer  read buffer, kept between exchanges on one connection (it may hold bytes
///                of a pipelined response).
/// @param req     the request; must stay valid until completion.
/// @param limits  deadline (`timeout`, kept with the stream's own expiry where it has one)
///                and header and body size limits.
/// @param token   completion token with signature `void(error_code, response)`.
///
/// Errors: `errc::timeout`, `errc::body_too_large`, `errc::header_too_large`,
/// `errc::malformed_response`, `errc::connection_closed`, or the stream's own error code.
/// Cancellation: terminal; the stream must be closed afterwards.
template <transport Stream, class Token>
auto async_exchange(Stream& stream, boost::beast::flat_buffer& buffer, const request& req,
                    exchange_limits limits, Token&& token) {
    return joinme::detail::async_run<response>(
        stream.get_executor(), std::forward<Token>(token),
        [&stream, &buffer, &req, limits](response& res) -> boost::asio::awaitable<error_code> {
            exchange_progress progress;
            std::string scratch;
            auto ec = co_await detail::exchange_with_deadline(stream, buffer, req, res, limits,
                                                              progress, scratch, limits.timeout);
            co_return ec;
        });
}

} // namespace joinme::http

#endif
