// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_ERROR_BODY_HPP
#define JOINME_API_ERROR_BODY_HPP

/// @file
/// The body of a join.me API error response (joinme-api.md §6.2, §9):
/// `{"Message": "...", "ErrorCode": "..."}`, and how it is recorded in `diagnostics`.

#include <joinme/api/parse.hpp>
#include <joinme/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace joinme::api {

/// A join.me API error body. Both members are optional (`{"Message": "Meeting not found"}` has
/// no `ErrorCode`); a body with neither reads as two empty strings. The camelCase spellings
/// `message` and `errorCode` are read when the PascalCase ones are absent.
struct error_body {
    std::string message{};    ///< `Message`: join.me's explanation.
    std::string error_code{}; ///< `ErrorCode`, e.g. `invalid_token`, `stale_token`.

    friend bool operator==(const error_body&, const error_body&) = default;
};

/// Reads an `error_body`; see parse.hpp for what is accepted.
inline bool tag_invoke(detail::read_tag<error_body>, detail::json_reader& r,
                       const boost::json::value& jv, error_body& out) {
    const auto* o = r.object(jv);
    if (!o)
        return false;
    const bool pascal_message = o->contains("Message");
    const bool pascal_code = o->contains("ErrorCode");
    return r.optional(*o, pascal_message ? "Message" : "message", out.message) &&
           r.optional(*o, pascal_code ? "ErrorCode" : "errorCode", out.error_code);
}

/// Writes an `error_body` as join.me does: `Message` always, `ErrorCode` when not empty.
inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const error_body& e) {
    auto& o = jv.emplace_object();
    o["Message"] = e.message;
    if (!e.error_code.empty())
        o["ErrorCode"] = e.error_code;
}

/// Records in `diag` what the body of a failed API response says. Never fails: whatever the
/// body is, the caller's error code stays the one the HTTP status gave.
///
/// - A JSON object: `Message` goes to `diag.message` and `ErrorCode` to `diag.error_code`;
///   the OAuth members `error`, `error_description` and `error_uri` (RFC 6750 §3) go to the
///   fields of the same name when they are strings. When the object carries other members too
///   (secure.join.me's `ExitPointId` and `ReferenceNumber`, say) or none of these, the start of
///   the body is kept with `diag.set_body_excerpt`, so that nothing the server said is lost.
/// - Anything else that is not empty (an HTML page, plain text, JSON of another shape or with
///   a member of the wrong type): only the excerpt.
///
/// Fields of `diag` the body does not speak about are left as they are.
///
/// @param body The response body; its size is the caller's to limit.
/// @param diag Where to record what the server said.
/// @return True when at least one of the members above was recorded (a non-empty string).
/// @throws std::bad_alloc only.
inline bool read_error_body(std::string_view body, diagnostics& diag) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return false;
    error_code ec;
    diagnostics ignored;
    auto jv = parse_json(body, ec, ignored);
    const boost::json::object* o = jv ? jv->if_object() : nullptr;
    auto parsed = o ? from_json<error_body>(*jv, ec, ignored) : std::nullopt;
    if (!parsed) {
        diag.set_body_excerpt(body);
        return false;
    }
    bool recorded = false;
    auto record = [&recorded](std::string_view value, std::string& field) {
        if (value.empty())
            return;
        field.assign(value);
        recorded = true;
    };
    record(parsed->message, diag.message);
    record(parsed->error_code, diag.error_code);
    const std::pair<std::string_view, std::string*> oauth_members[] = {
        {"error", &diag.error},
        {"error_description", &diag.error_description},
        {"error_uri", &diag.error_uri},
    };
    for (const auto& [key, field] : oauth_members)
        if (const auto* p = o->if_contains(key); p && p->is_string())
            record(std::string_view(p->get_string().data(), p->get_string().size()), *field);
    std::size_t known = 0;
    for (std::string_view key : {"Message", "message", "ErrorCode", "errorCode", "error",
                                 "error_description", "error_uri"})
        known += o->contains(key) ? 1 : 0;
    if (!recorded || known < o->size())
        diag.set_body_excerpt(body);
    return recorded;
}

} // namespace joinme::api

#endif
