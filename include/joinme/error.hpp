// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_ERROR_HPP
#define JOINME_ERROR_HPP

/// @file
/// Error model: library conditions (`errc`), RFC 6749 error codes (`oauth_errc`), the
/// `diagnostics` that carry what the server said, and the exception type that carries both.

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
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
    /// The server's certificate does not chain to a trusted authority (unknown or untrusted
    /// issuer, self-signed, chain too long).
    certificate_untrusted,
    certificate_name_mismatch, ///< The server's certificate is for another host name or address.
    certificate_expired,       ///< The server's certificate has expired.
    certificate_not_yet_valid, ///< The server's certificate is not valid yet (check the clock).
    certificate_invalid,       ///< The server's certificate failed verification for another reason.
    /// No connection could be made to the HTTP proxy (refused, unreachable, its name unknown).
    proxy_unreachable,
    /// The proxy answered CONNECT with 407: it wants credentials, or other ones.
    proxy_auth_required,
    /// The proxy refused to open a tunnel (403, 405, 502, 503...): its status is in diagnostics.
    proxy_refused,
    /// The proxy could not reach the origin server (it said so, or timed out connecting).
    proxy_origin_unreachable,
    /// The proxy's answer to CONNECT could not be parsed.
    proxy_malformed_response,
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

// An enumerator's name and message; a category's table lists them in the order of the values,
// from 1.
struct errc_info {
    std::string_view name;
    const char* message;
};

inline constexpr errc_info errc_table[] = {
    {"timeout", "the operation timed out; raise the timeout or check that the server is reachable"},
    {"body_too_large",
     "the response body exceeds the configured limit; raise body_limit if it is expected"},
    {"header_too_large", "the response header exceeds the configured limit"},
    {"malformed_response", "the server sent a response that could not be parsed"},
    {"unexpected_status", "the server answered with an unexpected HTTP status; see diagnostics"},
    {"connection_closed", "the server closed the connection before sending a complete response"},
    {"invalid_url", "a URL could not be parsed or uses an unsupported scheme"},
    {"state_mismatch",
     "the redirect's state does not match the one sent; the redirect may be forged"},
    {"missing_state",
     "the redirect carries no state although one was sent; the redirect may be forged"},
    {"redirect_mismatch", "the redirect does not target the expected redirect URI"},
    {"missing_parameter", "a required parameter is missing from the server's answer"},
    {"invalid_token", "the access token was rejected; refresh it or authorize again"},
    {"insufficient_scope",
     "the access token lacks the scope this call requires; authorize with that scope"},
    {"stale_token", "the authorization is stale; send the user to the renew-authorization URL"},
    {"account_inactive", "the API key's account is inactive; check the application's registration"},
    {"rate_limited", "the server is rate limiting this client; retry later"},
    {"not_found", "the requested resource does not exist"},
    {"bad_request", "the server rejected the request; see diagnostics for its message"},
    {"server_error", "the server failed to process the request; retry later"},
    {"reauthorization_required",
     "the token cannot be refreshed; the user must authorize the application again"},
    {"token_store_failed", "the token store failed to save or load a token"},
    {"pool_exhausted", "no connection could be obtained from the pool"},
    {"certificate_untrusted",
     "the server's certificate is not issued by a trusted authority; add its CA to the context's "
     "trust store if it should be trusted"},
    {"certificate_name_mismatch",
     "the server's certificate is for another host name or address; check the URL"},
    {"certificate_expired", "the server's certificate has expired"},
    {"certificate_not_yet_valid",
     "the server's certificate is not valid yet; check this machine's clock"},
    {"certificate_invalid", "the server's certificate failed verification; see diagnostics"},
    {"proxy_unreachable",
     "the HTTP proxy could not be reached; check the proxy's address and that it is running"},
    {"proxy_auth_required",
     "the HTTP proxy requires authentication (407); check the proxy's user name and password"},
    {"proxy_refused",
     "the HTTP proxy refused to open a tunnel to the server; see diagnostics for its status"},
    {"proxy_origin_unreachable",
     "the HTTP proxy could not reach the server; check the URL, or the proxy's own connectivity"},
    {"proxy_malformed_response", "the HTTP proxy's answer to CONNECT could not be parsed"},
};
static_assert(std::size(errc_table) == static_cast<std::size_t>(errc::proxy_malformed_response));

