// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_IMPL_PROXY_IPP
#define JOINME_IMPL_PROXY_IPP

// The proxy URL parser, the one part of proxy.hpp that needs Boost.URL: compiled in every
// translation unit that includes proxy.hpp (header-only), or once, in the one that includes
// joinme/src.hpp, so that a translation unit that only configures a client does not parse
// Boost.URL's headers.

#include <joinme/proxy.hpp>

#include <joinme/detail/url.hpp>

namespace joinme {

JOINME_DECL proxy_server parse_proxy_url(std::string_view text, error_code& ec) {
    ec = {};
    text = detail::trim(text);
    std::string with_scheme;
    if (text.find("://") == std::string_view::npos) {
        with_scheme = "http://";
        with_scheme += text;
        text = with_scheme;
    }
    auto url = detail::parse_absolute(text);
    if (!url || url->scheme_id() != boost::urls::scheme::http || !url->has_authority() ||
        url->has_query() || url->has_fragment() || url->encoded_host().empty() ||
        (!url->encoded_path().empty() && url->encoded_path() != "/")) {
        ec = errc::invalid_url;
        return {};
    }
    proxy_server p;
    p.host = url->host_address();
    p.port = url->has_port() && !url->port().empty() ? std::string(url->port())
                                                     : std::string(default_proxy_port);
    if (url->has_userinfo()) {
        p.user = url->user();
        if (url->has_password())
            p.password = secret(url->password());
    }
    if (!detail::is_plain_host(p.host) || !detail::is_port(p.port) ||
        p.user.find(':') != std::string::npos) {
        ec = errc::invalid_url;
        return {};
    }
    return p;
}

} // namespace joinme

#endif
