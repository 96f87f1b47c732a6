// The typed models of the REST API, the webhook event and the API error body.
#include <joinme/api/models.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace api = joinme::api;
namespace json = boost::json;
using namespace std::chrono;
using namespace std::chrono_literals;
using joinme::errc;

namespace {

// Result of the non-throwing parse, with what it reported.
template <class T>
struct outcome {
    std::optional<T> value;
    joinme::error_code ec;
    joinme::diagnostics diag;
};

template <class T>
outcome<T> attempt(std::string_view body) {
    outcome<T> out;
    out.value = api::parse<T>(body, out.ec, out.diag);
    return out;
}

// Parses `body`, expecting malformed_response, and returns the client message.
template <class T>
std::string parse_error(std::string_view body) {
    auto r = attempt<T>(body);
    CHECK_FALSE(r.value);
    CHECK(r.ec == errc::malformed_response);
    return r.diag.client_message;
}

template <class T>
T parse_ok(std::string_view body) {
    auto r = attempt<T>(body);
    INFO(r.diag.client_message);
    REQUIRE(r.value);
    CHECK_FALSE(r.ec);
    CHECK(r.diag.empty());
    return std::move(*r.value);
}

// value_from, serialised, parsed back: must give the same model.
template <class T>
void check_round_trip(const T& original) {
    std::string text = json::serialize(json::value_from(original));
    INFO(text);
    CHECK(parse_ok<T>(text) == original);
    CHECK(json::value_to<T>(json::parse(text)) == original);
}

bool same_json(const json::value& jv, std::string_view expected) {
    return jv == json::parse(expected);
}

constexpr sys_seconds at(year_month_day d, hours h, minutes m = 0min, seconds s = 0s) {
    return sys_days{d} + h + m + s;
}

} // namespace

// --- Documented examples (joinme-api.md), parsed exactly -----------------------------------

TEST_CASE("§4.1 user example") {
    auto u = parse_ok<api::user>(R"({
      "email": "youremail@join.me",
      "fullName": "Hardest Worker",
      "language": "en-US",
      "numberOfMeetingsHosted": 57,
      "personalUrl": "hardwork",
      "registrationDate": "2014-03-22T20:45:00",
      "subscriptionType": "Pro",
      "conferenceSettings": {
        "conferenceId": "{9-digit audio bridge ID}",
        "conferenceCallNumbersUrl": "https://secure.join.me/api/public/intphone.aspx?conferenceId={9-digit audio bridge ID}",
        "organizerCode": "{4-digit presenter PIN}"
      }
    })");
    CHECK(u.email == "youremail@join.me");
    CHECK(u.full_name == "Hardest Worker");
    CHECK(u.language == "en-US");
    CHECK(u.number_of_meetings_hosted == 57);
    CHECK(u.personal_url == "hardwork");
    // No zone suffix: UTC.
    CHECK(u.registration_date == at(2014y / 3 / 22, 20h, 45min));
    CHECK(u.subscription_type == "Pro");
    REQUIRE(u.conference_settings);
    CHECK(u.conference_settings->conference_id == "{9-digit audio bridge ID}");
    CHECK(u.conference_settings->conference_call_numbers_url ==
          "https://secure.join.me/api/public/intphone.aspx?conferenceId={9-digit audio bridge ID}");
    CHECK(u.conference_settings->organizer_code == "{4-digit presenter PIN}");
    check_round_trip(u);
    // Written back in UTC with Z.
    CHECK(json::value_from(u).at("registrationDate") == "2014-03-22T20:45:00Z");
}

TEST_CASE("§4.1 a Free user without personalUrl and conferenceSettings, or with them null") {
    constexpr std::string_view base =
        R"("email": "free@join.me", "fullName": "F", "language": "de-DE",
        "numberOfMeetingsHosted": 0, "registrationDate": "2020-01-01T00:00:00Z",
        "subscriptionType": "Free")";
    auto absent = parse_ok<api::user>("{" + std::string(base) + "}");
    CHECK_FALSE(absent.personal_url);
    CHECK_FALSE(absent.conference_settings);
    auto null = parse_ok<api::user>("{" + std::string(base) +
                                    R"(, "personalUrl": null, "conferenceSettings": null})");
    CHECK(null == absent);
    auto text = json::serialize(json::value_from(absent));
    CHECK(text.find("personalUrl") == std::string::npos);
    CHECK(text.find("conferenceSettings") == std::string::npos);
    check_round_trip(absent);
}

TEST_CASE("§4.3 start request example and its serialisation") {
    auto req = parse_ok<api::start_request>(R"({"startWithPersonalUrl": false})");
    CHECK(req == api::start_request{});
    CHECK(same_json(json::value_from(req), R"({"startWithPersonalUrl": false})"));
}

TEST_CASE("§4.3 start response example") {
    auto res = parse_ok<api::start_result>(R"({
      "presenterLink": "https://secure.join.me/API/Public/StartMeeting.aspx?token=TOKEN",
      "viewerLink": "https://secure.join.me/LINK_ID",
      "audioConference": {
        "conferenceId": "{9-digit audio bridge ID}",
        "conferenceCallNumbersUrl": "https://secure.join.me/api/public/intphone.aspx?conferenceId={9-digit audio bridge ID}",
        "organizerCode": "{4-digit presenter PIN}"
      }
    })");
    CHECK(res.presenter_link == "https://secure.join.me/API/Public/StartMeeting.aspx?token=TOKEN");
    CHECK(res.viewer_link == "https://secure.join.me/LINK_ID");
    REQUIRE(res.audio_conference);
    CHECK(res.audio_conference->conference_id == "{9-digit audio bridge ID}");
    CHECK(res.audio_conference->conference_call_numbers_url ==
          "https://secure.join.me/api/public/intphone.aspx?conferenceId={9-digit audio bridge ID}");
    CHECK(res.audio_conference->organizer_code == "{4-digit presenter PIN}");
    CHECK(res.webhooks_status.is_null());
    CHECK_FALSE(res.webhook_registered("meeting.start"));
    check_round_trip(res);
}

