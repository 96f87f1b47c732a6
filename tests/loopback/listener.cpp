// The loopback redirect listener over real sockets on 127.0.0.1, with plain Beast requests
// standing in for the browser: both grants, the pages it answers, rejected and error
// redirects, deadlines, cancellation, busy and released ports, silent, slow and oversized
// requests.
#include "pages.hpp"
#include "support/slow_client.hpp"

#include <joinme/loopback.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <tuple>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using joinme::errc;
using joinme::error_code;
using joinme::oauth_errc;
using joinme::loopback::listener_options;
using joinme::loopback::redirect_listener;
using joinme::oauth::redirect_response;
using joinme::oauth::response_type;
using loopback_test::check_common_headers;
using loopback_test::check_page;
using loopback_test::sha256_base64;
using namespace std::chrono_literals;

namespace {

using http_response = bhttp::response<bhttp::string_body>;
using steady = std::chrono::steady_clock;

// A response that no request filled in yet: its status is not 200.
struct answer : http_response {
    answer() : http_response(bhttp::status::unknown, 11) {}
    answer& operator=(http_response r) {
        static_cast<http_response&>(*this) = std::move(r);
        return *this;
    }
};

struct waited {
    bool done = false;
    error_code ec;
    redirect_response r;
    joinme::diagnostics diag;
};

// Short deadlines: no test waits long, and none can hang.
listener_options quick(std::vector<std::uint16_t> ports = {0}) {
    listener_options o;
    o.ports = std::move(ports);
    o.timeout = 5s;
    o.connection_timeout = 3s;
    return o;
}

joinme::oauth::authorization_request make_sent(const redirect_listener& l,
                                               response_type type = response_type::code) {
    joinme::oauth::config cfg;
    cfg.client_id = "app-id";
    cfg.redirect_uri = l.redirect_uri();
    joinme::oauth::authorization_options o;
    o.type = type;
    return joinme::oauth::make_authorization_request(cfg, o);
}

void start(redirect_listener& l, const joinme::oauth::authorization_request& sent, waited& w) {
    l.async_wait_redirect(sent, w.diag, [&w](error_code ec, redirect_response r) {
        w.done = true;
        w.ec = ec;
        w.r = std::move(r);
    });
}

tcp::endpoint local(std::uint16_t port) {
    return tcp::endpoint(asio::ip::address_v4::loopback(), port);
}

// The browser: one request on a fresh connection, the whole answer read.
asio::awaitable<http_response> fetch(std::uint16_t port, bhttp::verb method, std::string target,
                                     std::string body = {},
                                     asio::ip::address address = asio::ip::address_v4::loopback()) {
    beast::tcp_stream s(co_await asio::this_coro::executor);
    s.expires_after(5s);
    auto ep = tcp::endpoint(address, port);
    co_await s.async_connect(ep, asio::use_awaitable);
    bhttp::request<bhttp::string_body> req(method, target, 11);
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
    if (method == bhttp::verb::post) {
        req.set(bhttp::field::content_type, "text/plain");
        req.body() = std::move(body);
        req.prepare_payload();
    }
    co_await bhttp::async_write(s, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http_response res;
    co_await bhttp::async_read(s, buffer, res, asio::use_awaitable);
    co_return res;
}

asio::awaitable<http_response> get(std::uint16_t port, std::string target) {
    return fetch(port, bhttp::verb::get, std::move(target));
}

// Runs `browser` beside the wait until everything is done; 10 s at most.
void run(asio::io_context& ioc, std::function<asio::awaitable<void>()> browser = {}) {
    if (browser)
        asio::co_spawn(ioc, browser(), [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    ioc.run_for(10s);
}

// The port is free again: another listener binds it.
bool can_bind(asio::io_context& ioc, std::uint16_t port) {
    redirect_listener again(ioc, quick({port}));
    error_code ec;
    joinme::diagnostics diag;
    again.listen(ec, diag);
    return !ec && again.port() == port;
}

} // namespace

TEST_CASE("code grant: the redirect completes the wait; the page holds no secret") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    REQUIRE(l.is_open());
    const auto port = l.port();
    REQUIRE(port != 0);
    CHECK(l.redirect_uri() == "http://127.0.0.1:" + std::to_string(port) + "/callback");

    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer res;
    run(ioc, [&]() -> asio::awaitable<void> {
        res = co_await get(port, "/callback?code=the-code-123&state=" + sent.state);
    });

    CHECK(res.result_int() == 200);
    check_page(res, "Signed in");
    CHECK(res.body().find("the-code-123") == std::string::npos);
    CHECK(res.body().find(sent.state) == std::string::npos);

    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    CHECK(w.r.type == response_type::code);
    CHECK(w.r.code.reveal() == "the-code-123");
    CHECK(w.diag.empty());

    // The wait released the port.
    CHECK_FALSE(l.is_open());
    CHECK(l.port() == port);
    CHECK(can_bind(ioc, port));
}

TEST_CASE("implicit grant: the relay page's script posts the fragment, which completes the wait") {
    asio::io_context ioc;
    auto opts = quick();
    const auto fixed = std::chrono::sys_seconds(std::chrono::seconds(1'700'000'000));
    opts.clock = [fixed] { return joinme::oauth::time_point(fixed); };
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l, response_type::token);
    waited w;
    start(l, sent, w);

    answer page, posted;
    bool done_after_page = true;
    run(ioc, [&]() -> asio::awaitable<void> {
        // What the browser requests after join.me's redirect: the fragment stays behind.
        page = co_await get(port, "/callback");
        done_after_page = w.done;
        // What the page's script then sends.
        posted = co_await fetch(port, bhttp::verb::post, "/callback",
                                "access_token=tok-xyz&token_type=bearer&expires_in=3600&state=" +
                                    sent.state);
    });

    CHECK_FALSE(done_after_page);
    CHECK(page.result_int() == 200);
    check_common_headers(page);
    const auto& html = page.body();
    auto open = html.find("<script>");
    auto close = html.find("</script>");
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    const auto script = html.substr(open + 8, close - open - 8);
    CHECK(script.find("location.hash") != std::string::npos);
    CHECK(script.find("\"POST\"") != std::string::npos);
    CHECK(script.find("location.pathname") != std::string::npos);
    const auto csp = std::string(page["Content-Security-Policy"]);
    CHECK(csp.find("script-src 'sha256-" + sha256_base64(script) + "'") != std::string::npos);
    CHECK(csp.find("connect-src 'self'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);

    CHECK(posted.result_int() == 200);
    check_common_headers(posted);
    CHECK(posted[bhttp::field::content_type] == "text/plain; charset=utf-8");
    CHECK(posted.body().starts_with("Signed in\n"));
    CHECK(posted.body().find("tok-xyz") == std::string::npos);

    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    CHECK(w.r.type == response_type::token);
    REQUIRE(w.r.implicit_token);
    CHECK(w.r.implicit_token->access_token.reveal() == "tok-xyz");
    CHECK_FALSE(w.r.implicit_token->refreshable());
    CHECK(w.r.implicit_token->expires_at == fixed + std::chrono::seconds(3600));
    CHECK(w.r.code.empty());
    CHECK_FALSE(l.is_open());
}

TEST_CASE("other paths get 404 and the wait goes on (favicon, then the redirect)") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer favicon, other, res;
    bool done_early = true;
    run(ioc, [&]() -> asio::awaitable<void> {
        favicon = co_await get(port, "/favicon.ico");
        other = co_await get(port, "/callback/extra?code=c&state=" + sent.state);
        done_early = w.done;
        res = co_await get(port, "/callback?code=c2&state=" + sent.state);
    });
    CHECK(favicon.result_int() == 404);
    check_common_headers(favicon);
    CHECK(other.result_int() == 404);
    CHECK_FALSE(done_early);
    CHECK(res.result_int() == 200);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    CHECK(w.r.code.reveal() == "c2");
}

TEST_CASE("a forged redirect (wrong state) gets a failure page; the real one still wins") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer forged, real;
    bool done_early = true;
    run(ioc, [&]() -> asio::awaitable<void> {
        forged = co_await get(port, "/callback?code=forged-code&state=guess");
        done_early = w.done;
        real = co_await get(port, "/callback?code=real-code&state=" + sent.state);
    });
    CHECK(forged.result_int() == 400);
    check_page(forged, "Link not recognised");
    CHECK(forged.body().find("forged-code") == std::string::npos);
    CHECK(forged.body().find("guess") == std::string::npos);
    CHECK_FALSE(done_early);
    CHECK(real.result_int() == 200);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    CHECK(w.r.code.reveal() == "real-code");
    CHECK(w.diag.empty());
}

TEST_CASE("state mismatch alone is reported at the deadline, not as a timeout") {
    asio::io_context ioc;
    auto opts = quick();
    opts.timeout = 300ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer forged;
    const auto t0 = steady::now();
    run(ioc, [&]() -> asio::awaitable<void> {
        forged = co_await get(port, "/callback?code=x&state=other-state");
    });
    CHECK(forged.result_int() == 400);
    REQUIRE(w.done);
    CHECK(w.ec == errc::state_mismatch);
    CHECK_FALSE(w.diag.client_message.empty());
    CHECK(steady::now() - t0 >= 250ms);
    CHECK_FALSE(l.is_open());
    CHECK(can_bind(ioc, port));
}

TEST_CASE("missing state ends the wait at once with end_on_rejected_redirect") {
    asio::io_context ioc;
    auto opts = quick();
    opts.end_on_rejected_redirect = true;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer res;
    const auto t0 = steady::now();
    run(ioc, [&]() -> asio::awaitable<void> {
        res = co_await get(port, "/callback?code=no-state-code");
    });
    CHECK(res.result_int() == 400);
    CHECK(res.body().find("no-state-code") == std::string::npos);
    REQUIRE(w.done);
    CHECK(w.ec == errc::missing_state);
    CHECK(w.r.code.empty());
    CHECK(steady::now() - t0 < 3s);
    CHECK_FALSE(l.is_open());
}

TEST_CASE("missing state without the option: reported at the deadline") {
    asio::io_context ioc;
    auto opts = quick();
    opts.timeout = 200ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    run(ioc, [&]() -> asio::awaitable<void> { co_await get(port, "/callback?code=c"); });
    REQUIRE(w.done);
    CHECK(w.ec == errc::missing_state);
}

TEST_CASE("an error redirect (access_denied) is reported with the server's text; not reflected") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer res;
    run(ioc, [&]() -> asio::awaitable<void> {
        res = co_await get(port, "/callback?error=access_denied&error_description="
                                 "The+user+said+%3Cb%3Eno%3C%2Fb%3E&state=" +
                                     sent.state);
    });
    CHECK(res.result_int() == 200);
    check_page(res, "Sign-in declined");
    CHECK(res.body().find("<b>") == std::string::npos);
    CHECK(res.body().find("said") == std::string::npos);
    REQUIRE(w.done);
    CHECK(w.ec == oauth_errc::access_denied);
    CHECK(w.diag.error == "access_denied");
    CHECK(w.diag.error_description == "The user said <b>no</b>");
    CHECK_FALSE(l.is_open());
}

TEST_CASE("an implicit grant's error in the query needs no relay") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l, response_type::token);
    waited w;
    start(l, sent, w);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await get(port, "/callback?error=access_denied&state=" + sent.state);
    });
    REQUIRE(w.done);
    CHECK(w.ec == oauth_errc::access_denied);
}

