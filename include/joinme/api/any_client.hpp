// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_ANY_CLIENT_HPP
#define JOINME_API_ANY_CLIENT_HPP

/// @file
/// `joinme::api::any_client`: every join.me REST endpoint (joinme-api.md §4, described once in
/// endpoints.hpp) as an asynchronous operation for one user, over a `http::connection_pool`
/// of any stream type. `basic_client<Stream>` (client.hpp) is the same client with the
/// stream chosen at compile time; both are faces of one implementation
/// (detail/client_impl.hpp), and the stream is erased in one place, the pool.
///
/// Every operation completes with `void(error_code, T)` (`void(error_code)` for
/// `async_delete_meeting`) and comes in two overloads:
/// - with a `diagnostics&` argument, which the caller keeps alive until completion; it is
///   cleared when the operation starts and, on failure, receives what the server said: HTTP
///   status, `Message`, `ErrorCode`, `WWW-Authenticate`, `X-Error-Detail-Header`,
///   `X-Mashery-Error-Code`, `Retry-After`, or the start of a body that was not the expected
///   JSON, and in `client_message` what joinme found wrong (a member of the wrong type, say);
/// - without it: the operation keeps diagnostics of its own, so concurrent calls need no
///   long-lived object.
///
/// The completion token defaults to `joinme::default_token`: `co_await client.async_x(...)`
/// throws `error_with_diagnostics`, carrying the code and the diagnostics, on failure.
/// `joinme::timeout_after(d, token)` gives one call a deadline other than the client's
/// `client_config::call_timeout` (timeout_after.hpp).
/// `with_diagnostics(token)` does the same for any token; `as_tuple(use_awaitable)` gives the
/// error code and never throws (the fast path: from a coroutine on the client's executor the
/// operation runs within the awaiting coroutine). Any completion token works (callbacks,
/// `use_awaitable`, `use_future`, `deferred`, `as_tuple`); operations run on the client's
/// executor, never complete inline, and complete the handler on its associated executor.
///
/// Every call:
/// - ends within its overall deadline (`client_config::call_timeout`, 60 s by default, or
///   `timeout_after`), which covers every step below, with `errc::timeout`;
/// - waits for its turn when eight calls per connection the pool may open to the API
///   (`pool_options::max_connections_per_origin`) are already in the pool: first come, first
///   served, in a small node that holds its completion handler and nothing else, so that
///   thousands of waiting calls cost little memory. Its deadline and its cancellation end the
///   wait (`errc::pool_exhausted`, `operation_aborted`);
/// - gets the access token from the token source (which refreshes it ahead of expiry, one
///   refresh at a time however many calls wait) and sends it as `Authorization: Bearer`;
/// - when the API rejects the token (401, or 403 whose `WWW-Authenticate` says
///   `invalid_token`), asks the token source once for a token other than the rejected one
///   (a refresh shared with every other call that saw the same rejection) and sends the call
///   once more; the rejection of a token refreshed for the call is reported as
///   `errc::invalid_token` (a replacement that another call's refresh had made before is
///   not one: if it is rejected too, the call asks for a refresh and sends once more). If the
///   refresh fails, the call fails with the refresh's error and diagnostics
///   (`oauth_errc::invalid_grant` for a revoked refresh token, `errc::reauthorization_required` for
///   a token without one);
/// - lets the pool retry 429 / 503 / over-QPS answers per the pool's retry policy (only
///   idempotent calls unless `retry_non_idempotent`), then reports the last answer;
/// - maps a non-2xx answer with `check_response` (`errc::stale_token`,
///   `errc::insufficient_scope`, `errc::account_inactive`, `errc::rate_limited`,
///   `errc::not_found`, `errc::bad_request`, `errc::server_error`, ...); a stale token is never
///   refreshed: send the user to `renew_authorization_url()`;
/// - reports a 2xx body that is not the expected model as `errc::malformed_response`, the
///   member path in `client_message`, and connection failures as the pool does
///   (`errc::timeout`, `errc::connection_closed`, connect and TLS errors).
///
/// Many users, one pool: an async server acting for many users makes one client per user
/// (each with its own token source and store key, `client_config::token_source.user`) over one
/// shared pool, and keeps a handful of connections. To test code that uses the client without
/// a server, give it a `http::connection_pool` of your own that answers with canned responses.
///
/// Thread safety: not thread-safe. Operations run on the pool's executor; start them from it
/// (a strand on a multi-threaded io_context). Any number of operations may be in flight at
/// once; they share the pool's connections.
///
/// Cancellation: every operation supports terminal cancellation through the completion
/// handler's cancellation slot (or the awaiting coroutine's) and then completes with
/// `operation_aborted`. The cancellation reaches what the call is waiting for: the pool's
/// request (whose connection is closed) or the token source (a refresh shared with other
/// calls goes on for them).
///
/// Lifetime: operations keep the client's state (token source, pool) alive, so the client
/// object may be destroyed while they run; they complete. A client that made its own pool
/// (`basic_client`) closes it when destroyed or `close()`-d: idle connections are closed,
/// calls waiting for a connection fail with `operation_aborted`, requests already on a
/// connection finish.

