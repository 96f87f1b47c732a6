// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_URL_HPP
#define JOINME_DETAIL_URL_HPP

// The one way joinme parses a URI it did not build (a configured endpoint, a redirect, a
// client's redirect_uri or webhook callbackUrl in the sandbox): Boost.URL, behind the guard
// its 1.81 release needs.

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <optional>
#include <string_view>

namespace joinme::detail {

// Boost.URL 1.81 trips an internal assertion (an abort where assertions are on) on some URIs
// whose scheme's colon is followed by an empty path: it asserts in path_segments when the
// input ends one character after the colon and that character starts neither a path nor a
// segment (`http:?`, `http:#`, `x:[`). Every URI joinme handles has a `/` after the colon
// (`https://...`, `com.example.app:/cb`) or no scheme at all (`/cb?...`), so anything else
// is refused before Boost.URL sees it.
inline bool slash_after_scheme(std::string_view s) noexcept {
    auto i = s.find_first_of(":/?#");
    return i == std::string_view::npos || s[i] != ':' || (i + 1 < s.size() && s[i + 1] == '/');
}

// `s` as an absolute URI (RFC 3986 §4.3), viewing `s`; nothing when it is not one.
inline std::optional<boost::urls::url_view> parse_absolute(std::string_view s) {
    if (!slash_after_scheme(s))
        return std::nullopt;
    auto r = boost::urls::parse_absolute_uri(s);
    if (!r)
        return std::nullopt;
    return *r;
}

// `s` as a URI reference (RFC 3986 §4.1), viewing `s`; nothing when it is not one.
inline std::optional<boost::urls::url_view> parse_reference(std::string_view s) {
    if (!slash_after_scheme(s))
        return std::nullopt;
    auto r = boost::urls::parse_uri_reference(s);
    if (!r)
        return std::nullopt;
    return *r;
}

} // namespace joinme::detail

#endif
