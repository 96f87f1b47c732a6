// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_CHECK_RESPONSE_HPP
#define JOINME_API_CHECK_RESPONSE_HPP

/// @file
/// `check_response`: what a join.me API answer means, as an error code and diagnostics.

#include <joinme/api/error_body.hpp>
#include <joinme/detail/ascii.hpp>
#include <joinme/error.hpp>
#include <joinme/http/message.hpp>
#include <joinme/http/retry.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace joinme::api {

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

} // namespace joinme::api

#endif