TEST_CASE("§4.4 start request example with webhooks") {
    auto req = parse_ok<api::start_request>(R"({
      "startWithPersonalUrl": true,
      "webhooks": {
        "meeting.start": { "callbackUrl": "http://example.com/integrations/joinme/callbacks/meeting_started", "customCallbackData": { "foo": 123 } },
        "meeting.end":   { "callbackUrl": "http://example.com/integrations/joinme/callbacks/meeting_ended",   "customCallbackData": { "bar": "abc" } }
      }
    })");
    CHECK(req.start_with_personal_url);
    CHECK_FALSE(req.viewer_mode);
    CHECK_FALSE(req.viewer_app_detection);
    REQUIRE(req.webhooks.size() == 2);
    const auto& start =
        req.webhooks.at(std::string(to_string(api::webhook_event_type::meeting_start)));
    CHECK(start.callback_url == "http://example.com/integrations/joinme/callbacks/meeting_started");
    CHECK(same_json(start.custom_callback_data, R"({"foo": 123})"));
    const auto& end = req.webhooks.at("meeting.end");
    CHECK(end.callback_url == "http://example.com/integrations/joinme/callbacks/meeting_ended");
    CHECK(same_json(end.custom_callback_data, R"({"bar": "abc"})"));
    check_round_trip(req);
}

TEST_CASE("§9 webhooksStatus is kept as sent and queried per event") {
    auto res = parse_ok<api::start_result>(R"({
      "presenterLink": "p", "viewerLink": "v",
      "webhooksStatus": {"meeting.start": {"registered": true},
                         "meeting.end": {"registered": "false", "reason": "unreachable"},
                         "meeting.other": 7}
    })");
    CHECK_FALSE(res.audio_conference);
    CHECK(res.webhook_registered("meeting.start") == true);
    CHECK(res.webhook_registered("meeting.end") == false);
    CHECK_FALSE(res.webhook_registered("meeting.other"));
    CHECK_FALSE(res.webhook_registered("missing"));
    CHECK(res.webhooks_status.at("meeting.end").at("reason") == "unreachable");
    // Kept in memory of its own, not in the parse's scratch storage that ended with the parse.
    CHECK(res.webhooks_status.storage().get() == boost::json::storage_ptr().get());
    check_round_trip(res);
    // A webhooksStatus of an unexpected shape does not fail the start.
    auto odd = parse_ok<api::start_result>(
        R"({"presenterLink": "p", "viewerLink": "v", "webhooksStatus": [1, 2]})");
    CHECK(odd.webhooks_status.is_array());
    CHECK_FALSE(odd.webhook_registered("meeting.start"));
}

TEST_CASE("§4.5 scheduled meeting example") {
    auto m = parse_ok<api::meeting>(R"({
      "meetingId": 12345,
      "meetingName": "Weekly update with the boss",
      "meetingStart": "2015-06-02T09:00:00Z",
      "meetingEnd": "2015-06-02T10:00:00Z",
      "startWithPersonalUrl": true,
      "participants": ["worldsbestboss@join.me", "hardworker@join.me"],
      "conferenceId": "{9-digit conference ID}"
    })");
    CHECK(m.meeting_id == 12345);
    CHECK(m.meeting_name == "Weekly update with the boss");
    CHECK(m.meeting_start == at(2015y / 6 / 2, 9h));
    CHECK(m.meeting_end == at(2015y / 6 / 2, 10h));
    CHECK(m.start_with_personal_url);
    CHECK(m.participants ==
          std::vector<std::string>{"worldsbestboss@join.me", "hardworker@join.me"});
    CHECK(m.conference_id == "{9-digit conference ID}");
    CHECK_FALSE(m.viewer_link);
    check_round_trip(m);
    m.viewer_link = "https://join.me/123456789";
    check_round_trip(m);
}

TEST_CASE("§4.6 meeting list example") {
    auto l = parse_ok<api::meeting_list>(R"({
      "meetings": [
        { "meetingId": 12345, "meetingName": "Weekly update with the boss",
          "meetingStart": "2015-06-02T09:00:00Z", "meetingEnd": "2015-06-02T10:00:00Z", "startWithPersonalUrl": true },
        { "meetingId": 12399, "meetingName": "Follow up with our best customer",
          "meetingStart": "2015-06-02T10:00:00Z", "meetingEnd": "2015-06-02T11:00:00Z", "startWithPersonalUrl": false }
      ]
    })");
    REQUIRE(l.meetings.size() == 2);
    CHECK(l.meetings[0] == api::meeting{.meeting_id = 12345,
                                        .meeting_name = "Weekly update with the boss",
                                        .meeting_start = at(2015y / 6 / 2, 9h),
                                        .meeting_end = at(2015y / 6 / 2, 10h),
                                        .start_with_personal_url = true});
    CHECK(l.meetings[1] == api::meeting{.meeting_id = 12399,
                                        .meeting_name = "Follow up with our best customer",
                                        .meeting_start = at(2015y / 6 / 2, 10h),
                                        .meeting_end = at(2015y / 6 / 2, 11h),
                                        .start_with_personal_url = false});
    check_round_trip(l);
    CHECK(parse_ok<api::meeting_list>(R"({"meetings": []})").meetings.empty());
    CHECK(same_json(json::value_from(api::meeting_list{}), R"({"meetings": []})"));
}