TEST_CASE("nothing arrives: errc::timeout, and the port is released") {
    asio::io_context ioc;
    auto opts = quick();
    opts.timeout = 100ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    waited w;
    start(l, make_sent(l), w);
    run(ioc);
    REQUIRE(w.done);
    CHECK(w.ec == errc::timeout);
    CHECK(w.diag.client_message.find("100 ms") != std::string::npos);
    CHECK_FALSE(l.is_open());
    CHECK(can_bind(ioc, port));
}

TEST_CASE("terminal cancellation ends the wait and releases the port; partial is ignored") {
    asio::io_context ioc;
    auto opts = quick();
    opts.timeout = 5s;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    waited w;
    asio::cancellation_signal sig;
    l.async_wait_redirect(
        make_sent(l), w.diag,
        asio::bind_cancellation_slot(sig.slot(), [&w](error_code ec, redirect_response r) {
            w.done = true;
            w.ec = ec;
            w.r = std::move(r);
        }));
    bool done_after_partial = true;
    const auto t0 = steady::now();
    run(ioc, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 30ms);
        co_await t.async_wait(asio::use_awaitable);
        sig.emit(asio::cancellation_type::partial);
        t.expires_after(30ms);
        co_await t.async_wait(asio::use_awaitable);
        done_after_partial = w.done;
        sig.emit(asio::cancellation_type::terminal);
    });
    CHECK_FALSE(done_after_partial);
    REQUIRE(w.done);
    CHECK(w.ec == asio::error::operation_aborted);
    CHECK(steady::now() - t0 < 3s);
    CHECK_FALSE(l.is_open());
    CHECK(can_bind(ioc, port));
}

