// The pool over real sockets on loopback: TCP, TLS with a certificate made for the test, and a
// user-defined stream (a unix domain socket) plugged in through stream_traits.
#include <joinme/http/pool.hpp>
#include <joinme/sandbox/tls.hpp>
#include <joinme/transport/tls.hpp>

#include "support/http_server.hpp"
#include "support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using joinme::errc;
using joinme::error_code;
using joinme::http::request;
using joinme::http::response;
using namespace std::chrono_literals;

namespace {

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using tcp_pool = joinme::http::basic_connection_pool<beast::tcp_stream>;
using tls_pool = joinme::http::basic_connection_pool<tls_stream>;

const joinme::sandbox::self_signed_certificate& certificate() {
    static const auto cert = joinme::sandbox::make_self_signed_certificate();
    return cert;
}

ssl::context trusting_client_context() {
    auto ctx = joinme::make_client_tls_context(joinme::trust_store::none);
    ctx.add_certificate_authority(asio::buffer(certificate().certificate_pem));
    return ctx;
}

request get_request(std::string target = "/v1/user") {
    return request(bhttp::verb::get, target, 11);
}

joinme::origin origin_of(const char* scheme, const asio::ip::tcp::endpoint& ep) {
    return {scheme, ep.address().to_string(), std::to_string(ep.port())};
}

// Runs `client`, then stops the server and the pool so that run() returns.
template <class Pool, class Server, class F>
void run_client(asio::io_context& ioc, Server& server, Pool& pool, F client) {
    asio::co_spawn(
        ioc,
        [&, client]() -> asio::awaitable<void> {
            co_await client();
            pool.close();
            server.stop();
        },
        asio::detached);
    ioc.run();
}

} // namespace

TEST_CASE("TLS: a certificate the client trusts, for the host it dialled, succeeds") {
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(certificate());
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0},
                                         &server_ctx);
    auto client_ctx = trusting_client_context();
    tls_pool pool(ioc.get_executor(), joinme::tls_context(client_ctx));
    const auto target = origin_of("https", server.endpoint());
    error_code ec;
    response res;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        std::tie(ec, res) =
            co_await pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable));
        // A graceful close: close_notify, tolerating a peer that does not answer it.
        auto [sec] = co_await pool.async_shutdown(1s, asio::as_tuple(asio::use_awaitable));
        CHECK(!sec);
    });
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(res.body() == "ok");
}

TEST_CASE("TLS: a tls_context made from a shared_ptr keeps the ssl::context alive") {
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(certificate());
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0},
                                         &server_ctx);
    std::weak_ptr<ssl::context> watch;
    std::optional<tls_pool> pool;
    {
        auto shared = std::make_shared<ssl::context>(trusting_client_context());
        watch = shared;
        pool.emplace(ioc.get_executor(), joinme::tls_context(std::move(shared)));
    }
    CHECK_FALSE(watch.expired()); // the pool's copy of the tls_context owns it
    const auto target = origin_of("https", server.endpoint());
    error_code ec;
    run_client(ioc, server, *pool, [&]() -> asio::awaitable<void> {
        std::tie(ec, std::ignore) = co_await pool->async_request(
            target, get_request(), asio::as_tuple(asio::use_awaitable));
    });
    CHECK_FALSE(ec);
    pool.reset();
    CHECK(watch.expired());
}

TEST_CASE("TLS: insecure_skip_verify exists for tests and does skip verification") {
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(certificate());
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.2"), 0},
                                         &server_ctx);
    auto client_ctx = joinme::make_client_tls_context();
    joinme::tls_context tls(client_ctx);
    tls.insecure_skip_verify = true;
    tls_pool pool(ioc.get_executor(), tls);
    const auto target = origin_of("https", server.endpoint());
    error_code ec;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        std::tie(ec, std::ignore) =
            co_await pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable));
    });
    CHECK(!ec);
}

namespace {

std::size_t certificates_held(ssl::context& ctx) {
    return static_cast<std::size_t>(
        sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx.native_handle()))));
}

// Sets (or, with no value, unsets) an environment variable for the life of the object.
class scoped_env {
public:
    scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name))
            old_ = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

// A request over TLS to a server showing the test certificate, from `client_ctx`.
error_code tls_request(ssl::context& client_ctx) {
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(certificate());
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0},
                                         &server_ctx);
    tls_pool pool(ioc.get_executor(), joinme::tls_context(client_ctx));
    const auto target = origin_of("https", server.endpoint());
    error_code ec;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        std::tie(ec, std::ignore) =
            co_await pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable));
    });
    return ec;
}

} // namespace

TEST_CASE("TLS: the system's CAs are not read when the context is made") {
    // OpenSSL's defaults, as on a machine where the environment names no CA file or directory.
    scoped_env no_file("SSL_CERT_FILE", std::nullopt);
    scoped_env no_dir("SSL_CERT_DIR", std::nullopt);
    auto lazy = joinme::make_client_tls_context();
    CHECK(certificates_held(lazy) == 0);
    // What OpenSSL's default paths would cost: the whole bundle, read at once.
    ssl::context eager(ssl::context::tls_client);
    eager.set_default_verify_paths();
    CHECK(certificates_held(eager) > 0);
    auto only_added = joinme::make_client_tls_context(joinme::trust_store::none);
    CHECK(certificates_held(only_added) == 0);

    // A bundle the user names is read, as OpenSSL would.
    if (std::filesystem::exists(X509_get_default_cert_file())) {
        scoped_env file("SSL_CERT_FILE", X509_get_default_cert_file());
        auto named = joinme::make_client_tls_context();
        CHECK(certificates_held(named) == certificates_held(eager));
    }
}

