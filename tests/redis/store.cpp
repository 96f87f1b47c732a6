// The Redis token store in one process, against a redis-server the test starts: versions and
// compare-and-swap, the lease (exclusive, released only by its holder, expiring, waking its
// waiters), encryption at rest, entries that are not tokens, Redis unreachable, stopped and
// restarted; token sources over it against the in-process sandbox: one refresh for two stores
// sharing a user, an empty store means reauthorization. The adapter on a four-thread
// io_context is in joinme-test-threads (tests/threads/redis_store.cpp), the ThreadSanitizer
// program.
#include "redis/redis_server.hpp"
#include "support/run.hpp"

#include <joinme/api/client.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/store/redis.hpp>
#include <joinme/transport/tcp.hpp>

#include <doctest/doctest.h>

#include <tuple>

namespace asio = boost::asio;
namespace oauth = joinme::oauth;
namespace api = joinme::api;
namespace sandbox = joinme::sandbox;
using joinme::errc;
using joinme::error_code;
using joinme::store::redis_options;
using joinme::store::redis_token_store;
using oauth::store_errc;
using namespace std::chrono_literals;

namespace {

redis_options options_for(const redis_test::redis_server& r) {
    redis_options o;
    o.port = r.port;
    o.prefix = "test:";
    return o;
}

oauth::token some_token(std::string access = "A1", std::string refresh = "R1") {
    return oauth::make_token(access, refresh, std::chrono::seconds(3600));
}

template <class... Ts, class Op>
std::tuple<error_code, Ts...> await(asio::io_context& ioc, Op op) {
    return test_support::run(ioc, [](Op op) -> asio::awaitable<std::tuple<error_code, Ts...>> {
        auto r = co_await op(asio::as_tuple(asio::use_awaitable));
        co_return r;
    }(std::move(op)));
}

std::tuple<error_code, std::optional<oauth::stored_token>>
load(asio::io_context& ioc, redis_token_store& s, std::string user) {
    return await<std::optional<oauth::stored_token>>(
        ioc, [&s, user](auto t) { return s.async_load(user, t); });
}

std::tuple<error_code, std::uint64_t> save(asio::io_context& ioc, redis_token_store& s,
                                           std::string user, oauth::token t, std::uint64_t v) {
    return await<std::uint64_t>(
        ioc, [&s, user, t, v](auto tok) { return s.async_save(user, t, v, tok); });
}

std::tuple<error_code, oauth::store_lease> lock(asio::io_context& ioc, redis_token_store& s,
                                                std::string user,
                                                std::chrono::milliseconds hold = 10s) {
    return await<oauth::store_lease>(
        ioc, [&s, user, hold](auto t) { return s.async_lock(user, hold, t); });
}

error_code unlock(asio::io_context& ioc, redis_token_store& s, std::string user,
                  oauth::store_lease l) {
    return std::get<0>(await<>(ioc, [&s, user, l](auto t) { return s.async_unlock(user, l, t); }));
}

// A raw command on a connection of the test's own.
joinme::store::detail::redis_reply command(asio::io_context& ioc, const redis_options& o,
                                           std::vector<std::string> args) {
    auto conn = std::make_shared<joinme::store::detail::redis_conn>(ioc.get_executor(), o);
    return test_support::run(
        ioc,
        [](std::shared_ptr<joinme::store::detail::redis_conn> c,
           std::vector<std::string> args) -> asio::awaitable<joinme::store::detail::redis_reply> {
            auto ec = co_await c->ensure();
            REQUIRE(!ec);
            auto [e2, r] =
                co_await c->async_exec(std::move(args), asio::as_tuple(asio::use_awaitable));
            REQUIRE(!e2);
            co_return r;
        }(conn, std::move(args)));
}

} // namespace

