// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_CLIENT_HPP
#define JOINME_API_CLIENT_HPP

/// @file
/// `joinme::api::basic_client<Stream>`: every join.me REST endpoint (joinme-api.md §4) as an
/// asynchronous operation, with the bearer token from a `oauth::basic_token_source`, one
/// refresh and replay when the API rejects the token, and the API's errors mapped to
/// `joinme::errc` values with what the server said in `diagnostics`.
///
/// Every operation comes in two forms, as in Boost.MySQL and like the OAuth operations of
/// oauth/client.hpp:
/// - with a `diagnostics&` argument, completing with `void(error_code, T)` (`void(error_code)`
///   for `async_delete_meeting`). The caller owns the diagnostics object and keeps it alive
///   until completion; it is cleared when the operation starts and, on failure, receives what
///   the server said: HTTP status, `Message`, `ErrorCode`, `WWW-Authenticate`,
///   `X-Error-Detail-Header`, `X-Mashery-Error-Code`, `Retry-After`, or the start of a body that
///   was not the expected JSON, and in `client_message` what joinme found wrong (a member of
///   the wrong type, say). Expected failures (404, 401, a rate limit) need no try/catch.
/// - without it, completing with `void(std::exception_ptr, T)` (`void(std::exception_ptr)`),
///   where the exception, when set, is an `error_with_diagnostics` carrying the code and the
///   diagnostics. With `boost::asio::use_awaitable`, `co_await` simply throws it.
///
/// Both forms accept any completion token (callbacks, `use_awaitable`, `use_future`,
/// `deferred`, `as_tuple`), run on the client's executor, never complete inline, and complete
/// the handler on its associated executor.
///
/// `make_any_client` turns a `basic_client<Stream>` into an `any_client` (any_client.hpp),
/// whose type and operations do not depend on the stream type.

#include <joinme/api/any_client.hpp>
#include <joinme/api/error_body.hpp>
#include <joinme/api/meeting.hpp>
#include <joinme/api/parse.hpp>
#include <joinme/api/presenter.hpp>
#include <joinme/api/start.hpp>
#include <joinme/api/user.hpp>
#include <joinme/detail/ascii.hpp>
#include <joinme/detail/operation.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/error.hpp>
#include <joinme/http/message.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_source.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace joinme::api {

/// join.me's REST API base URL.
inline constexpr std::string_view default_api_base_url = "https://api.join.me";

/// Configuration of a `basic_client`.
///
/// Printing is not offered: `oauth` holds the client secret (it prints redacted through its
/// own `operator<<`).
struct client_config {
    /// The REST API's base URL, an absolute `http` or `https` URL, possibly with a path prefix;
    /// `/v1/...` is appended to it. A trailing `/` is ignored.
    std::string api_base_url{default_api_base_url};

    /// Client registration and the authorization server's endpoints (token, expire access,
    /// renew authorization). Used by the token source to refresh tokens and by
    /// `renew_authorization_url`.
    oauth::config oauth{};

    /// The connection pool shared by API calls and token refreshes: connections per origin,
    /// connect timeout, per-exchange deadline and header/body limits (`limits`), the retry
    /// policy for 429 / 503 / over-QPS answers (`retry`), `user_agent`, and the optional
    /// `on_request` observability callback (it sees method, path, status, duration, attempt
    /// and connection reuse; never a header or body, so never a token).
    http::pool_options pool{};

    /// Refresh margin, clock, token store and user key of the token source.
    oauth::token_source_options token_source{};

    /// Lets the API and the authorization server be in different environments: one of them
    /// production join.me, the other not. Off by default: such a client fails every call with
    /// `errc::invalid_url` and says why, so that a test set-up that points only the API at a
    /// test server cannot send the client secret and refresh tokens to production.
    bool allow_mixed_environments = false;

    /// Points the whole environment, the API and the authorization server, at `base`, where
    /// an emulator such as the bundled sandbox serves both: `api_base_url` becomes `base`, and
    /// `oauth.set_auth_base_url(base)` sets the OAuth endpoints.
    client_config& set_base_url(std::string_view base) {
        api_base_url = std::string(base);
        oauth.set_auth_base_url(base);
        return *this;
    }
};

/// Counters of a client's authorization handling, for tests and monitoring.
struct client_stats {
    std::size_t rejected_tokens = 0; ///< API answers that rejected the access token.
    std::size_t replays = 0;         ///< Calls sent again with a refreshed token.
};

