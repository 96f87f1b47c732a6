// basic_client against the sandbox: every endpoint's success and documented errors, the same
// test bodies instantiated for TLS, plain TCP and the in-memory stream pair.
#include "api_client/fixture.hpp"

#include <joinme/api/detail/describe.hpp>

namespace apit {
namespace {

using sandbox::endpoint;
using std::chrono::sys_days;

#define APIT_STREAMS tls_stream, tcp_stream, memory_stream

namespace eps = api::endpoints;
using api::detail::describe;
using verb = beast::http::verb;

TEST_CASE("endpoint descriptions: method, path with the id, query, JSON body, scope") {
    auto user = describe(eps::get_user{});
    CHECK(user.method == verb::get);
    CHECK(user.target == "/v1/user");
    CHECK(user.body.empty());
    CHECK(static_cast<bool>(user.parse));
    CHECK(eps::get_user::needs == oauth::scope::user_info);

    auto one = describe(eps::get_meeting{42});
    CHECK(one.target == "/v1/meetings/42");
    auto start = describe(eps::start_scheduled_meeting{-7, {}});
    CHECK(start.method == verb::post);
    CHECK(start.target == "/v1/meetings/-7/start");
    CHECK(eps::start_scheduled_meeting::needs == oauth::scope::start_meeting);

    auto del = describe(eps::delete_meeting{5});
    CHECK(del.method == verb::delete_);
    CHECK(del.target == "/v1/meetings/5");
    CHECK(!del.parse); // nothing to read

    api::meeting_list_filter until;
    until.end_date = sys_days{std::chrono::year{2030} / 1 / 2} + std::chrono::hours(9);
    CHECK(describe(eps::list_meetings{until}).target ==
          "/v1/meetings?endDate=2030-01-02T09:00:00Z");
    CHECK(describe(eps::list_meetings{}).target == "/v1/meetings");

    api::meeting_patch patch;
    patch.meeting_name = "renamed";
    auto update = describe(eps::update_meeting{3, patch});
    CHECK(update.method == verb::patch);
    CHECK(update.target == "/v1/meetings/3");
    CHECK(boost::json::parse(update.body) == boost::json::parse(R"({"meetingName":"renamed"})"));

    auto add = describe(eps::add_presenter{{"x@example.com"}});
    CHECK(boost::json::parse(add.body).at("email") == "x@example.com");
    CHECK(eps::add_presenter::needs == oauth::scope::provisioning);
}

TEST_CASE("endpoint descriptions: the answer is read as the endpoint's model") {
    joinme::http::response res;
    res.result(200);
    res.body() = R"({"meetings": [{"meetingId": 1, "meetingName": "a",
                    "meetingStart": "2030-01-01T10:00:00Z", "meetingEnd": "2030-01-01T11:00:00Z",
                    "startWithPersonalUrl": false}]})";
    std::vector<api::meeting> list;
    diagnostics d;
    CHECK(!describe(eps::list_meetings{}).parse(res, &list, d));
    REQUIRE(list.size() == 1);
    CHECK(list[0].meeting_id == 1);

    res.body() = R"({"meetings": "not a list"})";
    auto ec = describe(eps::list_meetings{}).parse(res, &list, d);
    CHECK(ec == errc::malformed_response);
    CHECK(!d.client_message.empty());
    CHECK(d.status == 200);
}

std::chrono::sys_seconds at(time_point base, std::chrono::hours h) {
    return std::chrono::floor<std::chrono::seconds>(base) + h;
}

