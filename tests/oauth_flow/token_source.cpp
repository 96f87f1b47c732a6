// The token source: single-flight refresh under 1,000 concurrent callers, cancellation,
// "save, then use", two sources sharing a file store, implicit tokens, forced refresh, clock
// skew from the `Date` header and the pool's clock; a token in its margin handed out while the
// refresh runs; a source destroyed during a refresh; stores that throw; a rejected refresh
// token never sent again.
#include "oauth_flow/fixture.hpp"

#include <tuple>

#include <joinme/detail/time.hpp>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace flow;
using tls_source = oauth::token_source;

namespace {

struct got {
    bool done = false;
    error_code ec;
    oauth::token value;
    diagnostics diag;
};

// Starts `n` concurrent async_get_token calls; returns their results (filled as they end).
std::vector<got> ask(tls_source& src, std::size_t n) {
    std::vector<got> out(n);
    for (auto& g : out)
        src.async_get_token(g.diag, [&g](error_code ec, oauth::token t) {
            g.done = true;
            g.ec = ec;
            g.value = std::move(t);
        });
    return out;
}

bool all_done(const std::vector<got>& v) {
    for (auto& g : v)
        if (!g.done)
            return false;
    return true;
}

oauth::token_source_options options_for(sandbox_env& env) {
    oauth::token_source_options o;
    o.clock = env.clock();
    return o;
}

// A temporary directory removed at the end of the test.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "joinme-flow-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// A store whose saves can be made to fail, and whose next reads can be made to return a
// stale entry (as if another process wrote after the read).
class faulty_store : public oauth::memory_token_store {
public:
    using memory_token_store::memory_token_store;
    bool fail_saves = false;
    std::optional<oauth::stored_token> stale; // returned by the next load, once

protected:
    void do_save(std::string user, oauth::token t, std::uint64_t v, save_handler h) override {
        if (fail_saves)
            return complete(get_executor(), std::move(h),
                            error_code(std::make_error_code(std::errc::no_space_on_device)),
                            std::uint64_t{0});
        memory_token_store::do_save(std::move(user), std::move(t), v, std::move(h));
    }
    void do_load(std::string user, load_handler h) override {
        if (stale) {
            auto s = std::move(stale);
            stale.reset();
            return complete(get_executor(), std::move(h), error_code{}, std::move(s));
        }
        memory_token_store::do_load(std::move(user), std::move(h));
    }
};

} // namespace

TEST_CASE("a valid token is handed out without any request") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t = env.login();
    src.set_token(t);
    auto r = ask(src, 10);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == t.access_token);
    }
    CHECK(env.srv.stats().refresh_requests == 0);
    CHECK(src.stats().refresh_requests == 0);
}

TEST_CASE("without a clock of its own, the source reads the pool's") {
    sandbox_env env; // its pool reads the manual clock (2030); the system clock is years before
    tls_source src(*env.pool, env.cfg); // no clock in the options
    auto t = env.login();
    src.set_token(t);
    CHECK(src.server_now() == *env.now);
    env.advance(3601s);
    auto r = ask(src, 3);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    CHECK(src.stats().refresh_requests == 1); // expired by the pool's clock
    for (auto& g : r)
        CHECK(!g.ec);
}

TEST_CASE("1,000 callers on an expired token: one refresh request, everyone gets its token") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t = env.login();
    src.set_token(t);
    env.advance(3601s);
    auto r = ask(src, 1000);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    CHECK(env.srv.stats().refresh_requests == 1);
    CHECK(src.stats().refresh_requests == 1);
    auto fresh = src.current_token();
    REQUIRE(fresh);
    CHECK(!(fresh->access_token == t.access_token));
    std::size_t ok = 0;
    for (auto& g : r)
        ok += !g.ec && g.value.access_token == fresh->access_token;
    CHECK(ok == 1000);
    CHECK(env.api_accepts(fresh->access_token));

    SUBCASE("afterwards the new token is handed out without a request") {
        auto more = ask(src, 5);
        REQUIRE(run_until(env.ioc, [&] { return all_done(more); }));
        CHECK(env.srv.stats().refresh_requests == 1);
    }
}

