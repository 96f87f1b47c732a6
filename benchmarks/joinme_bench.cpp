// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// joinme-bench: GET /v1/user through joinme and through a hand-written Boost.Beast client, the
// baseline every ratio is measured against. Both are compiled in this one translation unit
// with the same flags and run on a single-threaded io_context.
//
//   joinme-bench --client joinme|joinme-any|beast|beast-min --scenario S --url BASE ...
//       one measured run of one client; prints one JSON line (see common/measure.hpp)
//   joinme-bench --json --url BASE [--scenario S] [--reps N] ...
//       runs the three clients in turn, N times, and prints per scenario one JSON object with
//       each client's medians and its ratio_vs_beast
//
// Scenarios: sequential (one kept-alive connection), concurrent (--concurrency calls in
// flight over --connections connections), cold (connect + handshake + one call, each time
// anew), startup (process start to the first answer: the TLS context made, one connection, one
// call; Beast trusts only --cafile, joinme the system's CAs as well, as it does by default;
// benchmarks/run starts the process and reads "answer_at_ns"), refresh_storm (against the
// sandbox: every call starts with an expired token; joinme refreshes it once; the baseline is
// the least work possible: one refresh, then the calls).
#include "common/measure.hpp"
#include "common/user_fields.hpp"

#include <joinme/api/any_client.hpp>
#include <joinme/api/client.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/sandbox/options.hpp>
#include <joinme/src.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/tls.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <map>
#include <memory>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using clock_type = std::chrono::steady_clock;
template <class T>
using awaitable = asio::awaitable<T>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

// Where the server is, parsed once.
struct target {
    std::string host;
    std::string port;
    tcp::endpoint endpoint;
    std::string base_path; // before /v1/...
    bool tls = false;

    static target parse(const std::string& url) {
        auto u = boost::urls::parse_uri(url).value();
        target t;
        t.tls = u.scheme() == "https";
        t.host = u.host();
        t.port = u.has_port() ? std::string(u.port()) : t.tls ? "443" : "80";
        t.endpoint = tcp::endpoint(asio::ip::make_address(t.host),
                                   static_cast<unsigned short>(std::stoi(t.port)));
        t.base_path = u.path();
        if (!t.base_path.empty() && t.base_path.back() == '/')
            t.base_path.pop_back();
        return t;
    }
};

// What every client does with a user, so that no parse can be optimised away.
std::size_t checksum = 0;
void consume(const std::string& a, const std::string& b, std::int64_t n) {
    checksum += a.size() + b.size() + static_cast<std::size_t>(n);
}

// Runs `work` to completion on `ioc`. Idle kept-alive connections have no pending operation,
// so run() returns once the work is done.
void run_to_end(asio::io_context& ioc, awaitable<void> work) {
    std::exception_ptr error;
    asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e) { error = e; });
    ioc.restart();
    ioc.run();
    if (error)
        std::rethrow_exception(error);
}

// Runs `calls` calls, `in_flight` at a time; `call()` returns whether the call succeeded.
// Each call's latency is recorded when `run` is given.
template <class Call>
awaitable<void> drive(Call& call, int calls, int in_flight, bench::run* run) {
    int issued = 0;
    auto worker = [&]() -> awaitable<void> {
        while (issued < calls) {
            ++issued;
            auto start = clock_type::now();
            bool ok = co_await call();
            if (run) {
                run->record(clock_type::now() - start);
                if (!ok)
                    run->error();
            }
        }
    };
    auto ex = co_await asio::this_coro::executor;
    // One coroutine per in-flight call; wait for all of them with a counter.
    int running = std::min(in_flight, calls);
    if (running <= 0) // `--warmup 0`: nothing to wait for
        co_return;
    asio::steady_timer all_done(ex, clock_type::time_point::max());
    for (int i = 0; i < std::min(in_flight, calls); ++i)
        asio::co_spawn(ex, worker(), [&](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
            if (--running == 0)
                all_done.cancel();
        });
    co_await all_done.async_wait(tuple_awaitable);
}

