// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_LOOPBACK_HPP
#define JOINME_LOOPBACK_HPP

/// @file
/// The loopback redirect listener of RFC 8252 §7.3: a native program opens the system browser
/// on an authorization URL whose `redirect_uri` is `http://127.0.0.1:PORT/path`, and this
/// listener catches the one redirect that answers it.
///
/// Usage:
/// @code
/// joinme::loopback::redirect_listener listener(executor, {.path = "/callback", .ports = {8123}});
/// listener.listen();                                 // throws when port 8123 is busy
/// cfg.redirect_uri = listener.redirect_uri();        // http://127.0.0.1:8123/callback
/// auto sent = joinme::oauth::make_authorization_request(cfg);
/// open_browser(sent.url);
/// joinme::diagnostics diag;
/// auto redirect = co_await listener.async_wait_redirect(sent);    // throws on failure
/// @endcode

#include <joinme/detail/async_run.hpp>
#include <joinme/detail/html.hpp>
#include <joinme/detail/http_server.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>
#include <joinme/with_diagnostics.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/redirect.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/errc.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace joinme::loopback {

/// Which loopback interface the listener binds.
enum class loopback_address {
    ipv4, ///< `127.0.0.1` only; the redirect URI names `127.0.0.1` (RFC 8252 §8.3).
    ipv6, ///< `[::1]` only; the redirect URI names `[::1]`.
    /// `127.0.0.1`, and `[::1]` on the same port where the host has IPv6, for a registered
    /// redirect URI that names `localhost` (which a browser may resolve to either). The
    /// redirect URI names `127.0.0.1` unless `listener_options::uri_host` says otherwise.
    both,
};

/// How a `redirect_listener` binds, waits and answers.
struct listener_options {
    /// The redirect URI's path: starts with `/`, percent-encoded, no query. A request is taken
    /// as a redirect only when its path equals this one exactly.
    std::string path = "/callback";

    /// The ports to try, in order; the first that can be bound is used. 0 asks the system
    /// for a free (ephemeral) port. join.me compares the redirect URI with the registered
    /// callback URL, so a program registered with a fixed port must list that port (or a
    /// few registered alternatives). Empty means `{0}`.
    std::vector<std::uint16_t> ports{0};

    /// The interface to bind.
    loopback_address address = loopback_address::ipv4;

    /// The host written into `redirect_uri()`, for a registered callback URL that names
    /// `localhost`, say; empty means the bound address itself (`127.0.0.1` or `[::1]`).
    std::string uri_host;

    /// How long `async_wait_redirect` waits for the redirect before it fails with
    /// `errc::timeout`. A user who takes longer to sign in starts again.
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};

    /// Deadline for reading one request from a connection, and again for writing the answer.
    /// Browsers open connections speculatively and may leave them silent: such a connection
    /// is closed when this expires, and never delays another one.
    std::chrono::milliseconds connection_timeout{std::chrono::seconds(10)};

    /// Largest accepted request header (request line and fields), in bytes; a longer one is
    /// answered 431 and does not end the wait.
    std::size_t header_limit = 8 * 1024;

    /// Largest accepted request body (the fragment the implicit grant's page posts), in
    /// bytes; a longer one is answered 413 and does not end the wait.
    std::size_t body_limit = 8 * 1024;

    /// Connections served at the same time; one more is closed as soon as it is accepted.
    std::size_t max_connections = 16;

    /// What a redirect that cannot be attributed to the pending request does: one with no
    /// `state`, another `state`, or too malformed to read its `state` (`errc::missing_state`,
    /// `errc::state_mismatch`, `errc::malformed_response`). Any local program or web page
    /// can send such a request to a loopback port. (An implicit grant's fragment with the
    /// right `state` but an unreadable `expires_in` is also `errc::malformed_response`, and
    /// is treated the same way, since the two cannot be told apart.)
    ///
    /// - `false` (the default): the browser gets a failure page and the wait goes on, so a
    ///   forged request cannot abort the user's sign-in; if no acceptable redirect arrives
    ///   before `timeout`, the wait fails with the last such error (rather than
    ///   `errc::timeout`) and its diagnostics.
    /// - `true`: the wait ends at once with that error.
    bool end_on_rejected_redirect = false;

    /// The clock that dates an implicit grant's token; the system clock when empty.
    std::function<oauth::time_point()> clock;
};

namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using http_response = bhttp::response<bhttp::string_body>;

// The implicit grant's relay script. It takes the fragment the browser kept to itself, removes
// it from the address bar and history, and posts it to the page's own path; the listener's
// plain-text answer replaces the page's message. Its SHA-256 goes into the page's CSP, so
// nothing else can run there.
inline constexpr std::string_view relay_script =
    "(function(){var m=document.getElementById(\"m\"),f=location.hash.slice(1);"
    "history.replaceState(null,\"\",location.pathname);"
    "fetch(location.pathname,{method:\"POST\",headers:{\"Content-Type\":\"text/plain\"},"
    "body:f,cache:\"no-store\",credentials:\"omit\"})"
    ".then(function(r){return r.text()})"
    ".then(function(t){m.textContent=t},"
    "function(){m.textContent=\"The application could not be reached. Return to it and "
    "try again.\"})})()";

// `'sha256-...'` of the relay script, as CSP writes it (standard base64 with padding).
inline const std::string& relay_script_hash() {
    static const std::string hash = [] {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int size = 0;
        if (EVP_Digest(relay_script.data(), relay_script.size(), digest, &size, EVP_sha256(),
                       nullptr) != 1)
            throw std::runtime_error("joinme: OpenSSL SHA-256 failed");
        std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
        int n = EVP_EncodeBlock(b64.data(), digest, static_cast<int>(size));
        return "'sha256-" +
               std::string(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n)) +
               "'";
    }();
    return hash;
}

inline constexpr std::string_view page_csp =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