/// The error a join.me API response stands for, and what the server said about it.
///
/// Any 2xx is a success (the code is cleared and `diag` left alone). For anything else,
/// `diag` receives the status, the headers of `http::fill_diagnostics`, and what
/// `read_error_body` finds in the body, and the result is, first match wins:
/// - `errc::account_inactive`: `X-Mashery-Error-Code: ERR_403_DEVELOPER_INACTIVE` or
///   `X-Error-Detail-Header: Account Inactive` (the gateway also says `invalid_token` in
///   `WWW-Authenticate` then, but a refresh cannot help);
/// - `errc::rate_limited`: 429, or the gateway's over-QPS / over-rate 403;
/// - `errc::stale_token`: `ErrorCode` `stale_token`;
/// - `errc::insufficient_scope`: `ErrorCode` or the `WWW-Authenticate` `error` parameter
///   `insufficient_scope`;
/// - `errc::invalid_token`: any other 401, or a 403 whose `WWW-Authenticate` `error` (or
///   `ErrorCode`) is `invalid_token`;
/// - `errc::not_found` for 404, `errc::bad_request` for 400, `errc::server_error` for 5xx,
///   `errc::unexpected_status` for any other status.
///
/// Sans-I/O: no stream, no clock other than `now` (for a `Retry-After` date).
inline error_code
check_response(const http::response& res, diagnostics& diag,
               std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

namespace detail {

template <class T>
using awaitable = boost::asio::awaitable<T>;

using joinme::detail::ascii_iequals;

// The `error` auth-param of a `WWW-Authenticate` challenge (RFC 6750 §3):
// `Bearer realm="api.join.me", error="invalid_token"` gives `invalid_token`; empty if none.
inline std::string bearer_error(std::string_view header) {
    std::size_t i = 0;
    auto skip = [&] {
        while (i < header.size() && (header[i] == ' ' || header[i] == '\t' || header[i] == ','))
            ++i;
    };
    auto is_token_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' ||
               c == '&' || c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' ||
               c == '~';
    };
    while (i < header.size()) {
        skip();
        std::size_t start = i;
        while (i < header.size() && is_token_char(header[i]))
            ++i;
        std::string_view name = header.substr(start, i - start);
        if (name.empty()) {
            ++i; // a stray character: step over it
            continue;
        }
        while (i < header.size() && (header[i] == ' ' || header[i] == '\t'))
            ++i;
        if (i >= header.size() || header[i] != '=')
            continue; // the scheme, or a token68
        ++i;
        while (i < header.size() && (header[i] == ' ' || header[i] == '\t'))
            ++i;
        std::string value;
        if (i < header.size() && header[i] == '"') {
            ++i;
            while (i < header.size() && header[i] != '"') {
                if (header[i] == '\\' && i + 1 < header.size())
                    ++i;
                value += header[i++];
            }
            ++i;
        } else {
            while (i < header.size() && is_token_char(header[i]))
                value += header[i++];
        }
        if (ascii_iequals(name, "error"))
            return value;
    }
    return {};
}

} // namespace detail

inline error_code check_response(const http::response& res, diagnostics& diag,
                                 std::chrono::system_clock::time_point now) {
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300)
        return {};
    http::fill_diagnostics(res, diag, now);
    read_error_body(res.body(), diag);
    const auto challenge = detail::bearer_error(diag.www_authenticate);
    if (diag.mashery_error_code == "ERR_403_DEVELOPER_INACTIVE" ||
        detail::ascii_iequals(diag.error_detail_header, "Account Inactive"))
        return errc::account_inactive;
    if (status == 429 || (status == 403 && http::is_rate_limited(res)))
        return errc::rate_limited;
    if (diag.error_code == "stale_token")
        return errc::stale_token;
    if (diag.error_code == "insufficient_scope" || challenge == "insufficient_scope")
        return errc::insufficient_scope;
    if (status == 401 ||
        (status == 403 && (challenge == "invalid_token" || diag.error_code == "invalid_token")))
        return errc::invalid_token;
    if (status == 404)
        return errc::not_found;
    if (status == 400)
        return errc::bad_request;
    if (status >= 500 && status < 600)
        return errc::server_error;
    return errc::unexpected_status;
}

