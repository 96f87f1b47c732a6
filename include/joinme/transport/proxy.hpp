// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_PROXY_HPP
#define JOINME_TRANSPORT_PROXY_HPP

/// @file
/// `proxy_stream`: a connection that goes through an HTTP proxy where a `proxy_config` says
/// so, and directly otherwise; over TLS for `https` origins, plain for `http` ones. Through a
/// proxy it asks for a tunnel with `CONNECT host:port` and reads the answer (with a size limit,
/// under the connect deadline), then runs the TLS handshake with the origin through the
/// tunnel: SNI, certificate and host-name verification are for the origin, never the proxy.

#include <joinme/proxy.hpp>
#include <joinme/transport/connect.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/tls.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace joinme {

/// What a `proxy_stream` connection needs: TLS for `https` origins (and the TCP settings under
/// it, `tls.tcp`), and which proxy to go through.
struct proxy_context {
    /// The TLS context of `https` origins, verified as the origin (never the proxy).
    tls_context tls;
    /// Which proxy each origin goes through; empty: every connection is direct.
    proxy_config proxy;
    /// The largest answer to `CONNECT` read from a proxy.
    std::size_t answer_limit = default_connect_answer_limit;

    /// Connections through `proxy` (direct when it is empty), with `tls` for `https` origins.
    proxy_context(tls_context tls, proxy_config proxy = {})
        : tls(std::move(tls))
        , proxy(std::move(proxy)) {}
};

class proxy_stream;

namespace detail {
struct proxy_connect_op;
} // namespace detail

/// A stream to an origin, directly or through a tunnel opened by an HTTP proxy, over TLS for an
/// `https` origin and plain TCP for an `http` one: one type for every route, so that which
/// proxy to use is configuration, not a type.
///
/// Its lowest layer is a `beast::tcp_stream` (to the origin, or to the proxy), so the pool
/// keeps its deadlines and idle reads as over TLS.
class proxy_stream {
public:
    /// The executor of every operation.
    using executor_type = boost::asio::any_io_executor;
    /// The TLS stream over TCP underneath: used as TLS for an `https` origin, and only its TCP
    /// layer for an `http` one.
    using next_layer_type = boost::beast::ssl_stream<boost::beast::tcp_stream>;

    /// An unconnected stream whose TLS uses `ctx`.
    proxy_stream(const executor_type& ex, boost::asio::ssl::context& ctx) : tls_(ex, ctx) {}

    /// The executor of every operation.
    executor_type get_executor() noexcept { return tls_.get_executor(); }

    /// The TLS stream underneath.
    next_layer_type& next_layer() noexcept { return tls_; }
    /// The TLS stream underneath.
    const next_layer_type& next_layer() const noexcept { return tls_; }

    /// True when the connection speaks TLS (an `https` origin).
    bool uses_tls() const noexcept { return tls_used_; }

    /// The proxy of the last connect, `http://user@host:port` (no password), or empty for a
    /// direct connection.
    const std::string& proxy() const noexcept { return proxy_; }

    /// Reads some bytes: through TLS for an `https` origin, from TCP otherwise.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& b) {
                if (tls_used_)
                    tls_.async_read_some(b, std::move(handler));
                else
                    tls_.next_layer().async_read_some(b, std::move(handler));
            },
            token, buffers);
    }

    /// Writes some bytes: through TLS for an `https` origin, to TCP otherwise.
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& b) {
                if (tls_used_)
                    tls_.async_write_some(b, std::move(handler));
                else
                    tls_.next_layer().async_write_some(b, std::move(handler));
            },
            token, buffers);
    }

private:
    friend struct stream_traits<proxy_stream>;
    friend struct detail::proxy_connect_op;

    // How far the last connect got, for the explanation of a failure.
    enum class phase { idle, direct, to_proxy, tunnel, handshake, open };

    next_layer_type tls_;
    bool tls_used_ = false;
    phase phase_ = phase::idle;
    std::string proxy_;       // printable proxy, empty when direct
    std::string target_;      // host:port asked for in CONNECT
    error_code cause_;        // the error behind proxy_unreachable or connection_closed
    connect_answer answer_;   // the proxy's answer, as far as it was read
    bool sent_credentials_ = false;
    std::string io_;          // the CONNECT request, then the answer: here, where it stays put
    secret redact_[2];        // the password and its Basic credentials, kept out of diagnostics
};

namespace detail {

// Connects `s` to `target`: directly (TCP, then TLS for https), or to the proxy, CONNECT, and
// then TLS for https through the tunnel.
struct proxy_connect_op {
    proxy_stream& s;
    origin target;
    tls_context tls;
    std::optional<proxy_server> via;
    std::size_t limit;
    enum { starting, direct, to_proxy, writing, reading, handshaking } step = starting;

