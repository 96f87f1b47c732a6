// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASYNC_OP_HPP
#define JOINME_DETAIL_ASYNC_OP_HPP

// How an operation meets Asio's universal asynchronous model (see async_run.hpp, which
// defines the coroutines). Kept light: a translation unit that only starts operations, with
// JOINME_SEPARATE_COMPILATION, needs this header and not the coroutine machinery.

#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::detail {

template <class... Ts>
using op_awaitable = boost::asio::awaitable<std::tuple<error_code, Ts...>>;

template <class... Ts>
using op_handler = boost::asio::any_completion_handler<void(error_code, Ts...)>;

using tuple_awaitable_t = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

// What `co_await` gives with the default token: the result, or nothing.
template <class... Ts>
struct value_of {
    using type = void;
};
template <class T>
struct value_of<T> {
    using type = T;
};

// What the coroutine of an operation gives: its results after their error code, or, for the
// default token (`Throws`), its result alone, its error thrown as `error_with_diagnostics`.
template <bool Throws, class... Ts>
using body_awaitable =
    std::conditional_t<Throws, boost::asio::awaitable<typename value_of<Ts...>::type>,
                       op_awaitable<Ts...>>;

// The result in `r`, or its error thrown as `error_with_diagnostics` carrying `diag`.
template <class... Ts>
typename value_of<Ts...>::type value_or_throw(std::tuple<error_code, Ts...>& r, diagnostics& diag) {
    if (std::get<0>(r))
        throw error_with_diagnostics(std::get<0>(r), std::move(diag));
    if constexpr (sizeof...(Ts) == 1)
        return std::move(std::get<1>(r));
}

// `op`'s result, or its error thrown as `error_with_diagnostics` carrying `*diag` (which `own`
// holds when the caller passed none): what the default token,
// `with_diagnostics(use_awaitable)`, gives, without spawning a coroutine.
template <class... Ts>
boost::asio::awaitable<typename value_of<Ts...>::type>
throwing(op_awaitable<Ts...> op, diagnostics* diag,
         [[maybe_unused]] std::unique_ptr<diagnostics> own) {
    auto r = co_await std::move(op);
    co_return value_or_throw(r, *diag);
}

// True for a completion token, false for the diagnostics argument of the other overload.
template <class Token>
concept completion_token = !std::is_same_v<std::remove_cvref_t<Token>, diagnostics>;

// Starts `op` on `ex`; its result goes to `h`. Not a template over the handler: one
// instantiation per result type, compiled once with separate compilation (async_run.hpp).
template <class... Ts>
void spawn_op(const boost::asio::any_io_executor& ex, op_awaitable<Ts...> op, op_handler<Ts...> h);

template <class... Ts>
struct op_initiation {
    boost::asio::any_io_executor ex;

    template <class Handler, class Make>
    void operator()(Handler&& h, diagnostics* diag, Make make) const {
        if (diag)
            diag->clear(); // at initiation, not only when the coroutine first runs
        spawn_op<Ts...>(ex, make(diag), op_handler<Ts...>(std::forward<Handler>(h)));
    }
};

// Runs the operation `make(diag)` on `ex` (see async_run.hpp); it completes with
// `void(error_code, Ts...)`. `diag` may be null: the operation then keeps diagnostics of its
// own, and a `with_diagnostics` token supplies them. Awaited with `as_tuple(use_awaitable)` or
// the default token, the operation runs within the awaiting coroutine.
template <class... Ts, class Token, class Make>
auto async_op(const boost::asio::any_io_executor& ex, diagnostics* diag, Token&& token, Make make) {
    if constexpr (std::is_same_v<std::decay_t<Token>, tuple_awaitable_t>) {
        return make(diag);
    } else if constexpr (std::is_same_v<std::decay_t<Token>, default_token>) {
        std::unique_ptr<diagnostics> own;
        diag = diagnostics_or_own(diag, own);
        return throwing<Ts...>(make(diag), diag, std::move(own));
    } else {
        return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
            op_initiation<Ts...>{ex}, token, diag, std::move(make));
    }
}

} // namespace joinme::detail

#endif
