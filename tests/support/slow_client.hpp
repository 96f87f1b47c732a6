// A client that holds a server's connection without finishing a request: it connects, then
// sends its bytes one at a time (or nothing at all) until the server closes the connection.
// The servers' tests use it to check read deadlines against silent and slow-loris clients.
#ifndef JOINME_TESTS_SUPPORT_SLOW_CLIENT_HPP
#define JOINME_TESTS_SUPPORT_SLOW_CLIENT_HPP

#include <boost/asio.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace test_support {

struct slow_client_result {
    /// How the connection ended: eof or connection_reset when the server closed it;
    /// success when the server answered (a byte arrived); operation_aborted when `limit` passed.
    boost::system::error_code ec;
    /// From the connect to that end.
    std::chrono::steady_clock::duration lasted{};
    /// Bytes of `data` written before it.
    std::size_t sent = 0;
    /// Set once the connection has ended, for a concurrent check ("still open?").
    bool ended = false;
};

/// Connects to `ep`, then writes `data` one byte every `interval` (nothing when it is empty)
/// while a read waits for the server to close the connection; gives up after `limit`. `out`
/// is filled as it goes and must outlive the coroutine.
inline boost::asio::awaitable<void> slow_client(boost::asio::ip::tcp::endpoint ep, std::string data,
                                                std::chrono::milliseconds interval,
                                                std::chrono::milliseconds limit,
                                                slow_client_result& out) {
    namespace asio = boost::asio;
    using clock = std::chrono::steady_clock;
    asio::ip::tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    const auto t0 = clock::now();
    bool read_done = false;
    char c = 0;
    s.async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) {
        out.ec = ec;
        out.lasted = clock::now() - t0;
        out.ended = read_done = true;
    });
    asio::steady_timer t(s.get_executor());
    while (!read_done) {
        if (clock::now() - t0 > limit) {
            boost::system::error_code ignored;
            s.close(ignored); // the read completes with operation_aborted
        } else if (out.sent < data.size()) {
            auto [wec, n] = co_await asio::async_write(s, asio::buffer(&data[out.sent], 1),
                                                       asio::as_tuple(asio::use_awaitable));
            out.sent += n;
        }
        t.expires_after(interval);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

} // namespace test_support

#endif
