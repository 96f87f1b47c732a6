// The HTTP exchange and the connection pool over Beast's in-memory stream: every failure
// point, every truncation, malformed and oversized answers, deadlines, cancellation, and the
// completion tokens Asio users pass.
#include <joinme/http/pool.hpp>
#include <joinme/transport/test_stream.hpp>

#include "support/http_server.hpp"
#include "support/memory_server.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using joinme::errc;
using joinme::error_code;
using joinme::http::request;
using joinme::http::response;
using namespace std::chrono_literals;

namespace {

const std::string chunked_response = "HTTP/1.1 200 OK\r\n"
                                     "Content-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n"
                                     "\r\n"
                                     "7\r\n{\"a\": 1\r\n"
                                     "1\r\n}\r\n"
                                     "0\r\n\r\n";

request get(std::string target = "/v1/user") {
    request req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, "api.join.me");
    return req;
}

struct result {
    error_code ec;
    response res;
    joinme::http::exchange_progress progress;
};

// Runs one exchange on `client` to completion.
// `buffered`: bytes already in the connection's read buffer, as an early read leaves them.
result run_exchange(asio::io_context& ioc, beast::test::stream& client,
                    joinme::http::exchange_limits limits = {}, std::string_view buffered = {}) {
    result r;
    beast::flat_buffer buffer;
    buffer.commit(asio::buffer_copy(buffer.prepare(buffered.size()), asio::buffer(buffered)));
    std::string scratch;
    request req = get();
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            r.ec = co_await joinme::http::detail::exchange_with_deadline(
                client, buffer, req, r.res, limits, r.progress, scratch, limits.timeout);
        },
        asio::detached);
    ioc.run();
    ioc.restart();
    return r;
}

// A connected pair whose server side has sent `bytes` and then closed its sending half.
struct answered_pair {
    answered_pair(asio::io_context& ioc, std::string_view bytes,
                  beast::test::fail_count* fc = nullptr)
        : client(fc ? beast::test::stream(ioc, *fc) : beast::test::stream(ioc))
        , server(ioc) {
        client.connect(server);
        client.append(bytes);
        client.close_remote();
    }
    beast::test::stream client;
    beast::test::stream server;
};

/// The bytes Beast's serializer writes for `req`.
std::string beast_bytes(const request& req) {
    std::ostringstream os;
    os << req;
    return os.str();
}

} // namespace

TEST_CASE("exchange: a request goes out byte for byte as Beast's serializer writes it") {
    std::string out;
    request get(bhttp::verb::get, "/v1/user", 11);
    get.set(bhttp::field::host, "api.join.me");
    get.set(bhttp::field::authorization, "Bearer abc");
    get.set("X-Custom", "a, b");
    get.prepare_payload();
    joinme::http::detail::serialize_request(get, out);
    CHECK(out == beast_bytes(get));

    request post(bhttp::verb::post, "/v1/meetings?x=1", 11);
    post.set(bhttp::field::host, "127.0.0.1:8443");
    post.set(bhttp::field::content_type, "application/json");
    post.body() = R"({"meetingName":"a"})";
    post.prepare_payload();
    joinme::http::detail::serialize_request(post, out);
    CHECK(out == beast_bytes(post));

    request old(bhttp::verb::delete_, "/v1/meetings/7", 10);
    old.keep_alive(true);
    joinme::http::detail::serialize_request(old, out);
    CHECK(out == beast_bytes(old));
    CHECK(out.starts_with("DELETE /v1/meetings/7 HTTP/1.0\r\n"));

    // A chunked body goes out as one chunk, then the last chunk.
    request chunked(bhttp::verb::post, "/upload", 11);
    chunked.set(bhttp::field::host, "example.com");
    chunked.body() = std::string(300, 'x');
    chunked.chunked(true);
    joinme::http::detail::serialize_request(chunked, out);
    CHECK(out == beast_bytes(chunked));
    CHECK(out.ends_with("\r\n12c\r\n" + std::string(300, 'x') + "\r\n0\r\n\r\n"));
    // An empty one is the last chunk alone (Beast 1.81's serializer writes that twice, and the
    // second would be taken for the start of the connection's next request).
    chunked.body().clear();
    joinme::http::detail::serialize_request(chunked, out);
    CHECK(out.ends_with("chunked\r\n\r\n0\r\n\r\n"));
    CHECK(!out.ends_with("0\r\n\r\n0\r\n\r\n"));
}