TEST_CASE("TLS: a system CA is looked up when a handshake needs it, and only then") {
    // A hashed CA directory holding the test certificate, as SSL_CERT_DIR.
    auto dir =
        std::filesystem::temp_directory_path() / ("joinme-test-ca-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto& pem = certificate().certificate_pem;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                  &BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    REQUIRE(cert);
    char name[16];
    std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(cert.get()));
    {
        std::FILE* f = std::fopen((dir / name).c_str(), "w");
        REQUIRE(f);
        std::fwrite(pem.data(), 1, pem.size(), f);
        std::fclose(f);
    }
    {
        scoped_env no_file("SSL_CERT_FILE", std::nullopt);
        scoped_env env("SSL_CERT_DIR", dir.string());
        auto system = joinme::make_client_tls_context();
        CHECK(certificates_held(system) == 0);
        auto ec = tls_request(system);
        CHECK_MESSAGE(!ec, ec.message());
        CHECK(certificates_held(system) == 1); // found in the directory, and kept

        // trust_store::none ignores the system's CAs.
        auto none = joinme::make_client_tls_context(joinme::trust_store::none);
        ec = tls_request(none);
        CHECK(ec == errc::certificate_untrusted);
    }
    std::filesystem::remove_all(dir);
}

namespace {

// One test server on loopback, over TLS or plain TCP, with a pool of each kind pointed at it;
// `pool()` is the one that speaks the server's transport.
struct over_transport {
    explicit over_transport(bool tls, joinme::http::pool_options opts = {})
        : tls(tls)
        , server(ioc, {asio::ip::make_address("127.0.0.1"), 0}, tls ? &server_ctx : nullptr)
        , plain(ioc.get_executor(), joinme::tcp_context{}, opts)
        , secure(ioc.get_executor(), joinme::tls_context(client_ctx), opts)
        , target(origin_of(tls ? "https" : "http", server.endpoint())) {}

    joinme::http::connection_pool& pool() {
        return tls ? static_cast<joinme::http::connection_pool&>(secure) : plain;
    }

    // Runs `client`, then closes the pools and stops the server so that run() returns.
    template <class F>
    void run(F client) {
        asio::co_spawn(
            ioc,
            [this, client]() -> asio::awaitable<void> {
                co_await client();
                plain.close();
                secure.close();
                server.stop();
            },
            asio::detached);
        ioc.run();
    }

    bool tls;
    asio::io_context ioc;
    ssl::context server_ctx = joinme::sandbox::make_server_context(certificate());
    ssl::context client_ctx = trusting_client_context();
    test_support::tcp_test_server server;
    tcp_pool plain;
    tls_pool secure;
    joinme::origin target;
};

} // namespace

TEST_CASE("TCP and TLS: 200 sequential GETs reuse exactly one connection") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        over_transport t(tls);
        int ok = 0;
        t.run([&]() -> asio::awaitable<void> {
            for (int i = 0; i < 200; ++i) {
                // Two statements: g++ 12 mishandles co_await inside a conditional operator.
                std::tuple<error_code, response> r;
                if (tls)
                    r = co_await t.secure.async_request(t.target, get_request(),
                                                        asio::as_tuple(asio::use_awaitable));
                else
                    r = co_await t.plain.async_request(t.target, get_request(),
                                                       asio::as_tuple(asio::use_awaitable));
                ok += !std::get<0>(r) && std::get<1>(r).result_int() == 200;
            }
        });
        CHECK(ok == 200);
        CHECK(t.server.counters().connections == 1);
        CHECK(t.server.counters().requests == 200);
    }
}

TEST_CASE("TCP: a request reads its origin when it is made, not when it is awaited") {
    over_transport t(false);
    error_code ec = asio::error::would_block;
    response res;
    t.run([&]() -> asio::awaitable<void> {
        auto target = std::make_unique<joinme::origin>(t.target);
        auto request = t.pool().co_request(*target, get_request(), res);
        target.reset(); // gone before the request runs (AddressSanitizer sees any later read)
        ec = co_await std::move(request);
    });
    CHECK(!ec);
    CHECK(res.result_int() == 200);
    CHECK(t.server.counters().requests == 1);
}

TEST_CASE("TCP: a keep-alive connection the server closed while idle does not fail the next call") {
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    server.behaviour().close_after_response = true;
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{});
    const auto target = origin_of("http", server.endpoint());
    int ok = 0;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 5; ++i) {
            if (i > 0) {
                // Let the server's FIN arrive, as it would during an idle period.
                asio::steady_timer t(ioc, 20ms);
                co_await t.async_wait(asio::use_awaitable);
            }
            auto [ec, res] = co_await pool.async_request(target, get_request(),
                                                         asio::as_tuple(asio::use_awaitable));
            ok += !ec;
        }
    });
    CHECK(ok == 5);
    CHECK(server.counters().connections == 5);
    // Detected before use, so no request was sent on a dead connection.
    CHECK(pool.stats().stale_discarded == 4);
    CHECK(pool.stats().replayed_on_fresh == 0);
}

// Answers each request with its target as the body and, 20 ms after the answer, sends a
// second answer nobody asked for; `/slow` is answered after 150 ms, with nothing after it.
asio::awaitable<void> answer_then_extra(asio::ip::tcp::socket s) {
    static const std::string extra = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";
    beast::flat_buffer buffer;
    asio::steady_timer timer(s.get_executor());
    auto token = asio::as_tuple(asio::use_awaitable);
    for (;;) {
        request req;
        auto [ec, n] = co_await bhttp::async_read(s, buffer, req, token);
        if (ec)
            co_return;
        const bool slow = req.target() == "/slow";
        if (slow) {
            timer.expires_after(150ms);
            co_await timer.async_wait(token);
        }
        response res(bhttp::status::ok, 11);
        res.body() = std::string(req.target());
        res.prepare_payload();
        co_await bhttp::async_write(s, res, token);
        if (slow)
            continue;
        timer.expires_after(20ms);
        co_await timer.async_wait(token);
        auto bytes = asio::buffer(extra);
        co_await asio::async_write(s, bytes, token);
    }
}