TEST_CASE("§4.7 create: the draft and the created meeting of the example") {
    // The joinme2 README sends an offset; the server answers in UTC.
    auto d = parse_ok<api::meeting_draft>(R"({"meetingName": "Test Meeting",
        "meetingStart": "2016-06-21T16:00:00+02:00", "meetingEnd": "2016-06-21T17:00:00+02:00",
        "startWithPersonalUrl": false, "participants": ["ex1@example.com", "ex2@example.com"]})");
    CHECK(d.meeting_start == at(2016y / 6 / 21, 14h));
    CHECK(d.meeting_end == at(2016y / 6 / 21, 15h));
    CHECK(same_json(json::value_from(d), R"({"meetingName": "Test Meeting",
        "meetingStart": "2016-06-21T14:00:00Z", "meetingEnd": "2016-06-21T15:00:00Z",
        "startWithPersonalUrl": false, "participants": ["ex1@example.com", "ex2@example.com"]})"));
    check_round_trip(d);

    auto m = parse_ok<api::meeting>(
        R"({"meetingId": 23, "meetingName": "Test Meeting", "meetingStart": "2016-06-21T14:00:00Z",
 "meetingEnd": "2016-06-21T15:00:00Z", "startWithPersonalUrl": false,
 "participants": ["ex1@example.com", "ex2@example.com"]})");
    CHECK(m == api::meeting{.meeting_id = 23,
                            .meeting_name = "Test Meeting",
                            .meeting_start = at(2016y / 6 / 21, 14h),
                            .meeting_end = at(2016y / 6 / 21, 15h),
                            .start_with_personal_url = false,
                            .participants = {"ex1@example.com", "ex2@example.com"}});
}

TEST_CASE("§4.7 a minimal draft: defaults and what is sent") {
    auto d = parse_ok<api::meeting_draft>(R"({"meetingName": "n",
        "meetingStart": "2016-06-21T14:00:00Z", "meetingEnd": "2016-06-21T15:00:00Z"})");
    CHECK_FALSE(d.start_with_personal_url);
    CHECK(d.participants.empty());
    CHECK(same_json(json::value_from(d), R"({"meetingName": "n",
        "meetingStart": "2016-06-21T14:00:00Z", "meetingEnd": "2016-06-21T15:00:00Z",
        "startWithPersonalUrl": false})"));
    CHECK(parse_error<api::meeting_draft>(
              R"({"meetingName": "n", "meetingEnd": "2016-06-21T15:00:00Z"})") ==
          R"(missing required field "meetingStart")");
}

TEST_CASE("§4.11 presenter example: its literal 000000000 is not JSON") {
    // The docs write `"id": 000000000`, which JSON forbids (no leading zeros). The literal text
    // is rejected as malformed; the same document with a valid integer is parsed exactly.
    constexpr std::string_view literal =
        R"({ "id": 000000000, "email": "hardworker@join.me", "isInvitationAccepted": false, "isSeatAssigned": false })";
    auto msg = parse_error<api::presenter>(literal);
    CHECK(msg.find("not valid JSON") != std::string::npos);
    CHECK(msg.find("at byte 9") != std::string::npos);

    auto p = parse_ok<api::presenter>(
        R"({ "id": 0, "email": "hardworker@join.me", "isInvitationAccepted": false, "isSeatAssigned": false })");
    CHECK(p == api::presenter{.id = 0, .email = "hardworker@join.me"});
    auto q = parse_ok<api::presenter>(
        R"({ "id": 123456789, "email": "hardworker@join.me", "isInvitationAccepted": true, "isSeatAssigned": true })");
    CHECK(q == api::presenter{123456789, "hardworker@join.me", true, true});
    check_round_trip(q);
}

TEST_CASE("§4.11/§9 presenters list: bare array or wrapped, written bare") {
    constexpr std::string_view one =
        R"({"id": 1, "email": "a@join.me", "isInvitationAccepted": true, "isSeatAssigned": false})";
    auto bare = parse_ok<api::presenter_list>("[" + std::string(one) + "]");
    auto wrapped = parse_ok<api::presenter_list>(R"({"presenters": [)" + std::string(one) + "]}");
    REQUIRE(bare.presenters.size() == 1);
    CHECK(bare == wrapped);
    CHECK(bare.presenters[0] == api::presenter{1, "a@join.me", true, false});
    CHECK(json::value_from(bare).is_array());
    check_round_trip(bare);
    CHECK(parse_ok<api::presenter_list>("[]").presenters.empty());
    CHECK(parse_error<api::presenter_list>(R"("x")") ==
          R"(JSON document: expected an array or an object with "presenters", found a string)");
    CHECK(parse_error<api::presenter_list>(R"({"items": []})") ==
          R"(missing required field "presenters")");
    CHECK(parse_error<api::presenter_list>(R"([{"id": 1}])") ==
          R"(missing required field "[0].email")");
    CHECK(parse_error<api::presenter_list>(R"({"presenters": [)" + std::string(one) +
                                           R"(, {"id": "2"}]})") ==
          R"(field "presenters[1].id": expected an integer, found a string)");
}

TEST_CASE("§9 add presenter body") {
    api::new_presenter np{"new@join.me"};
    CHECK(json::serialize(json::value_from(np)) == R"({"email":"new@join.me"})");
    check_round_trip(np);
    CHECK(parse_error<api::new_presenter>("{}") == R"(missing required field "email")");
}

TEST_CASE("§9 webhook callback body") {
    // §9 writes `"meetingId": ..., "timestamp": "..."`; these are concrete values of that shape.
    auto e = parse_ok<api::webhook_event>(R"({"event": "meeting.start", "meetingId": 12345,
        "timestamp": "2015-06-02T09:00:05Z", "customCallbackData": {"foo": 123}})");
    CHECK(e.type() == api::webhook_event_type::meeting_start);
    CHECK(e.event == "meeting.start");
    CHECK(e.meeting_id == 12345);
    CHECK(e.timestamp == at(2015y / 6 / 2, 9h, 0min, 5s));
    CHECK(same_json(e.custom_callback_data, R"({"foo": 123})"));
    check_round_trip(e);

    auto end = parse_ok<api::webhook_event>(R"({"event": "meeting.end", "customCallbackData": "x",
        "timestamp": "2015-06-02T11:00:05.250+01:00", "signature": "unknown member"})");
    CHECK(end.type() == api::webhook_event_type::meeting_end);
    CHECK_FALSE(end.meeting_id);
    CHECK(end.timestamp == at(2015y / 6 / 2, 10h, 0min, 5s));
    CHECK(end.custom_callback_data == "x");

    auto other = parse_ok<api::webhook_event>(R"({"event": "meeting.paused"})");
    CHECK(other.type() == api::webhook_event_type::unknown);
    CHECK(other.event == "meeting.paused");
    CHECK(other.custom_callback_data.is_null());
    CHECK(same_json(json::value_from(other),
                    R"({"event": "meeting.paused", "customCallbackData": null})"));

    CHECK(parse_error<api::webhook_event>(R"({"meetingId": 1})") ==
          R"(missing required field "event")");
    CHECK(parse_error<api::webhook_event>(R"({"event": "meeting.end", "meetingId": "12"})") ==
          R"(field "meetingId": expected an integer, found a string)");
    CHECK(parse_error<api::webhook_event>(R"({"event": "meeting.end", "timestamp": 5})") ==
          R"(field "timestamp": expected an ISO 8601 date-time string, found an integer)");

    CHECK(to_string(api::webhook_event_type::meeting_end) == "meeting.end");
    CHECK(to_string(api::webhook_event_type::unknown).empty());
    CHECK(api::to_webhook_event_type("meeting.start") == api::webhook_event_type::meeting_start);
    CHECK(api::to_webhook_event_type("Meeting.Start") == api::webhook_event_type::unknown);
}

