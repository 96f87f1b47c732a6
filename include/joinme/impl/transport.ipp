// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_IMPL_TRANSPORT_IPP
#define JOINME_IMPL_TRANSPORT_IPP

// `origin_of`, the one part of transport.hpp that needs Boost.URL's definitions: compiled in
// every translation unit that includes transport.hpp (header-only), or once, in the one that
// includes joinme/src.hpp.

#include <joinme/transport.hpp>

#include <boost/url/url_view.hpp>

namespace joinme {

JOINME_DECL origin origin_of(boost::urls::url_view url, error_code& ec) {
    ec = {};
    auto scheme = url.scheme_id();
    if ((scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) ||
        !url.has_authority() || url.encoded_host().empty()) {
        ec = errc::invalid_url;
        return {};
    }
    origin o;
    o.scheme = scheme == boost::urls::scheme::https ? "https" : "http";
    o.host = url.host_address();
    o.port = url.has_port() && !url.port().empty() ? std::string(url.port())
                                                   : (o.scheme == "https" ? "443" : "80");
    return o;
}

} // namespace joinme

#endif