TEST_CASE("TCP: an answer nobody asked for, arriving while a connection is idle, closes it") {
    // Busy: another request is in flight meanwhile, so the idle connection keeps its read
    // pending and is discarded when the bytes arrive. Quiet: the pool has parked its idle
    // connection, which is checked before its next use.
    for (bool busy : {false, true}) {
        CAPTURE(busy);
        asio::io_context ioc;
        asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                for (;;) {
                    auto [ec, s] =
                        co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
                    if (ec)
                        co_return;
                    asio::co_spawn(ioc, answer_then_extra(std::move(s)), asio::detached);
                }
            },
            asio::detached);
        tcp_pool pool(ioc.get_executor(), joinme::tcp_context{});
        const auto target = origin_of("http", acceptor.local_endpoint());
        std::vector<std::string> bodies;
        std::size_t idle_before_second = 99;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto token = asio::as_tuple(asio::use_awaitable);
                asio::steady_timer timer(ioc);
                if (busy)
                    pool.async_request(target, get_request("/slow"), [](error_code, response) {});
                for (const char* path : {"/1", "/2"}) {
                    if (bodies.size() == 1) { // idle while the extra answer arrives
                        timer.expires_after(60ms);
                        co_await timer.async_wait(token);
                        idle_before_second = pool.idle_connections(target);
                    }
                    auto [ec, res] = co_await pool.async_request(target, get_request(path), token);
                    bodies.push_back(ec ? ec.message() : res.body());
                }
                timer.expires_after(150ms); // until /slow is answered
                co_await timer.async_wait(token);
                pool.close();
                acceptor.close();
            },
            asio::detached);
        ioc.run();
        CHECK(bodies == std::vector<std::string>{"/1", "/2"});
        // Busy, the connection of /2 also gets its extra answer while idle and goes too.
        CHECK(pool.stats().stale_discarded == (busy ? 2u : 1u));
        CHECK(idle_before_second == (busy ? 0u : 1u));
    }
}

TEST_CASE("TCP: a POST on a connection the server closed is sent again only when the caller "
          "allows it") {
    // The server closes the connection instead of answering every second request: it got the
    // request, the client gets no byte of answer.
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    server.behaviour().drop_every_second = true;
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{});
    const auto target = origin_of("http", server.endpoint());
    bool allowed = false;
    SUBCASE("a token request: replayed") {
        allowed = true;
    }
    SUBCASE("an ordinary POST: not replayed") {
        allowed = false;
    }
    std::vector<error_code> results;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        const joinme::http::request_options send{nullptr, allowed};
        for (int i = 0; i < 3; ++i) {
            joinme::http::request req(bhttp::verb::post, "/token", 11);
            req.body() = "grant_type=refresh_token&refresh_token=r";
            response res;
            results.push_back(co_await pool.co_request(target, std::move(req), res, send));
        }
    });
    REQUIRE(results.size() == 3);
    CHECK(!results[0]);
    if (allowed) {
        CHECK(!results[1]);
        CHECK(!results[2]);
        CHECK(pool.stats().replayed_on_fresh == 2);
        CHECK(server.counters().requests == 5u); // answered: 1st, 3rd, 5th
    } else {
        CHECK(results[1] == errc::connection_closed); // as a non-idempotent request must
        CHECK(!results[2]);                           // on a fresh connection
        CHECK(pool.stats().replayed_on_fresh == 0);
        CHECK(server.counters().requests == 3u);
    }
}

TEST_CASE("TCP and TLS: a server that accepts and never answers gives a timeout within the "
          "deadline") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.limits.timeout = 200ms;
        over_transport t(tls, opts);
        t.server.behaviour().never_answer = true;
        error_code ec;
        auto start = std::chrono::steady_clock::now();
        t.run([&]() -> asio::awaitable<void> {
            response res;
            ec = co_await t.pool().co_request(t.target, get_request(), res);
        });
        auto elapsed = std::chrono::steady_clock::now() - start;
        CHECK(ec == errc::timeout);
        CHECK(elapsed >= 200ms);
        CHECK(elapsed < 2s);
        CHECK(t.pool().stats().watchdog_starts == 1);
        CHECK(t.pool().stats().reused == 0);
    }
}

// The watchdog closes the connection of the exchange past its deadline, and only that one.
TEST_CASE("TLS: a request waiting in line for a connection fails at its deadline with "
          "pool_exhausted") {
    // The only connection allowed is stuck in its TLS handshake (the server accepts and says
    // nothing) until the connect timeout; the request behind it gives up at its own deadline.
    asio::io_context ioc;
    asio::ip::tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::optional<asio::ip::tcp::socket> accepted;
    silent.async_accept(
        [&](error_code, asio::ip::tcp::socket s) { accepted.emplace(std::move(s)); });
    auto client_ctx = trusting_client_context();
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    opts.limits.timeout = 200ms;
    opts.connect_timeout = 1s;
    tls_pool pool(ioc.get_executor(), joinme::tls_context(client_ctx), opts);
    const auto target = origin_of("https", silent.local_endpoint());
    error_code first, queued;
    std::chrono::steady_clock::duration queued_after{};
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            pool.async_request(target, get_request(), [&](error_code ec, response) { first = ec; });
            auto start = std::chrono::steady_clock::now();
            auto [ec, res] = co_await pool.async_request(target, get_request(),
                                                         asio::as_tuple(asio::use_awaitable));
            queued = ec;
            queued_after = std::chrono::steady_clock::now() - start;
            pool.close();
        },
        asio::detached);
    ioc.run_for(5s);
    CHECK(queued == errc::pool_exhausted);
    CHECK(queued_after >= 200ms);
    CHECK(queued_after < 800ms);
    CHECK(first == errc::timeout); // the connect, at its own deadline
}