TEST_CASE("exchange: the pool's Host and User-Agent go with a request that lacks them") {
    const joinme::http::detail::request_defaults defaults{"api.join.me:8443", "joinme/test"};
    std::string out;
    request bare(bhttp::verb::get, "/v1/user", 11);
    bare.set(bhttp::field::authorization, "Bearer abc");
    joinme::http::detail::serialize_request(bare, out, defaults);
    request full(bhttp::verb::get, "/v1/user", 11); // Host first, User-Agent last
    full.set(bhttp::field::host, "api.join.me:8443");
    full.set(bhttp::field::authorization, "Bearer abc");
    full.set(bhttp::field::user_agent, "joinme/test");
    CHECK(out == beast_bytes(full));

    // The request's own fields win, and an empty default is not sent.
    request own(bhttp::verb::get, "/v1/user", 11);
    own.set(bhttp::field::user_agent, "mine");
    own.set(bhttp::field::host, "example.com");
    joinme::http::detail::serialize_request(own, out, defaults);
    CHECK(out == beast_bytes(own));
    joinme::http::detail::serialize_request(bare, out, {"api.join.me", ""});
    CHECK(out == "GET /v1/user HTTP/1.1\r\nHost: api.join.me\r\nAuthorization: Bearer abc\r\n\r\n");
}

TEST_CASE("exchange: chunked body decoded") {
    asio::io_context ioc;
    answered_pair p(ioc, chunked_response);
    auto r = run_exchange(ioc, p.client);
    REQUIRE_MESSAGE(!r.ec, r.ec.message());
    CHECK(r.res.result_int() == 200);
    CHECK(r.res.body() == "{\"a\": 1}");
}

TEST_CASE("exchange: a chunked request goes out as one request, an empty one too") {
    for (std::string body : {"part one, part two", ""}) {
        CAPTURE(body);
        asio::io_context ioc;
        answered_pair p(ioc, "HTTP/1.1 204 No Content\r\n\r\n");
        request req(bhttp::verb::post, "/upload", 11);
        req.set(bhttp::field::host, "api.join.me");
        req.body() = body;
        req.chunked(true);
        beast::flat_buffer buffer;
        error_code ec;
        joinme::http::async_exchange(p.client, buffer, req, {},
                                     [&](error_code e, response) { ec = e; });
        ioc.run();
        CHECK(!ec);
        // The server reads one request with this body, and nothing after it (Beast 1.81's
        // serializer sends an empty chunked body's last chunk twice: the second would be read
        // as the start of the connection's next request).
        std::string sent = p.server.str();
        bhttp::request_parser<bhttp::string_body> parser;
        parser.eager(true);
        error_code pec;
        auto used = parser.put(asio::buffer(sent), pec);
        REQUIRE(!pec);
        REQUIRE(parser.is_done());
        CHECK(parser.get().body() == body);
        CHECK(used == sent.size());
    }
}

