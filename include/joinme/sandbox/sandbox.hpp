// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_SANDBOX_HPP
#define JOINME_SANDBOX_SANDBOX_HPP

/// @file
/// The sandbox: an in-process join.me emulator for examples, tests and users' own tests.
/// Opt-in: not included by `joinme/joinme.hpp`.
///
/// One `server` serves the OAuth endpoints (`/api/public/v1/auth/...`) and the REST API
/// (`/v1/...`) from one address, over plain TCP, TLS (a key and self-signed certificate made
/// in memory) or the server end of a `beast::test::stream` pair. A client points both of its
/// base URLs (authorization server and API) at `server::base_url()`.
///
/// @code
/// boost::asio::io_context ioc;
/// joinme::sandbox::server sandbox(ioc.get_executor());   // seeded app and users
/// sandbox.listen_tls();                                   // 127.0.0.1, ephemeral port
/// // trust sandbox.certificate_pem(), use sandbox.base_url() as both base URLs,
/// // client id joinme::sandbox::default_client_id, secret default_client_secret
/// ioc.run();                                              // until sandbox.stop()
/// @endcode
///
/// Behaviour where the contract is silent:
/// - `renewauthorization` re-confirms at once (no page) and redirects to the application's
///   first callback URL with `isAuthorizationRenewed=true`; the token stops being stale.
/// - A loopback `http` callback URL matches a redirect URI with any port (RFC 8252 §7.3).
/// - Webhooks are delivered over plain `http` only, once, with `options::webhook_timeout`;
///   an `https` callback is answered with `"registered": false` in `webhooksStatus`.
/// - TLS connections end without a close_notify (clients see `stream_truncated`).
///
/// @par Threading
/// The server runs entirely on the executor given to its constructor and starts no thread.
/// It is not thread-safe: call its members from that executor's thread, or, if the
/// io_context runs on several threads, pass a strand and call the members from inside it.
///
/// @par Lifetime
/// Destroying the server stops it. Connections still running keep the shared state alive
/// until they finish, so the server object may go away before the io_context does.

#include <joinme/detail/http_server.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/http/exchange.hpp>
#include <joinme/sandbox/detail/service.hpp>
#include <joinme/sandbox/options.hpp>
#include <joinme/sandbox/tls.hpp>
#include <joinme/transport/tcp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace joinme::sandbox {

namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Rethrows what a detached coroutine threw, so that a bug surfaces from io_context::run.
inline void rethrow(std::exception_ptr e) {
    if (e)
        std::rethrow_exception(e);
}

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

using joinme::detail::close_stream;
using joinme::detail::server_connections;

/// The shared state of a server and its connections.
struct server_state {
    explicit server_state(asio::any_io_executor e, options o)
        : ex(std::move(e))
        , svc(std::move(o)) {}

    asio::any_io_executor ex;
    service svc;
    std::optional<tcp::acceptor> tcp_acceptor, tls_acceptor;
    std::optional<self_signed_certificate> cert;
    std::optional<asio::ssl::context> ssl_ctx;
    std::string base_url = "http://sandbox.invalid";
    server_connections conns; // every open connection, fault delay and webhook delivery

    const options& opts() { return svc.opts(); }
    bool stopped() const noexcept { return conns.closed(); }

    void stop() {
        boost::system::error_code ec;
        if (tcp_acceptor)
            tcp_acceptor->close(ec);
        if (tls_acceptor)
            tls_acceptor->close(ec);
        conns.close();
    }
};

inline std::shared_ptr<server_connections> connections(const std::shared_ptr<server_state>& st) {
    return {st, &st->conns};
}