TEST_CASE("TCP and TLS: a stalled request times out while requests beside it succeed") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.limits.timeout = 300ms;
        opts.deadline_resolution = 20ms;
        opts.max_connections_per_origin = 2;
        over_transport t(tls, opts);
        t.server.behaviour().never_answer_target = "/stall";
        error_code stalled;
        int ok = 0;
        auto start = std::chrono::steady_clock::now();
        std::chrono::steady_clock::duration stalled_after{};
        t.run([&]() -> asio::awaitable<void> {
            using namespace asio::experimental::awaitable_operators;
            auto stall = [&]() -> asio::awaitable<void> {
                response res;
                stalled = co_await t.pool().co_request(t.target, get_request("/stall"), res);
                stalled_after = std::chrono::steady_clock::now() - start;
            };
            auto others = [&]() -> asio::awaitable<void> {
                for (int i = 0; i < 50; ++i) {
                    response res;
                    auto ec = co_await t.pool().co_request(t.target, get_request(), res);
                    ok += !ec && res.body() == "ok";
                }
            };
            co_await (stall() && others());
        });
        CHECK(stalled == errc::timeout);
        CHECK(stalled_after >= 300ms);
        CHECK(stalled_after < 2s);
        CHECK(ok == 50);
        CHECK(t.server.counters().connections == 2);
    }
}

// One timer per pool, started when a request goes in flight and stopped when none is left:
// sequential requests keep it running (a timer per request would cost system calls), and it
// does not hold io_context::run() once the work is done, although the pool stays open.
TEST_CASE("TCP and TLS: sequential requests start the deadline watchdog once, and run() returns "
          "when they are done") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.deadline_resolution = 60s;
        over_transport t(tls, opts);
        int ok = 0;
        auto start = std::chrono::steady_clock::now();
        asio::co_spawn(
            t.ioc,
            [&]() -> asio::awaitable<void> {
                for (int i = 0; i < 100; ++i) {
                    response res;
                    auto ec = co_await t.pool().co_request(t.target, get_request(), res);
                    ok += !ec && res.result_int() == 200;
                }
                // And through the operation's default completion token (which throws).
                for (int i = 0; i < 100; ++i) {
                    response res;
                    // Two statements: g++ 12 mishandles co_await inside a conditional operator.
                    if (tls)
                        res = co_await t.secure.async_request(t.target, get_request());
                    else
                        res = co_await t.plain.async_request(t.target, get_request());
                    ok += res.result_int() == 200;
                }
                t.server.stop(); // the pool stays open
            },
            asio::detached);
        t.ioc.run();
        CHECK(ok == 200);
        CHECK(std::chrono::steady_clock::now() - start < 30s);
        CHECK(t.pool().stats().watchdog_starts == 1);
    }
}

// `as_tuple(use_awaitable)` from a coroutine on the pool's executor runs the request inside
// that coroutine (no co_spawn): the caller's cancellation must still reach the socket.
TEST_CASE("TCP: a request awaited in a coroutine is cancelled with its caller") {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    server.behaviour().never_answer = true;
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}); // deadline: 30 s
    const auto target = origin_of("http", server.endpoint());
    std::optional<error_code> ec;
    auto start = std::chrono::steady_clock::now();
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
        auto request =
            pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable));
        auto r = co_await (std::move(request) || timer.async_wait(asio::use_awaitable));
        if (r.index() == 0)
            ec = std::get<0>(std::get<0>(r));
    });
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(ec); // the timer won: the request gave way
    CHECK(elapsed < 2s);
    CHECK(pool.stats().requests_sent == 1);
    CHECK(pool.idle_connections(target) == 0); // the interrupted connection was not kept
}

TEST_CASE("TCP: a cancelled request gives its connection slot back") {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    bool answer = false;
    server.behaviour().handler = [&](const test_support::request&) {
        test_support::response res(bhttp::status::ok, 11);
        res.body() = "ok";
        return res;
    };
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}, opts);
    const auto target = origin_of("http", server.endpoint());
    error_code second = asio::error::would_block;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < 3; ++i) {
            // Cancelled while its exchange is under way (the server does not answer yet).
            server.behaviour().never_answer = true;
            asio::steady_timer timer(ex, 30ms);
            (void)co_await (
                pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable)) ||
                timer.async_wait(asio::use_awaitable));
        }
        server.behaviour().never_answer = false;
        answer = true;
        asio::steady_timer limit(ex, 2s);
        auto r = co_await (
            pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable)) ||
            limit.async_wait(asio::use_awaitable));
        if (r.index() == 0)
            second = std::get<0>(std::get<0>(r));
    });
    CHECK(answer);
    CHECK_FALSE(second); // not would_block: the request got the one slot and an answer
}

