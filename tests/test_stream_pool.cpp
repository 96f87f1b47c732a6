// The pool over in-memory streams, compiled once for all test programs (see
// support/test_stream_pool.hpp), beside boost_src.cpp so that the two compile in parallel.
#include "support/test_stream_pool.hpp"

template class joinme::http::basic_connection_pool<boost::beast::test::stream>;