TEST_CASE("redis store: nothing stored, then versions and compare-and-swap") {
    if (!redis_test::have_redis())
        return;
    redis_test::redis_server redis;
    asio::io_context ioc;
    redis_token_store s(ioc.get_executor(), options_for(redis));

    auto [e0, nothing] = load(ioc, s, "alice");
    CHECK(!e0);
    CHECK(!nothing);
    auto [e1, v1] = save(ioc, s, "alice", some_token("A1"), 0);
    CHECK(!e1);
    CHECK(v1 == 1);
    CHECK(std::get<0>(save(ioc, s, "alice", some_token("A9"), 0)) == store_errc::conflict);
    CHECK(std::get<1>(save(ioc, s, "alice", some_token("A2"), 1)) == 2);
    CHECK(std::get<1>(save(ioc, s, "alice", some_token("A3"), oauth::any_version)) == 3);
    auto [e2, got] = load(ioc, s, "alice");
    CHECK(!e2);
    REQUIRE(got);
    CHECK(got->version == 3);
    CHECK(got->value.access_token == joinme::secret("A3"));
    CHECK(got->value.refresh_token == joinme::secret("R1"));
    CHECK(!std::get<1>(load(ioc, s, "bob"))); // a key per user

    // The key layout docs/redis.md describes.
    auto raw = command(ioc, options_for(redis), {"HGET", "test:token:alice", "version"});
    CHECK(raw.str == "3");
}

TEST_CASE("redis store: the lease is exclusive, released only by its holder, and expires") {
    if (!redis_test::have_redis())
        return;
    redis_test::redis_server redis;
    asio::io_context ioc;
    auto o = options_for(redis);
    o.lock_poll = 5s; // a waiter that wakes sooner was notified
    redis_token_store a(ioc.get_executor(), o), b(ioc.get_executor(), o);

    auto [ea, la] = lock(ioc, a, "alice");
    REQUIRE(!ea);
    CHECK(la.id != 0);

    SUBCASE("a waiter is woken by the unlock's notification") {
        bool got = false;
        error_code eb;
        oauth::store_lease lb;
        b.async_lock("alice", 10s, [&](error_code e, oauth::store_lease l) {
            got = true;
            eb = e;
            lb = l;
        });
        test_support::run_until(
            ioc, [] { return false; }, 300ms); // b waits, subscribed
        CHECK(!got);
        auto start = std::chrono::steady_clock::now();
        CHECK(!unlock(ioc, a, "alice", la));
        test_support::run_until(
            ioc, [&] { return got; }, 10s);
        CHECK(got);
        CHECK(!eb);
        CHECK(std::chrono::steady_clock::now() - start < 2s);            // not the 5 s poll
        CHECK(unlock(ioc, a, "alice", la) == store_errc::unknown_lease); // released already
        CHECK(!unlock(ioc, b, "alice", lb));
    }
    SUBCASE("another user's lease is another lease") {
        auto [e, l] = lock(ioc, b, "bob");
        CHECK(!e);
        CHECK(!unlock(ioc, b, "bob", l));
        CHECK(!unlock(ioc, a, "alice", la));
    }
    SUBCASE("a lease whose holder is gone expires; its late unlock does not free another's") {
        CHECK(!unlock(ioc, a, "alice", la));
        auto [e1, short_lease] = lock(ioc, a, "alice", 300ms);
        REQUIRE(!e1);
        auto start = std::chrono::steady_clock::now();
        auto [e2, lb] = lock(ioc, b, "alice"); // a never unlocks: b waits for the expiry
        CHECK(!e2);
        CHECK(std::chrono::steady_clock::now() - start >= 200ms);
        CHECK(unlock(ioc, a, "alice", short_lease) == store_errc::unknown_lease);
        auto still = command(ioc, o, {"EXISTS", "test:lease:alice"});
        CHECK(still.integer == 1); // b's lease stands
        CHECK(!unlock(ioc, b, "alice", lb));
    }
    SUBCASE("a waiter gives up after lock_wait") {
        auto o2 = o;
        o2.lock_wait = 300ms;
        o2.lock_poll = 50ms;
        redis_token_store c(ioc.get_executor(), o2);
        CHECK(std::get<0>(lock(ioc, c, "alice")) == store_errc::lock_timeout);
        CHECK(!unlock(ioc, a, "alice", la));
    }
}

