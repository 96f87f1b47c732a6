// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_ERROR_HPP
#define JOINME_ERROR_HPP

/// @file
/// Error model: library conditions (`errc`), RFC 6749 error codes (`oauth_errc`), the
/// `diagnostics` that carry what the server said, and the exception type that carries both.

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace joinme {

using boost::system::error_code;

/// Conditions detected by joinme itself (as opposed to a transport or OAuth error).
enum class errc {
    timeout = 1,        ///< The operation did not finish before its deadline.
    body_too_large,     ///< The response body exceeded the configured limit.
    header_too_large,   ///< The response header exceeded the configured limit.
    malformed_response, ///< The server's response could not be parsed.
    unexpected_status,  ///< The server answered with a status the operation did not expect.
    connection_closed,  ///< The server closed the connection before a complete response.
    invalid_url,        ///< A configured URL could not be parsed or has an unusable scheme.
    state_mismatch,     ///< The redirect's `state` differs from the one sent.
    missing_state,      ///< The redirect carries no `state` although one was sent.
    redirect_mismatch,  ///< The redirect does not target the expected redirect URI.
    missing_parameter,  ///< A required parameter is absent from a redirect or response.
    invalid_token,      ///< The API rejected the access token (401, or 403 `invalid_token`).
    insufficient_scope, ///< The token lacks the scope the endpoint requires.
    stale_token,        ///< join.me asks the user to renew the authorization.
    account_inactive,   ///< The API key's account is inactive (Mashery 403).
    rate_limited,       ///< Too many requests (429 or Mashery over-QPS 403), retries exhausted.
    not_found,          ///< The requested resource does not exist (404).
    bad_request,        ///< The server rejected the request body or parameters (400).
    server_error,       ///< The server failed (5xx) and retries, if any, were exhausted.
    reauthorization_required, ///< The token cannot be refreshed; the user must authorize again.
    token_store_failed,       ///< Saving or loading a token in the token store failed.
    pool_exhausted,           ///< No connection could be obtained from the pool.
};

/// Error codes of RFC 6749 §4.1.2.1, §4.2.2.1, §5.2 and RFC 6750 §3.1, plus join.me's own.
enum class oauth_errc {
    unknown_error = 1, ///< A code not listed here; the server's text is in `diagnostics::error`.
    invalid_request,
    invalid_client,
    invalid_grant,
    unauthorized_client,
    unsupported_grant_type,
    invalid_scope,
    access_denied,
    unsupported_response_type,
    server_error,
    temporarily_unavailable,
    invalid_token,
    insufficient_scope,
    invalid_authorization_code, ///< join.me's name for an expired, used or unknown code.
};

} // namespace joinme

namespace boost::system {
template <>
struct is_error_code_enum<joinme::errc> : std::true_type {};
template <>
struct is_error_code_enum<joinme::oauth_errc> : std::true_type {};
} // namespace boost::system

namespace joinme {

namespace detail {

class errc_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "joinme"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::timeout:
            return "the operation timed out; raise the timeout or check that the server is "
                   "reachable";
        case errc::body_too_large:
            return "the response body exceeds the configured limit; raise body_limit if it is "
                   "expected";
        case errc::header_too_large:
            return "the response header exceeds the configured limit";
        case errc::malformed_response:
            return "the server sent a response that could not be parsed";
        case errc::unexpected_status:
            return "the server answered with an unexpected HTTP status; see diagnostics";
        case errc::connection_closed:
            return "the server closed the connection before sending a complete response";
        case errc::invalid_url:
            return "a URL could not be parsed or uses an unsupported scheme";
        case errc::state_mismatch:
            return "the redirect's state does not match the one sent; the redirect may be forged";
        case errc::missing_state:
            return "the redirect carries no state although one was sent; the redirect may be "
                   "forged";
        case errc::redirect_mismatch:
            return "the redirect does not target the expected redirect URI";
        case errc::missing_parameter:
            return "a required parameter is missing from the server's answer";
        case errc::invalid_token:
            return "the access token was rejected; refresh it or authorize again";
        case errc::insufficient_scope:
            return "the access token lacks the scope this call requires; authorize with that scope";
        case errc::stale_token:
            return "the authorization is stale; send the user to the renew-authorization URL";
        case errc::account_inactive:
            return "the API key's account is inactive; check the application's registration";
        case errc::rate_limited:
            return "the server is rate limiting this client; retry later";
        case errc::not_found:
            return "the requested resource does not exist";
        case errc::bad_request:
            return "the server rejected the request; see diagnostics for its message";
        case errc::server_error:
            return "the server failed to process the request; retry later";
        case errc::reauthorization_required:
            return "the token cannot be refreshed; the user must authorize the application again";
        case errc::token_store_failed:
            return "the token store failed to save or load a token";
        case errc::pool_exhausted:
            return "no connection could be obtained from the pool";
        }
        return "unknown joinme error";
    }
};

