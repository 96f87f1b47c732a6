// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// joinme-soak: a long run of one joinme client against the sandbox with random faults, to
// check that every call ends in success or in the error it should, and that memory stays flat.
//
// The sandbox runs in this process, on the same io_context, over real TCP on 127.0.0.1 (or TLS
// with --tls). One `api::basic_client` signs in through the sandbox's authorize page (it
// consents by itself) and code exchange, schedules one meeting, then makes --calls calls from
// --concurrency coroutines: 80% GET /v1/user, 10% GET /v1/meetings/{id}, 10% PATCH
// /v1/meetings/{id} (not idempotent, so never replayed). The sandbox draws a fault for each
// API request (seeded with --seed): 1% the connection closed instead of an answer (half before
// its first byte, half within its header), 1% a 503 with `Retry-After: 0`, 0.1% an interim
// response (100 or 103) before the answer, 0.1% an unsolicited response after it. Every
// --expire-every calls the access token expires, alternately by moving the clock of the
// sandbox and the client past its lifetime (the client refreshes ahead) and by the sandbox
// revoking it (the API rejects it, the client refreshes and replays the call).
//
// Each call is classified: success (the answer is the expected user or meeting), or one of the
// expected errors, `errc::connection_closed` (a request the client may not send again met a
// closed connection) and `errc::server_error` (503 after the retries, or at once for PATCH).
// Anything else is a failure: an answer that is not the expected one, another error, or more
// expected errors than the sandbox injected faults that could cause them. RSS is read from
// /proc/self/statm after --warmup calls and at the end. The exit status is 1 on any failure or
// when RSS grew by more than --max-rss-growth (default 10%), 2 on a usage error.

#include <joinme/api/client.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/tls.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
namespace sandbox = joinme::sandbox;
using joinme::errc;
using joinme::error_code;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using tcp_stream = beast::tcp_stream;

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

constexpr const char* usage =
    "usage: joinme-soak [--calls N] [--concurrency N] [--seed N] [--warmup N]\n"
    "                   [--expire-every N] [--max-rss-growth R] [--unsolicited-delay MS]\n"
    "                   [--tls] [--json]\n"
    "  --calls N           calls measured (default 200000)\n"
    "  --concurrency N     calls in flight, and connections of the client (default 16)\n"
    "  --seed N            seed of the faults and of the mix of calls (default 1)\n"
    "  --warmup N          calls made before the measure starts (default 10000)\n"
    "  --expire-every N    calls between two expiries of the access token (default 2500)\n"
    "  --max-rss-growth R  largest accepted end/start RSS ratio minus 1 (default 0.10)\n"
    "  --unsolicited-delay MS  send the unsolicited responses MS ms after the answer, not\n"
    "                      with it: a call that reuses the connection meanwhile takes them as\n"
    "                      its answer (HTTP/1.1 cannot tell), which shows as wrong answers\n"
    "  --tls               TLS instead of plain TCP\n"
    "  --json              one JSON object instead of text\n";

struct options {
    std::uint64_t calls = 200'000;
    std::uint64_t concurrency = 16;
    std::uint64_t seed = 1;
    std::uint64_t warmup = 10'000;
    std::uint64_t expire_every = 2'500;
    double max_rss_growth = 0.10;
    std::uint64_t unsolicited_delay_ms = 0;
    bool tls = false;
    bool json = false;
};

[[noreturn]] void usage_error(std::string_view message) {
    std::cerr << "joinme-soak: " << message << "\n" << usage;
    std::exit(2);
}

std::uint64_t number(std::string_view flag, const char* text, std::uint64_t min) {
    char* end = nullptr;
    auto v = std::strtoull(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min)
        usage_error(std::string(flag) + " needs a number of at least " + std::to_string(min));
    return v;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&] {
            if (i + 1 >= argc)
                usage_error(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            std::exit(0);
        } else if (arg == "--calls")
            o.calls = number(arg, value(), 1);
        else if (arg == "--concurrency")
            o.concurrency = number(arg, value(), 1);
        else if (arg == "--seed")
            o.seed = number(arg, value(), 0);
        else if (arg == "--warmup")
            o.warmup = number(arg, value(), 0);
        else if (arg == "--expire-every")
            o.expire_every = number(arg, value(), 1);
        else if (arg == "--max-rss-growth") {
            char* end = nullptr;
            const char* text = value();
            o.max_rss_growth = std::strtod(text, &end);
            if (*text == '\0' || *end != '\0' || !(o.max_rss_growth >= 0))
                usage_error("--max-rss-growth needs a number of at least 0");
        } else if (arg == "--unsolicited-delay")
            o.unsolicited_delay_ms = number(arg, value(), 0);
        else if (arg == "--tls")
            o.tls = true;
        else if (arg == "--json")
            o.json = true;
        else
            usage_error("unknown option " + std::string(arg));
    }
    return o;
}

