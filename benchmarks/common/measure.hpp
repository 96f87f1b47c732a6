// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// What every C++ benchmark client shares: its command line, the measurement of one run, and
// the one JSON line it prints. Standard C++ and POSIX only (no Boost), so that the cpprestsdk
// client, which is compiled against another Boost, can use it too.
//
// Command line (every client, C++ or Python, takes the same):
//   --client NAME        which client of the program to run (the program may hold several)
//   --scenario S         sequential | concurrent | cold | startup | refresh_storm
//   --url BASE           e.g. https://127.0.0.1:8443 (API paths are appended to it)
//   --token-url URL      token endpoint (refresh_storm only)
//   --token T            bearer access token (refresh_storm: the refresh token)
//   --cafile FILE        PEM certificate to trust for https
//   --calls N            measured calls (default 20000)
//   --concurrency N      calls in flight (concurrent, refresh_storm; default 64)
//   --connections N      connections in the pool (concurrent, refresh_storm; default 8)
//   --warmup N           unmeasured calls first (default 200; cold: 5)
//
// Output: one line of JSON, see `result::json`.
#ifndef JOINME_BENCHMARKS_MEASURE_HPP
#define JOINME_BENCHMARKS_MEASURE_HPP

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// Heap allocations so far, counted at malloc by alloc_counter.cpp when it is linked in.
std::uint64_t allocations() noexcept;
bool counting_allocations() noexcept;

struct options {
    std::string client;
    std::string scenario = "sequential";
    std::string url;
    std::string token_url;
    std::string token;
    std::string cafile;
    int calls = 20000;
    int concurrency = 64;
    int connections = 8;
    int warmup = -1; // -1: the scenario's default

    bool tls() const { return url.rfind("https://", 0) == 0; }
    std::string transport() const { return tls() ? "tls" : "plain"; }
    int warmup_calls() const { return warmup >= 0 ? warmup : scenario == "cold" ? 5 : 200; }

    static options parse(int argc, char** argv) {
        options o;
        for (int i = 1; i < argc; ++i) {
            std::string_view a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) {
                    std::fprintf(stderr, "%s needs a value\n", argv[i]);
                    std::exit(2);
                }
                return argv[++i];
            };
            if (a == "--client")
                o.client = value();
            else if (a == "--scenario")
                o.scenario = value();
            else if (a == "--url")
                o.url = value();
            else if (a == "--token-url")
                o.token_url = value();
            else if (a == "--token")
                o.token = value();
            else if (a == "--cafile")
                o.cafile = value();
            else if (a == "--calls")
                o.calls = std::atoi(value().c_str());
            else if (a == "--concurrency")
                o.concurrency = std::atoi(value().c_str());
            else if (a == "--connections")
                o.connections = std::atoi(value().c_str());
            else if (a == "--warmup")
                o.warmup = std::atoi(value().c_str());
            else {
                std::fprintf(stderr, "unknown argument %s\n", argv[i]);
                std::exit(2);
            }
        }
        if (o.url.empty() || o.calls <= 0 || o.concurrency <= 0 || o.connections <= 0) {
            std::fprintf(stderr, "--url is required; counts must be positive\n");
            std::exit(2);
        }
        return o;
    }
};

inline double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

inline long max_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

// One measured run. Call start() after the warm-up, record() each call's latency (or
// nothing, for runs measured as a whole), then finish().
class run {
public:
    using clock = std::chrono::steady_clock;

    void start() {
        latencies_.reserve(1 << 16);
        cpu_ = cpu_seconds();
        allocs_ = allocations();
        wall_ = clock::now();
    }
    // For a run that counts everything the process did before (CPU time and allocations since
    // the process started; wall time from here).
    void start_at_process_start() {
        start();
        cpu_ = 0;
        allocs_ = 0;
    }
    void record(clock::duration d) { latencies_.push_back(d); }
    void error() { ++errors_; }
    void finish(int calls) {
        wall_s_ = std::chrono::duration<double>(clock::now() - wall_).count();
        cpu_s_ = cpu_seconds() - cpu_;
        allocs_ = allocations() - allocs_;
        calls_ = calls;
    }
    int errors() const { return errors_; }
    double cpu_us_per_call() const { return cpu_s_ * 1e6 / calls_; }
    double calls_per_s() const { return calls_ / wall_s_; }
    double allocs_per_call() const {
        return static_cast<double>(allocs_) / static_cast<double>(calls_);
    }

    // Appended to the JSON object as is: empty, or `,"key":value...`.
    std::string extra;