TEST_CASE_TEMPLATE("api client: user and ad hoc meetings", Stream, APIT_STREAMS) {
    env<Stream> e;
    CAPTURE(setup<Stream>::name);
    typename env<Stream>::client_type client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client);

    SUBCASE("get user") {
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
        CHECK(r.diag.empty());
        CHECK(r.value.email == "pro@example.com");
        CHECK(r.value.full_name == "Hardest Worker");
        CHECK(r.value.subscription_type == "Pro");
        CHECK(r.value.number_of_meetings_hosted == 57);
        REQUIRE(r.value.conference_settings);
        CHECK(r.value.conference_settings->conference_id == "123456789");
    }

    SUBCASE("get user, throwing form") {
        auto u = e.run(client.async_get_user());
        CHECK(u.email == "pro@example.com");
    }

    SUBCASE("get user with the documented 201") {
        e.srv.config().get_user_status = 201;
        auto u = e.run(client.async_get_user());
        CHECK(u.personal_url == std::optional<std::string>("hardwork"));
    }

    SUBCASE("start an ad hoc meeting") {
        api::start_request req;
        req.start_with_personal_url = true;
        req.viewer_mode = api::viewer_mode::headless;
        req.viewer_app_detection = false;
        auto r = attempt<api::start_result>(e, [&](diagnostics& d, auto t) {
            return client.async_start_meeting(req, d, std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
        CHECK(!r.value.presenter_link.empty());
        CHECK(r.value.viewer_link.find("hardwork") != std::string::npos);
        REQUIRE(r.value.audio_conference);
        CHECK(r.value.audio_conference->organizer_code == "1234");
        CHECK(e.srv.meeting_for_presenter_link(r.value.presenter_link).has_value());
    }

    SUBCASE("start with webhooks") {
        api::start_request req;
        req.webhooks["meeting.start"] = api::webhook_registration{"http://127.0.0.1:9/start", {}};
        auto r = e.run(client.async_start_meeting(req));
        CHECK(r.webhook_registered("meeting.start") == std::optional<bool>(true));
    }

    SUBCASE("start: bad request") {
        // The free user has no personal URL.
        typename env<Stream>::client_type free_client(e.ioc.get_executor(), e.ctx, e.config());
        e.login(free_client, default_scopes, "free@example.com");
        api::start_request req;
        req.start_with_personal_url = true;
        auto r = attempt<api::start_result>(e, [&](diagnostics& d, auto t) {
            return free_client.async_start_meeting(req, d, std::move(t));
        });
        CHECK(r.ec == errc::bad_request);
        CHECK(r.diag.status == 400);
        CHECK(r.diag.message == "The user has no personal URL.");
    }

    SUBCASE("start: insufficient scope") {
        typename env<Stream>::client_type narrow(e.ioc.get_executor(), e.ctx, e.config());
        e.login(narrow, "user_info");
        auto refreshes = e.refreshes();
        auto r = attempt<api::start_result>(e, [&](diagnostics& d, auto t) {
            return narrow.async_start_meeting(api::start_request{}, d, std::move(t));
        });
        CHECK(r.ec == errc::insufficient_scope);
        CHECK(r.diag.status == 403);
        CHECK(r.diag.error_code == "insufficient_scope");
        CHECK(r.diag.www_authenticate.find("insufficient_scope") != std::string::npos);
        CHECK(e.refreshes() == refreshes);
        // The throwing form throws the same, with the diagnostics.
        try {
            (void)e.run(narrow.async_start_meeting(api::start_request{}));
            FAIL("no exception");
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == errc::insufficient_scope);
            CHECK(ex.get_diagnostics().error_code == "insufficient_scope");
        }
    }
}

TEST_CASE_TEMPLATE("api client: scheduled meetings", Stream, APIT_STREAMS) {
    env<Stream> e;
    CAPTURE(setup<Stream>::name);
    typename env<Stream>::client_type client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client);
    const auto start = at(*e.now, 24h);

    api::meeting_draft draft;
    draft.meeting_name = "Weekly update with the boss";
    draft.meeting_start = start;
    draft.meeting_end = start + 1h;
    draft.participants = {"worldsbestboss@join.me", "hardworker@join.me"};
    auto created = e.run(client.async_schedule_meeting(draft));
    CHECK(created.meeting_id > 0);
    CHECK(created.meeting_name == draft.meeting_name);
    CHECK(created.meeting_start == start);
    CHECK(created.participants == draft.participants);
    const auto id = created.meeting_id;

    SUBCASE("get") {
        auto r = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_get_meeting(id, d, std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.diag);
        CHECK(r.value.meeting_id == id);
        CHECK(r.value.meeting_end == start + 1h);
        CHECK(r.value.conference_id == std::optional<std::string>("123456789"));
    }

    SUBCASE("list, with and without endDate") {
        api::meeting_draft later = draft;
        later.meeting_name = "Follow up";
        later.meeting_start = start + 48h;
        later.meeting_end = start + 49h;
        (void)e.run(client.async_schedule_meeting(later));

        auto all = e.run(client.async_list_meetings(api::meeting_list_filter{}));
        REQUIRE(all.size() == 2);
        CHECK(all[0].meeting_id == id);
        CHECK(all[1].meeting_name == "Follow up");

        api::meeting_list_filter f;
        f.end_date = start + 2h;
        auto r = attempt<std::vector<api::meeting>>(e, [&](diagnostics& d, auto t) {
            return client.async_list_meetings(f, d, std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.diag);
        REQUIRE(r.value.size() == 1);
        CHECK(r.value[0].meeting_id == id);
    }

    SUBCASE("dates without zone are read as UTC") {
        e.srv.config().dates_without_zone = true;
        auto m = e.run(client.async_get_meeting(id));
        CHECK(m.meeting_start == start);
    }

    SUBCASE("update sends only the fields set") {
        api::meeting_patch patch;
        patch.meeting_name = "Renamed";
        auto r = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_update_meeting(id, patch, d, std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.diag);
        CHECK(r.value.meeting_name == "Renamed");
        CHECK(r.value.meeting_start == start);
        CHECK(r.value.participants == draft.participants);
        auto again = e.run(client.async_get_meeting(id));
        CHECK(again.meeting_name == "Renamed");
        CHECK(again.meeting_end == start + 1h);
    }

    SUBCASE("update: bad request and not found") {
        api::meeting_patch patch;
        patch.meeting_end = start - 1h;
        auto r = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_update_meeting(id, patch, d, std::move(t));
        });
        CHECK(r.ec == errc::bad_request);
        CHECK(r.diag.message == "meetingEnd must be after meetingStart.");
        auto nf = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_update_meeting(id + 1000, api::meeting_patch{}, d, std::move(t));
        });
        CHECK(nf.ec == errc::not_found);
    }

    SUBCASE("schedule: bad request") {
        api::meeting_draft bad = draft;
        bad.meeting_end = start - 1h;
        auto r = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_schedule_meeting(bad, d, std::move(t));
        });
        CHECK(r.ec == errc::bad_request);
        CHECK(r.diag.status == 400);
        CHECK(r.diag.message == "meetingEnd must be after meetingStart.");
    }

    SUBCASE("start a scheduled meeting") {
        auto r = attempt<api::start_result>(e, [&](diagnostics& d, auto t) {
            return client.async_start_scheduled_meeting(id, api::scheduled_start_request{}, d,
                                                        std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.diag);
        CHECK(!r.value.viewer_link.empty());
        auto nf = attempt<api::start_result>(e, [&](diagnostics& d, auto t) {
            return client.async_start_scheduled_meeting(id + 1000, api::scheduled_start_request{},
                                                        d, std::move(t));
        });
        CHECK(nf.ec == errc::not_found);
    }

    SUBCASE("delete, then not found") {
        auto r = attempt<none>(e, [&](diagnostics& d, auto t) {
            return client.async_delete_meeting(id, d, std::move(t));
        });
        REQUIRE_MESSAGE(!r.ec, r.diag);
        auto g = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_get_meeting(id, d, std::move(t));
        });
        CHECK(g.ec == errc::not_found);
        CHECK(g.diag.status == 404);
        CHECK(g.diag.message == "Meeting not found");
        try {
            e.run([](auto& c, std::int64_t id) -> asio::awaitable<int> {
                co_await c.async_delete_meeting(id);
                co_return 0;
            }(client, id));
            FAIL("no exception");
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == errc::not_found);
            CHECK(ex.get_diagnostics().message == "Meeting not found");
        }
    }
}