// One connection per origin, replaced after every request: each one frees its slot for the
// next request in line. Request A holds the slot while B waits; A's end wakes B, and before
// B resumes, request C arrives (inline, in A's coroutine). The slot is B's: C waits behind it.
struct line_of_three {
    asio::io_context ioc;
    test_support::tcp_test_server server{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    std::vector<std::string> served;
    tcp_pool pool{ioc.get_executor(), joinme::tcp_context{}, [] {
                      joinme::http::pool_options o;
                      o.max_connections_per_origin = 1;
                      o.max_requests_per_connection = 1;
                      return o;
                  }()};
    joinme::origin target = origin_of("http", server.endpoint());
    asio::cancellation_signal cancel_b;
    std::optional<error_code> b, c;

    line_of_three() {
        server.behaviour().handler = [this](const test_support::request& req) {
            served.emplace_back(req.target());
            test_support::response res(bhttp::status::ok, 11);
            res.body() = "ok";
            return res;
        };
    }

    // Runs A, B and C; `between` runs after A's end and before C, while B's wake-up is queued.
    template <class F>
    void run(F between) {
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto ex = co_await asio::this_coro::executor;
                // B joins the line once A holds the slot.
                asio::post(ex, [&] {
                    pool.async_request(
                        target, get_request("/b"),
                        asio::bind_cancellation_slot(cancel_b.slot(),
                                                     [&](error_code ec, response) { b = ec; }));
                });
                auto [aec, ares] = co_await pool.async_request(target, get_request("/a"),
                                                               asio::as_tuple(asio::use_awaitable));
                CHECK_FALSE(aec);
                between();
                auto [cec, cres] = co_await pool.async_request(target, get_request("/c"),
                                                               asio::as_tuple(asio::use_awaitable));
                c = cec;
                for (int i = 0; i < 200 && !b; ++i) {
                    asio::steady_timer t(ex, 5ms);
                    co_await t.async_wait(asio::use_awaitable);
                }
                pool.close();
                server.stop();
            },
            asio::detached);
        ioc.run();
    }
};

TEST_CASE("TCP: a slot handed to the first request in line is not taken by a later one") {
    line_of_three t;
    t.run([] {});
    REQUIRE(t.b);
    REQUIRE(t.c);
    CHECK_FALSE(*t.b);
    CHECK_FALSE(*t.c);
    CHECK(t.served == std::vector<std::string>{"/a", "/b", "/c"});
}

TEST_CASE("TCP: a request cancelled after it was handed a slot gives the slot to the next one") {
    line_of_three t;
    // B is cancelled while its wake-up is queued: it must leave the line without a trace (no
    // dangling waiter for the next wake-up to touch) and hand its slot on to C.
    t.run([&] { t.cancel_b.emit(asio::cancellation_type::terminal); });
    REQUIRE(t.b);
    REQUIRE(t.c);
    CHECK(*t.b == asio::error::operation_aborted);
    CHECK_FALSE(*t.c);
    CHECK(t.served == std::vector<std::string>{"/a", "/c"});
    CHECK(t.pool.idle_connections(t.target) == 0);
}

TEST_CASE("TCP: a request awaited from a strand runs on the pool's executor") {
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    auto strand = asio::make_strand(ioc);
    std::vector<bool> hook_on_strand;
    joinme::http::pool_options opts;
    opts.on_request = [&](const joinme::http::request_event&) {
        hook_on_strand.push_back(strand.running_in_this_thread());
    };
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}, opts);
    const auto target = origin_of("http", server.endpoint());
    error_code ec;
    bool resumed_on_strand = false;
    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
            std::tie(ec, std::ignore) = co_await pool.async_request(
                target, get_request(), asio::as_tuple(asio::use_awaitable));
            resumed_on_strand = strand.running_in_this_thread();
            pool.close();
            server.stop();
        },
        asio::detached);
    ioc.run();
    CHECK_FALSE(ec);
    REQUIRE(hook_on_strand.size() == 1);
    CHECK_FALSE(hook_on_strand[0]); // the pool's work ran on the pool's executor...
    CHECK(resumed_on_strand);       // ...and the caller came back to its strand
}

// A resolver that never answers, as a hung DNS server makes getaddrinfo; its handlers are kept
// so that the test can answer them late.
struct stuck_resolver {
    using handler = asio::any_completion_handler<void(error_code, joinme::resolve_results)>;
    std::vector<handler> pending;
    std::vector<std::string> asked;

    joinme::tcp_context context() {
        joinme::tcp_context ctx;
        ctx.resolve = [this](std::string_view host, std::string_view, handler h) {
            asked.emplace_back(host);
            pending.push_back(std::move(h));
        };
        return ctx;
    }
};

// A TCP pool and a TLS pool whose host name lookups never answer.
struct behind_stuck_dns {
    behind_stuck_dns(bool tls, joinme::http::pool_options opts)
        : tls(tls)
        , plain(ioc.get_executor(), dns.context(), opts)
        , secure(ioc.get_executor(), tls_context(), opts)
        , target{tls ? "https" : "http", "api.joinme.test", "443"} {}

    joinme::tls_context tls_context() {
        joinme::tls_context c(client_ctx);
        c.tcp = dns.context();
        return c;
    }
    joinme::http::connection_pool& pool() {
        return tls ? static_cast<joinme::http::connection_pool&>(secure) : plain;
    }

    bool tls;
    asio::io_context ioc;
    stuck_resolver dns;
    ssl::context client_ctx = trusting_client_context();
    tcp_pool plain;
    tls_pool secure;
    joinme::origin target;
};

TEST_CASE("TCP and TLS: a host name lookup that never answers is bounded by the connect timeout") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.connect_timeout = 200ms;
        behind_stuck_dns s(tls, opts);
        auto& ioc = s.ioc;
        auto& dns = s.dns;
        std::optional<error_code> ec;
        auto done = [&](error_code e, response) { ec = e; };
        if (tls)
            s.secure.async_request(s.target, get_request(), done);
        else
            s.plain.async_request(s.target, get_request(), done);
        auto start = std::chrono::steady_clock::now();
        test_support::run_until(
            ioc, [&] { return ec.has_value(); }, 5s);
        auto elapsed = std::chrono::steady_clock::now() - start;
        REQUIRE(ec);
        CHECK(*ec == errc::timeout);
        CHECK(elapsed >= 200ms);
        CHECK(elapsed < 2s);
        CHECK(dns.asked == std::vector<std::string>{"api.joinme.test"});
        // The lookup answers after the request gave up on it: nothing happens.
        REQUIRE(dns.pending.size() == 1);
        std::move(dns.pending.front())(asio::error::host_not_found, joinme::resolve_results{});
        dns.pending.clear();
        ioc.restart();
        ioc.poll();
    }
}

