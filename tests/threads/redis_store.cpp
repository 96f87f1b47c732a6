// The Redis token store's adapter (hiredis on the Asio executor) on a four-thread io_context,
// through a strand, against a redis-server the test starts: in this program so that the
// ThreadSanitizer build runs it. Built when hiredis is found.
#include "redis/redis_server.hpp"

#include <joinme/store/redis.hpp>

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace oauth = joinme::oauth;
using joinme::store::redis_token_store;
using namespace std::chrono_literals;

TEST_CASE("redis store: the adapter on a four-thread io_context, through a strand") {
    if (!redis_test::have_redis())
        return;
    redis_test::redis_server redis;
    asio::io_context ioc;
    auto strand = asio::make_strand(ioc);
    joinme::store::redis_options o;
    o.port = redis.port;
    o.prefix = "test:";
    auto s = std::make_shared<redis_token_store>(strand, o);
    auto s2 = std::make_shared<redis_token_store>(strand, o);
    std::atomic<int> done{0}, failed{0};
    auto work = [](std::shared_ptr<redis_token_store> s, std::string user, std::atomic<int>& done,
                   std::atomic<int>& failed) -> asio::awaitable<void> {
        for (int i = 0; i < 20; ++i) {
            auto [e1, lease] =
                co_await s->async_lock(user, 5s, asio::as_tuple(asio::use_awaitable));
            auto [e2, got] = co_await s->async_load(user, asio::as_tuple(asio::use_awaitable));
            std::uint64_t v = got ? got->version : 0;
            auto [e3, nv] = co_await s->async_save(
                user, oauth::make_token("A1", "R1", std::chrono::seconds(3600)), v,
                asio::as_tuple(asio::use_awaitable));
            auto [e4] = co_await s->async_unlock(user, lease, asio::as_tuple(asio::use_awaitable));
            if (e1 || e2 || e3 || e4 || nv != v + 1)
                ++failed;
        }
        ++done;
    };
    for (int u = 0; u < 4; ++u) {
        asio::co_spawn(strand, work(s, "u" + std::to_string(u), done, failed), asio::detached);
        asio::co_spawn(strand, work(s2, "u" + std::to_string(u), done, failed), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] { ioc.run_for(30s); });
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (done < 8 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    std::atomic<bool> gone{false};
    asio::post(strand, [&] { // the stores are used from their strand only
        s.reset();
        s2.reset();
        gone = true;
    });
    while (!gone)
        std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(100ms);
    ioc.stop();
    for (auto& t : threads)
        t.join();
    CHECK(done == 8);
    CHECK(failed == 0);
}