// --- Dates ----------------------------------------------------------------------------------

TEST_CASE("ISO 8601 variants") {
    auto start_of = [](std::string_view when) {
        std::string body =
            R"({"meetingName": "n", "meetingEnd": "2015-06-02T10:00:00Z", "meetingStart": ")";
        body.append(when).append("\"}");
        return parse_ok<api::meeting_draft>(body).meeting_start;
    };
    const auto nine = at(2015y / 6 / 2, 9h);
    CHECK(start_of("2015-06-02T09:00:00Z") == nine);
    CHECK(start_of("2015-06-02t09:00:00z") == nine);
    CHECK(start_of("2015-06-02T09:00:00") == nine);
    CHECK(start_of("2015-06-02T11:00:00+02:00") == nine);
    CHECK(start_of("2015-06-02T03:30:00-05:30") == nine);
    CHECK(start_of("2015-06-02T09:00:00.999Z") == nine);
    CHECK(start_of("2015-06-02T09:00:00.5+00:00") == nine);
    // An offset that crosses the day and the year.
    CHECK(start_of("2015-01-01T01:00:00+02:00") == at(2014y / 12 / 31, 23h));

    for (std::string_view bad :
         {"2015-13-02T09:00:00Z", "2015-02-30T09:00:00Z", "2015-06-02", "2015-06-02 09:00:00Z",
          "2015-06-02T09:00Z", "2015-06-02T09:00:00+0200", "2015-06-02T09:00:00ZZ", "",
          "tomorrow"}) {
        INFO(bad);
        std::string body =
            R"({"meetingName": "n", "meetingEnd": "2015-06-02T10:00:00Z", "meetingStart": ")";
        body.append(bad).append("\"}");
        CHECK(
            parse_error<api::meeting_draft>(body) ==
            R"(field "meetingStart": expected an ISO 8601 date-time such as "2015-06-02T09:00:00Z")");
    }
    CHECK(
        parse_error<api::meeting_draft>(
            R"({"meetingName": "n", "meetingStart": 1433235600, "meetingEnd": "2015-06-02T10:00:00Z"})") ==
        R"(field "meetingStart": expected an ISO 8601 date-time string, found an integer)");
}

TEST_CASE("date-times stay within the years ISO 8601 text can write back") {
    auto start_of = [](std::string_view when) {
        std::string body = R"({"meetingStart": ")" + std::string(when) + "\"}";
        return attempt<api::meeting_patch>(body);
    };
    CHECK(start_of("0000-01-01T00:00:00Z").value->meeting_start == sys_days{year{0} / January / 1});
    CHECK(start_of("9999-12-31T23:59:59Z").value->meeting_start ==
          at(9999y / 12 / 31, 23h, 59min, 59s));
    CHECK(start_of("0000-01-01T00:59:59+01:00").diag.client_message ==
          R"(field "meetingStart": expected an ISO 8601 date-time such as "2015-06-02T09:00:00Z")");
    CHECK_FALSE(start_of("9999-12-31T23:59:59-00:01").value);
    // A leap second folds into the next minute.
    CHECK(start_of("2015-06-30T23:59:60Z").value->meeting_start == at(2015y / 7 / 1, 0h));
    check_round_trip(*start_of("0000-01-01T00:00:00Z").value);
    check_round_trip(*start_of("9999-12-31T23:59:59Z").value);
    CHECK_FALSE(api::meeting_list_filter::from_end_date("0000-01-01T00:00:00+00:01"));
}

TEST_CASE("dates are written in UTC with Z") {
    api::meeting_patch p;
    p.meeting_start = at(1999y / 12 / 31, 23h, 59min, 59s);
    CHECK(json::serialize(json::value_from(p)) == R"({"meetingStart":"1999-12-31T23:59:59Z"})");
}

// --- Types, required members, unknown members, nulls -----------------------------------------

TEST_CASE("wrong types name the member path and never quote the value") {
    constexpr std::string_view good =
        R"({"meetingId": 1, "meetingName": "a", "meetingStart": "2015-06-02T09:00:00Z",
            "meetingEnd": "2015-06-02T10:00:00Z", "startWithPersonalUrl": true})";
    auto list_with_third = [&](std::string_view third) {
        return R"({"meetings": [)" + std::string(good) + "," + std::string(good) + "," +
               std::string(third) + "]}";
    };
    auto msg = parse_error<api::meeting_list>(list_with_third(
        R"({"meetingId": "SECRET-VALUE", "meetingName": "a", "meetingStart": "2015-06-02T09:00:00Z",
            "meetingEnd": "2015-06-02T10:00:00Z", "startWithPersonalUrl": true})"));
    CHECK(msg == R"(field "meetings[2].meetingId": expected an integer, found a string)");
    CHECK(msg.find("SECRET") == std::string::npos);

    CHECK(parse_error<api::meeting_list>(list_with_third(
              R"({"meetingId": 3, "meetingName": "a", "meetingStart": "2015-06-02T09:00:00Z",
                  "meetingEnd": "2015-06-02T10:00:00Z", "startWithPersonalUrl": true,
                  "participants": ["x@join.me", 7]})")) ==
          R"(field "meetings[2].participants[1]": expected a string, found an integer)");
    CHECK(parse_error<api::meeting_list>(R"({"meetings": {}})") ==
          R"(field "meetings": expected an array, found an object)");
    CHECK(parse_error<api::meeting_list>("[]") ==
          "JSON document: expected an object, found an array");
    CHECK(parse_error<api::meeting_list>(R"({"meetings": [null]})") ==
          R"(field "meetings[0]": expected an object, found null)");

    CHECK(parse_error<api::user>(R"({"email": 5})") ==
          R"(field "email": expected a string, found an integer)");
    CHECK(parse_error<api::start_result>(R"({"presenterLink": "p", "viewerLink": "v",
              "audioConference": {"conferenceId": 123456789, "conferenceCallNumbersUrl": "u", "organizerCode": "1"}})") ==
          R"(field "audioConference.conferenceId": expected a string, found an integer)");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": true,
              "webhooks": {"meeting.start": {"callbackUrl": ["u"]}}})") ==
          R"(field "webhooks["meeting.start"].callbackUrl": expected a string, found an array)");
    const std::string long_key(100, 'k');
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": true, "webhooks": {")" +
                                          long_key + R"(.": 1}})") ==
          R"(field "webhooks[")" + std::string(64, 'k') +
              R"("...]": expected an object, found an integer)");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": true, "webhooks": []})") ==
          R"(field "webhooks": expected an object, found an array)");
}