TEST_CASE("a cancellation emitted before the wait starts still ends it at once") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    waited w;
    asio::cancellation_signal sig;
    l.async_wait_redirect(
        make_sent(l), w.diag,
        asio::bind_cancellation_slot(sig.slot(), [&w](error_code ec, redirect_response) {
            w.done = true;
            w.ec = ec;
        }));
    sig.emit(asio::cancellation_type::terminal);
    const auto t0 = steady::now();
    run(ioc);
    REQUIRE(w.done);
    CHECK(w.ec == asio::error::operation_aborted);
    CHECK(steady::now() - t0 < 3s);
    CHECK_FALSE(l.is_open());
    CHECK(can_bind(ioc, port));
}

TEST_CASE("awaited with as_tuple, the wait leaves the caller's throw_if_cancelled alone") {
    asio::io_context ioc;
    auto opts = quick();
    opts.timeout = 50ms;
    redirect_listener l(ioc, opts);
    l.listen();
    auto sent = make_sent(l);
    error_code ec;
    bool throws_before = false;
    bool throws_after = false;
    run(ioc, [&]() -> asio::awaitable<void> {
        throws_before = co_await asio::this_coro::throw_if_cancelled();
        std::tie(ec, std::ignore) =
            co_await l.async_wait_redirect(sent, asio::as_tuple(asio::use_awaitable));
        throws_after = co_await asio::this_coro::throw_if_cancelled();
    });
    CHECK(ec == errc::timeout);
    CHECK(throws_before);
    CHECK(throws_after);
}