TEST_CASE("1,000 callers, the refresh fails: one request, everyone gets the same error") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t = env.login();
    REQUIRE(env.srv.revoke_refresh_token(t.refresh_token.reveal()));
    src.set_token(t);
    env.advance(3601s);
    auto r = ask(src, 1000);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    CHECK(env.srv.stats().refresh_requests == 1);
    std::size_t same = 0;
    for (auto& g : r)
        same += g.ec == oauth_errc::invalid_grant && g.diag.status == 400 &&
                g.diag.error == "invalid_grant";
    CHECK(same == 1000);
}

TEST_CASE("refresh ahead of expiry: the margin, cut to half the lifetime") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    src.set_token(env.login());
    env.advance(3600s - 61s); // 61 s left: not due with the default 60 s margin
    auto a = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(a); }));
    CHECK(env.srv.stats().refresh_requests == 0);
    env.advance(2s); // 59 s left: due, refreshed in the background
    auto b = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(b); }));
    CHECK(!b[0].ec);
    REQUIRE(run_until(env.ioc, [&] { return env.srv.stats().refresh_requests == 1; }));

    SUBCASE("a 100 s token is refreshed at half its life, not at once") {
        env.srv.config().access_token_lifetime = 100s;
        auto opts = options_for(env);
        opts.refresh_margin = 600s;
        tls_source short_lived(*env.pool, env.cfg, opts);
        short_lived.set_token(env.login());
        auto c = ask(short_lived, 1);
        REQUIRE(run_until(env.ioc, [&] { return all_done(c); }));
        CHECK(env.srv.stats().refresh_requests == 1);
        env.advance(51s);
        auto d = ask(short_lived, 1);
        REQUIRE(run_until(env.ioc, [&] { return all_done(d); }));
        REQUIRE(run_until(env.ioc, [&] { return env.srv.stats().refresh_requests == 2; }));
    }
}

TEST_CASE("a cancelled waiter leaves; the refresh goes on for the others") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    src.set_token(env.login());
    env.advance(3601s);
    sandbox::fault slow;
    slow.latency = 200ms;
    env.srv.set_fault(sandbox::endpoint::token, slow);

    asio::cancellation_signal signal;
    got cancelled;
    src.async_get_token(cancelled.diag, asio::bind_cancellation_slot(
                                            signal.slot(), [&](error_code ec, oauth::token t) {
                                                cancelled.done = true;
                                                cancelled.ec = ec;
                                                cancelled.value = std::move(t);
                                            }));
    auto others = ask(src, 3);
    REQUIRE(run_until(env.ioc, [&] { return env.srv.stats().refresh_requests == 1; }));
    signal.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(env.ioc, [&] { return cancelled.done; }));
    CHECK(cancelled.ec == asio::error::operation_aborted);
    CHECK(!all_done(others));
    REQUIRE(run_until(env.ioc, [&] { return all_done(others); }));
    for (auto& g : others) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == src.current_token()->access_token);
    }
    CHECK(env.srv.stats().refresh_requests == 1);
}

TEST_CASE("save, then use: a failed save is reported, and the token is not lost") {
    sandbox_env env;
    auto store = std::make_shared<faulty_store>(env.ioc.get_executor());
    auto opts = options_for(env);
    opts.store = store;
    opts.user = "pro@example.com";
    tls_source src(*env.pool, env.cfg, opts);
    auto t = env.login();
    src.set_token(t);
    auto first = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);
    CHECK(store->saves() == 1);

    env.advance(3601s);
    store->fail_saves = true;
    auto r = ask(src, 20);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r) {
        CHECK(g.ec == errc::token_store_failed);
        CHECK(!g.diag.client_message.empty());
    }
    CHECK(env.srv.stats().refresh_requests == 1);

    store->fail_saves = false;
    auto again = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(again); }));
    REQUIRE(!again[0].ec);
    CHECK(!(again[0].value.access_token == t.access_token));
    CHECK(env.srv.stats().refresh_requests == 1); // saved now, not refreshed again
    CHECK(store->saves() == 2);
    CHECK(env.api_accepts(again[0].value.access_token));
}