namespace detail {

// One API request before authorization: method, path and query below the base URL, body.
struct api_call {
    boost::beast::http::verb method{};
    std::string target; // "/v1/meetings?endDate=..."
    std::string body;   // JSON text, or empty
};

template <class Model>
std::string to_body(const Model& m) {
    return boost::json::serialize(boost::json::value_from(m));
}

// The state a client and its operations share.
template <transport Stream>
struct client_state {
    client_state(boost::asio::any_io_executor ex, typename stream_traits<Stream>::context_type ctx,
                 client_config c)
        : cfg(std::move(c))
        , pool(std::move(ex), std::move(ctx), cfg.pool)
        , source(pool, cfg.oauth, cfg.token_source) {
        // Parsed once: every call goes to this origin, below this path.
        auto parsed = joinme::detail::parse_absolute(cfg.api_base_url);
        if (!parsed) {
            base_error = errc::invalid_url;
            base_error_message = "api_base_url is not an absolute URL";
            return;
        }
        api_origin = origin_of(*parsed, base_error);
        if (base_error) {
            base_error_message = "api_base_url is not an http or https URL";
            return;
        }
        base_path = parsed->encoded_path();
        while (!base_path.empty() && base_path.back() == '/')
            base_path.pop_back();
        // The endpoints that receive the client secret or a token must be in the API's
        // environment: production join.me, or not.
        const bool production_api = cfg.api_base_url == default_api_base_url;
        auto elsewhere = [production_api](std::string_view url, std::string_view production) {
            return (url == production) != production_api;
        };
        if (!cfg.allow_mixed_environments &&
            (elsewhere(cfg.oauth.token_url, oauth::default_token_url) ||
             elsewhere(cfg.oauth.expire_access_url, oauth::default_expire_access_url))) {
            base_error = errc::invalid_url;
            base_error_message =
                "api_base_url and the token or expire-access endpoint are in different "
                "environments (one is production join.me): set them together with "
                "client_config::set_base_url, or set allow_mixed_environments";
        }
    }

