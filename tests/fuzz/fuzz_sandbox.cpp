// libFuzzer target: the sandbox's request handling, `service::handle`, on requests read from
// arbitrary bytes the way its server loop reads them (up to four pipelined requests). One
// service lives across inputs, with users already signed in, so that the API endpoints are
// reached past the token check. It is made again every `inputs_per_service` inputs, so that
// its state stays small, and after an input that was given tokens or expired one, so that the
// signed-in users' tokens keep working. Whatever comes in, it must answer, never crash, throw
// or leak; every JSON answer must be JSON, and every request must be counted once.
//
// Input: three bytes of settings, then the requests.
// - byte 0, bits 0-1: whose tokens `{access}` and `{refresh}` stand for in the requests'
//   targets, fields and bodies (none; a Pro user with every scope but provisioning; the
//   Master Account Holder, through the Business application, with every scope; the Free user
//   with user_info only); bit 2: also send `Authorization: Bearer` with that access token;
//   bit 3: auto consent; bit 4: a QPS limit of 1; bit 5: a `Retry-After` date instead of
//   seconds in forced answers.
// - byte 1: the alternatives of the contract's §9 the service produces, one or two per bit.
// - byte 2: a forced answer for the first request to each endpoint (0: none; else a status
//   from a list).
#include <joinme/sandbox/detail/service.hpp>

#include "requests.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace sandbox = joinme::sandbox;
namespace http = boost::beast::http;
using sandbox::detail::request;
using sandbox::detail::response;

constexpr std::size_t inputs_per_service = 1000; // below access_token_lifetime in seconds
constexpr std::size_t max_requests = 4;

void require(bool ok) {
    if (!ok)
        std::abort();
}

struct tokens {
    std::string access, refresh;
};

/// A service with three users signed in. Its clock moves one second per input, so that each
/// input starts a new second of the QPS limit; the service is made again long before the
/// tokens expire.
struct fixture {
    std::shared_ptr<std::chrono::system_clock::time_point> now =
        std::make_shared<std::chrono::system_clock::time_point>(
            std::chrono::sys_days{std::chrono::year{2030} / 1 / 1});
    sandbox::detail::service svc{make_options(now)};
    tokens signed_in[4]; // [0]: nobody
    bool spent = false;  // an input may have expired or rotated the tokens

    fixture() {
        signed_in[1] = login("pro@example.com", sandbox::default_client_id,
                             "user_info scheduler start_meeting");
        signed_in[2] = login("admin@example.com", sandbox::default_business_client_id,
                             "user_info scheduler start_meeting provisioning");
        signed_in[3] = login("free@example.com", sandbox::default_client_id, "user_info");
    }

    static sandbox::options
    make_options(std::shared_ptr<std::chrono::system_clock::time_point> now) {
        sandbox::options o;
        o.clock = [now] { return *now; };
        o.auto_consent = true;
        return o;
    }

    sandbox::detail::outcome handle(const request& req) {
        return svc.handle(req, {"http", "http://sandbox.invalid"});
    }

