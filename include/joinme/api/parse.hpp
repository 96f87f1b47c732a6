// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_PARSE_HPP
#define JOINME_API_PARSE_HPP

/// @file
/// Turning JSON text or a `boost::json::value` into a model of `joinme::api`, with an
/// `error_code` + `diagnostics` form that does not throw for bad input, a throwing form, and
/// the `boost::json::value_to` / `boost::json::try_value_to` customizations shared by every
/// model.
///
/// What is accepted, for every model: members the model does not know are ignored; an
/// optional member may be absent or null; a required member must be present and not null;
/// booleans may also be the strings "true" and "false"; integers must be JSON integers that fit
/// in `std::int64_t`; date-times are ISO 8601 strings with `Z`, an offset or no suffix (UTC)
/// between the years 0000 and 9999; a number too large for a double is rejected anywhere, as
/// it could not be written back as JSON. Models are written with `boost::json::value_from`,
/// date-times in UTC with `Z`.
///
/// Exceptions: `parse_json`, `from_json` and `parse(body, ec, diag)` report bad input through
/// the error code, without throwing or catching anything internally; only `std::bad_alloc` can
/// escape them. `parse(body)` and `value_to` throw `error_with_diagnostics`.
///
/// A model type `T` takes part by describing its members, in its own namespace, with
/// `constexpr auto json_fields(detail::fields_tag<T>)` (see `detail::field`): it is then read
/// and written member by member, nested models included. A model with a shape of its own
/// provides instead
/// `bool tag_invoke(detail::read_tag<T>, detail::json_reader&, const boost::json::value&, T&)`
/// (which reports a failure with the reader and returns false) and
/// `void tag_invoke(boost::json::value_from_tag, boost::json::value&, const T&)`.
/// Every member of a model has a default member initializer, so a designated initializer may
/// name only some members without tripping `-Wmissing-field-initializers`.

#include <joinme/api/detail/json_reader.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/error.hpp>

#include <boost/json/conversion.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/system_error.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::api {

/// The deepest nesting of arrays and objects accepted in a body. join.me's own documents nest
/// at most four levels (a start request's webhooks); the rest is headroom for
/// `customCallbackData`, which is the caller's JSON.
inline constexpr std::size_t max_json_depth = 32;

/// The options every joinme body is parsed with: strict JSON (no comments, no trailing commas,
/// valid UTF-8) nested at most `max_json_depth` levels.
inline boost::json::parse_options json_parse_options() noexcept {
    boost::json::parse_options opt;
    opt.max_depth = max_json_depth;
    return opt;
}

/// Parses `body` as one JSON document with `json_parse_options()`.
///
/// @param body The text; its size is the caller's to limit.
/// @param ec Cleared on success; `errc::malformed_response` when `body` is not JSON, nests
///        too deeply, or holds a number no double can hold (such as `1e400`).
/// @param diag On failure, `client_message` says what was wrong and at which byte. It never
///        quotes the body. Untouched on success.
/// @param sp Where the document's storage comes from (the default resource when empty).
/// @return The document, or an empty optional on failure.
/// @throws std::bad_alloc only.
inline std::optional<boost::json::value> parse_json(std::string_view body, error_code& ec,
                                                    diagnostics& diag,
                                                    boost::json::storage_ptr sp = {}) {
    // The parser's working stack starts in this buffer, as boost::json::parse does: no heap
    // allocation for it with ordinary bodies.
    unsigned char stack[BOOST_JSON_STACK_BUFFER_SIZE];
    boost::json::parser p({}, json_parse_options(), stack);
    p.reset(std::move(sp));
    boost::json::error_code jec;
    std::size_t consumed = p.write(body.data(), body.size(), jec);
    if (jec) {
        ec = errc::malformed_response;
        diag.client_message =
            "the body is not valid JSON: " + jec.message() + " at byte " + std::to_string(consumed);
        return std::nullopt;
    }
    auto jv = p.release();
    if (!detail::all_numbers_finite(jv)) {
        ec = errc::malformed_response;
        diag.client_message = "the body holds a number beyond the range of a double";
        return std::nullopt;
    }
    ec.clear();
    return jv;
}

namespace detail {

// `from_json` and `parse` into an existing `out`, without moving the model: false on failure,
// with `out` partly written.
template <readable T>
bool from_json_into(const boost::json::value& jv, T& out, error_code& ec, diagnostics& diag) {
    json_reader r;
    if (!read_json(r, jv, out)) {
        ec = errc::malformed_response;
        diag.client_message = r.error();
        return false;
    }
    ec.clear();
    return true;
}

template <readable T>
bool parse_into(std::string_view body, T& out, error_code& ec, diagnostics& diag) {
    // The document lives only until `out` is read from it: its strings, arrays and objects
    // go to a monotonic resource over a buffer on the stack, not one heap allocation each.
    // A larger document continues in a few growing blocks from the heap.
    unsigned char storage[4096];
    boost::json::monotonic_resource mr(storage, sizeof storage);
    auto jv = parse_json(body, ec, diag, &mr);
    return jv && from_json_into(*jv, out, ec, diag);
}

} // namespace detail

