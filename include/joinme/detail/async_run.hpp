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
// operation it is suspended on).

#include <joinme/error.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <tuple>
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

template <class... Ts, class Token, class Executor, class Function>
auto async_run(const Executor& ex, Token&& token, Function&& f) {
    return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
        [](auto handler, const Executor& ex, auto f) {
            boost::asio::co_spawn(ex, std::move(f),
                                  unpack_handler<decltype(handler)>{std::move(handler)});
        },
        token, ex, std::forward<Function>(f));
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
