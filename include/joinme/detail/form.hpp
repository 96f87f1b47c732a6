// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_FORM_HPP
#define JOINME_DETAIL_FORM_HPP

// The one reader of application/x-www-form-urlencoded text (a form body, a query, a fragment
// that carries parameters), over Boost.URL with the workarounds its 1.81 release needs.

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

#include <string>
#include <string_view>

namespace joinme::detail {

/// Calls `f(key, value)`, both `std::string`, with each decoded pair of `text` in order,
/// repeated keys included; `+` is a space (RFC 6749 Appendix B) and a pair without `=` has an
/// empty value. Returns false, having called nothing, when `text` is not a valid query.
template <class F>
bool for_each_form_param(std::string_view text, F&& f) {
    // Parsed on a NUL-terminated copy: Boost 1.81's parse_query measures its input with
    // strlen, and its iterator over a URL's own empty query (`/cb?#`) trips an assertion.
    std::string copy(text);
    auto params = boost::urls::parse_query(copy);
    if (!params)
        return false;
    boost::urls::encoding_opts opt;
    opt.space_as_plus = true;
    for (auto p : *params)
        f(p.key.decode(opt), p.has_value ? p.value.decode(opt) : std::string());
    return true;
}

} // namespace joinme::detail

#endif