    using tcp_traits = stream_traits<boost::beast::tcp_stream>;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
        namespace asio = boost::asio;
        auto& tcp = s.tls_.next_layer();
        switch (step) {
        case starting:
            if (!via) {
                s.phase_ = proxy_stream::phase::direct;
                step = direct;
                if (target.scheme == "https") {
                    s.tls_used_ = true;
                    return asio::async_compose<Self, void(error_code)>(
                        tls_connect_op{s.tls_, target, tls}, self, s.tls_);
                }
                return tcp_traits::async_connect(tcp, target, tls.tcp, std::move(self));
            }
            s.phase_ = proxy_stream::phase::to_proxy;
            step = to_proxy;
            return tcp_traits::async_connect(tcp, origin{"http", via->host, via->port}, tls.tcp,
                                             std::move(self));
        case direct:
            if (!ec)
                s.phase_ = proxy_stream::phase::open;
            return self.complete(ec);
        case to_proxy: {
            if (ec) {
                if (ec == asio::error::operation_aborted)
                    return self.complete(ec);
                s.cause_ = ec;
                return self.complete(error_code(errc::proxy_unreachable));
            }
            s.phase_ = proxy_stream::phase::tunnel;
            error_code bec;
            auto req = connect_request(target, *via, bec);
            if (bec)
                return self.complete(bec);
            s.sent_credentials_ = via->has_credentials();
            s.io_ = req.reveal();
            step = writing;
            return asio::async_write(tcp, asio::buffer(s.io_), std::move(self));
        }
        case writing:
            wipe();
            if (ec)
                return fail_io(self, ec);
            step = reading;
            return read_more(self);
        case reading: {
            s.io_.resize(s.io_.size() - (read_size - n));
            if (ec)
                return fail_io(self, ec);
            s.answer_ = read_connect_answer(s.io_, limit);
            if (s.answer_.st == connect_answer::state::incomplete)
                return read_more(self);
            auto outcome = s.answer_.outcome();
            if (!outcome && s.io_.size() > s.answer_.header_size) {
                // The origin speaks after the client: nothing may follow the proxy's answer.
                s.answer_.st = connect_answer::state::failed;
                s.answer_.ec = outcome = errc::proxy_malformed_response;
                s.answer_.reason = "the proxy sent bytes after its " +
                                   std::to_string(s.answer_.status) +
                                   " answer to CONNECT, before the origin could have spoken";
            }
            s.io_.clear();
            s.io_.shrink_to_fit();
            if (outcome) {
                s.redact_[0] = via->password;
                if (via->has_credentials())
                    s.redact_[1] = basic_credentials(*via);
                return self.complete(outcome);
            }
            if (target.scheme != "https") {
                s.phase_ = proxy_stream::phase::open;
                return self.complete(error_code{});
            }
            s.phase_ = proxy_stream::phase::handshake;
            s.tls_used_ = true;
            step = handshaking;
            return asio::async_compose<Self, void(error_code)>(
                tls_connect_op{s.tls_, target, tls, true}, self, s.tls_);
        }
        case handshaking:
            if (!ec)
                s.phase_ = proxy_stream::phase::open;
            return self.complete(ec);
        }
    }

    std::size_t read_size = 0;

    template <class Self>
    void read_more(Self& self) {
        auto have = s.io_.size();
        read_size = std::min<std::size_t>(4096, limit + 1 - std::min(limit, have));
        s.io_.resize(have + read_size);
        s.tls_.next_layer().async_read_some(boost::asio::buffer(s.io_.data() + have, read_size),
                                            std::move(self));
    }

    // A write or read error while talking to the proxy.
    template <class Self>
    void fail_io(Self& self, error_code ec) {
        wipe();
        if (ec == boost::asio::error::operation_aborted)
            return self.complete(ec);
        s.cause_ = ec;
        self.complete(error_code(errc::connection_closed));
    }

    // The request held the credentials: they do not stay in memory longer than needed.
    void wipe() noexcept {
        std::fill(s.io_.begin(), s.io_.end(), '\0');
        s.io_.clear();
    }
};

} // namespace detail

/// How the pool opens, reuses and closes `proxy_stream` connections (see `transport`).
template <>
struct stream_traits<proxy_stream> {
    /// What a connection needs: TLS, the proxy configuration, the answer limit.
    using context_type = proxy_context;

    /// An unconnected stream.
    static proxy_stream create(const boost::asio::any_io_executor& ex, proxy_context& ctx) {
        return proxy_stream(ex, ctx.tls.ssl.get());
    }

    /// Makes `ctx` go through the proxies of `proxy` (an API client's `client_config::proxy`).
    static void use_proxy(proxy_context& ctx, const proxy_config& proxy) { ctx.proxy = proxy; }