/// Reads an already parsed JSON value as the model `T`.
///
/// @param jv The value.
/// @param ec Cleared on success; `errc::malformed_response` when a member has the wrong type
///        or a required member is missing.
/// @param diag On failure, `client_message` names the member's path and what was expected,
///        e.g. `field "meetings[2].meetingId": expected an integer, found a string`. It never
///        quotes a value. Untouched on success.
/// @return The model, or an empty optional on failure.
/// @throws std::bad_alloc only: bad input is reported through `ec`.
template <detail::readable T>
std::optional<T> from_json(const boost::json::value& jv, error_code& ec, diagnostics& diag) {
    std::optional<T> out(std::in_place);
    if (!detail::from_json_into(jv, *out, ec, diag))
        out.reset();
    return out;
}

/// Parses the response body `body` as the model `T`: `parse_json`, then `from_json`.
///
/// This is the form the client uses: bad input never throws. `ec` and `diag` are as described
/// for those two functions.
/// @throws std::bad_alloc only.
template <detail::readable T>
std::optional<T> parse(std::string_view body, error_code& ec, diagnostics& diag) {
    std::optional<T> out(std::in_place);
    if (!detail::parse_into(body, *out, ec, diag))
        out.reset();
    return out;
}

/// Parses `body` as the model `T`, throwing on bad input.
///
/// @throws error_with_diagnostics with `errc::malformed_response` and the `client_message`
///         described for `parse_json` and `from_json`.
template <detail::readable T>
T parse(std::string_view body) {
    error_code ec;
    diagnostics diag;
    auto out = parse<T>(body, ec, diag);
    if (!out)
        throw error_with_diagnostics(ec, std::move(diag));
    return std::move(*out);
}

namespace detail {

// A member's value as JSON: a date-time as ISO 8601 in UTC with `Z`, an std::optional as
// what it holds, anything else through boost::json::value_from.
inline boost::json::value to_json(std::chrono::sys_seconds t, boost::json::storage_ptr sp) {
    return boost::json::value(joinme::detail::format_iso8601(t), std::move(sp));
}

template <class M>
boost::json::value to_json(const M& m, boost::json::storage_ptr sp) {
    return boost::json::value_from(m, std::move(sp));
}

template <class M>
boost::json::value to_json(const std::optional<M>& m, boost::json::storage_ptr sp) {
    return to_json(*m, std::move(sp));
}

// Whether a `presence::optional` member is written: not when it is an empty std::optional, an
// empty container or null JSON.
template <class M>
bool is_set(const M& m) {
    if constexpr (std::is_same_v<M, boost::json::value>)
        return !m.is_null();
    else if constexpr (is_optional<M>)
        return m.has_value();
    else if constexpr (requires { m.empty(); })
        return !m.empty();
    else
        return true;
}

} // namespace detail

/// `boost::json::value_from` for every model `T` that describes its members: an object with
/// them in the order of the description, an optional member only when it is set.
template <detail::described T>
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const T& model) {
    static constexpr auto fields = json_fields(detail::fields_tag<T>{});
    auto& o = jv.emplace_object();
    auto write = [&](const auto& f) {
        const auto& m = model.*f.member;
        if (f.how != detail::presence::optional || detail::is_set(m))
            o[f.key] = detail::to_json(m, o.storage());
    };
    std::apply([&](const auto&... f) { (write(f), ...); }, fields);
}

/// `boost::json::value_to<T>` for every model `T`.
///
/// @throws error_with_diagnostics (a `boost::system::system_error`) with
///         `errc::malformed_response` and the member path in its diagnostics.
template <detail::readable T>
T tag_invoke(boost::json::value_to_tag<T>, const boost::json::value& jv) {
    error_code ec;
    diagnostics diag;
    auto out = from_json<T>(jv, ec, diag);
    if (!out)
        throw error_with_diagnostics(ec, std::move(diag));
    return std::move(*out);
}

/// `boost::json::try_value_to<T>` for every model `T`: a wrong type or a missing member gives
/// `errc::malformed_response` without an exception. The result cannot carry the member path;
/// use `from_json` to get it.
template <detail::readable T>
boost::json::result<T> tag_invoke(boost::json::try_value_to_tag<T>, const boost::json::value& jv) {
    detail::json_reader r;
    T out{};
    if (!detail::read_json(r, jv, out))
        return {boost::system::in_place_error, make_error_code(errc::malformed_response)};
    return {boost::system::in_place_value, std::move(out)};
}

} // namespace joinme::api

#endif
