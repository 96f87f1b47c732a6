// Every test that runs an io_context on more than one thread, in one program: the program CI
// builds and runs under ThreadSanitizer. The pool shared by many requests on a strand, and one
// API client on a strand of a four-thread io_context making 1000 calls, 150 in flight at once,
// across four token expiries against the sandbox over loopback TCP and TLS.
#include <joinme/api/client.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/test_stream.hpp>
#include <joinme/transport/tls.hpp>

#include "support/http_server.hpp"
#include "support/memory_server.hpp"
#include "support/run.hpp"

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
namespace sandbox = joinme::sandbox;
using joinme::diagnostics;
using joinme::error_code;
using joinme::http::request;
using joinme::http::response;
using namespace std::chrono_literals;

namespace {

// Runs `ioc` on `n` threads (this one included) until it runs out of work.
void run_on_threads(asio::io_context& ioc, unsigned n) {
    std::vector<std::thread> others;
    for (unsigned i = 1; i < n; ++i)
        others.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : others)
        t.join();
}

// ---------------------------------------------------------------------------------------
// The pool over in-memory streams, its server sessions on a strand.

request get(std::string target = "/v1/user") {
    request req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, "api.join.me");
    return req;
}

using test_support::memory_server;
using memory_pool = joinme::http::basic_connection_pool<beast::test::stream>;
const joinme::origin api_origin{"https", "api.join.me", "443"};

} // namespace

TEST_CASE("pool: shared by many requests on a strand of a two-thread io_context") {
    asio::io_context ioc(2);
    auto strand = asio::make_strand(ioc);
    memory_server srv(ioc, strand);
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 4;
    memory_pool pool(strand, srv.connector(), opts);
    int ok = 0, done = 0;
    std::size_t peak = 0;
    asio::post(strand, [&] {
        for (int i = 0; i < 200; ++i)
            pool.async_request(api_origin, get(), [&](error_code ec, response res) {
                // No associated executor: the handler runs on the pool's strand.
                ok += !ec && res.result_int() == 200;
                peak = std::max(peak, srv.counters->connections);
                if (++done == 200) {
                    pool.close();
                    srv.stop();
                }
            });
    });
    run_on_threads(ioc, 2);
    CHECK(ok == 200);
    CHECK(peak <= 4);
}

// ---------------------------------------------------------------------------------------
// One API client on a strand of a four-thread io_context, the sandbox on a strand of its own,
// over loopback TCP and TLS.

namespace {

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using tcp_stream = beast::tcp_stream;
using time_point = std::chrono::system_clock::time_point;

// The client's clock, which the test moves from the client's strand. The sandbox keeps the
// system clock, so the tokens the client sees expire stay valid at the sandbox: a call that
// holds one is not rejected (see `storm`).
struct manual_clock {
    std::shared_ptr<std::atomic<time_point>> now = std::make_shared<std::atomic<time_point>>(
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    joinme::clock_function function() const {
        return [n = now] { return n->load(); };
    }
    void advance(std::chrono::seconds d) { now->store(now->load() + d); }
};

template <class Stream>
struct transport;

template <>
struct transport<tcp_stream> {
    static joinme::tcp_context context(sandbox::server& srv, asio::ssl::context&) {
        srv.listen_tcp();
        return {};
    }
};

template <>
struct transport<tls_stream> {
    static joinme::tls_context context(sandbox::server& srv, asio::ssl::context& ssl) {
        srv.listen_tls();
        ssl.add_certificate_authority(asio::buffer(srv.certificate_pem()));
        return joinme::tls_context(ssl);
    }
};

// The sandbox on its own strand, and a client on another, both on a four-thread io_context.
template <class Stream>
struct threaded_env {
    static constexpr std::chrono::seconds lifetime{3600}; // the sandbox's default

