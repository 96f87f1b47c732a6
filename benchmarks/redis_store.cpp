// The Redis token store against the in-memory store, in one process: a redis-server of its own
// on a free loopback port (AOF, fsync always, as the tests run it) and the in-process sandbox
// over loopback TCP. For each store, alternating rounds:
//   - lookup: async_get_token with a valid token (what every API call does first), per call;
//   - call: GET /v1/user through the client, per call;
//   - refresh: async_force_refresh, the whole refresh path (with a store: lock, read, token
//     request, compare-and-swap save, unlock), per refresh.
// Prints the medians of the rounds and the ratios redis / memory as one JSON line.
//
//   joinme-bench-redis [--quick] [--everysec]
//
// --everysec runs Redis with `appendfsync everysec` instead of `always`: the refresh path's
// save and unlock then no longer wait for the disk.
#include <joinme/api/client.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#include <joinme/store/redis.hpp>
#include <joinme/transport/tcp.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
namespace sandbox = joinme::sandbox;
using tcp_client = api::basic_client<boost::beast::tcp_stream>;
using wall = std::chrono::steady_clock;

namespace {

void run(asio::io_context& ioc, asio::awaitable<void> work) {
    bool done = false;
    asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e) {
        done = true;
        if (e)
            std::rethrow_exception(e);
    });
    while (!done)
        ioc.run_one();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

unsigned short free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::address_v4::loopback(), 0});
    return a.local_endpoint().port();
}

struct redis_process {
    std::string dir;
    unsigned short port = free_port();
    pid_t pid = -1;
    explicit redis_process(const char* fsync) {
        std::string t = (std::filesystem::temp_directory_path() / "joinme-bench-XXXXXX").string();
        if (!::mkdtemp(t.data()))
            throw std::runtime_error("mkdtemp");
        dir = t;
        pid = ::fork();
        if (pid == 0) {
            std::string p = std::to_string(port);
            ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1",
                     "--appendonly", "yes", "--appendfsync", fsync, "--dir", dir.c_str(),
                     "--save", "", "--logfile", (dir + "/redis.log").c_str(), nullptr);
            ::_exit(127);
        }
        for (int i = 0; i < 500; ++i) {
            asio::io_context ioc;
            asio::ip::tcp::socket s(ioc);
            boost::system::error_code ec;
            s.connect({asio::ip::address_v4::loopback(), port}, ec);
            if (!ec)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        throw std::runtime_error("redis-server did not start (is it installed?)");
    }
    ~redis_process() {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
        std::filesystem::remove_all(dir);
    }
};

api::client_config config(const sandbox::server& srv, std::shared_ptr<oauth::token_store> store) {
    api::client_config c;
    c.set_base_url(srv.base_url());
    c.oauth.client_id = std::string(sandbox::default_client_id);
    c.oauth.client_secret = joinme::secret(std::string(sandbox::default_client_secret));
    c.oauth.redirect_uri = "http://127.0.0.1/callback";
    c.token_source.store = std::move(store);
    c.token_source.user = "pro@example.com";
    return c;
}

asio::awaitable<void> login(tcp_client& client) {
    oauth::authorization_options opts;
    opts.scopes = oauth::scope_set::parse("user_info");
    auto cfg = client.config().oauth;
    auto sent = oauth::make_authorization_request(cfg, opts);
    auto url = boost::urls::parse_absolute_uri(sent.url).value();
    joinme::error_code ec;
    auto origin = joinme::origin_of(url, ec);
    joinme::http::request req(boost::beast::http::verb::get, url.encoded_target(), 11);
    joinme::http::response res;
    ec = co_await client.pool().co_request(origin, std::move(req), res);
    auto r = oauth::parse_redirect(res[boost::beast::http::field::location], sent,
                                   std::chrono::system_clock::now());
    auto t = co_await oauth::async_exchange_code(client.pool(), cfg, sent, r);
    client.set_token(t);
    co_await client.async_get_user(); // saves it
}

struct figures {
    std::vector<double> lookup_ns, call_us, refresh_us;
};

void round(asio::io_context& ioc, tcp_client& c, int lookups, int calls, int refreshes,
           figures& f) {
    auto t0 = wall::now();
    run(ioc, [](tcp_client& c, int n) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i)
            co_await c.token_source().async_get_token();
    }(c, lookups));
    auto t1 = wall::now();
    run(ioc, [](tcp_client& c, int n) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i)
            co_await c.async_get_user();
    }(c, calls));
    auto t2 = wall::now();
    run(ioc, [](tcp_client& c, int n) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
            auto current = c.token_source().current_token()->access_token;
            co_await c.token_source().async_force_refresh(current);
        }
    }(c, refreshes));
    auto t3 = wall::now();
    using d = std::chrono::duration<double, std::micro>;
    f.lookup_ns.push_back(d(t1 - t0).count() * 1000 / lookups);
    f.call_us.push_back(d(t2 - t1).count() / calls);
    f.refresh_us.push_back(d(t3 - t2).count() / refreshes);
}

} // namespace

int main(int argc, char** argv) {
    bool quick = false, everysec = false;
    for (int i = 1; i < argc; ++i) {
        quick = quick || std::string(argv[i]) == "--quick";
        everysec = everysec || std::string(argv[i]) == "--everysec";
    }
    const int rounds = quick ? 1 : 7, lookups = quick ? 2000 : 200000, calls = quick ? 50 : 2000,
              refreshes = quick ? 10 : 200;
    redis_process redis(everysec ? "everysec" : "always");
    asio::io_context ioc;
    sandbox::options so;
    so.auto_consent = true;
    sandbox::server srv(ioc.get_executor(), so);
    srv.listen_tcp();
    joinme::store::redis_options ro;
    ro.port = redis.port;
    auto memory = std::make_shared<oauth::memory_token_store>(ioc.get_executor());
    auto redis_store = std::make_shared<joinme::store::redis_token_store>(ioc.get_executor(), ro);
    tcp_client a(ioc.get_executor(), joinme::tcp_context{}, config(srv, memory));
    tcp_client b(ioc.get_executor(), joinme::tcp_context{}, config(srv, redis_store));
    run(ioc, login(a));
    run(ioc, login(b));
    figures fm, fr;
    for (int i = 0; i < rounds; ++i) {
        round(ioc, a, lookups, calls, refreshes, fm);
        round(ioc, b, lookups, calls, refreshes, fr);
    }
    double lm = median(fm.lookup_ns), lr = median(fr.lookup_ns), cm = median(fm.call_us),
           cr = median(fr.call_us), rm = median(fm.refresh_us), rr = median(fr.refresh_us);
    std::printf("{\"appendfsync\":\"%s\",\"rounds\":%d,"
                "\"lookup_ns\":{\"memory\":%.1f,\"redis\":%.1f,\"ratio\":%.2f},"
                "\"call_us\":{\"memory\":%.1f,\"redis\":%.1f,\"ratio\":%.2f},"
                "\"refresh_us\":{\"memory\":%.1f,\"redis\":%.1f,\"ratio\":%.2f}}\n",
                everysec ? "everysec" : "always", rounds, lm, lr, lr / lm, cm, cr, cr / cm, rm, rr, rr / rm);
    return 0;
}