TEST_CASE("the diagnostics are cleared when the wait starts, whatever its outcome") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick()); // not listening: the wait fails at once
    waited w;
    w.diag.status = 500;
    w.diag.client_message = "left over from an earlier operation";
    joinme::oauth::authorization_request sent;
    sent.state = "s";
    start(l, sent, w);
    CHECK(w.diag.empty()); // at initiation, as every operation does
    run(ioc);
    REQUIRE(w.done);
    CHECK(w.ec == asio::error::bad_descriptor);
    CHECK(w.diag.empty());
}

TEST_CASE("close() and the destructor abort a pending wait and release the port") {
    asio::io_context ioc;
    std::uint16_t port = 0;
    waited w1, w2;
    {
        redirect_listener l(ioc, quick());
        l.listen();
        port = l.port();
        start(l, make_sent(l), w1);
        ioc.run_for(20ms);
        CHECK_FALSE(w1.done);
        l.close();
        CHECK_FALSE(l.is_open());
        CHECK(can_bind(ioc, port));
        run(ioc);
        CHECK(w1.done);
        CHECK(w1.ec == asio::error::operation_aborted);
    }
    ioc.restart();
    {
        auto l = std::make_unique<redirect_listener>(ioc, quick({port}));
        l->listen();
        start(*l, make_sent(*l), w2);
        ioc.run_for(20ms);
        l.reset();
        CHECK(can_bind(ioc, port));
        run(ioc);
        CHECK(w2.done);
        CHECK(w2.ec == asio::error::operation_aborted);
    }
}

