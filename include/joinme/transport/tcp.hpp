// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_TCP_HPP
#define JOINME_TRANSPORT_TCP_HPP

/// @file
/// `stream_traits` for plain TCP (`beast::tcp_stream`): resolve and connect.

#include <joinme/transport.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace joinme {

/// The endpoints of a host name, as Asio's resolver gives them.
using resolve_results = boost::asio::ip::tcp::resolver::results_type;

/// Resolves `host` and `port` and completes `handler` with `void(error_code, resolve_results)`
/// through the handler's associated executor.
using resolve_function =
    std::function<void(std::string_view host, std::string_view port,
                       boost::asio::any_completion_handler<void(error_code, resolve_results)>)>;

/// What opening a TCP connection needs.
struct tcp_context {
    /// How host names are resolved: Asio's resolver (`getaddrinfo`) when empty. IP literals
    /// are never resolved. Replace it for a resolver of your own (a cache, DNS over HTTPS) or,
    /// in tests, for one that fails or never answers.
    resolve_function resolve;
};

namespace detail {

// Peeks at an idle socket without blocking: an idle HTTP/1.1 connection has nothing to read,
// so end-of-file, an error or unexpected bytes (a TLS close_notify, say) all mean "do not
// reuse".
inline bool socket_is_idle(boost::asio::ip::tcp::socket& s) noexcept {
    if (!s.is_open())
        return false;
    // One system call, whatever the socket's blocking mode: MSG_DONTWAIT makes this peek
    // non-blocking on its own.
    char c;
    auto n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// A host name lookup. It is shared by the connect operation and the lookup's handler, so
// that the operation can give up on it (a deadline, a cancellation) while the lookup goes on:
// `getaddrinfo` cannot be interrupted, and Asio's resolver cannot cancel a lookup that has
// started, so a hung DNS server would otherwise hold the operation past any deadline.
struct host_lookup {
    explicit host_lookup(const boost::asio::any_io_executor& ex)
        : finished(ex, std::chrono::steady_clock::time_point::max()) {}
    boost::asio::steady_timer finished; // expires when the lookup ends
    std::optional<boost::asio::ip::tcp::resolver> resolver;
    bool done = false;
    error_code ec;
    resolve_results results;
};

// Resolves `o` (unless it is an IP literal) and connects the socket to the first endpoint
// that answers. Terminal cancellation ends it at any step, the lookup included.
struct tcp_connect_op {
    boost::beast::tcp_stream& stream;
    origin target;
    resolve_function resolve;
    std::shared_ptr<host_lookup> lookup = nullptr;
    enum { starting, resolving, connecting } step = starting;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        namespace asio = boost::asio;
        switch (step) {
        case starting: {
            auto address = asio::ip::make_address(target.host, ec);
            if (!ec) {
                unsigned long port = 0;
                auto [p, e] = std::from_chars(target.port.data(),
                                              target.port.data() + target.port.size(), port);
                if (e != std::errc{} || p != target.port.data() + target.port.size() ||
                    port > 65535)
                    return self.complete(asio::error::invalid_argument);
                step = connecting;
                return stream.async_connect(
                    asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)),
                    std::move(self));
            }
            lookup = std::make_shared<host_lookup>(stream.get_executor());
            auto on_resolved = asio::bind_executor(
                stream.get_executor(), [l = lookup](error_code ec, resolve_results r) {
                    l->done = true;
                    l->ec = ec;
                    l->results = std::move(r);
                    l->resolver.reset(); // nothing left to cancel
                    l->finished.expires_at(std::chrono::steady_clock::time_point::min());
                });
            if (resolve) {
                resolve(target.host, target.port, std::move(on_resolved));
            } else {
                lookup->resolver.emplace(stream.get_executor());
                lookup->resolver->async_resolve(target.host, target.port, std::move(on_resolved));
            }
            step = resolving;
            return lookup->finished.async_wait(std::move(self));
        }
        case resolving: {
            auto l = std::move(lookup);
            if (!l->done) {
                // Cancelled while the lookup runs: leave it behind.
                if (l->resolver)
                    l->resolver->cancel();
                return self.complete(ec ? ec : asio::error::operation_aborted);
            }
            if (l->ec)
                return self.complete(l->ec);
            step = connecting;
            return stream.async_connect(
                l->results, [self = std::move(self)](error_code ec, const auto&) mutable {
                    self.complete(ec);
                });
        }
        case connecting:
            return self.complete(ec);
        }
    }
};

} // namespace detail

template <>
struct stream_traits<boost::beast::tcp_stream> {
    using context_type = tcp_context;

    static boost::beast::tcp_stream create(const boost::asio::any_io_executor& ex, tcp_context&) {
        return boost::beast::tcp_stream(ex);
    }

    template <class Token>
    static auto async_connect(boost::beast::tcp_stream& s, const origin& o, tcp_context& ctx,
                              Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            detail::tcp_connect_op{s, o, ctx.resolve}, token, s);
    }

    template <class Token>
    static auto async_shutdown(boost::beast::tcp_stream& s, Token&& token) {
        error_code ec;
        s.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
        s.close();
        return boost::asio::post(s.get_executor(),
                                 boost::asio::append(std::forward<Token>(token), error_code{}));
    }

    static void close(boost::beast::tcp_stream& s) noexcept { s.close(); }

    static bool is_reusable(boost::beast::tcp_stream& s) noexcept {
        return detail::socket_is_idle(s.socket());
    }
};

} // namespace joinme

#endif
