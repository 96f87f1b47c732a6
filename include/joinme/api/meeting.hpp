// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_MEETING_HPP
#define JOINME_API_MEETING_HPP

/// @file
/// Scheduled meetings (joinme-api.md §4.5 to §4.9): the meeting join.me returns, the list of
/// them, the draft sent to create one, the patch sent to update one and the filter of the list.

#include <joinme/api/parse.hpp>
#include <joinme/detail/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace joinme::api {

/// A scheduled meeting as join.me returns it (get, list, create and update).
///
/// Required: `meetingId`, `meetingName`, `meetingStart`, `meetingEnd`,
/// `startWithPersonalUrl`. The list endpoint leaves out `participants` and `conferenceId`, and
/// `viewerLink` is documented but absent from every example, so those three are optional.
struct meeting {
    std::int64_t meeting_id = 0;                ///< `meetingId`.
    std::string meeting_name{};                 ///< `meetingName`.
    std::chrono::sys_seconds meeting_start{};   ///< `meetingStart` (UTC).
    std::chrono::sys_seconds meeting_end{};     ///< `meetingEnd` (UTC).
    bool start_with_personal_url = false;       ///< `startWithPersonalUrl`.
    std::vector<std::string> participants{};    ///< `participants` (e-mails); empty if absent.
    std::optional<std::string> conference_id{}; ///< `conferenceId`: 9-digit conference ID.
    std::optional<std::string> viewer_link{};   ///< `viewerLink`, live once the meeting starts.

    friend bool operator==(const meeting&, const meeting&) = default;
};

/// The JSON members of a `meeting`; dates are written in UTC with `Z`, `participants` always,
/// the optionals only when set.
constexpr auto json_fields(detail::fields_tag<meeting>) {
    return std::tuple{
        detail::field("meetingId", &meeting::meeting_id),
        detail::field("meetingName", &meeting::meeting_name),
        detail::field("meetingStart", &meeting::meeting_start),
        detail::field("meetingEnd", &meeting::meeting_end),
        detail::field("startWithPersonalUrl", &meeting::start_with_personal_url),
        detail::field("participants", &meeting::participants, detail::presence::defaulted),
        detail::field("conferenceId", &meeting::conference_id),
        detail::field("viewerLink", &meeting::viewer_link),
    };
}

/// The body of `GET /v1/meetings`: `{"meetings": [...]}`, empty when nothing is scheduled.
struct meeting_list {
    std::vector<meeting> meetings{}; ///< `meetings` (required, may be empty).

    friend bool operator==(const meeting_list&, const meeting_list&) = default;
};

/// The JSON members of a `meeting_list`: `{"meetings": [...]}`.
constexpr auto json_fields(detail::fields_tag<meeting_list>) {
    return std::tuple{detail::field("meetings", &meeting_list::meetings)};
}

/// The body of `POST /v1/meetings` (schedule a meeting).
///
/// Required when read: `meetingName`, `meetingStart`, `meetingEnd`; `startWithPersonalUrl`
/// defaults to false and `participants` to none. Whether the end follows the start is the
/// server's to check, not the model's.
struct meeting_draft {
    std::string meeting_name{};               ///< `meetingName`.
    std::chrono::sys_seconds meeting_start{}; ///< `meetingStart`, sent in UTC with `Z`.
    std::chrono::sys_seconds meeting_end{};   ///< `meetingEnd`, sent in UTC with `Z`.
    bool start_with_personal_url = false;     ///< `startWithPersonalUrl`, always sent.
    std::vector<std::string> participants{};  ///< `participants` (e-mails), sent when not empty.

    friend bool operator==(const meeting_draft&, const meeting_draft&) = default;
};

/// The JSON members of a `meeting_draft`, as the request body.
constexpr auto json_fields(detail::fields_tag<meeting_draft>) {
    return std::tuple{
        detail::field("meetingName", &meeting_draft::meeting_name),
        detail::field("meetingStart", &meeting_draft::meeting_start),
        detail::field("meetingEnd", &meeting_draft::meeting_end),
        detail::field("startWithPersonalUrl", &meeting_draft::start_with_personal_url,
                      detail::presence::defaulted),
        detail::field("participants", &meeting_draft::participants, detail::presence::optional),
    };
}

/// The body of `PATCH /v1/meetings/{meetingId}`: only the members that are set are sent, so
/// the others keep their values on the server. Setting `participants` to an empty list clears
/// them.
///
/// When read, every member is optional and null counts as not set; a `meetingId` in the body
/// (which some clients repeat) is ignored like any unknown member.
struct meeting_patch {
    std::optional<std::string> meeting_name{};               ///< `meetingName`.
    std::optional<std::chrono::sys_seconds> meeting_start{}; ///< `meetingStart`.
    std::optional<std::chrono::sys_seconds> meeting_end{};   ///< `meetingEnd`.
    std::optional<bool> start_with_personal_url{};           ///< `startWithPersonalUrl`.
    std::optional<std::vector<std::string>> participants{};  ///< `participants`.

    /// True when no member is set (the body would be `{}`).
    bool empty() const noexcept {
        return !meeting_name && !meeting_start && !meeting_end && !start_with_personal_url &&
               !participants;
    }

    friend bool operator==(const meeting_patch&, const meeting_patch&) = default;
};

/// The JSON members of a `meeting_patch`: all optional, and only those that are set are
/// written.
constexpr auto json_fields(detail::fields_tag<meeting_patch>) {
    return std::tuple{
        detail::field("meetingName", &meeting_patch::meeting_name),
        detail::field("meetingStart", &meeting_patch::meeting_start),
        detail::field("meetingEnd", &meeting_patch::meeting_end),
        detail::field("startWithPersonalUrl", &meeting_patch::start_with_personal_url),
        detail::field("participants", &meeting_patch::participants),
    };
}

/// The filter of `GET /v1/meetings`: without `end_date`, all upcoming meetings; with it, only
/// those up to that date.
struct meeting_list_filter {
    std::optional<std::chrono::sys_seconds> end_date{}; ///< `endDate` (UTC).

    /// The query parameters to add to the URL, as (name, value) pairs that are not yet
    /// percent-encoded: `("endDate", "2015-06-02T09:00:00Z")`, or none.
    std::vector<std::pair<std::string, std::string>> query_parameters() const {
        std::vector<std::pair<std::string, std::string>> out;
        if (end_date)
            out.emplace_back("endDate", joinme::detail::format_iso8601(*end_date));
        return out;
    }

    /// Reads the value of an `endDate` query parameter (already percent-decoded) as the
    /// server sees it: ISO 8601 with `Z`, an offset or no suffix, as in a JSON body.
    ///
    /// @return The filter, or an empty optional when `value` is not an ISO 8601 date-time.
    static std::optional<meeting_list_filter> from_end_date(std::string_view value) {
        auto t = detail::parse_date_time(value);
        if (!t)
            return std::nullopt;
        return meeting_list_filter{*t};
    }

    friend bool operator==(const meeting_list_filter&, const meeting_list_filter&) = default;
};

} // namespace joinme::api

#endif