    // The code flow, as a client goes through it.
    tokens login(std::string_view user, std::string_view client, std::string_view scope) {
        svc.opts().current_user = user;
        boost::urls::url authorize("/api/public/v1/auth/oauth2");
        authorize.params().append({"client_id", client});
        authorize.params().append({"redirect_uri", "http://127.0.0.1/callback"});
        authorize.params().append({"response_type", "code"});
        authorize.params().append({"scope", scope});
        request req{http::verb::get, authorize.buffer(), 11};
        req.set(http::field::host, "127.0.0.1");
        auto redirect = handle(req).res;
        require(redirect.result_int() == 302);
        auto location = boost::urls::parse_uri(redirect[http::field::location]);
        require(location.has_value());
        auto code = location->params().find("code");
        require(code != location->params().end());

        boost::urls::url form;
        form.params().append({"grant_type", "authorization_code"});
        form.params().append({"client_id", client});
        form.params().append({"client_secret", sandbox::default_client_secret});
        form.params().append({"code", (*code).value});
        form.params().append({"redirect_uri", "http://127.0.0.1/callback"});
        request token{http::verb::post, "/api/public/v1/auth/token", 11};
        token.set(http::field::host, "127.0.0.1");
        token.set(http::field::content_type, "application/x-www-form-urlencoded");
        token.body() = form.encoded_query();
        token.prepare_payload();
        auto res = handle(token).res;
        require(res.result_int() == 200);
        auto body = boost::json::parse(res.body()).as_object();
        return {std::string(body.at("access_token").as_string()),
                std::string(body.at("refresh_token").as_string())};
    }
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// `req` with `{access}` and `{refresh}` replaced by the tokens in its target, field values and
// body (after parsing, so that the bytes' Content-Length still holds).
request with_tokens(request req, const tokens& t) {
    auto fill = [&t](std::string s) {
        return replace_all(replace_all(std::move(s), "{access}", t.access), "{refresh}", t.refresh);
    };
    req.target(fill(std::string(req.target())));
    std::vector<std::pair<std::string, std::string>> fields;
    for (auto& field : req)
        fields.emplace_back(field.name_string(), fill(std::string(field.value())));
    for (auto& [name, value] : fields)
        req.erase(name);
    for (auto& [name, value] : fields)
        req.insert(name, value);
    req.body() = fill(std::move(req.body()));
    if (req.has_content_length())
        req.content_length(req.body().size());
    return req;
}

std::size_t total(const sandbox::counters& c) {
    return std::accumulate(c.requests.begin(), c.requests.end(), std::size_t{0});
}

void check_answer(const response& res) {
    const unsigned status = res.result_int();
    require(status >= 200 && status < 600);
    require(!res.chunked() && res.payload_size() == res.body().size());
    if (res[http::field::content_type].starts_with("application/json")) {
        boost::json::error_code ec;
        (void)boost::json::parse(res.body(), ec);
        require(!ec);
    }
    if (status == 429 || status == 503)
        require(res.find(http::field::retry_after) != res.end());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3)
        return 0;
    static std::unique_ptr<fixture> f;
    static std::size_t inputs = 0;
    if (!f || f->spent || ++inputs % inputs_per_service == 0)
        f = std::make_unique<fixture>();
    *f->now += std::chrono::seconds(1);

    const std::uint8_t mode = data[0], alternatives = data[1], forced = data[2];
    const auto& who = f->signed_in[mode & 3];
    auto& o = f->svc.opts();
    o.auto_consent = (mode & 8) != 0;
    o.qps_limit = (mode & 16) ? 1 : 0;
    o.token_omit_expires_in = alternatives & 1;
    o.token_expires_in_as_string = alternatives & 2;
    o.token_omit_token_type = alternatives & 4;
    o.token_extra_fields = alternatives & 8;
    o.rotate_refresh_tokens = !(alternatives & 16);
    o.refresh_omit_refresh_token = alternatives & 16;
    o.code_error_invalid_authorization_code = alternatives & 32;
    o.implicit_omit_token_type_and_expires_in = alternatives & 32;
    o.expire_access_success_as_string = alternatives & 64;
    o.invalid_token_as_403 = alternatives & 64;
    o.presenters_wrapped = alternatives & 128;
    o.dates_without_zone = alternatives & 128;
    f->svc.clear_faults();
    if (forced) {
        static constexpr unsigned statuses[] = {403, 429, 500, 502, 503, 504};
        sandbox::fault fault;
        fault.status = statuses[forced % std::size(statuses)];
        fault.retry_after = (mode & 32) ? "Tue, 01 Jan 2030 00:00:30 GMT" : "2";
        fault.times = 1;
        for (std::size_t e = 0; e < sandbox::endpoint_count; ++e)
            f->svc.set_fault(static_cast<sandbox::endpoint>(e), fault);
    }

    std::string_view bytes(reinterpret_cast<const char*>(data + 3), size - 3);
    fuzz::for_each_request(
        bytes, o.header_limit, o.body_limit, max_requests,
        [&](const request& parsed) {
            request req = with_tokens(parsed, who);
            if ((mode & 4) && !who.access.empty())
                req.set(http::field::authorization, "Bearer " + who.access);
            const auto before = total(f->svc.stats());
            auto out = f->handle(req);
            require(total(f->svc.stats()) == before + 1);
            check_answer(out.res);
            if ((out.ep == sandbox::endpoint::token ||
                 out.ep == sandbox::endpoint::expire_access) &&
                out.res.result_int() == 200)
                f->spent = true;
        },
        [](const joinme::error_code&) {});
    return 0;
}