    client_config cfg;
    origin api_origin;     // of api_base_url
    std::string base_path; // api_base_url's path without a trailing '/'
    error_code base_error; // api_base_url is unusable
    std::string base_error_message;
    http::basic_connection_pool<Stream> pool;
    oauth::basic_token_source<Stream> source;
    client_stats stats;
};

inline http::request make_request(const api_call& call, std::string_view base_path,
                                  const joinme::secret& access_token) {
    http::request req;
    req.version(11);
    req.method(call.method);
    std::string target;
    target.reserve(base_path.size() + call.target.size());
    target.append(base_path).append(call.target);
    req.target(target);
    // The header is the only place the token goes; request events carry no header.
    req.set(boost::beast::http::field::authorization, "Bearer " + access_token.reveal());
    req.set(boost::beast::http::field::accept, "application/json");
    if (!call.body.empty()) {
        req.set(boost::beast::http::field::content_type, "application/json");
        req.body() = call.body;
    }
    return req;
}

// The access token to send: the current one, or the result of a (shared) refresh. With
// `rejected`, one other than that token. Kept out of `send_authorized` so that the frame of
// every call does not carry what only a refresh needs.
template <transport Stream>
awaitable<error_code> fetch_token(client_state<Stream>& st, const joinme::secret* rejected,
                                  diagnostics& diag, joinme::secret& access) {
    // (g++ 12 miscompiles `co_await` inside `?:`.)
    auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
    std::tuple<error_code, oauth::token> r;
    if (rejected)
        r = co_await st.source.async_force_refresh(*rejected, diag, token);
    else
        r = co_await st.source.async_get_token(diag, token);
    if (!std::get<0>(r))
        access = std::move(std::get<1>(r).access_token);
    co_return std::get<0>(r);
}

// Sends `call` with the current token; on a rejected token, one forced refresh and one
// replay. Reads the 2xx response into `res`, or returns the error with `diag` filled.
template <transport Stream>
awaitable<error_code> send_authorized(client_state<Stream>& st, const api_call& call,
                                      diagnostics& diag, http::response& res) {
    if (st.base_error) {
        diag.client_message = st.base_error_message;
        co_return st.base_error;
    }
    // A token that needs no refresh is taken as is: no I/O, no coroutine.
    joinme::secret access;
    if (auto* current = st.source.usable_token()) {
        access = current->access_token;
    } else if (auto ec = co_await fetch_token(st, nullptr, diag, access)) {
        co_return ec;
    }

    for (bool replayed = false;; replayed = true) {
        auto ec = co_await st.pool.co_request(st.api_origin,
                                              make_request(call, st.base_path, access), res);
        if (ec)
            co_return ec;
        ec = check_response(res, diag);
        if (!ec)
            co_return ec;
        res = http::response{};
        if (ec == errc::invalid_token)
            ++st.stats.rejected_tokens;
        if (ec == errc::invalid_token && !replayed) {
            // One refresh (shared with every call that saw the same token rejected), then
            // one replay. A second rejection is reported as is.
            // (The refresh clears `diag` of the rejection as it starts.)
            auto rejected = std::move(access);
            if (auto fec = co_await fetch_token(st, &rejected, diag, access))
                co_return fec;
            ++st.stats.replays;
            continue;
        }
        if (ec == errc::stale_token)
            diag.client_message = "join.me asks the user to renew the authorization: send the "
                                  "browser to the client's renew_authorization_url()";
        co_return ec;
    }
}

// The result an operation hands out for the body model `Model`.
template <class Model>
struct result_of_model {
    using type = Model;
    static Model take(Model&& m) { return std::move(m); }
};
template <>
struct result_of_model<meeting_list> {
    using type = std::vector<meeting>;
    static type take(meeting_list&& m) { return std::move(m.meetings); }
};
template <>
struct result_of_model<presenter_list> {
    using type = std::vector<presenter>;
    static type take(presenter_list&& m) { return std::move(m.presenters); }
};

template <class Model>
using result_t = typename result_of_model<Model>::type;

// Reads a 2xx body as `Model` into `out`. Not a coroutine: the parser's state stays off the
// coroutine frames.
template <class Model>
error_code read_body(const http::response& res, result_t<Model>& out, diagnostics& diag) {
    error_code ec;
    bool ok = false;
    if constexpr (std::is_same_v<result_t<Model>, Model>) {
        ok = api::detail::parse_into(res.body(), out, ec, diag);
    } else {
        Model model;
        ok = api::detail::parse_into(res.body(), model, ec, diag);
        if (ok)
            out = result_of_model<Model>::take(std::move(model));
    }
    if (!ok)
        http::fill_diagnostics(res, diag);
    return ec;
}

// Sends `call` and reads the 2xx body as `Model` into `out`.
template <class Model, transport Stream>
awaitable<error_code> call_and_parse(client_state<Stream>& st, const api_call& call,
                                     diagnostics& diag, result_t<Model>& out) {
    http::response res;
    auto ec = co_await send_authorized(st, call, diag, res);
    if (!ec)
        ec = read_body<Model>(res, out, diag);
    co_return ec;
}

// Sends `call` and ignores the 2xx body.
template <transport Stream>
awaitable<error_code> call_no_result(client_state<Stream>& st, const api_call& call,
                                     diagnostics& diag) {
    http::response res;
    auto ec = co_await send_authorized(st, call, diag, res);
    co_return ec;
}

using joinme::detail::run_throwing;
using joinme::detail::run_with_diagnostics;

// The body of an operation. The coroutines it starts take the state and the call by reference:
// this function object outlives them (the operation keeps it until it completes).
template <class Model, transport Stream>
auto parse_body(std::shared_ptr<client_state<Stream>> st, api_call call) {
    return [st = std::move(st), call = std::move(call)](diagnostics& diag, result_t<Model>& out) {
        return call_and_parse<Model>(*st, call, diag, out);
    };
}

template <transport Stream>
auto no_result_body(std::shared_ptr<client_state<Stream>> st, api_call call) {
    return [st = std::move(st), call = std::move(call)](diagnostics& diag) {
        return call_no_result(*st, call, diag);
    };
}

inline std::string id_path(std::string_view prefix, std::int64_t id, std::string_view suffix = {}) {
    std::string out(prefix);
    out += std::to_string(id);
    out += suffix;
    return out;
}

inline std::string list_meetings_target(const meeting_list_filter& filter) {
    boost::urls::url u("/v1/meetings");
    for (auto& [name, value] : filter.query_parameters())
        u.params().append({name, value});
    return std::string(u.buffer());
}

} // namespace detail