// ---------------------------------------------------------------------------------------------
// The baselines: Beast by hand, as a careful engineer writes it. One connection keeps its read
// buffer; each call writes the request, reads the whole response and parses it with
// Boost.JSON. "beast" builds its request every call and sets a 30 s deadline on the socket
// around it; "beast-min", the floor a client with Beast can reach, writes one request built
// once and sets no deadline.

template <class Stream>
struct beast_connection {
    Stream stream;
    beast::flat_buffer buffer;
};

template <class Stream>
struct beast_client {
    const target& where;
    asio::ssl::context* ssl; // null for plain TCP
    std::string bearer;
    bool minimal = false; // beast-min: the request built once, no deadline
    bhttp::request<bhttp::empty_body> prebuilt{};

    beast_client(const target& w, asio::ssl::context* s, std::string b, bool min)
        : where(w)
        , ssl(s)
        , bearer(std::move(b))
        , minimal(min)
        , prebuilt(request()) {}

    bhttp::request<bhttp::empty_body> request() const {
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, where.base_path + "/v1/user", 11);
        req.set(bhttp::field::host, where.host);
        req.set(bhttp::field::authorization, "Bearer " + bearer);
        return req;
    }

    std::unique_ptr<beast_connection<Stream>> make(asio::any_io_executor ex) const {
        if constexpr (std::is_same_v<Stream, tls_stream>)
            return std::make_unique<beast_connection<Stream>>(Stream(ex, *ssl));
        else
            return std::make_unique<beast_connection<Stream>>(Stream(ex));
    }

    awaitable<bool> connect(beast_connection<Stream>& c) const {
        auto& tcp_layer = beast::get_lowest_layer(c.stream);
        tcp_layer.expires_after(std::chrono::seconds(30));
        auto [ec] = co_await tcp_layer.async_connect(where.endpoint, tuple_awaitable);
        if (ec)
            co_return false;
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            // An IP literal is no SNI name; the certificate is checked against it.
            c.stream.set_verify_mode(asio::ssl::verify_peer);
            c.stream.set_verify_callback(asio::ssl::host_name_verification(where.host));
            auto [hec] =
                co_await c.stream.async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
            if (hec)
                co_return false;
        }
        tcp_layer.expires_never();
        co_return true;
    }

    awaitable<bool> get_user(beast_connection<Stream>& c) const {
        auto& tcp_layer = beast::get_lowest_layer(c.stream);
        boost::system::error_code wec;
        if (minimal) {
            std::tie(wec, std::ignore) =
                co_await bhttp::async_write(c.stream, prebuilt, tuple_awaitable);
        } else {
            auto req = request();
            tcp_layer.expires_after(std::chrono::seconds(30));
            std::tie(wec, std::ignore) =
                co_await bhttp::async_write(c.stream, req, tuple_awaitable);
        }
        if (wec)
            co_return false;
        bhttp::response<bhttp::string_body> res;
        auto [rec, rn] = co_await bhttp::async_read(c.stream, c.buffer, res, tuple_awaitable);
        if (!minimal)
            tcp_layer.expires_never();
        if (rec || res.result() != bhttp::status::ok)
            co_return false;
        boost::system::error_code jec;
        auto jv = boost::json::parse(res.body(), jec);
        if (jec)
            co_return false;
        auto u = boost::json::try_value_to<bench::user_fields>(jv);
        if (!u)
            co_return false;
        consume(u->email, u->full_name, u->meetings_hosted);
        co_return true;
    }
};

// A fixed set of connections handed out through a channel: the usual hand-written pool.
template <class Stream>
struct beast_pool {
    using connection = beast_connection<Stream>;
    std::vector<std::unique_ptr<connection>> all;
    asio::experimental::channel<void(boost::system::error_code, connection*)> idle;

    beast_pool(asio::any_io_executor ex, std::size_t n) : idle(ex, n) {}