#include <joinme/api/client_config.hpp>
#include <joinme/api/endpoints.hpp>
#include <joinme/detail/async_op.hpp>
#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/secret.hpp>
#include <joinme/timeout_after.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace joinme::http {
class connection_pool;
} // namespace joinme::http
namespace joinme::oauth {
class token_source;
} // namespace joinme::oauth

namespace joinme::api {

namespace detail {

class client_impl;

// What endpoint `E`'s operation gives: its error and `E::result` (or nothing), or, with
// `Throws` (the default token), `E::result` alone, its error thrown.
template <bool Throws, class E>
struct endpoint_op {
    using awaitable = joinme::detail::body_awaitable<Throws, typename E::result>;
};
template <bool Throws, class E>
requires std::is_void_v<typename E::result>
struct endpoint_op<Throws, E> {
    using awaitable = joinme::detail::body_awaitable<Throws>;
};

// The coroutine of endpoint `e`'s operation. Defined in impl/client.ipp; with
// JOINME_SEPARATE_COMPILATION instantiated there for every endpoint.
template <bool Throws, class E>
typename endpoint_op<Throws, E>::awaitable
run_endpoint(std::shared_ptr<client_impl> impl, E e, diagnostics* diag,
             std::optional<std::chrono::milliseconds> timeout);

// The expire-access-token operation's coroutine.
JOINME_DECL joinme::detail::op_awaitable<std::string> run_expire(std::shared_ptr<client_impl> impl,
                                                                 bool locally, diagnostics* diag);

// The warm-up operation's coroutine.
JOINME_DECL joinme::detail::op_awaitable<> run_warm_up(std::shared_ptr<client_impl> impl,
                                                       std::size_t connections, diagnostics* diag);

} // namespace detail

/// What `any_client::async_expire_access_token` does once join.me has expired the token.
enum class expire_mode {
    /// The client treats the token as expired at once: the next call refreshes it.
    locally,
    /// The client keeps sending it until the API rejects it (join.me: up to 10 minutes),
    /// then refreshes and replays: to test that path.
    until_rejected,
};

/// A join.me REST API client for one user over a `http::connection_pool` (see the file
/// comment).
class any_client {
public:
    /// The executor type of every operation.
    using executor_type = boost::asio::any_io_executor;

    /// A client over `pool`, shared with whoever else holds it (other users' clients). The
    /// pool's own options apply; `cfg.pool` is not used. Closing or destroying the client
    /// does not close a shared pool.
    /// @throws std::invalid_argument when `cfg.proxy` is not empty: the pool's context
    ///         chooses every connection's route (give a pool of `proxy_stream` its proxy).
    JOINME_DECL any_client(std::shared_ptr<http::connection_pool> pool, client_config cfg = {});

