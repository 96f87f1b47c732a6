// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_DETAIL_COMMON_HPP
#define JOINME_OAUTH_DETAIL_COMMON_HPP

// Shared by the OAuth builders and parsers: percent-encoding and endpoint checks (all through
// Boost.URL), and error reporting.

#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <string>
#include <string_view>

namespace joinme::oauth::detail {

// Escapes everything but RFC 3986 unreserved characters, space as `%20`. Stricter than
// Boost.URL's own query-parameter encoding, which leaves `+` alone: RFC 6749 Appendix B has
// servers decode the query as a form, where a bare `+` would turn into a space.
inline std::string query_encode(std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// application/x-www-form-urlencoded (RFC 6749 Appendix B): as above, space as `+`.
inline std::string form_encode(std::string_view s) {
    boost::urls::encoding_opts opt;
    opt.space_as_plus = true;
    return boost::urls::encode(s, boost::urls::unreserved_chars, opt);
}

// Appends `key=value` to a form body.
inline void append_form(std::string& body, std::string_view key, std::string_view value) {
    if (!body.empty())
        body += '&';
    body += form_encode(key);
    body += '=';
    body += form_encode(value);
}

// Appends `key=value` to a URL's query, keeping whatever query it already has.
inline void append_query(boost::urls::url& u, std::string_view key, std::string_view value) {
    auto k = query_encode(key);
    auto v = query_encode(value);
    u.encoded_params().append({boost::urls::pct_string_view(k), boost::urls::pct_string_view(v)});
}

// An endpoint URL: absolute, `http` or `https`, with a host and no fragment (RFC 6749 §3.1,
// §3.2). Anything else is `errc::invalid_url`.
inline boost::urls::url parse_endpoint(std::string_view s, error_code& ec) {
    auto r = joinme::detail::parse_absolute(s);
    if (!r ||
        (r->scheme_id() != boost::urls::scheme::https &&
         r->scheme_id() != boost::urls::scheme::http) ||
        r->encoded_host().empty()) {
        ec = errc::invalid_url;
        return {};
    }
    ec = {};
    return boost::urls::url(*r);
}

// Reports a failure with joinme's own explanation (never a secret) for `client_message`.
inline void fail(error_code& ec, diagnostics& diag, error_code e, std::string_view why) {
    ec = e;
    diag.client_message = std::string(why);
}

} // namespace joinme::oauth::detail

#endif