    awaitable<void> open(const beast_client<Stream>& client, int n) {
        for (int i = 0; i < n; ++i) {
            all.push_back(client.make(idle.get_executor()));
            if (!co_await client.connect(*all.back()))
                throw std::runtime_error("beast: cannot connect");
            idle.try_send(boost::system::error_code{}, all.back().get());
        }
    }

    // Takes a connection, runs `f` on it, gives it back.
    template <class F>
    awaitable<bool> with_connection(F f) {
        auto [ec, c] = co_await idle.async_receive(tuple_awaitable);
        if (ec)
            co_return false;
        bool ok = co_await f(*c);
        idle.try_send(boost::system::error_code{}, c);
        co_return ok;
    }
};

// POSTs the refresh grant and returns the new access token: the least a client must do to
// replace an expired token.
template <class Stream>
awaitable<std::string> beast_refresh(beast_connection<Stream>& c, const target& token_endpoint,
                                     const std::string& token_path, const std::string& refresh) {
    bhttp::request<bhttp::string_body> req(bhttp::verb::post, token_path, 11);
    req.set(bhttp::field::host, token_endpoint.host);
    req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    boost::urls::url form;
    form.params().append({"grant_type", "refresh_token"});
    form.params().append({"client_id", joinme::sandbox::default_client_id});
    form.params().append({"client_secret", joinme::sandbox::default_client_secret});
    form.params().append({"refresh_token", refresh});
    req.body() = form.encoded_query();
    req.prepare_payload();
    co_await bhttp::async_write(c.stream, req, asio::use_awaitable);
    bhttp::response<bhttp::string_body> res;
    co_await bhttp::async_read(c.stream, c.buffer, res, asio::use_awaitable);
    if (res.result() != bhttp::status::ok)
        throw std::runtime_error("beast: refresh failed");
    co_return std::string(boost::json::parse(res.body()).at("access_token").as_string());
}

// ---------------------------------------------------------------------------------------------
// joinme

template <class Stream>
struct joinme_setup {
    using client_type = api::basic_client<Stream>;
    const target& where;
    asio::ssl::context* ssl;

    typename client_type::context_type context() const {
        if constexpr (std::is_same_v<Stream, tls_stream>)
            return joinme::tls_context(*ssl);
        else
            return joinme::tcp_context{};
    }

    api::client_config config(const std::string& url, int connections) const {
        api::client_config cfg;
        cfg.set_base_url(url);
        cfg.pool.max_connections_per_origin = static_cast<std::size_t>(connections);
        cfg.oauth.client_id = joinme::sandbox::default_client_id;
        cfg.oauth.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
        cfg.oauth.redirect_uri = "http://127.0.0.1/callback";
        return cfg;
    }

    client_type make(asio::any_io_executor ex, const std::string& url, int connections) const {
        return client_type(std::move(ex), context(), config(url, connections));
    }
};

oauth::token fixed_token(const std::string& access) {
    oauth::token t;
    t.access_token = joinme::secret(access);
    return t;
}

template <class Client>
auto joinme_call(Client& client) {
    return [&client]() -> awaitable<bool> {
        joinme::diagnostics diag;
        auto [ec, u] = co_await client.async_get_user(diag, tuple_awaitable);
        if (ec)
            co_return false;
        consume(u.email, u.full_name, u.number_of_meetings_hosted);
        co_return true;
    };
}

// The same call with the default token, as a user writes it: a failure throws.
template <class Client>
auto joinme_default_call(Client& client) {
    return [&client]() -> awaitable<bool> {
        try {
            auto u = co_await client.async_get_user();
            consume(u.email, u.full_name, u.number_of_meetings_hosted);
            co_return true;
        } catch (const joinme::error_with_diagnostics&) {
            co_return false;
        }
    };
}

