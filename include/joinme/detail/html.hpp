// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_HTML_HPP
#define JOINME_DETAIL_HTML_HPP

// Escaping for the small HTML pages joinme serves (the loopback listener's answers, the
// sandbox's consent and error pages).

#include <string>
#include <string_view>

namespace joinme::detail {

/// Escapes the five characters that are special in HTML text and attribute values.
inline std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace joinme::detail

#endif
