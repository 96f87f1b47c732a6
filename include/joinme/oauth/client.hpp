// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_CLIENT_HPP
#define JOINME_OAUTH_CLIENT_HPP

/// @file
/// The authorization server's back-channel steps as asynchronous operations over a
/// `http::basic_connection_pool<Stream>`: exchange an authorization code, refresh a token,
/// expire an access token (join.me's test helper).
///
/// Every operation comes in two forms, as in Boost.MySQL:
/// - with a `diagnostics&` argument, completing with `void(error_code, T)`. The caller owns
///   the diagnostics object and keeps it alive until completion; it is cleared when the
///   operation starts and, on failure, receives what the server said (status, `error`,
///   `error_description`, `error_uri`, join.me's `error_ticket_id`, gateway headers,
///   `Retry-After`, or the start of a body that was not the expected JSON). Expected failures
///   (`invalid_grant`, a 5xx) need no try/catch in this form.
/// - without it, completing with `void(std::exception_ptr, T)`, where the exception, when
///   set, is an `error_with_diagnostics` carrying both the code and the diagnostics. With
///   `boost::asio::use_awaitable`, `co_await` then simply throws it.
///
/// Both forms accept any completion token (callbacks, `use_awaitable`, `use_future`,
/// `deferred`, `as_tuple`), run on the pool's executor, never complete inline, and complete
/// the handler on its associated executor.
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
#include <joinme/detail/operation.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/oauth/token_response.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace joinme::oauth {

using joinme::clock_function;

namespace detail {

template <class T>
using awaitable = boost::asio::awaitable<T>;

using joinme::detail::is_token_v;

// What one request to an authorization-server endpoint brought back.
struct endpoint_reply {
    error_code ec;         // the request failed without a response (connect, timeout, ...)
    http::response res;    // the response, any status
    time_point received{}; // local time of arrival
    std::optional<std::chrono::sys_seconds> server_date; // the response's `Date`, if valid
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

// POSTs `tr` on `pool`. `clock` dates the arrival.
template <transport Stream>
awaitable<endpoint_reply> post(http::basic_connection_pool<Stream>& pool, const token_request& tr,
                               const clock_function& clock) {
    endpoint_reply out;
    auto url = joinme::detail::parse_absolute(tr.url);
    if (!url) {
        out.ec = errc::invalid_url;
        co_return out;
    }
    auto req = to_http_request(tr);
    auto [ec, res] = co_await pool.async_request(http::beast_http::verb::post, *url, std::move(req),
                                                 boost::asio::as_tuple(boost::asio::use_awaitable));
    out.received = joinme::detail::now(clock);
    out.ec = ec;
    if (ec)
        co_return out;
    out.res = std::move(res);
    if (auto d = out.res.find(http::beast_http::field::date); d != out.res.end())
        out.server_date = joinme::detail::parse_http_date(d->value());
    co_return out;
}

// Turns a reply into a token: `previous` is the refreshed token (null for a code exchange),
// `stamp` the time the token is dated with.
inline token finish_token(const endpoint_reply& r, time_point stamp, const token* previous,
                          const scope_set& requested, error_code& ec, diagnostics& diag) {
    ec = r.ec;
    if (ec)
        return {};
    http::fill_diagnostics(r.res, diag, r.received);
    if (previous)
        return parse_refresh_response(r.res.result_int(), r.res.body(), stamp, *previous, ec, diag);
    return parse_token_response(r.res.result_int(), r.res.body(), stamp, requested, ec, diag);
}

using joinme::detail::run_throwing;
using joinme::detail::run_with_diagnostics;

// The bodies of the three operations (see detail/operation.hpp). `diag` is written only on
// failure: `finish_token` and the expire parser fill it with every response's details.

// A code exchange, or with `previous` a refresh of that token.
template <transport Stream>
auto token_body(http::basic_connection_pool<Stream>& pool, token_request tr, error_code built,
                scope_set requested, std::optional<token> previous = std::nullopt) {
    return [&pool, tr = std::move(tr), built, requested = std::move(requested),
            previous = std::move(previous)](diagnostics& diag,
                                            token& out) -> awaitable<error_code> {
        if (built)
            co_return built;
        auto reply = co_await post(pool, tr, pool.options().clock);
        error_code ec;
        diagnostics d;
        out =
            finish_token(reply, reply.received, previous ? &*previous : nullptr, requested, ec, d);
        if (ec)
            diag = std::move(d);
        co_return ec;
    };
}

template <transport Stream>
auto expire_body(http::basic_connection_pool<Stream>& pool, token_request tr, error_code built) {
    return [&pool, tr = std::move(tr), built](diagnostics& diag,
                                              std::string& message) -> awaitable<error_code> {
        if (built)
            co_return built;
        auto reply = co_await post(pool, tr, pool.options().clock);
        error_code ec = reply.ec;
        if (!ec) {
            diagnostics d;
            http::fill_diagnostics(reply.res, d, reply.received);
            message = parse_expire_access_response(reply.res.result_int(), reply.res.body(), ec, d);
            if (ec)
                diag = std::move(d);
        }
        co_return ec;
    };
}

} // namespace detail

/// Exchanges an authorization code for a token (RFC 6749 §4.1.3) at `cfg.token_url`.
///
/// @param pool           connections to the token endpoint; must outlive the operation.
/// @param cfg            client registration; `redirect_uri` is sent when not empty.
/// @param code           the code from the redirect.
/// @param code_verifier  the PKCE verifier, or empty when PKCE was not used.
/// @param requested      the scopes asked for; the token's scopes when the server lists none.
/// @param diag           cleared at start; what the server said, on failure.
/// @param token          completion token, signature `void(error_code, oauth::token)`.
///
/// Errors: `errc::invalid_url` (unusable `token_url`); `boost::system::errc::invalid_argument`
/// (empty code or client id, missing secret); transport errors of the pool (`errc::timeout`,
/// `errc::connection_closed`, connect and TLS errors); the token endpoint's answer as
/// `parse_token_response` reports it: an `oauth_errc` (`invalid_grant`, `invalid_client`,
/// join.me's `invalid_authorization_code`, ...), `errc::server_error` for a 5xx without an
/// OAuth error (an HTML 502 page: status and a truncated excerpt in `diag`),
/// `errc::malformed_response`, `errc::missing_parameter`; `operation_aborted` on cancellation.
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_exchange_code(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const joinme::secret& code, const joinme::secret& code_verifier,
                         const scope_set& requested, diagnostics& diag, Token&& token) {
    error_code built;
    auto tr = make_code_exchange_request(cfg, code, code_verifier, built);
    return detail::run_with_diagnostics<oauth::token>(
        pool.get_executor(), diag, std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, requested));
}

