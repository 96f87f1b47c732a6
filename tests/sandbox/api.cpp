// The sandbox's REST API (/v1/...), its error shapes, fault injection, counters, webhooks,
// connection deadlines and stop(), checked with raw Beast requests.
#include "harness.hpp"
#include "support/slow_client.hpp"

#include "api_client/fixture.hpp"

using namespace sbt;

namespace {

using http::verb;

struct api_harness : harness {
    using harness::harness;
    tokens t = login();

    response call(verb v, std::string target, std::string body = {},
                  std::optional<std::string> token = std::nullopt) {
        return send(api(v, std::move(target), token ? *token : t.access, std::move(body)));
    }

    json::object schedule(std::string_view name, std::string_view start, std::string_view end) {
        auto res = call(verb::post, "/v1/meetings",
                        json::serialize(json::object{{"meetingName", name},
                                                     {"meetingStart", start},
                                                     {"meetingEnd", end},
                                                     {"startWithPersonalUrl", false},
                                                     {"participants", {"a@example.com"}}}));
        REQUIRE(res.result_int() == 201);
        return body_object(res);
    }
};

void check_message(const response& res, unsigned status) {
    CHECK(res.result_int() == status);
    CHECK(body_object(res).at("Message").is_string());
}

/// A one-shot HTTP listener that records the requests it gets (webhook receiver).
struct receiver {
    tcp::acceptor acceptor;
    std::vector<request> got;

    explicit receiver(asio::io_context& ioc)
        : acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
        asio::co_spawn(ioc, run(), asio::detached);
    }
    std::string url(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) +
               std::string(path);
    }
    asio::awaitable<void> run() {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            beast::tcp_stream s(std::move(sock));
            s.expires_after(5s);
            beast::flat_buffer buf;
            request req;
            auto [rec, n] =
                co_await http::async_read(s, buf, req, asio::as_tuple(asio::use_awaitable));
            if (rec)
                continue;
            got.push_back(req);
            response res{http::status::no_content, 11};
            res.keep_alive(false);
            co_await http::async_write(s, res, asio::as_tuple(asio::use_awaitable));
        }
    }
};

} // namespace

TEST_CASE("GET /v1/user: Pro, Free and the contract's status") {
    api_harness h;
    auto res = h.call(verb::get, "/v1/user", "{}");
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type].starts_with("application/json"));
    auto o = body_object(res);
    CHECK(o.at("email").as_string() == "pro@example.com");
    CHECK(o.at("fullName").as_string() == "Hardest Worker");
    CHECK(o.at("language").as_string() == "en-US");
    CHECK(o.at("numberOfMeetingsHosted").as_int64() == 57);
    CHECK(o.at("personalUrl").as_string() == "hardwork");
    CHECK(o.at("registrationDate").as_string() == "2014-03-22T20:45:00");
    CHECK(o.at("subscriptionType").as_string() == "Pro");
    auto& cs = o.at("conferenceSettings").as_object();
    CHECK(cs.at("conferenceId").as_string().size() == 9);
    CHECK(cs.at("organizerCode").as_string().size() == 4);
    CHECK(cs.at("conferenceCallNumbersUrl").is_string());

    h.srv.config().current_user = "free@example.com";
    auto free = h.login();
    auto f = body_object(h.call(verb::get, "/v1/user", {}, free.access));
    CHECK(f.at("subscriptionType").as_string() == "Free");
    CHECK(!f.contains("personalUrl"));
    CHECK(!f.contains("conferenceSettings"));

    h.srv.config().get_user_status = 201;
    CHECK(h.call(verb::get, "/v1/user").result_int() == 201);
}

TEST_CASE("POST /v1/meetings/start") {
    api_harness h;
    auto res = h.call(verb::post, "/v1/meetings/start", R"({"startWithPersonalUrl": false})");
    REQUIRE(res.result_int() == 201);
    auto o = body_object(res);
    CHECK(std::string(o.at("presenterLink").as_string())
              .starts_with("http://127.0.0.1/API/Public/StartMeeting.aspx?token="));
    CHECK(o.at("viewerLink").as_string().size() == std::string("http://127.0.0.1/").size() + 9);
    auto& ac = o.at("audioConference").as_object();
    CHECK(ac.at("conferenceId").as_string() == "123456789");
    CHECK(ac.at("organizerCode").as_string() == "1234");
    CHECK(!o.contains("webhooksStatus"));

    auto personal = body_object(h.call(verb::post, "/v1/meetings/start",
                                       R"({"startWithPersonalUrl": "true", "viewerMode": "headless",
                                           "viewerAppDetection": false})"));
    CHECK(personal.at("viewerLink").as_string() == "http://127.0.0.1/hardwork");

    check_message(h.call(verb::post, "/v1/meetings/start", "{}"), 400);
    check_message(h.call(verb::post, "/v1/meetings/start", R"({"startWithPersonalUrl": 3})"), 400);
    check_message(h.call(verb::post, "/v1/meetings/start",
                         R"({"startWithPersonalUrl": false, "viewerMode": "odd"})"),
                  400);
    check_message(h.call(verb::post, "/v1/meetings/start", "[1]"), 400);
    check_message(h.call(verb::post, "/v1/meetings/start", "{not json"), 400);

    h.srv.config().current_user = "free@example.com";
    auto free = h.login();
    check_message(
        h.call(verb::post, "/v1/meetings/start", R"({"startWithPersonalUrl": true})", free.access),
        400);
    auto fr = body_object(h.call(verb::post, "/v1/meetings/start",
                                 R"({"startWithPersonalUrl": false})", free.access));
    CHECK(fr.at("audioConference").as_object().at("conferenceId").as_string().size() == 9);
}

