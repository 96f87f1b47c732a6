// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASYNC_RUN_HPP
#define JOINME_DETAIL_ASYNC_RUN_HPP

// The bridge from joinme's internal coroutines to Asio's universal asynchronous model.
//
// Operations are written as `awaitable<std::tuple<error_code, T...>>` coroutines that report
// failures as values. `async_run` starts one with `co_spawn` and completes the caller's token
// with `void(error_code, T...)`, so callbacks, `use_awaitable`, `use_future`, `deferred` and
// `as_tuple` all work. co_spawn already guarantees what a composed operation must: the
// handler is never invoked inline, it runs on its associated executor, and the handler's
// cancellation slot is connected to the coroutine (terminal cancellation reaches the I/O
// operation it is suspended on). With `as_tuple(use_awaitable)` from a coroutine already on
// the operation's executor, the operation's coroutine simply runs inside the caller's
// (`run_inline`).

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

// Starts `f` with co_spawn on `ex`; the completion goes to `token`.
template <class... Ts, class Token, class Executor, class Function>
auto spawn_run(const Executor& ex, Token&& token, Function&& f) {
    return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
        [](auto handler, const Executor& ex, auto f) {
            boost::asio::co_spawn(ex, std::move(f),
                                  unpack_handler<decltype(handler)>{std::move(handler)});
        },
        token, ex, std::forward<Function>(f));
}

using tuple_awaitable_t = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

// The fast path of `as_tuple(use_awaitable)`, the token of joinme's own coroutines and of
// users who want error codes: awaited from a coroutine on `ex`, the operation's coroutine runs
// within the awaiting one. That is what co_spawn would do, less its own coroutine, a dispatch
// and a post per operation. Cancellation reaches it as it would reach the spawned coroutine:
// through the awaiting coroutine. From any other executor it is spawned on `ex` as usual.
template <class... Ts, class Function>
boost::asio::awaitable<std::tuple<error_code, Ts...>> run_inline(boost::asio::any_io_executor ex,
                                                                 Function f) {
    std::tuple<error_code, Ts...> r;
    if ((co_await boost::asio::this_coro::executor) != ex) {
        auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
        r = co_await spawn_run<Ts...>(ex, token, std::move(f));
        co_return std::move(r);
    }
    try {
        r = co_await f();
    } catch (const boost::system::system_error& err) {
        // As unpack_handler: a cancelled coroutine throws operation_aborted.
        std::get<0>(r) = err.code();
    }
    co_return std::move(r);
}

// Runs `f() -> awaitable<std::tuple<error_code, Ts...>>` as an operation on `ex` completing
// with `void(error_code, Ts...)`.
template <class... Ts, class Token, class Executor, class Function>
auto async_run(const Executor& ex, Token&& token, Function&& f) {
    if constexpr (std::is_same_v<std::decay_t<Token>, tuple_awaitable_t>)
        return run_inline<Ts...>(boost::asio::any_io_executor(ex), std::forward<Function>(f));
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