/// A join.me REST API client over connections of type `Stream` (`beast::ssl_stream<
/// beast::tcp_stream>` for production, `beast::tcp_stream` or `beast::test::stream` for
/// tests; any type with a `stream_traits` specialization).
///
/// It owns a keep-alive connection pool (shared by every API call and token refresh) and a
/// token source on that pool. Every call:
/// - gets the access token from the token source (which refreshes it ahead of expiry, one
///   refresh at a time however many calls wait) and sends it as `Authorization: Bearer`;
/// - when the API rejects the token (401, or 403 whose `WWW-Authenticate` says
///   `invalid_token`), asks the token source once for a token other than the rejected one
///   (a refresh shared with every other call that saw the same rejection) and sends the call
///   once more; a second rejection is reported as `errc::invalid_token`. If the refresh
///   fails, the call fails with the refresh's error and diagnostics (`oauth_errc::invalid_grant`
///   for a revoked refresh token, `errc::reauthorization_required` for a token without one);
/// - lets the pool retry 429 / 503 / over-QPS answers per `client_config::pool.retry` (only
///   idempotent calls unless `retry_non_idempotent`), then reports the last answer;
/// - maps a non-2xx answer with `check_response` (`errc::stale_token`,
///   `errc::insufficient_scope`, `errc::account_inactive`, `errc::rate_limited`,
///   `errc::not_found`, `errc::bad_request`, `errc::server_error`, ...); a stale token is never
///   refreshed: send the user to `renew_authorization_url()`;
/// - reports a 2xx body that is not the expected model as `errc::malformed_response`, the
///   member path in `client_message`, and connection failures as the pool does
///   (`errc::timeout`, `errc::connection_closed`, connect and TLS errors).
///
/// Errors common to all operations are listed here; the operations list only their own.
///
/// Thread safety: not thread-safe. Operations run on the client's executor; start them from
/// it (a strand on a multi-threaded io_context). Any number of operations may be in flight at
/// once; they share the pool's connections (`pool.max_connections_per_origin`).
///
/// Cancellation: every operation supports terminal cancellation through the completion
/// handler's cancellation slot and then completes with `operation_aborted`. The cancellation
/// reaches what the call is waiting for: the pool's request (whose connection is closed, see
/// `basic_connection_pool::async_request`) or the token source (a refresh shared with other
/// calls goes on for them, see `basic_token_source::async_get_token`).
///
/// Lifetime: operations keep the client's state (pool, token source) alive, so the client
/// object may be destroyed while they run; they complete. Destroying or `close()`-ing it
/// closes the pool (see `basic_connection_pool::close`): idle connections are closed, calls
/// waiting for a connection fail with `operation_aborted`, requests already on a connection
/// finish. `context_type` values that refer to other objects (the `ssl::context` of a
/// `tls_context`) must outlive every operation.
template <transport Stream>
class basic_client {
public:
    using executor_type = boost::asio::any_io_executor;
    using stream_type = Stream;
    using context_type = typename stream_traits<Stream>::context_type;
    using pool_type = http::basic_connection_pool<Stream>;
    using token_source_type = oauth::basic_token_source<Stream>;

    /// @param ex   executor of every operation and connection.
    /// @param ctx  what new connections need (`tls_context` for TLS, `tcp_context` for TCP, a
    ///             `test_stream_connector` for in-memory streams).
    /// @param cfg  URLs, credentials, pool and token source settings.
    basic_client(executor_type ex, context_type ctx, client_config cfg = {})
        : st_(std::make_shared<detail::client_state<Stream>>(std::move(ex), std::move(ctx),
                                                             std::move(cfg))) {}

    basic_client(const basic_client&) = delete;
    basic_client& operator=(const basic_client&) = delete;

    /// Takes over `other`'s state; `other` may then only be destroyed or assigned to.
    basic_client(basic_client&& other) noexcept = default;

    /// Closes this client (see `close`) and takes over `other`'s state.
    basic_client& operator=(basic_client&& other) noexcept {
        if (this != &other) {
            close();
            st_ = std::move(other.st_);
        }
        return *this;
    }

    /// Closes idle connections (see `close`).
    ~basic_client() { close(); }

    /// The executor every operation runs on.
    executor_type get_executor() const noexcept { return st_->pool.get_executor(); }

    /// The configuration in effect.
    const client_config& config() const noexcept { return st_->cfg; }

    /// The connection pool (for its `stats()`, or for `oauth::async_exchange_code` and the
    /// other OAuth steps, which then share the client's connections).
    pool_type& pool() noexcept { return st_->pool; }

    /// The token source that supplies the bearer token.
    token_source_type& token_source() noexcept { return st_->source; }

    /// Makes `t` the current token (after a code exchange or an implicit redirect); see
    /// `oauth::basic_token_source::set_token`.
    void set_token(oauth::token t) { st_->source.set_token(std::move(t)); }

    /// Counters of rejected tokens and replays.
    const client_stats& stats() const noexcept { return st_->stats; }

    /// join.me's renew-authorization URL for the current token, where to send the user's
    /// browser after a call failed with `errc::stale_token`. It carries the access token,
    /// hence is a `secret`.
    ///
    /// Errors: `errc::reauthorization_required` when no token is held; otherwise those of
    /// `oauth::make_renew_authorization_url` (`errc::invalid_url`, `invalid_argument`).
    joinme::secret renew_authorization_url(error_code& ec) const {
        const auto& t = st_->source.current_token();
        if (!t) {
            ec = errc::reauthorization_required;
            return {};
        }
        return oauth::make_renew_authorization_url(st_->cfg.oauth, t->access_token, ec);
    }