// RFC 9110 §15.2: a client skips interim responses. Returned as the answer, the real answer
// would stay buffered on the connection and become the next call's.
TEST_CASE("exchange: interim 1xx responses before the answer are skipped") {
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n"
                                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
    asio::io_context ioc;
    answered_pair p(ioc, interim + chunked_response);
    auto r = run_exchange(ioc, p.client);
    REQUIRE_MESSAGE(!r.ec, r.ec.message());
    CHECK(r.res.result_int() == 200);
    CHECK(r.res.body() == "{\"a\": 1}");

    SUBCASE("a 101 that was not asked for is an error") {
        answered_pair q(ioc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n" +
                                 chunked_response);
        CHECK(run_exchange(ioc, q.client).ec == errc::malformed_response);
    }
    SUBCASE("endless interim responses hit the header limit") {
        std::string flood;
        for (int i = 0; i < 2000; ++i)
            flood += "HTTP/1.1 100 Continue\r\n\r\n";
        answered_pair q(ioc, flood + chunked_response);
        CHECK(run_exchange(ioc, q.client).ec == errc::header_too_large);
    }
}

TEST_CASE("exchange: an answer already in the read buffer is parsed from there first") {
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"a\": 1}";
    asio::io_context ioc;
    SUBCASE("whole: no read") {
        beast::test::stream client(ioc), server(ioc);
        client.connect(server); // the server sends nothing, and stays open
        auto r = run_exchange(ioc, client, {}, answer);
        REQUIRE_MESSAGE(!r.ec, r.ec.message());
        CHECK(r.res.body() == "{\"a\": 1}");
        CHECK(r.progress.response_started);
        CHECK(r.progress.keep_alive);
        CHECK(client.nread() == 0);
    }
    SUBCASE("cut anywhere: the rest is read from the stream") {
        for (std::size_t k = 1; k < answer.size(); ++k) {
            answered_pair p(ioc, answer.substr(k));
            auto r = run_exchange(ioc, p.client, {}, answer.substr(0, k));
            REQUIRE_MESSAGE(!r.ec, "cut at ", k, ": ", r.ec.message());
            CHECK(r.res.body() == "{\"a\": 1}");
        }
    }
    SUBCASE("an interim answer, then the answer") {
        beast::test::stream client(ioc), server(ioc);
        client.connect(server);
        auto r = run_exchange(ioc, client, {}, "HTTP/1.1 100 Continue\r\n\r\n" + answer);
        REQUIRE_MESSAGE(!r.ec, r.ec.message());
        CHECK(r.res.result_int() == 200);
    }
    SUBCASE("limits and malformed bytes") {
        joinme::http::exchange_limits limits;
        limits.header_limit = 20;
        beast::test::stream client(ioc), server(ioc);
        client.connect(server);
        CHECK(run_exchange(ioc, client, limits, answer).ec == errc::header_too_large);
        limits = {};
        limits.body_limit = 4;
        CHECK(run_exchange(ioc, client, limits, answer).ec == errc::body_too_large);
        CHECK(run_exchange(ioc, client, {}, "garbage\r\n\r\n").ec == errc::malformed_response);
    }
}

TEST_CASE("exchange: a failure injected at every read and write step is reported") {
    int failures = 0;
    for (std::size_t n = 0; n < 100; ++n) {
        asio::io_context ioc;
        beast::test::fail_count fc(n);
        answered_pair p(ioc, chunked_response, &fc);
        auto& client = p.client;
        client.read_size(3); // many small reads: many failure points
        auto r = run_exchange(ioc, p.client);
        if (!r.ec) {
            CHECK(r.res.body() == "{\"a\": 1}");
            break;
        }
        ++failures;
        CHECK(r.ec == beast::test::error::test_failure);
    }
    CHECK(failures > 10);
}

TEST_CASE("exchange: a response cut at every byte offset is a clean connection_closed") {
    for (std::size_t k = 0; k < chunked_response.size(); ++k) {
        asio::io_context ioc;
        answered_pair p(ioc, chunked_response.substr(0, k));
        auto r = run_exchange(ioc, p.client);
        CHECK_MESSAGE(r.ec == errc::connection_closed, "offset ", k, ": ", r.ec.message());
        CHECK(r.progress.request_written);
        CHECK(r.progress.response_started == (k > 0));
    }
}