TEST_CASE("two token sources on one file store refresh at once: one request, both work") {
    sandbox_env env;
    temp_dir dir;
    auto file = dir.path / "tokens.json";
    auto store_a = std::make_shared<oauth::file_token_store>(env.ioc.get_executor(), file);
    auto store_b = std::make_shared<oauth::file_token_store>(env.ioc.get_executor(), file);
    auto opts = options_for(env);
    opts.user = "pro@example.com";
    opts.store = store_a;
    tls_source a(*env.pool, env.cfg, opts);
    opts.store = store_b;
    tls_source b(*env.pool, env.cfg, opts);

    a.set_token(env.login());
    auto first = ask(a, 1); // saves it
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);
    auto loaded = ask(b, 1); // b has no token: reads the store
    REQUIRE(run_until(env.ioc, [&] { return all_done(loaded); }));
    REQUIRE(!loaded[0].ec);
    CHECK(loaded[0].value.access_token == first[0].value.access_token);

    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    env.advance(3601s);
    auto ra = ask(a, 50);
    auto rb = ask(b, 50);
    REQUIRE(run_until(env.ioc, [&] { return all_done(ra) && all_done(rb); }));
    CHECK(env.srv.stats().refresh_requests == 1);
    for (auto& g : ra)
        CHECK(!g.ec);
    for (auto& g : rb)
        CHECK(!g.ec);
    CHECK(ra[0].value.access_token == rb[0].value.access_token);
    CHECK(a.stats().refresh_requests + b.stats().refresh_requests == 1);
    CHECK(a.stats().adopted + b.stats().adopted >= 1);
    CHECK(env.api_accepts(ra[0].value.access_token));
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    SUBCASE("the next refresh works from either source (the rotated token was shared)") {
        env.advance(3601s);
        auto rb2 = ask(b, 1);
        REQUIRE(run_until(env.ioc, [&] { return all_done(rb2); }));
        CHECK(!rb2[0].ec);
        CHECK(env.srv.stats().refresh_requests == 2);
        auto ra2 = ask(a, 1);
        REQUIRE(run_until(env.ioc, [&] { return all_done(ra2); }));
        CHECK(!ra2[0].ec);
        CHECK(ra2[0].value.access_token == rb2[0].value.access_token);
        CHECK(env.srv.stats().refresh_requests == 2);
    }
}

TEST_CASE("on invalid_grant the store is read again and another process's token adopted") {
    sandbox_env env;
    auto store = std::make_shared<faulty_store>(env.ioc.get_executor());
    auto opts = options_for(env);
    opts.store = store;
    opts.user = "u";
    tls_source src(*env.pool, env.cfg, opts);
    auto t1 = env.login();
    src.set_token(t1);
    auto first = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);

    // "Another process" refreshes t1 (rotating its refresh token) and stores the result; the
    // source's read under the lease still sees the old entry.
    env.advance(3601s);
    auto t2 = env.run(oauth::async_refresh(*env.pool, env.cfg, t1));
    oauth::detail::stamp(t2, *env.now, t2.lifetime());
    auto tuple_1 = env.run(store->async_save("u", t2, 1, asio::as_tuple(asio::use_awaitable)));
    auto& sec = std::get<0>(tuple_1);
    CHECK(std::get<1>(tuple_1) == 2);
    REQUIRE(!sec);
    store->stale = oauth::stored_token{t1, 1};

    auto r = ask(src, 3);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == t2.access_token);
    }
    CHECK(src.stats().refresh_requests == 1); // tried, got invalid_grant, adopted
    CHECK(src.stats().adopted == 1);
}

TEST_CASE("an expired implicit token: reauthorization_required, no request") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    oauth::token implicit;
    implicit.access_token = secret("implicit-access");
    oauth::detail::stamp(implicit, *env.now, 86400s);
    src.set_token(implicit);
    env.advance(86400s - 30s);
    auto valid = ask(src, 1); // within the margin but not expired: still handed out
    REQUIRE(run_until(env.ioc, [&] { return all_done(valid); }));
    CHECK(!valid[0].ec);
    env.advance(31s);
    auto r = ask(src, 5);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r)
        CHECK(g.ec == errc::reauthorization_required);
    CHECK(env.srv.stats()[sandbox::endpoint::token] == 0);

    SUBCASE("a source with no token at all") {
        tls_source empty(*env.pool, env.cfg, options_for(env));
        auto e = ask(empty, 1);
        REQUIRE(run_until(env.ioc, [&] { return all_done(e); }));
        CHECK(e[0].ec == errc::reauthorization_required);
    }
}