/// Resident set size in KiB (/proc/self/statm).
long rss_kib() {
    std::ifstream in("/proc/self/statm");
    long size = 0, resident = 0;
    in >> size >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Peak resident set size in KiB (VmHWM of /proc/self/status).
long peak_rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

/// splitmix64: the call mix as a function of the seed and the call's index.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

enum class call_kind { get_user, get_meeting, update_meeting };

/// How calls ended.
struct outcomes {
    std::uint64_t success = 0;
    std::uint64_t connection_closed = 0; ///< expected
    std::uint64_t server_error = 0;      ///< expected
    std::uint64_t wrong_answer = 0;      ///< failure
    std::uint64_t unexpected_error = 0;  ///< failure
    std::uint64_t calls() const {
        return success + connection_closed + server_error + wrong_answer + unexpected_error;
    }
};

struct soak_state {
    const options& o;
    sandbox::server& sb;
    std::shared_ptr<std::chrono::seconds> clock_offset;
    api::user expected_user{};
    std::int64_t meeting_id = 0;
    std::uint64_t next = 0, end = 0;
    std::uint64_t expiries_by_clock = 0, expiries_by_sandbox = 0;
    outcomes out{};
    std::vector<std::string> failures{}; // the first few, for the report
};

void note_failure(soak_state& s, std::uint64_t i, std::string what) {
    if (s.failures.size() < 10)
        s.failures.push_back("call " + std::to_string(i) + ": " + std::move(what));
}

/// Expires the client's access token, alternately by the clock and by the sandbox.
template <class Client>
void expire(soak_state& s, Client& client) {
    if ((s.expiries_by_clock + s.expiries_by_sandbox) % 2 == 0) {
        *s.clock_offset += s.sb.config().access_token_lifetime;
        ++s.expiries_by_clock;
    } else if (auto& t = client.token_source().current_token()) {
        if (s.sb.expire_access_token(t->access_token.reveal()))
            ++s.expiries_by_sandbox;
    }
}

template <class Client>
asio::awaitable<void> one_call(soak_state& s, Client& client, std::uint64_t i) {
    joinme::diagnostics diag;
    error_code ec;
    std::string wrong;
    const auto r = mix(s.o.seed ^ (i * 0x2545f4914f6cdd1dULL)) % 10;
    const auto kind = r < 8    ? call_kind::get_user
                      : r == 8 ? call_kind::get_meeting
                               : call_kind::update_meeting;
    if (kind == call_kind::get_user) {
        auto [e, u] = co_await client.async_get_user(diag, tuple_awaitable);
        ec = e;
        if (!ec && !(u == s.expected_user))
            wrong = "GET /v1/user answered the user " + u.email + " <" + u.full_name + ">";
    } else if (kind == call_kind::get_meeting) {
        auto [e, m] = co_await client.async_get_meeting(s.meeting_id, diag, tuple_awaitable);
        ec = e;
        if (!ec && (m.meeting_id != s.meeting_id || !m.meeting_name.starts_with("soak")))
            wrong = "GET /v1/meetings/" + std::to_string(s.meeting_id) + " answered meeting " +
                    std::to_string(m.meeting_id) + " \"" + m.meeting_name + "\"";
    } else {
        api::meeting_patch patch;
        patch.meeting_name = "soak " + std::to_string(i);
        auto [e, m] =
            co_await client.async_update_meeting(s.meeting_id, patch, diag, tuple_awaitable);
        ec = e;
        if (!ec && (m.meeting_id != s.meeting_id || m.meeting_name != *patch.meeting_name))
            wrong = "PATCH /v1/meetings/" + std::to_string(s.meeting_id) + " answered meeting " +
                    std::to_string(m.meeting_id) + " \"" + m.meeting_name + "\"";
    }
    if (!ec && wrong.empty()) {
        ++s.out.success;
    } else if (!ec) {
        ++s.out.wrong_answer;
        note_failure(s, i, wrong);
    } else if (ec == errc::connection_closed) {
        ++s.out.connection_closed;
    } else if (ec == errc::server_error) {
        ++s.out.server_error;
    } else {
        ++s.out.unexpected_error;
        std::ostringstream os;
        os << "error " << ec.category().name() << ":" << ec.value() << " " << ec.message() << " ("
           << diag << ")";
        note_failure(s, i, os.str());
    }
}

template <class Client>
asio::awaitable<void> worker(soak_state& s, Client& client) {
    while (s.next < s.end) {
        const auto i = s.next++;
        if (i > 0 && i % s.o.expire_every == 0)
            expire(s, client);
        co_await one_call(s, client, i);
    }
}

/// Makes calls [s.next, s.next + n) from `concurrency` coroutines and waits for them all.
template <class Client>
asio::awaitable<void> run_calls(soak_state& s, Client& client, std::uint64_t n) {
    auto ex = co_await asio::this_coro::executor;
    s.end = s.next + n;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    auto running = std::make_shared<std::uint64_t>(s.o.concurrency);
    std::exception_ptr failure;
    for (std::uint64_t w = 0; w < s.o.concurrency; ++w)
        asio::co_spawn(ex, worker(s, client), [&, running](std::exception_ptr e) {
            if (e && !failure)
                failure = e;
            if (--*running == 0)
                all_done.cancel();
        });
    auto [ec] = co_await all_done.async_wait(tuple_awaitable);
    (void)ec;
    if (failure)
        std::rethrow_exception(failure);
}

/// Signs in through the sandbox's authorize page (auto consent) and code exchange.
template <class Client>
asio::awaitable<void> sign_in(Client& client) {
    namespace bhttp = beast::http;
    const auto& cfg = client.config().oauth;
    oauth::authorization_options auth;
    auth.scopes = oauth::scope_set::parse("user_info scheduler");
    auto sent = oauth::make_authorization_request(cfg, auth);
    joinme::http::request req;
    req.version(11);
    boost::urls::url_view url(sent.url);
    auto res = co_await client.pool().async_request(bhttp::verb::get, url, std::move(req));
    auto at = std::chrono::system_clock::now();
    auto redirect = oauth::parse_redirect(res[bhttp::field::location], sent, at);
    joinme::secret no_verifier;
    auto token = co_await oauth::async_exchange_code(client.pool(), cfg, redirect.code, no_verifier,
                                                     auth.scopes);
    client.set_token(std::move(token));
}

struct report {
    double seconds = 0;
    long rss_start = 0, rss_end = 0, rss_peak = 0;
    sandbox::counters faults{};
    std::size_t refresh_requests = 0;
    api::client_stats client{};
    joinme::http::pool_stats pool{};
};

template <class Stream>
asio::awaitable<void> soak(soak_state& s, api::basic_client<Stream>& client, report& rep) {
    co_await sign_in(client);
    api::meeting_draft draft;
    draft.meeting_name = "soak";
    draft.meeting_start = std::chrono::floor<std::chrono::seconds>(
        std::chrono::system_clock::now() + std::chrono::hours(24 * 30));
    draft.meeting_end = draft.meeting_start + std::chrono::hours(1);
    auto meeting = co_await client.async_schedule_meeting(draft);
    s.meeting_id = meeting.meeting_id;
    s.expected_user = co_await client.async_get_user();
    if (s.expected_user.email != "pro@example.com")
        throw std::runtime_error("signed in as " + s.expected_user.email);

    auto& random = s.sb.config().random;
    random.seed = s.o.seed;
    random.endpoints = {sandbox::endpoint::get_user, sandbox::endpoint::get_meeting,
                        sandbox::endpoint::update_meeting};
    random.disconnect = 0.01;
    random.error_status = 0.01;
    random.status = 503;
    random.retry_after = "0";
    random.interim = 0.001;
    random.unsolicited = 0.001;
    random.unsolicited_delay = std::chrono::milliseconds(s.o.unsolicited_delay_ms);

    co_await run_calls(s, client, s.o.warmup);
    // The measure: from here on.
    s.out = {};
    s.expiries_by_clock = s.expiries_by_sandbox = 0;
    s.sb.reset_counters();
    const auto refreshes_before = client.token_source().stats().refresh_requests;
    const auto client_before = client.stats();
    const auto pool_before = client.pool().stats();
    rep.rss_start = rss_kib();
    const auto start = std::chrono::steady_clock::now();
    co_await run_calls(s, client, s.o.calls);
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rep.rss_end = rss_kib();
    rep.rss_peak = peak_rss_kib();
    rep.faults = s.sb.stats();
    rep.refresh_requests = client.token_source().stats().refresh_requests - refreshes_before;
    rep.client.rejected_tokens = client.stats().rejected_tokens - client_before.rejected_tokens;
    rep.client.replays = client.stats().replays - client_before.replays;
    const auto& p = client.pool().stats();
    rep.pool.connections_opened = p.connections_opened - pool_before.connections_opened;
    rep.pool.stale_discarded = p.stale_discarded - pool_before.stale_discarded;
    rep.pool.replayed_on_fresh = p.replayed_on_fresh - pool_before.replayed_on_fresh;
    rep.pool.rate_limit_retries = p.rate_limit_retries - pool_before.rate_limit_retries;
    client.close();
}

template <class Stream>
int run_soak(const options& o) {
    asio::io_context ioc(1);
    auto offset = std::make_shared<std::chrono::seconds>(0);
    auto clock = [offset] { return std::chrono::system_clock::now() + *offset; };
    sandbox::options so;
    so.auto_consent = true;
    so.clock = clock;
    sandbox::server sb(ioc.get_executor(), so);

    api::client_config cfg;
    asio::ssl::context ssl = joinme::make_client_tls_context(joinme::trust_store::none);
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        sb.listen_tls();
        ssl.add_certificate_authority(asio::buffer(sb.certificate_pem()));
    } else {
        sb.listen_tcp();
    }
    auto ctx = [&]() -> typename api::basic_client<Stream>::context_type {
        if constexpr (std::is_same_v<Stream, tls_stream>)
            return joinme::tls_context(ssl);
        else
            return joinme::tcp_context{};
    }();
    cfg.set_base_url(sb.base_url());
    cfg.oauth.client_id = sandbox::default_client_id;
    cfg.oauth.client_secret = joinme::secret(sandbox::default_client_secret);
    cfg.oauth.redirect_uri = "http://127.0.0.1/callback";
    cfg.pool.max_connections_per_origin = static_cast<std::size_t>(o.concurrency);
    cfg.pool.clock = clock;                   // the token source's too
    cfg.token_source.use_server_date = false; // the clock is moved on both sides
    api::basic_client<Stream> client(ioc.get_executor(), ctx, cfg);

    soak_state s{o, sb, offset};
    report rep;
    std::exception_ptr error;
    asio::co_spawn(ioc, soak(s, client, rep), [&](std::exception_ptr e) {
        error = e;
        sb.stop();
    });
    ioc.run();
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::cerr << "joinme-soak: " << e.what() << "\n";
        }
        return 1;
    }

    // Expected errors need a fault that can cause them: a closed connection for each
    // connection_closed, a 503 for each server_error.
    const auto& out = s.out;
    const auto& f = rep.faults;
    const bool closed_explained = out.connection_closed <= f.random_disconnects;
    const bool errors_explained = out.server_error <= f.random_statuses;
    const double ratio = rep.rss_start > 0 ? double(rep.rss_end) / double(rep.rss_start) : 0;
    const bool rss_flat = ratio <= 1 + o.max_rss_growth;
    const bool pass = out.wrong_answer == 0 && out.unexpected_error == 0 && closed_explained &&
                      errors_explained && rss_flat && out.calls() == o.calls;
    const double rate = double(out.calls()) / rep.seconds;
    const auto refreshes = f.tokens_issued_refresh_token;

    if (o.json) {
        std::printf(
            "{\"calls\":%llu,\"transport\":\"%s\",\"concurrency\":%llu,\"seed\":%llu,"
            "\"warmup\":%llu,\"seconds\":%.2f,\"calls_per_second\":%.0f,"
            "\"rss_start_kib\":%ld,\"rss_end_kib\":%ld,\"rss_ratio\":%.3f,\"peak_rss_kib\":%ld,"
            "\"success\":%llu,\"connection_closed\":%llu,\"server_error\":%llu,"
            "\"wrong_answer\":%llu,\"unexpected_error\":%llu,"
            "\"faults\":{\"disconnect\":%zu,\"status_503\":%zu,\"interim\":%zu,"
            "\"unsolicited\":%zu},\"expiries_by_clock\":%llu,\"expiries_by_sandbox\":%llu,"
            "\"refresh_requests\":%zu,\"tokens_refreshed\":%zu,\"rejected_tokens\":%zu,"
            "\"replays\":%zu,\"connections_opened\":%zu,\"stale_discarded\":%zu,"
            "\"replayed_on_fresh\":%zu,\"rate_limit_retries\":%zu,\"pass\":%s}\n",
            (unsigned long long)out.calls(), o.tls ? "tls" : "tcp",
            (unsigned long long)o.concurrency, (unsigned long long)o.seed,
            (unsigned long long)o.warmup, rep.seconds, rate, rep.rss_start, rep.rss_end, ratio,
            rep.rss_peak, (unsigned long long)out.success,
            (unsigned long long)out.connection_closed, (unsigned long long)out.server_error,
            (unsigned long long)out.wrong_answer, (unsigned long long)out.unexpected_error,
            f.random_disconnects, f.random_statuses, f.random_interim, f.random_unsolicited,
            (unsigned long long)s.expiries_by_clock, (unsigned long long)s.expiries_by_sandbox,
            rep.refresh_requests, refreshes, rep.client.rejected_tokens, rep.client.replays,
            rep.pool.connections_opened, rep.pool.stale_discarded, rep.pool.replayed_on_fresh,
            rep.pool.rate_limit_retries, pass ? "true" : "false");
    } else {
        std::printf("joinme-soak: %llu calls over %s, %llu in flight, seed %llu, after %llu "
                    "warm-up calls\n",
                    (unsigned long long)out.calls(), o.tls ? "TLS" : "plain TCP",
                    (unsigned long long)o.concurrency, (unsigned long long)o.seed,
                    (unsigned long long)o.warmup);
        std::printf("  time            %.2f s, %.0f calls/s\n", rep.seconds, rate);
        std::printf("  RSS             start %ld KiB, end %ld KiB (x%.3f, at most x%.2f), peak "
                    "%ld KiB\n",
                    rep.rss_start, rep.rss_end, ratio, 1 + o.max_rss_growth, rep.rss_peak);
        std::printf("  outcomes        success %llu, connection_closed %llu, server_error %llu, "
                    "wrong answer %llu, unexpected error %llu\n",
                    (unsigned long long)out.success, (unsigned long long)out.connection_closed,
                    (unsigned long long)out.server_error, (unsigned long long)out.wrong_answer,
                    (unsigned long long)out.unexpected_error);
        std::printf("  faults drawn    disconnect %zu, 503 %zu, interim %zu, unsolicited %zu\n",
                    f.random_disconnects, f.random_statuses, f.random_interim,
                    f.random_unsolicited);
        std::printf("  tokens          expired %llu times by the clock, %llu by the sandbox; "
                    "%zu refresh requests, %zu tokens refreshed, %zu rejected, %zu replays\n",
                    (unsigned long long)s.expiries_by_clock,
                    (unsigned long long)s.expiries_by_sandbox, rep.refresh_requests, refreshes,
                    rep.client.rejected_tokens, rep.client.replays);
        std::printf("  connections     %zu opened, %zu stale discarded, %zu requests replayed on a "
                    "fresh one, %zu retries after 503\n",
                    rep.pool.connections_opened, rep.pool.stale_discarded,
                    rep.pool.replayed_on_fresh, rep.pool.rate_limit_retries);
    }
    for (auto& line : s.failures)
        std::fprintf(stderr, "joinme-soak: failure: %s\n", line.c_str());
    if (!closed_explained)
        std::fprintf(stderr, "joinme-soak: more connection_closed than disconnects injected\n");
    if (!errors_explained)
        std::fprintf(stderr, "joinme-soak: more server_error than 503s injected\n");
    if (!rss_flat)
        std::fprintf(stderr, "joinme-soak: RSS grew by more than %.0f%%\n", o.max_rss_growth * 100);
    if (out.calls() != o.calls)
        std::fprintf(stderr, "joinme-soak: %llu calls ended, not %llu\n",
                     (unsigned long long)out.calls(), (unsigned long long)o.calls);
    if (!o.json)
        std::printf("  result          %s\n", pass ? "pass" : "FAIL");
    return pass ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    try {
        return o.tls ? run_soak<tls_stream>(o) : run_soak<tcp_stream>(o);
    } catch (const std::exception& e) {
        std::cerr << "joinme-soak: " << e.what() << "\n";
        return 1;
    }
}