TEST_CASE("exchange: malformed status lines and headers") {
    for (std::string_view bad :
         {"HTTP/1.1 abc OK\r\n\r\n", "HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n",
          "garbage\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
        asio::io_context ioc;
        answered_pair p(ioc, bad);
        auto r = run_exchange(ioc, p.client);
        CHECK_MESSAGE(r.ec == errc::malformed_response, bad, ": ", r.ec.message());
    }
}

TEST_CASE("exchange: bodies and headers over their limits") {
    joinme::http::exchange_limits limits;
    limits.body_limit = 1000;
    limits.header_limit = 512;
    SUBCASE("content-length body") {
        asio::io_context ioc;
        answered_pair p(ioc,
                        "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'x'));
        CHECK(run_exchange(ioc, p.client, limits).ec == errc::body_too_large);
    }
    SUBCASE("chunked body") {
        std::string chunks;
        for (int i = 0; i < 20; ++i)
            chunks += "64\r\n" + std::string(100, 'x') + "\r\n";
        asio::io_context ioc;
        answered_pair p(ioc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
        CHECK(run_exchange(ioc, p.client, limits).ec == errc::body_too_large);
    }
    SUBCASE("header") {
        asio::io_context ioc;
        answered_pair p(ioc, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(1000, 'x') +
                                 "\r\nContent-Length: 0\r\n\r\n");
        CHECK(run_exchange(ioc, p.client, limits).ec == errc::header_too_large);
    }
    SUBCASE("exactly at the limit is fine") {
        asio::io_context ioc;
        answered_pair p(ioc,
                        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
        auto r = run_exchange(ioc, p.client, limits);
        CHECK(!r.ec);
        CHECK(r.res.body().size() == 1000);
    }
}

TEST_CASE("exchange: a silent server hits the deadline") {
    asio::io_context ioc;
    beast::test::stream client(ioc), server(ioc);
    client.connect(server);
    joinme::http::exchange_limits limits;
    limits.timeout = 50ms;
    auto start = std::chrono::steady_clock::now();
    auto r = run_exchange(ioc, client, limits);
    CHECK(r.ec == errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("async_exchange: completion tokens and cancellation") {
    asio::io_context ioc;
    beast::flat_buffer buffer;
    request req = get();

    SUBCASE("callback, never invoked inline") {
        answered_pair p(ioc, chunked_response);
        bool done = false;
        joinme::http::async_exchange(p.client, buffer, req, {}, [&](error_code ec, response res) {
            CHECK(!ec);
            CHECK(res.body() == "{\"a\": 1}");
            done = true;
        });
        CHECK_FALSE(done);
        ioc.run();
        CHECK(done);
    }
    SUBCASE("the handler runs on its associated executor") {
        answered_pair p(ioc, chunked_response);
        auto strand = asio::make_strand(ioc);
        bool on_strand = false;
        joinme::http::async_exchange(p.client, buffer, req, {},
                                     asio::bind_executor(strand, [&](error_code, response) {
                                         on_strand = strand.running_in_this_thread();
                                     }));
        ioc.run();
        CHECK(on_strand);
    }
    SUBCASE("use_future") {
        answered_pair p(ioc, chunked_response);
        auto f = joinme::http::async_exchange(p.client, buffer, req, {}, asio::use_future);
        ioc.run();
        CHECK(f.get().body() == "{\"a\": 1}");
    }
    SUBCASE("use_future reports errors as exceptions") {
        answered_pair p(ioc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        auto f = joinme::http::async_exchange(p.client, buffer, req, {}, asio::use_future);
        ioc.run();
        CHECK_THROWS_AS(f.get(), boost::system::system_error);
    }
    SUBCASE("deferred + as_tuple in a coroutine") {
        answered_pair p(ioc, chunked_response);
        std::optional<std::tuple<error_code, response>> out;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto op = joinme::http::async_exchange(p.client, buffer, req, {}, asio::deferred);
                out = co_await std::move(op)(asio::as_tuple(asio::use_awaitable));
            },
            asio::detached);
        ioc.run();
        REQUIRE(out);
        CHECK(!std::get<0>(*out));
        CHECK(std::get<1>(*out).body() == "{\"a\": 1}");
    }
    SUBCASE("terminal cancellation through the handler's slot") {
        beast::test::stream client(ioc), server(ioc);
        client.connect(server);
        asio::cancellation_signal sig;
        error_code got;
        bool done = false;
        joinme::http::async_exchange(
            client, buffer, req, {},
            asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, response) {
                got = ec;
                done = true;
            }));
        asio::steady_timer t(ioc, 20ms);
        t.async_wait([&](error_code) { sig.emit(asio::cancellation_type::terminal); });
        ioc.run();
        CHECK(done);
        CHECK(got == asio::error::operation_aborted);
    }
}

// ---------------------------------------------------------------------------------------
// The pool over in-memory streams: a connector hands each new connection to a test server.

namespace {

using test_support::memory_server;
using memory_pool = joinme::http::basic_connection_pool<beast::test::stream>;
const joinme::origin api{"https", "api.join.me", "443"};

// Runs `client` on the io_context, then shuts pool and server down so that run() returns.
template <class F>
void run_client(asio::io_context& ioc, memory_server& srv, memory_pool& pool, F client) {
    asio::co_spawn(
        ioc,
        [&, client]() -> asio::awaitable<void> {
            co_await client();
            pool.close();
            srv.stop();
        },
        asio::detached);
    ioc.run();
}

} // namespace

TEST_CASE("pool: sequential requests reuse one connection") {
    asio::io_context ioc;
    memory_server srv(ioc);
    memory_pool pool(ioc.get_executor(), srv.connector());
    int ok = 0;
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 50; ++i) {
            auto [ec, res] =
                co_await pool.async_request(api, get(), asio::as_tuple(asio::use_awaitable));
            if (!ec && res.body() == "ok")
                ++ok;
        }
    });
    CHECK(ok == 50);
    CHECK(srv.counters->connections == 1);
    CHECK(pool.stats().reused == 49);
}

