// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// Benchmark client "cpprest": GET /v1/user with cpprestsdk's web::http::client::http_client,
// parsing the body with web::json into the same fields as bench::user_fields. Measures, per
// measure.hpp:
//   sequential  one http_client reused (it keeps its connections alive), one call at a time;
//   concurrent  --concurrency requests outstanding as pplx task chains on one http_client;
//   cold        a new http_client per call: TCP connect, TLS handshake, one GET, parse, then the
//               client and its connection are destroyed.
//
// Compiled against the Boost the library was built with (1.74 on Debian 12), so this file
// includes no Boost 1.81 header: not user_fields.hpp, which is mirrored below.
#include "../common/measure.hpp"

#include <boost/version.hpp>
#include <cpprest/http_client.h>
#include <cpprest/json.h>

#if BOOST_VERSION / 100 != 1074
#error "compile with the Boost headers libcpprest.so.2.10 was built with (see fetch_cpprest.sh)"
#endif

#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace {

using clock_type = bench::run::clock;
using web::http::http_request;
using web::http::http_response;
using web::http::methods;
using web::http::status_codes;
using web::http::client::http_client;
using web::http::client::http_client_config;

// bench::user_fields, read with web::json.
struct user_fields {
    std::string email;
    std::string full_name;
    std::string language;
    std::int64_t meetings_hosted = 0;
    std::string subscription;
    std::string personal_url;      // optional in the response
    std::string registration_date; // kept as text
    std::string conference_id;     // the three of conferenceSettings, optional
    std::string conference_numbers_url;
    std::string organizer_code;
};

// Throws web::json::json_exception when a field is missing or of another type.
user_fields to_user_fields(const web::json::value& v) {
    const auto& o = v.as_object();
    user_fields u;
    u.email = o.at(U("email")).as_string();
    u.full_name = o.at(U("fullName")).as_string();
    u.language = o.at(U("language")).as_string();
    u.meetings_hosted = o.at(U("numberOfMeetingsHosted")).as_number().to_int64();
    u.subscription = o.at(U("subscriptionType")).as_string();
    u.registration_date = o.at(U("registrationDate")).as_string();
    if (auto p = o.find(U("personalUrl")); p != o.end())
        u.personal_url = p->second.as_string();
    if (auto c = o.find(U("conferenceSettings")); c != o.end()) {
        const auto& co = c->second.as_object();
        u.conference_id = co.at(U("conferenceId")).as_string();
        u.conference_numbers_url = co.at(U("conferenceCallNumbersUrl")).as_string();
        u.organizer_code = co.at(U("organizerCode")).as_string();
    }
    return u;
}

// Sum of the parsed fields' lengths: keeps the parsing observable.
std::uint64_t checksum(const user_fields& u) {
    return u.email.size() + u.full_name.size() + u.language.size() + u.subscription.size() +
           u.personal_url.size() + u.registration_date.size() + u.conference_id.size() +
           u.conference_numbers_url.size() + u.organizer_code.size() +
           static_cast<std::uint64_t>(u.meetings_hosted);
}

void report_once(const char* what) {
    static std::once_flag once;
    std::call_once(once, [&] { std::fprintf(stderr, "cpprest: call failed: %s\n", what); });
}

http_client_config make_config(const bench::options& o) {
    http_client_config config;
    // Certificate validation stays on (the default); the CA file is trusted in addition to the
    // system's, which cpprestsdk loads into every new connection's context.
    if (!o.cafile.empty()) {
        std::string cafile = o.cafile;
        config.set_ssl_context_callback(
            [cafile](boost::asio::ssl::context& context) { context.load_verify_file(cafile); });
    }
    return config;
}

// One call: the response's status, then its whole body parsed as JSON, then the fields.
pplx::task<std::uint64_t> call(http_client& client, const std::string& authorization) {
    http_request request(methods::GET);
    request.set_request_uri(U("/v1/user"));
    request.headers().add(web::http::header_names::authorization, authorization);
    return client.request(request)
        .then([](http_response response) {
            if (response.status_code() != status_codes::OK)
                throw std::runtime_error("HTTP status " + std::to_string(response.status_code()));
            return response.extract_json();
        })
        .then([](const web::json::value& body) { return checksum(to_user_fields(body)); });
}

