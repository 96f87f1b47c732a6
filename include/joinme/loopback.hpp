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
#include <joinme/detail/config.hpp>
#include <joinme/detail/http_server.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

    /// Deadline for reading one request from a connection, counted from the accept: the
    /// whole request (headers and body) must arrive within it, however its bytes trickle in.
    /// The same deadline applies again to writing the answer. A connection that misses it is
    /// closed without an answer, and never delays another one. Browsers open connections
    /// speculatively and may leave them silent for a few seconds before they send the
    /// redirect on one; a browser's request on loopback arrives within milliseconds.
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

    /// The application's name, as the person signing in knows it: shown at the top of every
    /// page the listener serves and in its advice ("return to <name>"). Empty: the pages say
    /// "the application" and show no name.
    std::string application_name;
};

namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using http_response = bhttp::response<bhttp::string_body>;

// The implicit grant's relay script. It takes the fragment the browser kept to itself, removes
// it from the address bar and history, and posts it to the page's own path. The listener's
// plain-text answer holds the outcome on its first line and the advice on the next ones: the
// script puts them in the tab title, the heading and the page. Until it runs, the page says
// what is true without JavaScript. Its SHA-256 goes into the page's CSP, so nothing else can
// run there.
inline constexpr std::string_view relay_script =
    "(function(){var h=document.getElementById(\"h\"),m=document.getElementById(\"m\"),"
    "c=document.getElementById(\"c\"),f=location.hash.slice(1);"
    "function "
    "show(t,a,b){document.title=h.textContent=t;m.textContent=a||\"\";c.textContent=b||\"\"}"
    "history.replaceState(null,\"\",location.pathname);"
    "show(\"Signing in\",\"Completing the sign-in...\");"
    "fetch(location.pathname,{method:\"POST\",headers:{\"Content-Type\":\"text/plain\"},"
    "body:f,cache:\"no-store\",credentials:\"omit\"})"
    ".then(function(r){return r.text()})"
    ".then(function(t){var l=t.split(\"\\n\");show(l[0],l[1],l[2])},"
    "function(){show(\"Sign-in not finished\",\"The application could not be reached. Return "
    "to it and sign in again.\")})})()";

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

// Judges one request; may set st.result. The relay script's POST is answered in plain text,
// which the script shows in its page.
JOINME_DECL http_response handle_request(const listener_options& opts, decision& st,
                                         const bhttp::request<bhttp::string_body>& req);

// The answer to a request that cannot be read.
JOINME_DECL std::optional<http_response> refusal_page(bhttp::status status);

// Is `peer` a loopback address: 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6
// (::ffff:127.x.y.z)? The listener closes any other peer's connection unanswered: binding a
// loopback address does not rule out traffic the system routes to it (a forwarded port, say).
JOINME_DECL bool is_loopback_peer(const asio::ip::address& peer) noexcept;

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
/// taken from the request. Each page names the application (`listener_options::
/// application_name`), says the outcome in its tab title and heading ("Signed in", "Sign-in
/// declined", "Sign-in failed", "Link not recognised", ...), loads nothing from elsewhere (its
/// inline style and script are allowed by their hashes in its Content-Security-Policy), and
/// takes the redirect's query out of the address bar and the history. It only serves loopback peers
/// (127.0.0.0/8, `::1`); a connection from another address is closed unanswered. Each connection
/// must deliver its request within `listener_options::connection_timeout` and the size limits (then
/// the answer's write has that deadline too), so a client that stalls holds a connection slot for a
/// bounded time, and never delays the others.
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
    JOINME_DECL void listen(error_code& ec, diagnostics& diag);

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
    /// the wait). A connection that has not delivered its request within `connection_timeout`
    /// (silent, or sending too slowly) is closed, as is one from a peer that is not a loopback
    /// address.
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
    JOINME_DECL error_code try_bind(const boost::asio::ip::address& primary, std::uint16_t port);

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

    JOINME_DECL static boost::asio::awaitable<error_code>
    run_wait(std::shared_ptr<detail::listener_impl> impl, oauth::authorization_request sent,
             diagnostics* diag, oauth::redirect_response& out);

    // Does `uri` name this listener's port and path? The host is not compared: a registered
    // `localhost` URI reaches 127.0.0.1 as well.
    JOINME_DECL static bool names_listener(const detail::listener_impl& impl, std::string_view uri);

    std::shared_ptr<detail::listener_impl> impl_;
};

} // namespace joinme::loopback

#if defined(JOINME_HEADER_ONLY)
#include <joinme/impl/loopback.ipp>
#endif

#endif
