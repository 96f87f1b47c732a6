// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// The fields every benchmark client reads from GET /v1/user, with the Boost.JSON conversion a
// hand-written client would have (used by the Beast baseline and the libcurl client).
#ifndef JOINME_BENCHMARKS_USER_FIELDS_HPP
#define JOINME_BENCHMARKS_USER_FIELDS_HPP

#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>

#include <cstdint>
#include <string>

namespace bench {

struct user_fields {
    std::string email;
    std::string full_name;
    std::string language;
    std::int64_t meetings_hosted = 0;
    std::string subscription;
    std::string personal_url;      // optional in the response
    std::string registration_date; // kept as text: a hand-written client rarely parses it
    std::string conference_id;     // the three of conferenceSettings, optional
    std::string conference_numbers_url;
    std::string organizer_code;
};

inline user_fields tag_invoke(boost::json::value_to_tag<user_fields>,
                              const boost::json::value& jv) {
    const auto& o = jv.as_object();
    user_fields u;
    u.email = o.at("email").as_string();
    u.full_name = o.at("fullName").as_string();
    u.language = o.at("language").as_string();
    u.meetings_hosted = o.at("numberOfMeetingsHosted").as_int64();
    u.subscription = o.at("subscriptionType").as_string();
    u.registration_date = o.at("registrationDate").as_string();
    if (auto* p = o.if_contains("personalUrl"))
        u.personal_url = p->as_string();
    if (auto* c = o.if_contains("conferenceSettings")) {
        const auto& co = c->as_object();
        u.conference_id = co.at("conferenceId").as_string();
        u.conference_numbers_url = co.at("conferenceCallNumbersUrl").as_string();
        u.organizer_code = co.at("organizerCode").as_string();
    }
    return u;
}

} // namespace bench

#endif