inline std::string relay_csp() {
    return "default-src 'none'; script-src " + relay_script_hash() +
           "; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

// Every answer: no caching, no referrer (the page's URL holds the code), no sniffing, no
// framing, and the connection closes after it.
inline http_response make_answer(bhttp::status status, std::string_view content_type,
                                 std::string body, std::string_view csp) {
    http_response res(status, 11);
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::cache_control, "no-store");
    res.set("Content-Security-Policy", csp);
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// A small static page. Its text is joinme's own, never anything taken from the request.
inline http_response make_page(bhttp::status status, std::string_view title,
                               std::string_view message, bool plain_text) {
    if (plain_text)
        return make_answer(status, "text/plain; charset=utf-8", std::string(message), page_csp);
    std::string body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
                       joinme::detail::html_escape(title) + "</title></head><body><h1>" +
                       joinme::detail::html_escape(title) + "</h1><p>" +
                       joinme::detail::html_escape(message) + "</p></body></html>\n";
    return make_answer(status, "text/html; charset=utf-8", std::move(body), page_csp);
}

inline http_response make_relay_page() {
    std::string body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\">"
                       "<title>Signing in</title></head><body><p id=\"m\">Completing sign-in"
                       "...</p><noscript><p>JavaScript is needed to finish signing in.</p>"
                       "</noscript><script>" +
                       std::string(relay_script) + "</script></body></html>\n";
    return make_answer(bhttp::status::ok, "text/html; charset=utf-8", std::move(body), relay_csp());
}

// What a wait has decided so far, without I/O: `handle_request` reads and updates it.
struct decision {
    oauth::authorization_request sent;

    // The outcome, once a redirect was accepted (or rejected with end_on_rejected_redirect).
    // Set before the browser is answered, so that a deadline expiring meanwhile still
    // reports it.
    std::optional<std::tuple<error_code, oauth::redirect_response, diagnostics>> result;

    // The last rejected redirect, reported if nothing better arrives before the deadline.
    error_code rejected_ec;
    diagnostics rejected_diag;
};

// The state of one async_wait_redirect, shared by its accept loops and connections.
struct wait_state : decision {
    wait_state(const asio::any_io_executor& ex, oauth::authorization_request s) : timer(ex) {
        sent = std::move(s);
    }

    // Overall deadline; cancelled to wake the waiting operation early.
    asio::steady_timer timer;

    // close() was called or the listener destroyed.
    bool aborted = false;

    // Open connections; closed (for good) when the wait ends, which stops every coroutine.
    joinme::detail::server_connections conns;

    // Wakes the waiting operation.
    void signal() { timer.cancel(); }
};

// What both the listener object and a running wait hold.
struct listener_impl {
    explicit listener_impl(asio::any_io_executor e, listener_options o)
        : ex(std::move(e))
        , opts(std::move(o)) {}

    asio::any_io_executor ex;
    listener_options opts;
    std::vector<asio::ip::tcp::acceptor> acceptors;
    std::uint16_t port = 0;
    std::shared_ptr<wait_state> wait;

    bool is_open() const noexcept { return !acceptors.empty(); }

    void close_acceptors() {
        for (auto& a : acceptors) {
            error_code ignored;
            a.close(ignored);
        }
        acceptors.clear();
    }

    // Releases the port and makes a running wait complete with operation_aborted.
    void close() {
        close_acceptors();
        if (auto w = wait) {
            w->aborted = true;
            w->conns.close();
            w->signal();
        }
    }
};

// Is `ec` the verdict on a redirect that carried the pending request's `state`? Only such a
// redirect ends the wait (see listener_options::end_on_rejected_redirect).
inline bool is_attributed(const error_code& ec) noexcept {
    return !ec || ec.category() == oauth_category() || ec == errc::missing_parameter;
}

// Judges one request; may set st.result. The relay script's POST is answered in plain text,
// which the script shows in its page.
inline http_response handle_request(const listener_options& opts, decision& st,
                                    const bhttp::request<bhttp::string_body>& req) {
    auto target = boost::urls::parse_origin_form(req.target());
    if (!target)
        return make_page(bhttp::status::bad_request, "Bad request",
                         "The request could not be read.", false);
    if (std::string_view(target->encoded_path()) != opts.path)
        return make_page(bhttp::status::not_found, "Not found", "There is nothing here.", false);

    const bool implicit = st.sent.type == oauth::response_type::token;
    const bool post = req.method() == bhttp::verb::post;
    if (!(req.method() == bhttp::verb::get || (post && implicit))) {
        auto res = make_page(bhttp::status::method_not_allowed, "Method not allowed",
                             "This address only answers the browser's redirect.", false);
        res.set(bhttp::field::allow, implicit ? "GET, POST" : "GET");
        return res;
    }
    if (st.result)
        return make_page(bhttp::status::conflict, "Sign-in already complete",
                         "This sign-in is already complete. You can close this window.", post);
    // The implicit grant's redirect keeps its parameters in the fragment: serve the page that
    // relays them, unless the query already carries the answer (an error, say).
    if (implicit && !post && !target->has_query())
        return make_relay_page();

    std::string relayed;
    std::string_view redirect = req.target();
    if (post) {
        relayed.reserve(opts.path.size() + 1 + req.body().size());
        relayed.append(opts.path).append("#").append(req.body());
        redirect = relayed;
    }
    oauth::redirect_options ropts;
    ropts.max_size = opts.header_limit + opts.body_limit + opts.path.size() + 1;
    auto now = opts.clock ? opts.clock() : std::chrono::system_clock::now();
    error_code ec;
    diagnostics diag;
    auto parsed = oauth::parse_redirect(redirect, st.sent, now, ropts, ec, diag);

    if (is_attributed(ec)) {
        st.result.emplace(ec, std::move(parsed), std::move(diag));
        if (!ec)
            return make_page(bhttp::status::ok, "Signed in",
                             "You are signed in. You can close this window and return to the "
                             "application.",
                             post);
        return make_page(bhttp::status::ok, "Sign-in failed",
                         "The sign-in did not succeed (" + ec.message() +
                             "). Return to the application for details.",
                         post);
    }
    st.rejected_ec = ec;
    st.rejected_diag = std::move(diag);
    if (opts.end_on_rejected_redirect)
        st.result.emplace(st.rejected_ec, oauth::redirect_response{}, st.rejected_diag);
    return make_page(bhttp::status::bad_request, "Sign-in failed",
                     "This response does not belong to the sign-in the application is waiting "
                     "for. Return to the application and start again.",
                     post);
}

// The answer to a request that cannot be read.
inline std::optional<http_response> refusal_page(bhttp::status status) {
    if (status == bhttp::status::bad_request)
        return make_page(status, "Bad request", "The request could not be read.", false);
    return make_page(status, "Request too large", "The request is too large.", false);
}

// Serves one connection (every answer closes it); the answer to the deciding redirect wakes
// the wait.
inline asio::awaitable<void> serve(std::shared_ptr<listener_impl> impl,
                                   std::shared_ptr<wait_state> st,
                                   joinme::detail::server_connections::slot slot,
                                   beast::tcp_stream stream) {
    const auto& o = impl->opts;
    const joinme::detail::server_options so{o.header_limit, o.body_limit, o.connection_timeout,
                                            o.header_limit + o.body_limit + 64 * 1024,
                                            refusal_page};
    auto handler = [&](const auto& req) {
        joinme::detail::server_reply reply;
        const bool had_result = st->result.has_value();
        reply.res = handle_request(o, *st, req);
        if (!had_result && st->result) // the browser has its page: the wait may complete
            reply.after = [w = st.get()] { w->signal(); };
        return reply;
    };
    co_await joinme::detail::serve_connection(stream, std::move(slot), so, handler);
}

// Takes one accepted connection, or closes it at once when max_connections are open.
inline void accept_connection(const std::shared_ptr<listener_impl>& impl,
                              const std::shared_ptr<wait_state>& st, asio::ip::tcp::socket socket) {
    if (st->conns.size() >= impl->opts.max_connections) {
        error_code ignored;
        socket.close(ignored);
        return;
    }
    auto slot = joinme::detail::server_connections::add({st, &st->conns});
    asio::co_spawn(impl->ex, serve(impl, st, std::move(slot), beast::tcp_stream(std::move(socket))),
                   asio::detached);
}

// Opens, binds and listens; on failure the acceptor is left closed.
inline error_code bind_acceptor(asio::ip::tcp::acceptor& a, const asio::ip::tcp::endpoint& ep) {
    error_code ec;
    a.open(ep.protocol(), ec);
    if (ec)
        return ec;
    if (ep.address().is_v6())
        a.set_option(asio::ip::v6_only(true), ec);
#if !defined(_WIN32)
    // Lets the port be bound again while connections of a previous listener linger in
    // TIME_WAIT. On POSIX systems this never allows two listening sockets on one port. (On
    // Windows it would, so it is not set there.)
    if (!ec)
        a.set_option(asio::socket_base::reuse_address(true), ec);
#endif
    if (!ec)
        a.bind(ep, ec);
    if (!ec)
        a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error_code ignored;
        a.close(ignored);
    }
    return ec;
}

