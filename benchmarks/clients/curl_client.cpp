// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// Benchmark client "curl": GET /v1/user the way a C++ program without joinme would call it with
// libcurl, parsing the body with Boost.JSON into bench::user_fields. Measures, per measure.hpp:
//   sequential  one easy handle reused, so one kept-alive connection, calls one after another;
//   concurrent  the multi interface, --concurrency transfers in flight over at most
//               --connections connections (the others wait in libcurl's pending queue);
//   cold        a new easy handle per call: TCP connect, TLS handshake (no session shared
//               between handles), one GET, parse, then the handle is cleaned up.
#include "../common/measure.hpp"
#include "../common/user_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/src.hpp>

#include <curl/curl.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = bench::run::clock;

// Sum of the parsed fields' lengths: keeps the parsing observable.
std::uint64_t checksum(const bench::user_fields& u) {
    return u.email.size() + u.full_name.size() + u.language.size() + u.subscription.size() +
           u.personal_url.size() + u.registration_date.size() + u.conference_id.size() +
           u.conference_numbers_url.size() + u.organizer_code.size() +
           static_cast<std::uint64_t>(u.meetings_hosted);
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

struct header_list_deleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using header_list = std::unique_ptr<curl_slist, header_list_deleter>;

struct easy_deleter {
    void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using easy_handle = std::unique_ptr<CURL, easy_deleter>;

struct multi_deleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using multi_handle = std::unique_ptr<CURLM, multi_deleter>;

header_list make_headers(const bench::options& o) {
    std::string authorization = "Authorization: Bearer " + o.token;
    return header_list(curl_slist_append(nullptr, authorization.c_str()));
}

void configure(CURL* easy, const bench::options& o, const std::string& url, curl_slist* headers,
               std::string* body) {
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, body);
    if (!o.cafile.empty())
        curl_easy_setopt(easy, CURLOPT_CAINFO, o.cafile.c_str());
    // The defaults, spelled out: verify the certificate chain and the host name.
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
}

void report_once(const char* what) {
    static bool reported = false;
    if (!reported)
        std::fprintf(stderr, "curl: call failed: %s\n", what);
    reported = true;
}

// Checks a finished transfer and parses its body; returns false (and says why, once) when the
// call failed.
bool complete(CURL* easy, CURLcode result, const std::string& body, std::uint64_t& sum) {
    if (result != CURLE_OK) {
        report_once(curl_easy_strerror(result));
        return false;
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        report_once(("HTTP status " + std::to_string(status)).c_str());
        return false;
    }
    try {
        sum += checksum(boost::json::value_to<bench::user_fields>(boost::json::parse(body)));
        return true;
    } catch (const std::exception& e) {
        report_once(e.what());
        return false;
    }
}

int sequential(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string url = o.url + "/v1/user";
    header_list headers = make_headers(o);
    std::string body;
    easy_handle easy(curl_easy_init());
    configure(easy.get(), o, url, headers.get(), &body);

    return bench::measure_calls(o, run, [&] {
        return bench::timed([&] {
            body.clear();
            CURLcode result = curl_easy_perform(easy.get());
            return complete(easy.get(), result, body, sum);
        });
    });
}

struct transfer {
    easy_handle easy;
    std::string body;
    clock_type::time_point started;
};

int concurrent(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string url = o.url + "/v1/user";
    header_list headers = make_headers(o);
    multi_handle multi_owner(curl_multi_init());
    CURLM* multi = multi_owner.get();
    // Transfers beyond these limits wait in libcurl's queue for a connection to become free.
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(o.connections));
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(o.connections));
    // Declared after the multi handle: libcurl wants the easy handles cleaned up first.
    std::vector<transfer> transfers(static_cast<std::size_t>(o.concurrency));
    for (auto& t : transfers) {
        t.easy.reset(curl_easy_init());
        configure(t.easy.get(), o, url, headers.get(), &t.body);
        curl_easy_setopt(t.easy.get(), CURLOPT_PRIVATE, &t);
    }

    // Runs `calls` calls with --concurrency of them in flight; measures them when `measured` is
    // set. False when libcurl fails, or when an unmeasured (warm-up) call fails.
    auto phase = [&](int calls, bench::run* measured) {
        int issued = 0, completed = 0, failed = 0;
        auto issue = [&](transfer& t) {
            t.body.clear();
            t.started = clock_type::now();
            curl_multi_add_handle(multi, t.easy.get());
            ++issued;
        };
        for (auto& t : transfers)
            if (issued < calls)
                issue(t);
        while (completed < calls) {
            int running = 0;
            if (CURLMcode mc = curl_multi_perform(multi, &running); mc != CURLM_OK) {
                std::fprintf(stderr, "curl: %s\n", curl_multi_strerror(mc));
                return false;
            }
            int queued = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg != CURLMSG_DONE)
                    continue;
                CURL* easy = msg->easy_handle;
                CURLcode result = msg->data.result; // msg dies with remove_handle
                curl_multi_remove_handle(multi, easy);
                transfer* t = nullptr;
                curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
                bool ok = complete(easy, result, t->body, sum);
                auto latency = clock_type::now() - t->started;
                if (measured && ok)
                    measured->record(latency);
                else if (measured)
                    measured->error();
                failed += ok ? 0 : 1;
                ++completed;
                if (issued < calls)
                    issue(*t);
            }
            if (completed < calls)
                curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
        }
        return measured || failed == 0;
    };

    if (!phase(o.warmup_calls(), nullptr))
        return 1;
    run.start();
    bool ok = phase(o.calls, &run);
    run.finish(o.calls);
    return ok ? 0 : 1;
}

int cold(const bench::options& o, bench::run& run, std::uint64_t& sum) {
    const std::string url = o.url + "/v1/user";
    // One brand-new client per call: its own handle, connection cache, TLS session cache and
    // header list, all freed after the call.
    return bench::measure_calls(o, run, [&] {
        header_list headers;
        std::string body;
        easy_handle easy;
        // The teardown (when `easy` goes) is part of the run, not of the call's latency.
        return bench::timed([&] {
            headers = make_headers(o);
            easy.reset(curl_easy_init());
            configure(easy.get(), o, url, headers.get(), &body);
            CURLcode result = curl_easy_perform(easy.get());
            return complete(easy.get(), result, body, sum);
        });
    });
}

} // namespace

int main(int argc, char** argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = bench::client_main("curl", argc, argv, {sequential, concurrent, cold});
    curl_global_cleanup();
    return rc;
}