TEST_CASE_TEMPLATE("api client: presenters", Stream, APIT_STREAMS) {
    env<Stream> e;
    CAPTURE(setup<Stream>::name);
    typename env<Stream>::client_type client(e.ioc.get_executor(), e.ctx,
                                             e.config(sandbox::default_business_client_id));
    e.login(client, "user_info provisioning", "admin@example.com");

    SUBCASE("list, get, add") {
        auto list = attempt<std::vector<api::presenter>>(e, [&](diagnostics& d, auto t) {
            return client.async_list_presenters(d, std::move(t));
        });
        REQUIRE_MESSAGE(!list.ec, list.diag);
        REQUIRE(list.value.size() == 1);
        CHECK(list.value[0].email == "hardworker@example.com");

        auto one = e.run(client.async_get_presenter(list.value[0].id));
        CHECK(one == list.value[0]);

        auto added = attempt<api::presenter>(e, [&](diagnostics& d, auto t) {
            return client.async_add_presenter(api::new_presenter{"new@example.com"}, d,
                                              std::move(t));
        });
        REQUIRE_MESSAGE(!added.ec, added.diag);
        CHECK(added.value.email == "new@example.com");
        CHECK(!added.value.is_invitation_accepted);
        CHECK(!added.value.is_seat_assigned);

        e.srv.config().presenters_wrapped = true;
        auto wrapped = e.run(client.async_list_presenters());
        CHECK(wrapped.size() == 2);
    }

    SUBCASE("errors") {
        auto nf = attempt<api::presenter>(e, [&](diagnostics& d, auto t) {
            return client.async_get_presenter(424242, d, std::move(t));
        });
        CHECK(nf.ec == errc::not_found);
        CHECK(nf.diag.message == "Presenter not found");
        auto bad = attempt<api::presenter>(e, [&](diagnostics& d, auto t) {
            return client.async_add_presenter(api::new_presenter{"not an address"}, d,
                                              std::move(t));
        });
        CHECK(bad.ec == errc::bad_request);
        CHECK(bad.diag.message == "email must be an e-mail address.");
    }

    SUBCASE("insufficient scope without provisioning") {
        typename env<Stream>::client_type pro(e.ioc.get_executor(), e.ctx, e.config());
        e.login(pro);
        auto r = attempt<std::vector<api::presenter>>(
            e, [&](diagnostics& d, auto t) { return pro.async_list_presenters(d, std::move(t)); });
        CHECK(r.ec == errc::insufficient_scope);
        CHECK(r.diag.error_code == "insufficient_scope");
    }
}

