// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_HTTP_SERVER_HPP
#define JOINME_DETAIL_HTTP_SERVER_HPP

// The one HTTP/1.1 server loop under the loopback listener, the sandbox and the tests' scripted
// servers. The logic stays in a handler, a plain function from a request to a `server_reply`;
// the loop reads (with size limits and a deadline), asks the handler, writes, honours
// keep-alive, and stops when the owner closes its `server_connections`.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

namespace joinme::detail {

namespace server_http = boost::beast::http;
using server_request = server_http::request<server_http::string_body>;
using server_response = server_http::response<server_http::string_body>;

/// What a handler answers to one request, and how.
struct server_reply {
    server_response res{server_http::status::ok, 11};
    /// Wait this long before answering (closing the connections cuts the wait short).
    std::chrono::milliseconds delay{0};
    /// Send only the first bytes of the answer, then close the connection.
    std::optional<std::size_t> cut_after{};
    /// Send nothing for this request; the connection stays open for the next one.
    bool withhold = false;
    /// Close the connection after the answer without announcing it (no `Connection: close`).
    bool close = false;
    /// Raw bytes written just before the answer (interim 1xx responses, say) and just after it
    /// (an unsolicited second response, say): faults for the client to survive.
    std::string prefix{};
    std::string suffix{};
    /// Write `suffix` this long after the answer instead of with it (closing the connections
    /// cuts the wait short); the next request is read after that.
    std::chrono::milliseconds suffix_delay{0};
    /// Called once the answer was written (whatever the outcome) or withheld.
    std::function<void()> after{};
};

/// How `serve_connection` reads and writes.
struct server_options {
    std::size_t header_limit = 8 * 1024;  ///< Beast's default for requests.
    std::size_t body_limit = 1024 * 1024; ///< Beast's default for requests.
    /// On a stream with `expires_after` (a `beast::tcp_stream`, or TLS over one): the deadline
    /// of each request, set once when the loop starts waiting for it, so that it bounds the
    /// idle wait and the whole request read together, not each byte; then again of each
    /// answer's write. 0: none.
    std::chrono::milliseconds timeout{0};
    /// When the server closes a socket after an answer, it first reads and drops up to this
    /// many bytes (under the write's deadline): unread request bytes would make the system
    /// reset the connection, and the client could lose the answer. 0: close at once.
    std::size_t linger = 0;
    /// The answer to a request that cannot be read (400, 413 or 431), always followed by a
    /// close; no function, or no answer: the connection is closed without one.
    std::optional<server_response> (*refuse)(server_http::status) = nullptr;
};

/// The connections (and other pending work) of one server, so that its owner closes them all
/// at once. Closing is final: what is added afterwards is closed from the start.
class server_connections {
public:
    /// One entry, removed from its set when destroyed. A default-constructed slot belongs to
    /// no set and is never closed.
    class slot {
    public:
        slot() = default;
        slot(slot&& o) noexcept : set_(std::move(o.set_)), id_(o.id_) {}
        ~slot() {
            if (set_)
                set_->closers_.erase(id_);
        }

        /// What closing the set does to this entry (replaces the previous function).
        void on_close(std::function<void()> f) const {
            if (!set_)
                return;
            if (auto it = set_->closers_.find(id_); it != set_->closers_.end())
                it->second = std::move(f);
        }
        bool closed() const noexcept { return set_ && set_->closed_; }

    private:
        friend class server_connections;
        std::shared_ptr<server_connections> set_;
        std::uint64_t id_ = 0;
    };

    /// Adds an entry to `set`; `close` is what closing the set does to it.
    static slot add(std::shared_ptr<server_connections> set, std::function<void()> close = {}) {
        slot s;
        s.id_ = set->next_id_++;
        if (!set->closed_)
            set->closers_.emplace(s.id_, std::move(close));
        s.set_ = std::move(set);
        return s;
    }

    bool closed() const noexcept { return closed_; }
    /// Entries open, counting connections accepted whose coroutine has not started yet.
    std::size_t size() const noexcept { return closers_.size(); }