TEST_CASE("a busy port fails at once with address_in_use") {
    asio::io_context ioc;
    tcp::acceptor busy(ioc, local(0));
    const auto busy_port = busy.local_endpoint().port();

    redirect_listener l(ioc, quick({busy_port}));
    error_code ec;
    joinme::diagnostics diag;
    l.listen(ec, diag);
    CHECK(ec == asio::error::address_in_use);
    CHECK(diag.client_message.find(std::to_string(busy_port)) != std::string::npos);
    CHECK_FALSE(l.is_open());
    CHECK(l.port() == 0);
    CHECK(l.redirect_uri().empty());

    redirect_listener thrower(ioc, quick({busy_port}));
    CHECK_THROWS_AS(thrower.listen(), joinme::error_with_diagnostics);
}

TEST_CASE("a port list takes the first free port") {
    asio::io_context ioc;
    tcp::acceptor busy(ioc, local(0));
    const auto busy_port = busy.local_endpoint().port();
    std::uint16_t free_port = 0;
    {
        tcp::acceptor probe(ioc, local(0));
        free_port = probe.local_endpoint().port();
    }
    redirect_listener l(ioc, quick({busy_port, free_port}));
    l.listen();
    CHECK(l.port() == free_port);
    CHECK(l.redirect_uri() == "http://127.0.0.1:" + std::to_string(free_port) + "/callback");
}

TEST_CASE("a silent speculative connection does not block the redirect, and is closed") {
    asio::io_context ioc;
    auto opts = quick();
    opts.connection_timeout = 150ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);

    error_code idle_end;
    std::chrono::steady_clock::duration idle_for{};
    answer res;
    bool done_before_redirect = true;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // The speculative connection: opened, never written to.
            tcp::socket idle(co_await asio::this_coro::executor);
            auto ep = local(port);
            co_await idle.async_connect(ep, asio::use_awaitable);
            const auto t0 = steady::now();
            char c;
            auto [ec, n] = co_await idle.async_read_some(asio::buffer(&c, 1),
                                                         asio::as_tuple(asio::use_awaitable));
            idle_end = ec;
            idle_for = steady::now() - t0;
        },
        asio::detached);
    run(ioc, [&]() -> asio::awaitable<void> {
        // Two more silent ones, and the redirect while they are all open.
        tcp::socket idle2(co_await asio::this_coro::executor);
        tcp::socket idle3(co_await asio::this_coro::executor);
        auto ep = local(port);
        co_await idle2.async_connect(ep, asio::use_awaitable);
        co_await idle3.async_connect(ep, asio::use_awaitable);
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        done_before_redirect = w.done;
        res = co_await get(port, "/callback?code=c&state=" + sent.state);
    });
    CHECK_FALSE(done_before_redirect);
    CHECK(res.result_int() == 200);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    CHECK(idle_end == asio::error::eof);
    CHECK(idle_for < 3s);
}

TEST_CASE("an idle connection is dropped after connection_timeout while the wait goes on") {
    asio::io_context ioc;
    auto opts = quick();
    opts.connection_timeout = 100ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    error_code idle_end;
    bool done_after_idle = true;
    run(ioc, [&]() -> asio::awaitable<void> {
        tcp::socket idle(co_await asio::this_coro::executor);
        auto ep = local(port);
        co_await idle.async_connect(ep, asio::use_awaitable);
        char c;
        auto [ec, n] =
            co_await idle.async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
        idle_end = ec;
        done_after_idle = w.done;
        co_await get(port, "/callback?code=c&state=" + sent.state);
    });
    CHECK(idle_end == asio::error::eof);
    CHECK_FALSE(done_after_idle);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
}

