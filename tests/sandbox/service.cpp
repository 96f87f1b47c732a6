// The sandbox's logic called as a function, without a server or a stream: `service::handle`
// for a few representative endpoints, and the per-connection handler that turns its outcome
// into what the server loop sends (faults, keep-alive, the request log).
#include "harness.hpp"

using namespace sbt;

namespace {

using http::verb;
using sandbox::endpoint;

} // namespace

TEST_CASE("service: the code exchange issues tokens once") {
    service_harness s;
    auto code = s.code();
    auto res = s.exchange(code);
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::cache_control] == "no-store");
    auto o = body_object(res);
    CHECK(o.at("token_type").as_string() == "bearer");
    CHECK(o.at("expires_in").as_int64() == 3600);
    CHECK(o.at("access_token") != o.at("refresh_token"));
    CHECK(s.svc.stats().tokens_issued_authorization_code == 1);
    CHECK(s.svc.stats()[endpoint::token] == 1);

    auto replay = s.exchange(code);
    CHECK(replay.result_int() == 400);
    CHECK(body_object(replay).at("error").as_string() == "invalid_grant");
}

TEST_CASE("service: a token without the scope is refused with insufficient_scope") {
    service_harness s;
    auto t = s.login("user_info");
    CHECK(s.send(api(verb::get, "/v1/user", t.access)).result_int() == 200);
    auto res = s.send(api(verb::get, "/v1/meetings", t.access));
    CHECK(res.result_int() == 403);
    CHECK(res[http::field::www_authenticate] ==
          R"(Bearer realm="api.join.me", error="insufficient_scope")");
    CHECK(body_object(res).at("ErrorCode").as_string() == "insufficient_scope");
}

TEST_CASE("service: unknown paths are 404, known paths with another method 405") {
    service_harness s;
    auto out = s.handle(make(verb::get, "/v2/nothing"));
    CHECK(out.res.result_int() == 404);
    CHECK(out.ep == endpoint::other);
    CHECK(body_object(out.res).contains("Message"));
    CHECK(s.send(make(verb::put, "/v1/user")).result_int() == 405);
    CHECK(s.svc.stats()[endpoint::other] == 2);
}

TEST_CASE("service: GET /sandbox/counters reports the counters as JSON") {
    service_harness s;
    auto t = s.login();
    CHECK(s.send(make(verb::get, "/v2/nothing")).result_int() == 404);
    auto res = s.send(make(verb::get, "/sandbox/counters"));
    REQUIRE(res.result_int() == 200);
    auto o = body_object(res);
    auto& requests = o.at("requests").as_object();
    CHECK(requests.size() == sandbox::endpoint_count);
    CHECK(requests.at("authorize").to_number<std::size_t>() == s.svc.stats()[endpoint::authorize]);
    CHECK(requests.at("token").to_number<std::size_t>() == 1);
    CHECK(requests.at("other").to_number<std::size_t>() == 1);
    CHECK(requests.at("counters").to_number<std::size_t>() == 1); // this request
    CHECK(o.at("tokens_issued_authorization_code").to_number<std::size_t>() == 1);
    CHECK(o.at("refresh_requests").to_number<std::size_t>() == 0);
    CHECK(sandbox::to_string(endpoint::get_user) == "get_user");
    CHECK(sandbox::to_string(endpoint::other) == "other");
}

TEST_CASE("service: a meeting scheduled, then listed") {
    service_harness s; // the clock reads 2030-01-01T09:00:00Z
    auto t = s.login();
    auto created = s.send(api(verb::post, "/v1/meetings", t.access,
                              R"({"meetingName": "Weekly", "meetingStart": "2030-01-02T10:00:00Z",
                                  "meetingEnd": "2030-01-02T11:00:00Z"})"));
    REQUIRE(created.result_int() == 201);
    auto id = body_object(created).at("meetingId").as_int64();
    auto list = s.send(api(verb::get, "/v1/meetings", t.access));
    REQUIRE(list.result_int() == 200);
    auto body = body_object(list);
    auto& ms = body.at("meetings").as_array();
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].as_object().at("meetingId").as_int64() == id);
    CHECK(ms[0].as_object().at("meetingName").as_string() == "Weekly");
}

TEST_CASE("service: a fault comes back with the outcome, for the server to apply") {
    service_harness s;
    auto t = s.login();
    s.svc.set_fault(
        endpoint::get_user,
        {.latency = std::chrono::milliseconds(250), .close_after_bytes = 40, .times = 1});
    auto out = s.handle(api(verb::get, "/v1/user", t.access));
    CHECK(out.ep == endpoint::get_user);
    CHECK(out.res.result_int() == 200);
    REQUIRE(out.applied);
    CHECK(out.applied->latency == std::chrono::milliseconds(250));
    CHECK(out.applied->close_after_bytes == 40u);
    CHECK_FALSE(s.handle(api(verb::get, "/v1/user", t.access)).applied); // once only

    s.svc.set_fault(endpoint::get_user, {.status = 503u, .retry_after = "7"});
    auto forced = s.handle(api(verb::get, "/v1/user", t.access));
    CHECK(forced.res.result_int() == 503);
    CHECK(forced.res[http::field::retry_after] == "7");
}

