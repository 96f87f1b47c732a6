// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_IMPL_POOL_IPP
#define JOINME_HTTP_IMPL_POOL_IPP

// The connection pools over joinme's own streams (TCP, TLS, through a proxy), compiled once
// with JOINME_SEPARATE_COMPILATION: pool.hpp declares them `extern`, so that a translation
// unit making a `basic_client` over one of them does not compile its pool again.

#include <joinme/http/pool.hpp>
#include <joinme/transport/proxy.hpp>

namespace joinme::http {
template class basic_connection_pool<boost::beast::tcp_stream>;
template class basic_connection_pool<joinme::detail::tls_stream>;
template class basic_connection_pool<proxy_stream>;
} // namespace joinme::http

#endif
