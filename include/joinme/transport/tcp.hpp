// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_TCP_HPP
#define JOINME_TRANSPORT_TCP_HPP

/// @file
/// `stream_traits` for plain TCP (`beast::tcp_stream`): resolve and connect.

#include <joinme/transport.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <memory>

namespace joinme {

/// No configuration is needed to open a TCP connection.
struct tcp_context {};

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

// Resolves `o` and connects the socket to the first endpoint that answers.
struct tcp_connect_op {
    boost::beast::tcp_stream& stream;
    origin target;
    std::unique_ptr<boost::asio::ip::tcp::resolver> resolver;

    template <class Self>
    void operator()(Self& self) {
        // An IP literal needs no resolver (which cannot be cancelled per operation).
        error_code ec;
        auto address = boost::asio::ip::make_address(target.host, ec);
        unsigned long port = 0;
        if (!ec) {
            auto [p, e] =
                std::from_chars(target.port.data(), target.port.data() + target.port.size(), port);
            if (e != std::errc{} || p != target.port.data() + target.port.size() || port > 65535)
                ec = boost::asio::error::invalid_argument;
        }
        if (!ec) {
            return stream.async_connect(
                boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)),
                std::move(self));
        }
        resolver = std::make_unique<boost::asio::ip::tcp::resolver>(stream.get_executor());
        auto& r = *resolver;
        r.async_resolve(target.host, target.port, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec) {
        self.complete(ec);
    }

    template <class Self>
    void operator()(Self& self, error_code ec, boost::asio::ip::tcp::resolver::results_type eps) {
        if (ec)
            return self.complete(ec);
        stream.async_connect(eps, std::move(self));
    }

    template <class Self>
    void operator()(Self& self, error_code ec, const boost::asio::ip::tcp::endpoint&) {
        self.complete(ec);
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
    static auto async_connect(boost::beast::tcp_stream& s, const origin& o, tcp_context&,
                              Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            detail::tcp_connect_op{s, o, nullptr}, token, s);
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
