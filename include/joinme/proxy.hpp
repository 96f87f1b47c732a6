// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_PROXY_HPP
#define JOINME_PROXY_HPP

/// @file
/// HTTP proxies: which proxy (if any) a connection to an origin goes through, read from an
/// explicit URL or from the conventional environment variables. Plain values and functions,
/// without I/O; `joinme/transport/connect.hpp` has the `CONNECT` request and the reader of the
/// proxy's answer, and `joinme/transport/proxy.hpp` the stream that goes through a proxy.
///
/// The environment is read the way curl documents it (its manual's ENVIRONMENT section and
/// `--noproxy`): `https_proxy` (or `HTTPS_PROXY`) for `https` origins, `http_proxy` for `http`
/// origins (lower case only: `HTTP_PROXY` is ignored, since a CGI program receives a request's
/// `Proxy` header as `HTTP_PROXY`), and `no_proxy` (or `NO_PROXY`) for the hosts that bypass
/// them. joinme differs from curl in two ways: `all_proxy` is not read, and loopback origins
/// (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) are never proxied unless
/// `proxy_config::proxy_loopback` says so.

#include <joinme/detail/ascii.hpp>
#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace joinme {

/// An HTTP proxy: where it is, and the credentials of its Basic authentication, if any.
///
/// Printing shows `http://user@host:port`: the user name, never the password.
struct proxy_server {
    std::string host; ///< Host name or IP literal, without brackets.
    std::string port; ///< Port number as text, never empty.
    std::string user; ///< Basic authentication's user name; empty for none. May be printed.
    secret password;  ///< Basic authentication's password. Never printed.

    /// True when `Proxy-Authorization: Basic` is sent.
    bool has_credentials() const noexcept { return !user.empty() || !password.empty(); }

    /// `host:port`, an IPv6 address in brackets: the proxy's address in messages.
    std::string authority() const {
        bool ipv6 = host.find(':') != std::string::npos;
        return (ipv6 ? "[" + host + "]" : host) + ":" + port;
    }

    /// Member-wise equality (the password compared in constant time).
    friend bool operator==(const proxy_server&, const proxy_server&) = default;

    /// Writes `http://user@host:port` (without `user@` when there is no user name).
    friend std::ostream& operator<<(std::ostream& os, const proxy_server& p) {
        os << "http://";
        if (!p.user.empty())
            os << p.user << '@';
        return os << p.authority();
    }
};

/// The port of a proxy URL that names none, as curl has it.
inline constexpr std::string_view default_proxy_port = "1080";

namespace detail {

// A host that can be written into a request line and a `Host` field as it is: a name or an IP
// literal, nothing that could end the line or the field (a percent-decoded CR LF, a space).
inline bool is_plain_host(std::string_view host) noexcept {
    if (host.empty())
        return false;
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("-._~!$&'()*+,;=:").find(c) != std::string_view::npos;
        if (!ok)
            return false;
    }
    return true;
}

// A port: 1 to 5 digits, at most 65535.
inline bool is_port(std::string_view port) noexcept {
    unsigned long n = 0;
    auto [p, e] = std::from_chars(port.data(), port.data() + port.size(), n);
    return !port.empty() && port.size() <= 5 && e == std::errc{} &&
           p == port.data() + port.size() && n <= 65535;
}

inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace detail

/// Parses a proxy URL, `http://[user[:password]@]host[:port][/]`, as curl accepts it: without
/// a scheme, `http://` is assumed; without a port, 1080 (`default_proxy_port`). The user name
/// and password are percent-decoded (`%40` for `@`, `%3A` for `:` in a password). Only `http`
/// proxies are supported: another scheme (`https`, `socks5`...), a user name with `:`, a
/// path, a query or a fragment make `ec` `errc::invalid_url`, and the result is empty.
JOINME_DECL proxy_server parse_proxy_url(std::string_view text, error_code& ec);

/// Whether `host` (a name or an IP literal, brackets allowed) is in `no_proxy`, a list in curl's
/// syntax: entries separated by commas or white space; the whole list `*` matches every host;
/// a name matches itself and its subdomains (`example.com` and `.example.com` both match
/// `example.com` and `www.example.com`, not `notexample.com`), without regard to case or a
/// trailing dot; an IP address matches an entry with the same address or a CIDR block
/// containing it (`10.0.0.0/8`, `fd00::/8`), and is never matched as a name.
inline bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
    no_proxy = detail::trim(no_proxy);
    if (no_proxy == "*")
        return true;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    if (host.empty())
        return false;
    error_code aec;
    auto address = boost::asio::ip::make_address(std::string(host), aec);
    bool is_ip = !aec;
    constexpr std::string_view separators = ", \t";
    for (std::size_t at = 0; at < no_proxy.size();) {
        at = no_proxy.find_first_not_of(separators, at);
        if (at == std::string_view::npos)
            break;
        auto end = no_proxy.find_first_of(separators, at);
        auto entry = no_proxy.substr(at, end == std::string_view::npos ? end : end - at);
        at = end == std::string_view::npos ? no_proxy.size() : end;
        if (is_ip) {
            auto slash = entry.find('/');
            auto net = entry.substr(0, slash);
            if (net.size() >= 2 && net.front() == '[' && net.back() == ']')
                net = net.substr(1, net.size() - 2);
            error_code nec;
            auto network = boost::asio::ip::make_address(std::string(net), nec);
            if (nec || network.is_v4() != address.is_v4())
                continue;
            unsigned max_bits = address.is_v4() ? 32 : 128;
            unsigned bits = max_bits;
            if (slash != std::string_view::npos) {
                auto b = entry.substr(slash + 1);
                auto [p, e] = std::from_chars(b.data(), b.data() + b.size(), bits);
                if (b.empty() || e != std::errc{} || p != b.data() + b.size() || bits > max_bits)
                    continue;
            }
            auto bytes = [](const boost::asio::ip::address& a) {
                std::array<unsigned char, 16> out{};
                if (a.is_v4()) {
                    auto v4 = a.to_v4().to_bytes();
                    std::copy(v4.begin(), v4.end(), out.begin());
                } else {
                    out = a.to_v6().to_bytes();
                }
                return out;
            };
            auto x = bytes(address);
            auto y = bytes(network);
            bool same = true;
            for (unsigned i = 0; i < bits && same; ++i) {
                unsigned mask = 0x80u >> (i % 8);
                same = (x[i / 8] & mask) == (y[i / 8] & mask);
            }
            if (same)
                return true;
            continue;
        }
        if (entry.front() == '.')
            entry.remove_prefix(1);
        if (!entry.empty() && entry.back() == '.')
            entry.remove_suffix(1);
        if (entry.empty() || entry.size() > host.size())
            continue;
        auto tail = host.substr(host.size() - entry.size());
        if (detail::ascii_iequals(tail, entry) &&
            (entry.size() == host.size() || host[host.size() - entry.size() - 1] == '.'))
            return true;
    }
    return false;
}

