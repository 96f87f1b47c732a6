// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_START_HPP
#define JOINME_API_START_HPP

/// @file
/// Starting meetings (joinme-api.md §4.3, §4.4, §4.10): the body of `POST /v1/meetings/start`
/// and of `POST /v1/meetings/{meetingId}/start`, and the links both return.

#include <joinme/api/parse.hpp>
#include <joinme/api/user.hpp>
#include <joinme/api/webhook.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace joinme::api {

/// The browser viewer's presentation (`viewerMode`).
enum class viewer_mode {
    default_viewer, ///< `"default"`: the normal viewer, the same as not sending the field.
    headless,       ///< `"headless"`: no controls at the top of the browser viewer.
};

/// Reads a `viewer_mode` from `"default"` or `"headless"`; null is handled by the optional
/// that holds it.
inline bool tag_invoke(detail::read_tag<viewer_mode>, detail::json_reader& r,
                       const boost::json::value& jv, viewer_mode& out) {
    const auto* s = jv.if_string();
    if (!s)
        return r.fail_kind("\"default\", \"headless\" or null", jv);
    if (*s == "default")
        out = viewer_mode::default_viewer;
    else if (*s == "headless")
        out = viewer_mode::headless;
    else
        return r.fail("expected \"default\", \"headless\" or null, found another string");
    return true;
}

/// Writes a `viewer_mode` as its wire string.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, viewer_mode m) {
    jv = m == viewer_mode::headless ? "headless" : "default";
}

/// Webhooks of a start request, keyed by event name (`meeting.start`, `meeting.end`; see
/// `to_string(webhook_event_type)`). join.me takes at most one webhook per event, which the
/// map guarantees.
using webhook_map = std::map<std::string, webhook_registration, std::less<>>;

/// The body of `POST /v1/meetings/start` (start an ad hoc meeting).
///
/// Required when read: `startWithPersonalUrl`. Absent or null optionals are not set and are
/// not sent; an empty `webhooks` is not sent.
struct start_request {
    bool start_with_personal_url = false;          ///< `startWithPersonalUrl`.
    std::optional<api::viewer_mode> viewer_mode{}; ///< `viewerMode`; unset means the default.
    std::optional<bool> viewer_app_detection{};    ///< `viewerAppDetection`; join.me's default
                                                   ///< is true. Set it false with `headless`
                                                   ///< so that every viewer gets that viewer.
    webhook_map webhooks{};                        ///< `webhooks`.

    friend bool operator==(const start_request&, const start_request&) = default;
};

/// The JSON members of a `start_request`, as the request body.
constexpr auto json_fields(detail::fields_tag<start_request>) {
    return std::tuple{
        detail::field("startWithPersonalUrl", &start_request::start_with_personal_url),
        detail::field("viewerMode", &start_request::viewer_mode),
        detail::field("viewerAppDetection", &start_request::viewer_app_detection),
        detail::field("webhooks", &start_request::webhooks, detail::presence::optional),
    };
}

/// The body of `POST /v1/meetings/{meetingId}/start` (start a scheduled meeting): only the
/// webhooks, and `{}` without them.
struct scheduled_start_request {
    webhook_map webhooks{}; ///< `webhooks`, not sent when empty.

    friend bool operator==(const scheduled_start_request&,
                           const scheduled_start_request&) = default;
};

/// The JSON members of a `scheduled_start_request`, as the request body.
constexpr auto json_fields(detail::fields_tag<scheduled_start_request>) {
    return std::tuple{
        detail::field("webhooks", &scheduled_start_request::webhooks, detail::presence::optional),
    };
}

/// What both start endpoints return.
///
/// Required when read: `presenterLink`, `viewerLink`. `audioConference` is optional because
/// users without an audio bridge (free plans have no `conferenceSettings`) have none.
/// `webhooksStatus`, whose structure join.me does not document, is kept as JSON and never
/// fails the parse: the meeting has started even if webhook registration did not work.
struct start_result {
    std::string presenter_link{}; ///< `presenterLink`: one-time login link, valid 10 minutes.
                                  ///< It is a credential: do not log it.
    std::string viewer_link{};    ///< `viewerLink`: the link for viewers.
    std::optional<api::audio_conference> audio_conference{}; ///< `audioConference`.
    boost::json::value webhooks_status{}; ///< `webhooksStatus` as sent, null when absent.

    /// Whether join.me reports the webhook of `event` as registered, read from
    /// `webhooksStatus[event].registered` (a boolean or "true"/"false").
    ///
    /// @return The flag, or an empty optional when `webhooksStatus` does not say.
    std::optional<bool> webhook_registered(std::string_view event) const {
        const auto* all = webhooks_status.if_object();
        const auto* one = all ? all->if_contains(event) : nullptr;
        const auto* fields = one ? one->if_object() : nullptr;
        const auto* flag = fields ? fields->if_contains("registered") : nullptr;
        bool out = false;
        detail::json_reader r;
        if (!flag || !detail::read_json(r, *flag, out))
            return std::nullopt;
        return out;
    }

    friend bool operator==(const start_result&, const start_result&) = default;
};

/// The JSON members of a `start_result`; `audioConference` and `webhooksStatus` are written
/// when set.
constexpr auto json_fields(detail::fields_tag<start_result>) {
    return std::tuple{
        detail::field("presenterLink", &start_result::presenter_link),
        detail::field("viewerLink", &start_result::viewer_link),
        detail::field("audioConference", &start_result::audio_conference),
        detail::field("webhooksStatus", &start_result::webhooks_status, detail::presence::optional),
    };
}

} // namespace joinme::api

#endif