TEST_CASE("redis store: tokens encrypted at rest with the application's key") {
    if (!redis_test::have_redis())
        return;
    redis_test::redis_server redis;
    asio::io_context ioc;
    auto o = options_for(redis);
    o.key = joinme::secret(std::string(32, 'k'));
    redis_token_store s(ioc.get_executor(), o);
    REQUIRE(!std::get<0>(save(ioc, s, "alice", some_token("ACCESS-SECRET", "REFRESH-SECRET"), 0)));

    auto raw = command(ioc, o, {"HGET", "test:token:alice", "token"});
    CHECK(raw.str.starts_with("aesgcm1:"));
    CHECK(raw.str.find("ACCESS-SECRET") == std::string::npos);
    CHECK(raw.str.find("REFRESH-SECRET") == std::string::npos);
    auto [e, got] = load(ioc, s, "alice");
    CHECK(!e);
    REQUIRE(got);
    CHECK(got->value.access_token == joinme::secret("ACCESS-SECRET"));

    // Each write has its own nonce.
    REQUIRE(!std::get<0>(save(ioc, s, "alice", some_token("ACCESS-SECRET", "REFRESH-SECRET"), 1)));
    CHECK(command(ioc, o, {"HGET", "test:token:alice", "token"}).str != raw.str);

    SUBCASE("a wrong key is a clear error") {
        auto o2 = o;
        o2.key = joinme::secret(std::string(32, 'x'));
        redis_token_store wrong(ioc.get_executor(), o2);
        auto [e2, none] = load(ioc, wrong, "alice");
        CHECK(e2 == store_errc::bad_key);
        CHECK(!none);
        CHECK(e2.message().find("key") != std::string::npos);
    }
    SUBCASE("another user's entry does not open under this user (the key name is the AAD)") {
        command(ioc, o, {"COPY", "test:token:alice", "test:token:mallory"});
        CHECK(std::get<0>(load(ioc, s, "mallory")) == store_errc::bad_key);
    }
    SUBCASE("without the key: an error, not a token") {
        redis_token_store plain(ioc.get_executor(), options_for(redis));
        CHECK(std::get<0>(load(ioc, plain, "alice")) == store_errc::bad_key);
    }
    SUBCASE("a key that is not 32 bytes is refused") {
        auto o3 = o;
        o3.key = joinme::secret("short");
        CHECK_THROWS_AS(redis_token_store(ioc.get_executor(), o3), std::invalid_argument);
    }
}

TEST_CASE("redis store: an entry that is not a token is store_errc::corrupt") {
    if (!redis_test::have_redis())
        return;
    redis_test::redis_server redis;
    asio::io_context ioc;
    auto o = options_for(redis);
    redis_token_store s(ioc.get_executor(), o);
    command(ioc, o, {"HSET", "test:token:alice", "version", "1", "token", "{not json"});
    CHECK(std::get<0>(load(ioc, s, "alice")) == store_errc::corrupt);
    command(ioc, o, {"HSET", "test:token:bob", "version", "x1", "token", "{}"});
    CHECK(std::get<0>(load(ioc, s, "bob")) == store_errc::corrupt);
    command(ioc, o, {"SET", "test:token:carol", "a string, not a hash"});
    CHECK(std::get<0>(load(ioc, s, "carol")) == store_errc::refused);
}

TEST_CASE("redis store: unreachable, stopped and restarted") {
    if (!redis_test::have_redis())
        return;
    asio::io_context ioc;
    SUBCASE("nothing listens: unavailable at once, with the reason") {
        redis_options o;
        o.port = redis_test::free_port();
        redis_token_store s(ioc.get_executor(), o);
        auto start = std::chrono::steady_clock::now();
        auto [e, none] = load(ioc, s, "alice");
        CHECK(e == store_errc::unavailable);
        CHECK(std::chrono::steady_clock::now() - start < 2s);
        CHECK(s.last_error().find("connect") != std::string::npos);
        // Within the backoff, no new attempt: the same error at once.
        CHECK(std::get<0>(save(ioc, s, "alice", some_token(), 0)) == store_errc::unavailable);
    }
    SUBCASE("an unresolvable host name") {
        redis_options o;
        o.host = "no-such-host.invalid";
        redis_token_store s(ioc.get_executor(), o);
        CHECK(std::get<0>(load(ioc, s, "alice")) == store_errc::unavailable);
        CHECK(s.last_error().find("resolve") != std::string::npos);
    }
    SUBCASE("stopped, then restarted: errors while down, the data kept (AOF) after") {
        redis_test::redis_server redis;
        auto o = options_for(redis);
        o.reconnect_min = 50ms;
        o.reconnect_max = 100ms;
        redis_token_store s(ioc.get_executor(), o);
        REQUIRE(std::get<1>(save(ioc, s, "alice", some_token(), 0)) == 1);
        redis.stop();
        CHECK(std::get<0>(load(ioc, s, "alice")) == store_errc::unavailable);
        CHECK(std::get<0>(lock(ioc, s, "alice")) == store_errc::unavailable);
        redis.start();
        test_support::run_until(
            ioc, [] { return false; }, 200ms); // past the backoff
        auto [e, got] = load(ioc, s, "alice");
        CHECK(!e);
        REQUIRE(got);
        CHECK(got->version == 1);
    }
}

