// Running one coroutine to completion on an io_context that has other work forever (listeners,
// kept-alive connections): one handler at a time, with a time limit, so a test never hangs.
#ifndef JOINME_TESTS_SUPPORT_RUN_HPP
#define JOINME_TESTS_SUPPORT_RUN_HPP

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <optional>

namespace test_support {

// Runs until `pred()` holds, at most `limit`; returns `pred()`.
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred pred,
               std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        if (ioc.stopped())
            ioc.restart();
        ioc.run_one_for(std::chrono::milliseconds(10));
    }
    return pred();
}

// Runs `aw` until it finishes, at most `limit`; returns its result or rethrows its exception.
template <class T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw,
      std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::optional<T> out;
    std::exception_ptr error;
    bool done = false;
    boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
        done = true;
        error = e;
        out = std::move(v);
    });
    run_until(
        ioc, [&] { return done; }, limit);
    REQUIRE_MESSAGE(done, "the operation did not finish within the time limit");
    if (error)
        std::rethrow_exception(error);
    return std::move(*out);
}

} // namespace test_support

#endif