    /// As above; throws `error_with_diagnostics` instead.
    joinme::secret renew_authorization_url() const {
        error_code ec;
        auto u = renew_authorization_url(ec);
        throw_on_error(ec);
        return u;
    }

    /// Closes idle connections and fails operations waiting for a connection with
    /// `operation_aborted`; requests on a connection finish. The client cannot be used for
    /// new requests afterwards. Does nothing on a moved-from client.
    void close() {
        if (st_)
            st_->pool.close();
    }

    // ---------------------------------------------------------------------------------------
    /// @name GET /v1/user (scope `user_info`)
    /// The user the token belongs to. Completion: `void(error_code, api::user)`, or
    /// `void(std::exception_ptr, api::user)` without `diag`.
    /// @{
    template <detail::completion_token Token>
    auto async_get_user(diagnostics& diag, Token&& token) {
        return with_diag<user>(diag, std::forward<Token>(token), get_user_call());
    }
    template <detail::completion_token Token>
    auto async_get_user(Token&& token) {
        return throwing<user>(std::forward<Token>(token), get_user_call());
    }
    /// @}

    /// @name POST /v1/meetings/start (scope `start_meeting`)
    /// Starts an ad hoc meeting. `req` is copied when the operation starts. Completion:
    /// `void(error_code, api::start_result)`; its `presenter_link` is a one-time login link:
    /// do not log it. Errors: `errc::bad_request` (e.g. `start_with_personal_url` for a user
    /// without a personal URL).
    /// @{
    template <detail::completion_token Token>
    auto async_start_meeting(const start_request& req, diagnostics& diag, Token&& token) {
        return with_diag<start_result>(diag, std::forward<Token>(token), start_call(req));
    }
    template <detail::completion_token Token>
    auto async_start_meeting(const start_request& req, Token&& token) {
        return throwing<start_result>(std::forward<Token>(token), start_call(req));
    }
    /// @}

    /// @name GET /v1/meetings (scope `scheduler`)
    /// The upcoming scheduled meetings, up to `filter.end_date` when set (sent as the
    /// `endDate` query parameter). Completion: `void(error_code, std::vector<api::meeting>)`.
    /// @{
    template <detail::completion_token Token>
    auto async_list_meetings(const meeting_list_filter& filter, diagnostics& diag, Token&& token) {
        return with_diag<meeting_list>(diag, std::forward<Token>(token), list_call(filter));
    }
    template <detail::completion_token Token>
    auto async_list_meetings(const meeting_list_filter& filter, Token&& token) {
        return throwing<meeting_list>(std::forward<Token>(token), list_call(filter));
    }
    /// @}

