// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_IMPL_LOOPBACK_IPP
#define JOINME_IMPL_LOOPBACK_IPP

// The loopback listener's pages, request handling and connections: compiled in every
// translation unit that includes loopback.hpp (header-only), or once, in the one that includes
// joinme/src.hpp.

#include <joinme/loopback.hpp>

#include <joinme/detail/html.hpp>
#include <joinme/detail/random.hpp>
#include <joinme/detail/url.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/errc.hpp>
#include <boost/url/parse.hpp>

namespace joinme::loopback {

namespace detail {

// The pages' style sheet and the script that takes the redirect's query (the code, the state)
// out of the address bar and the history. Both are allowed by their hashes in the CSP.
inline constexpr std::string_view page_style =
    "body{margin:0;background:#f3f4f6;color:#1f2328;"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif}"
    "main{max-width:30rem;margin:14vh auto 2rem;padding:2rem 2.25rem;background:#fff;"
    "border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12),0 8px 24px rgba(0,0,0,.06)}"
    ".app{margin:0 0 .5rem;color:#59636e;font-size:.8rem;font-weight:600;"
    "letter-spacing:.06em;text-transform:uppercase}"
    "h1{margin:0 0 .75rem;font-size:1.5rem;line-height:1.25}"
    ".ok h1{color:#1a7f37}.no h1{color:#9a6700}.fail h1{color:#cf222e}"
    "p{margin:0 0 .75rem}.code{margin:1.5rem 0 0;color:#6e7781;font-size:.75rem}"
    ".code:empty{display:none}";

inline constexpr std::string_view clean_script =
    "history.replaceState(null,\"\",location.pathname)";

// `'sha256-...'` of `text`, as CSP writes it (standard base64 with padding).
inline std::string csp_hash(std::string_view text) {
    return "'sha256-" + joinme::detail::base64(joinme::detail::sha256(text)) + "'";
}

inline const std::string& page_csp() {
    static const std::string csp = "default-src 'none'; style-src " + csp_hash(page_style) +
                                   "; script-src " + csp_hash(clean_script) +
                                   "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    return csp;
}

inline const std::string& relay_csp() {
    static const std::string csp = "default-src 'none'; style-src " + csp_hash(page_style) +
                                   "; script-src " + csp_hash(relay_script) +
                                   "; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                   "frame-ancestors 'none'";
    return csp;
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

// What one page says: the outcome (the tab title and the heading), the advice, and an error
// code in small print. Its text is joinme's own, never anything taken from the request.
struct page_text {
    std::string_view kind; // the style: "ok", "no" (declined), "fail", or empty
    std::string title;
    std::string message;
    std::string code = {}; // "access_denied", ...; empty for none
};

// "the application", or its name.
inline std::string app_name(const listener_options& opts) {
    return opts.application_name.empty() ? std::string("the application") : opts.application_name;
}

inline std::string page_head(std::string_view title) {
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
           joinme::detail::html_escape(title) + "</title><style>" + std::string(page_style) +
           "</style></head>\n<body>";
}

inline std::string app_line(std::string_view app) {
    if (app.empty())
        return {};
    return "<p class=\"app\">" + joinme::detail::html_escape(app) + "</p>";
}

// The page, as HTML, or (for the relay script's POST) as plain text: the title, the message
// and the code on lines of their own.
inline http_response make_page(bhttp::status status, const page_text& p, bool plain_text,
                               std::string_view app = {}) {
    std::string code = p.code.empty() ? std::string() : "Error code: " + p.code;
    if (plain_text) {
        std::string text = p.title + "\n" + p.message + (code.empty() ? "" : "\n" + code);
        return make_answer(status, "text/plain; charset=utf-8", std::move(text), page_csp());
    }
    std::string body = page_head(p.title) + "<main class=\"" + std::string(p.kind) + "\">" +
                       app_line(app) + "<h1>" + joinme::detail::html_escape(p.title) + "</h1><p>" +
                       joinme::detail::html_escape(p.message) + "</p>";
    if (!code.empty())
        body += "<p class=\"code\">" + joinme::detail::html_escape(code) + "</p>";
    body += "</main><script>" + std::string(clean_script) + "</script></body></html>\n";
    return make_answer(status, "text/html; charset=utf-8", std::move(body), page_csp());
}

// The implicit grant's page. Without JavaScript nothing is relayed, so its text says that;
// the script replaces it at once.
inline http_response make_relay_page(const listener_options& opts) {
    const std::string app = app_name(opts);
    std::string body =
        page_head("Sign-in needs JavaScript") + "<main>" + app_line(opts.application_name) +
        "<h1 id=\"h\">Sign-in needs JavaScript</h1><p id=\"m\">This page passes "
        "the sign-in to " +
        joinme::detail::html_escape(app) +
        " with a short script, and scripts are turned off in this browser. Turn "
        "them on, then sign in again from " +
        joinme::detail::html_escape(app) + ".</p><p class=\"code\" id=\"c\"></p></main><script>" +
        std::string(relay_script) + "</script></body></html>\n";
    return make_answer(bhttp::status::ok, "text/html; charset=utf-8", std::move(body), relay_csp());
}

// The page for the outcome of an attributed redirect.
inline page_text outcome_text(const error_code& ec, const listener_options& opts) {
    const std::string app = app_name(opts);
    if (!ec)
        return {"ok", "Signed in", "You can close this tab and return to " + app + "."};
    std::string code;
    if (ec.category() == oauth_category())
        code = to_string(static_cast<oauth_errc>(ec.value()));
    else if (ec.category() == joinme_category())
        code = to_string(static_cast<errc>(ec.value()));
    if (ec == oauth_errc::access_denied)
        return {"no", "Sign-in declined", "You declined; return to " + app + " to try again.",
                code};
    return {"fail", "Sign-in failed",
            "The sign-in did not succeed. Return to " + app + " for details and to try again.",
            code};
}

// The page for a redirect that does not belong to the pending sign-in.
inline page_text rejected_text(const error_code& ec, const listener_options& opts) {
    const std::string app = app_name(opts);
    std::string code;
    if (ec.category() == joinme_category())
        code = to_string(static_cast<errc>(ec.value()));
    if (opts.end_on_rejected_redirect)
        return {"fail", "Sign-in stopped",
                "This link does not belong to the sign-in " + app +
                    " was waiting for, so it stopped waiting. Return to " + app +
                    " to sign in again.",
                code};
    return {"fail", "Link not recognised",
            "This link does not belong to the sign-in " + app +
                " is waiting for, and was ignored. If you are signing in, carry on in the tab "
                "where you started; that sign-in is not affected.",
            code};
}

// Is `ec` the verdict on a redirect that carried the pending request's `state`? Only such a
// redirect ends the wait (see listener_options::end_on_rejected_redirect).
inline bool is_attributed(const error_code& ec) noexcept {
    return !ec || ec.category() == oauth_category() || ec == errc::missing_parameter;
}

JOINME_DECL http_response handle_request(const listener_options& opts, decision& st,
                                         const bhttp::request<bhttp::string_body>& req) {
    const std::string& app = opts.application_name;
    auto target = boost::urls::parse_origin_form(req.target());
    if (!target)
        return make_page(bhttp::status::bad_request,
                         {"fail", "Bad request", "The request could not be read."}, false, app);
    if (std::string_view(target->encoded_path()) != opts.path)
        return make_page(bhttp::status::not_found,
                         {{}, "Not found", "There is nothing here. You can close this tab."}, false,
                         app);

    const bool implicit = st.sent.type == oauth::response_type::token;
    const bool post = req.method() == bhttp::verb::post;
    if (!(req.method() == bhttp::verb::get || (post && implicit))) {
        auto res = make_page(
            bhttp::status::method_not_allowed,
            {"fail", "Method not allowed", "This address only answers the browser's redirect."},
            false, app);
        res.set(bhttp::field::allow, implicit ? "GET, POST" : "GET");
        return res;
    }
    if (st.result)
        return make_page(bhttp::status::conflict,
                         {{},
                          "Sign-in already complete",
                          "This sign-in is already complete. You can close this tab."},
                         post, app);
    // The implicit grant's redirect keeps its parameters in the fragment: serve the page that
    // relays them, unless the query already carries the answer (an error, say).
    if (implicit && !post && !target->has_query())
        return make_relay_page(opts);

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
        return make_page(bhttp::status::ok, outcome_text(ec, opts), post, app);
    }
    st.rejected_ec = ec;
    st.rejected_diag = std::move(diag);
    if (opts.end_on_rejected_redirect)
        st.result.emplace(st.rejected_ec, oauth::redirect_response{}, st.rejected_diag);
    return make_page(bhttp::status::bad_request, rejected_text(ec, opts), post, app);
}

JOINME_DECL std::optional<http_response> refusal_page(bhttp::status status) {
    if (status == bhttp::status::bad_request)
        return make_page(status, {"fail", "Bad request", "The request could not be read."}, false);
    return make_page(status, {"fail", "Request too large", "The request is too large."}, false);
}

JOINME_DECL bool is_loopback_peer(const asio::ip::address& peer) noexcept {
    if (peer.is_v4())
        return peer.to_v4().is_loopback(); // all of 127.0.0.0/8
    const auto v6 = peer.to_v6();
    if (v6.is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
    return v6.is_loopback();
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

// Takes one accepted connection, or closes it at once when max_connections are open or the
// peer is not on loopback.
inline void accept_connection(const std::shared_ptr<listener_impl>& impl,
                              const std::shared_ptr<wait_state>& st, asio::ip::tcp::socket socket) {
    error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec || !is_loopback_peer(peer.address()) || st->conns.size() >= impl->opts.max_connections) {
        socket.close(ec);
        return;
    }
    auto slot = joinme::detail::server_connections::add({st, &st->conns});
    asio::co_spawn(impl->ex, serve(impl, st, std::move(slot), beast::tcp_stream(std::move(socket))),
                   asio::detached);
}

// Ends a wait: releases the port and closes the wait's connections.
struct wait_guard {
    listener_impl& impl;
    wait_state& st;
    ~wait_guard() {
        if (impl.wait.get() == &st)
            impl.wait.reset();
        impl.close_acceptors();
        st.conns.close();
    }
};

// Accepts connections on every acceptor of the listener for the wait `st`.
inline void start_accepting(const std::shared_ptr<listener_impl>& impl,
                            const std::shared_ptr<wait_state>& st) {
    for (auto& acceptor : impl->acceptors)
        asio::co_spawn(impl->ex,
                       joinme::detail::accept_loop(acceptor, {st, &st->conns},
                                                   [impl, st](asio::ip::tcp::socket socket) {
                                                       accept_connection(impl, st,
                                                                         std::move(socket));
                                                   }),
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

JOINME_DECL void redirect_listener::listen(error_code& ec, diagnostics& diag) {
    ec = {};
    auto& impl = *impl_;
    if (impl.is_open()) {
        ec = boost::asio::error::already_open;
        return;
    }
    auto parsed = boost::urls::parse_origin_form(impl.opts.path);
    if (impl.opts.path.empty() || impl.opts.path.front() != '/' || !parsed || parsed->has_query()) {
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

JOINME_DECL error_code redirect_listener::try_bind(const boost::asio::ip::address& primary,
                                                   std::uint16_t port) {
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

JOINME_DECL boost::asio::awaitable<error_code>
redirect_listener::run_wait(std::shared_ptr<detail::listener_impl> impl,
                            oauth::authorization_request sent, diagnostics* diag,
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
    detail::wait_guard guard{*impl, *st};

    // A cancellation that arrived before this point would be missed by the timer (and
    // would make its co_await throw): look at it first. Only look: with
    // `as_tuple(use_awaitable)` this runs in the caller's coroutine, whose settings
    // (throw_if_cancelled) are the caller's business.
    const bool cancelled_early =
        (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;

    error_code tec = asio::error::operation_aborted;
    if (!cancelled_early) {
        st->timer.expires_after(impl->opts.timeout);
        detail::start_accepting(impl, st);
        std::tie(tec) = co_await st->timer.async_wait(asio::as_tuple(asio::deferred));
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
            d.client_message =
                "no redirect arrived within " + std::to_string(impl->opts.timeout.count()) + " ms";
        }
    } else {
        ec = asio::error::operation_aborted;
    }
    if (diag)
        *diag = std::move(d);
    co_return ec;
}

JOINME_DECL bool redirect_listener::names_listener(const detail::listener_impl& impl,
                                                   std::string_view uri) {
    auto u = joinme::detail::parse_absolute(uri);
    if (!u || !u->has_port() || u->port_number() != impl.port)
        return false;
    std::string_view path = u->encoded_path();
    return path == impl.opts.path;
}

} // namespace joinme::loopback

#endif
