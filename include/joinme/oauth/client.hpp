// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_CLIENT_HPP
#define JOINME_OAUTH_CLIENT_HPP

/// @file
/// The authorization server's back-channel steps as asynchronous operations over a
/// `http::connection_pool` (any stream): exchange an authorization code, refresh a token,
/// expire an access token (join.me's test helper).
///
/// Every operation completes with `void(error_code, T)` and comes in two overloads:
/// - with a `diagnostics&` argument, which the caller keeps alive until completion; it is
///   cleared when the operation starts and, on failure, receives what the server said
///   (status, `error`, `error_description`, `error_uri`, join.me's `error_ticket_id`, gateway
///   headers, `Retry-After`, or the start of a body that was not the expected JSON);
/// - without it: the operation keeps its own.
///
/// The completion token defaults to `joinme::default_token`, so `co_await op(args...)` throws
/// `error_with_diagnostics` (the code and the diagnostics) on failure; `with_diagnostics(t)`
/// does the same for any token `t`, and `as_tuple(use_awaitable)` gives the error code with
/// no exception. Any completion token works (callbacks, `use_awaitable`, `use_future`,
/// `deferred`, `as_tuple`). The operations run on the pool's executor, never complete
/// inline, and complete the handler on its associated executor.
///
/// Cancellation: terminal cancellation through the completion handler's cancellation slot is
/// forwarded to the pool's request (whose connection is then closed); the operation completes
/// with `boost::asio::error::operation_aborted`.
///
/// Lifetime: the pool must outlive the operation. `cfg`, the code, the verifier, the token
/// and the access token are copied (into the request) when the operation starts.
///
/// Expiry times of returned tokens are measured from the pool's clock (`pool_options::clock`,
/// the system clock by default) when the response arrives. A `token_source`
/// (token_source.hpp) measures them against the server's clock instead (from the response's
/// `Date` header).

#include <joinme/clock.hpp>
#include <joinme/detail/async_run.hpp>
#include <joinme/detail/config.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>
#include <joinme/http/connection_pool.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/oauth/token_response.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace joinme::oauth {

using joinme::clock_function;

namespace detail {

template <class T>
using awaitable = boost::asio::awaitable<T>;

// What one request to an authorization-server endpoint brought back.
struct endpoint_reply {
    error_code ec;         // the request failed without a response (connect, timeout, ...)
    diagnostics failure;   // with `ec`: what the pool said about it (a connect's failure)
    http::response res;    // the response, any status
    time_point received{}; // local time of arrival
    std::optional<std::chrono::sys_seconds> server_date; // the response's `Date`, if valid
    std::vector<std::string> secrets;                    // what the request carried (sent_secrets)

    // Removes from `diag` whatever the server quoted of the request's credentials.
    void redact(diagnostics& diag) const {
        for (const auto& s : secrets)
            diag.redact(s);
    }
};

// The HTTP request for a built `token_request`. Headers only through Beast: nothing here is
// logged, and the pool's request events carry neither headers nor body.
inline http::request to_http_request(const token_request& tr) {
    http::request req;
    req.version(11);
    req.set(http::beast_http::field::content_type, tr.content_type);
    req.set(http::beast_http::field::accept, tr.accept);
    if (!tr.authorization.empty())
        req.set(http::beast_http::field::authorization, tr.authorization.reveal());
    req.body() = tr.body.reveal();
    return req;
}

// POSTs `tr` on `pool`, from a coroutine on the pool's executor. `clock` dates the arrival.
JOINME_DECL awaitable<endpoint_reply> post(http::connection_pool& pool, const token_request& tr,
                                           const clock_function& clock);

// Turns a reply into a token: `previous` is the refreshed token (null for a code exchange),
// `stamp` the time the token is dated with.
inline token finish_token(const endpoint_reply& r, time_point stamp, const token* previous,
                          const scope_set& requested, error_code& ec, diagnostics& diag) {
    ec = r.ec;
    if (ec) {
        diag = r.failure;
        return {};
    }
    http::fill_diagnostics(r.res, diag, r.received);
    auto out =
        previous
            ? parse_refresh_response(r.res.result_int(), r.res.body(), stamp, *previous, ec, diag)
            : parse_token_response(r.res.result_int(), r.res.body(), stamp, requested, ec, diag);
    r.redact(diag);
    return out;
}

// The operations' coroutines: a code exchange, or with `previous` a refresh of that token;
// an expire-access request. `built` is the error of building `tr`.
JOINME_DECL joinme::detail::op_awaitable<token>
run_token(http::connection_pool& pool, token_request tr, error_code built, scope_set requested,
          std::optional<token> previous, diagnostics* diag);
JOINME_DECL joinme::detail::op_awaitable<std::string>
run_expire(http::connection_pool& pool, token_request tr, error_code built, diagnostics* diag);

template <class Token>
auto token_op(http::connection_pool& pool, diagnostics* diag, Token&& token, token_request tr,
              error_code built, scope_set requested, std::optional<oauth::token> previous = {}) {
    return joinme::detail::async_op<oauth::token>(
        pool.get_executor(), diag, std::forward<Token>(token),
        [&pool, tr = std::move(tr), built, requested = std::move(requested),
         previous = std::move(previous)](diagnostics* d) mutable {
            return run_token(pool, std::move(tr), built, std::move(requested), std::move(previous),
                             d);
        });
}

template <class Token>
auto expire_op(http::connection_pool& pool, diagnostics* diag, Token&& token, token_request tr,
               error_code built) {
    return joinme::detail::async_op<std::string>(
        pool.get_executor(), diag, std::forward<Token>(token),
        [&pool, tr = std::move(tr), built](diagnostics* d) mutable {
            return run_expire(pool, std::move(tr), built, d);
        });
}

} // namespace detail

