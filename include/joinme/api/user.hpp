// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_USER_HPP
#define JOINME_API_USER_HPP

/// @file
/// The join.me user (`GET /v1/user`, joinme-api.md §4.1) and the audio conference details it
/// shares with a started meeting (§4.3).

#include <joinme/api/parse.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

namespace joinme::api {

/// A user's audio bridge: `conferenceSettings` of a user and `audioConference` of a started
/// meeting. All three members are required when the object is present.
struct audio_conference {
    std::string conference_id{};               ///< `conferenceId`: 9-digit audio bridge ID.
    std::string conference_call_numbers_url{}; ///< `conferenceCallNumbersUrl`: dial-in numbers.
    std::string organizer_code{};              ///< `organizerCode`: the presenter's 4-digit PIN.

    friend bool operator==(const audio_conference&, const audio_conference&) = default;
};

/// The JSON members of an `audio_conference`.
constexpr auto json_fields(detail::fields_tag<audio_conference>) {
    return std::tuple{
        detail::field("conferenceId", &audio_conference::conference_id),
        detail::field("conferenceCallNumbersUrl", &audio_conference::conference_call_numbers_url),
        detail::field("organizerCode", &audio_conference::organizer_code),
    };
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

/// The JSON members of a `user`; dates are written in UTC with `Z`, absent optionals are left
/// out.
constexpr auto json_fields(detail::fields_tag<user>) {
    return std::tuple{
        detail::field("email", &user::email),
        detail::field("fullName", &user::full_name),
        detail::field("language", &user::language),
        detail::field("numberOfMeetingsHosted", &user::number_of_meetings_hosted),
        detail::field("personalUrl", &user::personal_url),
        detail::field("registrationDate", &user::registration_date),
        detail::field("subscriptionType", &user::subscription_type),
        detail::field("conferenceSettings", &user::conference_settings),
    };
}

} // namespace joinme::api

#endif