// A token from the sandbox through the code flow (it consents by itself with --auto-consent).
template <class Stream>
awaitable<oauth::token> sandbox_token(api::basic_client<Stream>& client) {
    const auto& cfg = client.config().oauth;
    oauth::authorization_options auth;
    auth.scopes = oauth::scope_set::parse("user_info");
    auto sent = oauth::make_authorization_request(cfg, auth);
    joinme::http::request req;
    req.version(11);
    auto res = co_await client.pool().async_request(
        bhttp::verb::get, boost::urls::url_view(sent.url), std::move(req));
    auto redirect =
        oauth::parse_redirect(res[bhttp::field::location], sent, std::chrono::system_clock::now());
    co_return co_await oauth::async_exchange_code(client.pool(), cfg, redirect.code, {},
                                                  auth.scopes);
}

// ---------------------------------------------------------------------------------------------
// Scenarios of one client: each returns the measured run.

template <class Stream>
struct bench_program {
    const bench::options& o;
    const target where;
    asio::ssl::context* ssl;

    bool is_beast() const { return o.client == "beast" || o.client == "beast-min"; }
    beast_client<Stream> baseline() const { return {where, ssl, o.token, o.client == "beast-min"}; }
    joinme_setup<Stream> joinme_side() const { return {where, ssl}; }

    bench::run run_client() {
        if (o.scenario == "sequential")
            return sequential();
        if (o.scenario == "concurrent")
            return concurrent();
        if (o.scenario == "cold")
            return cold();
        if (o.scenario == "startup")
            return startup();
        if (o.scenario == "refresh_storm")
            return refresh_storm();
        throw std::runtime_error("unknown scenario " + o.scenario);
    }

    // Warm up, then measure `calls` calls of `call`, `in_flight` at a time.
    template <class Call>
    bench::run measure(asio::io_context& ioc, Call& call, int in_flight) {
        bench::run run;
        run_to_end(ioc, drive(call, o.warmup_calls(), in_flight, nullptr));
        run.start();
        run_to_end(ioc, drive(call, o.calls, in_flight, &run));
        run.finish(o.calls);
        return run;
    }

    template <class F>
    bench::run with_joinme_client(int connections, F f) {
        asio::io_context ioc(1);
        auto client = joinme_side().make(ioc.get_executor(), o.url, connections);
        client.set_token(fixed_token(o.token));
        bench::run run;
        if (o.client == "joinme-any") {
            auto erased = api::make_any_client(std::move(client));
            auto call = joinme_call(erased);
            run = f(ioc, call);
            erased.close();
        } else if (o.client == "joinme-default") {
            auto call = joinme_default_call(client);
            run = f(ioc, call);
            client.close();
        } else {
            auto call = joinme_call(client);
            run = f(ioc, call);
            client.close();
        }
        ioc.restart();
        ioc.run();
        return run;
    }

    bench::run sequential() {
        if (is_beast()) {
            asio::io_context ioc(1);
            auto bc = baseline();
            auto conn = bc.make(ioc.get_executor());
            run_to_end(ioc, [&]() -> awaitable<void> {
                if (!co_await bc.connect(*conn))
                    throw std::runtime_error("beast: cannot connect");
            }());
            auto call = [&]() { return bc.get_user(*conn); };
            return measure(ioc, call, 1);
        }
        return with_joinme_client(
            1, [&](asio::io_context& ioc, auto& call) { return measure(ioc, call, 1); });
    }

    bench::run concurrent() {
        if (is_beast()) {
            asio::io_context ioc(1);
            auto bc = baseline();
            beast_pool<Stream> pool(ioc.get_executor(), static_cast<std::size_t>(o.connections));
            run_to_end(ioc, pool.open(bc, o.connections));
            auto call = [&]() {
                return pool.with_connection([&](auto& c) { return bc.get_user(c); });
            };
            return measure(ioc, call, o.concurrency);
        }
        return with_joinme_client(o.connections, [&](asio::io_context& ioc, auto& call) {
            return measure(ioc, call, o.concurrency);
        });
    }