TEST_CASE("a slow-loris client is cut off at connection_timeout; others are served meanwhile") {
    asio::io_context ioc;
    auto opts = quick();
    opts.connection_timeout = 200ms;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    // One byte every 25 ms: each read gets a byte long before any per-read deadline, but the
    // whole request would take over a second.
    const std::string trickle = "GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    test_support::slow_client_result slow, silent;
    asio::co_spawn(ioc, test_support::slow_client(local(port), trickle, 25ms, 3s, slow),
                   asio::detached);
    asio::co_spawn(ioc, test_support::slow_client(local(port), "", 25ms, 3s, silent),
                   asio::detached);
    answer other;
    bool stalled_meanwhile = false;
    run(ioc, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
        co_await t.async_wait(asio::use_awaitable);
        other = co_await get(port, "/favicon.ico");
        stalled_meanwhile = !slow.ended && !silent.ended;
        for (int i = 0; i < 300 && !(slow.ended && silent.ended); ++i) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        co_await get(port, "/callback?code=c&state=" + sent.state);
    });
    CHECK(other.result_int() == 404);
    CHECK(stalled_meanwhile);
    for (auto* r : {&slow, &silent}) {
        const char* which = r == &slow ? "slow" : "silent";
        INFO(which);
        REQUIRE(r->ended);
        CHECK((r->ec == asio::error::eof || r->ec == asio::error::connection_reset));
        CHECK(r->lasted >= 150ms);
        CHECK(r->lasted < 1s);
    }
    CHECK(slow.sent > 0);
    CHECK(slow.sent < trickle.size());
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
}

TEST_CASE("oversized requests are refused (431, 413) and the wait goes on") {
    asio::io_context ioc;
    auto opts = quick();
    opts.header_limit = 4096;
    opts.body_limit = 1024;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l, response_type::token);
    waited w;
    start(l, sent, w);
    answer big_header, big_body;
    bool done_early = true;
    run(ioc, [&]() -> asio::awaitable<void> {
        big_header = co_await get(port, "/callback?pad=" + std::string(16 * 1024, 'a'));
        big_body = co_await fetch(port, bhttp::verb::post, "/callback",
                                  "state=" + sent.state + "&pad=" + std::string(8 * 1024, 'b'));
        done_early = w.done;
        co_await fetch(port, bhttp::verb::post, "/callback", "access_token=t&state=" + sent.state);
    });
    CHECK(big_header.result_int() == 431);
    CHECK(big_body.result_int() == 413);
    check_common_headers(big_header);
    CHECK_FALSE(done_early);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
    REQUIRE(w.r.implicit_token);
    CHECK(w.r.implicit_token->access_token.reveal() == "t");
}

TEST_CASE("methods: POST is refused for the code grant, PUT for both") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer post, put;
    run(ioc, [&]() -> asio::awaitable<void> {
        post = co_await fetch(port, bhttp::verb::post, "/callback", "code=c&state=" + sent.state);
        put = co_await fetch(port, bhttp::verb::put, "/callback?code=c&state=" + sent.state);
        co_await get(port, "/callback?code=c&state=" + sent.state);
    });
    CHECK(post.result_int() == 405);
    CHECK(post[bhttp::field::allow] == "GET");
    CHECK(put.result_int() == 405);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
}

TEST_CASE("a redirect with the right state but no code ends the wait: missing_parameter") {
    asio::io_context ioc;
    redirect_listener l(ioc, quick());
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    answer res;
    run(ioc, [&]() -> asio::awaitable<void> {
        res = co_await get(port, "/callback?state=" + sent.state);
    });
    CHECK(res.result_int() == 200);
    CHECK(res.body().find("Sign-in failed") != std::string::npos);
    REQUIRE(w.done);
    CHECK(w.ec == errc::missing_parameter);
}

