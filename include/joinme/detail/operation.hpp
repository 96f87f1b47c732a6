// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_OPERATION_HPP
#define JOINME_DETAIL_OPERATION_HPP

// The two forms of every OAuth and API operation, built from one body
// `f(diagnostics&, Ts&... results) -> awaitable<error_code>` that writes its results in place
// (see async_run.hpp) and writes the diagnostics only when it fails:
// - the diagnostics form completes with `void(error_code, Ts...)` and fills the caller's
//   `diagnostics` on failure;
// - the throwing form completes with `void(std::exception_ptr, Ts...)`; a failure is an
//   `error_with_diagnostics`, so `co_await op(use_awaitable)` throws it.

#include <joinme/detail/async_run.hpp>
#include <joinme/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::detail {

// True for a completion token, false for the diagnostics argument of the other overload.
template <class Token>
inline constexpr bool is_token_v = !std::is_same_v<std::remove_cvref_t<Token>, diagnostics>;

// Runs `f(diagnostics&, Ts&...)` as an operation completing with `void(error_code, Ts...)`;
// `diag` is cleared now and receives the diagnostics of a failure.
template <class... Ts, class Token, class F>
auto run_with_diagnostics(const boost::asio::any_io_executor& ex, diagnostics& diag, Token&& token,
                          F f) {
    diag.clear();
    return async_run<Ts...>(ex, std::forward<Token>(token),
                            [f = std::move(f), out = &diag](Ts&... results) mutable {
                                return f(*out, results...);
                            });
}

// The value of the throwing form: `T`, or nothing.
template <class... Ts>
struct throwing_result {
    using type = void;
};
template <class T>
struct throwing_result<T> {
    using type = T;
};

// The coroutine of the throwing form.
template <class... Ts, class F>
boost::asio::awaitable<typename throwing_result<Ts...>::type> run_and_throw(F f) {
    diagnostics diag;
    std::tuple<Ts...> r;
    error_code ec;
    try {
        ec = co_await std::apply([&f, &diag](Ts&... out) { return f(diag, out...); }, r);
    } catch (const error_with_diagnostics&) {
        throw;
    } catch (const boost::system::system_error& e) {
        // Cancellation surfaces as an exception from the next co_await.
        ec = e.code();
    }
    if (ec)
        throw error_with_diagnostics(ec, std::move(diag));
    if constexpr (sizeof...(Ts) == 1)
        co_return std::move(std::get<0>(r));
}

// With `use_awaitable`, awaited from a coroutine on `ex`: `body` runs within the awaiting
// coroutine, as co_spawn would run it, without a coroutine of its own (see async_run.hpp).
template <class T>
boost::asio::awaitable<T> run_and_throw_inline(boost::asio::any_io_executor ex,
                                               boost::asio::awaitable<T> body) {
    // (g++ 12 miscompiles `co_return co_await` of an awaitable that throws: each step is a
    // statement of its own.)
    auto current = co_await boost::asio::this_coro::executor;
    if (current != ex)
        body = boost::asio::co_spawn(ex, std::move(body), boost::asio::use_awaitable);
    if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
    } else {
        T value = co_await std::move(body);
        co_return value;
    }
}

// Runs `f(diagnostics&)` as an operation completing with `void(std::exception_ptr, Ts...)`.
template <class... Ts, class Token, class F>
auto run_throwing(const boost::asio::any_io_executor& ex, Token&& token, F f) {
    if constexpr (std::is_same_v<std::decay_t<Token>, boost::asio::use_awaitable_t<>>) {
        return run_and_throw_inline(ex, run_and_throw<Ts...>(std::move(f)));
    } else {
        return boost::asio::async_initiate<Token, void(std::exception_ptr, Ts...)>(
            [](auto handler, const boost::asio::any_io_executor& ex, F f) {
                boost::asio::co_spawn(ex, run_and_throw<Ts...>(std::move(f)), std::move(handler));
            },
            token, ex, std::move(f));
    }
}

} // namespace joinme::detail

#endif