    any_client(const any_client&) = delete;
    any_client& operator=(const any_client&) = delete;

    /// Takes over `other`'s state; `other` may then only be destroyed or assigned to.
    any_client(any_client&& other) noexcept = default;

    /// Closes this client (see `close`) and takes over `other`'s state.
    JOINME_DECL any_client& operator=(any_client&& other) noexcept;

    /// Closes the pool if this client made it (see `close`).
    JOINME_DECL ~any_client();

    /// The executor every operation runs on: the pool's.
    JOINME_DECL executor_type get_executor() const noexcept;

    /// The configuration in effect.
    JOINME_DECL const client_config& config() const noexcept;

    /// The connection pool (for its `stats()`, or for `oauth::async_exchange_code` and the
    /// other OAuth steps, which then share the client's connections).
    JOINME_DECL http::connection_pool& pool() noexcept;

    /// The pool, to make another user's client over it.
    JOINME_DECL std::shared_ptr<http::connection_pool> shared_pool() const noexcept;

    /// The token source that supplies the bearer token.
    JOINME_DECL oauth::token_source& token_source() noexcept;

    /// Makes `t` the current token (after a code exchange or an implicit redirect); see
    /// `oauth::token_source::set_token`.
    JOINME_DECL void set_token(oauth::token t);

    /// Counters of rejected tokens and replays.
    JOINME_DECL const client_stats& stats() const noexcept;

    /// join.me's renew-authorization URL for the current token, where to send the user's
    /// browser after a call failed with `errc::stale_token`. It carries the access token,
    /// hence is a `secret`.
    ///
    /// Errors: `errc::reauthorization_required` when no token is held; otherwise those of
    /// `oauth::make_renew_authorization_url` (`errc::invalid_url`, `invalid_argument`).
    JOINME_DECL joinme::secret renew_authorization_url(error_code& ec) const;

    /// As above; throws `error_with_diagnostics` instead.
    JOINME_DECL joinme::secret renew_authorization_url() const;

    /// If this client made its pool: closes idle connections and fails operations waiting for
    /// a connection with `operation_aborted`; requests on a connection finish. The client
    /// cannot be used for new requests afterwards. Does nothing on a moved-from client, or
    /// to a shared pool (close that with `pool().close()`).
    JOINME_DECL void close();