TEST_CASE("TCP: a request cancelled during its host name lookup ends at once") {
    asio::io_context ioc;
    stuck_resolver dns;
    tcp_pool pool(ioc.get_executor(), dns.context()); // connect_timeout: 10 s
    const joinme::origin target{"http", "api.joinme.test", "80"};
    std::optional<error_code> ec;
    asio::cancellation_signal sig;
    pool.async_request(
        target, get_request(),
        asio::bind_cancellation_slot(sig.slot(), [&](error_code e, response) { ec = e; }));
    test_support::run_until(
        ioc, [&] { return !dns.pending.empty(); }, 5s);
    REQUIRE(dns.pending.size() == 1);
    sig.emit(asio::cancellation_type::terminal);
    test_support::run_until(
        ioc, [&] { return ec.has_value(); }, 1s);
    REQUIRE(ec);
    CHECK(*ec == asio::error::operation_aborted);
}

TEST_CASE("TCP: a resolver of one's own is used for host names, not for IP literals") {
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::vector<std::string> asked;
    joinme::tcp_context ctx;
    ctx.resolve = [&](std::string_view host, std::string_view port, stuck_resolver::handler h) {
        asked.emplace_back(host);
        auto results = joinme::resolve_results::create(server.endpoint(), std::string(host),
                                                       std::string(port));
        asio::post(ioc,
                   [h = std::move(h), results]() mutable { std::move(h)(error_code{}, results); });
    };
    tcp_pool pool(ioc.get_executor(), ctx);
    const joinme::origin named{"http", "api.joinme.test", std::to_string(server.endpoint().port())};
    const auto literal = origin_of("http", server.endpoint());
    int ok = 0;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        for (const auto& o : {named, literal}) {
            auto [ec, res] =
                co_await pool.async_request(o, get_request(), asio::as_tuple(asio::use_awaitable));
            ok += !ec && res.body() == "ok";
        }
    });
    CHECK(ok == 2);
    CHECK(asked == std::vector<std::string>{"api.joinme.test"});
}

TEST_CASE("TCP: a refused connection is reported") {
    asio::io_context ioc;
    // Bind and close to find a port nobody listens on.
    asio::ip::tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    auto port = probe.local_endpoint().port();
    probe.close();
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{});
    const joinme::origin target{"http", "127.0.0.1", std::to_string(port)};
    error_code ec;
    pool.async_request(target, get_request(), [&](error_code e, response) { ec = e; });
    ioc.run();
    CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("TCP: 429 with Retry-After: 1, then 200, succeeds after one retry (injected sleep)") {
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    int calls = 0;
    server.behaviour().handler = [&](const request&) {
        response res(++calls == 1 ? bhttp::status::too_many_requests : bhttp::status::ok, 11);
        if (calls == 1)
            res.set(bhttp::field::retry_after, "1");
        return res;
    };
    std::vector<std::chrono::milliseconds> slept;
    joinme::http::pool_options opts;
    opts.retry.sleep = [&](std::chrono::milliseconds d,
                           asio::any_completion_handler<void(error_code)> h) {
        slept.push_back(d);
        asio::post(ioc, [h = std::move(h)]() mutable { std::move(h)(error_code{}); });
    };
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}, opts);
    const auto target = origin_of("http", server.endpoint());
    unsigned status = 0;
    auto start = std::chrono::steady_clock::now();
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        auto [ec, res] =
            co_await pool.async_request(target, get_request(), asio::as_tuple(asio::use_awaitable));
        status = res.result_int();
    });
    CHECK(status == 200);
    CHECK(calls == 2);
    REQUIRE(slept.size() == 1);
    CHECK(slept[0] == 1s);
    CHECK(std::chrono::steady_clock::now() - start < 1s); // nothing actually slept
}

// ---------------------------------------------------------------------------------------
// A stream joinme does not know, plugged in from outside the library.

using unix_stream = beast::basic_stream<asio::local::stream_protocol>;

template <>
struct joinme::stream_traits<unix_stream> {
    // The socket path; the origin only names the pool's key.
    using context_type = std::string;

    static unix_stream create(const asio::any_io_executor& ex, std::string&) {
        return unix_stream(ex);
    }

    template <class Token>
    static auto async_connect(unix_stream& s, const joinme::origin&, std::string& path,
                              Token&& token) {
        return s.async_connect(asio::local::stream_protocol::endpoint(path),
                               std::forward<Token>(token));
    }

    template <class Token>
    static auto async_shutdown(unix_stream& s, Token&& token) {
        s.close();
        return asio::post(s.get_executor(), asio::append(std::forward<Token>(token), error_code{}));
    }

    static void close(unix_stream& s) noexcept { s.close(); }
    static bool is_reusable(unix_stream&) noexcept { return true; }
};

static_assert(joinme::transport<unix_stream>);
static_assert(joinme::transport<beast::tcp_stream>);
static_assert(joinme::transport<tls_stream>);
static_assert(!joinme::transport<asio::ip::tcp::socket>); // no stream_traits