TEST_CASE("misuse: no listen, a second wait, no state, another redirect_uri") {
    asio::io_context ioc;
    SUBCASE("waiting without listening") {
        redirect_listener l(ioc, quick());
        waited w;
        joinme::oauth::authorization_request sent;
        sent.state = "s";
        start(l, sent, w);
        run(ioc);
        REQUIRE(w.done);
        CHECK(w.ec == asio::error::bad_descriptor);
    }
    SUBCASE("a second wait while one is pending; the first is unaffected") {
        auto opts = quick();
        opts.timeout = 100ms;
        redirect_listener l(ioc, opts);
        l.listen();
        auto sent = make_sent(l);
        waited w1, w2;
        start(l, sent, w1);
        start(l, sent, w2);
        run(ioc);
        REQUIRE(w2.done);
        CHECK(w2.ec == asio::error::already_started);
        REQUIRE(w1.done);
        CHECK(w1.ec == errc::timeout);
        // One-shot: a wait after the end needs a new listen().
        ioc.restart();
        waited w3;
        start(l, sent, w3);
        run(ioc);
        CHECK(w3.ec == asio::error::bad_descriptor);
    }
    SUBCASE("no state") {
        redirect_listener l(ioc, quick());
        l.listen();
        auto sent = make_sent(l);
        sent.state.clear();
        waited w;
        start(l, sent, w);
        run(ioc);
        REQUIRE(w.done);
        CHECK(w.ec == boost::system::errc::invalid_argument);
        CHECK_FALSE(l.is_open());
    }
    SUBCASE("a redirect_uri naming another port or path") {
        redirect_listener l(ioc, quick());
        l.listen();
        auto sent = make_sent(l);
        sent.redirect_uri = "http://127.0.0.1:" + std::to_string(l.port()) + "/other";
        waited w;
        start(l, sent, w);
        run(ioc);
        REQUIRE(w.done);
        CHECK(w.ec == errc::redirect_mismatch);
        CHECK_FALSE(w.diag.client_message.empty());
    }
    SUBCASE("a redirect_uri Boost.URL 1.81 cannot parse (it asserts without joinme's guard)") {
        redirect_listener l(ioc, quick());
        l.listen();
        auto sent = make_sent(l);
        sent.redirect_uri = "http:?";
        waited w;
        start(l, sent, w);
        run(ioc);
        REQUIRE(w.done);
        CHECK(w.ec == errc::redirect_mismatch);
    }
    SUBCASE("a path that is not absolute") {
        auto opts = quick();
        opts.path = "callback";
        redirect_listener l(ioc, opts);
        error_code ec;
        joinme::diagnostics diag;
        l.listen(ec, diag);
        CHECK(ec == boost::system::errc::invalid_argument);
    }
    SUBCASE("listening twice") {
        redirect_listener l(ioc, quick());
        l.listen();
        error_code ec;
        joinme::diagnostics diag;
        l.listen(ec, diag);
        CHECK(ec == asio::error::already_open);
        CHECK(l.is_open());
    }
}

TEST_CASE("co_await with use_awaitable and a custom path and host") {
    asio::io_context ioc;
    auto opts = quick();
    opts.path = "/oauth/done";
    opts.uri_host = "localhost";
    opts.address = joinme::loopback::loopback_address::both;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    CHECK(l.redirect_uri() == "http://localhost:" + std::to_string(port) + "/oauth/done");
    auto sent = make_sent(l);
    std::optional<redirect_response> got;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            got = co_await l.async_wait_redirect(sent, asio::use_awaitable);
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await get(port, "/oauth/done?code=abc&state=" + sent.state);
    });
    REQUIRE(got);
    CHECK(got->code.reveal() == "abc");
}