inline std::string port_list(const std::vector<std::uint16_t>& ports) {
    std::string out;
    for (auto p : ports) {
        if (!out.empty())
            out += ", ";
        out += p == 0 ? std::string("ephemeral") : std::to_string(p);
    }
    return out;
}

} // namespace detail

/// A loopback HTTP listener that catches the one redirect answering an authorization request
/// (RFC 8252 §7.3), validates it with `oauth::parse_redirect`, and answers the browser with a
/// small page.
///
/// Lifecycle: construct, `listen()` (binds the port; fails at once when it is busy), read
/// `redirect_uri()` and build the authorization request with it, send the browser there,
/// then `async_wait_redirect`. The wait is one-shot: whatever its outcome, it closes the
/// listener and releases the port before it completes. `close()` and the destructor release
/// the port too, and make a pending wait complete with `asio::error::operation_aborted`.
///
/// The listener answers every request with `Connection: close`, serves several connections
/// at once, and answers with static pages of its own: never the code, a token, or any text
/// taken from the request.
///
/// Thread safety: distinct objects may be used concurrently; one object may not. The wait's
/// internal coroutines run on the listener's executor: when several threads run its
/// execution context, give the listener a strand.
class redirect_listener {
public:
    /// The executor every operation of the listener runs on.
    using executor_type = boost::asio::any_io_executor;

    /// A listener that does not listen yet; `listen()` binds it.
    /// @param ex   executor for the listener's I/O and its completion handlers' default.
    /// @param opts binding, limits and timeouts; `opts.path` is checked by `listen()`.
    explicit redirect_listener(executor_type ex, listener_options opts = {})
        : impl_(std::make_shared<detail::listener_impl>(std::move(ex), std::move(opts))) {}