    /// @name Expire access token (join.me's test helper)
    /// Asks join.me to expire the current access token (`oauth::async_expire_access`), then,
    /// with `expire_mode::locally`, treats it as expired so that the next call refreshes it.
    /// Completion: `void(error_code, std::string)`, the server's message. Errors:
    /// `errc::reauthorization_required` when no token is held; those of
    /// `oauth::async_expire_access`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_expire_access_token(expire_mode mode, diagnostics& diag, Token&& token = {}) {
        return expire(mode, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_expire_access_token(expire_mode mode, Token&& token = {}) {
        return expire(mode, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name Warm up
    /// Opens up to `connections` connections to the API (`api_base_url`), TCP connect and TLS
    /// handshake included, before the first call needs them: `http::connection_pool::co_warm_up`.
    /// Completion: `void(error_code)`. Errors: those of `co_warm_up`; `errc::invalid_url` for
    /// a bad `api_base_url`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_warm_up(std::size_t connections, diagnostics& diag, Token&& token = {}) {
        return warm_up(connections, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_warm_up(std::size_t connections, Token&& token = {}) {
        return warm_up(connections, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name GET /v1/user (scope `user_info`)
    /// The user the token belongs to. Completion: `void(error_code, api::user)`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_user(diagnostics& diag, Token&& token = {}) {
        return run(endpoints::get_user{}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_user(Token&& token = {}) {
        return run(endpoints::get_user{}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name POST /v1/meetings/start (scope `start_meeting`)
    /// Starts an ad hoc meeting. `req` is copied when the operation starts. Completion:
    /// `void(error_code, api::start_result)`; its `presenter_link` is a one-time login link:
    /// do not log it. Errors: `errc::bad_request` (e.g. `start_with_personal_url` for a user
    /// without a personal URL).
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_start_meeting(const start_request& req, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::start_meeting{req}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_start_meeting(const start_request& req, Token&& token = {}) {
        return run(endpoints::start_meeting{req}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name GET /v1/meetings (scope `scheduler`)
    /// The upcoming scheduled meetings, up to `filter.end_date` when set (sent as the
    /// `endDate` query parameter). Completion: `void(error_code, std::vector<api::meeting>)`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_list_meetings(const meeting_list_filter& filter, diagnostics& diag,
                             Token&& token = {}) {
        return run(endpoints::list_meetings{filter}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_list_meetings(const meeting_list_filter& filter, Token&& token = {}) {
        return run(endpoints::list_meetings{filter}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name GET /v1/meetings/{meetingId} (scope `scheduler`)
    /// One scheduled meeting. Completion: `void(error_code, api::meeting)`. Errors:
    /// `errc::not_found` for an unknown id (or another user's meeting).
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::get_meeting{meeting_id}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_meeting(std::int64_t meeting_id, Token&& token = {}) {
        return run(endpoints::get_meeting{meeting_id}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name POST /v1/meetings (scope `scheduler`)
    /// Schedules a meeting; `draft` is copied when the operation starts. Completion:
    /// `void(error_code, api::meeting)`, the meeting as created (with its `meeting_id`).
    /// Errors: `errc::bad_request` (end not after start, a missing name, ...).
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_schedule_meeting(const meeting_draft& draft, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::schedule_meeting{draft}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_schedule_meeting(const meeting_draft& draft, Token&& token = {}) {
        return run(endpoints::schedule_meeting{draft}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name PATCH /v1/meetings/{meetingId} (scope `scheduler`)
    /// Updates the members of `patch` that are set, and only those. Completion:
    /// `void(error_code, api::meeting)`, the meeting as updated. Errors: `errc::not_found`,
    /// `errc::bad_request`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch,
                              diagnostics& diag, Token&& token = {}) {
        return run(endpoints::update_meeting{meeting_id, patch}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch,
                              Token&& token = {}) {
        return run(endpoints::update_meeting{meeting_id, patch}, nullptr,
                   std::forward<Token>(token));
    }
    /// @}

    /// @name DELETE /v1/meetings/{meetingId} (scope `scheduler`)
    /// Deletes a scheduled meeting. Completion: `void(error_code)`. Errors: `errc::not_found`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_delete_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::delete_meeting{meeting_id}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_delete_meeting(std::int64_t meeting_id, Token&& token = {}) {
        return run(endpoints::delete_meeting{meeting_id}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name POST /v1/meetings/{meetingId}/start (scope `start_meeting`)
    /// Starts a scheduled meeting, with optional webhooks. Completion:
    /// `void(error_code, api::start_result)`. Errors: `errc::not_found`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       diagnostics& diag, Token&& token = {}) {
        return run(endpoints::start_scheduled_meeting{meeting_id, req}, &diag,
                   std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       Token&& token = {}) {
        return run(endpoints::start_scheduled_meeting{meeting_id, req}, nullptr,
                   std::forward<Token>(token));
    }
    /// @}

    /// @name GET /v1/presenters/{id} (scope `provisioning`, Business accounts)
    /// One presenter. Completion: `void(error_code, api::presenter)`. Errors: `errc::not_found`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_presenter(std::int64_t presenter_id, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::get_presenter{presenter_id}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_presenter(std::int64_t presenter_id, Token&& token = {}) {
        return run(endpoints::get_presenter{presenter_id}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name GET /v1/presenters (scope `provisioning`, Business accounts)
    /// Every presenter; a bare array and `{"presenters": [...]}` are both read. Completion:
    /// `void(error_code, std::vector<api::presenter>)`.
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_list_presenters(diagnostics& diag, Token&& token = {}) {
        return run(endpoints::list_presenters{}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_list_presenters(Token&& token = {}) {
        return run(endpoints::list_presenters{}, nullptr, std::forward<Token>(token));
    }
    /// @}

    /// @name POST /v1/presenters (scope `provisioning`, Business accounts)
    /// Invites `who.email` to become a presenter. Completion: `void(error_code,
    /// api::presenter)`, the new presenter. Errors: `errc::bad_request` (not an e-mail
    /// address, or already a presenter).
    /// @{

    /// With a `diagnostics&` that receives what the server said on failure; keep it
    /// alive until completion.
    template <joinme::detail::completion_token Token = default_token>
    auto async_add_presenter(const new_presenter& who, diagnostics& diag, Token&& token = {}) {
        return run(endpoints::add_presenter{who}, &diag, std::forward<Token>(token));
    }
    /// With diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_add_presenter(const new_presenter& who, Token&& token = {}) {
        return run(endpoints::add_presenter{who}, nullptr, std::forward<Token>(token));
    }
    /// @}

protected:
    /// For `basic_client`: a client over the implementation `impl`.
    explicit any_client(std::shared_ptr<detail::client_impl> impl) noexcept
        : impl_(std::move(impl)) {}

private:
    // Endpoint `e` as an operation: the one place where a description becomes a call. A
    // `timeout_after` token gives the call its deadline.
    template <class E, class Token>
    auto run(E e, diagnostics* diag, Token&& token) {
        if constexpr (joinme::detail::is_timeout_after<std::decay_t<Token>>)
            return run(std::move(e), diag, std::move(token.token), token.timeout);
        else
            return run(std::move(e), diag, std::forward<Token>(token), std::nullopt);
    }
    // With the default token, the operation's own coroutine throws: no second one around it.
    template <class E, class Token>
    auto run(E e, diagnostics* diag, Token&& token,
             std::optional<std::chrono::milliseconds> timeout) {
        if constexpr (std::is_same_v<std::decay_t<Token>, default_token>)
            return detail::run_endpoint<true>(impl_, std::move(e), diag, timeout);
        else
            return start_op(diag, std::forward<Token>(token),
                            [impl = impl_, e = std::move(e), timeout](diagnostics* d) mutable {
                                return detail::run_endpoint<false>(std::move(impl), std::move(e), d,
                                                                   timeout);
                            });
    }

    template <class Token>
    auto expire(expire_mode mode, diagnostics* diag, Token&& token) {
        return start_op(
            diag, std::forward<Token>(token), [impl = impl_, mode](diagnostics* d) mutable {
                return detail::run_expire(std::move(impl), mode == expire_mode::locally, d);
            });
    }

    template <class Token>
    auto warm_up(std::size_t connections, diagnostics* diag, Token&& token) {
        return start_op(diag, std::forward<Token>(token),
                        [impl = impl_, connections](diagnostics* d) mutable {
                            return detail::run_warm_up(std::move(impl), connections, d);
                        });
    }

    // The operation whose coroutine `make(diag)` makes, whatever its result types.
    template <class Token, class Make>
    auto start_op(diagnostics* diag, Token&& token, Make make) {
        return start_typed(diag, std::forward<Token>(token), std::move(make),
                           static_cast<decltype(make(diag))*>(nullptr));
    }
    template <class Token, class Make, class... Ts>
    auto start_typed(diagnostics* diag, Token&& token, Make make,
                     joinme::detail::op_awaitable<Ts...>*) {
        return joinme::detail::async_op<Ts...>(get_executor(), diag, std::forward<Token>(token),
                                               std::move(make));
    }

protected:
    /// The implementation, shared with the operations in flight.
    std::shared_ptr<detail::client_impl> impl_;
};

} // namespace joinme::api

#if defined(JOINME_HEADER_ONLY)
#include <joinme/api/impl/client.ipp>
#endif

#endif
