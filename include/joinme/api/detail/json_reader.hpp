// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_DETAIL_JSON_READER_HPP
#define JOINME_API_DETAIL_JSON_READER_HPP

// Reading a boost::json::value into the typed models without exceptions. A json_reader keeps
// the path of the member being read ("meetings[2].meetingId") so that the first mismatch can be
// reported as `field "meetings[2].meetingId": expected an integer, found a string`. Messages
// name the field and the JSON kinds only, never the value, so that a credential in a response
// (a presenter link, say) cannot leak into diagnostics.

#include <joinme/detail/time.hpp>

#include <boost/container/small_vector.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace joinme::api::detail {

/// Tag of the reading customization point: a model `T` provides
/// `bool tag_invoke(read_tag<T>, json_reader&, const boost::json::value&, T&)`.
template <class T>
struct read_tag {};

class json_reader;

/// A model type that a json_reader can read.
template <class T>
concept readable = requires(json_reader& r, const boost::json::value& jv, T& out) {
    { tag_invoke(read_tag<T>{}, r, jv, out) } -> std::same_as<bool>;
};

/// Tag of the description of a model's JSON members: a model `T` may provide
/// `constexpr auto json_fields(fields_tag<T>)`, which returns an std::tuple of `field`s in the
/// order the members are read and written. Such a model is read by the generic reader below
/// and written by the generic writer of parse.hpp.
template <class T>
struct fields_tag {};

/// A model type that describes its JSON members.
template <class T>
concept described = requires {
    json_fields(fields_tag<T>{});
};

template <class M>
inline constexpr bool is_optional = false;

template <class M>
inline constexpr bool is_optional<std::optional<M>> = true;

/// Whether a JSON member must be present when read, and whether it is written.
enum class presence {
    /// Must be present and not null when read; always written.
    required,
    /// May be absent or null when read, which leaves the default; written only when set: an
    /// engaged std::optional, a container that is not empty, JSON other than null.
    optional,
    /// May be absent or null when read, which leaves the default; always written.
    defaulted,
};

/// One JSON member of the model `T`: its key and the data member of type `M` that holds it.
/// Unless told otherwise, an std::optional data member is `optional` and any other `required`.
template <class T, class M>
struct field {
    constexpr field(std::string_view k, M T::*m,
                    presence p = is_optional<M> ? presence::optional : presence::required)
        : key(k)
        , member(m)
        , how(p) {}

    std::string_view key;
    M T::*member;
    presence how;
};

/// Names a JSON kind for a message ("an integer", "a string", ...).
inline std::string_view kind_name(const boost::json::value& jv) noexcept {
    switch (jv.kind()) {
    case boost::json::kind::null:
        return "null";
    case boost::json::kind::bool_:
        return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
        return "an integer";
    case boost::json::kind::double_:
        return "a non-integer number";
    case boost::json::kind::string:
        return "a string";
    case boost::json::kind::array:
        return "an array";
    case boost::json::kind::object:
        return "an object";
    }
    return "an unknown value";
}

/// False when `jv` holds, at any depth, a number that overflowed a double (`1e400` parses as
/// infinity, which Boost.JSON would write back as the non-JSON `Infinity`).
inline bool all_numbers_finite(const boost::json::value& jv) noexcept {
    if (const auto* d = jv.if_double())
        return std::isfinite(*d);
    if (const auto* a = jv.if_array()) {
        for (const auto& e : *a)
            if (!all_numbers_finite(e))
                return false;
    } else if (const auto* o = jv.if_object()) {
        for (const auto& m : *o)
            if (!all_numbers_finite(m.value()))
                return false;
    }
    return true;
}

/// Walks a JSON value, tracking the member path and recording the first failure.
class json_reader {
public:
    /// Adds a path component for the lifetime of the object. The path is only spelt out when
    /// a failure is recorded, so reading a valid document costs no string work for it.
    class scope {
    public:
        scope(json_reader& r, std::string_view key) : r_(r) { r.path_.push_back({key, 0, false}); }
        scope(json_reader& r, std::size_t index) : r_(r) { r.path_.push_back({{}, index, true}); }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
        ~scope() { r_.path_.pop_back(); }