TEST_CASE("scheduled meetings: schedule, get, list, update, delete, start") {
    api_harness h; // the clock reads 2030-01-01T09:00:00Z
    auto m = h.schedule("Weekly", "2030-01-02T16:00:00+02:00", "2030-01-02T17:00:00+02:00");
    auto id = m.at("meetingId").as_int64();
    CHECK(m.at("meetingName").as_string() == "Weekly");
    CHECK(m.at("meetingStart").as_string() == "2030-01-02T14:00:00Z");
    CHECK(m.at("meetingEnd").as_string() == "2030-01-02T15:00:00Z");
    CHECK(m.at("startWithPersonalUrl") == json::value(false));
    CHECK(m.at("participants").as_array().size() == 1);
    CHECK(m.at("conferenceId").as_string() == "123456789");
    CHECK(!m.contains("viewerLink"));

    auto got = h.call(verb::get, "/v1/meetings/" + std::to_string(id), "{}");
    CHECK(got.result_int() == 200);
    CHECK(body_object(got) == m);

    auto m2 = h.schedule("Later", "2030-03-01T10:00:00Z", "2030-03-01T11:00:00Z");
    auto id2 = m2.at("meetingId").as_int64();
    CHECK(id2 != id);
    auto past = h.schedule("Past", "2029-12-31T10:00:00Z", "2029-12-31T11:00:00Z");

    SUBCASE("list: upcoming only, sorted, endDate filter") {
        auto all = body_object(h.call(verb::get, "/v1/meetings"));
        auto& ms = all.at("meetings").as_array();
        REQUIRE(ms.size() == 2);
        CHECK(ms[0].as_object().at("meetingId").as_int64() == id);
        CHECK(ms[1].as_object().at("meetingId").as_int64() == id2);
        auto until = body_object(h.call(verb::get, "/v1/meetings?endDate=2030-02-01T00:00:00Z"));
        CHECK(until.at("meetings").as_array().size() == 1);
        check_message(h.call(verb::get, "/v1/meetings?endDate=tomorrow"), 400);
        h.srv.config().current_user = "admin@example.com";
        auto other = h.login("scheduler");
        CHECK(body_object(h.call(verb::get, "/v1/meetings", {}, other.access))
                  .at("meetings")
                  .as_array()
                  .empty());
        // another user's meeting does not exist for them
        check_message(h.call(verb::get, "/v1/meetings/" + std::to_string(id), {}, other.access),
                      404);
    }
    SUBCASE("update") {
        auto res = h.call(verb::patch, "/v1/meetings/" + std::to_string(id),
                          R"({"meetingName": "Renamed", "meetingStart": null,
                              "meetingEnd": "2030-01-02T18:00:00Z", "startWithPersonalUrl": "true"})");
        REQUIRE(res.result_int() == 200);
        auto u = body_object(res);
        CHECK(u.at("meetingName").as_string() == "Renamed");
        CHECK(u.at("meetingStart").as_string() == "2030-01-02T14:00:00Z");
        CHECK(u.at("meetingEnd").as_string() == "2030-01-02T18:00:00Z");
        CHECK(u.at("startWithPersonalUrl") == json::value(true));
        // end before start leaves the meeting unchanged
        check_message(h.call(verb::patch, "/v1/meetings/" + std::to_string(id),
                             R"({"meetingEnd": "2030-01-02T13:00:00Z"})"),
                      400);
        CHECK(body_object(h.call(verb::get, "/v1/meetings/" + std::to_string(id))) == u);
        check_message(h.call(verb::patch, "/v1/meetings/999999", "{}"), 404);
    }
    SUBCASE("validation") {
        auto bad = [&](std::string body) {
            check_message(h.call(verb::post, "/v1/meetings", std::move(body)), 400);
        };
        bad(R"({"meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingEnd": "2030-01-02T11:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingStart": "2030-01-02T10:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingStart": "2030-01-02T12:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingStart": "2030-02-30T10:00:00Z", "meetingEnd": "2030-03-02T11:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingStart": "soon", "meetingEnd": "2030-01-02T11:00:00Z"})");
        bad(R"({"meetingName": 5, "meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z"})");
        bad(R"({"meetingName": "x", "meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z", "participants": [1]})");
        bad(R"({"meetingName": "x", "meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z", "startWithPersonalUrl": "yes"})");
    }
    SUBCASE("delete") {
        auto res = h.call(verb::delete_, "/v1/meetings/" + std::to_string(id), "{}");
        CHECK(res.result_int() == 204);
        CHECK(res.body().empty());
        auto gone = h.call(verb::get, "/v1/meetings/" + std::to_string(id));
        CHECK(gone.result_int() == 404);
        CHECK(body_object(gone).at("Message").as_string() == "Meeting not found");
        check_message(h.call(verb::delete_, "/v1/meetings/" + std::to_string(id)), 404);
        check_message(h.call(verb::get, "/v1/meetings/abc"), 404);
    }
    SUBCASE("start a scheduled meeting") {
        auto res = h.call(verb::post, "/v1/meetings/" + std::to_string(id) + "/start");
        REQUIRE(res.result_int() == 201);
        auto o = body_object(res);
        CHECK(o.contains("presenterLink"));
        CHECK(o.contains("audioConference"));
        auto after = body_object(h.call(verb::get, "/v1/meetings/" + std::to_string(id)));
        CHECK(after.at("viewerLink") == o.at("viewerLink"));
        CHECK(h.srv.meeting_for_presenter_link(o.at("presenterLink").as_string()) == id);
        check_message(h.call(verb::post, "/v1/meetings/424242/start"), 404);
    }
    SUBCASE("dates without zone on request") {
        h.srv.config().dates_without_zone = true;
        auto g = body_object(h.call(verb::get, "/v1/meetings/" + std::to_string(id)));
        CHECK(g.at("meetingStart").as_string() == "2030-01-02T14:00:00");
    }
    (void)past; // scheduled only to show that past meetings are not listed
}

