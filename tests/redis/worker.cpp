// One process of a fleet sharing users' tokens through the Redis store, for the multi-process
// tests of tests/redis/fleet.cpp (and the fleet benchmark). Two modes:
//
//   worker authorize SANDBOX_URL REDIS_PORT PREFIX USERS
//     signs user1@example.com..userN@example.com in at a joinme-sandbox started with
//     --auto-consent --users N, and stores their tokens (version 1).
//   worker run SANDBOX_URL REDIS_PORT PREFIX USERS CONCURRENCY SECONDS [die-after-lease]
//              [lease-ms=N]
//     makes CONCURRENCY concurrent get-user calls (user i % USERS) for SECONDS, one client per
//     user over one pool, each with a token source over the Redis store; prints one JSON line:
//     calls, errors, the errors by kind, the time of the last error, refresh requests sent.
//     With die-after-lease, it prints "leased" once it holds a lease and stops running (the
//     test then kills it with SIGKILL): a refresher that dies in the middle of its refresh.
//     lease-ms: the token source's refresh timeout, which is the lease's time to live (2000).
// joinme's own code comes compiled from the tests' support library (tests/boost_src.cpp).
#include <joinme/joinme.hpp>
#include <joinme/store/redis.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

namespace asio = boost::asio;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
using joinme::error_code;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* client_id = "joinmesandboxclient00001"; // the sandbox's defaults
constexpr const char* client_secret = "SandBox123";

std::string user_name(std::size_t i) {
    return "user" + std::to_string(i + 1) + "@example.com";
}

api::client_config config(const std::string& url,
                          std::chrono::milliseconds lease = std::chrono::seconds(2)) {
    api::client_config c;
    c.set_base_url(url);
    c.oauth.client_id = client_id;
    c.oauth.client_secret = joinme::secret(client_secret);
    c.oauth.redirect_uri = "http://127.0.0.1/callback";
    c.call_timeout = std::chrono::seconds(30);
    c.pool.max_connections_per_origin = 8;
    c.pool.limits.timeout = std::chrono::seconds(60);
    c.token_source.refresh_margin = std::chrono::seconds(1);
    c.token_source.refresh_timeout = lease; // the lease's time to live
    return c;
}

// A Redis store that, with `die`, announces its first lease and then blocks the process (the
// test kills it): the lease is held and never released.
class dying_store : public joinme::store::redis_token_store {
public:
    using redis_token_store::redis_token_store;
    bool die = false;

protected:
    void do_lock(std::string user, std::chrono::milliseconds hold, lock_handler h) override {
        if (!die)
            return redis_token_store::do_lock(std::move(user), hold, std::move(h));
        redis_token_store::do_lock(std::move(user), hold,
                                   [h = std::move(h)](error_code ec, oauth::store_lease l) mutable {
                                       if (!ec) {
                                           std::printf("leased\n");
                                           std::fflush(stdout);
                                           for (;;)
                                               ::pause(); // until SIGKILL
                                       }
                                       std::move(h)(ec, l);
                                   });
    }
};

asio::awaitable<int> authorize(std::string url, joinme::store::redis_options ro,
                               std::size_t users) {
    auto ex = co_await asio::this_coro::executor;
    joinme::store::redis_token_store store(ex, ro);
    api::basic_client<boost::beast::tcp_stream> client(ex, joinme::tcp_context{}, config(url));
    for (std::size_t i = 0; i < users; ++i) {
        oauth::authorization_options opts;
        opts.scopes = oauth::scope_set::parse("user_info");
        auto cfg = client.config().oauth;
        auto sent = oauth::make_authorization_request(cfg, opts);
        boost::urls::url target = boost::urls::parse_absolute_uri(sent.url).value();
        target.params().append({"user", user_name(i)});
        error_code ec;
        auto origin = joinme::origin_of(target, ec);
        joinme::http::request req(boost::beast::http::verb::get, target.encoded_target(), 11);
        joinme::http::response res;
        ec = co_await client.pool().co_request(origin, std::move(req), res);
        if (ec || res.result_int() != 302) {
            std::cerr << "authorize " << user_name(i) << ": " << ec.message() << "\n";
            co_return 1;
        }
        auto r = oauth::parse_redirect(res[boost::beast::http::field::location], sent,
                                       std::chrono::system_clock::now());
        auto [xec, t] = co_await oauth::async_exchange_code(client.pool(), cfg, sent, r,
                                                            asio::as_tuple(asio::use_awaitable));
        if (xec) {
            std::cerr << "exchange " << user_name(i) << ": " << xec.message() << "\n";
            co_return 1;
        }
        auto [sec, v] =
            co_await store.async_save(user_name(i), t, 0, asio::as_tuple(asio::use_awaitable));
        if (sec) {
            std::cerr << "save: " << sec.message() << " " << store.last_error() << "\n";
            co_return 1;
        }
    }
    co_return 0;
}

