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
/// - `renewauthorization` shows a page like the consent page, whose button re-confirms (with
///   `options::auto_consent`, it re-confirms at once) and redirects to the callback URL the
///   token was granted through (the application's first one, if unknown) with
///   `isAuthorizationRenewed=true`; the token stops being stale.
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

#include <joinme/detail/config.hpp>
#include <joinme/detail/http_server.hpp>
#include <joinme/sandbox/detail/service.hpp>
#include <joinme/sandbox/options.hpp>
#include <joinme/sandbox/tls.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace joinme::sandbox {

namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

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

/// Answers the requests of one connection: the service's answer, with the fault it applies,
/// `keep_alive_max_requests`, webhooks and the request log. After a never-answered request the
/// connection stays silent until it is closed.
struct connection_handler {
    std::shared_ptr<server_state> st;
    std::string scheme;
    std::size_t served = 0;
    bool silent = false;

    JOINME_DECL joinme::detail::server_reply operator()(const request& req);
};

/// The answer to a request over the parser's limits (a malformed one gets none).
JOINME_DECL std::optional<response> refusal(http::status status);

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
    JOINME_DECL void serve(boost::beast::test::stream server_end);

    /// A connector for the client's in-memory transport. It may outlive the server: after the
    /// server is gone it returns streams whose peer is already closed.
    JOINME_DECL connector in_memory_connector();

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

    JOINME_DECL void ensure_tls();
    JOINME_DECL unsigned short listen(std::optional<boost::asio::ip::tcp::acceptor>& acc,
                                      const boost::asio::ip::tcp::endpoint& ep, bool tls);
    JOINME_DECL bool event(std::int64_t id, bool end);

    std::shared_ptr<detail::server_state> st_;
};

} // namespace joinme::sandbox

#if defined(JOINME_HEADER_ONLY)
#include <joinme/sandbox/impl/sandbox.ipp>
#endif

#endif