    private:
        json_reader& r_;
    };

    /// Records `what` as the failure at the current path (the first failure wins) and returns
    /// false, so that readers can `return r.fail(...)`.
    bool fail(std::string_view what) {
        if (!error_.empty())
            return false;
        if (path_.empty())
            error_ = "JSON document: ";
        else
            error_.append("field \"").append(path()).append("\": ");
        error_.append(what);
        return false;
    }

    /// Records that the value at the current path is not of the expected kind.
    bool fail_kind(std::string_view expected, const boost::json::value& found) {
        std::string what("expected ");
        what.append(expected).append(", found ").append(kind_name(found));
        return fail(what);
    }

    /// Records that the member at the current path is required but absent.
    bool fail_missing() {
        if (error_.empty())
            error_.append("missing required field \"").append(path()).append("\"");
        return false;
    }

    /// The first failure's message, empty while nothing failed.
    const std::string& error() const noexcept { return error_; }

    /// The object `jv` holds, or null after recording a failure.
    const boost::json::object* object(const boost::json::value& jv) {
        if (const auto* o = jv.if_object())
            return o;
        fail_kind("an object", jv);
        return nullptr;
    }

    /// Reads the member `key` of `o`, which must be present and not null (unless `T` is an
    /// std::optional, which takes null as empty).
    template <class T>
    bool required(const boost::json::object& o, std::string_view key, T& out) {
        scope s(*this, key);
        const auto* p = o.if_contains(key);
        if (!p)
            return fail_missing();
        return read_json(*this, *p, out);
    }

    /// Reads the member `key` of `o` when it is present and not null; otherwise leaves `out`
    /// as it is (its default).
    template <class T>
    bool optional(const boost::json::object& o, std::string_view key, T& out) {
        const auto* p = o.if_contains(key);
        if (!p || p->is_null())
            return true;
        scope s(*this, key);
        return read_json(*this, *p, out);
    }

private:
    // Identifier-like keys are joined with dots; others ("meeting.start") are quoted in
    // brackets so the path stays unambiguous.
    // A member (its key, which outlives the scope that names it) or an array element.
    struct component {
        std::string_view key;
        std::size_t index;
        bool is_index;
    };

    // "meetings[2].meetingId": identifier-like keys joined with dots, others ("meeting.start")
    // quoted in brackets.
    std::string path() const {
        std::string out;
        for (const auto& c : path_) {
            if (c.is_index) {
                out += '[';
                out += std::to_string(c.index);
                out += ']';
                continue;
            }
            bool plain = !c.key.empty();
            for (char ch : c.key)
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_'))
                    plain = false;
            if (plain) {
                if (!out.empty())
                    out += '.';
                out.append(c.key);
            } else {
                // Keys come from the peer: a long one is cut so that messages stay short.
                constexpr std::size_t max_key = 64;
                out += '[';
                out += boost::json::serialize(boost::json::string(c.key.substr(0, max_key)));
                if (c.key.size() > max_key)
                    out += "...";
                out += ']';
            }
        }
        return out;
    }

    boost::container::small_vector<component, 8> path_; // no allocation for usual depths
    std::string error_;
};

/// A string.
inline bool read_json(json_reader& r, const boost::json::value& jv, std::string& out) {
    const auto* s = jv.if_string();
    if (!s)
        return r.fail_kind("a string", jv);
    out.assign(s->data(), s->size());
    return true;
}

/// A boolean, also written as the string "true" or "false": clients of join.me were seen
/// sending booleans as strings (joinme-api.md §1, §9), so every boolean accepts both.
inline bool read_json(json_reader& r, const boost::json::value& jv, bool& out) {
    if (const auto* b = jv.if_bool()) {
        out = *b;
        return true;
    }
    if (const auto* s = jv.if_string()) {
        if (*s == "true" || *s == "false") {
            out = *s == "true";
            return true;
        }
        return r.fail("expected a boolean, found a string other than \"true\" or \"false\"");
    }
    return r.fail_kind("a boolean", jv);
}