TEST_CASE("sandbox connection handler: faults, keep-alive and the log as reply fields") {
    asio::io_context ioc; // for webhooks only; nothing runs here
    auto o = test_support::with_clock(test_support::auto_consent({}), start_clock());
    std::vector<sandbox::request_log_entry> log;
    o.on_request = [&log](const sandbox::request_log_entry& e) { log.push_back(e); };
    o.keep_alive_max_requests = 2;
    auto st = std::make_shared<sandbox::detail::server_state>(ioc.get_executor(), std::move(o));
    sandbox::detail::connection_handler handler{st, "http"};

    auto first = handler(make(verb::get, "/v2/nothing?secret=x"));
    CHECK(first.res.result_int() == 404);
    CHECK_FALSE(first.close);
    CHECK_FALSE(first.withhold);
    CHECK(log.empty()); // logged once the answer is sent
    REQUIRE(first.after);
    first.after();
    REQUIRE(log.size() == 1);
    CHECK(log[0].method == "GET");
    CHECK(log[0].path == "/v2/nothing");
    CHECK(log[0].status == 404);

    auto second = handler(make(verb::get, "/v2/nothing"));
    CHECK(second.close); // the last one: closed silently ...
    CHECK(second.res.keep_alive());
    st->svc.opts().announce_close = true;
    sandbox::detail::connection_handler announcing{st, "http"};
    announcing(make(verb::get, "/v2/nothing"));
    auto announced = announcing(make(verb::get, "/v2/nothing"));
    CHECK(announced.close); // ... or with Connection: close
    CHECK_FALSE(announced.res.keep_alive());

    st->svc.set_fault(
        endpoint::other,
        {.latency = std::chrono::milliseconds(5), .close_after_bytes = 12, .never_answer = true});
    sandbox::detail::connection_handler silent{st, "http"};
    auto withheld = silent(make(verb::get, "/v2/nothing"));
    CHECK(withheld.withhold);
    CHECK(withheld.delay == std::chrono::milliseconds(5));
    CHECK(withheld.cut_after == 12u);
    withheld.after();
    CHECK(log.back().status == 0);
    // The connection stays silent: later requests are not even handled.
    const auto handled = st->svc.stats()[endpoint::other];
    CHECK(silent(make(verb::get, "/v2/nothing")).withhold);
    CHECK(st->svc.stats()[endpoint::other] == handled);
}

TEST_CASE("sandbox refusal: oversized requests get the JSON message, malformed ones nothing") {
    using sandbox::detail::refusal;
    auto big = refusal(http::status::payload_too_large);
    REQUIRE(big);
    CHECK(big->result_int() == 413);
    CHECK(body_object(*big).at("Message").as_string() == "Request too large");
    CHECK(refusal(http::status::request_header_fields_too_large)->result_int() == 431);
    CHECK_FALSE(refusal(http::status::bad_request));
}