// The names are also the RFC 6749 / RFC 6750 `error` strings.
inline constexpr errc_info oauth_errc_table[] = {
    {"unknown_error", "the authorization server returned an unrecognised error; see diagnostics"},
    {"invalid_request", "invalid_request: the request is missing or repeats a parameter"},
    {"invalid_client", "invalid_client: client authentication failed; check client id and secret"},
    {"invalid_grant",
     "invalid_grant: the code or refresh token is invalid, expired, used or revoked"},
    {"unauthorized_client", "unauthorized_client: the client may not use this grant type"},
    {"unsupported_grant_type",
     "unsupported_grant_type: the server does not support this grant type"},
    {"invalid_scope", "invalid_scope: the requested scope is invalid or unknown"},
    {"access_denied", "access_denied: the user or server denied the request"},
    {"unsupported_response_type",
     "unsupported_response_type: the server does not support this response type"},
    {"server_error", "server_error: the authorization server failed; retry later"},
    {"temporarily_unavailable",
     "temporarily_unavailable: the authorization server is overloaded; retry later"},
    {"invalid_token", "invalid_token: the access token is expired, revoked or malformed"},
    {"insufficient_scope", "insufficient_scope: the access token lacks a required scope"},
    {"invalid_authorization_code",
     "invalid_authorization_code: the code is expired, used or unknown; authorize again"},
};
static_assert(std::size(oauth_errc_table) ==
              static_cast<std::size_t>(oauth_errc::invalid_authorization_code));

// The entry of value `ev` in `table`, if any.
template <std::size_t N>
constexpr const errc_info* find_errc(const errc_info (&table)[N], int ev) noexcept {
    return ev >= 1 && static_cast<std::size_t>(ev) <= N ? &table[ev - 1] : nullptr;
}

// A category whose messages come from a table.
template <const auto& Table>
class table_category final : public boost::system::error_category {
public:
    constexpr table_category(const char* name, const char* unknown) noexcept
        : name_(name)
        , unknown_(unknown) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int ev) const override {
        const auto* e = find_errc(Table, ev);
        return e ? e->message : unknown_;
    }

private:
    const char* name_;
    const char* unknown_;
};

} // namespace detail

/// The category of `errc` values. Its name is "joinme".
inline const boost::system::error_category& joinme_category() noexcept {
    static const detail::table_category<detail::errc_table> c("joinme", "unknown joinme error");
    return c;
}

/// The category of `oauth_errc` values. Its name is "joinme.oauth".
inline const boost::system::error_category& oauth_category() noexcept {
    static const detail::table_category<detail::oauth_errc_table> c("joinme.oauth",
                                                                    "unknown OAuth error");
    return c;
}

/// Makes an `error_code` of `joinme_category()` from `e` (found by argument-dependent
/// lookup: `error_code ec = errc::timeout;`).
inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), joinme_category()};
}

/// Makes an `error_code` of `oauth_category()` from `e`.
inline error_code make_error_code(oauth_errc e) noexcept {
    return {static_cast<int>(e), oauth_category()};
}

/// The enumerator's name, for logs and tests: `"timeout"`, `"body_too_large"`, ...; an empty
/// view for a value that is not an enumerator.
constexpr std::string_view to_string(errc e) noexcept {
    const auto* i = detail::find_errc(detail::errc_table, static_cast<int>(e));
    return i ? i->name : std::string_view{};
}