namespace {

// The in-process sandbox on plain TCP, and clients of its users over Redis stores.
struct fleet_in_one_process {
    asio::io_context ioc;
    redis_test::redis_server redis;
    sandbox::server srv{ioc.get_executor(), sandbox_options()};
    unsigned short sandbox_port = srv.listen_tcp();

    static sandbox::options sandbox_options() {
        sandbox::options o;
        o.auto_consent = true;
        return o;
    }

    api::client_config config(std::shared_ptr<oauth::token_store> store) {
        api::client_config c;
        c.set_base_url(srv.base_url());
        c.oauth.client_id = std::string(sandbox::default_client_id);
        c.oauth.client_secret = joinme::secret(std::string(sandbox::default_client_secret));
        c.oauth.redirect_uri = "http://127.0.0.1/callback";
        c.token_source.store = std::move(store);
        c.token_source.user = "pro@example.com";
        return c;
    }

    // Signs the Pro user in and returns the token.
    oauth::token login(api::basic_client<boost::beast::tcp_stream>& client) {
        oauth::authorization_options opts;
        opts.scopes = oauth::scope_set::parse("user_info");
        auto cfg = client.config().oauth;
        auto sent = oauth::make_authorization_request(cfg, opts);
        return test_support::run(
            ioc,
            [](joinme::http::connection_pool& pool, oauth::authorization_request sent,
               oauth::config cfg) -> asio::awaitable<oauth::token> {
                namespace bhttp = boost::beast::http;
                auto url = boost::urls::parse_absolute_uri(sent.url).value();
                error_code ec;
                auto origin = joinme::origin_of(url, ec);
                joinme::http::request req(bhttp::verb::get, url.encoded_target(), 11);
                joinme::http::response res;
                ec = co_await pool.co_request(origin, std::move(req), res);
                REQUIRE(!ec);
                REQUIRE(res.result_int() == 302);
                auto r = oauth::parse_redirect(res[bhttp::field::location], sent,
                                               std::chrono::system_clock::now());
                co_return co_await oauth::async_exchange_code(pool, cfg, sent, r);
            }(client.pool(), sent, cfg));
    }
};

using tcp_client = api::basic_client<boost::beast::tcp_stream>;

} // namespace

TEST_CASE("redis store under token sources: two stores share a user's token, one refresh") {
    if (!redis_test::have_redis())
        return;
    fleet_in_one_process f;
    auto o = options_for(f.redis);
    auto store1 = std::make_shared<redis_token_store>(f.ioc.get_executor(), o);
    auto store2 = std::make_shared<redis_token_store>(f.ioc.get_executor(), o);
    tcp_client c1(f.ioc.get_executor(), joinme::tcp_context{}, f.config(store1));
    tcp_client c2(f.ioc.get_executor(), joinme::tcp_context{}, f.config(store2));
    c1.set_token(f.login(c1)); // saved to Redis by the first call
    std::size_t ok = 0, failed = 0;
    std::string why;
    auto call = [&](tcp_client& c) {
        c.async_get_user(asio::as_tuple([&](auto r) {
            auto [ec, user] = std::move(r);
            if (ec) {
                ++failed;
                why = ec.message();
            } else {
                ++ok;
            }
        }));
    };
    call(c1);
    test_support::run_until(f.ioc, [&] { return ok + failed == 1; });
    REQUIRE(ok == 1);

    for (int round = 0; round < 2; ++round) {
        // Both sources find their token expired at once (force: the API rejected it).
        auto t1 = c1.token_source().current_token();
        REQUIRE(t1);
        f.srv.expire_access_token(t1->access_token.reveal());
        std::size_t before = ok + failed;
        for (int i = 0; i < 50; ++i) {
            call(c1);
            call(c2);
        }
        test_support::run_until(f.ioc, [&] { return ok + failed == before + 100; });
        CHECK_MESSAGE(failed == 0, why);
    }
    CHECK(f.srv.stats().refresh_requests == 2); // one per expiry for both processes
    CHECK(f.srv.stats().refreshes_by_user.at("pro@example.com") == 2);
    auto [e, stored] = load(f.ioc, *store1, "pro@example.com");
    REQUIRE(stored);
    CHECK(stored->version == 3); // the login's token and two refreshes
}