class oauth_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "joinme.oauth"; }
    std::string message(int ev) const override {
        switch (static_cast<oauth_errc>(ev)) {
        case oauth_errc::unknown_error:
            return "the authorization server returned an unrecognised error; see diagnostics";
        case oauth_errc::invalid_request:
            return "invalid_request: the request is missing or repeats a parameter";
        case oauth_errc::invalid_client:
            return "invalid_client: client authentication failed; check client id and secret";
        case oauth_errc::invalid_grant:
            return "invalid_grant: the code or refresh token is invalid, expired, used or revoked";
        case oauth_errc::unauthorized_client:
            return "unauthorized_client: the client may not use this grant type";
        case oauth_errc::unsupported_grant_type:
            return "unsupported_grant_type: the server does not support this grant type";
        case oauth_errc::invalid_scope:
            return "invalid_scope: the requested scope is invalid or unknown";
        case oauth_errc::access_denied:
            return "access_denied: the user or server denied the request";
        case oauth_errc::unsupported_response_type:
            return "unsupported_response_type: the server does not support this response type";
        case oauth_errc::server_error:
            return "server_error: the authorization server failed; retry later";
        case oauth_errc::temporarily_unavailable:
            return "temporarily_unavailable: the authorization server is overloaded; retry later";
        case oauth_errc::invalid_token:
            return "invalid_token: the access token is expired, revoked or malformed";
        case oauth_errc::insufficient_scope:
            return "insufficient_scope: the access token lacks a required scope";
        case oauth_errc::invalid_authorization_code:
            return "invalid_authorization_code: the code is expired, used or unknown; authorize "
                   "again";
        }
        return "unknown OAuth error";
    }
};

} // namespace detail

/// The category of `errc` values. Its name is "joinme".
inline const boost::system::error_category& joinme_category() noexcept {
    static const detail::errc_category c;
    return c;
}

/// The category of `oauth_errc` values. Its name is "joinme.oauth".
inline const boost::system::error_category& oauth_category() noexcept {
    static const detail::oauth_category c;
    return c;
}

inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), joinme_category()};
}

inline error_code make_error_code(oauth_errc e) noexcept {
    return {static_cast<int>(e), oauth_category()};
}

namespace detail {

// The names of the enumerators, in the order of their values (from 1).
inline constexpr std::string_view errc_names[] = {
    "timeout",
    "body_too_large",
    "header_too_large",
    "malformed_response",
    "unexpected_status",
    "connection_closed",
    "invalid_url",
    "state_mismatch",
    "missing_state",
    "redirect_mismatch",
    "missing_parameter",
    "invalid_token",
    "insufficient_scope",
    "stale_token",
    "account_inactive",
    "rate_limited",
    "not_found",
    "bad_request",
    "server_error",
    "reauthorization_required",
    "token_store_failed",
    "pool_exhausted",
};
static_assert(std::size(errc_names) == static_cast<std::size_t>(errc::pool_exhausted));

// Also the RFC 6749 / RFC 6750 `error` strings.
inline constexpr std::string_view oauth_errc_names[] = {
    "unknown_error",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "invalid_token",
    "insufficient_scope",
    "invalid_authorization_code",
};
static_assert(std::size(oauth_errc_names) ==
              static_cast<std::size_t>(oauth_errc::invalid_authorization_code));

} // namespace detail

/// The enumerator's name, for logs and tests: `"timeout"`, `"body_too_large"`, ...; an empty
/// view for a value that is not an enumerator.
constexpr std::string_view to_string(errc e) noexcept {
    auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= std::size(detail::errc_names) ? detail::errc_names[i - 1]
                                                        : std::string_view{};
}

/// The enumerator's name, which is also the RFC 6749 / RFC 6750 `error` string
/// (`"invalid_grant"`, ...); `"unknown_error"` for `unknown_error`, an empty view for a value
/// that is not an enumerator.
constexpr std::string_view to_string(oauth_errc e) noexcept {
    auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= std::size(detail::oauth_errc_names) ? detail::oauth_errc_names[i - 1]
                                                              : std::string_view{};
}

/// Maps an RFC 6749 / RFC 6750 `error` string to its code; unknown strings give `unknown_error`.
inline oauth_errc to_oauth_errc(std::string_view s) noexcept {
    // From 2: "unknown_error" is not a code a server sends.
    for (std::size_t i = 2; i <= std::size(detail::oauth_errc_names); ++i)
        if (detail::oauth_errc_names[i - 1] == s)
            return static_cast<oauth_errc>(i);
    return oauth_errc::unknown_error;
}

