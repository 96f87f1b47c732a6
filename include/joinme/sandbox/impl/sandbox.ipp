// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_IMPL_SANDBOX_IPP
#define JOINME_SANDBOX_IMPL_SANDBOX_IPP

// The sandbox's connections and webhook deliveries: compiled in every translation unit that
// includes sandbox.hpp (header-only), or once, in the one that includes joinme/src.hpp.

#include <joinme/sandbox/sandbox.hpp>

#include <joinme/detail/url.hpp>
#include <joinme/http/exchange.hpp>
#include <joinme/transport/tcp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <exception>
#include <type_traits>

namespace joinme::sandbox {

namespace detail {

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

using joinme::detail::close_stream;

inline std::shared_ptr<server_connections> connections(const std::shared_ptr<server_state>& st) {
    return {st, &st->conns};
}

// Rethrows what a detached coroutine threw, so that a bug surfaces from io_context::run.
inline void rethrow(std::exception_ptr e) {
    if (e)
        std::rethrow_exception(e);
}

JOINME_DECL std::optional<response> refusal(http::status status) {
    if (status == http::status::bad_request)
        return std::nullopt;
    return api_error(static_cast<unsigned>(status), "Request too large");
}

/// POSTs one webhook over plain `http`, once, within `webhook_timeout`; `stop` cuts it short.
inline asio::awaitable<void> deliver_webhook(std::shared_ptr<server_state> st, webhook_call call) {
    auto url = joinme::detail::parse_absolute(call.url);
    joinme::error_code ec;
    auto to = url ? joinme::origin_of(*url, ec) : joinme::origin{};
    bool ok = false;
    if (url && !ec && to.scheme == "http" && !st->stopped()) {
        // One deadline for the connect, the write and the read.
        const auto deadline = std::chrono::steady_clock::now() + st->opts().webhook_timeout;
        beast::tcp_stream stream(st->ex);
        asio::cancellation_signal cancel;
        auto slot = server_connections::add(connections(st), [&] {
            cancel.emit(asio::cancellation_type::terminal); // a host name lookup too
            close_stream(stream);
        });
        stream.expires_at(deadline);
        joinme::tcp_context ctx;
        auto [cec] = co_await joinme::stream_traits<beast::tcp_stream>::async_connect(
            stream, to, ctx,
            asio::bind_cancellation_slot(cancel.slot(), asio::as_tuple(asio::use_awaitable)));
        if (!cec && !slot.closed()) {
            auto target = url->encoded_target();
            joinme::http::request req{beast::http::verb::post,
                                      target.empty() ? "/" : std::string(target), 11};
            req.set(beast::http::field::host, to.host_header());
            req.set(beast::http::field::content_type, "application/json");
            req.set(beast::http::field::user_agent, "joinme-sandbox");
            req.keep_alive(false);
            req.body() = std::move(call.body);
            req.prepare_payload();
            beast::flat_buffer buf;
            auto left = std::chrono::ceil<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto [xec, res] = co_await joinme::http::async_exchange(
                stream, buf, req, {left, 8 * 1024, 64 * 1024}, asio::as_tuple(asio::use_awaitable));
            ok = !xec && res.result_int() / 100 == 2;
        }
        close_stream(stream);
    }
    ++(ok ? st->svc.stats().webhooks_delivered : st->svc.stats().webhooks_failed);
}

inline void deliver_webhooks(const std::shared_ptr<server_state>& st,
                             std::vector<webhook_call> calls) {
    for (auto& c : calls)
        asio::co_spawn(st->ex, deliver_webhook(st, std::move(c)), rethrow);
}

JOINME_DECL joinme::detail::server_reply connection_handler::operator()(const request& req) {
    joinme::detail::server_reply reply;
    reply.withhold = silent;
    if (silent)
        return reply;
    auto start = std::chrono::steady_clock::now();
    auto out = st->svc.handle(req, connection_info{scheme, st->base_url});
    ++served;
    deliver_webhooks(st, std::move(out.webhooks));
    reply.res = std::move(out.res);
    if (out.applied) {
        reply.delay = out.applied->latency;
        reply.cut_after = out.applied->close_after_bytes;
        silent = reply.withhold = out.applied->never_answer;
        for (unsigned status : out.applied->interim)
            reply.prefix += interim_response(status);
        if (out.applied->unsolicited) {
            reply.suffix = unsolicited_response();
            reply.suffix_delay = out.applied->unsolicited_delay;
        }
    }
    const auto& o = st->opts();
    reply.close = o.keep_alive_max_requests && served >= o.keep_alive_max_requests;
    if (reply.close && o.announce_close)
        reply.res.keep_alive(false);
    // Only the path: query strings may carry tokens (renewauthorization, presenter links).
    auto target = urls::parse_origin_form(req.target());
    request_log_entry e{std::string(req.method_string()),
                        target ? std::string(target->encoded_path()) : std::string("?"),
                        reply.withhold ? 0 : reply.res.result_int(),
                        {}};
    reply.after = [st = st, e = std::move(e), start]() mutable {
        e.duration = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        if (st->opts().on_request)
            st->opts().on_request(e);
    };
    return reply;
}

/// Serves one connection: TLS handshake if any, then requests until the peer, an error, a
/// fault or `stop` ends it.
template <class Stream>
asio::awaitable<void> session(std::shared_ptr<server_state> st, Stream stream, std::string scheme) {
    auto slot = server_connections::add(connections(st), [&stream] { close_stream(stream); });
    const auto& o = st->opts();
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        joinme::detail::set_deadline(stream, o.idle_timeout);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                    asio::as_tuple(asio::use_awaitable));
        if (ec || slot.closed()) {
            close_stream(stream);
            co_return;
        }
    }
    const joinme::detail::server_options so{o.header_limit, o.body_limit, o.idle_timeout, 0,
                                            refusal};
    // No TLS close_notify: the connection simply ends; Beast clients treat the resulting
    // stream_truncated as a normal end of connection.
    connection_handler handler{st, std::move(scheme)};
    co_await joinme::detail::serve_connection(stream, std::move(slot), so, handler);
}