TEST_CASE("IPv6: [::1] alone, and both addresses on one port") {
    asio::io_context ioc;
    {
        // Skip where the host has no IPv6 loopback.
        tcp::acceptor probe(ioc);
        error_code ec;
        probe.open(tcp::v6(), ec);
        if (!ec)
            probe.bind(tcp::endpoint(asio::ip::address_v6::loopback(), 0), ec);
        if (ec) {
            MESSAGE("no IPv6 loopback here: " << ec.message());
            return;
        }
    }
    const auto v6 = asio::ip::address(asio::ip::address_v6::loopback());
    const std::string no_body;
    SUBCASE("ipv6") {
        auto opts = quick();
        opts.address = joinme::loopback::loopback_address::ipv6;
        redirect_listener l(ioc, opts);
        l.listen();
        const auto port = l.port();
        CHECK(l.redirect_uri() == "http://[::1]:" + std::to_string(port) + "/callback");
        auto sent = make_sent(l);
        waited w;
        start(l, sent, w);
        answer res;
        run(ioc, [&]() -> asio::awaitable<void> {
            res = co_await fetch(port, bhttp::verb::get, "/callback?code=v6&state=" + sent.state,
                                 no_body, v6);
        });
        CHECK(res.result_int() == 200);
        REQUIRE(w.done);
        CHECK(w.r.code.reveal() == "v6");
    }
    SUBCASE("both") {
        auto opts = quick();
        opts.address = joinme::loopback::loopback_address::both;
        redirect_listener l(ioc, opts);
        l.listen();
        const auto port = l.port();
        auto sent = make_sent(l);
        waited w;
        start(l, sent, w);
        answer v4_favicon, res;
        run(ioc, [&]() -> asio::awaitable<void> {
            v4_favicon = co_await get(port, "/favicon.ico");
            res = co_await fetch(port, bhttp::verb::get, "/callback?code=both&state=" + sent.state,
                                 no_body, v6);
        });
        CHECK(v4_favicon.result_int() == 404);
        CHECK(res.result_int() == 200);
        REQUIRE(w.done);
        CHECK(w.r.code.reveal() == "both");
        CHECK_FALSE(l.is_open());
        CHECK(can_bind(ioc, port));
    }
}

TEST_CASE("connections beyond max_connections are closed at once; the listener keeps serving") {
    asio::io_context ioc;
    auto opts = quick();
    opts.max_connections = 2;
    redirect_listener l(ioc, opts);
    l.listen();
    const auto port = l.port();
    auto sent = make_sent(l);
    waited w;
    start(l, sent, w);
    error_code third_end;
    answer res;
    run(ioc, [&]() -> asio::awaitable<void> {
        auto ep = local(port);
        tcp::socket a(co_await asio::this_coro::executor);
        tcp::socket b(co_await asio::this_coro::executor);
        tcp::socket c(co_await asio::this_coro::executor);
        co_await a.async_connect(ep, asio::use_awaitable);
        co_await b.async_connect(ep, asio::use_awaitable);
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        co_await c.async_connect(ep, asio::use_awaitable);
        char ch;
        std::tie(third_end, std::ignore) =
            co_await c.async_read_some(asio::buffer(&ch, 1), asio::as_tuple(asio::use_awaitable));
        // Room again once the listener has seen the silent ones go.
        a.close();
        b.close();
        for (int attempt = 0; attempt < 100 && res.result_int() != 200; ++attempt) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
            try {
                res = co_await get(port, "/callback?code=c&state=" + sent.state);
            } catch (const boost::system::system_error&) {
                // Still full: closed at once.
            }
        }
    });
    CHECK(third_end == asio::error::eof);
    CHECK(res.result_int() == 200);
    REQUIRE(w.done);
    CHECK_FALSE(w.ec);
}

TEST_CASE("the listener, then its io_context, may go away with a wait and connections pending") {
    auto ioc = std::make_unique<asio::io_context>();
    auto l = std::make_unique<redirect_listener>(*ioc, quick());
    l->listen();
    const auto port = l->port();
    waited w;
    start(*l, make_sent(*l), w);
    tcp::socket idle(*ioc);
    idle.connect(local(port));
    ioc->run_for(30ms);
    l.reset();
    CHECK(can_bind(*ioc, port));
    idle.close();
    ioc.reset();
    CHECK_FALSE(w.done);
}
