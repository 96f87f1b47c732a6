// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASYNC_RUN_HPP
#define JOINME_DETAIL_ASYNC_RUN_HPP

// The bridge from joinme's internal coroutines to Asio's universal asynchronous model.
//
// An operation's body is a function object `f(Ts&... results) -> awaitable<error_code>`: it
// reports failure as a value and writes its results in place. `async_run` runs it in one
// coroutine that owns the results (`run_body`) and completes the caller's token with
// `void(error_code, T...)`, so callbacks, `use_awaitable`, `use_future`, `deferred` and
// `as_tuple` all work. The coroutine is started with `co_spawn`, which guarantees what a
// composed operation must: the handler is never invoked inline, it runs on its associated
// executor, and the handler's cancellation slot is connected to the coroutine (terminal
// cancellation reaches the I/O operation it is suspended on). With `as_tuple(use_awaitable)`
// from a coroutine already on the operation's executor, `run_body` simply runs inside the
// caller's coroutine.
//
// Results are written in place, not returned through every coroutine layer: a model moves
// once, from the parser into the result, instead of twice per layer.

#include <joinme/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::detail {

// Adapts co_spawn's `void(std::exception_ptr, std::tuple<error_code, T...>)` to the
// operation's `void(error_code, T...)`, keeping the user's handler's associations.
template <class Handler>
struct unpack_handler {
    Handler handler;

    template <class... Ts>
    void operator()(std::exception_ptr e, std::tuple<error_code, Ts...> result) {
        if (e) {
            // A cancelled coroutine may throw operation_aborted from its next co_await; that
            // and any other system_error is an ordinary failure. Anything else is a bug and
            // propagates out of run().
            try {
                std::rethrow_exception(e);
            } catch (const boost::system::system_error& err) {
                std::get<0>(result) = err.code();
            }
        }
        std::apply(std::move(handler), std::move(result));
    }
};

using tuple_awaitable_t = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

template <class... Ts, class Token, class Executor, class Function>
auto spawn_run(const Executor& ex, Token&& token, Function&& f);

// Runs `f` on `ex` with co_spawn, into `r`. A coroutine of its own, taking its arguments by
// reference, so that the frame of `run_body`, the common path, holds no second result and no
// copy of `f`.
template <class... Ts, class Function>
boost::asio::awaitable<void> spawn_into(const boost::asio::any_io_executor& ex, Function& f,
                                        std::tuple<error_code, Ts...>& r) {
    r = co_await spawn_run<Ts...>(ex, boost::asio::as_tuple(boost::asio::use_awaitable),
                                  std::move(f));
}

// A failed operation's completion: the error and empty results.
template <class... Ts>
void fail(std::tuple<error_code, Ts...>& r, error_code ec) {
    r = std::tuple<error_code, Ts...>{ec, Ts{}...};
}

// The coroutine of an operation: `f`'s results, or its error with the results left empty. A
// cancelled coroutine throws operation_aborted from its next co_await; that, as any
// system_error, becomes the error code. With a `home` executor other than the awaiting
// coroutine's, the operation is spawned on `home` instead (see `async_run`).
template <class... Ts, class Function>
boost::asio::awaitable<std::tuple<error_code, Ts...>>
run_body(Function f, boost::asio::any_io_executor home = {}) {
    std::tuple<error_code, Ts...> r;
    if (home && (co_await boost::asio::this_coro::executor) != home) {
        co_await spawn_into<Ts...>(home, f, r);
        co_return std::move(r);
    }
    auto& ec = std::get<0>(r);
    try {
        ec = co_await std::apply([&f](error_code&, Ts&... out) { return f(out...); }, r);
    } catch (const boost::system::system_error& err) {
        ec = err.code();
    }
    if (ec)
        fail(r, ec);
    co_return std::move(r);
}

// Starts `f`'s coroutine with co_spawn on `ex`; the completion goes to `token`.
template <class... Ts, class Token, class Executor, class Function>
auto spawn_run(const Executor& ex, Token&& token, Function&& f) {
    return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
        [](auto handler, const Executor& ex, auto f) {
            boost::asio::co_spawn(
                ex, [f = std::move(f)]() mutable { return run_body<Ts...>(std::move(f)); },
                unpack_handler<decltype(handler)>{std::move(handler)});
        },
        token, ex, std::forward<Function>(f));
}

// Runs `f(Ts&...) -> awaitable<error_code>` as an operation on `ex` completing with
// `void(error_code, Ts...)`.
//
// The fast path is `as_tuple(use_awaitable)`, the token of joinme's own coroutines and of
// users who want error codes: awaited from a coroutine on `ex`, the operation's coroutine runs
// within the awaiting one. That is what co_spawn would do, less a coroutine, a dispatch and a
// post per operation. Cancellation reaches it as it would reach the spawned coroutine:
// through the awaiting coroutine.
template <class... Ts, class Token, class Executor, class Function>
auto async_run(const Executor& ex, Token&& token, Function&& f) {
    if constexpr (std::is_same_v<std::decay_t<Token>, tuple_awaitable_t>)
        return run_body<Ts...>(std::forward<Function>(f), boost::asio::any_io_executor(ex));
    else
        return spawn_run<Ts...>(ex, std::forward<Token>(token), std::forward<Function>(f));
}

} // namespace joinme::detail

namespace boost::asio {
template <template <class, class> class Associator, class Handler, class Default>
struct associator<Associator, joinme::detail::unpack_handler<Handler>, Default> {
    using type = typename Associator<Handler, Default>::type;

    static type get(const joinme::detail::unpack_handler<Handler>& h) noexcept {
        return Associator<Handler, Default>::get(h.handler);
    }
    static auto get(const joinme::detail::unpack_handler<Handler>& h, const Default& d) noexcept
        -> decltype(Associator<Handler, Default>::get(h.handler, d)) {
        return Associator<Handler, Default>::get(h.handler, d);
    }
};
} // namespace boost::asio

#endif