TEST_CASE("integers: 64-bit signed JSON integers only") {
    auto id_of = [](std::string_view id) {
        return attempt<api::presenter>(
            R"({"id": )" + std::string(id) +
            R"(, "email": "e", "isInvitationAccepted": false, "isSeatAssigned": false})");
    };
    CHECK(id_of("-1").value->id == -1);
    CHECK(id_of("9223372036854775807").value->id == 9223372036854775807);
    CHECK(id_of("9223372036854775808").diag.client_message ==
          R"(field "id": expected an integer, found one too large for 64 signed bits)");
    CHECK(id_of("18446744073709551616").diag.client_message ==
          R"(field "id": expected an integer, found a non-integer number)");
    CHECK(id_of("12.5").diag.client_message ==
          R"(field "id": expected an integer, found a non-integer number)");
    CHECK(id_of("1e3").diag.client_message ==
          R"(field "id": expected an integer, found a non-integer number)");
    CHECK(id_of("true").diag.client_message ==
          R"(field "id": expected an integer, found a boolean)");
}

TEST_CASE("booleans: JSON booleans and the strings \"true\"/\"false\"") {
    auto req = parse_ok<api::start_request>(
        R"({"startWithPersonalUrl": "true", "viewerAppDetection": "false"})");
    CHECK(req.start_with_personal_url);
    CHECK(req.viewer_app_detection == false);
    // Written back as JSON booleans.
    CHECK(same_json(json::value_from(req),
                    R"({"startWithPersonalUrl": true, "viewerAppDetection": false})"));
    CHECK(parse_ok<api::meeting_patch>(R"({"startWithPersonalUrl": "false"})")
              .start_with_personal_url == false);
    CHECK(
        parse_error<api::start_request>(R"({"startWithPersonalUrl": "yes"})") ==
        R"(field "startWithPersonalUrl": expected a boolean, found a string other than "true" or "false")");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": 1})") ==
          R"(field "startWithPersonalUrl": expected a boolean, found an integer)");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": "TRUE"})")
              .find("expected a boolean") != std::string::npos);
}

TEST_CASE("missing required members") {
    CHECK(parse_error<api::start_request>("{}") ==
          R"(missing required field "startWithPersonalUrl")");
    CHECK(parse_error<api::start_result>(R"({"presenterLink": "p"})") ==
          R"(missing required field "viewerLink")");
    CHECK(parse_error<api::start_result>(
              R"({"presenterLink": "p", "viewerLink": "v", "audioConference": {}})") ==
          R"(missing required field "audioConference.conferenceId")");
    CHECK(parse_error<api::user>(R"({"email": "e", "fullName": "f", "language": "l",
              "numberOfMeetingsHosted": 1, "subscriptionType": "Pro"})") ==
          R"(missing required field "registrationDate")");
    CHECK(parse_error<api::meeting_list>(
              R"({"meetings": [{"meetingId": 1, "meetingStart": "2015-06-02T09:00:00Z"}]})") ==
          R"(missing required field "meetings[0].meetingName")");
    CHECK(parse_error<api::meeting>(
              R"({"meetingId": 1, "meetingName": "a", "meetingStart": "2015-06-02T09:00:00Z",
              "meetingEnd": "2015-06-02T10:00:00Z"})") ==
          R"(missing required field "startWithPersonalUrl")");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": true,
              "webhooks": {"meeting.end": {"customCallbackData": 1}}})") ==
          R"(missing required field "webhooks["meeting.end"].callbackUrl")");
    CHECK(parse_error<api::meeting_list>("{}") == R"(missing required field "meetings")");
}

TEST_CASE("null: accepted for optional members, rejected for required ones") {
    auto m = parse_ok<api::meeting>(
        R"({"meetingId": 1, "meetingName": "a", "meetingStart": "2015-06-02T09:00:00Z",
        "meetingEnd": "2015-06-02T10:00:00Z", "startWithPersonalUrl": false,
        "participants": null, "conferenceId": null, "viewerLink": null})");
    CHECK(m.participants.empty());
    CHECK_FALSE(m.conference_id);
    CHECK_FALSE(m.viewer_link);
    CHECK(parse_error<api::meeting>(R"({"meetingId": null})") ==
          R"(field "meetingId": expected an integer, found null)");
    auto req = parse_ok<api::start_request>(
        R"({"startWithPersonalUrl": false, "viewerMode": null, "viewerAppDetection": null, "webhooks": null})");
    CHECK(req == api::start_request{});
    auto reg = parse_ok<api::start_request>(R"({"startWithPersonalUrl": false,
        "webhooks": {"meeting.start": {"callbackUrl": "u", "customCallbackData": null}}})");
    CHECK(reg.webhooks.at("meeting.start").custom_callback_data.is_null());
    CHECK(same_json(json::value_from(reg.webhooks.at("meeting.start")), R"({"callbackUrl": "u"})"));
}

