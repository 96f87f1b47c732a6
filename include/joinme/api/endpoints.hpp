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

/// The HTTP method of an endpoint (Beast's `http::verb`).
using verb = boost::beast::http::verb;
using oauth::scope;

/// GET /v1/user: the user the token belongs to.
struct get_user {
    /// The operation's result.
    using result = user;
    /// The HTTP method.
    static constexpr verb method = verb::get;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/user";
    /// The scope the access token needs.
    static constexpr scope needs = scope::user_info;
};

/// POST /v1/meetings/start: starts an ad hoc meeting.
struct start_meeting {
    /// The operation's result.
    using result = start_result;
    /// The HTTP method.
    static constexpr verb method = verb::post;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/meetings/start";
    /// The scope the access token needs.
    static constexpr scope needs = scope::start_meeting;
    /// The JSON body.
    start_request body;
};

/// GET /v1/meetings: the upcoming scheduled meetings.
struct list_meetings {
    /// The operation's result.
    using result = std::vector<meeting>;
    /// The JSON the body is read as: `{"meetings": [...]}`.
    using model = meeting_list;
    /// The HTTP method.
    static constexpr verb method = verb::get;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/meetings";
    /// The scope the access token needs.
    static constexpr scope needs = scope::scheduler;
    /// The query parameters (`endDate`).
    meeting_list_filter query;
};

/// GET /v1/meetings/{meetingId}: one scheduled meeting.
struct get_meeting {
    /// The operation's result.
    using result = meeting;
    /// The HTTP method.
    static constexpr verb method = verb::get;
    /// The path below the API base URL; `{id}` stands for `id`.
    static constexpr std::string_view path = "/v1/meetings/{id}";
    /// The scope the access token needs.
    static constexpr scope needs = scope::scheduler;
    /// The `{id}` of the path.
    std::int64_t id;
};

/// POST /v1/meetings: schedules a meeting.
struct schedule_meeting {
    /// The operation's result.
    using result = meeting;
    /// The HTTP method.
    static constexpr verb method = verb::post;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/meetings";
    /// The scope the access token needs.
    static constexpr scope needs = scope::scheduler;
    /// The JSON body.
    meeting_draft body;
};

/// PATCH /v1/meetings/{meetingId}: updates the members of `body` that are set.
struct update_meeting {
    /// The operation's result.
    using result = meeting;
    /// The HTTP method.
    static constexpr verb method = verb::patch;
    /// The path below the API base URL; `{id}` stands for `id`.
    static constexpr std::string_view path = "/v1/meetings/{id}";
    /// The scope the access token needs.
    static constexpr scope needs = scope::scheduler;
    /// The `{id}` of the path.
    std::int64_t id;
    /// The JSON body: only the members that are set.
    meeting_patch body;
};

/// DELETE /v1/meetings/{meetingId}: deletes a scheduled meeting.
struct delete_meeting {
    /// The operation's result: none.
    using result = void;
    /// The HTTP method.
    static constexpr verb method = verb::delete_;
    /// The path below the API base URL; `{id}` stands for `id`.
    static constexpr std::string_view path = "/v1/meetings/{id}";
    /// The scope the access token needs.
    static constexpr scope needs = scope::scheduler;
    /// The `{id}` of the path.
    std::int64_t id;
};

/// POST /v1/meetings/{meetingId}/start: starts a scheduled meeting.
struct start_scheduled_meeting {
    /// The operation's result.
    using result = start_result;
    /// The HTTP method.
    static constexpr verb method = verb::post;
    /// The path below the API base URL; `{id}` stands for `id`.
    static constexpr std::string_view path = "/v1/meetings/{id}/start";
    /// The scope the access token needs.
    static constexpr scope needs = scope::start_meeting;
    /// The `{id}` of the path.
    std::int64_t id;
    /// The JSON body.
    scheduled_start_request body;
};

/// GET /v1/presenters/{id}: one presenter (Business accounts).
struct get_presenter {
    /// The operation's result.
    using result = presenter;
    /// The HTTP method.
    static constexpr verb method = verb::get;
    /// The path below the API base URL; `{id}` stands for `id`.
    static constexpr std::string_view path = "/v1/presenters/{id}";
    /// The scope the access token needs.
    static constexpr scope needs = scope::provisioning;
    /// The `{id}` of the path.
    std::int64_t id;
};

/// GET /v1/presenters: every presenter (Business accounts).
struct list_presenters {
    /// The operation's result.
    using result = std::vector<presenter>;
    /// The JSON the body is read as: a bare array or `{"presenters": [...]}`.
    using model = presenter_list;
    /// The HTTP method.
    static constexpr verb method = verb::get;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/presenters";
    /// The scope the access token needs.
    static constexpr scope needs = scope::provisioning;
};

/// POST /v1/presenters: invites `body.email` to become a presenter (Business accounts).
struct add_presenter {
    /// The operation's result.
    using result = presenter;
    /// The HTTP method.
    static constexpr verb method = verb::post;
    /// The path below the API base URL.
    static constexpr std::string_view path = "/v1/presenters";
    /// The scope the access token needs.
    static constexpr scope needs = scope::provisioning;
    /// The JSON body.
    new_presenter body;
};

} // namespace joinme::api::endpoints

#endif
