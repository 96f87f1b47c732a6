// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TIMEOUT_AFTER_HPP
#define JOINME_TIMEOUT_AFTER_HPP

/// @file
/// `timeout_after(d, token)`: the completion-token adapter that gives one API call an overall
/// deadline of its own, instead of the client's `client_config::call_timeout`:
///
/// @code
/// api::user u = co_await client.async_get_user(joinme::timeout_after(2s));
/// auto [ec, m] = co_await client.async_get_meeting(id, joinme::timeout_after(
///                                                          500ms, as_tuple(use_awaitable)));
/// @endcode
///
/// The deadline is kept the way the client keeps every deadline (the pool's watchdog, see
/// `http::request_options::deadline`), not by a timer per call: it covers waiting for a
/// connection, the connect, a token refresh the call waits for, the exchange, the replay
/// after a rejected token and the retries of rate-limited answers. A call that runs out of
/// time fails with `errc::timeout` (`errc::pool_exhausted` while it waited in line for a
/// connection). Boost 1.86's `asio::cancel_after` does the same through cancellation, with a
/// timer per call.
///
/// It applies to the operations of `api::any_client` and `api::basic_client` that send an API
/// request, and must be the outermost adapter (`timeout_after(d, with_diagnostics(t))`, not
/// the other way round).

#include <joinme/with_diagnostics.hpp>

#include <chrono>
#include <type_traits>
#include <utility>

namespace joinme {

/// The completion token `timeout_after` returns.
template <class CompletionToken>
struct timeout_after_t {
    std::chrono::milliseconds timeout; ///< The call's overall deadline; zero or less: none.
    CompletionToken token;             ///< The adapted completion token.
};

/// `token` (by default `default_token`), with an overall deadline `timeout` from the start of
/// the call; zero or less means no overall deadline (see the file comment).
template <class CompletionToken = default_token>
timeout_after_t<std::decay_t<CompletionToken>> timeout_after(std::chrono::milliseconds timeout,
                                                             CompletionToken&& token = {}) {
    return {timeout, std::forward<CompletionToken>(token)};
}

namespace detail {
template <class T>
inline constexpr bool is_timeout_after = false;
template <class CompletionToken>
inline constexpr bool is_timeout_after<timeout_after_t<CompletionToken>> = true;
} // namespace detail

} // namespace joinme

#endif
