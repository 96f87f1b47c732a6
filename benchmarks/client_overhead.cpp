// basic_client against any_client per call (they run the same code: the stream is erased at
// the pool, so the ratio should be 1): the same GET /v1/user, N times in sequence on one
// kept-alive in-memory connection to the sandbox, alternating rounds in one process. Reports CPU
// time per call of each and the ratio (median of the rounds). The sandbox's own work is part of
// both figures.
#include <joinme/api/client.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#include <joinme/transport/test_stream.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

namespace asio = boost::asio;
namespace api = joinme::api;
using memory_client = api::basic_client<boost::beast::test::stream>;

namespace {

double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `work` to completion. Kept-alive connections keep the io_context busy forever, so it
// is run one handler at a time until `work` is done.
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

template <class Client>
double per_call(asio::io_context& ioc, Client& client, int calls) {
    double start = cpu_seconds();
    run(ioc, [](Client& c, int n) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i)
            co_await c.async_get_user();
    }(client, calls));
    return (cpu_seconds() - start) / calls;
}

} // namespace

int main(int argc, char** argv) {
    const int calls = argc > 1 ? std::atoi(argv[1]) : 5000;
    const int rounds = 7;
    asio::io_context ioc;
    joinme::sandbox::options opts;
    opts.auto_consent = true;
    joinme::sandbox::server sandbox(ioc.get_executor(), opts);

    // The sandbox answers every path on the in-memory connection, whatever the host.
    const std::string base = "https://sandbox.invalid";
    api::client_config cfg;
    cfg.set_base_url(base);
    cfg.oauth.client_id = joinme::sandbox::default_client_id;
    cfg.oauth.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
    cfg.oauth.redirect_uri = "http://127.0.0.1/callback";
    memory_client typed(ioc.get_executor(), sandbox.in_memory_connector(), cfg);

    // A token through the code flow (the sandbox consents by itself).
    joinme::oauth::authorization_options auth;
    auth.scopes = joinme::oauth::scope_set::parse("user_info");
    auto sent = joinme::oauth::make_authorization_request(cfg.oauth, auth);
    joinme::oauth::token token;
    run(ioc, [&]() -> asio::awaitable<void> {
        joinme::http::request req;
        req.version(11);
        auto res = co_await typed.pool().async_request(
            boost::beast::http::verb::get, boost::urls::url_view(sent.url), std::move(req));
        auto redirect = joinme::oauth::parse_redirect(res[boost::beast::http::field::location],
                                                      sent, std::chrono::system_clock::now());
        token = co_await joinme::oauth::async_exchange_code(typed.pool(), cfg.oauth, redirect.code,
                                                            {}, auth.scopes);
    }());
    typed.set_token(token);
    auto erased =
        api::make_any_client(memory_client(ioc.get_executor(), sandbox.in_memory_connector(), cfg));
    erased.set_token(token);

    per_call(ioc, typed, 200); // warm up both
    per_call(ioc, erased, 200);
    std::vector<double> t, e, ratio;
    for (int r = 0; r < rounds; ++r) {
        t.push_back(per_call(ioc, typed, calls));
        e.push_back(per_call(ioc, erased, calls));
        ratio.push_back(e.back() / t.back());
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("basic_client  %.2f us CPU per call\n", median(t) * 1e6);
    std::printf("any_client    %.2f us CPU per call\n", median(e) * 1e6);
    std::printf("any_client / basic_client: %.3f (median of %d rounds of %d calls)\n",
                median(ratio), rounds, calls);
    sandbox.stop();
    typed.close();
    erased.close();
    ioc.run();
}
