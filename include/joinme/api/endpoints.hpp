// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_ENDPOINTS_HPP
#define JOINME_API_ENDPOINTS_HPP

/// @file
/// Every join.me REST endpoint (joinme-api.md §4), described once: its method, its path below
/// the API base URL, the scope it needs, its request (path id, query, JSON body) and the
/// result the operation hands out. The client's member functions are one line over these
/// descriptions; `describe` turns one into a request.
///
/// A description is a struct with `method`, `path` (where `{id}` stands for the member `id`),
/// `scope` and `result` (`void` for none; `model`, when present, is the JSON the body is read
/// as before the result is taken out of it), and as members the request's parts: `id`,
/// `query` (anything with `query_parameters()`), `body` (a model converted with
/// `boost::json::value_from`).

#include <joinme/api/meeting.hpp>
#include <joinme/api/presenter.hpp>
#include <joinme/api/start.hpp>
#include <joinme/api/user.hpp>
#include <joinme/oauth/scope.hpp>

#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace joinme::api::endpoints {

using verb = boost::beast::http::verb;
using oauth::scope;

/// GET /v1/user: the user the token belongs to.
struct get_user {
    using result = user;
    static constexpr verb method = verb::get;
    static constexpr std::string_view path = "/v1/user";
    static constexpr scope needs = scope::user_info;
};

/// POST /v1/meetings/start: starts an ad hoc meeting.
struct start_meeting {
    using result = start_result;
    static constexpr verb method = verb::post;
    static constexpr std::string_view path = "/v1/meetings/start";
    static constexpr scope needs = scope::start_meeting;
    start_request body;
};

/// GET /v1/meetings: the upcoming scheduled meetings.
struct list_meetings {
    using result = std::vector<meeting>;
    using model = meeting_list;
    static constexpr verb method = verb::get;
    static constexpr std::string_view path = "/v1/meetings";
    static constexpr scope needs = scope::scheduler;
    meeting_list_filter query;
};

/// GET /v1/meetings/{meetingId}: one scheduled meeting.
struct get_meeting {
    using result = meeting;
    static constexpr verb method = verb::get;
    static constexpr std::string_view path = "/v1/meetings/{id}";
    static constexpr scope needs = scope::scheduler;
    std::int64_t id;
};

/// POST /v1/meetings: schedules a meeting.
struct schedule_meeting {
    using result = meeting;
    static constexpr verb method = verb::post;
    static constexpr std::string_view path = "/v1/meetings";
    static constexpr scope needs = scope::scheduler;
    meeting_draft body;
};

/// PATCH /v1/meetings/{meetingId}: updates the members of `body` that are set.
struct update_meeting {
    using result = meeting;
    static constexpr verb method = verb::patch;
    static constexpr std::string_view path = "/v1/meetings/{id}";
    static constexpr scope needs = scope::scheduler;
    std::int64_t id;
    meeting_patch body;
};

/// DELETE /v1/meetings/{meetingId}: deletes a scheduled meeting.
struct delete_meeting {
    using result = void;
    static constexpr verb method = verb::delete_;
    static constexpr std::string_view path = "/v1/meetings/{id}";
    static constexpr scope needs = scope::scheduler;
    std::int64_t id;
};

/// POST /v1/meetings/{meetingId}/start: starts a scheduled meeting.
struct start_scheduled_meeting {
    using result = start_result;
    static constexpr verb method = verb::post;
    static constexpr std::string_view path = "/v1/meetings/{id}/start";
    static constexpr scope needs = scope::start_meeting;
    std::int64_t id;
    scheduled_start_request body;
};

/// GET /v1/presenters/{id}: one presenter (Business accounts).
struct get_presenter {
    using result = presenter;
    static constexpr verb method = verb::get;
    static constexpr std::string_view path = "/v1/presenters/{id}";
    static constexpr scope needs = scope::provisioning;
    std::int64_t id;
};

/// GET /v1/presenters: every presenter (Business accounts).
struct list_presenters {
    using result = std::vector<presenter>;
    using model = presenter_list;
    static constexpr verb method = verb::get;
    static constexpr std::string_view path = "/v1/presenters";
    static constexpr scope needs = scope::provisioning;
};

/// POST /v1/presenters: invites `body.email` to become a presenter (Business accounts).
struct add_presenter {
    using result = presenter;
    static constexpr verb method = verb::post;
    static constexpr std::string_view path = "/v1/presenters";
    static constexpr scope needs = scope::provisioning;
    new_presenter body;
};

} // namespace joinme::api::endpoints

#endif
