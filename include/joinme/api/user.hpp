// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_USER_HPP
#define JOINME_API_USER_HPP

/// @file
/// The join.me user (`GET /v1/user`, joinme-api.md §4.1) and the audio conference details it
/// shares with a started meeting (§4.3).

#include <joinme/api/parse.hpp>
#include <joinme/detail/time.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace joinme::api {

/// A user's audio bridge: `conferenceSettings` of a user and `audioConference` of a started
/// meeting. All three members are required when the object is present.
struct audio_conference {
    std::string conference_id{};               ///< `conferenceId`: 9-digit audio bridge ID.
    std::string conference_call_numbers_url{}; ///< `conferenceCallNumbersUrl`: dial-in numbers.
    std::string organizer_code{};              ///< `organizerCode`: the presenter's 4-digit PIN.

    friend bool operator==(const audio_conference&, const audio_conference&) = default;
};

/// Reads an `audio_conference`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<audio_conference>, detail::json_reader& r,
                       const boost::json::value& jv, audio_conference& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "conferenceId", out.conference_id) &&
           r.required(*o, "conferenceCallNumbersUrl", out.conference_call_numbers_url) &&
           r.required(*o, "organizerCode", out.organizer_code);
}

/// Writes an `audio_conference` as join.me does.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const audio_conference& a) {
    auto& o = jv.emplace_object();
    o["conferenceId"] = a.conference_id;
    o["conferenceCallNumbersUrl"] = a.conference_call_numbers_url;
    o["organizerCode"] = a.organizer_code;
}

/// The user an access token belongs to (`GET /v1/user`). join.me has no numeric user id:
/// `email` identifies the user.
///
/// Every member is required except `personal_url` and `conference_settings`, which join.me
/// leaves out for some plans (an explicit null is taken as absent too).
struct user {
    std::string email{};                          ///< `email`: the login ID.
    std::string full_name{};                      ///< `fullName`.
    std::string language{};                       ///< `language`, e.g. `en-US`.
    std::int64_t number_of_meetings_hosted = 0;   ///< `numberOfMeetingsHosted`.
    std::optional<std::string> personal_url{};    ///< `personalUrl`, when the plan has one.
    std::chrono::sys_seconds registration_date{}; ///< `registrationDate` (UTC).
    std::string subscription_type{};              ///< `subscriptionType`, e.g. `Pro`.
    std::optional<audio_conference> conference_settings{}; ///< `conferenceSettings`, not for Free.

    friend bool operator==(const user&, const user&) = default;
};

/// Reads a `user`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<user>, detail::json_reader& r, const boost::json::value& jv,
                       user& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "email", out.email) && r.required(*o, "fullName", out.full_name) &&
           r.required(*o, "language", out.language) &&
           r.required(*o, "numberOfMeetingsHosted", out.number_of_meetings_hosted) &&
           r.optional(*o, "personalUrl", out.personal_url) &&
           r.required(*o, "registrationDate", out.registration_date) &&
           r.required(*o, "subscriptionType", out.subscription_type) &&
           r.optional(*o, "conferenceSettings", out.conference_settings);
}

/// Writes a `user` as join.me does, dates in UTC with `Z`; absent optionals are left out.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const user& u) {
    auto& o = jv.emplace_object();
    o["email"] = u.email;
    o["fullName"] = u.full_name;
    o["language"] = u.language;
    o["numberOfMeetingsHosted"] = u.number_of_meetings_hosted;
    if (u.personal_url)
        o["personalUrl"] = *u.personal_url;
    o["registrationDate"] = joinme::detail::format_iso8601(u.registration_date);
    o["subscriptionType"] = u.subscription_type;
    if (u.conference_settings)
        o["conferenceSettings"] = boost::json::value_from(*u.conference_settings, o.storage());
}

} // namespace joinme::api

#endif