    asio::io_context ioc{4};
    asio::strand<asio::io_context::executor_type> client_strand = asio::make_strand(ioc);
    asio::strand<asio::io_context::executor_type> sandbox_strand = asio::make_strand(ioc);
    manual_clock clock;
    sandbox::server srv{sandbox_strand, sandbox_options()};
    asio::ssl::context ssl = joinme::make_client_tls_context();
    typename joinme::stream_traits<Stream>::context_type ctx = transport<Stream>::context(srv, ssl);
    api::basic_client<Stream> client{client_strand, ctx, config()};

    static sandbox::options sandbox_options() {
        sandbox::options o;
        o.auto_consent = true;
        o.access_token_lifetime = lifetime;
        return o;
    }

    api::client_config config() {
        api::client_config c;
        c.set_base_url(srv.base_url());
        c.oauth.client_id = std::string(sandbox::default_client_id);
        c.oauth.client_secret = joinme::secret(std::string(sandbox::default_client_secret));
        c.oauth.redirect_uri = "http://127.0.0.1/callback";
        c.pool.max_connections_per_origin = 4;
        // The last of 1000 queued calls waits for all the others, under ThreadSanitizer too.
        c.pool.limits.timeout = 120s;
        c.pool.clock = clock.function(); // the token source's too
        // Expiry by the client's clock alone: not corrected by the sandbox's `Date`.
        c.token_source.use_server_date = false;
        return c;
    }

