// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_ASYNC_RUN_HPP
#define JOINME_DETAIL_ASYNC_RUN_HPP

// The bridge from joinme's internal coroutines to Asio's universal asynchronous model: every
// operation of the library goes through `async_op`.
//
// An operation is a coroutine `op_awaitable<Ts...>` that completes with a tuple
// `(error_code, Ts...)`, made by a function object `make(diagnostics*)`. `async_op`
//  - with `as_tuple(use_awaitable)` (joinme's own coroutines, and users who want error codes)
//    simply returns that coroutine, which runs within the awaiting one: what co_spawn would
//    do, less a coroutine, a dispatch and a post per operation. Nothing leaks into the
//    awaiting coroutine: `run_op` only reads its executor, and an operation awaited from
//    another executor is spawned on its own;
//  - with the default token, `with_diagnostics(use_awaitable)`, returns that coroutine inside
//    one that throws its error (`throwing` in async_op.hpp), for the same reason; an API
//    call's coroutine throws its error itself (`run_body_as<true>`), one frame fewer for each
//    call, which matters when thousands wait for their turn;
//  - with any other completion token, initiates an operation of signature
//    `void(error_code, Ts...)` whose initiation arguments are `(diagnostics*, make)`, so that
//    a token adapter (`with_diagnostics`) finds the diagnostics. The initiation erases the
//    handler and spawns the coroutine with `co_spawn`, which guarantees what a composed
//    operation must: the handler is never invoked inline, it runs on its associated executor,
//    and its cancellation slot is connected to the coroutine.
//
// `run_op` gives an operation body `f(diagnostics&, Ts&... results) -> awaitable<error_code>`
// its diagnostics (the caller's, or its own when the caller passed none), clears them when it
// starts, and writes the results in place: a model moves once, from the parser into the
// result, instead of twice per coroutine layer.

#include <joinme/detail/async_op.hpp>
#include <joinme/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <concepts>
#include <exception>
#include <memory>
#include <tuple>
#include <utility>

namespace joinme::detail {

// Adapts co_spawn's `void(std::exception_ptr, std::tuple<error_code, T...>)` to the
// operation's `void(error_code, T...)`.
template <class... Ts>
struct unpack_handler {
    op_handler<Ts...> handler;

    void operator()(std::exception_ptr e, std::tuple<error_code, Ts...> result) {
        // `run_op` turns every system_error into a code: anything else is a bug, and
        // propagates out of run().
        if (e)
            std::rethrow_exception(e);
        std::apply(std::move(handler), std::move(result));
    }
};

template <class... Ts>
void spawn_op(const boost::asio::any_io_executor& ex, op_awaitable<Ts...> op, op_handler<Ts...> h) {
    boost::asio::co_spawn(ex, std::move(op), unpack_handler<Ts...>{std::move(h)});
}

// An operation's body, with the executor it runs on.
template <class Function>
struct homed {
    Function f;
    boost::asio::any_io_executor home;

