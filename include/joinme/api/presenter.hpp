// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_PRESENTER_HPP
#define JOINME_API_PRESENTER_HPP

/// @file
/// Presenters of a Business account (joinme-api.md §4.11): the presenter join.me returns, the
/// list of them, and the body that invites a new one.

#include <joinme/api/parse.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace joinme::api {

/// A presenter provisioned by a Master Account Holder. All members are required when read.
struct presenter {
    std::int64_t id = 0;                 ///< `id`.
    std::string email{};                 ///< `email`.
    bool is_invitation_accepted = false; ///< `isInvitationAccepted`.
    bool is_seat_assigned = false;       ///< `isSeatAssigned`: occupies one of the seats.

    friend bool operator==(const presenter&, const presenter&) = default;
};

/// The JSON members of a `presenter`.
constexpr auto json_fields(detail::fields_tag<presenter>) {
    return std::tuple{
        detail::field("id", &presenter::id),
        detail::field("email", &presenter::email),
        detail::field("isInvitationAccepted", &presenter::is_invitation_accepted),
        detail::field("isSeatAssigned", &presenter::is_seat_assigned),
    };
}

/// The body of `GET /v1/presenters`. join.me documents "an array"; whether it is bare or
/// wrapped is unconfirmed, so both `[...]` and `{"presenters": [...]}` are read. It is written
/// as a bare array.
struct presenter_list {
    std::vector<presenter> presenters{}; ///< The presenters, possibly none.

    friend bool operator==(const presenter_list&, const presenter_list&) = default;
};

/// Reads a `presenter_list` from a bare array or a `presenters` member.
inline bool tag_invoke(detail::read_tag<presenter_list>, detail::json_reader& r,
                       const boost::json::value& jv, presenter_list& out) {
    if (jv.is_array())
        return detail::read_json(r, jv, out.presenters);
    if (const auto* o = jv.if_object())
        return r.required(*o, "presenters", out.presenters);
    return r.fail_kind("an array or an object with \"presenters\"", jv);
}

/// Writes a `presenter_list` as a bare array.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const presenter_list& l) {
    jv = boost::json::value_from(l.presenters, jv.storage());
}

/// The body of `POST /v1/presenters`, which invites `email` to become a presenter.
/// `email` is required when read.
struct new_presenter {
    std::string email{}; ///< `email` of the user to invite.

    friend bool operator==(const new_presenter&, const new_presenter&) = default;
};

/// The JSON members of a `new_presenter`: `{"email": ...}`.
constexpr auto json_fields(detail::fields_tag<new_presenter>) {
    return std::tuple{detail::field("email", &new_presenter::email)};
}

} // namespace joinme::api

#endif