TEST_CASE("forced refresh after a 401: coalesced, and skipped when the token changed") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t1 = env.login();
    src.set_token(t1);
    auto warm = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(warm); }));

    std::vector<got> r(10);
    for (auto& g : r)
        src.async_force_refresh(t1.access_token, g.diag, [&g](error_code ec, oauth::token t) {
            g.done = true;
            g.ec = ec;
            g.value = std::move(t);
        });
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    CHECK(env.srv.stats().refresh_requests == 1);
    for (auto& g : r) {
        CHECK(!g.ec);
        CHECK(!(g.value.access_token == t1.access_token));
    }
    // A late caller whose request failed with t1: the token has changed, no new refresh.
    auto late = env.run(src.async_force_refresh(t1.access_token));
    CHECK(late.access_token == r[0].value.access_token);
    CHECK(env.srv.stats().refresh_requests == 1);
}

TEST_CASE("skew: expiry is measured against the server's Date") {
    scripted_env env;
    auto local = std::make_shared<time_point>(
        std::chrono::sys_days{std::chrono::year{2030} / std::chrono::March / 1});
    const auto server_ahead = 3600s;
    int issued = 0;
    env.behaviour->handler = [&](const test_support::request&) {
        auto res = json_response(
            200, R"({"access_token":"A)" + std::to_string(++issued) +
                     R"(","refresh_token":"R","token_type":"bearer","expires_in":600})");
        auto server_now = std::chrono::floor<std::chrono::seconds>(*local + server_ahead);
        res.set(bhttp::field::date, joinme::detail::format_http_date(server_now));
        return res;
    };
    oauth::token_source_options opts;
    opts.clock = [local] { return *local; };
    oauth::token_source src(*env.pool, env.cfg, opts);
    oauth::token expired;
    expired.access_token = secret("A0");
    expired.refresh_token = secret("R");
    oauth::detail::stamp(expired, *local - 1h, 600s);
    src.set_token(expired);

    auto t = env.run(src.async_get_token());
    CHECK(t.access_token.reveal() == "A1");
    CHECK(src.clock_offset() == server_ahead);
    REQUIRE(t.expires_at);
    CHECK(*t.expires_at == std::chrono::floor<std::chrono::seconds>(*local) + server_ahead + 600s);

    // 539 s later: 61 s left on the server's clock, not due with the 60 s margin.
    *local += 539s;
    auto same = env.run(src.async_get_token());
    CHECK(same.access_token.reveal() == "A1");
    *local += 2s; // 59 s left on the server's clock: due, handed out while refreshed
    auto next = env.run(src.async_get_token());
    CHECK(next.access_token.reveal() == "A1");
    REQUIRE(run_until(env.ioc, [&] { return src.current_token()->access_token.reveal() == "A2"; }));
    CHECK(env.counters->requests == 2);

    SUBCASE("without use_server_date the local clock is trusted") {
        oauth::token_source_options local_opts = opts;
        local_opts.use_server_date = false;
        oauth::token_source plain(*env.pool, env.cfg, local_opts);
        plain.set_token(expired);
        auto p = env.run(plain.async_get_token());
        CHECK(plain.clock_offset() == std::chrono::system_clock::duration::zero());
        CHECK(*p.expires_at == std::chrono::floor<std::chrono::seconds>(*local) + 600s);
    }
}

TEST_CASE("a refresh that never gets an answer ends at refresh_timeout and frees the lease") {
    sandbox_env env;
    auto store = std::make_shared<oauth::memory_token_store>(env.ioc.get_executor());
    auto opts = options_for(env);
    opts.store = store;
    opts.user = "u";
    opts.refresh_timeout = 100ms;
    tls_source src(*env.pool, env.cfg, opts);
    src.set_token(env.login());
    auto first = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);

    sandbox::fault silent;
    silent.never_answer = true;
    env.srv.set_fault(sandbox::endpoint::token, silent);
    env.advance(3601s);
    auto r = ask(src, 3);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r)
        CHECK(g.ec == errc::timeout);
    // The lease was released: it is granted at once.
    auto tuple_2 = env.run(store->async_lock("u", 1s, asio::as_tuple(asio::use_awaitable)));
    auto& lec = std::get<0>(tuple_2);
    auto& lease = std::get<1>(tuple_2);
    CHECK(!lec);
    CHECK(lease.id != 0);
}