TEST_CASE("pool: an answer of up to 4 KiB arrives with one read") {
    // The whole answer waits in the stream; its third operation fails. The request's write and
    // one read of the connection's buffer must be enough (Beast's default of 512 bytes would
    // take a second read, and fail).
    const std::string body(3000, 'x');
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body;
    asio::io_context ioc;
    beast::test::fail_count fc(3);
    std::vector<std::unique_ptr<beast::test::stream>> servers;
    memory_pool pool(ioc.get_executor(), [&](const asio::any_io_executor&) {
        beast::test::stream client(ioc, fc);
        client.connect(*servers.emplace_back(std::make_unique<beast::test::stream>(ioc)));
        client.append(answer);
        return client;
    });
    std::optional<std::tuple<error_code, response>> out;
    pool.async_request(api, get(),
                       [&](error_code ec, response res) { out.emplace(ec, std::move(res)); });
    ioc.run();
    REQUIRE(out);
    REQUIRE_MESSAGE(!std::get<0>(*out), std::get<0>(*out).message());
    CHECK(std::get<1>(*out).body() == body);
}

TEST_CASE("pool: concurrency never exceeds the connection limit") {
    asio::io_context ioc;
    memory_server srv(ioc);
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 3;
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    int ok = 0, done = 0;
    std::size_t idle_at_end = 0;
    for (int i = 0; i < 40; ++i)
        pool.async_request(api, get(), [&](error_code ec, response res) {
            if (!ec && res.result_int() == 200)
                ++ok;
            if (++done == 40) {
                // The last handler runs after its connection went back to the pool.
                idle_at_end = pool.idle_connections(api);
                pool.close();
                srv.stop();
            }
        });
    ioc.run();
    CHECK(ok == 40);
    CHECK(srv.counters->connections == 3);
    CHECK(idle_at_end == 3);
}