    // A call from nothing: a new client (joinme) or connection (Beast), torn down after.
    std::function<awaitable<bool>()> cold_call() {
        if (is_beast()) {
            return [this]() -> awaitable<bool> {
                auto bc = baseline();
                auto conn = bc.make(co_await asio::this_coro::executor);
                if (!co_await bc.connect(*conn))
                    co_return false;
                co_return co_await bc.get_user(*conn);
            };
        } else {
            return [this]() -> awaitable<bool> {
                auto client = joinme_side().make(co_await asio::this_coro::executor, o.url, 1);
                client.set_token(fixed_token(o.token));
                bool ok = false;
                if (o.client == "joinme-any") {
                    auto erased = api::make_any_client(std::move(client));
                    ok = co_await joinme_call(erased)();
                } else {
                    ok = co_await joinme_call(client)();
                }
                co_return ok;
            };
        }
    }

    bench::run cold() {
        asio::io_context ioc(1);
        auto call = cold_call();
        return measure(ioc, call, 1);
    }

    // One call, measured from the start of the process (CPU and allocations included).
    bench::run startup() {
        bench::run run;
        run.start_at_process_start();
        asio::io_context ioc(1);
        auto call = cold_call();
        run_to_end(ioc, drive(call, 1, 1, &run));
        run.finish(1);
        auto at = std::chrono::duration_cast<std::chrono::nanoseconds>(
            clock_type::now().time_since_epoch());
        run.extra = ",\"answer_at_ns\":" + std::to_string(at.count());
        return run;
    }

    // 10,000 calls at once with an expired token, against the sandbox.
    bench::run refresh_storm() {
        asio::io_context ioc(1);
        int token_requests = 0;
        auto setup = joinme_side();
        auto cfg = setup.config(o.url, o.connections);
        const std::string token_path = where.base_path + "/api/public/v1/auth/token";
        cfg.pool.on_request = [&](const joinme::http::request_event& ev) {
            token_requests += ev.path == token_path;
        };
        api::basic_client<Stream> client(ioc.get_executor(), setup.context(), cfg);
        oauth::token token;
        run_to_end(ioc, [&]() -> awaitable<void> { token = co_await sandbox_token(client); }());
        token_requests = 0;

        bench::run run;
        if (is_beast()) {
            auto bc = baseline();
            beast_pool<Stream> pool(ioc.get_executor(), static_cast<std::size_t>(o.connections));
            run_to_end(ioc, pool.open(bc, o.connections));
            run.start();
            run_to_end(ioc, [&]() -> awaitable<void> {
                co_await pool.with_connection([&](auto& c) -> awaitable<bool> {
                    bc.bearer =
                        co_await beast_refresh(c, where, token_path, token.refresh_token.reveal());
                    bc.prebuilt = bc.request();
                    co_return true;
                });
                ++token_requests;
                auto call = [&]() {
                    return pool.with_connection([&](auto& c) { return bc.get_user(c); });
                };
                co_await drive(call, o.calls, o.concurrency, &run);
            }());
            run.finish(o.calls);
        } else {
            token.expires_at = std::chrono::floor<std::chrono::seconds>(
                std::chrono::system_clock::now() - std::chrono::hours(1));
            client.set_token(token);
            bench::run* r = &run;
            auto measured = [&](auto call) {
                r->start();
                run_to_end(ioc, drive(call, o.calls, o.concurrency, r));
                r->finish(o.calls);
            };
            if (o.client == "joinme-any") {
                auto erased = api::make_any_client(std::move(client));
                measured(joinme_call(erased));
                erased.close();
            } else if (o.client == "joinme-default") {
                measured(joinme_default_call(client));
            } else {
                measured(joinme_call(client));
            }
        }
        client.close();
        ioc.restart();
        ioc.run();
        run.extra = ",\"token_requests\":" + std::to_string(token_requests);
        return run;
    }
};

