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

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

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

/// The JSON members of a `webhook_registration`; `customCallbackData` is written only when it
/// is not null.
constexpr auto json_fields(detail::fields_tag<webhook_registration>) {
    return std::tuple{
        detail::field("callbackUrl", &webhook_registration::callback_url),
        detail::field("customCallbackData", &webhook_registration::custom_callback_data,
                      detail::presence::optional),
    };
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

/// The JSON members of a `webhook_event`, as the callback body: `event` and
/// `customCallbackData` always (null when there is none), `meetingId` and `timestamp` when set.
constexpr auto json_fields(detail::fields_tag<webhook_event>) {
    return std::tuple{
        detail::field("event", &webhook_event::event),
        detail::field("meetingId", &webhook_event::meeting_id),
        detail::field("timestamp", &webhook_event::timestamp),
        detail::field("customCallbackData", &webhook_event::custom_callback_data,
                      detail::presence::defaulted),
    };
}

} // namespace joinme::api

#endif