TEST_CASE("pool: sets Host and User-Agent") {
    asio::io_context ioc;
    memory_server srv(ioc);
    std::string host, agent;
    srv.behaviour->handler = [&](const request& r) {
        host = std::string(r[bhttp::field::host]);
        agent = std::string(r[bhttp::field::user_agent]);
        return response(bhttp::status::no_content, 11);
    };
    memory_pool pool(ioc.get_executor(), srv.connector());
    // A named origin: g++ 12 mis-destroys brace-initialised temporaries inside co_await.
    const joinme::origin other_port{"https", "api.join.me", "8443"};
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        request req = get();
        req.erase(bhttp::field::host);
        co_await pool.async_request(other_port, req, asio::as_tuple(asio::use_awaitable));
    });
    CHECK(host == "api.join.me:8443");
    CHECK(agent == "joinme/" JOINME_VERSION_STRING);
}

// Each call gets the answer to its own request, whatever else the server sends around it.
TEST_CASE("pool: interim responses and unsolicited bytes never become another call's answer") {
    for (bool extra : {false, true}) {
        CAPTURE(extra);
        asio::io_context ioc;
        memory_server srv(ioc);
        srv.behaviour->prefix = "HTTP/1.1 100 Continue\r\n\r\n";
        if (extra) // a second answer nobody asked for, right behind the real one
            srv.behaviour->suffix = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";
        srv.behaviour->handler = [](const request& req) {
            response res(bhttp::status::ok, 11);
            res.body() = std::string(req.target());
            return res;
        };
        memory_pool pool(ioc.get_executor(), srv.connector());
        int own = 0;
        run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 5; ++i) {
                auto target = "/v1/meetings/" + std::to_string(i);
                auto [ec, res] = co_await pool.async_request(api, get(target),
                                                             asio::as_tuple(asio::use_awaitable));
                own += !ec && res.result_int() == 200 && res.body() == target;
            }
        });
        CHECK(own == 5);
        // A connection with bytes left after its answer is closed, never reused.
        CHECK(srv.counters->connections == (extra ? 5u : 1u));
    }
}

TEST_CASE("pool: a Connection: close answer retires the connection") {
    asio::io_context ioc;
    memory_server srv(ioc);
    srv.behaviour->handler = [](const request&) {
        response res(bhttp::status::ok, 11);
        res.keep_alive(false);
        return res;
    };
    memory_pool pool(ioc.get_executor(), srv.connector());
    int ok = 0;
    std::size_t idle = 99;
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto [ec, res] =
                co_await pool.async_request(api, get(), asio::as_tuple(asio::use_awaitable));
            ok += !ec;
        }
        idle = pool.idle_connections(api);
    });
    CHECK(ok == 3);
    CHECK(srv.counters->connections == 3);
    CHECK(idle == 0);
}

TEST_CASE("pool: an answer whose body runs to the end of the stream retires the connection") {
    asio::io_context ioc;
    memory_server srv(ioc);
    // HTTP/1.1, no Content-Length, no Connection: close: the body ends where the stream does.
    srv.behaviour->prefix = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    srv.behaviour->handler = [](const request&) { return response(bhttp::status::no_content, 11); };
    srv.behaviour->close_after_response = true;
    memory_pool pool(ioc.get_executor(), srv.connector());
    int ok = 0;
    std::vector<std::size_t> idle;
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto [ec, res] =
                co_await pool.async_request(api, get(), asio::as_tuple(asio::use_awaitable));
            ok += !ec && res.result_int() == 200 && res.body().starts_with("until the end");
            idle.push_back(pool.idle_connections(api));
        }
    });
    CHECK(ok == 2);
    CHECK(idle == std::vector<std::size_t>{0, 0});
    CHECK(pool.stats().reused == 0);
}