struct tally {
    std::size_t calls = 0, errors = 0;
    std::map<std::string, std::size_t> by_kind;
    std::string first_error;
    double last_error_at = -1; // seconds since the start
    clock_type::time_point start = clock_type::now();
};

asio::awaitable<void> caller(std::vector<std::unique_ptr<api::any_client>>& clients,
                             std::size_t first, clock_type::time_point end, tally& t) {
    for (std::size_t i = first; clock_type::now() < end; i += 7) {
        auto& c = *clients[i % clients.size()];
        joinme::diagnostics d;
        auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
        ++t.calls;
        if (ec) {
            ++t.errors;
            ++t.by_kind[ec.category().name() + std::string(":") + ec.message()];
            if (t.first_error.empty())
                t.first_error = ec.message() + " (" + d.client_message + ")";
            t.last_error_at = std::chrono::duration<double>(clock_type::now() - t.start).count();
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() < 5) {
        std::cerr << "usage: see tests/redis/worker.cpp\n";
        return 2;
    }
    asio::io_context ioc;
    std::string url = a[1];
    joinme::store::redis_options ro;
    ro.port = static_cast<unsigned short>(std::stoi(a[2]));
    ro.prefix = a[3];
    ro.reconnect_max = std::chrono::milliseconds(500);
    std::size_t users = std::stoul(a[4]);
    if (a[0] == "authorize") {
        int rc = 1;
        asio::co_spawn(ioc, authorize(url, ro, users),
                       [&](std::exception_ptr e, int r) { rc = e ? 1 : r; });
        ioc.run();
        return rc;
    }
    if (a[0] != "run" || a.size() < 7)
        return 2;
    std::size_t concurrency = std::stoul(a[5]);
    auto seconds = std::stod(a[6]);
    auto store = std::make_shared<dying_store>(ioc.get_executor(), ro);
    auto lease = std::chrono::milliseconds(2000);
    for (std::size_t i = 7; i < a.size(); ++i) {
        if (a[i] == "die-after-lease")
            store->die = true;
        else if (a[i].starts_with("lease-ms="))
            lease = std::chrono::milliseconds(std::stol(a[i].substr(9)));
    }
    api::basic_client<boost::beast::tcp_stream> first(ioc.get_executor(), joinme::tcp_context{},
                                                      config(url));
    std::vector<std::unique_ptr<api::any_client>> clients;
    for (std::size_t i = 0; i < users; ++i) {
        auto c = config(url, lease);
        c.token_source.store = store;
        c.token_source.user = user_name(i);
        clients.push_back(std::make_unique<api::any_client>(first.shared_pool(), c));
    }
    tally t;
    auto end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                       std::chrono::duration<double>(seconds));
    std::size_t running = concurrency;
    asio::steady_timer drain(ioc);
    for (std::size_t i = 0; i < concurrency; ++i)
        asio::co_spawn(ioc, caller(clients, i, end, t), [&](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
            if (--running > 0)
                return;
            // A refresh started in the background by the last calls finishes (and is saved)
            // before the process ends; then stop: the pool and the store would run on.
            drain.expires_after(std::chrono::seconds(2));
            drain.async_wait([&](error_code) { ioc.stop(); });
        });
    ioc.run();
    std::size_t refreshes = 0;
    for (auto& c : clients)
        refreshes += c->token_source().stats().refresh_requests;
    boost::json::object kinds;
    for (auto& [k, n] : t.by_kind)
        kinds[k] = n;
    boost::json::object out{{"calls", t.calls},
                            {"errors", t.errors},
                            {"kinds", std::move(kinds)},
                            {"first_error", t.first_error},
                            {"last_error_at", t.last_error_at},
                            {"refresh_requests", refreshes},
                            {"seconds", seconds}};
    std::cout << boost::json::serialize(out) << std::endl;
    return 0;
}