namespace {

// A source with a store and a saved token, over a pool of its own: both on the heap, so that
// a use after their destruction is one.
struct doomed_source {
    sandbox_env env;
    std::shared_ptr<oauth::memory_token_store> store =
        std::make_shared<oauth::memory_token_store>(env.ioc.get_executor(), 2s);
    std::unique_ptr<tls_pool> pool =
        std::make_unique<tls_pool>(env.ioc.get_executor(), joinme::tls_context(env.ssl));
    std::unique_ptr<tls_source> src;
    oauth::token t;

    doomed_source() {
        auto opts = options_for(env);
        opts.store = store;
        opts.user = "u";
        src = std::make_unique<tls_source>(*pool, env.cfg, opts);
        t = env.login();
        src->set_token(t);
        auto first = ask(*src, 1); // saves it
        REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
        REQUIRE(!first[0].ec);
    }
};

} // namespace

TEST_CASE("the source and its pool destroyed while a refresh waits for the store's lease") {
    doomed_source d;
    // References, not a structured binding: clang 14 cannot capture one in a lambda.
    auto& env = d.env;
    auto& store = d.store;
    auto& pool = d.pool;
    auto& src = d.src;
    const auto& t = d.t;

    // Another process holds the lease; the refresh queues for it.
    auto locked = env.run(store->async_lock("u", 10s, asio::as_tuple(asio::use_awaitable)));
    REQUIRE(!std::get<0>(locked));
    env.advance(3601s);
    auto r = ask(*src, 3);
    for (int i = 0; i < 10; ++i)
        env.ioc.poll();
    REQUIRE(!all_done(r));

    src.reset();
    pool.reset();
    auto unlocked =
        env.run(store->async_unlock("u", std::get<1>(locked), asio::as_tuple(asio::use_awaitable)));
    CHECK(!std::get<0>(unlocked));
    REQUIRE(run_until(
        env.ioc, [&] { return all_done(r); }, 5s));
    for (auto& g : r) {
        CHECK(g.ec == asio::error::operation_aborted);
        CHECK(!g.diag.client_message.empty());
    }

    // The flight takes the lease, finds its source gone, and gives the lease back without
    // sending anything.
    auto again = env.run(store->async_lock("u", 1s, asio::as_tuple(asio::use_awaitable)));
    CHECK(!std::get<0>(again));
    CHECK(env.srv.stats().refresh_requests == 0);
    auto stored = env.run(store->async_load("u", asio::as_tuple(asio::use_awaitable)));
    REQUIRE(std::get<1>(stored));
    CHECK(std::get<1>(stored)->value.access_token == t.access_token);
}

TEST_CASE("the source and its pool destroyed during the refresh request: the token is saved") {
    doomed_source d;
    // References, not a structured binding: clang 14 cannot capture one in a lambda.
    auto& env = d.env;
    auto& store = d.store;
    auto& pool = d.pool;
    auto& src = d.src;
    const auto& t = d.t;

    sandbox::fault slow;
    slow.latency = 200ms;
    env.srv.set_fault(sandbox::endpoint::token, slow);
    env.advance(3601s);
    auto r = ask(*src, 3);
    REQUIRE(run_until(env.ioc, [&] { return env.srv.stats().refresh_requests == 1; }));
    src.reset();
    pool.reset();
    REQUIRE(run_until(
        env.ioc, [&] { return all_done(r); }, 5s));
    for (auto& g : r)
        CHECK(g.ec == asio::error::operation_aborted);

    // The answer still arrives, and its token (with the rotated refresh token) is stored.
    REQUIRE(run_until(
        env.ioc, [&] { return store->saves() == 2; }, 5s));
    auto stored = env.run(store->async_load("u", asio::as_tuple(asio::use_awaitable)));
    REQUIRE(std::get<1>(stored));
    CHECK(!(std::get<1>(stored)->value.access_token == t.access_token));
    CHECK(env.api_accepts(std::get<1>(stored)->value.access_token));
    auto locked = env.run(store->async_lock("u", 1s, asio::as_tuple(asio::use_awaitable)));
    CHECK(!std::get<0>(locked));
}

