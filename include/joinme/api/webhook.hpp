// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_WEBHOOK_HPP
#define JOINME_API_WEBHOOK_HPP

/// @file
/// Meeting lifecycle webhooks (joinme-api.md §4.4, §9): the registration sent with a start
/// request, and the event join.me POSTs to the callback URL.
///
/// A server that receives the callback reads the body with
/// `joinme::api::parse<webhook_event>(body, ec, diag)` and switches on `event.type()`.

#include <joinme/api/parse.hpp>
#include <joinme/detail/time.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace joinme::api {

/// The lifecycle events join.me can call back for.
enum class webhook_event_type {
    unknown,       ///< An event name this version of joinme does not know; see the name.
    meeting_start, ///< `meeting.start`: the presenter launched the meeting.
    meeting_end,   ///< `meeting.end`: everybody left the meeting.
};

/// The wire name of an event type: `meeting.start`, `meeting.end`, or an empty string for
/// `unknown`.
constexpr std::string_view to_string(webhook_event_type t) noexcept {
    switch (t) {
    case webhook_event_type::meeting_start:
        return "meeting.start";
    case webhook_event_type::meeting_end:
        return "meeting.end";
    case webhook_event_type::unknown:
        break;
    }
    return {};
}

/// The event type of a wire name; names other than `meeting.start` and `meeting.end` give
/// `unknown`.
constexpr webhook_event_type to_webhook_event_type(std::string_view name) noexcept {
    if (name == "meeting.start")
        return webhook_event_type::meeting_start;
    if (name == "meeting.end")
        return webhook_event_type::meeting_end;
    return webhook_event_type::unknown;
}

/// One webhook of a start request (a value of its `webhooks` object, keyed by event name).
///
/// Required when read: `callbackUrl`.
struct webhook_registration {
    std::string callback_url{};                ///< `callbackUrl`: where join.me POSTs.
    boost::json::value custom_callback_data{}; ///< `customCallbackData`, echoed in the event;
                                               ///< null means none and is not sent.

    friend bool operator==(const webhook_registration&, const webhook_registration&) = default;
};

/// Reads a `webhook_registration`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<webhook_registration>, detail::json_reader& r,
                       const boost::json::value& jv, webhook_registration& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "callbackUrl", out.callback_url) &&
           r.optional(*o, "customCallbackData", out.custom_callback_data);
}

/// Writes a `webhook_registration`; `customCallbackData` only when it is not null.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const webhook_registration& w) {
    auto& o = jv.emplace_object();
    o["callbackUrl"] = w.callback_url;
    if (!w.custom_callback_data.is_null())
        o["customCallbackData"] = w.custom_callback_data;
}

/// The body join.me POSTs to a webhook's callback URL:
/// `{"event": "meeting.start", "meetingId": ..., "timestamp": "...", "customCallbackData": ...}`.
///
/// Only `event` is required when read: beyond `customCallbackData`, the callback's shape is
/// this project's decision (joinme-api.md §9) rather than something the service documents, so
/// `meetingId` and `timestamp` are optional to stay usable if join.me sends less. When present
/// they must have the right type. Unknown event names and unknown members are accepted.
struct webhook_event {
    std::string event{};                                 ///< `event`, the wire name, kept verbatim.
    std::optional<std::int64_t> meeting_id{};            ///< `meetingId`.
    std::optional<std::chrono::sys_seconds> timestamp{}; ///< `timestamp` (UTC).
    boost::json::value custom_callback_data{};           ///< `customCallbackData`, null if absent.

    /// The event's type; `unknown` for a name this version does not know.
    webhook_event_type type() const noexcept { return to_webhook_event_type(event); }

    friend bool operator==(const webhook_event&, const webhook_event&) = default;
};

/// Reads a `webhook_event`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<webhook_event>, detail::json_reader& r,
                       const boost::json::value& jv, webhook_event& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "event", out.event) && r.optional(*o, "meetingId", out.meeting_id) &&
           r.optional(*o, "timestamp", out.timestamp) &&
           r.optional(*o, "customCallbackData", out.custom_callback_data);
}

/// Writes a `webhook_event` as the callback body: `event` and `customCallbackData` always
/// (null when there is none), `meetingId` and `timestamp` when set.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const webhook_event& e) {
    auto& o = jv.emplace_object();
    o["event"] = e.event;
    if (e.meeting_id)
        o["meetingId"] = *e.meeting_id;
    if (e.timestamp)
        o["timestamp"] = joinme::detail::format_iso8601(*e.timestamp);
    o["customCallbackData"] = e.custom_callback_data;
}

} // namespace joinme::api

#endif