/// As above, completing with `void(std::exception_ptr, oauth::token)`; the exception is an
/// `error_with_diagnostics`, so `co_await async_exchange_code(..., use_awaitable)` throws it.
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_exchange_code(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const joinme::secret& code, const joinme::secret& code_verifier,
                         const scope_set& requested, Token&& token) {
    error_code built;
    auto tr = make_code_exchange_request(cfg, code, code_verifier, built);
    return detail::run_throwing<oauth::token>(
        pool.get_executor(), std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, requested));
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
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_exchange_code(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const authorization_request& sent, const redirect_response& got,
                         diagnostics& diag, Token&& token) {
    error_code built;
    auto tr = detail::exchange_request(cfg, sent, got, built);
    return detail::run_with_diagnostics<oauth::token>(
        pool.get_executor(), diag, std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, sent.scopes));
}

/// As above, completing with `void(std::exception_ptr, oauth::token)` (see the file comment).
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_exchange_code(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const authorization_request& sent, const redirect_response& got,
                         Token&& token) {
    error_code built;
    auto tr = detail::exchange_request(cfg, sent, got, built);
    return detail::run_throwing<oauth::token>(
        pool.get_executor(), std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, sent.scopes));
}

/// Refreshes `current` (RFC 6749 §6) at `cfg.token_url`, keeping its scopes.
///
/// The new token keeps `current`'s refresh token when the server sends none, and `current`'s
/// scopes when the server lists none. With a server that rotates refresh tokens, `current`'s
/// refresh token stops working: store the result before using it.
///
/// @param current  the token to refresh; copied when the operation starts.
/// @param diag     cleared at start; what the server said, on failure.
/// @param token    completion token, signature `void(error_code, oauth::token)`.
///
/// Errors: `errc::reauthorization_required` when `current` has no refresh token (an
/// implicit-grant token); `oauth_errc::invalid_grant` for an invalid, used, expired or revoked
/// refresh token; otherwise as `async_exchange_code`.
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_refresh(http::basic_connection_pool<Stream>& pool, const config& cfg,
                   const oauth::token& current, diagnostics& diag, Token&& token) {
    error_code built;
    auto tr = make_refresh_request(cfg, current.refresh_token, built);
    return detail::run_with_diagnostics<oauth::token>(
        pool.get_executor(), diag, std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, current.scopes, current));
}

/// As above, completing with `void(std::exception_ptr, oauth::token)` (see the file comment).
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_refresh(http::basic_connection_pool<Stream>& pool, const config& cfg,
                   const oauth::token& current, Token&& token) {
    error_code built;
    auto tr = make_refresh_request(cfg, current.refresh_token, built);
    return detail::run_throwing<oauth::token>(
        pool.get_executor(), std::forward<Token>(token),
        detail::token_body(pool, std::move(tr), built, current.scopes, current));
}

/// Asks join.me to expire `access_token` now (its "Expire Access" test helper) at
/// `cfg.expire_access_url`, so that the expiry path of a program can be tested. The API may
/// keep accepting the token for a while (join.me: up to 10 minutes).
///
/// @param diag   cleared at start; what the server said, on failure.
/// @param token  completion token, signature `void(error_code, std::string message)`; the
///               message is the server's, e.g. "Access Token Expired".
///
/// Errors: `boost::system::errc::invalid_argument` for an empty access token; `errc::bad_request`
/// for `"success": false` (the server's message in `diag.message`); otherwise as
/// `parse_expire_access_response` and the pool report them.
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_expire_access(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const joinme::secret& access_token, diagnostics& diag, Token&& token) {
    error_code built;
    auto tr = make_expire_access_request(cfg, access_token, built);
    return detail::run_with_diagnostics<std::string>(
        pool.get_executor(), diag, std::forward<Token>(token),
        detail::expire_body(pool, std::move(tr), built));
}

/// As above, completing with `void(std::exception_ptr, std::string)` (see the file comment).
template <transport Stream, class Token>
requires detail::is_token_v<Token>
auto async_expire_access(http::basic_connection_pool<Stream>& pool, const config& cfg,
                         const joinme::secret& access_token, Token&& token) {
    error_code built;
    auto tr = make_expire_access_request(cfg, access_token, built);
    return detail::run_throwing<std::string>(pool.get_executor(), std::forward<Token>(token),
                                             detail::expire_body(pool, std::move(tr), built));
}

} // namespace joinme::oauth

#endif
