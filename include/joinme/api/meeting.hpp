// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_MEETING_HPP
#define JOINME_API_MEETING_HPP

/// @file
/// Scheduled meetings (joinme-api.md §4.5 to §4.9): the meeting join.me returns, the list of
/// them, the draft sent to create one, the patch sent to update one and the filter of the list.

#include <joinme/api/parse.hpp>
#include <joinme/detail/time.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

/// Reads a `meeting`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<meeting>, detail::json_reader& r,
                       const boost::json::value& jv, meeting& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "meetingId", out.meeting_id) &&
           r.required(*o, "meetingName", out.meeting_name) &&
           r.required(*o, "meetingStart", out.meeting_start) &&
           r.required(*o, "meetingEnd", out.meeting_end) &&
           r.required(*o, "startWithPersonalUrl", out.start_with_personal_url) &&
           r.optional(*o, "participants", out.participants) &&
           r.optional(*o, "conferenceId", out.conference_id) &&
           r.optional(*o, "viewerLink", out.viewer_link);
}

/// Writes a `meeting` as join.me does, dates in UTC with `Z`; `participants` always, the
/// optionals only when set.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const meeting& m) {
    auto& o = jv.emplace_object();
    o["meetingId"] = m.meeting_id;
    o["meetingName"] = m.meeting_name;
    o["meetingStart"] = joinme::detail::format_iso8601(m.meeting_start);
    o["meetingEnd"] = joinme::detail::format_iso8601(m.meeting_end);
    o["startWithPersonalUrl"] = m.start_with_personal_url;
    o["participants"] = boost::json::value_from(m.participants, o.storage());
    if (m.conference_id)
        o["conferenceId"] = *m.conference_id;
    if (m.viewer_link)
        o["viewerLink"] = *m.viewer_link;
}

/// The body of `GET /v1/meetings`: `{"meetings": [...]}`, empty when nothing is scheduled.
struct meeting_list {
    std::vector<meeting> meetings{}; ///< `meetings` (required, may be empty).

    friend bool operator==(const meeting_list&, const meeting_list&) = default;
};

/// Reads a `meeting_list`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<meeting_list>, detail::json_reader& r,
                       const boost::json::value& jv, meeting_list& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "meetings", out.meetings);
}

/// Writes a `meeting_list` as `{"meetings": [...]}`.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const meeting_list& l) {
    jv.emplace_object()["meetings"] = boost::json::value_from(l.meetings, jv.storage());
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

/// Reads a `meeting_draft`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<meeting_draft>, detail::json_reader& r,
                       const boost::json::value& jv, meeting_draft& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "meetingName", out.meeting_name) &&
           r.required(*o, "meetingStart", out.meeting_start) &&
           r.required(*o, "meetingEnd", out.meeting_end) &&
           r.optional(*o, "startWithPersonalUrl", out.start_with_personal_url) &&
           r.optional(*o, "participants", out.participants);
}

/// Writes a `meeting_draft` as the request body.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const meeting_draft& d) {
    auto& o = jv.emplace_object();
    o["meetingName"] = d.meeting_name;
    o["meetingStart"] = joinme::detail::format_iso8601(d.meeting_start);
    o["meetingEnd"] = joinme::detail::format_iso8601(d.meeting_end);
    o["startWithPersonalUrl"] = d.start_with_personal_url;
    if (!d.participants.empty())
        o["participants"] = boost::json::value_from(d.participants, o.storage());
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

/// Reads a `meeting_patch`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<meeting_patch>, detail::json_reader& r,
                       const boost::json::value& jv, meeting_patch& out) {
    const auto* o = r.object(jv);
    return o && r.optional(*o, "meetingName", out.meeting_name) &&
           r.optional(*o, "meetingStart", out.meeting_start) &&
           r.optional(*o, "meetingEnd", out.meeting_end) &&
           r.optional(*o, "startWithPersonalUrl", out.start_with_personal_url) &&
           r.optional(*o, "participants", out.participants);
}

/// Writes the members of a `meeting_patch` that are set, and only those.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const meeting_patch& p) {
    auto& o = jv.emplace_object();
    if (p.meeting_name)
        o["meetingName"] = *p.meeting_name;
    if (p.meeting_start)
        o["meetingStart"] = joinme::detail::format_iso8601(*p.meeting_start);
    if (p.meeting_end)
        o["meetingEnd"] = joinme::detail::format_iso8601(*p.meeting_end);
    if (p.start_with_personal_url)
        o["startWithPersonalUrl"] = *p.start_with_personal_url;
    if (p.participants)
        o["participants"] = boost::json::value_from(*p.participants, o.storage());
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
