// libFuzzer target: the loopback listener's request handling, `handle_request`, on requests
// read from arbitrary bytes the way its server loop reads them (a request that cannot be read
// gets `refusal_page`), for the code and the implicit grant. Several requests share one wait,
// as a browser's connections do. It must never crash or throw; every answer carries the
// listener's headers and closes the connection; once the wait is decided, its outcome never
// changes; a decided success carries a code or a token; and no answer repeats the code or the
// token it received (checked where the secret cannot occur in the pages by chance).
//
// Input: one byte of settings (bit 0: implicit grant; bit 1: end_on_rejected_redirect), then
// the requests. The pending request's `state` is `xyz`.
#include <joinme/loopback.hpp>

#include "requests.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace loopback = joinme::loopback;
namespace bhttp = boost::beast::http;
using loopback::detail::http_response;

constexpr std::size_t max_requests = 4;

void require(bool ok) {
    if (!ok)
        std::abort();
}

void check_headers(const http_response& res) {
    require(!res.keep_alive());
    require(res[bhttp::field::cache_control] == "no-store");
    require(res["Referrer-Policy"] == "no-referrer");
    require(res["X-Content-Type-Options"] == "nosniff");
    require(res["Content-Security-Policy"].starts_with("default-src 'none'"));
    require(res.payload_size() == res.body().size());
}

// Whether `secret` could only be in `body` if the listener had copied it there: its pages are
// printable ASCII, so a secret with another byte in it cannot match them by chance.
bool foreign_to_pages(std::string_view secret) {
    if (secret.size() < 4)
        return false;
    for (unsigned char c : secret)
        if (c < 0x20 || c >= 0x7f)
            return true;
    return false;
}

// The secret a decided wait holds: the code, or the implicit grant's access token.
std::string secret_of(const loopback::detail::decision& st) {
    if (!st.result)
        return {};
    const auto& r = std::get<1>(*st.result);
    if (r.implicit_token)
        return std::string(r.implicit_token->access_token.reveal());
    return std::string(r.code.reveal());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::uint8_t mode = data[0];
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    loopback::listener_options opts;
    opts.end_on_rejected_redirect = (mode & 2) != 0;
    const auto fixed = std::chrono::sys_seconds(std::chrono::seconds(1'700'000'000));
    opts.clock = [fixed] { return joinme::oauth::time_point(fixed); };

    static const auto sent = [](joinme::oauth::response_type type) {
        joinme::oauth::config cfg;
        cfg.client_id = "app-id";
        cfg.redirect_uri = "http://127.0.0.1:8123/callback";
        joinme::oauth::authorization_options o;
        o.type = type;
        auto r = joinme::oauth::make_authorization_request(cfg, o);
        r.state = "xyz";
        return r;
    };
    static const auto code_request = sent(joinme::oauth::response_type::code);
    static const auto token_request = sent(joinme::oauth::response_type::token);
    loopback::detail::decision st;
    st.sent = (mode & 1) ? token_request : code_request;

    // The first outcome, to compare with what later requests leave.
    std::optional<joinme::error_code> decided_ec;
    std::string decided_secret;
    fuzz::for_each_request(
        bytes, opts.header_limit, opts.body_limit, max_requests,
        [&](const fuzz::request& req) {
            auto res = loopback::detail::handle_request(opts, st, req);
            check_headers(res);
            const unsigned status = res.result_int();
            require(status == 200 || status == 400 || status == 404 || status == 405 ||
                    status == 409);
            if (!st.result)
                return;
            const auto& [ec, redirect, diag] = *st.result;
            if (!decided_ec) {
                decided_ec = ec;
                decided_secret = secret_of(st);
                if (!ec)
                    require(!decided_secret.empty() &&
                            (st.sent.type == joinme::oauth::response_type::token) ==
                                redirect.implicit_token.has_value());
                else
                    require(decided_secret.empty());
            }
            require(ec == *decided_ec && secret_of(st) == decided_secret);
            if (foreign_to_pages(decided_secret))
                require(res.body().find(decided_secret) == std::string::npos);
        },
        [&](const joinme::error_code& ec) {
            // What the server loop sends for a request it cannot read, if anything.
            auto status = joinme::detail::refusal_status(ec);
            if (!status)
                return;
            auto res = loopback::detail::refusal_page(*status);
            require(res.has_value());
            check_headers(*res);
        });
    return 0;
}