TEST_CASE("redis store under a token source: an empty store means reauthorization") {
    if (!redis_test::have_redis())
        return;
    fleet_in_one_process f;
    auto o = options_for(f.redis);
    auto store = std::make_shared<redis_token_store>(f.ioc.get_executor(), o);

    SUBCASE("nothing stored: no request, reauthorization_required") {
        tcp_client c(f.ioc.get_executor(), joinme::tcp_context{}, f.config(store));
        joinme::diagnostics d;
        bool done = false;
        error_code got;
        c.token_source().async_get_token(d, [&](error_code ec, oauth::token) {
            done = true;
            got = ec;
        });
        test_support::run_until(f.ioc, [&] { return done; });
        CHECK(got == errc::reauthorization_required);
        CHECK(f.srv.stats().refresh_requests == 0);
    }
    SUBCASE("the entry erased (a logout elsewhere): the remembered token is not refreshed") {
        tcp_client c(f.ioc.get_executor(), joinme::tcp_context{}, f.config(store));
        c.set_token(f.login(c));
        auto [e1, u1] = test_support::run(
            f.ioc, [](tcp_client& c) -> asio::awaitable<std::tuple<error_code, api::user>> {
                auto r = co_await c.async_get_user(asio::as_tuple(asio::use_awaitable));
                co_return r;
            }(c));
        REQUIRE(!e1);
        command(f.ioc, o, {"DEL", "test:token:pro@example.com"});
        f.srv.expire_access_token(c.token_source().current_token()->access_token.reveal());
        auto [e2, u2] = test_support::run(
            f.ioc, [](tcp_client& c) -> asio::awaitable<std::tuple<error_code, api::user>> {
                auto r = co_await c.async_get_user(asio::as_tuple(asio::use_awaitable));
                co_return r;
            }(c));
        CHECK(e2 == errc::reauthorization_required);
        CHECK(f.srv.stats().refresh_requests == 0);
    }
}

TEST_CASE("redis store: Redis unreachable under a token source is token_store_failed, said "
          "clearly") {
    if (!redis_test::have_redis())
        return;
    fleet_in_one_process f;
    auto o = options_for(f.redis);
    auto store = std::make_shared<redis_token_store>(f.ioc.get_executor(), o);
    tcp_client c(f.ioc.get_executor(), joinme::tcp_context{}, f.config(store));
    c.set_token(f.login(c));
    joinme::diagnostics d;
    auto first = test_support::run(
        f.ioc, [](tcp_client& c, joinme::diagnostics& d) -> asio::awaitable<error_code> {
            auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(c, d));
    REQUIRE(!first);
    f.redis.stop();
    f.srv.expire_access_token(c.token_source().current_token()->access_token.reveal());
    auto down = test_support::run(
        f.ioc, [](tcp_client& c, joinme::diagnostics& d) -> asio::awaitable<error_code> {
            auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(c, d));
    CHECK(down == errc::token_store_failed);
    CHECK(d.client_message.find("cannot be reached") != std::string::npos);
    CHECK(f.srv.stats().refresh_requests == 0); // no refresh without the lease
    f.redis.start();
    test_support::run_until(
        f.ioc, [] { return false; }, 2500ms); // past the backoff
    auto back = test_support::run(
        f.ioc, [](tcp_client& c, joinme::diagnostics& d) -> asio::awaitable<error_code> {
            auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(c, d));
    CHECK_MESSAGE(!back, d.client_message);
    CHECK(f.srv.stats().refresh_requests == 1);
}

TEST_CASE("redis options from a URL: host and port, nothing else") {
    auto o = redis_options::from_url("redis://cache.example:6380");
    CHECK(o.host == "cache.example");
    CHECK(o.port == 6380);
    o = redis_options::from_url("redis://[::1]/");
    CHECK(o.host == "::1");
    CHECK(o.port == 6379);
    CHECK(redis_options::from_url("redis://127.0.0.1").host == "127.0.0.1");
    for (const char* bad :
         {"http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
          "redis://h:port", "redis://u:p@h", "redis://h/1", "redis://h?db=1", "127.0.0.1:6379"})
        CHECK_THROWS_AS_MESSAGE(redis_options::from_url(bad), std::invalid_argument, bad);
}