TEST_CASE("presenters (Business key, Master Account Holder)") {
    api_harness h;
    h.srv.config().current_user = "admin@example.com";
    auto admin = h.login("provisioning user_info", sandbox::default_business_client_id);
    auto list = h.call(verb::get, "/v1/presenters", {}, admin.access);
    REQUIRE(list.result_int() == 200);
    boost::system::error_code ec;
    auto arr = json::parse(list.body(), ec);
    REQUIRE(arr.is_array());
    REQUIRE(arr.as_array().size() == 1);
    auto& p = arr.as_array()[0].as_object();
    CHECK(p.at("id").as_int64() == 1);
    CHECK(p.at("email").as_string() == "hardworker@example.com");
    CHECK(p.at("isInvitationAccepted") == json::value(true));
    CHECK(p.at("isSeatAssigned") == json::value(true));

    auto added =
        h.call(verb::post, "/v1/presenters", R"({"email": "new@example.com"})", admin.access);
    REQUIRE(added.result_int() == 201);
    auto a = body_object(added);
    CHECK(a.at("email").as_string() == "new@example.com");
    CHECK(a.at("isInvitationAccepted") == json::value(false));
    CHECK(a.at("isSeatAssigned") == json::value(false));
    auto got = h.call(verb::get, "/v1/presenters/" + std::to_string(a.at("id").as_int64()), {},
                      admin.access);
    CHECK(got.result_int() == 200);
    CHECK(body_object(got) == a);
    check_message(h.call(verb::get, "/v1/presenters/777", {}, admin.access), 404);
    check_message(
        h.call(verb::post, "/v1/presenters", R"({"email": "new@example.com"})", admin.access), 400);
    check_message(
        h.call(verb::post, "/v1/presenters", R"({"mail": "x@example.com"})", admin.access), 400);

    h.srv.config().presenters_wrapped = true;
    auto wrapped = body_object(h.call(verb::get, "/v1/presenters", {}, admin.access));
    CHECK(wrapped.at("presenters").as_array().size() == 2);

    // a user who is not a Master Account Holder
    h.srv.config().current_user = "pro@example.com";
    auto pro = h.login("provisioning", sandbox::default_business_client_id);
    check_message(h.call(verb::get, "/v1/presenters", {}, pro.access), 403);
}

TEST_CASE("scopes are enforced for every endpoint") {
    api_harness h;
    struct ep {
        verb v;
        std::string target, body, scope;
    };
    auto m = h.schedule("m", "2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z");
    auto id = std::to_string(m.at("meetingId").as_int64());
    std::vector<ep> eps{
        {verb::get, "/v1/user", "", "user_info"},
        {verb::post, "/v1/meetings/start", R"({"startWithPersonalUrl": false})", "start_meeting"},
        {verb::get, "/v1/meetings", "", "scheduler"},
        {verb::post, "/v1/meetings",
         R"({"meetingName": "x", "meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z"})",
         "scheduler"},
        {verb::get, "/v1/meetings/" + id, "", "scheduler"},
        {verb::patch, "/v1/meetings/" + id, "{}", "scheduler"},
        {verb::post, "/v1/meetings/" + id + "/start", "", "start_meeting"},
        {verb::get, "/v1/presenters", "", "provisioning"},
        {verb::get, "/v1/presenters/1", "", "provisioning"},
        {verb::post, "/v1/presenters", R"({"email": "z@example.com"})", "provisioning"},
        {verb::delete_, "/v1/meetings/" + id, "", "scheduler"},
    };
    h.srv.config().current_user = "admin@example.com";
    std::map<std::string, std::string> token_for;
    for (auto s : {"user_info", "scheduler", "start_meeting", "provisioning"})
        token_for[s] = h.login(s, sandbox::default_business_client_id).access;
    // the admin's copy of the meeting, since meetings are per user
    auto am = body_object(h.call(
        verb::post, "/v1/meetings",
        R"({"meetingName": "m", "meetingStart": "2030-01-02T10:00:00Z", "meetingEnd": "2030-01-02T11:00:00Z"})",
        token_for["scheduler"]));
    auto aid = std::to_string(am.at("meetingId").as_int64());
    for (auto& e : eps) {
        auto target = e.target;
        if (auto at = target.find(id); at != std::string::npos)
            target.replace(at, id.size(), aid);
        for (auto& kv : token_for) {
            // (clang 14 cannot capture structured bindings in INFO's lambda)
            const std::string& scope = kv.first;
            const std::string& token = kv.second;
            INFO(target, " with ", scope);
            auto res = h.call(e.v, target, e.body, token);
            if (scope == e.scope) {
                CHECK(res.result_int() / 100 == 2);
            } else {
                CHECK(res.result_int() == 403);
                CHECK(res[http::field::www_authenticate] ==
                      R"(Bearer realm="api.join.me", error="insufficient_scope")");
                CHECK(body_object(res).at("ErrorCode").as_string() == "insufficient_scope");
            }
        }
    }
}

