// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASYNC_OP_HPP
#define JOINME_DETAIL_ASYNC_OP_HPP

// How an operation meets Asio's universal asynchronous model (see async_run.hpp, which
// defines the coroutines). Kept light: a translation unit that only starts operations, with
// JOINME_SEPARATE_COMPILATION, needs this header and not the coroutine machinery.

#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::detail {

template <class... Ts>
using op_awaitable = boost::asio::awaitable<std::tuple<error_code, Ts...>>;

template <class... Ts>
using op_handler = boost::asio::any_completion_handler<void(error_code, Ts...)>;

using tuple_awaitable_t = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

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
// own, and a `with_diagnostics` token supplies them.
template <class... Ts, class Token, class Make>
auto async_op(const boost::asio::any_io_executor& ex, diagnostics* diag, Token&& token, Make make) {
    if constexpr (std::is_same_v<std::decay_t<Token>, tuple_awaitable_t>)
        return make(diag);
    else
        return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
            op_initiation<Ts...>{ex}, token, diag, std::move(make));
}

} // namespace joinme::detail

#endif
