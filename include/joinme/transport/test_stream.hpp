// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_TEST_STREAM_HPP
#define JOINME_TRANSPORT_TEST_STREAM_HPP

/// @file
/// `stream_traits` for Beast's in-memory `test::stream`: a whole exchange with no socket.

#include <joinme/transport.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <functional>

namespace joinme {

/// Makes connections for `beast::test::stream`: returns the client end of a new connected
/// pair after handing the other end to a server (the sandbox's `in_memory_connector()` is
/// one). An empty connector makes every connection attempt fail with `not_connected`.
using test_stream_connector =
    std::function<boost::beast::test::stream(const boost::asio::any_io_executor&)>;

template <>
struct stream_traits<boost::beast::test::stream> {
    using context_type = test_stream_connector;

    static boost::beast::test::stream create(const boost::asio::any_io_executor& ex,
                                             test_stream_connector& connect) {
        if (!connect)
            return boost::beast::test::stream(ex);
        return connect(ex);
    }

    /// The stream was connected by `create`; without a connector there is nothing to
    /// connect to and the result is `not_connected`.
    template <class Token>
    static auto async_connect(boost::beast::test::stream& s, const origin&,
                              test_stream_connector& connect, Token&& token) {
        error_code ec;
        if (!connect)
            ec = boost::asio::error::not_connected;
        return boost::asio::post(s.get_executor(),
                                 boost::asio::append(std::forward<Token>(token), ec));
    }

    template <class Token>
    static auto async_shutdown(boost::beast::test::stream& s, Token&& token) {
        s.close();
        return boost::asio::post(s.get_executor(),
                                 boost::asio::append(std::forward<Token>(token), error_code{}));
    }

    static void close(boost::beast::test::stream& s) noexcept { s.close(); }

    static bool is_reusable(boost::beast::test::stream&) noexcept { return true; }
};

} // namespace joinme

#endif