/// Exchanges an authorization code for a token (RFC 6749 §4.1.3) at `cfg.token_url`.
///
/// @param pool           connections to the token endpoint; must outlive the operation.
/// @param cfg            client registration; `redirect_uri` is sent when not empty.
/// @param code           the code from the redirect.
/// @param code_verifier  the PKCE verifier, or empty when PKCE was not used.
/// @param requested      the scopes asked for; the token's scopes when the server lists none.
/// @param diag           cleared at start; what the server said, on failure (optional).
/// @param token          completion token, signature `void(error_code, oauth::token)`.
///
/// Errors: `errc::invalid_url` (unusable `token_url`); `boost::system::errc::invalid_argument`
/// (empty code or client id, missing secret); transport errors of the pool (`errc::timeout`,
/// `errc::connection_closed`, connect and TLS errors); the token endpoint's answer as
/// `parse_token_response` reports it: an `oauth_errc` (`invalid_grant`, `invalid_client`,
/// join.me's `invalid_authorization_code`, ...), `errc::server_error` for a 5xx without an
/// OAuth error (an HTML 502 page: status and a truncated excerpt in `diag`),
/// `errc::malformed_response`, `errc::missing_parameter`; `operation_aborted` on cancellation.
template <joinme::detail::completion_token Token = default_token>
auto async_exchange_code(http::connection_pool& pool, const config& cfg, const joinme::secret& code,
                         const joinme::secret& code_verifier, const scope_set& requested,
                         diagnostics& diag, Token&& token = {}) {
    error_code built;
    auto tr = make_code_exchange_request(cfg, code, code_verifier, built);
    return detail::token_op(pool, &diag, std::forward<Token>(token), std::move(tr), built,
                            requested);
}

/// As above, with diagnostics of the operation's own.
template <joinme::detail::completion_token Token = default_token>
auto async_exchange_code(http::connection_pool& pool, const config& cfg, const joinme::secret& code,
                         const joinme::secret& code_verifier, const scope_set& requested,
                         Token&& token = {}) {
    error_code built;
    auto tr = make_code_exchange_request(cfg, code, code_verifier, built);
    return detail::token_op(pool, nullptr, std::forward<Token>(token), std::move(tr), built,
                            requested);
}

namespace detail {

// The code exchange request for what the authorization step produced: `sent`'s verifier and
// redirect URI (the one actually sent), `got`'s code.
inline token_request exchange_request(config cfg, const authorization_request& sent,
                                      const redirect_response& got, error_code& ec) {
    if (got.type != response_type::code || sent.type != response_type::code) {
        ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
        return {};
    }
    cfg.redirect_uri = sent.redirect_uri;
    return make_code_exchange_request(cfg, got.code, sent.code_verifier, ec);
}

} // namespace detail

/// Exchanges the code of a redirect for a token (RFC 6749 §4.1.3): the same operation as
/// above, given what the authorization step produced instead of its parts, so that nothing
/// can be left out. It sends `got.code`, `sent.code_verifier` (PKCE) and `sent.redirect_uri`,
/// the redirect URI the authorization request carried (with a loopback listener, only known
/// after `listen()`), in place of `cfg.redirect_uri`; a token without a `scope` gets
/// `sent.scopes`.
///
/// Errors: `boost::system::errc::invalid_argument` when `sent` or `got` is not of the code
/// grant; otherwise as the overload above.
template <joinme::detail::completion_token Token = default_token>
auto async_exchange_code(http::connection_pool& pool, const config& cfg,
                         const authorization_request& sent, const redirect_response& got,
                         diagnostics& diag, Token&& token = {}) {
    error_code built;
    auto tr = detail::exchange_request(cfg, sent, got, built);
    return detail::token_op(pool, &diag, std::forward<Token>(token), std::move(tr), built,
                            sent.scopes);
}