TEST_CASE("sandbox connection handler: interim and unsolicited responses around the answer") {
    asio::io_context ioc;
    auto o = test_support::with_clock(test_support::auto_consent({}), start_clock());
    auto st = std::make_shared<sandbox::detail::server_state>(ioc.get_executor(), std::move(o));
    sandbox::detail::connection_handler handler{st, "http"};
    st->svc.set_fault(endpoint::other, {.times = 1,
                                        .interim = {100, 103, 200, 99},
                                        .unsolicited = true,
                                        .unsolicited_delay = std::chrono::milliseconds(20)});
    auto reply = handler(make(verb::get, "/v2/nothing"));
    CHECK(reply.res.result_int() == 404); // the answer itself is the endpoint's own
    // 100 and 103 in order; 200 and 99 are not interim responses and are left out.
    CHECK(reply.prefix == "HTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.1 103 Early Hints\r\nLink: </static/sandbox.css>; "
                          "rel=preload; as=style\r\n\r\n");
    CHECK(reply.suffix_delay == std::chrono::milliseconds(20));
    // The unsolicited response is one complete 200 whose body reads as a user.
    http::response_parser<http::string_body> p;
    p.eager(true);
    boost::system::error_code ec;
    auto used = p.put(asio::buffer(reply.suffix), ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(used == reply.suffix.size());
    REQUIRE(p.is_done());
    CHECK(p.get().result_int() == 200);
    auto user = json::value_to<joinme::api::user>(json::parse(p.get().body()));
    CHECK(user.email == "unsolicited@sandbox.invalid");

    // Each interim response is a complete 1xx header on its own.
    for (unsigned status : {100u, 103u, 102u}) {
        CAPTURE(status);
        auto bytes = sandbox::detail::interim_response(status);
        http::response_parser<http::empty_body> interim;
        interim.put(asio::buffer(bytes), ec);
        REQUIRE_MESSAGE(!ec, ec.message());
        CHECK(interim.is_header_done());
        CHECK(interim.get().result_int() == status);
    }
    CHECK(sandbox::detail::interim_response(200).empty());

    auto next = handler(make(verb::get, "/v2/nothing")); // the fault was for one request
    CHECK(next.prefix.empty());
    CHECK(next.suffix.empty());
    CHECK(next.suffix_delay == std::chrono::milliseconds(0));
}

namespace {

// The kinds of faults `n` requests to `target` got, in order: '.', 'd' (disconnect before the
// answer), 'c' (cut in its header), 's' (status), 'i' (interim), 'u' (unsolicited).
std::string draws(service_harness& s, const std::string& token, std::string_view target, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        auto o = s.handle(api(verb::get, std::string(target), token));
        if (!o.applied)
            out += '.';
        else if (o.applied->close_after_bytes)
            out += *o.applied->close_after_bytes == 0 ? 'd' : 'c';
        else if (o.applied->status)
            out += 's';
        else if (!o.applied->interim.empty())
            out += 'i';
        else if (o.applied->unsolicited)
            out += 'u';
        else
            out += '?';
    }
    return out;
}

sandbox::options random_options(std::uint64_t seed) {
    sandbox::options o;
    o.random = {.seed = seed,
                .endpoints = {endpoint::get_user},
                .disconnect = 0.1,
                .error_status = 0.1,
                .status = 503,
                .retry_after = "0",
                .interim = 0.1,
                .unsolicited = 0.1,
                .unsolicited_delay = std::chrono::milliseconds(5)};
    return o;
}

} // namespace

TEST_CASE("service: random faults follow the seed, the rates and the chosen endpoints") {
    service_harness a(random_options(7)), b(random_options(7)), c(random_options(8));
    auto ta = a.login(), tb = b.login(), tc = c.login();
    const int n = 4000;
    auto da = draws(a, ta.access, "/v1/user", n);
    CHECK(da == draws(b, tb.access, "/v1/user", n)); // same seed, same faults
    CHECK(da != draws(c, tc.access, "/v1/user", n));

    // Each kind near its rate of 10% (binomial, n = 4000: standard deviation 19).
    auto count = [&](char k) { return std::count(da.begin(), da.end(), k); };
    CHECK(count('d') + count('c') > 300);
    CHECK(count('d') + count('c') < 500);
    CHECK(count('d') > 100); // both kinds of disconnect
    CHECK(count('c') > 100);
    for (char k : {'s', 'i', 'u'}) {
        CAPTURE(k);
        CHECK(count(k) > 300);
        CHECK(count(k) < 500);
    }
    CHECK(count('?') == 0);
    const auto& st = a.svc.stats();
    CHECK(st.random_disconnects == static_cast<std::size_t>(count('d') + count('c')));
    CHECK(st.random_statuses == static_cast<std::size_t>(count('s')));
    CHECK(st.random_interim == static_cast<std::size_t>(count('i')));
    CHECK(st.random_unsolicited == static_cast<std::size_t>(count('u')));

    // Only the chosen endpoints: another endpoint gets none, and draws nothing.
    CHECK(draws(a, ta.access, "/v1/meetings", 500) == std::string(500, '.'));
    CHECK(st.random_statuses == static_cast<std::size_t>(count('s')));

    // A status fault answers that status instead of handling the request.
    sandbox::options only503 = random_options(1);
    only503.random.disconnect = only503.random.interim = only503.random.unsolicited = 0;
    only503.random.error_status = 1;
    service_harness d(only503);
    auto td = d.login();
    auto res = d.send(api(verb::get, "/v1/user", td.access));
    CHECK(res.result_int() == 503);
    CHECK(res[http::field::retry_after] == "0");

    // A fault injected for the endpoint takes precedence, and consumes no draw.
    d.svc.set_fault(endpoint::get_user, {.times = 1, .interim = {100}});
    auto injected = d.handle(api(verb::get, "/v1/user", td.access));
    CHECK(injected.res.result_int() == 200);
    REQUIRE(injected.applied);
    CHECK(injected.applied->interim == std::vector<unsigned>{100});
    CHECK(d.svc.stats().random_statuses == 1);

    // All rates 0 (the default): no fault.
    service_harness none;
    auto tn = none.login();
    CHECK(draws(none, tn.access, "/v1/user", 200) == std::string(200, '.'));
}