namespace {

// A store that throws what it is told to, as a faulty implementation might.
class throwing_store : public oauth::memory_token_store {
public:
    using memory_token_store::memory_token_store;
    bool throw_on_lock = false;
    bool throw_on_load = false;
    bool throw_on_save = false;

protected:
    void do_lock(std::string user, std::chrono::milliseconds d, lock_handler h) override {
        if (throw_on_lock)
            throw std::runtime_error("the lock server is down");
        memory_token_store::do_lock(std::move(user), d, std::move(h));
    }
    void do_load(std::string user, load_handler h) override {
        if (throw_on_load)
            throw std::runtime_error("the stored data is unreadable");
        memory_token_store::do_load(std::move(user), std::move(h));
    }
    void do_save(std::string user, oauth::token t, std::uint64_t v, save_handler h) override {
        if (throw_on_save)
            throw std::runtime_error("the disk is full");
        memory_token_store::do_save(std::move(user), std::move(t), v, std::move(h));
    }
};

} // namespace

TEST_CASE("a store that throws: callers get token_store_failed, the next call starts afresh") {
    sandbox_env env;
    auto store = std::make_shared<throwing_store>(env.ioc.get_executor(), 2s);
    auto opts = options_for(env);
    opts.store = store;
    opts.user = "u";
    tls_source src(*env.pool, env.cfg, opts);
    src.set_token(env.login());
    auto first = ask(src, 1); // saves it
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);
    env.advance(3601s);

    std::string what;
    std::size_t refreshes = 0;
    SUBCASE("async_lock throws") {
        store->throw_on_lock = true;
        what = "the lock server is down";
    }
    SUBCASE("async_load throws, under the lease") {
        store->throw_on_load = true;
        what = "the stored data is unreadable";
    }
    SUBCASE("async_save throws, after the refresh") {
        store->throw_on_save = true;
        what = "the disk is full";
        refreshes = 1;
    }
    auto r = ask(src, 5);
    REQUIRE(run_until(
        env.ioc, [&] { return all_done(r); }, 5s));
    for (auto& g : r) {
        CHECK(g.ec == errc::token_store_failed);
        CHECK(g.diag.client_message.find(what) != std::string::npos);
    }
    CHECK(env.srv.stats().refresh_requests == refreshes);

    // The lease was given back, and the next call starts a new flight.
    store->throw_on_lock = store->throw_on_load = store->throw_on_save = false;
    auto again = ask(src, 1);
    REQUIRE(run_until(
        env.ioc, [&] { return all_done(again); }, 5s));
    CHECK(!again[0].ec);
    CHECK(env.srv.stats().refresh_requests == 1); // a refreshed token is saved, not refreshed
    CHECK(env.api_accepts(again[0].value.access_token));
    auto locked = env.run(store->async_lock("u", 1s, asio::as_tuple(asio::use_awaitable)));
    CHECK(!std::get<0>(locked));
}

TEST_CASE("a refresh token rejected with invalid_grant is never sent again") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t = env.login();
    REQUIRE(env.srv.revoke_refresh_token(t.refresh_token.reveal()));
    src.set_token(t);
    env.advance(3601s);
    auto token_requests = env.srv.stats()[sandbox::endpoint::token];
    auto r = ask(src, 10);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r)
        CHECK(g.ec == oauth_errc::invalid_grant);
    CHECK(env.srv.stats().refresh_requests == 1);

    // Every later call fails at once, without a request.
    for (int i = 0; i < 50; ++i) {
        auto later = ask(src, 20);
        REQUIRE(run_until(
            env.ioc, [&] { return all_done(later); }, 5s));
        for (auto& g : later) {
            CHECK(g.ec == errc::reauthorization_required);
            CHECK(g.diag.client_message.find("refresh token was rejected") != std::string::npos);
        }
    }
    std::vector<got> forced(5);
    for (auto& g : forced)
        src.async_force_refresh(t.access_token, g.diag, [&g](error_code ec, oauth::token) {
            g.done = true;
            g.ec = ec;
        });
    REQUIRE(run_until(
        env.ioc, [&] { return all_done(forced); }, 5s));
    for (auto& g : forced)
        CHECK(g.ec == errc::reauthorization_required);
    CHECK(env.srv.stats().refresh_requests == 1);
    CHECK(env.srv.stats()[sandbox::endpoint::token] == token_requests + 1);
    CHECK(src.stats().refresh_requests == 1);

    // A new token from a new authorization revives the source.
    auto t2 = env.login();
    src.set_token(t2);
    auto revived = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(revived); }));
    CHECK(!revived[0].ec);
    CHECK(revived[0].value.access_token == t2.access_token);
    env.advance(3601s);
    auto refreshed = ask(src, 1);
    REQUIRE(run_until(env.ioc, [&] { return all_done(refreshed); }));
    CHECK(!refreshed[0].ec);
    CHECK(env.srv.stats().refresh_requests == 2);
    CHECK(env.api_accepts(refreshed[0].value.access_token));
}

