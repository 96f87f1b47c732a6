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

/// Reads a `presenter`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<presenter>, detail::json_reader& r,
                       const boost::json::value& jv, presenter& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "id", out.id) && r.required(*o, "email", out.email) &&
           r.required(*o, "isInvitationAccepted", out.is_invitation_accepted) &&
           r.required(*o, "isSeatAssigned", out.is_seat_assigned);
}

/// Writes a `presenter` as join.me does.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const presenter& p) {
    auto& o = jv.emplace_object();
    o["id"] = p.id;
    o["email"] = p.email;
    o["isInvitationAccepted"] = p.is_invitation_accepted;
    o["isSeatAssigned"] = p.is_seat_assigned;
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

/// Reads a `new_presenter`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<new_presenter>, detail::json_reader& r,
                       const boost::json::value& jv, new_presenter& out) {
    const auto* o = r.object(jv);
    return o && r.required(*o, "email", out.email);
}

/// Writes a `new_presenter` as `{"email": ...}`.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                       const new_presenter& p) {
    jv.emplace_object()["email"] = p.email;
}

} // namespace joinme::api

#endif