/// The answer to a request over the parser's limits (a malformed one gets none).
inline std::optional<response> refusal(http::status status) {
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

/// Answers the requests of one connection: the service's answer, with the fault it applies,
/// `keep_alive_max_requests`, webhooks and the request log. After a never-answered request the
/// connection stays silent until it is closed.
struct connection_handler {
    std::shared_ptr<server_state> st;
    std::string scheme;
    std::size_t served = 0;
    bool silent = false;

    joinme::detail::server_reply operator()(const request& req) {
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
};

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

} // namespace detail

/// An in-process join.me emulator. See the file comment for threading and lifetime.
class server {
public:
    /// The function a client uses to open an in-memory connection: returns the client end of
    /// a freshly connected `beast::test::stream` pair whose server end this server serves.
    using connector =
        std::function<boost::beast::test::stream(const boost::asio::any_io_executor&)>;

    /// Creates a server on `ex` (an io_context's executor or a strand). Nothing is served until
    /// `listen_tcp`, `listen_tls` or `serve` is called.
    explicit server(boost::asio::any_io_executor ex, options opts = {})
        : st_(std::make_shared<detail::server_state>(std::move(ex), std::move(opts))) {}

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops the server (see `stop`).
    ~server() { st_->stop(); }

    /// Accepts plain HTTP connections on `ep` (port 0: an ephemeral port) and returns the
    /// bound port. `base_url()` becomes `http://HOST:PORT`. Throws `boost::system::system_error`
    /// if the address cannot be bound.
    unsigned short listen_tcp(const boost::asio::ip::tcp::endpoint& ep = loopback()) {
        return listen(st_->tcp_acceptor, ep, false);
    }

    /// Like `listen_tcp`, for HTTPS with the in-memory certificate (`certificate_pem()`).
    /// `base_url()` becomes `https://HOST:PORT`.
    unsigned short listen_tls(const boost::asio::ip::tcp::endpoint& ep = loopback()) {
        ensure_tls();
        return listen(st_->tls_acceptor, ep, true);
    }

    /// Serves one in-memory connection whose other end the caller keeps.
    void serve(boost::beast::test::stream server_end) {
        if (st_->stopped())
            server_end.close();
        else
            detail::spawn_session(st_, std::move(server_end), "http");
    }

    /// A connector for the client's in-memory transport. It may outlive the server: after the
    /// server is gone it returns streams whose peer is already closed.
    connector in_memory_connector() {
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

    /// Closes the acceptors, every connection, pending webhook deliveries and fault delays,
    /// so that the io_context runs out of work.
    void stop() { st_->stop(); }

    /// The URL of the last listening address (`http://sandbox.invalid` before any).
    const std::string& base_url() const noexcept { return st_->base_url; }

    /// The PEM certificate a TLS client must trust (generated on first use).
    const std::string& certificate_pem() {
        ensure_tls();
        return st_->cert->certificate_pem;
    }

    /// The options in effect; changes apply to the next request (the parser limits and
    /// `idle_timeout` to the next connection).
    options& config() noexcept { return st_->svc.opts(); }

    /// What was counted so far.
    const counters& stats() const noexcept { return st_->svc.stats(); }

    /// Sets all counters to zero.
    void reset_counters() noexcept { st_->svc.stats() = counters{}; }

    /// Injects `f` into the responses of `e` (replacing an earlier fault of `e`).
    void set_fault(endpoint e, fault f) { st_->svc.set_fault(e, std::move(f)); }

    /// Removes every injected fault.
    void clear_faults() { st_->svc.clear_faults(); }

    /// Revokes a refresh token; false if unknown.
    bool revoke_refresh_token(std::string_view refresh_token) {
        return st_->svc.revoke_refresh_token(refresh_token);
    }

    /// Makes the API reject an access token from now on; false if unknown.
    bool expire_access_token(std::string_view access_token) {
        return st_->svc.expire_access_token(access_token);
    }

    /// Makes the API answer `stale_token` for an access token until the authorization is
    /// renewed (`/renewauthorization`) or `stale` is false; false if the token is unknown.
    bool set_stale(std::string_view access_token, bool stale = true) {
        return st_->svc.mark_stale(access_token, stale);
    }

    /// The meeting id behind a `presenterLink` returned by a start call.
    std::optional<std::int64_t> meeting_for_presenter_link(std::string_view link) const {
        return st_->svc.meeting_for_presenter_link(link);
    }

    /// Tells the sandbox that a started meeting began (as opening its presenter link does):
    /// its `meeting.start` webhook is POSTed. False if unknown or already begun.
    bool meeting_started(std::int64_t meeting_id) { return event(meeting_id, false); }

    /// Tells the sandbox that everybody left a meeting: its `meeting.end` webhook is POSTed.
    /// False if the meeting is unknown, has not begun or already ended.
    bool meeting_ended(std::int64_t meeting_id) { return event(meeting_id, true); }

private:
    static boost::asio::ip::tcp::endpoint loopback() {
        return {boost::asio::ip::address_v4::loopback(), 0};
    }

    void ensure_tls() {
        if (!st_->cert) {
            st_->cert = make_self_signed_certificate();
            st_->ssl_ctx.emplace(make_server_context(*st_->cert));
        }
    }

    unsigned short listen(std::optional<boost::asio::ip::tcp::acceptor>& acc,
                          const boost::asio::ip::tcp::endpoint& ep, bool tls) {
        acc.emplace(st_->ex, ep); // opens, sets SO_REUSEADDR, binds and listens
        auto bound = acc->local_endpoint();
        auto addr = bound.address();
        if (addr.is_unspecified())
            addr = boost::asio::ip::address_v4::loopback();
        auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
        st_->base_url =
            std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(bound.port());
        boost::asio::co_spawn(
            st_->ex,
            joinme::detail::accept_loop(*acc, detail::connections(st_),
                                        [st = st_, tls](boost::asio::ip::tcp::socket socket) {
                                            detail::accept_connection(st, std::move(socket), tls);
                                        }),
            detail::rethrow);
        return bound.port();
    }

    bool event(std::int64_t id, bool end) {
        auto calls = st_->svc.meeting_event(id, end);
        if (!calls)
            return false;
        detail::deliver_webhooks(st_, std::move(*calls));
        return true;
    }

    std::shared_ptr<detail::server_state> st_;
};

} // namespace joinme::sandbox

#endif