    /// @name GET /v1/meetings/{meetingId} (scope `scheduler`)
    /// One scheduled meeting. Completion: `void(error_code, api::meeting)`. Errors:
    /// `errc::not_found` for an unknown id (or another user's meeting).
    /// @{
    template <detail::completion_token Token>
    auto async_get_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token) {
        return with_diag<meeting>(diag, std::forward<Token>(token), get_meeting_call(meeting_id));
    }
    template <detail::completion_token Token>
    auto async_get_meeting(std::int64_t meeting_id, Token&& token) {
        return throwing<meeting>(std::forward<Token>(token), get_meeting_call(meeting_id));
    }
    /// @}

    /// @name POST /v1/meetings (scope `scheduler`)
    /// Schedules a meeting; `draft` is copied when the operation starts. Completion:
    /// `void(error_code, api::meeting)`, the meeting as created (with its `meeting_id`).
    /// Errors: `errc::bad_request` (end not after start, a missing name, ...).
    /// @{
    template <detail::completion_token Token>
    auto async_schedule_meeting(const meeting_draft& draft, diagnostics& diag, Token&& token) {
        return with_diag<meeting>(diag, std::forward<Token>(token), schedule_call(draft));
    }
    template <detail::completion_token Token>
    auto async_schedule_meeting(const meeting_draft& draft, Token&& token) {
        return throwing<meeting>(std::forward<Token>(token), schedule_call(draft));
    }
    /// @}

    /// @name PATCH /v1/meetings/{meetingId} (scope `scheduler`)
    /// Updates the members of `patch` that are set, and only those. Completion:
    /// `void(error_code, api::meeting)`, the meeting as updated. Errors: `errc::not_found`,
    /// `errc::bad_request`.
    /// @{
    template <detail::completion_token Token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch,
                              diagnostics& diag, Token&& token) {
        return with_diag<meeting>(diag, std::forward<Token>(token), update_call(meeting_id, patch));
    }
    template <detail::completion_token Token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch, Token&& token) {
        return throwing<meeting>(std::forward<Token>(token), update_call(meeting_id, patch));
    }
    /// @}

    /// @name DELETE /v1/meetings/{meetingId} (scope `scheduler`)
    /// Deletes a scheduled meeting. Completion: `void(error_code)`, or
    /// `void(std::exception_ptr)` without `diag`. Errors: `errc::not_found`.
    /// @{
    template <detail::completion_token Token>
    auto async_delete_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token) {
        return with_diag_void(diag, std::forward<Token>(token), delete_call(meeting_id));
    }
    template <detail::completion_token Token>
    auto async_delete_meeting(std::int64_t meeting_id, Token&& token) {
        return throwing_void(std::forward<Token>(token), delete_call(meeting_id));
    }
    /// @}

    /// @name POST /v1/meetings/{meetingId}/start (scope `start_meeting`)
    /// Starts a scheduled meeting, with optional webhooks. Completion:
    /// `void(error_code, api::start_result)`. Errors: `errc::not_found`.
    /// @{
    template <detail::completion_token Token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       diagnostics& diag, Token&& token) {
        return with_diag<start_result>(diag, std::forward<Token>(token),
                                       start_scheduled_call(meeting_id, req));
    }
    template <detail::completion_token Token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       Token&& token) {
        return throwing<start_result>(std::forward<Token>(token),
                                      start_scheduled_call(meeting_id, req));
    }
    /// @}

    /// @name GET /v1/presenters/{id} (scope `provisioning`, Business accounts)
    /// One presenter. Completion: `void(error_code, api::presenter)`. Errors: `errc::not_found`.
    /// @{
    template <detail::completion_token Token>
    auto async_get_presenter(std::int64_t presenter_id, diagnostics& diag, Token&& token) {
        return with_diag<presenter>(diag, std::forward<Token>(token),
                                    get_presenter_call(presenter_id));
    }
    template <detail::completion_token Token>
    auto async_get_presenter(std::int64_t presenter_id, Token&& token) {
        return throwing<presenter>(std::forward<Token>(token), get_presenter_call(presenter_id));
    }
    /// @}

    /// @name GET /v1/presenters (scope `provisioning`, Business accounts)
    /// Every presenter; a bare array and `{"presenters": [...]}` are both read. Completion:
    /// `void(error_code, std::vector<api::presenter>)`.
    /// @{
    template <detail::completion_token Token>
    auto async_list_presenters(diagnostics& diag, Token&& token) {
        return with_diag<presenter_list>(diag, std::forward<Token>(token), list_presenters_call());
    }
    template <detail::completion_token Token>
    auto async_list_presenters(Token&& token) {
        return throwing<presenter_list>(std::forward<Token>(token), list_presenters_call());
    }
    /// @}

    /// @name POST /v1/presenters (scope `provisioning`, Business accounts)
    /// Invites `who.email` to become a presenter. Completion: `void(error_code,
    /// api::presenter)`, the new presenter. Errors: `errc::bad_request` (not an e-mail
    /// address, or already a presenter).
    /// @{
    template <detail::completion_token Token>
    auto async_add_presenter(const new_presenter& who, diagnostics& diag, Token&& token) {
        return with_diag<presenter>(diag, std::forward<Token>(token), add_presenter_call(who));
    }
    template <detail::completion_token Token>
    auto async_add_presenter(const new_presenter& who, Token&& token) {
        return throwing<presenter>(std::forward<Token>(token), add_presenter_call(who));
    }
    /// @}