TEST_CASE("pool: a reused connection the server dropped is replayed once for GET, not for POST") {
    asio::io_context ioc;
    memory_server srv(ioc);
    srv.behaviour->close_after_response = true; // silently, like an idle timeout
    memory_pool pool(ioc.get_executor(), srv.connector());
    std::vector<error_code> results;
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        for (auto verb : {bhttp::verb::get, bhttp::verb::get, bhttp::verb::post}) {
            request req = get();
            req.method(verb);
            auto [ec, res] =
                co_await pool.async_request(api, req, asio::as_tuple(asio::use_awaitable));
            results.push_back(ec);
        }
    });
    REQUIRE(results.size() == 3);
    CHECK(!results[0]);
    CHECK(!results[1]); // the dead connection was detected and the GET replayed
    // An in-memory stream cannot tell that its peer left until it reads, so the POST, which
    // was written completely, is not replayed: it fails instead of risking a double effect.
    CHECK(results[2] == errc::connection_closed);
    CHECK(pool.stats().replayed_on_fresh == 1);
}

TEST_CASE("pool: rate-limited answers are retried after Retry-After, then given up") {
    asio::io_context ioc;
    memory_server srv(ioc);
    int calls = 0;
    int limited = 1;
    srv.behaviour->handler = [&](const request&) {
        ++calls;
        if (calls <= limited) {
            response res(bhttp::status::too_many_requests, 11);
            res.set(bhttp::field::retry_after, "1");
            return res;
        }
        return response(bhttp::status::ok, 11);
    };
    std::vector<std::chrono::milliseconds> slept;
    joinme::http::pool_options opts;
    opts.retry.sleep = [&](std::chrono::milliseconds d,
                           asio::any_completion_handler<void(error_code)> h) {
        slept.push_back(d);
        asio::post(ioc, [h = std::move(h)]() mutable { std::move(h)(error_code{}); });
    };
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    unsigned status = 0;
    error_code ec;
    auto call = [&](bhttp::verb verb) {
        run_client(ioc, srv, pool, [&, verb]() -> asio::awaitable<void> {
            request req = get();
            req.method(verb);
            response res;
            std::tie(ec, res) =
                co_await pool.async_request(api, req, asio::as_tuple(asio::use_awaitable));
            status = res.result_int();
        });
    };

    SUBCASE("one 429 then 200") {
        call(bhttp::verb::get);
        CHECK(!ec);
        CHECK(status == 200);
        CHECK(calls == 2);
        REQUIRE(slept.size() == 1);
        CHECK(slept[0] == 1s);
    }
    SUBCASE("always 429: the last answer comes back after max_attempts") {
        limited = 100;
        call(bhttp::verb::get);
        CHECK(!ec);
        CHECK(status == 429);
        CHECK(calls == 3);
        CHECK(slept.size() == 2);
    }
    SUBCASE("POST is not retried unless allowed") {
        call(bhttp::verb::post);
        CHECK(status == 429);
        CHECK(calls == 1);
    }
}

TEST_CASE("pool: a failed connect is reported and frees its slot") {
    asio::io_context ioc;
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    memory_pool pool(ioc.get_executor(), joinme::test_stream_connector{}, opts);
    std::vector<error_code> got;
    for (int i = 0; i < 3; ++i)
        pool.async_request(api, get(), [&](error_code ec, response) { got.push_back(ec); });
    ioc.run();
    REQUIRE(got.size() == 3);
    for (auto& ec : got)
        CHECK(ec == asio::error::not_connected);
}

TEST_CASE("pool: a released connection goes to the request that waited longest") {
    // Three callers loop on requests over one connection. A caller that comes back at once
    // must queue behind those already waiting instead of taking the connection again.
    asio::io_context ioc;
    memory_server srv(ioc);
    std::vector<std::string> order;
    srv.behaviour->handler = [&](const test_support::request& req) {
        order.emplace_back(req.target());
        return test_support::response(bhttp::status::ok, 11);
    };
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    int running = 3;
    for (char who : {'a', 'b', 'c'})
        asio::co_spawn(
            ioc,
            [&, who]() -> asio::awaitable<void> {
                for (int i = 1; i <= 2; ++i) {
                    auto req = get(std::string("/") + who + std::to_string(i));
                    (void)co_await pool.async_request(api, std::move(req),
                                                      asio::as_tuple(asio::use_awaitable));
                }
                if (--running == 0) {
                    pool.close();
                    srv.stop();
                }
            },
            asio::detached);
    ioc.run();
    CHECK(order == std::vector<std::string>{"/a1", "/b1", "/c1", "/a2", "/b2", "/c2"});
}