/// True when the failure says nothing about the request itself, so that the same request may
/// succeed if sent again later (timeouts, dropped connections, 5xx, rate limits).
inline bool is_transient(const error_code& ec) noexcept {
    return ec == errc::timeout || ec == errc::connection_closed || ec == errc::server_error ||
           ec == errc::rate_limited || ec == oauth_errc::server_error ||
           ec == oauth_errc::temporarily_unavailable;
}

/// What the server said about a failure, kept apart from the client's own error code, plus
/// `client_message`: what joinme itself found wrong in an answer (a field of the wrong type).
///
/// Every field is copied from a response: none holds a request's secret (client secret,
/// access or refresh token, code, PKCE verifier). `body_excerpt` keeps at most
/// `max_excerpt` bytes of a body that was not the expected JSON (an HTML error page, say).
struct diagnostics {
    static constexpr std::size_t max_excerpt = 256;

    unsigned status = 0;             ///< HTTP status, 0 when no response arrived.
    std::string error;               ///< OAuth `error`.
    std::string error_description;   ///< OAuth `error_description`.
    std::string error_uri;           ///< OAuth `error_uri`.
    std::string error_ticket_id;     ///< join.me's `error_ticket_id` for support requests.
    std::string message;             ///< join.me API `Message`.
    std::string error_code;          ///< join.me API `ErrorCode`.
    std::string error_detail_header; ///< `X-Error-Detail-Header`.
    std::string mashery_error_code;  ///< `X-Mashery-Error-Code`.
    std::string www_authenticate;    ///< `WWW-Authenticate`.
    std::string body_excerpt;        ///< Start of a non-JSON body, truncated.
    std::string client_message;      ///< What joinme found wrong, e.g. a field of the wrong type.
    std::optional<std::chrono::seconds> retry_after; ///< `Retry-After`, when sent.

    /// Forgets everything, as before a new operation.
    void clear() { *this = diagnostics{}; }

    /// True when nothing was recorded.
    bool empty() const noexcept {
        return status == 0 && error.empty() && error_description.empty() && error_uri.empty() &&
               error_ticket_id.empty() && message.empty() && error_code.empty() &&
               error_detail_header.empty() && mashery_error_code.empty() &&
               www_authenticate.empty() && body_excerpt.empty() && client_message.empty() &&
               !retry_after;
    }

    /// Keeps the start of a body for the user to read, cut at `max_excerpt` bytes.
    void set_body_excerpt(std::string_view body) {
        body_excerpt.assign(body.substr(0, max_excerpt));
        if (body.size() > max_excerpt)
            body_excerpt += "...";
    }

    /// One line for a log: `status 400, error "invalid_grant": code expired`.
    std::string to_string() const {
        std::string out;
        auto field = [&out](std::string_view name, std::string_view value) {
            if (value.empty())
                return;
            if (!out.empty())
                out += ", ";
            out.append(name).append(" \"").append(value).append("\"");
        };
        if (status != 0)
            out = "status " + std::to_string(status);
        field("error", error);
        field("error_description", error_description);
        field("error_uri", error_uri);
        field("error_ticket_id", error_ticket_id);
        field("Message", message);
        field("ErrorCode", error_code);
        field("X-Error-Detail-Header", error_detail_header);
        field("X-Mashery-Error-Code", mashery_error_code);
        field("WWW-Authenticate", www_authenticate);
        if (retry_after) {
            if (!out.empty())
                out += ", ";
            out += "Retry-After " + std::to_string(retry_after->count()) + "s";
        }
        field("body", body_excerpt);
        field("client", client_message);
        return out;
    }

    friend std::ostream& operator<<(std::ostream& os, const diagnostics& d) {
        return os << d.to_string();
    }
};

/// The exception thrown by the throwing form of an operation: the error code plus what the
/// server said. `what()` includes both.
class error_with_diagnostics : public boost::system::system_error {
public:
    error_with_diagnostics(const error_code& ec, diagnostics diag)
        : system_error(ec, diag.to_string())
        , diag_(std::move(diag)) {}

    /// What the server said.
    const joinme::diagnostics& get_diagnostics() const noexcept { return diag_; }

private:
    joinme::diagnostics diag_;
};

/// Throws `error_with_diagnostics` when `ec` is a failure.
inline void throw_on_error(const error_code& ec, const diagnostics& diag = {}) {
    if (ec)
        throw error_with_diagnostics(ec, diag);
}

} // namespace joinme

#endif