/// A JSON integer that fits in 64 signed bits; a number with a fraction or an exponent that
/// did not give an integer is rejected.
inline bool read_json(json_reader& r, const boost::json::value& jv, std::int64_t& out) {
    if (const auto* i = jv.if_int64()) {
        out = *i;
        return true;
    }
    if (jv.is_uint64())
        return r.fail("expected an integer, found one too large for 64 signed bits");
    return r.fail_kind("an integer", jv);
}

/// `joinme::detail::parse_iso8601`, limited to the years 0000 to 9999 after the offset is
/// applied: `0000-01-01T00:00:00+01:00` falls in year -1, which ISO 8601 text of four digits
/// (and so `format_iso8601`) cannot hold, and the value could not be written back.
inline std::optional<std::chrono::sys_seconds> parse_date_time(std::string_view s) noexcept {
    using namespace std::chrono;
    constexpr sys_seconds first{sys_days{year{0} / January / 1}};
    constexpr sys_seconds last{sys_days{year{10000} / January / 1} - seconds{1}};
    auto t = joinme::detail::parse_iso8601(s);
    if (!t || *t < first || *t > last)
        return std::nullopt;
    return t;
}

/// An ISO 8601 date-time string (`Z`, an offset or no suffix, which means UTC).
inline bool read_json(json_reader& r, const boost::json::value& jv, std::chrono::sys_seconds& out) {
    const auto* s = jv.if_string();
    if (!s)
        return r.fail_kind("an ISO 8601 date-time string", jv);
    auto t = parse_date_time(std::string_view(s->data(), s->size()));
    if (!t)
        return r.fail("expected an ISO 8601 date-time such as \"2015-06-02T09:00:00Z\"");
    out = *t;
    return true;
}

/// Any JSON, kept as it is.
inline bool read_json(json_reader&, const boost::json::value& jv, boost::json::value& out) {
    out = jv;
    return true;
}

/// A model type.
template <readable T>
bool read_json(json_reader& r, const boost::json::value& jv, T& out) {
    return tag_invoke(read_tag<T>{}, r, jv, out);
}

/// A described model: its members in the order of its `json_fields`, up to the first failure.
template <described T>
bool tag_invoke(read_tag<T>, json_reader& r, const boost::json::value& jv, T& out) {
    static constexpr auto fields = json_fields(fields_tag<T>{});
    const auto* o = r.object(jv);
    auto read = [&](const auto& f) {
        if (f.how == presence::required)
            return r.required(*o, f.key, out.*f.member);
        return r.optional(*o, f.key, out.*f.member);
    };
    return o && std::apply([&](const auto&... f) { return (read(f) && ...); }, fields);
}

/// Null gives an empty optional; anything else is read as a `T`.
template <class T>
bool read_json(json_reader& r, const boost::json::value& jv, std::optional<T>& out) {
    if (jv.is_null()) {
        out.reset();
        return true;
    }
    return read_json(r, jv, out.emplace());
}

/// An array whose elements are each read as a `T`.
template <class T>
bool read_json(json_reader& r, const boost::json::value& jv, std::vector<T>& out) {
    const auto* a = jv.if_array();
    if (!a)
        return r.fail_kind("an array", jv);
    out.clear();
    out.reserve(a->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
        json_reader::scope s(r, i);
        if (!read_json(r, (*a)[i], out.emplace_back()))
            return false;
    }
    return true;
}

/// An object whose member values are each read as a `T`, keyed by member name.
template <class T>
bool read_json(json_reader& r, const boost::json::value& jv,
               std::map<std::string, T, std::less<>>& out) {
    const auto* o = r.object(jv);
    if (!o)
        return false;
    out.clear();
    for (const auto& member : *o) {
        std::string_view key(member.key().data(), member.key().size());
        json_reader::scope s(r, key);
        if (!read_json(r, member.value(), out[std::string(key)]))
            return false;
    }
    return true;
}

} // namespace joinme::api::detail

#endif