TEST_CASE("pool: a request cancelled just as it is handed a connection gives the slot back") {
    // A waits for B's connection; the cancellation reaches A after the pool has handed it the
    // connection and before A resumes: A fails, and the one connection slot must be free for C.
    using namespace asio::experimental::awaitable_operators;
    asio::io_context ioc;
    memory_server srv(ioc);
    asio::cancellation_signal cancel_a;
    bool armed = true;
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    opts.on_request = [&](const joinme::http::request_event&) {
        // Runs just before B's connection is released to A; A resumes after this post.
        if (std::exchange(armed, false))
            asio::post(ioc, [&] { cancel_a.emit(asio::cancellation_type::terminal); });
    };
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    error_code b = asio::error::would_block, a = asio::error::would_block;
    error_code c = asio::error::would_block;
    pool.async_request(api, get(), [&](error_code ec, response) { b = ec; });
    pool.async_request(
        api, get(),
        asio::bind_cancellation_slot(cancel_a.slot(), [&](error_code ec, response) { a = ec; }));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer later(ioc, 50ms);
            co_await later.async_wait(asio::use_awaitable);
            asio::steady_timer limit(ioc, 2s);
            auto r =
                co_await (pool.async_request(api, get(), asio::as_tuple(asio::use_awaitable)) ||
                          limit.async_wait(asio::use_awaitable));
            if (r.index() == 0)
                c = std::get<0>(std::get<0>(r));
            pool.close();
            srv.stop();
        },
        asio::detached);
    ioc.run();
    CHECK_FALSE(b);
    CHECK(a == asio::error::operation_aborted);
    CHECK_FALSE(c); // not would_block: C got the slot A was handed
}

TEST_CASE("pool: cancelling a request waiting for a connection") {
    asio::io_context ioc;
    memory_server srv(ioc);
    srv.behaviour->never_answer = true;
    joinme::http::pool_options opts;
    opts.max_connections_per_origin = 1;
    opts.limits.timeout = 200ms;
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    error_code first, second;
    asio::cancellation_signal sig;
    pool.async_request(api, get(), [&](error_code ec, response) {
        first = ec;
        pool.close();
        srv.stop();
    });
    pool.async_request(
        api, get(),
        asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, response) { second = ec; }));
    asio::steady_timer t(ioc, 20ms);
    t.async_wait([&](error_code) { sig.emit(asio::cancellation_type::terminal); });
    ioc.run();
    CHECK(first == errc::timeout);
    CHECK(second == asio::error::operation_aborted);
}

TEST_CASE("pool: on_request sees every attempt without query or headers") {
    asio::io_context ioc;
    memory_server srv(ioc);
    std::vector<joinme::http::request_event> events;
    std::vector<std::string> paths;
    joinme::http::pool_options opts;
    opts.on_request = [&](const joinme::http::request_event& e) {
        events.push_back(e);
        paths.emplace_back(e.path);
    };
    memory_pool pool(ioc.get_executor(), srv.connector(), opts);
    run_client(ioc, srv, pool, [&]() -> asio::awaitable<void> {
        co_await pool.async_request(api, get("/v1/meetings?endDate=2030-01-01T00:00:00Z"),
                                    asio::as_tuple(asio::use_awaitable));
        co_await pool.async_request(api, get(), asio::as_tuple(asio::use_awaitable));
    });
    REQUIRE(events.size() == 2);
    CHECK(paths[0] == "/v1/meetings");
    CHECK(events[0].status == 200);
    CHECK_FALSE(events[0].reused_connection);
    CHECK(events[1].reused_connection);
}