TEST_CASE("unknown members are ignored everywhere") {
    auto u =
        parse_ok<api::user>(R"({"email": "e", "fullName": "f", "language": "l", "id": {"deep": [1]},
        "numberOfMeetingsHosted": 1, "registrationDate": "2015-06-02T09:00:00Z", "subscriptionType": "Pro",
        "conferenceSettings": {"conferenceId": "1", "conferenceCallNumbersUrl": "u", "organizerCode": "2", "x": null}})");
    CHECK(u.conference_settings->organizer_code == "2");
    auto l = parse_ok<api::meeting_list>(R"({"total": 0, "meetings": [], "next": null})");
    CHECK(l.meetings.empty());
    auto p = parse_ok<api::meeting_patch>(R"({"meetingId": 42, "meetingName": "renamed"})");
    CHECK(p.meeting_name == "renamed");
    CHECK_FALSE(p.meeting_start);
    auto s =
        parse_ok<api::start_result>(R"({"presenterLink": "p", "viewerLink": "v", "sessionId": 1})");
    CHECK(s.viewer_link == "v");
}

// --- Requests: what is sent ----------------------------------------------------------------

TEST_CASE("meeting_patch writes only the members that are set") {
    api::meeting_patch p;
    CHECK(p.empty());
    CHECK(json::serialize(json::value_from(p)) == "{}");
    p.meeting_name = "New name";
    CHECK_FALSE(p.empty());
    CHECK(json::serialize(json::value_from(p)) == R"({"meetingName":"New name"})");
    p.participants.emplace();
    CHECK(same_json(json::value_from(p), R"({"meetingName": "New name", "participants": []})"));
    p.start_with_personal_url = false;
    p.meeting_end = at(2015y / 6 / 2, 10h);
    CHECK(same_json(json::value_from(p), R"({"meetingName": "New name", "participants": [],
        "startWithPersonalUrl": false, "meetingEnd": "2015-06-02T10:00:00Z"})"));
    check_round_trip(p);
    check_round_trip(api::meeting_patch{});
    // Null from clients that send every member counts as not set.
    auto from_null = parse_ok<api::meeting_patch>(
        R"({"meetingName": null, "meetingStart": null, "meetingEnd": null, "participants": ["a@b"]})");
    CHECK(from_null == api::meeting_patch{.participants = std::vector<std::string>{"a@b"}});
}

TEST_CASE("start_request: viewer mode, app detection, webhooks") {
    api::start_request req;
    req.start_with_personal_url = true;
    req.viewer_mode = api::viewer_mode::headless;
    req.viewer_app_detection = false;
    req.webhooks["meeting.end"] = {"https://example.com/end", json::parse(R"({"n": [1, 2]})")};
    req.webhooks["meeting.start"] = {"https://example.com/start", nullptr};
    CHECK(
        same_json(json::value_from(req), R"({"startWithPersonalUrl": true, "viewerMode": "headless",
        "viewerAppDetection": false, "webhooks": {
          "meeting.end": {"callbackUrl": "https://example.com/end", "customCallbackData": {"n": [1, 2]}},
          "meeting.start": {"callbackUrl": "https://example.com/start"}}})"));
    check_round_trip(req);
    req.viewer_mode = api::viewer_mode::default_viewer;
    CHECK(json::value_from(req).at("viewerMode") == "default");
    check_round_trip(req);
    CHECK(parse_ok<api::start_request>(R"({"startWithPersonalUrl": true, "viewerMode": "default"})")
              .viewer_mode == api::viewer_mode::default_viewer);
    CHECK(parse_error<api::start_request>(
              R"({"startWithPersonalUrl": true, "viewerMode": "fullscreen"})") ==
          R"(field "viewerMode": expected "default", "headless" or null, found another string)");
    CHECK(parse_error<api::start_request>(R"({"startWithPersonalUrl": true, "viewerMode": 1})") ==
          R"(field "viewerMode": expected "default", "headless" or null, found an integer)");
}

TEST_CASE("scheduled_start_request: {} or the webhooks") {
    api::scheduled_start_request s;
    CHECK(json::serialize(json::value_from(s)) == "{}");
    CHECK(parse_ok<api::scheduled_start_request>("{}") == s);
    s.webhooks["meeting.start"] = {"u", 1};
    CHECK(same_json(
        json::value_from(s),
        R"({"webhooks": {"meeting.start": {"callbackUrl": "u", "customCallbackData": 1}}})"));
    check_round_trip(s);
}

TEST_CASE("meeting_list_filter: endDate as a query parameter") {
    CHECK(api::meeting_list_filter{}.query_parameters().empty());
    api::meeting_list_filter f{at(2015y / 6 / 2, 9h)};
    auto q = f.query_parameters();
    REQUIRE(q.size() == 1);
    CHECK(q[0].first == "endDate");
    CHECK(q[0].second == "2015-06-02T09:00:00Z");
    CHECK(api::meeting_list_filter::from_end_date("2015-06-02T11:00:00+02:00") == f);
    CHECK(api::meeting_list_filter::from_end_date("2015-06-02T09:00:00") == f);
    CHECK_FALSE(api::meeting_list_filter::from_end_date("next week"));
}

// --- Described models: one description, read and written -----------------------------------

namespace sample {

// Models of this test only, described as the API's own are. The conversions of joinme::api
// (value_from, value_to, try_value_to) are found by argument-dependent lookup through this
// using-declaration.
using joinme::api::tag_invoke;

struct inner {
    std::string name{};

    friend bool operator==(const inner&, const inner&) = default;
};

constexpr auto json_fields(api::detail::fields_tag<inner>) {
    return std::tuple{api::detail::field("name", &inner::name)};
}

struct outer {
    std::int64_t id = 0;
    std::optional<sys_seconds> when{};
    std::vector<inner> items{};
    inner first{};
    std::vector<std::string> tags{};
    json::value extra{};