/// Counts and serves a new connection.
template <class Stream>
void spawn_session(const std::shared_ptr<server_state>& st, Stream stream, std::string scheme) {
    ++st->svc.stats().connections_accepted;
    asio::co_spawn(st->ex, session(st, std::move(stream), std::move(scheme)), rethrow);
}

/// Serves a socket from an acceptor, through TLS when `tls`.
inline void accept_connection(const std::shared_ptr<server_state>& st, tcp::socket socket,
                              bool tls) {
    beast::tcp_stream ts(std::move(socket));
    if (tls)
        spawn_session(st, tls_stream(std::move(ts), *st->ssl_ctx), "https");
    else
        spawn_session(st, std::move(ts), "http");
}

/// Serves the connections `acc` accepts, through TLS when `tls`.
inline void start_accepting(const std::shared_ptr<server_state>& st, tcp::acceptor& acc, bool tls) {
    asio::co_spawn(st->ex,
                   joinme::detail::accept_loop(acc, connections(st),
                                               [st, tls](tcp::socket socket) {
                                                   accept_connection(st, std::move(socket), tls);
                                               }),
                   rethrow);
}

} // namespace detail

JOINME_DECL void server::serve(boost::beast::test::stream server_end) {
    if (st_->stopped())
        server_end.close();
    else
        detail::spawn_session(st_, std::move(server_end), "http");
}

JOINME_DECL server::connector server::in_memory_connector() {
    std::weak_ptr<detail::server_state> weak = st_;
    return [weak](const boost::asio::any_io_executor& ex) {
        boost::beast::test::stream client(ex);
        auto st = weak.lock();
        boost::beast::test::stream server_end(st ? st->ex : ex);
        client.connect(server_end);
        if (st && !st->stopped())
            detail::spawn_session(st, std::move(server_end), "http");
        return client;
    };
}

JOINME_DECL void server::ensure_tls() {
    if (!st_->cert) {
        st_->cert = make_self_signed_certificate();
        st_->ssl_ctx.emplace(make_server_context(*st_->cert));
    }
}

JOINME_DECL unsigned short server::listen(std::optional<boost::asio::ip::tcp::acceptor>& acc,
                                          const boost::asio::ip::tcp::endpoint& ep, bool tls) {
    acc.emplace(st_->ex, ep); // opens, sets SO_REUSEADDR, binds and listens
    auto bound = acc->local_endpoint();
    auto addr = bound.address();
    if (addr.is_unspecified())
        addr = boost::asio::ip::address_v4::loopback();
    auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    st_->base_url =
        std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(bound.port());
    detail::start_accepting(st_, *acc, tls);
    return bound.port();
}

JOINME_DECL bool server::event(std::int64_t id, bool end) {
    auto calls = st_->svc.meeting_event(id, end);
    if (!calls)
        return false;
    detail::deliver_webhooks(st_, std::move(*calls));
    return true;
}

} // namespace joinme::sandbox

#endif