TEST_CASE("API error shapes of the contract") {
    api_harness h;
    SUBCASE("missing, malformed and unknown tokens") {
        for (auto auth : {"", "Bearer", "Bearer ", "Basic abc", "Bearer nope"}) {
            INFO(auth);
            auto req = make(verb::get, "/v1/user");
            if (*auth)
                req.set(http::field::authorization, auth);
            auto res = h.send(req);
            CHECK(res.result_int() == 401);
            CHECK(res[http::field::www_authenticate] ==
                  R"(Bearer realm="api.join.me", error="invalid_token")");
            CHECK(body_object(res).at("ErrorCode").as_string() == "invalid_token");
        }
    }
    SUBCASE("inactive account") {
        h.srv.config().applications[0].inactive = true;
        auto res = h.call(verb::get, "/v1/user");
        CHECK(res.result_int() == 403);
        CHECK(res[http::field::server] == "Mashery Proxy");
        CHECK(res["X-Error-Detail-Header"] == "Account Inactive");
        CHECK(res["X-Mashery-Error-Code"] == "ERR_403_DEVELOPER_INACTIVE");
        CHECK(res[http::field::www_authenticate] ==
              R"(Bearer realm="api.join.me", error="invalid_token")");
    }
    SUBCASE("over the QPS limit, per token and per second of the clock") {
        h.srv.config().qps_limit = 2;
        CHECK(h.call(verb::get, "/v1/user").result_int() == 200);
        CHECK(h.call(verb::get, "/v1/user").result_int() == 200);
        auto res = h.call(verb::get, "/v1/user");
        CHECK(res.result_int() == 403);
        CHECK(res[http::field::server] == "Mashery Proxy");
        CHECK(res["X-Error-Detail-Header"] == "Account Over Queries Per Second Limit");
        CHECK(res["X-Mashery-Error-Code"] == "ERR_403_DEVELOPER_OVER_QPS");
        CHECK(res[http::field::retry_after] == "1");
        auto other = h.login();
        CHECK(h.call(verb::get, "/v1/user", {}, other.access).result_int() == 200);
        h.advance(1s);
        CHECK(h.call(verb::get, "/v1/user").result_int() == 200);
    }
    SUBCASE("stale token") {
        h.srv.set_stale(h.t.access);
        auto res = h.call(verb::get, "/v1/user");
        CHECK(res.result_int() == 401);
        auto o = body_object(res);
        CHECK(o.at("ErrorCode").as_string() == "stale_token");
        CHECK(o.at("Message").is_string());
    }
}

