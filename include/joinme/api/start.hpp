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

/// Reads a `start_request`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<start_request>, detail::json_reader& r,
                       const boost::json::value& jv, start_request& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "startWithPersonalUrl", out.start_with_personal_url) &&
           r.optional(*o, "viewerMode", out.viewer_mode) &&
           r.optional(*o, "viewerAppDetection", out.viewer_app_detection) &&
           r.optional(*o, "webhooks", out.webhooks);
}

/// Writes a `start_request` as the request body.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const start_request& s) {
    auto& o = jv.emplace_object();
    o["startWithPersonalUrl"] = s.start_with_personal_url;
    if (s.viewer_mode)
        o["viewerMode"] = boost::json::value_from(*s.viewer_mode, o.storage());
    if (s.viewer_app_detection)
        o["viewerAppDetection"] = *s.viewer_app_detection;
    if (!s.webhooks.empty())
        o["webhooks"] = boost::json::value_from(s.webhooks, o.storage());
}

/// The body of `POST /v1/meetings/{meetingId}/start` (start a scheduled meeting): only the
/// webhooks, and `{}` without them.
struct scheduled_start_request {
    webhook_map webhooks{}; ///< `webhooks`, not sent when empty.

    friend bool operator==(const scheduled_start_request&,
                           const scheduled_start_request&) = default;
};

/// Reads a `scheduled_start_request`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<scheduled_start_request>, detail::json_reader& r,
                       const boost::json::value& jv, scheduled_start_request& out) {
    const auto* o = r.object(jv);
    return o && r.optional(*o, "webhooks", out.webhooks);
}

/// Writes a `scheduled_start_request` as the request body.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const scheduled_start_request& s) {
    auto& o = jv.emplace_object();
    if (!s.webhooks.empty())
        o["webhooks"] = boost::json::value_from(s.webhooks, o.storage());
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

/// Reads a `start_result`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<start_result>, detail::json_reader& r,
                       const boost::json::value& jv, start_result& out) {
    const auto* o = r.object(jv);
    if (!o || !r.required(*o, "presenterLink", out.presenter_link) ||
        !r.required(*o, "viewerLink", out.viewer_link) ||
        !r.optional(*o, "audioConference", out.audio_conference))
        return false;
    if (const auto* status = o->if_contains("webhooksStatus"))
        out.webhooks_status = *status;
    return true;
}

/// Writes a `start_result` as join.me does; `audioConference` and `webhooksStatus` when set.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const start_result& s) {
    auto& o = jv.emplace_object();
    o["presenterLink"] = s.presenter_link;
    o["viewerLink"] = s.viewer_link;
    if (s.audio_conference)
        o["audioConference"] = boost::json::value_from(*s.audio_conference, o.storage());
    if (!s.webhooks_status.is_null())
        o["webhooksStatus"] = s.webhooks_status;
}

} // namespace joinme::api

#endif