TEST_CASE("a rejected refresh token with a store: no request until the store has another") {
    sandbox_env env;
    auto store = std::make_shared<oauth::memory_token_store>(env.ioc.get_executor(), 2s);
    auto opts = options_for(env);
    opts.store = store;
    opts.user = "u";
    tls_source src(*env.pool, env.cfg, opts);
    auto t = env.login();
    src.set_token(t);
    auto first = ask(src, 1); // saves it
    REQUIRE(run_until(env.ioc, [&] { return all_done(first); }));
    REQUIRE(!first[0].ec);
    REQUIRE(env.srv.revoke_refresh_token(t.refresh_token.reveal()));
    env.advance(3601s);
    auto r = ask(src, 10);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    for (auto& g : r)
        CHECK(g.ec == oauth_errc::invalid_grant);

    for (int i = 0; i < 50; ++i) {
        auto later = ask(src, 20);
        REQUIRE(run_until(
            env.ioc, [&] { return all_done(later); }, 5s));
        for (auto& g : later)
            CHECK(g.ec == errc::reauthorization_required);
    }
    CHECK(env.srv.stats().refresh_requests == 1);
    CHECK(src.stats().refresh_requests == 1);

    // Another process authorizes the user again and stores the new token: it is adopted.
    auto t2 = env.login();
    auto saved = env.run(
        store->async_save("u", t2, oauth::any_version, asio::as_tuple(asio::use_awaitable)));
    REQUIRE(!std::get<0>(saved));
    auto adopted = ask(src, 3);
    REQUIRE(run_until(env.ioc, [&] { return all_done(adopted); }));
    for (auto& g : adopted) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == t2.access_token);
    }
    CHECK(env.srv.stats().refresh_requests == 1);
    // The lease is free.
    auto locked = env.run(store->async_lock("u", 1s, asio::as_tuple(asio::use_awaitable)));
    CHECK(!std::get<0>(locked));
}

TEST_CASE("a token due for refresh but valid is handed out at once; only an expired one waits") {
    sandbox_env env;
    tls_source src(*env.pool, env.cfg, options_for(env));
    auto t = env.login();
    src.set_token(t);
    sandbox::fault slow;
    slow.latency = 300ms;
    env.srv.set_fault(sandbox::endpoint::token, slow);
    env.advance(3600s - 30s); // 30 s left: due with the 60 s margin, still valid

    auto r = ask(src, 20);
    REQUIRE(run_until(env.ioc, [&] { return all_done(r); }));
    // Everyone has the current token, and the refresh has not ended yet.
    CHECK(src.current_token()->access_token == t.access_token);
    for (auto& g : r) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == t.access_token);
    }
    CHECK(src.stats().refresh_requests == 1);
    REQUIRE(
        run_until(env.ioc, [&] { return !(src.current_token()->access_token == t.access_token); }));
    auto fresh = src.current_token()->access_token;
    auto after = ask(src, 5);
    REQUIRE(run_until(env.ioc, [&] { return all_done(after); }));
    for (auto& g : after) {
        CHECK(!g.ec);
        CHECK(g.value.access_token == fresh);
    }
    CHECK(env.srv.stats().refresh_requests == 1);
    CHECK(env.api_accepts(fresh));

    SUBCASE("an expired token makes callers wait for the refresh") {
        env.advance(3601s);
        auto w = ask(src, 5);
        REQUIRE(run_until(env.ioc, [&] { return all_done(w); }));
        for (auto& g : w) {
            CHECK(!g.ec);
            CHECK(!(g.value.access_token == fresh));
            CHECK(g.value.access_token == src.current_token()->access_token);
        }
        CHECK(env.srv.stats().refresh_requests == 2);
    }
}