TEST_CASE("fault injection") {
    api_harness h;
    using sandbox::endpoint;
    SUBCASE("latency") {
        h.srv.set_fault(endpoint::get_user, {.latency = 150ms});
        auto start = std::chrono::steady_clock::now();
        CHECK(h.call(verb::get, "/v1/user").result_int() == 200);
        CHECK(std::chrono::steady_clock::now() - start >= 150ms);
    }
    SUBCASE("429 with Retry-After, for a number of requests") {
        h.srv.set_fault(endpoint::get_user, {.status = 429, .retry_after = "7", .times = 2});
        for (int i = 0; i < 2; ++i) {
            auto res = h.call(verb::get, "/v1/user");
            CHECK(res.result_int() == 429);
            CHECK(res[http::field::retry_after] == "7");
        }
        CHECK(h.call(verb::get, "/v1/user").result_int() == 200);
    }
    SUBCASE("429 with an HTTP-date Retry-After") {
        h.srv.set_fault(endpoint::get_user,
                        {.status = 429, .retry_after = "Tue, 01 Jan 2030 09:00:05 GMT"});
        CHECK(h.call(verb::get, "/v1/user")[http::field::retry_after] ==
              "Tue, 01 Jan 2030 09:00:05 GMT");
    }
    SUBCASE("500 and 503") {
        h.srv.set_fault(endpoint::list_meetings, {.status = 500});
        check_message(h.call(verb::get, "/v1/meetings"), 500);
        h.srv.set_fault(endpoint::list_meetings, {.status = 503});
        auto res = h.call(verb::get, "/v1/meetings");
        check_message(res, 503);
        CHECK(res[http::field::retry_after] == "1");
        h.srv.clear_faults();
        CHECK(h.call(verb::get, "/v1/meetings").result_int() == 200);
    }
    SUBCASE("500 on the token endpoint is join.me's server_error") {
        h.srv.set_fault(endpoint::token, {.status = 500, .times = 1});
        auto res = h.refresh(h.t.refresh);
        CHECK(res.result_int() == 500);
        auto o = body_object(res);
        CHECK(o.at("error").as_string() == "server_error");
        CHECK(o.at("error_ticket_id").as_string().size() == 10);
        CHECK(o.at("error_description").as_string() == "");
        // the refresh token was not consumed
        CHECK(h.refresh(h.t.refresh).result_int() == 200);
    }
    SUBCASE("502 and 504 are a gateway's HTML page") {
        for (unsigned status : {502u, 504u}) {
            h.srv.set_fault(endpoint::token, {.status = status, .times = 1});
            auto res = h.refresh(h.t.refresh);
            CHECK(res.result_int() == status);
            CHECK(std::string(res[http::field::content_type]).rfind("text/html", 0) == 0);
            CHECK(res.body().find(std::to_string(status)) != std::string::npos);
        }
        CHECK(h.refresh(h.t.refresh).result_int() == 200);
    }
    SUBCASE("500 on authorize is the ExitPointId page") {
        h.srv.set_fault(endpoint::authorize, {.status = 500});
        auto o = body_object(h.send(make(verb::get, h.authorize_target("user_info"))));
        CHECK(o.at("ExitPointId").is_int64());
        CHECK(o.at("Message").as_string() == "InternalServerError");
    }
    SUBCASE("the over-QPS 403") {
        h.srv.set_fault(endpoint::get_user, {.status = 403});
        auto res = h.call(verb::get, "/v1/user");
        CHECK(res.result_int() == 403);
        CHECK(res["X-Mashery-Error-Code"] == "ERR_403_DEVELOPER_OVER_QPS");
        CHECK(res[http::field::retry_after] == "1");
    }
    SUBCASE("close after N bytes of the response") {
        for (auto t : {transport::memory, transport::tcp, transport::tls}) {
            INFO(name(t));
            h.srv.set_fault(endpoint::get_user, {.close_after_bytes = 40, .times = 1});
            connection c(h, t);
            std::ostringstream os;
            os << api(verb::get, "/v1/user", h.t.access);
            CHECK(!c.write_raw(os.str()));
            auto bytes = c.read_all();
            CHECK(bytes.size() == 40);
            CHECK(bytes.starts_with("HTTP/1.1 200 OK\r\n"));
        }
    }
    SUBCASE("interim responses before the answer, an unsolicited one right after it") {
        for (auto t : {transport::memory, transport::tcp, transport::tls}) {
            INFO(name(t));
            h.srv.set_fault(endpoint::get_user,
                            {.times = 1, .interim = {100, 103}, .unsolicited = true});
            connection c(h, t);
            auto req = api(verb::get, "/v1/user", h.t.access);
            req.keep_alive(false); // so that the server closes after its last byte
            std::ostringstream os;
            os << req;
            CHECK(!c.write_raw(os.str()));
            auto bytes = c.read_all();
            CHECK(bytes.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"));
            auto answer = bytes.find("HTTP/1.1 200 OK\r\n");
            auto extra = bytes.rfind("HTTP/1.1 200 OK\r\n");
            REQUIRE(answer != std::string::npos);
            CHECK(answer < extra);
            CHECK(bytes.find("pro@example.com", answer) < extra);
            CHECK(bytes.find("unsolicited@sandbox.invalid", extra) != std::string::npos);
        }
    }
    SUBCASE("an unsolicited response after a delay") {
        h.srv.set_fault(endpoint::get_user,
                        {.times = 1, .unsolicited = true, .unsolicited_delay = 300ms});
        connection c(h, transport::tcp);
        auto start = std::chrono::steady_clock::now();
        auto first = c.send(api(verb::get, "/v1/user", h.t.access));
        REQUIRE(!first.ec);
        CHECK(first.res.body().find("pro@example.com") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - start < 300ms); // the answer did not wait
        auto extra = c.read();
        REQUIRE(!extra.ec);
        CHECK(std::chrono::steady_clock::now() - start >= 300ms);
        CHECK(extra.res.body().find("unsolicited@sandbox.invalid") != std::string::npos);
        // The connection serves the next request as usual.
        auto next = c.send(api(verb::get, "/v1/user", h.t.access));
        REQUIRE(!next.ec);
        CHECK(next.res.body().find("pro@example.com") != std::string::npos);
    }
    SUBCASE("never answer; stop() ends the connection") {
        h.srv.set_fault(endpoint::get_user, {.never_answer = true});
        connection c(h, transport::tcp);
        std::ostringstream os;
        os << api(verb::get, "/v1/user", h.t.access);
        CHECK(!c.write_raw(os.str()));
        bool done = false;
        std::string got;
        c.visit([&](auto& s) {
            asio::co_spawn(
                h.ioc,
                [](auto& s, std::string& out) -> asio::awaitable<void> {
                    char b[256];
                    auto [ec, n] = co_await s.async_read_some(asio::buffer(b),
                                                              asio::as_tuple(asio::use_awaitable));
                    out.assign(b, n);
                }(s, got),
                [&](std::exception_ptr) { done = true; });
            return 0;
        });
        CHECK(!h.run_until([&] { return done; }, 200ms));
        CHECK(h.srv.stats()[endpoint::get_user] == 1);
        h.srv.stop();
        CHECK(h.run_until([&] { return done; }));
        CHECK(got.empty());
    }
    SUBCASE("close keep-alive connections after N requests") {
        h.srv.config().keep_alive_max_requests = 2;
        for (auto t : {transport::memory, transport::tcp, transport::tls}) {
            INFO(name(t));
            connection c(h, t);
            auto r1 = c.send(api(verb::get, "/v1/user", h.t.access));
            CHECK(r1.res.keep_alive());
            auto r2 = c.send(api(verb::get, "/v1/user", h.t.access));
            CHECK(r2.res.result_int() == 200);
            CHECK(r2.res.keep_alive()); // silent close
            auto r3 = c.send(api(verb::get, "/v1/user", h.t.access));
            CHECK(r3.ec);
        }
        h.srv.config().announce_close = true;
        connection c(h, transport::tcp);
        c.send(api(verb::get, "/v1/user", h.t.access));
        auto r2 = c.send(api(verb::get, "/v1/user", h.t.access));
        CHECK(!r2.res.keep_alive());
        CHECK(r2.res[http::field::connection] == "close");
    }
}

TEST_CASE("counters") {
    harness h;
    using sandbox::endpoint;
    auto before = h.srv.stats().connections_accepted;
    auto t = h.login();
    h.refresh(t.refresh);
    h.send(api(verb::get, "/v1/user", t.access), transport::tcp);
    h.send(api(verb::get, "/v1/user", t.access), transport::tls);
    auto& s = h.srv.stats();
    CHECK(s[endpoint::authorize] == 1);
    CHECK(s[endpoint::consent] == 1);
    CHECK(s[endpoint::token] == 2);
    CHECK(s[endpoint::get_user] == 2);
    CHECK(s.tokens_issued_authorization_code == 1);
    CHECK(s.tokens_issued_refresh_token == 1);
    CHECK(s.refresh_requests == 1);
    CHECK(s.connections_accepted - before == 6);
    h.srv.reset_counters();
    CHECK(h.srv.stats()[endpoint::token] == 0);
}

TEST_CASE("webhooks: registered on start, POSTed when the meeting starts and ends") {
    api_harness h;
    receiver rx(h.ioc);
    json::object body{
        {"startWithPersonalUrl", false},
        {"webhooks",
         {{"meeting.start",
           {{"callbackUrl", rx.url("/started")}, {"customCallbackData", {{"foo", 123}}}}},
          {"meeting.end", {{"callbackUrl", rx.url("/ended")}, {"customCallbackData", "abc"}}},
          {"meeting.pause", {{"callbackUrl", rx.url("/x")}}}}}};
    auto res = h.call(verb::post, "/v1/meetings/start", json::serialize(body));
    REQUIRE(res.result_int() == 201);
    auto o = body_object(res);
    auto& st = o.at("webhooksStatus").as_object();
    CHECK(st.at("meeting.start").as_object().at("registered") == json::value(true));
    CHECK(st.at("meeting.end").as_object().at("registered") == json::value(true));
    CHECK(st.at("meeting.pause").as_object().at("registered") == json::value(false));
    std::string link(o.at("presenterLink").as_string());
    auto id = h.srv.meeting_for_presenter_link(link);
    REQUIRE(id);
    CHECK(!h.srv.meeting_ended(*id)); // not begun yet

    // opening the presenter link starts the meeting (one time only)
    auto target = link.substr(std::string("http://127.0.0.1").size());
    CHECK(h.send(make(verb::get, target)).result_int() == 200);
    CHECK(h.send(make(verb::get, target)).result_int() == 410);
    REQUIRE(h.run_until([&] { return rx.got.size() == 1; }));
    CHECK(rx.got[0].target() == "/started");
    CHECK(rx.got[0].method() == verb::post);
    auto cb = json::parse(rx.got[0].body()).as_object();
    CHECK(cb.at("event").as_string() == "meeting.start");
    CHECK(cb.at("meetingId").as_int64() == *id);
    CHECK(cb.at("timestamp").as_string() == "2030-01-01T09:00:00Z");
    CHECK(cb.at("customCallbackData") == json::value({{"foo", 123}}));

    CHECK(h.srv.meeting_ended(*id));
    CHECK(!h.srv.meeting_ended(*id));
    REQUIRE(h.run_until([&] { return rx.got.size() == 2; }));
    auto cb2 = json::parse(rx.got[1].body()).as_object();
    CHECK(rx.got[1].target() == "/ended");
    CHECK(cb2.at("event").as_string() == "meeting.end");
    CHECK(cb2.at("customCallbackData") == json::value("abc"));
    REQUIRE(h.run_until([&] { return h.srv.stats().webhooks_delivered == 2; }));

    SUBCASE("a presenter link expires after 10 minutes; the control starts the meeting") {
        auto o2 = body_object(h.call(verb::post, "/v1/meetings/start", json::serialize(body)));
        std::string link2(o2.at("presenterLink").as_string());
        h.advance(600s);
        CHECK(h.send(make(verb::get, link2.substr(16))).result_int() == 410);
        auto id2 = h.srv.meeting_for_presenter_link(link2);
        REQUIRE(id2);
        CHECK(h.srv.meeting_started(*id2));
        CHECK(!h.srv.meeting_started(*id2));
        REQUIRE(h.run_until([&] { return rx.got.size() == 3; }));
    }
    SUBCASE("an unreachable callback counts as failed") {
        rx.acceptor.close();
        auto o2 = body_object(h.call(verb::post, "/v1/meetings/start", json::serialize(body)));
        auto id2 = h.srv.meeting_for_presenter_link(o2.at("presenterLink").as_string());
        CHECK(h.srv.meeting_started(*id2));
        CHECK(h.run_until([&] { return h.srv.stats().webhooks_failed == 1; }));
    }
}

TEST_CASE("webhooks: a callbackUrl that is not an absolute URL is unregistered, never an abort") {
    // Boost.URL 1.81 asserts on a scheme, its colon and one character that starts neither a
    // path nor a segment (`http:?`). Such a webhook is reported unregistered, with the reason,
    // and the meeting starts all the same (joinme-api.md §4.4).
    api_harness h;
    auto start_with = [&](std::string target, json::value hook) {
        json::object body{{"startWithPersonalUrl", false},
                          {"webhooks", {{"meeting.start", std::move(hook)}}}};
        return h.call(verb::post, std::move(target), json::serialize(body));
    };
    auto unregistered = [](const response& res) {
        REQUIRE(res.result_int() == 201);
        auto st = body_object(res).at("webhooksStatus").at("meeting.start").as_object();
        CHECK(st.at("registered") == json::value(false));
        CHECK(st.at("message") == json::value("callbackUrl must be an absolute URL."));
    };
    for (std::string_view bad :
         {"http:?", "http:#", "http:[", "http:]", "x:?", "http: ", "http:{", "/relative", ""}) {
        CAPTURE(bad);
        unregistered(start_with("/v1/meetings/start", {{"callbackUrl", bad}}));
    }
    unregistered(start_with("/v1/meetings/start", {{"customCallbackData", 1}}));
    unregistered(start_with("/v1/meetings/start", {{"callbackUrl", 42}}));
    unregistered(start_with("/v1/meetings/start", "http://127.0.0.1/cb"));

    auto m = h.schedule("Weekly", "2030-01-02T16:00:00Z", "2030-01-02T17:00:00Z");
    auto id = std::to_string(m.at("meetingId").as_int64());
    unregistered(start_with("/v1/meetings/" + id + "/start", {{"callbackUrl", "http:?"}}));

    // a good callbackUrl registers; an https one is answered, not registered
    auto ok = start_with("/v1/meetings/start", {{"callbackUrl", "http://127.0.0.1:9/cb"}});
    REQUIRE(ok.result_int() == 201);
    CHECK(body_object(ok).at("webhooksStatus").at("meeting.start").at("registered") ==
          json::value(true));
    auto tls = start_with("/v1/meetings/start", {{"callbackUrl", "https://127.0.0.1:9/cb"}});
    REQUIRE(tls.result_int() == 201);
    CHECK(body_object(tls).at("webhooksStatus").at("meeting.start").at("registered") ==
          json::value(false));
    // the control that reads a presenter link refuses such a link too
    CHECK(!h.srv.meeting_for_presenter_link("http:?"));
}

TEST_CASE("stop() closes listeners and connections so that run() returns") {
    harness h;
    connection a(h, transport::tcp), b(h, transport::tls), c(h, transport::memory);
    auto r = a.send(make(verb::get, "/v1/user"));
    CHECK(r.res.result_int() == 401);
    h.srv.stop();
    h.ioc.restart();
    auto start = std::chrono::steady_clock::now();
    // run() (bounded in case it would not return) ends because there is no work left
    h.ioc.run_for(5s);
    CHECK(std::chrono::steady_clock::now() - start < 4s);
    CHECK(a.send(make(verb::get, "/v1/user")).ec);
}

TEST_CASE("silent, slow and idle connections are closed at idle_timeout; others are served") {
    sandbox::options o;
    o.idle_timeout = 200ms;
    harness h(o);
    auto at = [](unsigned short port) {
        return tcp::endpoint(asio::ip::address_v4::loopback(), port);
    };
    // One byte every 25 ms: each read gets a byte long before any per-read deadline, but the
    // whole request would take over a second.
    const std::string trickle = "GET /v1/user HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    test_support::slow_client_result silent, silent_tls, slow;
    asio::co_spawn(h.ioc, test_support::slow_client(at(h.tcp_port), "", 25ms, 3s, silent),
                   asio::detached);
    asio::co_spawn(h.ioc, test_support::slow_client(at(h.tls_port), "", 25ms, 3s, silent_tls),
                   asio::detached);
    asio::co_spawn(h.ioc, test_support::slow_client(at(h.tcp_port), trickle, 25ms, 3s, slow),
                   asio::detached);
    h.run_until([] { return false; }, 50ms);

    // Meanwhile a normal request is answered at once, and its connection then stays idle.
    connection c(h, transport::tcp);
    auto r = c.send(make(verb::get, "/v1/user"));
    CHECK_FALSE(r.ec);
    CHECK(r.res.result_int() == 401);
    CHECK(r.res.keep_alive());
    CHECK_FALSE(silent.ended);
    CHECK_FALSE(silent_tls.ended);
    CHECK_FALSE(slow.ended);
    const auto idle_from = std::chrono::steady_clock::now();
    CHECK(c.read_all().empty());
    const auto idle_for = std::chrono::steady_clock::now() - idle_from;
    CHECK(idle_for >= 100ms);
    CHECK(idle_for < 1s);

    REQUIRE(h.run_until([&] { return silent.ended && silent_tls.ended && slow.ended; }));
    for (auto* x : {&silent, &silent_tls, &slow}) {
        const char* which = x == &silent ? "silent" : x == &slow ? "slow" : "silent TLS";
        INFO(which);
        CHECK((x->ec == asio::error::eof || x->ec == asio::error::connection_reset));
        CHECK(x->lasted >= 150ms);
        CHECK(x->lasted < 1s);
    }
    CHECK(slow.sent > 0);
    CHECK(slow.sent < trickle.size());
}

TEST_CASE("the request log carries no query string") {
    std::vector<sandbox::request_log_entry> log;
    sandbox::options o;
    o.on_request = [&](const sandbox::request_log_entry& e) { log.push_back(e); };
    harness h(o);
    auto t = h.login();
    h.send(make(verb::get, "/api/public/v1/auth/renewauthorization?" +
                               form({{"client_id", client_id()}, {"access_token", t.access}})));
    REQUIRE(!log.empty());
    CHECK(log.back().method == "GET");
    CHECK(log.back().path == "/api/public/v1/auth/renewauthorization");
    CHECK(log.back().status == 200); // the renew-authorization page
    for (auto& e : log)
        CHECK(e.path.find('?') == std::string::npos);
}

TEST_CASE("many concurrent connections on every transport") {
    harness h;
    auto t = h.login();
    int ok = 0;
    constexpr int n = 12;
    auto one = [](harness& h, transport tr, std::string token, int& ok) -> asio::awaitable<void> {
        auto req = api(verb::get, "/v1/user", token);
        http::response<http::string_body> res;
        beast::flat_buffer buf;
        if (tr == transport::memory) {
            auto s = h.srv.in_memory_connector()(h.ioc.get_executor());
            co_await http::async_write(s, req, asio::use_awaitable);
            co_await http::async_read(s, buf, res, asio::use_awaitable);
        } else {
            beast::tcp_stream s(h.ioc);
            s.expires_after(5s);
            co_await s.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), h.tcp_port),
                                     asio::use_awaitable);
            co_await http::async_write(s, req, asio::use_awaitable);
            co_await http::async_read(s, buf, res, asio::use_awaitable);
        }
        ok += res.result_int() == 200;
    };
    for (int i = 0; i < n; ++i)
        for (auto tr : {transport::memory, transport::tcp})
            asio::co_spawn(h.ioc, one(h, tr, t.access, ok), asio::detached);
    CHECK(h.run_until([&] { return ok == 2 * n; }));
}