    // Logs the Pro user in (authorize, then exchange the code), on this thread alone.
    oauth::token login() {
        oauth::authorization_options opts;
        opts.scopes = oauth::scope_set::parse("user_info");
        auto cfg = client.config().oauth;
        auto sent = oauth::make_authorization_request(cfg, opts);
        auto t = test_support::run(
            ioc,
            [](joinme::http::connection_pool& pool, oauth::authorization_request sent,
               oauth::config cfg, time_point at) -> asio::awaitable<oauth::token> {
                auto url = boost::urls::parse_absolute_uri(sent.url).value();
                error_code ec;
                auto origin = joinme::origin_of(url, ec);
                request req(bhttp::verb::get, url.encoded_target(), 11);
                response res;
                ec = co_await pool.co_request(origin, std::move(req), res);
                REQUIRE(!ec);
                REQUIRE(res.result_int() == 302);
                auto r = oauth::parse_redirect(res[bhttp::field::location], sent, at);
                co_return co_await oauth::async_exchange_code(pool, cfg, sent, r);
            }(client.pool(), sent, cfg, clock.now->load()));
        client.set_token(t);
        return t;
    }
};

struct storm_result {
    std::size_t ok = 0;
    std::vector<std::string> failures; // error and diagnostics of each failed call
    std::size_t expiries = 0;
    std::vector<std::size_t> started_at_expiry; // calls started when each expiry happened
    // Tokens the sandbox could not expire (written on its strand).
    std::size_t unknown_to_sandbox = 0;
    bool timed_out = false;
};

// Makes `calls` get-user calls from the client's strand, `window` of them in flight at any
// time (a call that completes starts the next), and runs the io_context on four threads until
// every call has completed. Each time another calls / (expiries + 1) of them have completed,
// and the client holds a token newer than the one the previous expiry ended, the current token
// ends:
// - the first and third time, the sandbox expires it: the calls in flight hold it (a call takes
//   its token before it waits for a connection), so they are rejected, share one refresh, and
//   are replayed; calls still holding an older token are rejected too, replayed with the
//   current one, rejected again when the sandbox has expired that one as well, and then share
//   the refresh;
// - the second and fourth time, the client's clock passes the token's lifetime: the calls
//   started next wait for one refresh before they send. The sandbox's clock does not move, so
//   the calls already holding an older token (queued first attempts, and replays) are served.
// Every call succeeds, with one refresh per expiry.
template <class Stream>
storm_result storm(threaded_env<Stream>& e, std::size_t calls, std::size_t window,
                   std::size_t expiries) {
    storm_result r;
    std::size_t started = 0, done = 0;
    std::optional<joinme::secret> ended; // the access token the last expiry ended
    asio::steady_timer guard(e.client_strand, 60s);

    auto maybe_expire = [&] {
        if (r.expiries == expiries || done < (r.expiries + 1) * (calls / (expiries + 1)))
            return;
        const auto& current = e.client.token_source().current_token();
        if (!current)
            return;
        if (ended && current->access_token == *ended)
            return; // the previous expiry's refresh has not come back yet
        ended = current->access_token;
        if (r.expiries % 2 == 0) {
            asio::post(e.sandbox_strand, [&e, &r, access = current->access_token.reveal()] {
                r.unknown_to_sandbox += e.srv.expire_access_token(access) ? 0 : 1;
            });
        } else {
            e.clock.advance(threaded_env<Stream>::lifetime + 1s);
        }
        ++r.expiries;
        r.started_at_expiry.push_back(started);
    };

    auto finish = [&] {
        guard.cancel();
        e.client.close();
        asio::post(e.sandbox_strand, [&e] { e.srv.stop(); });
    };

    std::function<void()> start_one = [&] {
        ++started;
        asio::co_spawn(
            e.client_strand,
            [](api::basic_client<Stream>& c) -> asio::awaitable<std::string> {
                diagnostics d;
                auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
                if (ec)
                    co_return ec.message() + ": " + d.to_string();
                if (u.email != "pro@example.com")
                    co_return "the wrong user: " + u.email;
                co_return std::string();
            }(e.client),
            [&](std::exception_ptr ex, std::string failure) {
                if (ex)
                    failure = "an exception";
                if (failure.empty())
                    ++r.ok;
                else
                    r.failures.push_back(std::move(failure));
                ++done;
                maybe_expire();
                if (started < calls)
                    start_one();
                else if (done == calls)
                    finish();
            });
    };

    asio::post(e.client_strand, [&] {
        while (started < std::min(window, calls))
            start_one();
    });
    guard.async_wait([&](error_code ec) {
        if (ec)
            return;
        r.timed_out = true;
        e.ioc.stop();
    });
    run_on_threads(e.ioc, 4);
    return r;
}

} // namespace

TEST_CASE_TEMPLATE("api client on four threads: 1000 calls, 150 at a time, across four token "
                   "expiries, one refresh each",
                   Stream, tcp_stream, tls_stream) {
    threaded_env<Stream> e;
    auto first = e.login();
    CHECK(first.refreshable());
    e.srv.reset_counters(); // nothing runs: the io_context is between two runs
    e.ioc.restart();

    auto r = storm(e, 1000, 150, 4);

    // The threads have been joined: everything below is read from this thread alone.
    REQUIRE_FALSE(r.timed_out);
    if (!r.failures.empty())
        FAIL_CHECK(r.failures.size() << " calls failed, the first: " << r.failures.front());
    CHECK(r.ok == 1000);
    CHECK(r.expiries == 4);
    // Calls were still to start after each expiry, so each one needed a refresh.
    REQUIRE(r.started_at_expiry.size() == 4);
    CHECK(r.started_at_expiry.back() < 1000);
    CHECK(r.unknown_to_sandbox == 0);
    // Single flight: one refresh per expiry, however many calls met it.
    const auto& stats = e.srv.stats();
    CHECK(stats.refresh_requests == 4);
    CHECK(stats.tokens_issued_refresh_token == 4);
    CHECK(e.client.token_source().stats().refresh_requests == 4);
    // Every call reached the API, and a call met at most one rejection before its replay.
    CHECK(stats[sandbox::endpoint::get_user] >= 1000);
    CHECK(stats[sandbox::endpoint::get_user] == 1000 + e.client.stats().replays);
    CHECK(e.client.stats().replays == e.client.stats().rejected_tokens);
    // The sandbox expired the first token under calls in flight: they were rejected, replayed.
    CHECK(e.client.stats().rejected_tokens >= 1);
    // Connections are kept alive: the pool never opened more than its limit.
    CHECK(e.client.pool().stats().connections_opened <= 4);
    CHECK(stats.connections_accepted <= 4);
    // The last token is the fourth refresh's, newer than the one the login gave.
    REQUIRE(e.client.token_source().current_token());
    CHECK_FALSE(e.client.token_source().current_token()->access_token == first.access_token);
}
