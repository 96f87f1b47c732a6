// A fleet of processes sharing 20 users' tokens through the Redis store, against a
// joinme-sandbox process (rotation on, 3-second access tokens) and a redis-server the test
// starts: one refresh per user per expiry, and no invalid_grant, with 8 processes of 200
// concurrent calls; a refresher killed (SIGKILL) while it holds the lease; Redis stopped and
// restarted mid-run. Each refresh the sandbox counted for a user must be exactly one saved
// version in Redis: a refresh done twice, or done and lost, breaks that equality.
#include "redis/redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <joinme/store/redis.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#if defined(JOINME_SANDBOX_PROGRAM) && defined(JOINME_REDIS_WORKER)

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr std::size_t users = 20;
constexpr int lifetime = 3; // seconds; a token is refreshed 1 s before its expiry

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Plain HTTP GET on 127.0.0.1:port, the body.
std::string http_get(unsigned short port, const std::string& target) {
    namespace beast = boost::beast;
    boost::asio::io_context ioc;
    beast::tcp_stream s(ioc);
    s.connect({boost::asio::ip::address_v4::loopback(), port});
    beast::http::request<beast::http::empty_body> req(beast::http::verb::get, target, 11);
    req.set(beast::http::field::host, "127.0.0.1");
    beast::http::write(s, req);
    beast::flat_buffer b;
    beast::http::response<beast::http::string_body> res;
    beast::http::read(s, b, res);
    return res.body();
}

struct fleet {
    redis_test::redis_server redis;
    redis_test::temp_dir dir;
    pid_t sandbox = -1;
    std::string url;
    unsigned short sandbox_port = 0;
    std::string prefix = "fleet:";

    fleet() {
        auto out = (dir.path / "sandbox.out").string();
        sandbox = redis_test::spawn({JOINME_SANDBOX_PROGRAM, "--plain", "--quiet",
                                     "--auto-consent", "--users", std::to_string(users),
                                     "--access-token-lifetime", std::to_string(lifetime)},
                                    out);
        for (int i = 0; i < 100 && url.empty(); ++i) {
            std::this_thread::sleep_for(50ms);
            auto text = slurp(out);
            auto at = text.find("listening on ");
            if (at != std::string::npos && text.find('\n', at) != std::string::npos)
                url = text.substr(at + 13, text.find('\n', at) - at - 13);
        }
        REQUIRE_MESSAGE(!url.empty(), "joinme-sandbox did not start");
        sandbox_port = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
        auto rc = redis_test::wait_for(
            redis_test::spawn({JOINME_REDIS_WORKER, "authorize", url, std::to_string(redis.port),
                               prefix, std::to_string(users)},
                              (dir.path / "authorize.out").string()));
        REQUIRE_MESSAGE(rc == 0, slurp(dir.path / "authorize.out"));
    }
    ~fleet() {
        ::kill(sandbox, SIGTERM);
        redis_test::wait_for(sandbox);
    }

    pid_t start_worker(int n, std::size_t concurrency, double seconds, bool die = false,
                       int lease_ms = 2000) {
        std::vector<std::string> argv{JOINME_REDIS_WORKER, "run", url,
                                      std::to_string(redis.port), prefix, std::to_string(users),
                                      std::to_string(concurrency), std::to_string(seconds)};
        if (die)
            argv.push_back("die-after-lease");
        argv.push_back("lease-ms=" + std::to_string(lease_ms));
        return redis_test::spawn(argv, output(n).string());
    }
    std::filesystem::path output(int n) const {
        return dir.path / ("worker" + std::to_string(n) + ".out");
    }
    json::object result(int n) const {
        auto text = slurp(output(n));
        auto v = json::parse(text.substr(text.find('{')));
        return v.as_object();
    }

    json::object counters() {
        return json::parse(http_get(sandbox_port, "/sandbox/counters")).as_object();
    }

    // The version Redis holds for each user.
    std::vector<std::int64_t> versions() {
        std::vector<std::int64_t> out;
        for (std::size_t i = 0; i < users; ++i) {
            auto key = prefix + "token:user" + std::to_string(i + 1) + "@example.com";
            auto cli = redis_test::find_program("redis-cli");
            std::string cmd = cli + " -p " + std::to_string(redis.port) + " HGET " + key +
                              " version";
            FILE* p = ::popen(cmd.c_str(), "r");
            char buf[64] = {};
            auto n = std::fread(buf, 1, sizeof buf - 1, p);
            ::pclose(p);
            out.push_back(std::stoll(std::string(buf, n)));
        }
        return out;
    }

    // Every refresh the sandbox made is one version saved in Redis, for each user; returns the
    // total of refreshes.
    std::int64_t check_refreshes_match_versions() {
        auto c = counters();
        auto& by_user = c.at("refreshes_by_user").as_object();
        auto v = versions();
        std::int64_t total = 0;
        for (std::size_t i = 0; i < users; ++i) {
            auto name = "user" + std::to_string(i + 1) + "@example.com";
            std::int64_t refreshes = by_user.contains(name) ? by_user.at(name).as_int64() : 0;
            CHECK_MESSAGE(refreshes == v[i] - 1, name);
            total += refreshes;
        }
        return total;
    }
};