TEST_CASE("a user-defined stream (unix domain socket) works without touching the library") {
    auto path = (std::filesystem::temp_directory_path() /
                 ("joinme-test-" + std::to_string(::getpid()) + ".sock"))
                    .string();
    std::filesystem::remove(path);
    asio::io_context ioc;
    test_support::basic_test_server<asio::local::stream_protocol> server(
        ioc, asio::local::stream_protocol::endpoint(path));
    joinme::http::basic_connection_pool<unix_stream> pool(ioc.get_executor(), path);
    const joinme::origin target{"http", "localhost", "80"};
    int ok = 0;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto [ec, res] = co_await pool.async_request(target, get_request(),
                                                         asio::as_tuple(asio::use_awaitable));
            ok += !ec && res.body() == "ok";
        }
    });
    std::filesystem::remove(path);
    CHECK(ok == 3);
    CHECK(server.counters().connections == 1);
}

TEST_CASE("TCP and TLS: a warm-up opens connections before the first request, which reuses one") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.max_connections_per_origin = 3;
        over_transport t(tls, opts);
        auto& pool = t.pool();
        error_code warm = asio::error::would_block, capped = asio::error::would_block;
        std::size_t idle_after_warm_up = 0;
        error_code ec = asio::error::would_block;
        t.run([&]() -> asio::awaitable<void> {
            warm = co_await pool.co_warm_up(t.target, 2);
            idle_after_warm_up =
                tls ? t.secure.idle_connections(t.target) : t.plain.idle_connections(t.target);
            // Asking for more than max_connections_per_origin opens up to the limit.
            capped = co_await pool.co_warm_up(t.target, 10);
            response res;
            ec = co_await pool.co_request(t.target, get_request(), res);
        });
        CHECK(!warm);
        CHECK(idle_after_warm_up == 2);
        CHECK(!capped);
        CHECK(!ec);
        CHECK(pool.stats().connections_opened == 3);
        CHECK(pool.stats().reused == 1);
        CHECK(t.server.counters().connections == 3);
        CHECK(t.server.counters().requests == 1);
    }
}

TEST_CASE("TCP: a warm-up that cannot connect says why, and opens nothing") {
    asio::io_context ioc;
    // A port nothing listens on: bound, then closed.
    asio::ip::tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto target = origin_of("http", probe.local_endpoint());
    probe.close();
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{});
    error_code ec, bad_url;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            std::tie(ec) =
                co_await pool.async_warm_up(target, 2, asio::as_tuple(asio::use_awaitable));
            // A named variable: g++ 12 mishandles a temporary made in a co_await expression.
            joinme::origin none;
            std::tie(bad_url) =
                co_await pool.async_warm_up(none, 1, asio::as_tuple(asio::use_awaitable));
        },
        asio::detached);
    ioc.run();
    CHECK(ec == asio::error::connection_refused);
    CHECK(bad_url == errc::invalid_url);
    CHECK(pool.stats().connections_opened == 0);
    CHECK(pool.idle_connections(target) == 0);
}

// ---------------------------------------------------------------------------------------
// One deadline per call (`request_options::deadline`), kept by each step within its own limit.

namespace {

// `pool.co_request` with a deadline `budget` from now: its error and how long it took.
struct timed_result {
    error_code ec;
    std::chrono::steady_clock::duration took{};
    unsigned status = 0;
};

asio::awaitable<void> request_within(joinme::http::connection_pool& pool, joinme::origin target,
                                     std::chrono::milliseconds budget, timed_result& out) {
    auto start = std::chrono::steady_clock::now();
    joinme::http::request_options o;
    o.deadline = start + budget;
    response res;
    out.ec = co_await pool.co_request(std::move(target), get_request(), res, o);
    out.took = std::chrono::steady_clock::now() - start;
    out.status = res.result_int();
}

} // namespace

TEST_CASE("TCP and TLS: a call's deadline ends the exchange and the wait in line before their "
          "own limits") {
    using namespace asio::experimental::awaitable_operators;
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.limits.timeout = 10s; // far beyond the calls' deadlines
        opts.deadline_resolution = 20ms;
        opts.max_connections_per_origin = 1;
        over_transport t(tls, opts);
        t.server.behaviour().never_answer = true;
        timed_result stalled, queued;
        t.run([&]() -> asio::awaitable<void> {
            co_await (request_within(t.pool(), t.target, 400ms, stalled) &&
                      request_within(t.pool(), t.target, 200ms, queued));
        });
        CHECK(stalled.ec == errc::timeout);
        CHECK(stalled.took >= 400ms);
        CHECK(stalled.took < 2s);
        CHECK(queued.ec == errc::pool_exhausted);
        CHECK(queued.took >= 200ms);
        CHECK(queued.took < 2s);
    }
}

TEST_CASE("TCP and TLS: a call's deadline ends a connect before connect_timeout") {
    for (bool tls : {false, true}) {
        CAPTURE(tls);
        joinme::http::pool_options opts;
        opts.connect_timeout = 10s;
        behind_stuck_dns s(tls, opts);
        timed_result r;
        bool done = false;
        asio::co_spawn(
            s.ioc,
            [&]() -> asio::awaitable<void> {
                co_await request_within(s.pool(), s.target, 200ms, r);
                done = true;
            },
            asio::detached);
        test_support::run_until(
            s.ioc, [&] { return done; }, 5s);
        REQUIRE(done);
        CHECK(r.ec == errc::timeout);
        CHECK(r.took >= 200ms);
        CHECK(r.took < 2s);
        s.dns.pending.clear();
    }
}