bench::run run_one(const bench::options& o, asio::ssl::context& ssl) {
    auto where = target::parse(o.url);
    if (where.tls)
        return bench_program<tls_stream>{o, where, &ssl}.run_client();
    return bench_program<beast::tcp_stream>{o, where, nullptr}.run_client();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// --json: the three clients in turn, `reps` times, per scenario.
int run_json(bench::options o, int reps, asio::ssl::context& ssl) {
    std::vector<std::string> scenarios;
    if (o.scenario.empty())
        scenarios = {"sequential", "concurrent", "cold"};
    else
        scenarios = {o.scenario};
    const std::vector<std::string> clients = {"beast", "beast-min", "joinme", "joinme-any"};
    for (auto& scenario : scenarios) {
        o.scenario = scenario;
        std::map<std::string, std::map<std::string, std::vector<double>>> m;
        for (int r = 0; r < reps; ++r)
            for (auto& client : clients) {
                o.client = client;
                auto run = run_one(o, ssl);
                if (run.errors() > 0) {
                    std::fprintf(stderr, "%s: %d calls failed\n", client.c_str(), run.errors());
                    return 1;
                }
                m[client]["cpu_us_per_call"].push_back(run.cpu_us_per_call());
                m[client]["allocs_per_call"].push_back(run.allocs_per_call());
                m[client]["calls_per_s"].push_back(run.calls_per_s());
            }
        std::string out = "{\"scenario\":\"" + scenario + "\",\"transport\":\"" + o.transport() +
                          "\",\"reps\":" + std::to_string(reps) + ",\"clients\":{";
        std::string ratios = "\"ratio_vs_beast\":{";
        for (std::size_t i = 0; i < clients.size(); ++i) {
            auto& c = clients[i];
            char buf[512];
            std::snprintf(buf, sizeof buf,
                          "%s\"%s\":{\"cpu_us_per_call\":%.3f,\"allocs_per_call\":%.2f,"
                          "\"calls_per_s\":%.1f}",
                          i ? "," : "", c.c_str(), median(m[c]["cpu_us_per_call"]),
                          median(m[c]["allocs_per_call"]), median(m[c]["calls_per_s"]));
            out += buf;
            auto ratio = [&](const char* k) { return median(m[c][k]) / median(m["beast"][k]); };
            std::snprintf(buf, sizeof buf,
                          "%s\"%s\":{\"cpu_us_per_call\":%.3f,\"allocs_per_call\":%.3f,"
                          "\"calls_per_s\":%.3f}",
                          i ? "," : "", c.c_str(), ratio("cpu_us_per_call"),
                          ratio("allocs_per_call"), ratio("calls_per_s"));
            ratios += buf;
        }
        std::printf("%s},%s}}\n", out.c_str(), ratios.c_str());
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    bool json = false;
    int reps = 5;
    std::vector<char*> args{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--json")
            json = true;
        else if (std::string_view(argv[i]) == "--reps" && i + 1 < argc)
            reps = std::atoi(argv[++i]);
        else
            args.push_back(argv[i]);
    }
    bool scenario_given = false;
    for (auto* a : args)
        scenario_given |= std::string_view(a) == "--scenario";
    auto o = bench::options::parse(static_cast<int>(args.size()), args.data());
    if (json && !scenario_given)
        o.scenario.clear();

    // At startup Beast trusts only the test CA; joinme trusts the system's CAs as well, which is
    // its default and what the startup scenario compares.
    bool beast_startup =
        o.scenario == "startup" && (o.client == "beast" || o.client == "beast-min");
    auto ssl = beast_startup ? asio::ssl::context(asio::ssl::context::tls_client)
                             : joinme::make_client_tls_context();
    if (!o.cafile.empty())
        ssl.load_verify_file(o.cafile);
    try {
        if (json)
            return run_json(o, reps, ssl);
        if (o.client != "joinme" && o.client != "joinme-any" && o.client != "joinme-default" &&
            o.client != "beast" && o.client != "beast-min") {
            std::fprintf(
                stderr,
                "--client must be joinme, joinme-any, joinme-default, beast or beast-min\n");
            return 2;
        }
        auto run = run_one(o, ssl);
        std::printf("%s\n", run.json(o).c_str());
        if (run.errors() > 0 || checksum == 0)
            return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "joinme-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
