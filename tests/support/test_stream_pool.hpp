// The pool over in-memory streams, compiled once for the test suite (test_stream_pool.cpp), as
// <joinme/src.hpp> compiles the pools over joinme's own streams.
#ifndef JOINME_TESTS_SUPPORT_TEST_STREAM_POOL_HPP
#define JOINME_TESTS_SUPPORT_TEST_STREAM_POOL_HPP

#include <joinme/http/pool.hpp>
#include <joinme/transport/test_stream.hpp>

extern template class joinme::http::basic_connection_pool<boost::beast::test::stream>;

#endif