    /// As above, on `ctx`'s executor (an `io_context`, say).
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit redirect_listener(ExecutionContext& ctx, listener_options opts = {})
        : redirect_listener(executor_type(ctx.get_executor()), std::move(opts)) {}

    /// Takes over `other`'s socket and pending wait. A moved-from listener may only be
    /// destroyed or assigned to.
    redirect_listener(redirect_listener&&) noexcept = default;

    /// Closes this listener (as `close()`), then takes over `other`'s socket and pending wait.
    redirect_listener& operator=(redirect_listener&& other) noexcept {
        if (this != &other) {
            if (impl_)
                impl_->close();
            impl_ = std::move(other.impl_);
        }
        return *this;
    }
    redirect_listener(const redirect_listener&) = delete;
    redirect_listener& operator=(const redirect_listener&) = delete;

    /// Releases the port; a pending wait completes with `asio::error::operation_aborted`.
    ~redirect_listener() {
        if (impl_)
            impl_->close();
    }

    /// The listener's executor.
    executor_type get_executor() const noexcept { return impl_->ex; }

    /// The options given at construction.
    const listener_options& options() const noexcept { return impl_->opts; }

    /// Binds the loopback address on the first port of `options().ports` that is free, and
    /// listens. Returns at once; nothing is accepted before `async_wait_redirect`.
    ///
    /// @param ec   set on failure:
    ///   - `asio::error::address_in_use`: every listed port is taken by another socket (the
    ///     last port's error is reported when ports fail for different reasons);
    ///   - another system error from binding (`access_denied` for a privileged port, say);
    ///   - `asio::error::already_open`: the listener already listens;
    ///   - `boost::system::errc::invalid_argument`: `options().path` is not an absolute path
    ///     without query.
    /// @param diag receives in `client_message` which address and ports were tried.
    void listen(error_code& ec, diagnostics& diag) {
        ec = {};
        auto& impl = *impl_;
        if (impl.is_open()) {
            ec = boost::asio::error::already_open;
            return;
        }
        auto parsed = boost::urls::parse_origin_form(impl.opts.path);
        if (impl.opts.path.empty() || impl.opts.path.front() != '/' || !parsed ||
            parsed->has_query()) {
            ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
            diag.client_message = "the listener's path must be an absolute path without query";
            return;
        }
        namespace ip = boost::asio::ip;
        const bool v6_first = impl.opts.address == loopback_address::ipv6;
        const ip::address primary = v6_first ? ip::address(ip::address_v6::loopback())
                                             : ip::address(ip::address_v4::loopback());
        std::vector<std::uint16_t> ports = impl.opts.ports;
        if (ports.empty())
            ports.push_back(0);
        for (auto port : ports) {
            // An ephemeral port free on 127.0.0.1 may be taken on [::1]: try a few.
            for (int attempt = 0; attempt < (port == 0 ? 4 : 1); ++attempt) {
                ec = try_bind(primary, port);
                if (!ec)
                    return;
            }
        }
        diag.client_message = "could not listen on " + primary.to_string() + " port " +
                              detail::port_list(ports) + ": " + ec.message();
    }

    /// As above; throws `error_with_diagnostics` on failure.
    void listen() {
        error_code ec;
        diagnostics diag;
        listen(ec, diag);
        throw_on_error(ec, diag);
    }

    /// True between a successful `listen()` and the end of the wait (or `close()`).
    bool is_open() const noexcept { return impl_->is_open(); }

    /// The bound port; 0 before `listen()` succeeded. Still readable after the wait ended.
    std::uint16_t port() const noexcept { return impl_->port; }

    /// `http://HOST:PORT/path`: the redirect URI to register and to put into the
    /// authorization request. HOST is `options().uri_host`, or the bound loopback address.
    /// Empty before `listen()` succeeded.
    std::string redirect_uri() const {
        if (impl_->port == 0)
            return {};
        std::string host = impl_->opts.uri_host;
        if (host.empty())
            host = impl_->opts.address == loopback_address::ipv6 ? "[::1]" : "127.0.0.1";
        return "http://" + host + ":" + std::to_string(impl_->port) + impl_->opts.path;
    }