TEST_CASE("TCP: a retry that would start after the call's deadline is not made; a call already "
          "past it sends nothing") {
    asio::io_context ioc;
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    server.behaviour().handler = [](const request&) {
        response res(bhttp::status::service_unavailable, 11);
        res.set(bhttp::field::retry_after, "2");
        return res;
    };
    std::vector<std::chrono::milliseconds> slept;
    joinme::http::pool_options opts;
    opts.retry.sleep = [&](std::chrono::milliseconds d,
                           asio::any_completion_handler<void(error_code)> h) {
        slept.push_back(d);
        asio::post(ioc, [h = std::move(h)]() mutable { std::move(h)(error_code{}); });
    };
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}, opts);
    const auto target = origin_of("http", server.endpoint());
    timed_result short_call, long_call, late_call;
    run_client(ioc, server, pool, [&]() -> asio::awaitable<void> {
        co_await request_within(pool, target, 1s, short_call);  // 2 s would pass its deadline
        co_await request_within(pool, target, 10s, long_call);  // retried, per the policy
        co_await request_within(pool, target, -1ms, late_call); // nothing left
    });
    CHECK(!short_call.ec);
    CHECK(short_call.status == 503); // the last answer, as when retries run out
    CHECK(!long_call.ec);
    CHECK(long_call.status == 503);
    CHECK(slept == std::vector<std::chrono::milliseconds>{2s, 2s}); // long_call's two retries
    CHECK(late_call.ec == errc::timeout);
    CHECK(server.counters().requests == 4u); // 1 + 3, and none for late_call
}

// ---------------------------------------------------------------------------------------
// The fault matrix's server-side faults over real TCP: a raw server that reads the request
// and then plays a script of bytes, stalls, or resets.

namespace {

// Accepts one connection, reads up to the end of the request's header, then runs `script`.
template <class Script>
asio::awaitable<void> serve_script(asio::ip::tcp::acceptor& acceptor, Script script) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    std::string in;
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(in), "\r\n\r\n",
                                                   asio::as_tuple(asio::use_awaitable));
    if (!ec)
        co_await script(socket);
}

// `pool.co_request` against a server playing `script`; the request's error.
template <class Script>
error_code against_script(Script script, joinme::http::exchange_limits limits = {}) {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    joinme::http::pool_options opts;
    opts.limits = limits;
    opts.deadline_resolution = 20ms;
    tcp_pool pool(ioc.get_executor(), joinme::tcp_context{}, opts);
    const auto target = origin_of("http", acceptor.local_endpoint());
    std::optional<error_code> result;
    asio::co_spawn(ioc, serve_script(acceptor, std::move(script)), asio::detached);
    pool.async_request(target, get_request(), [&](error_code ec, response) {
        result = ec;
        pool.close();
        acceptor.close();
    });
    test_support::run_until(
        ioc, [&] { return result.has_value(); }, 10s);
    REQUIRE(result);
    return *result;
}

// Writes `bytes`, then stays silent with the connection open for `hold`.
auto write_then_stall(std::string bytes, std::chrono::milliseconds hold = 3s) {
    return [bytes = std::move(bytes), hold](asio::ip::tcp::socket& s) -> asio::awaitable<void> {
        co_await asio::async_write(s, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
        asio::steady_timer t(s.get_executor(), hold);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    };
}

// Writes `head`, then `unit` over and over until the peer goes away.
auto write_forever(std::string head, std::string unit) {
    return [head = std::move(head),
            unit = std::move(unit)](asio::ip::tcp::socket& s) -> asio::awaitable<void> {
        auto [ec, n] =
            co_await asio::async_write(s, asio::buffer(head), asio::as_tuple(asio::use_awaitable));
        std::string block;
        while (block.size() < 16 * 1024)
            block += unit;
        while (!ec)
            std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(block),
                                                         asio::as_tuple(asio::use_awaitable));
    };
}

} // namespace

TEST_CASE("TCP fault matrix: stalls, endless answers and bad chunking end in clear errors") {
    joinme::http::exchange_limits limits;
    limits.timeout = 300ms;
    limits.header_limit = 4 * 1024;
    limits.body_limit = 64 * 1024;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    SUBCASE("stall after the header") {
        CHECK(against_script(write_then_stall(head), limits) == errc::timeout);
    }
    SUBCASE("stall mid-body") {
        CHECK(against_script(write_then_stall(head + "{\"emai"), limits) == errc::timeout);
    }
    SUBCASE("stall mid-header") {
        CHECK(against_script(write_then_stall("HTTP/1.1 200 OK\r\nContent-"), limits) ==
              errc::timeout);
    }
    SUBCASE("an endless chunked body stops at the body limit") {
        CHECK(against_script(write_forever("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                           "10\r\n0123456789abcdef\r\n"),
                             limits) == errc::body_too_large);
    }
    SUBCASE("an endless header stops at the header limit") {
        CHECK(against_script(write_forever("HTTP/1.1 200 OK\r\n", "X-More: 0123456789\r\n"),
                             limits) == errc::header_too_large);
    }
    SUBCASE("invalid chunk sizes") {
        CHECK(against_script(
                  write_then_stall("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                  limits) == errc::malformed_response);
    }
}

TEST_CASE("TLS fault matrix: a connection reset during the handshake is a clear error") {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto s = co_await acceptor.async_accept(asio::use_awaitable);
            std::array<char, 64> hello{}; // a piece of the ClientHello, then a reset
            (void)co_await s.async_read_some(asio::buffer(hello),
                                             asio::as_tuple(asio::use_awaitable));
            s.set_option(asio::socket_base::linger(true, 0));
            s.close();
        },
        asio::detached);
    auto client_ctx = trusting_client_context();
    joinme::http::pool_options opts;
    opts.connect_timeout = 2s;
    tls_pool pool(ioc.get_executor(), joinme::tls_context(client_ctx), opts);
    std::optional<error_code> result;
    pool.async_request(origin_of("https", acceptor.local_endpoint()), get_request(),
                       [&](error_code ec, response) { result = ec; });
    auto start = std::chrono::steady_clock::now();
    test_support::run_until(
        ioc, [&] { return result.has_value(); }, 5s);
    REQUIRE(result);
    CHECK(*result == asio::error::connection_reset);
    CHECK(std::chrono::steady_clock::now() - start < 1s); // at once, not at the connect timeout
}