bool tools_and_redis() {
    return redis_test::have_redis();
}

} // namespace

TEST_CASE("fleet: 8 processes x 200 concurrent calls, 20 users, 4 expiries: one refresh per "
          "user per expiry") {
    if (!tools_and_redis())
        return;
    fleet f;
    constexpr double seconds = 4 * (lifetime - 1) + 0.5; // a refresh every 2 s: 4 rounds
    std::vector<pid_t> workers;
    for (int i = 0; i < 8; ++i)
        workers.push_back(f.start_worker(i, 200, seconds));
    std::int64_t calls = 0, sent = 0;
    for (int i = 0; i < 8; ++i) {
        CHECK(redis_test::wait_for(workers[i]) == 0);
        auto r = f.result(i);
        CHECK_MESSAGE(r.at("errors").as_int64() == 0, json::serialize(r));
        calls += r.at("calls").as_int64();
        sent += r.at("refresh_requests").as_int64();
    }
    auto refreshes = f.check_refreshes_match_versions();
    MESSAGE("calls: " << calls << ", refreshes: " << refreshes << ", sent by the workers: " << sent);
    CHECK(refreshes == sent);
    // 4 refresh periods: 4 refreshes per user (one more if the last one started in time;
    // fewer when a loaded machine starts the processes late), where 8 processes refreshing
    // on their own would make up to 32.
    CHECK(refreshes >= 2 * std::int64_t(users));
    CHECK(refreshes <= 5 * std::int64_t(users));
    CHECK(f.counters().at("requests").at("token").as_int64() ==
          refreshes + std::int64_t(users)); // the refreshes and the 20 code exchanges: no retry
}

TEST_CASE("fleet: a refresher killed with SIGKILL while it holds the lease; another takes over "
          "when the lease expires") {
    if (!tools_and_redis())
        return;
    fleet f;
    auto victim = f.start_worker(99, 20, 60, true);
    std::vector<pid_t> workers;
    for (int i = 0; i < 3; ++i)
        workers.push_back(f.start_worker(i, 50, 9));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (slurp(f.output(99)).find("leased") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    REQUIRE_MESSAGE(slurp(f.output(99)).find("leased") != std::string::npos,
                    "the victim never took a lease");
    ::kill(victim, SIGKILL);
    CHECK(redis_test::wait_for(victim) == -SIGKILL);
    std::int64_t sent = 0;
    for (int i = 0; i < 3; ++i) {
        CHECK(redis_test::wait_for(workers[i]) == 0);
        auto r = f.result(i);
        CHECK_MESSAGE(r.at("errors").as_int64() == 0, json::serialize(r)); // nothing burnt
        sent += r.at("refresh_requests").as_int64();
    }
    auto refreshes = f.check_refreshes_match_versions();
    MESSAGE("refreshes: " << refreshes << ", sent by the survivors: " << sent);
    CHECK(refreshes == sent); // the victim sent none: it died holding the lease
    CHECK(refreshes >= 2 * std::int64_t(users));
}

TEST_CASE("fleet: Redis stopped and restarted mid-run: clear errors while down, recovery "
          "after, no refresh lost or made twice") {
    if (!tools_and_redis())
        return;
    fleet f;
    // The lease (the token source's refresh timeout) outlives the outage: a refresh whose save
    // fails while Redis is down keeps its lease until its token is saved (docs/redis.md).
    std::vector<pid_t> workers;
    for (int i = 0; i < 4; ++i)
        workers.push_back(f.start_worker(i, 50, 14, false, 10000));
    std::this_thread::sleep_for(3s);
    f.redis.stop();
    auto down_at = 3.0;
    std::this_thread::sleep_for(3s);
    f.redis.start();
    auto up_at = 6.0;
    std::int64_t errors = 0, sent = 0;
    for (int i = 0; i < 4; ++i) {
        CHECK(redis_test::wait_for(workers[i]) == 0);
        auto r = f.result(i);
        errors += r.at("errors").as_int64();
        sent += r.at("refresh_requests").as_int64();
        for (auto& [kind, n] : r.at("kinds").as_object()) {
            // The only failure is the store's, said as such; never invalid_grant.
            CHECK_MESSAGE(kind.find("token store") != std::string::npos, kind);
        }
        if (r.at("errors").as_int64() > 0) {
            CHECK(r.at("first_error").as_string().find("cannot be reached") != std::string::npos);
            auto last = r.at("last_error_at").as_double();
            CHECK(last >= down_at - 0.5);
            CHECK(last <= up_at + 3.0); // recovered within the reconnection backoff
        }
    }
    CHECK(errors > 0); // tokens expired while Redis was down
    auto refreshes = f.check_refreshes_match_versions();
    MESSAGE("calls failed while Redis was down: " << errors << ", refreshes: " << refreshes
                                                   << ", sent: " << sent);
    CHECK(refreshes == sent);
}

#else

TEST_CASE("fleet: skipped") {
    MESSAGE("skipped: the fleet tests need the joinme-sandbox program (JOINME_BUILD_TOOLS)");
}

#endif