/// Whether `host` is a loopback origin: `localhost`, a name under `.localhost` (RFC 6761), an
/// address in 127.0.0.0/8 or ::1 (an IPv4-mapped loopback address included).
inline bool is_loopback_host(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    constexpr std::string_view suffix = ".localhost";
    if (detail::ascii_iequals(host, "localhost") ||
        (host.size() > suffix.size() &&
         detail::ascii_iequals(host.substr(host.size() - suffix.size()), suffix)))
        return true;
    error_code ec;
    auto a = boost::asio::ip::make_address(std::string(host), ec);
    if (ec)
        return false;
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6())
            .is_loopback();
    return a.is_loopback();
}

/// Which proxy each connection goes through.
///
/// Empty (the default), every connection is direct. `select` decides for one origin.
struct proxy_config {
    /// The proxy of `http` origins; none when empty.
    std::optional<proxy_server> http;
    /// The proxy of `https` origins; none when empty.
    std::optional<proxy_server> https;
    /// Hosts reached directly, in curl's `no_proxy` syntax (see `no_proxy_matches`).
    std::string no_proxy;
    /// Proxy loopback origins too (`localhost`, 127.0.0.0/8, ::1). Off by default: a proxy
    /// elsewhere cannot reach this machine's loopback interface, and a redirect listener or a
    /// local test server must not be sent through it.
    bool proxy_loopback = false;

    /// True when no proxy is configured.
    bool empty() const noexcept { return !http && !https; }

    /// Sends both `http` and `https` origins through the proxy at `url` (see
    /// `parse_proxy_url`). Returns `errc::invalid_url` and changes nothing when `url` is not a
    /// usable proxy URL.
    error_code set_proxy(std::string_view url) {
        error_code ec;
        auto p = parse_proxy_url(url, ec);
        if (!ec) {
            http = p;
            https = std::move(p);
        }
        return ec;
    }

    /// The proxy a connection to `o` goes through, or null for a direct connection: none for
    /// its scheme, a loopback origin (unless `proxy_loopback`), or a host in `no_proxy`.
    const proxy_server* select(const origin& o) const {
        const auto& p = o.scheme == "https" ? https : http;
        if (!p)
            return nullptr;
        if (!proxy_loopback && is_loopback_host(o.host))
            return nullptr;
        if (no_proxy_matches(no_proxy, o.host))
            return nullptr;
        return &*p;
    }

    /// Member-wise equality.
    friend bool operator==(const proxy_config&, const proxy_config&) = default;
};

/// Reads an environment variable: its value, or null when it is not set. `std::getenv` by
/// default; tests give a map of their own.
using environment_function = std::function<const char*(const char* name)>;

/// The proxy configuration of the conventional environment variables, as curl reads them:
/// `https_proxy`, else `HTTPS_PROXY`, for `https` origins; `http_proxy` (lower case only) for
/// `http` origins; `no_proxy`, else `NO_PROXY`. An empty variable counts as unset. A value that
/// is not a usable proxy URL makes `ec` `errc::invalid_url` (naming the variable in `what`,
/// if given) and the result empty, rather than connecting directly behind the user's back.
inline proxy_config proxy_config_from_environment(error_code& ec,
                                                  const environment_function& env = {},
                                                  std::string* what = nullptr) {
    ec = {};
    auto get = [&env](const char* name) -> std::string_view {
        const char* v = env ? env(name) : std::getenv(name);
        return v ? detail::trim(v) : std::string_view();
    };
    auto first = [&get](const char* a, const char* b) -> std::pair<const char*, std::string_view> {
        if (auto v = get(a); !v.empty())
            return {a, v};
        if (b)
            if (auto v = get(b); !v.empty())
                return {b, v};
        return {a, {}};
    };
    proxy_config out;
    for (auto [name, value] : {first("https_proxy", "HTTPS_PROXY"), first("http_proxy", nullptr)}) {
        if (value.empty())
            continue;
        auto p = parse_proxy_url(value, ec);
        if (ec) {
            if (what)
                *what = std::string("the environment variable ") + name +
                        " is not a usable proxy URL (http://[user:password@]host:port)";
            return {};
        }
        (std::string_view(name) == "http_proxy" ? out.http : out.https) = std::move(p);
    }
    out.no_proxy = std::string(first("no_proxy", "NO_PROXY").second);
    return out;
}

} // namespace joinme

#if defined(JOINME_HEADER_ONLY)
#include <joinme/impl/proxy.ipp>
#endif

#endif
