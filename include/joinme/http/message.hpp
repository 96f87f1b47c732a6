// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_MESSAGE_HPP
#define JOINME_HTTP_MESSAGE_HPP

/// @file
/// The HTTP messages joinme exchanges, and what their headers tell about a failure.

#include <joinme/detail/time.hpp>
#include <joinme/error.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <string_view>

namespace joinme::http {

namespace beast_http = boost::beast::http;

/// A request with its body in memory.
using request = beast_http::request<beast_http::string_body>;
/// A response with its body in memory.
using response = beast_http::response<beast_http::string_body>;

/// Idempotent methods (RFC 9110 §9.2.2): sending them twice has the effect of sending once,
/// so they may be retried after a failure.
inline bool is_idempotent(beast_http::verb v) noexcept {
    switch (v) {
    case beast_http::verb::get:
    case beast_http::verb::head:
    case beast_http::verb::put:
    case beast_http::verb::delete_:
    case beast_http::verb::options:
        return true;
    default:
        return false;
    }
}

/// The longest wait `parse_retry_after` reports: a day, however the server wrote a longer one.
inline constexpr std::chrono::seconds max_retry_after{24 * 3600};

/// Parses `Retry-After`: delay-seconds, or an HTTP date taken relative to `now` (a date in the
/// past gives zero). One rule for both forms: a longer wait, a number too large for any type
/// included, is `max_retry_after`. Nothing for an unparseable value.
inline std::optional<std::chrono::seconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    if (value.empty())
        return std::nullopt;
    std::chrono::seconds wait;
    if (value.front() >= '0' && value.front() <= '9') {
        unsigned long long s = 0;
        auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), s);
        if (p != value.data() + value.size())
            return std::nullopt;
        if (e == std::errc::result_out_of_range ||
            s > static_cast<unsigned long long>(max_retry_after.count()))
            return max_retry_after;
        wait = std::chrono::seconds(static_cast<long long>(s));
    } else {
        auto when = detail::parse_http_date(value);
        if (!when)
            return std::nullopt;
        // In whole seconds: a date is whole seconds, so this is the difference rounded up,
        // and it cannot overflow the way the clock's finer duration would for a far date.
        wait = *when - std::chrono::floor<std::chrono::seconds>(now);
    }
    return std::clamp(wait, std::chrono::seconds{0}, max_retry_after);
}

/// join.me's gateway (Mashery) answers 403 with this code when a key exceeds its rate.
inline constexpr std::string_view over_qps_code = "ERR_403_DEVELOPER_OVER_QPS";
/// The gateway's code for an over-quota key.
inline constexpr std::string_view over_rate_code = "ERR_403_DEVELOPER_OVER_RATE";

/// True for the answers that mean "slow down and try again": 429, 503 and the gateway's
/// over-QPS / over-rate 403.
inline bool is_rate_limited(const response& res) {
    auto status = res.result_int();
    if (status == 429 || status == 503)
        return true;
    if (status == 403) {
        auto code = res["X-Mashery-Error-Code"];
        return code == over_qps_code || code == over_rate_code;
    }
    return false;
}

/// Copies what the response's status line and headers say about a failure into `d`: status,
/// `X-Error-Detail-Header`, `X-Mashery-Error-Code`, `WWW-Authenticate`, `Retry-After`. Body
/// fields are the caller's to add (they differ between the OAuth and the API endpoints).
inline void
fill_diagnostics(const response& res, diagnostics& d,
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
    d.status = res.result_int();
    d.error_detail_header = std::string(res["X-Error-Detail-Header"]);
    d.mashery_error_code = std::string(res["X-Mashery-Error-Code"]);
    d.www_authenticate = std::string(res[beast_http::field::www_authenticate]);
    auto ra = res.find(beast_http::field::retry_after);
    d.retry_after = ra == res.end() ? std::nullopt : parse_retry_after(ra->value(), now);
}

} // namespace joinme::http

#endif