    friend bool operator==(const outer&, const outer&) = default;
};

constexpr auto json_fields(api::detail::fields_tag<outer>) {
    using api::detail::field;
    using api::detail::presence;
    return std::tuple{
        field("id", &outer::id),
        field("when", &outer::when),
        field("items", &outer::items, presence::defaulted),
        field("first", &outer::first),
        field("tags", &outer::tags, presence::optional),
        field("extra", &outer::extra, presence::optional),
    };
}

} // namespace sample

static_assert(api::detail::described<sample::outer>);
static_assert(api::detail::readable<sample::outer>);
static_assert(!api::detail::described<api::presenter_list>);
static_assert(!api::detail::described<api::error_body>);

TEST_CASE("a described model is written member by member, in the order of its description") {
    // Required and defaulted members always; optional ones only when set.
    CHECK(json::serialize(json::value_from(sample::outer{})) ==
          R"({"id":0,"items":[],"first":{"name":""}})");
    sample::outer full{.id = 7,
                       .when = at(2015y / 6 / 2, 9h),
                       .items = {{"a"}, {"b"}},
                       .first = {"f"},
                       .tags = {"t"},
                       .extra = json::parse(R"({"k": [1, null]})")};
    CHECK(json::serialize(json::value_from(full)) ==
          R"({"id":7,"when":"2015-06-02T09:00:00Z","items":[{"name":"a"},{"name":"b"}],)"
          R"("first":{"name":"f"},"tags":["t"],"extra":{"k":[1,null]}})");
    check_round_trip(full);
    check_round_trip(sample::outer{});
}

TEST_CASE("a described model is read member by member, in the order of its description") {
    auto minimal = parse_ok<sample::outer>(R"({"first": {"name": "f"}, "id": 1})");
    CHECK(minimal == sample::outer{.id = 1, .first = {"f"}});
    // Null is absent for every member that may be absent; unknown members are ignored.
    CHECK(parse_ok<sample::outer>(R"({"id": 1, "first": {"name": "f", "x": 0}, "when": null,
              "items": null, "tags": null, "extra": null, "other": [{}]})") == minimal);
    CHECK(parse_ok<sample::outer>(R"({"id": 1, "first": {"name": "f"},
              "when": "2015-06-02T11:00:00+02:00"})")
              .when == at(2015y / 6 / 2, 9h));

    CHECK(parse_error<sample::outer>(R"({"first": {"name": "f"}})") ==
          R"(missing required field "id")");
    CHECK(parse_error<sample::outer>(R"({"id": 1})") == R"(missing required field "first")");
    CHECK(parse_error<sample::outer>(R"({"id": null, "first": {"name": "f"}})") ==
          R"(field "id": expected an integer, found null)");
    // The first failure in the order of the description is the one reported.
    CHECK(parse_error<sample::outer>(R"({"first": {"name": 1}, "id": "1"})") ==
          R"(field "id": expected an integer, found a string)");
    CHECK(parse_error<sample::outer>(R"({"id": 1, "first": {"name": 1}})") ==
          R"(field "first.name": expected a string, found an integer)");
    CHECK(parse_error<sample::outer>(
              R"({"id": 1, "first": {"name": "f"}, "items": [{"name": "a"}, {}]})") ==
          R"(missing required field "items[1].name")");
    CHECK(parse_error<sample::outer>(R"({"id": 1, "first": {"name": "f"}, "when": 5})") ==
          R"(field "when": expected an ISO 8601 date-time string, found an integer)");
    CHECK(parse_error<sample::outer>(R"({"id": 1, "first": {"name": "f"}, "tags": {}})") ==
          R"(field "tags": expected an array, found an object)");
    CHECK(parse_error<sample::outer>("[]") == "JSON document: expected an object, found an array");
    CHECK(json::try_value_to<sample::outer>(json::parse(R"({"id": 1})")).error() ==
          errc::malformed_response);
}

// --- Entry points ----------------------------------------------------------------------------

TEST_CASE("malformed JSON and the nesting limit") {
    CHECK(parse_error<api::user>("").find("not valid JSON") != std::string::npos);
    CHECK(parse_error<api::user>(R"({"email": "e")") ==
          "the body is not valid JSON: incomplete JSON at byte 13");
    CHECK(parse_error<api::user>(R"({} {})").find("extra data") != std::string::npos);
    CHECK(parse_error<api::user>("<html>").find("at byte 0") != std::string::npos);
    CHECK(parse_error<api::user>(R"({"email": "e",})").find("not valid JSON") != std::string::npos);
    CHECK(parse_error<api::user>("{/*c*/}").find("not valid JSON") != std::string::npos);
    CHECK(parse_error<api::user>("{\"email\": \"\xff\"}").find("not valid JSON") !=
          std::string::npos);

    // Numbers beyond a double parse as infinity, which could not be written back as JSON.
    CHECK(parse_error<api::webhook_event>(
              R"({"event": "meeting.end", "customCallbackData": {"x": [1e400]}})") ==
          "the body holds a number beyond the range of a double");
    CHECK(parse_error<api::presenter>(R"({"id": -1e400})") ==
          "the body holds a number beyond the range of a double");
    CHECK(parse_ok<api::webhook_event>(R"({"event": "e", "customCallbackData": 1e308})")
              .custom_callback_data == 1e308);

    auto nested = [](std::size_t depth) {
        return R"({"event": "meeting.end", "customCallbackData": )" + std::string(depth, '[') +
               std::string(depth, ']') + "}";
    };
    // The event object is one level; its data may nest up to the limit.
    auto deep = parse_ok<api::webhook_event>(nested(api::max_json_depth - 1));
    CHECK(deep.custom_callback_data.is_array());
    CHECK(parse_error<api::webhook_event>(nested(api::max_json_depth)).find("not valid JSON") !=
          std::string::npos);
    CHECK(parse_error<api::webhook_event>(nested(100000)).find("not valid JSON") !=
          std::string::npos);
}

TEST_CASE("parse leaves diagnostics alone on success and clears ec") {
    joinme::error_code ec = errc::timeout;
    joinme::diagnostics diag;
    diag.status = 200;
    auto p = api::parse<api::new_presenter>(R"({"email": "a"})", ec, diag);
    CHECK(p);
    CHECK_FALSE(ec);
    CHECK(diag.status == 200);
    CHECK(diag.client_message.empty());
}