    /// Stops listening and releases the port; a pending wait completes with
    /// `asio::error::operation_aborted`. Harmless when not listening.
    void close() { impl_->close(); }

    /// Waits for the redirect that answers `sent`, and answers the browser.
    ///
    /// Accepts connections until one brings, on `options().path`, a redirect with `sent`'s
    /// `state`, judged by `oauth::parse_redirect`: the code grant's redirect in a GET's query;
    /// for the implicit grant, a GET without query gets a relay page whose script posts the
    /// URL fragment back (`POST path`, body = fragment), and that POST is the redirect. The
    /// browser then sees a success or failure page, and the operation completes. Meanwhile:
    /// other paths get 404 (a browser asks for `/favicon.ico`), other methods 405, requests
    /// over the size limits 413 or 431, and a redirect that does not carry the right `state`
    /// a failure page (see `listener_options::end_on_rejected_redirect` for what it does to
    /// the wait). A connection silent for `connection_timeout` is closed.
    ///
    /// Before it completes, the operation closes the listener (the port is free again) and
    /// every connection it opened.
    ///
    /// @param sent  the authorization request the browser was sent with (copied). Its
    ///              `redirect_uri`, when set, must name this listener's port and path.
    /// @param diag  cleared at start, as for every operation; on failure, what the
    ///              authorization server or the rejected request said, and joinme's
    ///              explanation in `client_message`. Must stay valid until completion. Never
    ///              holds the code or a token.
    /// @param token completion token, signature `void(error_code, oauth::redirect_response)`;
    ///              by default `co_await` throws `error_with_diagnostics` on failure (see
    ///              with_diagnostics.hpp).
    ///
    /// Errors:
    /// - an `oauth_errc` from the redirect (`access_denied` when the user declined), with the
    ///   server's `error`, `error_description` and `error_uri` in `diag`;
    /// - `errc::missing_parameter`: a redirect with the right `state` but no code or token;
    /// - `errc::timeout`: nothing acceptable arrived within `options().timeout`;
    /// - `errc::state_mismatch`, `errc::missing_state`, `errc::malformed_response`: a
    ///   rejected redirect, reported at the deadline (or at once with
    ///   `end_on_rejected_redirect`);
    /// - `errc::redirect_mismatch`: `sent.redirect_uri` names another port or path;
    /// - `boost::system::errc::invalid_argument`: `sent.state` is empty (a redirect could
    ///   not be told from a forged one);
    /// - `asio::error::bad_descriptor`: the listener does not listen (no `listen()`, or a
    ///   previous wait already ended); `asio::error::already_started`: a wait is pending;
    ///   neither of these closes the listener;
    /// - `asio::error::operation_aborted`: cancelled, or `close()` / the destructor.
    ///
    /// Cancellation: terminal cancellation through the completion handler's slot ends the
    /// wait with `operation_aborted` and releases the port. Other cancellation types are
    /// ignored.
    template <joinme::detail::completion_token Token = default_token>
    auto async_wait_redirect(const oauth::authorization_request& sent, diagnostics& diag,
                             Token&& token = {}) {
        return start_wait(sent, &diag, std::forward<Token>(token));
    }

    /// As above, with diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_wait_redirect(const oauth::authorization_request& sent, Token&& token = {}) {
        return start_wait(sent, nullptr, std::forward<Token>(token));
    }