namespace apit {
namespace {

// The joinme client against the sandbox's interim and unsolicited responses over real sockets:
// it skips the 1xx, and a connection on which an unsolicited response arrives is closed, so
// that the next call gets its own answer.
template <class Stream>
void check_interim_and_unsolicited() {
    env<Stream> e;
    api::basic_client<Stream> client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client);
    auto get_user = [&] {
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
        return r.value.email;
    };
    CHECK(get_user() == "pro@example.com");
    auto connections = [&] { return client.pool().stats().connections_opened; };
    const auto opened = connections();

    // Interim responses only: the connection stays in use.
    e.srv.set_fault(sandbox::endpoint::get_user, {.times = 1, .interim = {100, 103}});
    CHECK(get_user() == "pro@example.com");
    CHECK(get_user() == "pro@example.com");
    CHECK(connections() == opened);

    // An unsolicited response right behind the answer: that connection is not used again.
    e.srv.set_fault(sandbox::endpoint::get_user,
                    {.times = 1, .interim = {103}, .unsolicited = true});
    CHECK(get_user() == "pro@example.com");
    CHECK(get_user() == "pro@example.com");
    CHECK(connections() == opened + 1);

    // One that arrives 50 ms later, while the connection is idle: the same.
    e.srv.set_fault(sandbox::endpoint::get_user,
                    {.times = 1, .unsolicited = true, .unsolicited_delay = 50ms});
    CHECK(get_user() == "pro@example.com");
    e.run([]() -> asio::awaitable<int> {
        asio::steady_timer t(co_await asio::this_coro::executor, 250ms);
        co_await t.async_wait(asio::use_awaitable);
        co_return 0;
    }());
    CHECK(get_user() == "pro@example.com");
    CHECK(connections() == opened + 2);
    CHECK(e.requests(sandbox::endpoint::get_user) == 7);
}

TEST_CASE("api client over TCP and TLS: interim responses skipped, unsolicited ones never an "
          "answer") {
    SUBCASE("tcp") {
        check_interim_and_unsolicited<tcp_stream>();
    }
    SUBCASE("tls") {
        check_interim_and_unsolicited<tls_stream>();
    }
}

} // namespace
} // namespace apit