    /// Connects to `o` through the proxy `ctx.proxy.select(o)` names, or directly. Errors, as
    /// well as those of TCP and TLS (`errc::certificate_*` for the origin's certificate):
    /// `errc::proxy_unreachable` (no connection to the proxy), `errc::proxy_auth_required`
    /// (407), `errc::proxy_refused` (another refusal), `errc::proxy_origin_unreachable` (the
    /// proxy could not reach the origin), `errc::proxy_malformed_response` and
    /// `errc::header_too_large` (the answer exceeds `ctx.answer_limit`), `errc::connection_closed`
    /// (the proxy closed the connection before answering).
    template <class Token>
    static auto async_connect(proxy_stream& s, const origin& o, proxy_context& ctx,
                              Token&& token) {
        const proxy_server* p = ctx.proxy.select(o);
        s.proxy_.clear();
        s.target_.clear();
        if (p) {
            std::ostringstream label;
            label << *p;
            s.proxy_ = label.str();
            bool ipv6 = o.host.find(':') != std::string::npos;
            s.target_ = (ipv6 ? "[" + o.host + "]" : o.host) + ":" + o.port;
        }
        std::optional<proxy_server> via;
        if (p)
            via = *p;
        return boost::asio::async_compose<Token, void(error_code)>(
            detail::proxy_connect_op{s, o, ctx.tls, std::move(via), ctx.answer_limit}, token, s);
    }

    /// After `async_connect` failed with `ec`: where it failed, the proxy's status,
    /// `Proxy-Authenticate` and `Via` (never a credential), and for a certificate error why the
    /// origin's certificate was rejected.
    static void describe_connect_failure(proxy_stream& s, const error_code& ec, diagnostics& d) {
        using phase = proxy_stream::phase;
        std::string why;
        if (detail::is_certificate_errc(ec)) {
            why = detail::describe_verify_failure(s.tls_.native_handle());
            if (!s.proxy_.empty())
                why += " (through the proxy " + s.proxy_ + ")";
        } else if (!s.proxy_.empty()) {
            const auto& a = s.answer_;
            std::string status = std::to_string(a.status) + (a.reason.empty() ? "" : " ") +
                                 a.reason;
            if (ec == errc::proxy_unreachable) {
                why = "could not connect to the proxy " + s.proxy_ + ": " + s.cause_.message();
            } else if (ec == errc::proxy_auth_required) {
                why = "the proxy " + s.proxy_ + " answered CONNECT " + s.target_ + " with " +
                      status +
                      (s.sent_credentials_ ? ": it rejected the credentials sent"
                                           : ": no credentials were sent; give the proxy URL a "
                                             "user name and password");
            } else if (ec == errc::proxy_refused) {
                why = "the proxy " + s.proxy_ + " refused CONNECT " + s.target_ + ": " + status;
            } else if (ec == errc::proxy_origin_unreachable) {
                why = "the proxy " + s.proxy_ + " could not reach " + s.target_ + ": " + status;
                if (!a.squid_error.empty())
                    why += " (X-Squid-Error: " + a.squid_error + ")";
            } else if (ec == errc::proxy_malformed_response || ec == errc::header_too_large) {
                why = a.reason + " (the proxy " + s.proxy_ + ")";
            } else if (ec == errc::connection_closed) {
                why = "the proxy " + s.proxy_ + " closed the connection before answering CONNECT " +
                      s.target_ + ": " + s.cause_.message();
            } else if (s.phase_ == phase::to_proxy) {
                why = "connecting to the proxy " + s.proxy_ + ": " + ec.message();
            } else if (s.phase_ == phase::tunnel) {
                why = "waiting for the proxy " + s.proxy_ + " to answer CONNECT " + s.target_ +
                      ": " + ec.message();
            } else if (s.phase_ == phase::handshake) {
                why = "in the TLS handshake with " + s.target_ + " through the proxy " + s.proxy_ +
                      ": " + ec.message();
            }
            if (a.st == connect_answer::state::complete) {
                d.status = a.status;
                d.proxy_authenticate = a.proxy_authenticate;
                d.via = a.via;
            }
        }
        if (!why.empty())
            d.client_message = std::move(why);
        for (const auto& r : s.redact_)
            d.redact(r.reveal());
    }

    /// `describe_connect_failure`'s explanation alone.
    static std::string describe_connect_failure(proxy_stream& s, const error_code& ec) {
        diagnostics d;
        describe_connect_failure(s, ec, d);
        return d.client_message;
    }

    /// TLS close_notify for an `https` origin (as `tls_stream`), a TCP shutdown otherwise.
    template <class Token>
    static auto async_shutdown(proxy_stream& s, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [&s](auto handler) {
                if (s.tls_used_)
                    stream_traits<detail::tls_stream>::async_shutdown(s.tls_, std::move(handler));
                else
                    stream_traits<boost::beast::tcp_stream>::async_shutdown(s.tls_.next_layer(),
                                                                            std::move(handler));
            },
            token);
    }

    /// Closes the TCP connection (to the origin, or to the proxy), at once.
    static void close(proxy_stream& s) noexcept { s.tls_.next_layer().close(); }

    /// Whether an idle connection may carry another request: open, and nothing to read.
    static bool is_reusable(proxy_stream& s) noexcept {
        return detail::socket_is_idle(s.tls_.next_layer().socket());
    }
};

} // namespace joinme

#endif