TEST_CASE("from_json reads an already parsed value") {
    joinme::error_code ec;
    joinme::diagnostics diag;
    auto v = json::parse(R"({"email": "a"})");
    CHECK(api::from_json<api::new_presenter>(v, ec, diag)->email == "a");
    CHECK_FALSE(api::from_json<api::presenter>(v, ec, diag));
    CHECK(ec == errc::malformed_response);
    CHECK(diag.client_message == R"(missing required field "id")");
}

TEST_CASE("throwing forms: parse<T>(body) and value_to carry the path") {
    CHECK(api::parse<api::new_presenter>(R"({"email": "a"})").email == "a");
    try {
        (void)api::parse<api::new_presenter>(R"({"email": false})");
        FAIL("no exception");
    } catch (const joinme::error_with_diagnostics& e) {
        CHECK(e.code() == errc::malformed_response);
        CHECK(e.get_diagnostics().client_message ==
              R"(field "email": expected a string, found a boolean)");
    }
    try {
        (void)json::value_to<api::meeting_list>(
            json::parse(R"({"meetings": [{"meetingId": 1.5}]})"));
        FAIL("no exception");
    } catch (const joinme::error_with_diagnostics& e) {
        CHECK(e.code() == errc::malformed_response);
        CHECK(e.get_diagnostics().client_message ==
              R"(field "meetings[0].meetingId": expected an integer, found a non-integer number)");
        CHECK(std::string(e.what()).find("meetings[0].meetingId") != std::string::npos);
    }
    // Boost.JSON's own containers of models go through the same conversions.
    auto many = json::value_to<std::vector<api::presenter>>(json::parse(
        R"([{"id": 1, "email": "a", "isInvitationAccepted": true, "isSeatAssigned": "true"}])"));
    CHECK(many.at(0).is_seat_assigned);
}

TEST_CASE("try_value_to reports malformed_response without throwing") {
    auto ok = json::try_value_to<api::new_presenter>(json::parse(R"({"email": "a"})"));
    REQUIRE(ok.has_value());
    CHECK(ok->email == "a");
    auto bad = json::try_value_to<api::user>(json::parse("[]"));
    REQUIRE(bad.has_error());
    CHECK(bad.error() == errc::malformed_response);
    auto inner = json::try_value_to<std::vector<api::meeting>>(json::parse(R"([{}])"));
    REQUIRE(inner.has_error());
    CHECK(inner.error() == errc::malformed_response);
}

// --- API error bodies ------------------------------------------------------------------------

TEST_CASE("§9 API error bodies fill Message and ErrorCode") {
    joinme::diagnostics d;
    CHECK(api::read_error_body(
        R"({"Message": "The access token expired", "ErrorCode": "invalid_token"})", d));
    CHECK(d.message == "The access token expired");
    CHECK(d.error_code == "invalid_token");
    CHECK(d.body_excerpt.empty());

    d.clear();
    CHECK(api::read_error_body(
        R"({"ErrorCode": "stale_token", "Message": "Renew the authorization"})", d));
    CHECK(d.error_code == "stale_token");
    CHECK(d.message == "Renew the authorization");

    d.clear();
    CHECK(api::read_error_body(R"({"Message": "Meeting not found"})", d));
    CHECK(d.message == "Meeting not found");
    CHECK(d.error_code.empty());
    CHECK(d.body_excerpt.empty());

    d.clear();
    CHECK(api::read_error_body(R"({"message": "Expire Access Failed", "errorCode": "x"})", d));
    CHECK(d.message == "Expire Access Failed");
    CHECK(d.error_code == "x");

    // RFC 6750 style members are recorded too.
    d.clear();
    CHECK(api::read_error_body(R"({"error": "invalid_token", "error_description": "expired"})", d));
    CHECK(d.error == "invalid_token");
    CHECK(d.error_description == "expired");
    CHECK(d.body_excerpt.empty());
}

TEST_CASE("§6.2 secure.join.me's 500 body keeps its other members in the excerpt") {
    constexpr std::string_view body =
        R"({"ExitPointId": 101101103500, "Message": "InternalServerError", "ReferenceNumber": "d685621056"})";
    joinme::diagnostics d;
    CHECK(api::read_error_body(body, d));
    CHECK(d.message == "InternalServerError");
    CHECK(d.body_excerpt == body);
}

TEST_CASE("error bodies that are not the documented JSON") {
    joinme::diagnostics d;
    d.status = 502;
    CHECK_FALSE(api::read_error_body("", d));
    CHECK_FALSE(api::read_error_body(" \r\n", d));
    CHECK(d.body_excerpt.empty());
    CHECK(d.status == 502);

    std::string html = "<html><body>" + std::string(1000, 'x') + "</body></html>";
    CHECK_FALSE(api::read_error_body(html, d));
    CHECK(d.body_excerpt.size() == joinme::diagnostics::max_excerpt + 3);
    CHECK(d.body_excerpt.starts_with("<html>"));
    CHECK(d.message.empty());

    for (std::string_view body :
         {R"("Server busy")", "[]", R"({"Message": 42})", R"({"Message": ["a"]})",
          R"({"status": "down"})", R"({"Message": ""})", "{}"}) {
        INFO(body);
        joinme::diagnostics e;
        CHECK_FALSE(api::read_error_body(body, e));
        CHECK(e.body_excerpt == body);
        CHECK(e.message.empty());
        CHECK(e.error_code.empty());
    }
}

TEST_CASE("error_body as a model") {
    auto e = parse_ok<api::error_body>(R"({"Message": "m", "ErrorCode": "insufficient_scope"})");
    CHECK(e == api::error_body{"m", "insufficient_scope"});
    check_round_trip(e);
    CHECK(same_json(json::value_from(api::error_body{"Meeting not found", {}}),
                    R"({"Message": "Meeting not found"})"));
    CHECK(parse_error<api::error_body>(R"({"ErrorCode": 1})") ==
          R"(field "ErrorCode": expected a string, found an integer)");
}
