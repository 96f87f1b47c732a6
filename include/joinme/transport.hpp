// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_HPP
#define JOINME_TRANSPORT_HPP

/// @file
/// The stream concept every operation is templated over, and the customization point that
/// opens and closes a connection on such a stream.
///
/// joinme ships `stream_traits` for `beast::tcp_stream` (transport/tcp.hpp),
/// `beast::ssl_stream<beast::tcp_stream>` (transport/tls.hpp) and `beast::test::stream`
/// (transport/test_stream.hpp). To plug in another stream (a unix socket, a proxy tunnel),
/// specialize `joinme::stream_traits<YourStream>` with the members documented on the primary
/// template; nothing in the library needs to change.

#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <concepts>
#include <string>

namespace boost::urls {
class url_view;
} // namespace boost::urls

namespace joinme {

/// Where a connection goes: scheme, host and port (RFC 6454 origin). Connections are pooled
/// per origin.
struct origin {
    std::string scheme; ///< "https" or "http".
    std::string host;   ///< Host name or IP literal, without brackets.
    std::string port;   ///< Port number as text, never empty.

    /// Member-wise equality: the same scheme, host and port.
    bool operator==(const origin&) const = default;

    /// The `Host` header value: the port is left out when it is the scheme's default.
    std::string host_header() const {
        bool ipv6 = host.find(':') != std::string::npos;
        std::string h = ipv6 ? "[" + host + "]" : host;
        if ((scheme == "https" && port == "443") || (scheme == "http" && port == "80"))
            return h;
        return h + ":" + port;
    }
};

/// The origin of an absolute `http` or `https` URL; `errc::invalid_url` for anything else.
/// Include <boost/url/url_view.hpp> to call it (this header only declares `url_view`, so that
/// a translation unit that does not parse URLs does not parse Boost.URL's headers).
JOINME_DECL origin origin_of(boost::urls::url_view url, error_code& ec);

/// Customization point: how to make, open and close a connection on `Stream`.
///
/// A specialization provides:
/// - `using context_type = ...;` what every new connection needs (for TLS the `ssl::context`,
///   for an in-memory stream a connector); stored by value in a pool, so make it a cheap
///   handle (a `std::reference_wrapper`, a `std::function`, an empty struct).
/// - `static Stream create(const boost::asio::any_io_executor&, context_type&);` a fresh,
///   unconnected stream. A TLS stream cannot be reused after its handshake, so each new
///   connection gets a new one.
/// - `template <class Token> static auto async_connect(Stream&, const origin&, context_type&,
///   Token&&);` with completion signature `void(error_code)`: resolve, connect, handshake.
///   It must honour terminal per-operation cancellation, which is how deadlines are enforced.
/// - `template <class Token> static auto async_shutdown(Stream&, Token&&);` with signature
///   `void(error_code)`: a graceful close (TLS close_notify); errors may be ignored.
/// - `static void close(Stream&) noexcept;` an immediate close without I/O.
/// - `static bool is_reusable(Stream&) noexcept;` false when an idle connection has been
///   closed by the peer (or has unexpected data waiting); return true when unknown. The pool
///   asks it before reusing a connection that has no read pending: over a stream whose
///   lowest layer is Beast's `basic_stream` (TCP, TLS, and streams layered on them), idle
///   connections keep a read pending instead, so such a stream must allow a write while a
///   read is pending, as Asio's sockets and SSL streams do.
///
/// And, optionally:
/// - `static std::string describe_connect_failure(Stream&, const error_code&);` called on a
///   stream whose `async_connect` just failed with that code, before it is closed: what the
///   stream knows about the failure that the code cannot say (for TLS, why the server's
///   certificate was rejected, and its subject), or an empty string. The pool puts it in
///   `diagnostics::client_message`.
/// - `static void describe_connect_failure(Stream&, const error_code&, diagnostics&);` the same,
///   for a stream that knows more than a sentence: it may also fill the fields that describe
///   an intermediary's answer (a proxy's `status`, `proxy_authenticate`, `via`), and must not
///   write a credential into any of them. Preferred over the form above when both exist.
/// - `static void use_proxy(context_type&, const proxy_config&);` for a stream that can go
///   through an HTTP proxy (`proxy_stream`): makes the context use that configuration. An API
///   client calls it with a non-empty `client_config::proxy`, and refuses such a configuration
///   over a stream without it.
template <class Stream>
struct stream_traits;

namespace detail {

// `describe_connect_failure` where the traits have it, else nothing.
template <class Stream>
std::string describe_connect_failure(Stream& s, const error_code& ec) {
    if constexpr (requires { stream_traits<Stream>::describe_connect_failure(s, ec); })
        return stream_traits<Stream>::describe_connect_failure(s, ec);
    else
        return {};
}

// Fills `d` with what the traits say about a failed connect: the form with diagnostics where
// they have it, else the sentence of `describe_connect_failure` in `client_message`.
template <class Stream>
void describe_connect_failure(Stream& s, const error_code& ec, diagnostics& d) {
    if constexpr (requires { stream_traits<Stream>::describe_connect_failure(s, ec, d); }) {
        stream_traits<Stream>::describe_connect_failure(s, ec, d);
    } else {
        auto why = describe_connect_failure(s, ec);
        if (!why.empty())
            d.client_message = std::move(why);
    }
}

} // namespace detail

/// A stream joinme can run its operations over: Beast's async stream requirements plus a
/// `stream_traits` specialization.
template <class Stream>
concept transport = boost::beast::is_async_stream<Stream>::value &&
    requires(Stream& s, typename stream_traits<Stream>::context_type& ctx,
             const boost::asio::any_io_executor& ex) {
    { stream_traits<Stream>::create(ex, ctx) } -> std::same_as<Stream>;
    stream_traits<Stream>::close(s);
    { stream_traits<Stream>::is_reusable(s) } -> std::convertible_to<bool>;
};

} // namespace joinme

#if defined(JOINME_HEADER_ONLY)
#include <joinme/impl/transport.ipp>
#endif

#endif
