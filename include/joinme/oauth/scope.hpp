// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_SCOPE_HPP
#define JOINME_OAUTH_SCOPE_HPP

/// @file
/// OAuth scopes: join.me's four as an enum, and a set that also keeps any other server's
/// scope names, converted to and from the space-delimited `scope` parameter (RFC 6749 §3.3).

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace joinme::oauth {

/// The scopes join.me defines.
enum class scope {
    user_info,     ///< Read the user's profile (`GET /v1/user`).
    scheduler,     ///< Schedule, list, update and delete meetings.
    start_meeting, ///< Start ad hoc and scheduled meetings.
    provisioning,  ///< Business API: manage presenters.
};

/// The wire name of `s`, e.g. `"start_meeting"`.
constexpr std::string_view to_string(scope s) noexcept {
    switch (s) {
    case scope::user_info:
        return "user_info";
    case scope::scheduler:
        return "scheduler";
    case scope::start_meeting:
        return "start_meeting";
    case scope::provisioning:
        return "provisioning";
    }
    return {};
}

/// The join.me scope named `name`, or nothing for another name.
constexpr std::optional<scope> parse_scope(std::string_view name) noexcept {
    for (scope s : {scope::user_info, scope::scheduler, scope::start_meeting, scope::provisioning})
        if (to_string(s) == name)
            return s;
    return std::nullopt;
}

/// True when `name` is a `scope-token` of RFC 6749 §3.3: one or more of `%x21 / %x23-5B /
/// %x5D-7E` (printable ASCII except space, `"` and `\`).
constexpr bool is_valid_scope_name(std::string_view name) noexcept {
    if (name.empty())
        return false;
    for (char c : name)
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    return true;
}

/// A set of scope names in the order they were added, without duplicates.
///
/// join.me's scopes can be added as `scope` values; names of other servers' scopes are kept
/// verbatim, so a token from any RFC 6749 server round-trips. Equality ignores order.
///
/// Thread safety: a value type; distinct objects may be used concurrently.
class scope_set {
public:
    /// The empty set.
    scope_set() = default;

    /// The given join.me scopes.
    scope_set(std::initializer_list<scope> scopes) {
        for (scope s : scopes)
            insert(s);
    }

    /// Splits a space-delimited `scope` parameter. Runs of spaces are tolerated; tokens that
    /// are not valid scope names (control characters, `"`, `\`, non-ASCII) are dropped.
    static scope_set parse(std::string_view text) {
        scope_set out;
        while (!text.empty()) {
            auto end = text.find(' ');
            auto name = text.substr(0, end);
            out.insert(name);
            if (end == std::string_view::npos)
                break;
            text.remove_prefix(end + 1);
        }
        return out;
    }

    /// Adds a join.me scope; no effect when already present.
    void insert(scope s) { insert(oauth::to_string(s)); }

    /// Adds a scope by name. Returns false, and adds nothing, when `name` is not a valid
    /// scope name (see `is_valid_scope_name`); true otherwise, also when already present.
    bool insert(std::string_view name) {
        if (!is_valid_scope_name(name))
            return false;
        if (!contains(name))
            names_.emplace_back(name);
        return true;
    }

    /// Removes a scope; no effect when absent.
    void erase(std::string_view name) {
        names_.erase(std::remove(names_.begin(), names_.end(), name), names_.end());
    }

    /// Removes a join.me scope; no effect when absent.
    void erase(scope s) { erase(oauth::to_string(s)); }

    /// True when the set holds `name`.
    bool contains(std::string_view name) const noexcept {
        return std::find(names_.begin(), names_.end(), name) != names_.end();
    }

    /// True when the set holds the join.me scope `s`.
    bool contains(scope s) const noexcept { return contains(oauth::to_string(s)); }

    /// True when every scope of `other` is in this set.
    bool contains_all(const scope_set& other) const noexcept {
        return std::all_of(other.names_.begin(), other.names_.end(),
                           [this](const std::string& n) { return contains(n); });
    }

    /// True when the set holds no scope.
    bool empty() const noexcept { return names_.empty(); }

    /// The number of scopes.
    std::size_t size() const noexcept { return names_.size(); }

    /// The names, in insertion order.
    const std::vector<std::string>& names() const noexcept { return names_; }

    /// The space-delimited form, e.g. `"user_info scheduler"`; empty for an empty set.
    std::string to_string() const {
        std::string out;
        for (const auto& n : names_) {
            if (!out.empty())
                out += ' ';
            out += n;
        }
        return out;
    }

    /// The same scopes, in any order.
    friend bool operator==(const scope_set& a, const scope_set& b) noexcept {
        return a.size() == b.size() && a.contains_all(b);
    }

    /// Prints the space-delimited form.
    friend std::ostream& operator<<(std::ostream& os, const scope_set& s) {
        return os << s.to_string();
    }

private:
    std::vector<std::string> names_;
};

} // namespace joinme::oauth

#endif