/// The enumerator's name, which is also the RFC 6749 / RFC 6750 `error` string
/// (`"invalid_grant"`, ...); `"unknown_error"` for `unknown_error`, an empty view for a value
/// that is not an enumerator.
constexpr std::string_view to_string(oauth_errc e) noexcept {
    const auto* i = detail::find_errc(detail::oauth_errc_table, static_cast<int>(e));
    return i ? i->name : std::string_view{};
}

/// Maps an RFC 6749 / RFC 6750 `error` string to its code; unknown strings give `unknown_error`.
inline oauth_errc to_oauth_errc(std::string_view s) noexcept {
    // From 2: "unknown_error" is not a code a server sends.
    for (int i = 2; i <= static_cast<int>(std::size(detail::oauth_errc_table)); ++i)
        if (detail::oauth_errc_table[i - 1].name == s)
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
    /// Most bytes of a body kept in `body_excerpt` (then `...` is appended).
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
    std::string proxy_authenticate;  ///< An HTTP proxy's `Proxy-Authenticate` (with a 407).
    std::string via;                 ///< An HTTP proxy's `Via`, when it refused a tunnel.
    std::string body_excerpt;        ///< Start of a non-JSON body, truncated.
    std::string client_message;      ///< What joinme found wrong, e.g. a field of the wrong type.
    std::optional<std::chrono::seconds> retry_after; ///< `Retry-After`, when sent.

    /// Forgets everything, as before a new operation. Every field, in place: the strings keep
    /// their storage, and clearing empty diagnostics (the common case) costs next to nothing.
    void clear() noexcept {
        status = 0;
        for (auto* text : texts())
            text->clear();
        retry_after.reset();
    }

    /// True when nothing was recorded.
    bool empty() const noexcept { return *this == diagnostics{}; }

    /// Field-wise equality.
    friend bool operator==(const diagnostics&, const diagnostics&) = default;

    /// Replaces every occurrence of `secret` in the text fields with `[redacted]`: a server may
    /// quote the request it rejects, credentials included. A field that ends with the start
    /// of `secret` (cut short by the server, 8 bytes or more, or by `set_body_excerpt`, 4 bytes
    /// or more before its "...") loses that start too. Does nothing for an empty `secret`.
    void redact(std::string_view secret) {
        if (secret.empty())
            return;
        constexpr std::string_view mark = "[redacted]";
        for (std::string* f : texts()) {
            for (auto at = f->find(secret); at != std::string::npos;
                 at = f->find(secret, at + mark.size()))
                f->replace(at, secret.size(), mark);
            std::string_view text = *f;
            std::size_t shortest = 8;
            if (f == &body_excerpt && text.ends_with("...")) {
                text.remove_suffix(3);
                shortest = 4;
            }
            for (auto n = std::min(secret.size() - 1, text.size()); n >= shortest; --n)
                if (text.ends_with(secret.substr(0, n))) {
                    f->replace(text.size() - n, n, mark);
                    break;
                }
        }
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
        field("Proxy-Authenticate", proxy_authenticate);
        field("Via", via);
        if (retry_after) {
            if (!out.empty())
                out += ", ";
            out += "Retry-After " + std::to_string(retry_after->count()) + "s";
        }
        field("body", body_excerpt);
        field("client", client_message);
        return out;
    }

    /// Writes `to_string()`.
    friend std::ostream& operator<<(std::ostream& os, const diagnostics& d) {
        return os << d.to_string();
    }

private:
    // The text fields, which `clear` empties and `redact` cleans.
    std::array<std::string*, 13> texts() noexcept {
        return {&error,
                &error_description,
                &error_uri,
                &error_ticket_id,
                &message,
                &error_code,
                &error_detail_header,
                &mashery_error_code,
                &www_authenticate,
                &proxy_authenticate,
                &via,
                &body_excerpt,
                &client_message};
    }
};

/// The exception thrown by the throwing form of an operation: the error code plus what the
/// server said. `what()` includes both.
class error_with_diagnostics : public boost::system::system_error {
public:
    /// `ec` with `diag`; `what()` holds the code's message and `diag.to_string()`.
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