TEST_CASE_TEMPLATE("api client: gateway and token errors", Stream, APIT_STREAMS) {
    env<Stream> e;
    CAPTURE(setup<Stream>::name);
    typename env<Stream>::client_type client(e.ioc.get_executor(), e.ctx, e.config());
    auto token = e.login(client);
    auto get_user = [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); };

    SUBCASE("stale token: no refresh, the renew URL is offered") {
        REQUIRE(e.srv.set_stale(token.access_token.reveal()));
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::stale_token);
        CHECK(r.diag.status == 401);
        CHECK(r.diag.error_code == "stale_token");
        CHECK(r.diag.message == "The authorization must be renewed.");
        CHECK(e.refreshes() == 0);
        CHECK(e.requests(endpoint::get_user) == 1);
        auto url = client.renew_authorization_url();
        CHECK(url.reveal().rfind(e.base + "/api/public/v1/auth/renewauthorization?", 0) == 0);
        CHECK(url.reveal().find("access_token=" + token.access_token.reveal()) !=
              std::string::npos);
        // Diagnostics never hold the token.
        CHECK(r.diag.to_string().find(token.access_token.reveal()) == std::string::npos);
    }

    SUBCASE("inactive account: no refresh") {
        e.srv.config().applications[0].inactive = true;
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::account_inactive);
        CHECK(r.diag.status == 403);
        CHECK(r.diag.error_detail_header == "Account Inactive");
        CHECK(r.diag.mashery_error_code == "ERR_403_DEVELOPER_INACTIVE");
        CHECK(e.refreshes() == 0);
    }

    SUBCASE("server error") {
        sandbox::fault f;
        f.status = 500;
        f.times = 1;
        e.srv.set_fault(endpoint::get_user, f);
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::server_error);
        CHECK(r.diag.status == 500);
        CHECK(e.run(client.async_get_user()).email == "pro@example.com");
    }

    SUBCASE("the FAQ's 403 invalid_token: refreshed and replayed") {
        e.srv.config().invalid_token_as_403 = true;
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        auto r = attempt<api::user>(e, get_user);
        REQUIRE_MESSAGE(!r.ec, r.diag);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
    }

    SUBCASE("no token at all") {
        typename env<Stream>::client_type anonymous(e.ioc.get_executor(), e.ctx, e.config());
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return anonymous.async_get_user(d, std::move(t)); });
        CHECK(r.ec == errc::reauthorization_required);
        CHECK(e.requests(endpoint::get_user) == 0);
        error_code ec;
        (void)anonymous.renew_authorization_url(ec);
        CHECK(ec == errc::reauthorization_required);
    }
}

} // namespace
} // namespace apit
