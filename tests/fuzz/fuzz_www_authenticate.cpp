// libFuzzer target: the `WWW-Authenticate` reader, `api::detail::bearer_error`, and
// `api::check_response`, which classifies an API answer by that header, the gateway's headers,
// the status and the error body. They must never crash or throw. The `error` value read is
// made of the header's own characters and reads back the same when written into a challenge;
// the classification follows the rules documented on check_response, in their order.
//
// Input: one byte choosing the status, then up to four lines: the values of `WWW-Authenticate`,
// `X-Mashery-Error-Code`, `X-Error-Detail-Header` and `Retry-After` (an empty line ends them),
// then the body.
#include <joinme/api/check_response.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace api = joinme::api;
namespace bhttp = boost::beast::http;
using joinme::errc;

void require(bool ok) {
    if (!ok)
        std::abort();
}

bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-.!#$%&'*+^`|~").find(c) != std::string_view::npos;
}

// `value` as an RFC 9110 quoted-string.
std::string quoted(std::string_view value) {
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

void check_bearer_error(std::string_view header) {
    const auto error = api::detail::bearer_error(header);
    require(error.empty() || error.size() < header.size());
    for (char c : error)
        require(header.find(c) != std::string_view::npos);
    require(api::detail::bearer_error(header) == error);
    if (error.empty())
        return;
    // Written back into a challenge, it reads the same, quoted or (a token) bare.
    require(api::detail::bearer_error("Bearer realm=\"api.join.me\", error=" + quoted(error)) ==
            error);
    bool token = true;
    for (char c : error)
        token = token && is_token_char(c);
    if (token)
        require(api::detail::bearer_error("Bearer error=" + error + ", realm=x") == error);
}

// check_response's documented rules, restated from the diagnostics it filled.
joinme::error_code expected(unsigned status, const joinme::diagnostics& d,
                            const joinme::http::response& res) {
    const auto challenge = api::detail::bearer_error(d.www_authenticate);
    if (d.mashery_error_code == "ERR_403_DEVELOPER_INACTIVE" ||
        joinme::detail::ascii_iequals(d.error_detail_header, "Account Inactive"))
        return errc::account_inactive;
    if (status == 429 || (status == 403 && joinme::http::is_rate_limited(res)))
        return errc::rate_limited;
    if (d.error_code == "stale_token")
        return errc::stale_token;
    if (d.error_code == "insufficient_scope" || challenge == "insufficient_scope")
        return errc::insufficient_scope;
    if (status == 401 ||
        (status == 403 && (challenge == "invalid_token" || d.error_code == "invalid_token")))
        return errc::invalid_token;
    if (status == 404)
        return errc::not_found;
    if (status == 400)
        return errc::bad_request;
    if (status >= 500)
        return errc::server_error;
    return errc::unexpected_status;
}

std::string without_cr(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != '\r')
            out += c;
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || size > 60000) // Beast's limit on a field's value is 64 KiB
        return 0;
    static constexpr unsigned statuses[] = {200, 204, 302, 400, 401, 403,
                                            404, 409, 418, 429, 500, 503};
    const unsigned status = statuses[data[0] % std::size(statuses)];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

    static constexpr bhttp::field fields[] = {bhttp::field::www_authenticate, bhttp::field::unknown,
                                              bhttp::field::unknown, bhttp::field::retry_after};
    static constexpr std::string_view names[] = {"WWW-Authenticate", "X-Mashery-Error-Code",
                                                 "X-Error-Detail-Header", "Retry-After"};
    joinme::http::response res{static_cast<bhttp::status>(status), 11};
    std::string header_values[4];
    for (std::size_t i = 0; i < 4 && !rest.empty(); ++i) {
        auto eol = rest.find('\n');
        auto line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        if (line.empty() || line == "\r")
            break;
        header_values[i] = without_cr(line);
        if (fields[i] == bhttp::field::unknown)
            res.set(names[i], header_values[i]);
        else
            res.set(fields[i], header_values[i]);
    }
    res.body() = std::string(rest);

    check_bearer_error(header_values[0]);

    const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours{480000};
    joinme::diagnostics diag;
    auto ec = api::check_response(res, diag, now);
    if (status < 300 && status >= 200) {
        require(!ec && diag.empty());
        return 0;
    }
    require(ec == expected(status, diag, res));
    require(diag.status == status);
    require(diag.www_authenticate == res[bhttp::field::www_authenticate]);
    require(diag.body_excerpt.size() <= joinme::diagnostics::max_excerpt + 3);
    require(!diag.retry_after || (*diag.retry_after >= std::chrono::seconds{0} &&
                                  *diag.retry_after <= joinme::http::max_retry_after));
    return 0;
}