    // {"client":..., "scenario":..., "transport":..., "calls":N, "errors":N, "wall_s":...,
    //  "cpu_s":..., "cpu_us_per_call":..., "calls_per_s":..., "p50_us":..., "p90_us":...,
    //  "p99_us":..., "max_rss_kb":..., "allocs_per_call": number or null, ...}
    std::string json(const options& o) const {
        auto pct = [&](double p) -> double {
            if (latencies_.empty())
                return -1;
            auto v = latencies_;
            auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
            return std::chrono::duration<double, std::micro>(v[k]).count();
        };
        char allocs[64];
        if (counting_allocations())
            std::snprintf(allocs, sizeof allocs, "%.2f", allocs_per_call());
        else
            std::snprintf(allocs, sizeof allocs, "null");
        char line[1024 + 256];
        std::snprintf(
            line, sizeof line,
            "{\"client\":\"%s\",\"scenario\":\"%s\",\"transport\":\"%s\",\"calls\":%d,"
            "\"concurrency\":%d,\"connections\":%d,\"errors\":%d,\"wall_s\":%.6f,\"cpu_s\":%.6f,"
            "\"cpu_us_per_call\":%.3f,\"calls_per_s\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
            "\"p99_us\":%.1f,\"max_rss_kb\":%ld,\"allocs_per_call\":%s%s}",
            o.client.c_str(), o.scenario.c_str(), o.transport().c_str(), calls_, o.concurrency,
            o.connections, errors_, wall_s_, cpu_s_, cpu_us_per_call(), calls_per_s(), pct(0.50),
            pct(0.90), pct(0.99), max_rss_kb(), allocs, extra.c_str());
        return line;
    }

private:
    std::vector<clock::duration> latencies_;
    double cpu_ = 0, cpu_s_ = 0, wall_s_ = 0;
    clock::time_point wall_{};
    std::uint64_t allocs_ = 0;
    int calls_ = 0;
    int errors_ = 0;
};

// The latency of one call, or nothing when it failed.
using call_result = std::optional<std::chrono::steady_clock::duration>;

// Times `f() -> bool` as one call.
template <class F>
call_result timed(F f) {
    auto started = std::chrono::steady_clock::now();
    if (!f())
        return std::nullopt;
    return std::chrono::steady_clock::now() - started;
}

// The warm-up calls, then `o.calls` measured ones, one after another: `call() -> call_result`.
// Returns 0, or 1 when a warm-up call failed.
template <class Call>
int measure_calls(const options& o, run& r, Call call) {
    for (int i = 0; i < o.warmup_calls(); ++i)
        if (!call())
            return 1;
    r.start();
    for (int i = 0; i < o.calls; ++i) {
        if (auto latency = call())
            r.record(*latency);
        else
            r.error();
    }
    r.finish(o.calls);
    return 0;
}

// A scenario of a program that holds one client: runs the warm-up and the measured calls into
// `run`, adds what it parsed to `checksum`, and returns 0 when the run could complete.
using scenario_function = int (*)(const options&, run&, std::uint64_t& checksum);

struct scenario_set {
    scenario_function sequential;
    scenario_function concurrent;
    scenario_function cold;
};

// The main() of such a program: picks the scenario, runs it, prints the JSON line. Exit
// status 0, 1 when a call failed or nothing was parsed, 2 for a wrong command line.
inline int client_main(const char* name, int argc, char** argv, scenario_set scenarios) {
    options o = options::parse(argc, argv);
    if (o.client.empty())
        o.client = name;
    if (o.client != name) {
        std::fprintf(stderr, "this program runs the client \"%s\" only\n", name);
        return 2;
    }
    scenario_function scenario = o.scenario == "sequential"   ? scenarios.sequential
                                 : o.scenario == "concurrent" ? scenarios.concurrent
                                 : o.scenario == "cold"       ? scenarios.cold
                                                              : nullptr;
    if (!scenario) {
        std::fprintf(stderr, "%s: scenario %s is not supported\n", name, o.scenario.c_str());
        return 2;
    }
    run r;
    std::uint64_t checksum = 0;
    if (int rc = scenario(o, r, checksum); rc != 0) {
        std::fprintf(stderr, "%s: the run could not complete\n", name);
        return rc;
    }
    std::puts(r.json(o).c_str());
    if (r.errors() != 0 || checksum == 0) {
        std::fprintf(stderr, "%s: %d calls failed, checksum %llu\n", name, r.errors(),
                     static_cast<unsigned long long>(checksum));
        return 1;
    }
    return 0;
}

} // namespace bench

#endif