private:
    error_code try_bind(const boost::asio::ip::address& primary, std::uint16_t port) {
        namespace ip = boost::asio::ip;
        auto& impl = *impl_;
        std::vector<ip::tcp::acceptor> acceptors;
        acceptors.emplace_back(impl.ex);
        auto ec = detail::bind_acceptor(acceptors.back(), ip::tcp::endpoint(primary, port));
        if (ec)
            return ec;
        const auto bound = acceptors.back().local_endpoint(ec).port();
        if (ec)
            return ec;
        if (impl.opts.address == loopback_address::both) {
            acceptors.emplace_back(impl.ex);
            auto ec6 = detail::bind_acceptor(acceptors.back(),
                                             ip::tcp::endpoint(ip::address_v6::loopback(), bound));
            if (ec6 == boost::asio::error::address_in_use)
                return ec6; // the local vector closes the IPv4 acceptor
            if (ec6)
                acceptors.pop_back(); // no IPv6 on this host: 127.0.0.1 alone
        }
        impl.acceptors = std::move(acceptors);
        impl.port = bound;
        return {};
    }

    template <class Token>
    auto start_wait(const oauth::authorization_request& sent, diagnostics* diag, Token&& token) {
        return joinme::detail::async_op<oauth::redirect_response>(
            impl_->ex, diag, std::forward<Token>(token),
            [impl = impl_, sent](diagnostics* d) mutable {
                auto ex = impl->ex;
                return joinme::detail::run_op<oauth::redirect_response>(
                    [impl = std::move(impl), sent = std::move(sent)](
                        diagnostics& diag, oauth::redirect_response& out) mutable {
                        return run_wait(std::move(impl), std::move(sent), &diag, out);
                    },
                    std::move(ex), d);
            });
    }

    static boost::asio::awaitable<error_code> run_wait(std::shared_ptr<detail::listener_impl> impl,
                                                       oauth::authorization_request sent,
                                                       diagnostics* diag,
                                                       oauth::redirect_response& out) {
        namespace asio = boost::asio;
        if (impl->wait)
            co_return asio::error::already_started;
        if (!impl->is_open())
            co_return asio::error::bad_descriptor;

        error_code ec;
        if (sent.state.empty()) {
            ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
            if (diag)
                diag->client_message = "the authorization request has no state";
        } else if (!sent.redirect_uri.empty() && !names_listener(*impl, sent.redirect_uri)) {
            ec = errc::redirect_mismatch;
            if (diag)
                diag->client_message =
                    "the authorization request's redirect_uri does not name this listener's "
                    "port and path";
        }
        if (ec) {
            impl->close_acceptors();
            co_return ec;
        }

        auto st = std::make_shared<detail::wait_state>(impl->ex, std::move(sent));
        impl->wait = st;
        // Whatever happens from here on (even an exception), the port is released and every
        // coroutine of this wait stops.
        struct finish {
            detail::listener_impl& impl;
            detail::wait_state& st;
            ~finish() {
                if (impl.wait.get() == &st)
                    impl.wait.reset();
                impl.close_acceptors();
                st.conns.close();
            }
        } guard{*impl, *st};

        // A cancellation that arrived before this point would be missed by the timer (and
        // would make its co_await throw): look at it first. Only look: with
        // `as_tuple(use_awaitable)` this runs in the caller's coroutine, whose settings
        // (throw_if_cancelled) are the caller's business.
        const bool cancelled_early = (co_await asio::this_coro::cancellation_state).cancelled() !=
                                     asio::cancellation_type::none;

        error_code tec = asio::error::operation_aborted;
        if (!cancelled_early) {
            st->timer.expires_after(impl->opts.timeout);
            for (auto& acceptor : impl->acceptors)
                asio::co_spawn(impl->ex,
                               joinme::detail::accept_loop(
                                   acceptor, {st, &st->conns},
                                   [impl, st](boost::asio::ip::tcp::socket socket) {
                                       detail::accept_connection(impl, st, std::move(socket));
                                   }),
                               asio::detached);
            std::tie(tec) = co_await st->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }

        diagnostics d;
        if (st->result) {
            std::tie(ec, out, d) = std::move(*st->result);
        } else if (!tec && !st->aborted) {
            if (st->rejected_ec) {
                ec = st->rejected_ec;
                d = std::move(st->rejected_diag);
            } else {
                ec = errc::timeout;
                d.client_message = "no redirect arrived within " +
                                   std::to_string(impl->opts.timeout.count()) + " ms";
            }
        } else {
            ec = asio::error::operation_aborted;
        }
        if (diag)
            *diag = std::move(d);
        co_return ec;
    }

    // Does `uri` name this listener's port and path? The host is not compared: a registered
    // `localhost` URI reaches 127.0.0.1 as well.
    static bool names_listener(const detail::listener_impl& impl, std::string_view uri) {
        auto u = joinme::detail::parse_absolute(uri);
        if (!u || !u->has_port() || u->port_number() != impl.port)
            return false;
        std::string_view path = u->encoded_path();
        return path == impl.opts.path;
    }

    std::shared_ptr<detail::listener_impl> impl_;
};

} // namespace joinme::loopback

#endif
