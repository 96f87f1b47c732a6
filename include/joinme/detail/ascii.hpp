// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASCII_HPP
#define JOINME_DETAIL_ASCII_HPP

// The one case-insensitive comparison of protocol text (header values, auth schemes and
// parameters, media types), for every layer; it includes nothing heavier than <string_view>.

#include <cstddef>
#include <string_view>

namespace joinme::detail {

/// Whether `a` and `b` are equal with ASCII letters compared case-insensitively; every other
/// byte must match exactly.
inline bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

} // namespace joinme::detail

#endif
