// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SRC_HPP
#define JOINME_SRC_HPP

/// @file
/// Compiles the non-header parts of joinme's dependencies. Include this file in exactly one
/// .cpp of a program that uses joinme (or link Boost.JSON and Boost.URL's compiled libraries
/// instead and leave it out).
///
/// With JOINME_SEPARATE_COMPILATION defined in every translation unit, joinme's own code that
/// does not depend on the stream type (the API client's calls for every endpoint, the OAuth
/// steps, the loopback listener, `origin_of` and the proxy URL parser) and the connection pools
/// over joinme's own streams (TCP, TLS, through a proxy) are compiled here once, and the other
/// translation units only declare them. The sandbox, which is opt-in, has its own:
/// <joinme/sandbox/src.hpp>.
///
/// Boost.JSON and Boost.URL are always compiled here. Asio, Asio's SSL support and Beast are
/// compiled here too when the program defines BOOST_ASIO_SEPARATE_COMPILATION or
/// BOOST_BEAST_SEPARATE_COMPILATION in every translation unit, which saves compile time in
/// programs with many translation units.

#if defined(JOINME_SEPARATE_COMPILATION)
#include <joinme/api/impl/client.ipp>
#include <joinme/http/impl/pool.ipp>
#include <joinme/impl/loopback.ipp>
#include <joinme/impl/proxy.ipp>
#include <joinme/impl/transport.ipp>
#include <joinme/oauth/impl/client.ipp>
#include <joinme/oauth/impl/token_source.ipp>
#endif

#include <boost/json/src.hpp>
#include <boost/url/src.hpp>

#if defined(BOOST_ASIO_SEPARATE_COMPILATION)
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#endif

#if defined(BOOST_BEAST_SEPARATE_COMPILATION)
#include <boost/beast/src.hpp>
#endif

#endif