/// As above, with diagnostics of the operation's own.
template <joinme::detail::completion_token Token = default_token>
auto async_exchange_code(http::connection_pool& pool, const config& cfg,
                         const authorization_request& sent, const redirect_response& got,
                         Token&& token = {}) {
    error_code built;
    auto tr = detail::exchange_request(cfg, sent, got, built);
    return detail::token_op(pool, nullptr, std::forward<Token>(token), std::move(tr), built,
                            sent.scopes);
}

/// Refreshes `current` (RFC 6749 §6) at `cfg.token_url`, keeping its scopes.
///
/// The new token keeps `current`'s refresh token when the server sends none, and `current`'s
/// scopes when the server lists none. With a server that rotates refresh tokens, `current`'s
/// refresh token stops working: store the result before using it.
///
/// @param pool     connections to the token endpoint; must outlive the operation.
/// @param cfg      client registration and `token_url`.
/// @param current  the token to refresh; copied when the operation starts.
/// @param diag     cleared at start; what the server said, on failure (optional).
/// @param token    completion token, signature `void(error_code, oauth::token)`.
///
/// Errors: `errc::reauthorization_required` when `current` has no refresh token (an
/// implicit-grant token); `oauth_errc::invalid_grant` for an invalid, used, expired or revoked
/// refresh token; otherwise as `async_exchange_code`.
template <joinme::detail::completion_token Token = default_token>
auto async_refresh(http::connection_pool& pool, const config& cfg, const oauth::token& current,
                   diagnostics& diag, Token&& token = {}) {
    error_code built;
    auto tr = make_refresh_request(cfg, current.refresh_token, built);
    return detail::token_op(pool, &diag, std::forward<Token>(token), std::move(tr), built,
                            current.scopes, current);
}

/// As above, with diagnostics of the operation's own.
template <joinme::detail::completion_token Token = default_token>
auto async_refresh(http::connection_pool& pool, const config& cfg, const oauth::token& current,
                   Token&& token = {}) {
    error_code built;
    auto tr = make_refresh_request(cfg, current.refresh_token, built);
    return detail::token_op(pool, nullptr, std::forward<Token>(token), std::move(tr), built,
                            current.scopes, current);
}

/// Asks join.me to expire `access_token` now (its "Expire Access" test helper) at
/// `cfg.expire_access_url`, so that the expiry path of a program can be tested. The API may
/// keep accepting the token for a while (join.me: up to 10 minutes).
///
/// @param pool          connections to the expire-access endpoint; must outlive the operation.
/// @param cfg           client registration and `expire_access_url`.
/// @param access_token  the access token to expire; copied when the operation starts.
/// @param diag   cleared at start; what the server said, on failure (optional).
/// @param token  completion token, signature `void(error_code, std::string message)`; the
///               message is the server's, e.g. "Access Token Expired".
///
/// Errors: `boost::system::errc::invalid_argument` for an empty access token; `errc::bad_request`
/// for `"success": false` (the server's message in `diag.message`); otherwise as
/// `parse_expire_access_response` and the pool report them.
template <joinme::detail::completion_token Token = default_token>
auto async_expire_access(http::connection_pool& pool, const config& cfg,
                         const joinme::secret& access_token, diagnostics& diag,
                         Token&& token = {}) {
    error_code built;
    auto tr = make_expire_access_request(cfg, access_token, built);
    return detail::expire_op(pool, &diag, std::forward<Token>(token), std::move(tr), built);
}

/// As above, with diagnostics of the operation's own.
template <joinme::detail::completion_token Token = default_token>
auto async_expire_access(http::connection_pool& pool, const config& cfg,
                         const joinme::secret& access_token, Token&& token = {}) {
    error_code built;
    auto tr = make_expire_access_request(cfg, access_token, built);
    return detail::expire_op(pool, nullptr, std::forward<Token>(token), std::move(tr), built);
}

} // namespace joinme::oauth

#if defined(JOINME_HEADER_ONLY)
#include <joinme/oauth/impl/client.ipp>
#endif

#endif