    const boost::asio::any_io_executor& get_executor() const noexcept { return home; }
    template <class... Args>
    auto operator()(Args&... args) {
        return f(args...);
    }
};

template <bool Throws, class... Ts, class Body>
body_awaitable<Throws, Ts...> run_body_as(Body b, diagnostics* diag);

// The coroutine of an operation whose body is `b` (see `run_body_as`).
template <class... Ts, class Body>
op_awaitable<Ts...> run_body(Body b, diagnostics* diag) {
    return run_body_as<false, Ts...>(std::move(b), diag);
}

// `op` (a `run_body` awaited from another executor), its results written to `r`: returning
// them would leave a copy of them in the awaiting frame.
template <class... Ts>
boost::asio::awaitable<void> run_into(op_awaitable<Ts...> op, std::tuple<error_code, Ts...>& r) {
    r = co_await std::move(op);
}

// `run_body` spawned on the body's executor, its results to `r`. Awaited through
// `use_awaitable`, unlike the client's other waits (see `exchange` in http/exchange.hpp): the
// temporary it leaves in every operation's frame is then one pointer, where a deferred
// co_spawn would put its executor and coroutine there, for a path that few calls take.
template <class... Ts, class Body>
boost::asio::awaitable<void> hop(Body& b, diagnostics* diag, std::tuple<error_code, Ts...>& r) {
    auto home = b.get_executor();
    return boost::asio::co_spawn(home, run_into<Ts...>(run_body<Ts...>(std::move(b), diag), r),
                                 boost::asio::use_awaitable);
}

template <class Body>
bool runs_on(const boost::asio::any_io_executor& ex, const Body& b) {
    return ex == b.get_executor();
}

// An operation's results, in memory that the thread recycles (Asio's recycling allocator),
// made when its body starts: not in the operation's frame, so that a call waiting for its turn
// holds a small frame.
template <class T>
struct recycled_delete {
    void operator()(T* p) const noexcept {
        p->~T();
        boost::asio::recycling_allocator<T>().deallocate(p, 1);
    }
};

template <class T>
using recycled_ptr = std::unique_ptr<T, recycled_delete<T>>;

template <class T>
recycled_ptr<T> make_recycled() {
    boost::asio::recycling_allocator<T> a;
    T* p = a.allocate(1);
    try {
        ::new (static_cast<void*>(p)) T();
    } catch (...) {
        a.deallocate(p, 1);
        throw;
    }
    return recycled_ptr<T>(p);
}

// A body that waits for its turn before it starts (an API call, in its client's line of calls;
// see call_queue.hpp): `enter()` is true when its turn is now; otherwise `wait_turn()` is the
// awaitable of the wait, which throws its error. The body keeps its turn until destroyed.
template <class F>
concept takes_turns = requires(F& f) {
    { f.enter() } -> std::same_as<bool>;
    f.wait_turn();
};

// The coroutine of an operation: the results of its body `b`, or its error with the results
// left empty. A cancelled coroutine throws operation_aborted from its next co_await; that, as
// any system_error, becomes the error code. Awaited from a coroutine on an executor other than
// the body's (`b.get_executor()`), it runs there instead. Its frame is kept small, as many
// calls may wait at once (for their turn, in this frame and nothing else): the body, a pointer
// to the results and one to the diagnostics, allocated here when the caller passed none, once
// the turn has come. Temporaries in a co_await expression take room in the frame, so the rare
// paths take everything by reference. With `Throws`, the coroutine is what the default token
// gives (see `throwing` in async_op.hpp), without a second coroutine around it.
template <bool Throws, class... Ts, class Body>
body_awaitable<Throws, Ts...> run_body_as(Body b, diagnostics* diag) {
    using results = std::tuple<error_code, Ts...>;
    recycled_ptr<results> r;
    std::unique_ptr<diagnostics> own;
    if (!runs_on(co_await boost::asio::this_coro::executor, b)) {
        r = make_recycled<results>();
        if constexpr (Throws)
            diag = diagnostics_or_own(diag, own); // for the error thrown below
        co_await hop(b, diag, *r);                // which clears `*diag`
    } else {
        if (diag)
            diag->clear();
        try {
            if constexpr (takes_turns<Body>) {
                if (!b.enter())
                    co_await b.wait_turn();
            }
            diag = diagnostics_or_own(diag, own);
            r = make_recycled<results>();
            std::get<0>(*r) = co_await std::apply(
                [&b, diag](error_code&, Ts&... out) { return b(*diag, out...); }, *r);
        } catch (const boost::system::system_error& err) {
            diag = diagnostics_or_own(diag, own);
            if (!r) { // while it waited for its turn
                r = make_recycled<results>();
                if (err.code() == errc::pool_exhausted)
                    diag->client_message = "the call's deadline passed while it waited for its "
                                           "turn among the client's calls";
            }
            std::get<0>(*r) = err.code();
        }
        if (std::get<0>(*r))
            std::apply([](error_code&, Ts&... out) { ((out = Ts{}), ...); }, *r);
    }
    if constexpr (Throws)
        co_return value_or_throw(*r, *diag);
    else
        co_return std::move(*r);
}

// `run_body` of `f` on `home`.
template <class... Ts, class Function>
op_awaitable<Ts...> run_op(Function f, boost::asio::any_io_executor home, diagnostics* diag) {
    return run_body<Ts...>(homed<Function>{std::move(f), std::move(home)}, diag);
}

// Runs `f(Ts&... results) -> awaitable<error_code>` as an operation on `ex` completing with
// `void(error_code, Ts...)`: `async_op` for a body that needs no diagnostics.
template <class... Ts, class Token, class Function>
auto async_run(const boost::asio::any_io_executor& ex, Token&& token, Function f) {
    return async_op<Ts...>(
        ex, nullptr, std::forward<Token>(token), [f = std::move(f), ex](diagnostics* diag) mutable {
            return run_op<Ts...>(
                [f = std::move(f)](diagnostics&, Ts&... out) mutable { return f(out...); }, ex,
                diag);
        });
}

} // namespace joinme::detail

namespace boost::asio {
// `unpack_handler` has the associations (executor, cancellation slot, allocator) of the
// handler it wraps.
template <template <class, class> class Associator, class... Ts, class Default>
struct associator<Associator, joinme::detail::unpack_handler<Ts...>, Default> {
    using handler = joinme::detail::op_handler<Ts...>;
    using type = typename Associator<handler, Default>::type;

    static type get(const joinme::detail::unpack_handler<Ts...>& h) noexcept {
        return Associator<handler, Default>::get(h.handler);
    }
    static auto get(const joinme::detail::unpack_handler<Ts...>& h, const Default& d) noexcept
        -> decltype(Associator<handler, Default>::get(h.handler, d)) {
        return Associator<handler, Default>::get(h.handler, d);
    }
};
} // namespace boost::asio

#endif