    void close() {
        closed_ = true;
        auto all = std::move(closers_);
        closers_.clear();
        for (auto& entry : all)
            if (entry.second)
                entry.second();
    }

private:
    std::map<std::uint64_t, std::function<void()>> closers_;
    std::uint64_t next_id_ = 0;
    bool closed_ = false;
};

/// Closes the socket under `s` (a `beast::tcp_stream`, a socket, a `beast::test::stream`, or
/// a TLS stream over one of them, which ends without close_notify).
template <class Stream>
void close_stream(Stream& s) {
    auto& l = boost::beast::get_lowest_layer(s);
    boost::system::error_code ec;
    if constexpr (requires { l.socket(); }) {
        l.socket().shutdown(boost::asio::socket_base::shutdown_both, ec);
        l.socket().close(ec);
    } else if constexpr (requires { l.close(ec); }) {
        l.shutdown(boost::asio::socket_base::shutdown_both, ec);
        l.close(ec);
    } else {
        l.close();
    }
}

/// Sets the deadline of the next operations on `s`, if it has one; 0: leaves it alone.
template <class Stream>
void set_deadline(Stream& s, std::chrono::milliseconds d) {
    auto& l = boost::beast::get_lowest_layer(s);
    if constexpr (requires { l.expires_after(d); })
        if (d.count() > 0)
            l.expires_after(d);
}

/// The status that answers a request Beast could not read; none when there is nobody to
/// answer (the peer closed, went silent, or the socket failed).
inline std::optional<server_http::status> refusal_status(const boost::system::error_code& ec) {
    namespace http = server_http;
    if (ec == http::error::header_limit)
        return http::status::request_header_fields_too_large;
    if (ec == http::error::body_limit)
        return http::status::payload_too_large;
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
        return http::status::bad_request;
    return std::nullopt;
}

/// After a last answer: half-close the socket and read what the peer still sends, up to
/// `limit` bytes, so that the answer is not lost to a reset.
template <class Stream>
boost::asio::awaitable<void> linger(Stream& stream, const server_connections::slot& slot,
                                    std::size_t limit) {
    namespace asio = boost::asio;
    auto& l = boost::beast::get_lowest_layer(stream);
    if constexpr (requires { l.socket(); }) {
        boost::system::error_code ec;
        if (limit > 0)
            l.socket().shutdown(asio::socket_base::shutdown_send, ec);
        std::array<char, 4096> sink;
        for (std::size_t drained = 0; !ec && drained < limit && !slot.closed();) {
            std::size_t n = 0;
            std::tie(ec, n) =
                co_await l.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
            drained += n;
        }
    }
}

/// Serves HTTP/1.1 requests on `stream` with `handler` (`server_reply(const server_request&)`)
/// until the peer or the handler ends the connection, a read fails or times out, or `slot`'s
/// set is closed; then closes the stream. Pipelined requests are answered in order. `stream`,
/// `opts` and `handler` live in the caller's frame, which outlives this coroutine.
template <class Stream, class Handler>
boost::asio::awaitable<void> serve_connection(Stream& stream, server_connections::slot slot,
                                              const server_options& opts, Handler& handler) {
    namespace asio = boost::asio;
    namespace http = server_http;
    asio::steady_timer delay(co_await asio::this_coro::executor);
    slot.on_close([&stream, &delay] {
        close_stream(stream);
        delay.cancel();
    });
    boost::beast::flat_buffer buffer;
    while (!slot.closed()) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(opts.header_limit, std::uint32_t(-1))));
        parser.body_limit(opts.body_limit);
        set_deadline(stream, opts.timeout);
        auto [ec, n] =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (slot.closed())
            break;
        server_reply reply;
        if (!ec) {
            reply = handler(std::as_const(parser.get()));
            reply.res.keep_alive(parser.get().keep_alive() && reply.res.keep_alive());
        } else {
            auto status = refusal_status(ec);
            auto refusal = status && opts.refuse ? opts.refuse(*status) : std::nullopt;
            if (!refusal)
                break;
            reply.res = std::move(*refusal);
            reply.res.keep_alive(false); // the rest of the request is not read
        }
        if (reply.delay.count() > 0) {
            delay.expires_after(reply.delay);
            co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
            if (slot.closed())
                break;
        }
        if (reply.withhold) {
            if (reply.after)
                reply.after();
            continue;
        }
        const bool later = reply.suffix_delay.count() > 0 && !reply.suffix.empty();
        std::ostringstream os;
        os << reply.prefix << reply.res;
        if (!later)
            os << reply.suffix;
        std::string wire = std::move(os).str();
        const bool cut = reply.cut_after && *reply.cut_after < wire.size();
        if (cut)
            wire.resize(*reply.cut_after);
        set_deadline(stream, opts.timeout);
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire),
                                                    asio::as_tuple(asio::use_awaitable));
        if (reply.after)
            reply.after();
        if (later && !wec && !cut) {
            delay.expires_after(reply.suffix_delay);
            co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
            if (slot.closed())
                break;
            set_deadline(stream, opts.timeout);
            auto [sec, sn] = co_await asio::async_write(stream, asio::buffer(reply.suffix),
                                                        asio::as_tuple(asio::use_awaitable));
            wec = sec;
        }
        if (wec || cut || reply.close || !reply.res.keep_alive()) {
            if (!wec && !cut)
                co_await linger(stream, slot, opts.linger);
            break;
        }
    }
    close_stream(stream);
}

/// Accepts connections on `acceptor` and gives each socket to `on_accept`, until `conns` is
/// closed or the acceptor is. A transient failure (out of descriptors, say) pauses the loop
/// rather than making it spin.
template <class Acceptor, class OnAccept>
boost::asio::awaitable<void>
accept_loop(Acceptor& acceptor, std::shared_ptr<server_connections> conns, OnAccept on_accept) {
    namespace asio = boost::asio;
    while (!conns->closed()) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        // Looked at before the acceptor: closing the server may have destroyed it.
        if (conns->closed() || ec == asio::error::operation_aborted ||
            ec == asio::error::bad_descriptor || !acceptor.is_open())
            co_return;
        if (ec) {
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        on_accept(std::move(socket));
    }
}

} // namespace joinme::detail

#endif