private:
    using verb = boost::beast::http::verb;
    using call = detail::api_call;

    static call get_user_call() { return {verb::get, "/v1/user", {}}; }
    static call start_call(const start_request& r) {
        return {verb::post, "/v1/meetings/start", detail::to_body(r)};
    }
    static call list_call(const meeting_list_filter& f) {
        return {verb::get, detail::list_meetings_target(f), {}};
    }
    static call get_meeting_call(std::int64_t id) {
        return {verb::get, detail::id_path("/v1/meetings/", id), {}};
    }
    static call schedule_call(const meeting_draft& d) {
        return {verb::post, "/v1/meetings", detail::to_body(d)};
    }
    static call update_call(std::int64_t id, const meeting_patch& p) {
        return {verb::patch, detail::id_path("/v1/meetings/", id), detail::to_body(p)};
    }
    static call delete_call(std::int64_t id) {
        return {verb::delete_, detail::id_path("/v1/meetings/", id), {}};
    }
    static call start_scheduled_call(std::int64_t id, const scheduled_start_request& r) {
        return {verb::post, detail::id_path("/v1/meetings/", id, "/start"), detail::to_body(r)};
    }
    static call get_presenter_call(std::int64_t id) {
        return {verb::get, detail::id_path("/v1/presenters/", id), {}};
    }
    static call list_presenters_call() { return {verb::get, "/v1/presenters", {}}; }
    static call add_presenter_call(const new_presenter& p) {
        return {verb::post, "/v1/presenters", detail::to_body(p)};
    }

    template <class Model, class Token>
    auto with_diag(diagnostics& diag, Token&& token, call c) {
        return detail::run_with_diagnostics<detail::result_t<Model>>(
            get_executor(), diag, std::forward<Token>(token),
            detail::parse_body<Model>(st_, std::move(c)));
    }
    template <class Model, class Token>
    auto throwing(Token&& token, call c) {
        return detail::run_throwing<detail::result_t<Model>>(
            get_executor(), std::forward<Token>(token),
            detail::parse_body<Model>(st_, std::move(c)));
    }
    template <class Token>
    auto with_diag_void(diagnostics& diag, Token&& token, call c) {
        return detail::run_with_diagnostics<>(get_executor(), diag, std::forward<Token>(token),
                                              detail::no_result_body(st_, std::move(c)));
    }
    template <class Token>
    auto throwing_void(Token&& token, call c) {
        return detail::run_throwing<>(get_executor(), std::forward<Token>(token),
                                      detail::no_result_body(st_, std::move(c)));
    }

    std::shared_ptr<detail::client_state<Stream>> st_;
};

namespace detail {

// `client_interface` over a `basic_client<Stream>`.
template <transport Stream>
class erased_client final : public client_interface {
public:
    explicit erased_client(basic_client<Stream> c) : c_(std::move(c)) {}

    boost::asio::any_io_executor get_executor() const override { return c_.get_executor(); }
    void set_token(oauth::token t) override { c_.set_token(std::move(t)); }
    joinme::secret renew_authorization_url(error_code& ec) const override {
        return c_.renew_authorization_url(ec);
    }
    void close() override { c_.close(); }

    void get_user(diagnostics& d, handler<user> h) override { c_.async_get_user(d, std::move(h)); }
    void start_meeting(start_request r, diagnostics& d, handler<start_result> h) override {
        c_.async_start_meeting(r, d, std::move(h));
    }
    void list_meetings(meeting_list_filter f, diagnostics& d,
                       handler<std::vector<meeting>> h) override {
        c_.async_list_meetings(f, d, std::move(h));
    }
    void get_meeting(std::int64_t id, diagnostics& d, handler<meeting> h) override {
        c_.async_get_meeting(id, d, std::move(h));
    }
    void schedule_meeting(meeting_draft m, diagnostics& d, handler<meeting> h) override {
        c_.async_schedule_meeting(m, d, std::move(h));
    }
    void update_meeting(std::int64_t id, meeting_patch p, diagnostics& d,
                        handler<meeting> h) override {
        c_.async_update_meeting(id, p, d, std::move(h));
    }
    void delete_meeting(std::int64_t id, diagnostics& d, handler<> h) override {
        c_.async_delete_meeting(id, d, std::move(h));
    }
    void start_scheduled_meeting(std::int64_t id, scheduled_start_request r, diagnostics& d,
                                 handler<start_result> h) override {
        c_.async_start_scheduled_meeting(id, r, d, std::move(h));
    }
    void get_presenter(std::int64_t id, diagnostics& d, handler<presenter> h) override {
        c_.async_get_presenter(id, d, std::move(h));
    }
    void list_presenters(diagnostics& d, handler<std::vector<presenter>> h) override {
        c_.async_list_presenters(d, std::move(h));
    }
    void add_presenter(new_presenter p, diagnostics& d, handler<presenter> h) override {
        c_.async_add_presenter(p, d, std::move(h));
    }

private:
    basic_client<Stream> c_;
};

} // namespace detail

/// Moves `c` into an `any_client`: the same client (pool, token source, configuration)
/// behind a type that does not name `Stream`. Instantiate it in one translation unit; the
/// others need only any_client.hpp.
template <transport Stream>
any_client make_any_client(basic_client<Stream> c) {
    return any_client(std::make_shared<detail::erased_client<Stream>>(std::move(c)));
}

} // namespace joinme::api

#endif
