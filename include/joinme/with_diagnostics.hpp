// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_WITH_DIAGNOSTICS_HPP
#define JOINME_WITH_DIAGNOSTICS_HPP

/// @file
/// `with_diagnostics(token)`: the completion-token adapter that turns an operation's
/// `void(error_code, T...)` into `void(std::exception_ptr, T...)`, where the exception, when
/// set, is an `error_with_diagnostics` carrying the code and what the server said. With
/// `use_awaitable` (or the default token, `with_diagnostics(use_awaitable)`), `co_await` then
/// simply throws it:
///
/// @code
/// api::user u = co_await client.async_get_user();               // throws on failure
/// auto [ec, u] = co_await client.async_get_user(diag, as_tuple(use_awaitable)); // never throws
/// @endcode
///
/// It works with every joinme operation: their initiations take the operation's
/// `diagnostics*` as first argument (null when the caller passed none; the adapter then
/// supplies diagnostics of its own).

#include <joinme/error.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace joinme {

/// The completion token `with_diagnostics` returns.
template <class CompletionToken>
struct with_diagnostics_t {
    CompletionToken token; ///< The adapted completion token.
};

/// Adapts `token` (see the file comment).
template <class CompletionToken>
with_diagnostics_t<std::decay_t<CompletionToken>> with_diagnostics(CompletionToken&& token) {
    return {std::forward<CompletionToken>(token)};
}

/// The default completion token of every joinme operation: `co_await op(args)` from an
/// `asio::awaitable` coroutine throws `error_with_diagnostics` on failure. (Not
/// `with_diagnostics(deferred)`: Boost 1.81 cannot `co_await` a deferred operation whose
/// signature starts with `std::exception_ptr` and has a value.)
using default_token = with_diagnostics_t<boost::asio::use_awaitable_t<>>;

namespace detail {

// `diag`, or diagnostics of the operation's own, held by `owned`, when the caller passed none.
inline diagnostics* diagnostics_or_own(diagnostics* diag, std::unique_ptr<diagnostics>& owned) {
    if (!diag) {
        owned = std::make_unique<diagnostics>();
        diag = owned.get();
    }
    return diag;
}

template <class Handler>
struct with_diagnostics_handler {
    Handler handler;
    diagnostics* diag;
    std::unique_ptr<diagnostics> owned; // when the caller passed none

    template <class... Ts>
    void operator()(error_code ec, Ts&&... values) {
        std::exception_ptr e;
        if (ec)
            e = std::make_exception_ptr(error_with_diagnostics(ec, std::move(*diag)));
        std::move(handler)(std::move(e), std::forward<Ts>(values)...);
    }
};

template <class Initiation>
struct with_diagnostics_init {
    Initiation init;

    template <class Handler, class... Args>
    void operator()(Handler&& handler, diagnostics* diag, Args&&... args) && {
        std::unique_ptr<diagnostics> owned;
        diag = diagnostics_or_own(diag, owned);
        std::move(init)(
            with_diagnostics_handler<std::decay_t<Handler>>{std::forward<Handler>(handler), diag,
                                                            std::move(owned)},
            diag, std::forward<Args>(args)...);
    }
};

} // namespace detail
} // namespace joinme

namespace boost::asio {

template <class CompletionToken, class... Ts>
struct async_result<joinme::with_diagnostics_t<CompletionToken>, void(joinme::error_code, Ts...)> {
    template <class Initiation, class RawToken, class... Args>
    static auto initiate(Initiation&& init, RawToken&& token, Args&&... args) {
        return async_initiate<CompletionToken, void(std::exception_ptr, Ts...)>(
            joinme::detail::with_diagnostics_init<std::decay_t<Initiation>>{
                std::forward<Initiation>(init)},
            token.token, std::forward<Args>(args)...);
    }
};

template <template <class, class> class Associator, class Handler, class Default>
struct associator<Associator, joinme::detail::with_diagnostics_handler<Handler>, Default> {
    using type = typename Associator<Handler, Default>::type;

    static type get(const joinme::detail::with_diagnostics_handler<Handler>& h) noexcept {
        return Associator<Handler, Default>::get(h.handler);
    }
    static auto get(const joinme::detail::with_diagnostics_handler<Handler>& h,
                    const Default& d) noexcept
        -> decltype(Associator<Handler, Default>::get(h.handler, d)) {
        return Associator<Handler, Default>::get(h.handler, d);
    }
};

} // namespace boost::asio

#endif
