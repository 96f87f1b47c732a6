// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_CONNECT_HPP
#define JOINME_TRANSPORT_CONNECT_HPP

/// @file
/// The HTTP `CONNECT` exchange that opens a tunnel through a proxy (RFC 9110 §9.3.6), without
/// I/O: the request, and the reader of the proxy's answer, with a size limit.

#include <joinme/detail/random.hpp>
#include <joinme/error.hpp>
#include <joinme/proxy.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace joinme {

namespace detail {

// `p`'s credentials as `Proxy-Authorization: Basic` carries them, base64(user:password)
// (RFC 7617). It holds the password.
inline secret basic_credentials(const proxy_server& p) {
    std::string pair = p.user + ":" + p.password.reveal();
    secret out(base64(pair));
    std::fill(pair.begin(), pair.end(), '\0');
    return out;
}

// The `CONNECT` request that asks `p` for a tunnel to `o` (RFC 9110 §9.3.6): the origin's
// authority as the target and as `Host`, and Basic credentials when `p` has them. It holds
// the password: it is written to the proxy and nowhere else. `errc::invalid_url` for a host
// that cannot be written into a request line.
inline secret connect_request(const origin& o, const proxy_server& p, error_code& ec) {
    ec = {};
    if (!is_plain_host(o.host) || !is_port(o.port)) {
        ec = errc::invalid_url;
        return {};
    }
    bool ipv6 = o.host.find(':') != std::string::npos;
    std::string authority = (ipv6 ? "[" + o.host + "]" : o.host) + ":" + o.port;
    std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (p.has_credentials()) {
        out += "Proxy-Authorization: ";
        out += "Basic ";
        out += basic_credentials(p).reveal();
        out += "\r\n";
    }
    out += "\r\n";
    return secret(std::move(out));
}

} // namespace detail

/// The proxy's answer to `CONNECT`, as far as it was read.
struct connect_answer {
    /// What the bytes received so far amount to.
    enum class state {
        incomplete, ///< More bytes are needed (none received counts too).
        complete,   ///< A final answer was read; `header_size` bytes of it.
        failed,     ///< The answer is malformed or too large: `ec`, and why in `reason`.
    };
    state st = state::incomplete;   ///< Where the reading stands.
    error_code ec;                  ///< With `failed`: malformed_response or header_too_large.
    unsigned status = 0;            ///< The final status (interim 1xx answers skipped).
    std::string reason;             ///< Its reason phrase, or why the answer is malformed.
    std::string proxy_authenticate; ///< `Proxy-Authenticate`, every one, joined by ", ".
    std::string via;                ///< `Via`.
    std::string squid_error;        ///< Squid's `X-Squid-Error` (`ERR_CONNECT_FAIL 111`).
    std::size_t header_size = 0;    ///< Bytes of the answer's header(s), interim ones included.

    /// What a complete answer means for the tunnel: success for 2xx, else
    /// `errc::proxy_auth_required` (407), `errc::proxy_origin_unreachable` (504, or Squid's
    /// `ERR_CONNECT_FAIL`, `ERR_DNS_FAIL`, `ERR_CONNECT_TIMEOUT`... in `X-Squid-Error`), or
    /// `errc::proxy_refused` (any other status).
    error_code outcome() const {
        if (st == state::failed)
            return ec;
        if (status >= 200 && status < 300)
            return {};
        if (status == 407)
            return errc::proxy_auth_required;
        auto code = std::string_view(squid_error).substr(0, squid_error.find(' '));
        if (status == 504 || code == "ERR_CONNECT_FAIL" || code == "ERR_DNS_FAIL" ||
            code == "ERR_CONNECT_TIMEOUT" || code == "ERR_READ_TIMEOUT")
            return errc::proxy_origin_unreachable;
        return errc::proxy_refused;
    }
};

/// The largest answer to `CONNECT` joinme reads by default, interim answers included.
inline constexpr std::size_t default_connect_answer_limit = 16 * 1024;

/// Reads the proxy's answer to `CONNECT` from `received`, every byte received so far (call it
/// again with more). Interim 1xx answers are skipped (a `101` is malformed); the final answer's
/// header ends it: a body that a refusal may carry is not read. Headers together larger than
/// `limit` fail with `errc::header_too_large`; a header that is not HTTP/1.x fails with
/// `errc::proxy_malformed_response`. Never throws for any input.
inline connect_answer read_connect_answer(std::string_view received,
                                          std::size_t limit = default_connect_answer_limit) {
    namespace bh = boost::beast::http;
    connect_answer a;
    std::size_t used = 0;
    for (;;) {
        bh::response_parser<bh::empty_body> parser;
        parser.skip(true); // a header only: no body is read after it
        parser.eager(false);
        std::size_t room = limit > used ? limit - used : 0;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(room, 0xFFFFFFFFu)));
        auto rest = received.substr(used);
        // Beast reads nothing of a header before it has all of it: what is not the start of an
        // HTTP/1.x status line is refused at once, rather than waited on until the deadline.
        constexpr std::string_view start = "HTTP/1.";
        if (rest.substr(0, start.size()) != start.substr(0, std::min(rest.size(), start.size()))) {
            a.st = connect_answer::state::failed;
            a.ec = errc::proxy_malformed_response;
            a.reason = "the proxy's answer to CONNECT is not an HTTP/1.x response";
            return a;
        }
        boost::system::error_code ec;
        std::size_t n = 0;
        if (!rest.empty())
            n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        if (ec == bh::error::need_more || (rest.empty() && !ec)) {
            if (received.size() >= limit) {
                a.st = connect_answer::state::failed;
                a.ec = errc::header_too_large;
                a.reason = "the proxy's answer to CONNECT exceeds " + std::to_string(limit) +
                           " bytes";
            }
            return a;
        }
        // Beast applies its header limit to the status line and to the fields apart: the
        // whole is checked here.
        if (ec == bh::error::header_limit || (!ec && used + n > limit)) {
            a.st = connect_answer::state::failed;
            a.ec = errc::header_too_large;
            a.reason = "the proxy's answer to CONNECT exceeds " + std::to_string(limit) + " bytes";
            return a;
        }
        if (ec || !parser.is_header_done()) {
            a.st = connect_answer::state::failed;
            a.ec = errc::proxy_malformed_response;
            a.reason = "the proxy's answer to CONNECT is not a valid HTTP/1.x response";
            return a;
        }
        used += n;
        const auto& h = parser.get();
        unsigned status = h.result_int();
        if (status < 100 || status == 101 || h.version() < 10 || h.version() > 11) {
            a.st = connect_answer::state::failed;
            a.ec = errc::proxy_malformed_response;
            a.reason = status == 101  ? "the proxy answered CONNECT with 101 Switching Protocols"
                       : status < 100 ? "the proxy's answer to CONNECT has an invalid status"
                                      : "the proxy's answer to CONNECT is not HTTP/1.x";
            return a;
        }
        if (status >= 100 && status < 200)
            continue; // interim: the final answer follows
        a.st = connect_answer::state::complete;
        a.status = status;
        a.reason = std::string(h.reason());
        for (auto [it, end] = h.equal_range(bh::field::proxy_authenticate); it != end; ++it) {
            if (!a.proxy_authenticate.empty())
                a.proxy_authenticate += ", ";
            a.proxy_authenticate += it->value();
        }
        a.via = std::string(h[bh::field::via]);
        a.squid_error = std::string(h["X-Squid-Error"]);
        a.header_size = used;
        return a;
    }
}

} // namespace joinme

#endif