// Runs one call to its end; false (and why, once) when it failed.
bool call_and_wait(http_client& client, const std::string& authorization, std::uint64_t& sum) {
    try {
        sum += call(client, authorization).get();
        return true;
    } catch (const std::exception& e) {
        report_once(e.what());
        return false;
    }
}

int sequential(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string authorization = "Bearer " + o.token;
    http_client client(o.url, make_config(o));
    return bench::measure_calls(o, run, [&] {
        return bench::timed([&] { return call_and_wait(client, authorization, sum); });
    });
}

// The calls of one concurrent phase. Each completion, on a thread of cpprestsdk's pool, issues
// the next call, so that --concurrency calls stay outstanding until all have been issued.
struct concurrent_phase : std::enable_shared_from_this<concurrent_phase> {
    http_client& client;
    const std::string& authorization;
    const int calls;
    bench::run* measured; // null for the warm-up

    std::mutex mutex; // guards what follows, and *measured
    int issued = 0;
    int completed = 0;
    int failed = 0;
    std::uint64_t sum = 0;
    std::promise<void> done;

    concurrent_phase(http_client& c, const std::string& a, int n, bench::run* r)
        : client(c)
        , authorization(a)
        , calls(n)
        , measured(r) {}

    void issue() {
        {
            std::lock_guard lock(mutex);
            if (issued == calls)
                return;
            ++issued;
        }
        auto started = clock_type::now();
        call(client, authorization)
            .then([self = shared_from_this(), started](pplx::task<std::uint64_t> t) {
                self->complete(t, started);
            });
    }

    void complete(pplx::task<std::uint64_t>& t, clock_type::time_point started) {
        std::uint64_t result = 0;
        bool ok = true;
        try {
            result = t.get();
        } catch (const std::exception& e) {
            report_once(e.what());
            ok = false;
        }
        auto latency = clock_type::now() - started;
        bool last = false;
        {
            std::lock_guard lock(mutex);
            if (measured && ok)
                measured->record(latency);
            else if (measured)
                measured->error();
            failed += ok ? 0 : 1;
            sum += result;
            last = ++completed == calls;
        }
        if (last)
            done.set_value();
        else
            issue();
    }
};

// cpprestsdk has no setting for the number of connections: its asio client takes an idle
// connection from the http_client's pool or, when there is none, opens a new one. With
// --concurrency calls outstanding it therefore opens up to --concurrency connections, whatever
// --connections says. The completions run on cpprestsdk's shared thread pool (40 threads
// unless the program sets another size before the first request).
int concurrent(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string authorization = "Bearer " + o.token;
    http_client client(o.url, make_config(o));

    auto phase = [&](int calls, bench::run* measured) {
        if (calls == 0)
            return true;
        auto p = std::make_shared<concurrent_phase>(client, authorization, calls, measured);
        auto finished = p->done.get_future();
        for (int i = 0; i < o.concurrency; ++i)
            p->issue();
        finished.wait();
        std::lock_guard lock(p->mutex);
        sum += p->sum;
        return measured || p->failed == 0;
    };
    if (!phase(o.warmup_calls(), nullptr))
        return 1;
    run.start();
    phase(o.calls, &run);
    run.finish(o.calls);
    return 0;
}

int cold(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string authorization = "Bearer " + o.token;
    // A brand-new http_client per call: its own connection pool, and a new SSL context (so no
    // TLS session to resume) for the connection it opens. cpprestsdk loads the system's CA
    // store into every new context (set_default_verify_paths), which costs most of the CPU here.
    return bench::measure_calls(o, run, [&] {
        std::optional<http_client> client;
        // The teardown (when `client` goes) is part of the run, not of the call's latency.
        return bench::timed([&] {
            client.emplace(o.url, make_config(o));
            return call_and_wait(*client, authorization, sum);
        });
    });
}

} // namespace

int main(int argc, char** argv) {
    return bench::client_main("cpprest", argc, argv, {sequential, concurrent, cold});
}
