// The proxy settings and the CONNECT exchange without I/O: proxy URLs, curl's no_proxy rules,
// the environment variables, the request and the reader of the proxy's answer.
#include <joinme/proxy.hpp>
#include <joinme/transport/connect.hpp>

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>

using joinme::errc;
using joinme::error_code;
using joinme::no_proxy_matches;
using joinme::origin;
using joinme::proxy_config;
using joinme::proxy_server;

namespace {

proxy_server parsed(std::string_view url) {
    error_code ec;
    auto p = joinme::parse_proxy_url(url, ec);
    REQUIRE_MESSAGE(!ec, url);
    return p;
}

error_code parse_error(std::string_view url) {
    error_code ec;
    (void)joinme::parse_proxy_url(url, ec);
    return ec;
}

std::string printed(const proxy_server& p) {
    std::ostringstream os;
    os << p;
    return os.str();
}

// An environment made of `vars`, for proxy_config_from_environment.
joinme::environment_function environment(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](const char* name) -> const char* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
    };
}

} // namespace

TEST_CASE("proxy URL: host, port, credentials, as curl reads them") {
    auto p = parsed("http://proxy.corp.example:3128");
    CHECK(p.host == "proxy.corp.example");
    CHECK(p.port == "3128");
    CHECK(p.user.empty());
    CHECK(p.password.empty());
    CHECK(!p.has_credentials());

    // No scheme: http. No port: curl's 1080. A trailing slash is fine.
    CHECK(parsed("proxy.corp.example:8080") == parsed("http://proxy.corp.example:8080/"));
    CHECK(parsed("http://proxy.corp.example").port == "1080");
    CHECK(parsed("  HTTP://proxy:1  ").host == "proxy");

    auto a = parsed("http://alice:s%40cret%3A1@10.0.0.1:8080");
    CHECK(a.host == "10.0.0.1");
    CHECK(a.user == "alice");
    CHECK(a.password.reveal() == "s@cret:1");
    CHECK(a.has_credentials());

    auto v6 = parsed("http://[::1]:3128");
    CHECK(v6.host == "::1");
    CHECK(v6.authority() == "[::1]:3128");

    CHECK(parsed("http://bob@proxy:1").user == "bob");
    CHECK(parsed("http://bob@proxy:1").password.empty());
}

TEST_CASE("proxy URL: what cannot be used is refused, not half-used") {
    for (const char* bad :
         {"", "https://proxy:443", "socks5://proxy:1080", "http://proxy:99999", "http://proxy:x",
          "http://a%3Ab:pw@proxy:1", "http://proxy:3128/?q", "http://proxy:3128/#f", "http://proxy:3128/path",
          "http://pro%0D%0Axy:1", "http://pro%20xy:1", "http://:3128"}) {
        const std::string url = bad;
        CAPTURE(url);
        CHECK(parse_error(url) == errc::invalid_url);
    }
    proxy_config c;
    CHECK(c.set_proxy("socks5://proxy:1080") == errc::invalid_url);
    CHECK(c.empty());
}

TEST_CASE("proxy URL: printing shows the user name, never the password") {
    auto a = parsed("http://alice:Pr0xyPassw0rd@proxy:8080");
    CHECK(printed(a) == "http://alice@proxy:8080");
    CHECK(printed(parsed("http://proxy:8080")) == "http://proxy:8080");
    std::ostringstream os;
    os << a.password;
    CHECK(os.str() == "[redacted]");
}

TEST_CASE("no_proxy: curl's rules for names") {
    CHECK(no_proxy_matches("*", "api.join.me"));
    CHECK(no_proxy_matches(" * ", "10.0.0.1"));
    CHECK(!no_proxy_matches("", "api.join.me"));
    CHECK(no_proxy_matches("join.me", "join.me"));
    CHECK(no_proxy_matches("join.me", "api.join.me"));
    CHECK(no_proxy_matches(".join.me", "api.join.me"));
    CHECK(no_proxy_matches(".join.me", "join.me"));
    CHECK(!no_proxy_matches("join.me", "notjoin.me"));
    CHECK(!no_proxy_matches("api.join.me", "join.me"));
    CHECK(no_proxy_matches("JOIN.me", "Api.Join.ME"));
    CHECK(no_proxy_matches("join.me.", "api.join.me."));
    CHECK(no_proxy_matches("example.com, join.me", "api.join.me"));
    CHECK(no_proxy_matches("example.com join.me", "api.join.me"));
    CHECK(no_proxy_matches(",,example.com,,", "example.com"));
    CHECK(!no_proxy_matches("example.com", "api.join.me"));
    // `*` is a wildcard only as the whole list, as in curl.
    CHECK(!no_proxy_matches("example.com,*", "api.join.me"));
    CHECK(!no_proxy_matches("*.join.me", "api.join.me"));
}

TEST_CASE("no_proxy: IP addresses and CIDR blocks, never matched as names") {
    CHECK(no_proxy_matches("192.168.1.5", "192.168.1.5"));
    CHECK(!no_proxy_matches("192.168.1.5", "192.168.1.6"));
    CHECK(no_proxy_matches("10.0.0.0/8", "10.20.30.40"));
    CHECK(!no_proxy_matches("10.0.0.0/8", "11.0.0.1"));
    CHECK(no_proxy_matches("192.168.0.0/16", "192.168.255.1"));
    CHECK(!no_proxy_matches("192.168.0.0/16", "192.169.0.1"));
    CHECK(no_proxy_matches("0.0.0.0/0", "8.8.8.8"));
    CHECK(!no_proxy_matches("10.0.0.0/33", "10.0.0.1"));
    CHECK(!no_proxy_matches("10.0.0.0/x", "10.0.0.1"));
    CHECK(no_proxy_matches("fd00::/8", "fd12:3456::1"));
    CHECK(!no_proxy_matches("fd00::/8", "fe80::1"));
    CHECK(no_proxy_matches("[::1]", "::1"));
    CHECK(no_proxy_matches("::1", "[::1]"));
    CHECK(!no_proxy_matches("0.0.1", "10.0.0.1")); // not a name suffix
    CHECK(!no_proxy_matches("10.0.0.1", "10.0.0.1.example.com"));
    CHECK(!no_proxy_matches("10.0.0.0/8", "::ffff:11.0.0.1"));
}

TEST_CASE("loopback hosts") {
    for (const char* h : {"localhost", "LOCALHOST.", "api.localhost", "127.0.0.1", "127.1.2.3",
                          "::1", "[::1]", "::ffff:127.0.0.1"}) {
        const std::string host = h;
        CAPTURE(host);
        CHECK(joinme::is_loopback_host(host));
    }
    for (const char* h : {"10.0.0.1", "localhost.example.com", "mylocalhost", "::2", "api.join.me"}) {
        const std::string host = h;
        CAPTURE(host);
        CHECK(!joinme::is_loopback_host(host));
    }
}

TEST_CASE("proxy_config::select: by scheme, never for loopback unless asked, not for no_proxy") {
    proxy_config c;
    const origin api{"https", "api.join.me", "443"};
    const origin plain{"http", "intranet.corp", "80"};
    const origin local{"https", "127.0.0.1", "8443"};
    CHECK(c.select(api) == nullptr);

    REQUIRE(!c.set_proxy("http://proxy:3128"));
    REQUIRE(c.select(api));
    CHECK(c.select(api)->authority() == "proxy:3128");
    REQUIRE(c.select(plain));
    CHECK(c.select(local) == nullptr);
    CHECK(c.select({"http", "localhost", "80"}) == nullptr);
    c.proxy_loopback = true;
    CHECK(c.select(local) != nullptr);

    c.no_proxy = "corp, 127.0.0.0/8";
    CHECK(c.select(plain) == nullptr);
    CHECK(c.select(local) == nullptr);
    CHECK(c.select(api) != nullptr);

    proxy_config only_https;
    only_https.https = parsed("http://secure-proxy:1");
    CHECK(only_https.select(plain) == nullptr);
    REQUIRE(only_https.select(api));
    CHECK(only_https.select(api)->host == "secure-proxy");
}

TEST_CASE("environment: curl's variables, lower case first, http_proxy only in lower case") {
    error_code ec;
    auto c = joinme::proxy_config_from_environment(ec, environment({}));
    CHECK(!ec);
    CHECK(c.empty());

    c = joinme::proxy_config_from_environment(
        ec, environment({{"https_proxy", "http://lower:1"}, {"HTTPS_PROXY", "http://upper:2"},
                         {"http_proxy", "http://plain:3"}, {"HTTP_PROXY", "http://ignored:4"},
                         {"no_proxy", "corp"}, {"NO_PROXY", "other"}}));
    CHECK(!ec);
    REQUIRE(c.https);
    CHECK(c.https->host == "lower");
    REQUIRE(c.http);
    CHECK(c.http->host == "plain");
    CHECK(c.no_proxy == "corp");
    CHECK(!c.proxy_loopback);

    c = joinme::proxy_config_from_environment(
        ec, environment({{"https_proxy", ""}, {"HTTPS_PROXY", "upper:2"},
                         {"HTTP_PROXY", "http://ignored:4"}, {"NO_PROXY", "other"}}));
    CHECK(!ec);
    REQUIRE(c.https);
    CHECK(c.https->host == "upper"); // an empty variable counts as unset
    CHECK(c.https->port == "2");
    CHECK(!c.http); // HTTP_PROXY is not read
    CHECK(c.no_proxy == "other");

    c = joinme::proxy_config_from_environment(
        ec, environment({{"https_proxy", "http://alice:pw@proxy:3128"}}));
    REQUIRE(c.https);
    CHECK(c.https->user == "alice");
    CHECK(c.https->password.reveal() == "pw");
}

TEST_CASE("environment: an unusable proxy is an error naming the variable, not a direct "
          "connection") {
    error_code ec;
    std::string what;
    auto c = joinme::proxy_config_from_environment(
        ec, environment({{"http_proxy", "http://ok:1"}, {"HTTPS_PROXY", "socks5://proxy:1080"}}),
        &what);
    CHECK(ec == errc::invalid_url);
    CHECK(c.empty());
    CHECK(what.find("HTTPS_PROXY") != std::string::npos);
}

TEST_CASE("CONNECT request: the origin's authority, Host, and Basic credentials") {
    error_code ec;
    auto plain = joinme::detail::connect_request({"https", "api.join.me", "443"},
                                                 parsed("http://proxy:3128"), ec);
    REQUIRE(!ec);
    CHECK(plain.reveal() == "CONNECT api.join.me:443 HTTP/1.1\r\nHost: api.join.me:443\r\n\r\n");

    // RFC 7617's example credentials.
    auto authed = joinme::detail::connect_request(
        {"http", "::1", "8080"}, parsed("http://Aladdin:open%20sesame@proxy:3128"), ec);
    REQUIRE(!ec);
    CHECK(authed.reveal() == "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n"
                             "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
    std::ostringstream os;
    os << authed;
    CHECK(os.str() == "[redacted]");

    (void)joinme::detail::connect_request({"https", "evil\r\nX-Injected: 1", "443"},
                                          parsed("http://proxy:3128"), ec);
    CHECK(ec == errc::invalid_url);
    (void)joinme::detail::connect_request({"https", "api.join.me", "443 HTTP/1.0"},
                                          parsed("http://proxy:3128"), ec);
    CHECK(ec == errc::invalid_url);
}

namespace {

using joinme::connect_answer;
using state = connect_answer::state;

connect_answer read(std::string_view bytes, std::size_t limit = 1024) {
    return joinme::read_connect_answer(bytes, limit);
}

} // namespace

TEST_CASE("CONNECT answer: a 200, whole or byte by byte") {
    const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    auto a = read(ok);
    CHECK(a.st == state::complete);
    CHECK(a.status == 200);
    CHECK(a.reason == "Connection established");
    CHECK(a.header_size == ok.size());
    CHECK(!a.outcome());
    for (std::size_t n = 0; n < ok.size(); ++n) {
        CAPTURE(n);
        CHECK(read(ok.substr(0, n)).st == state::incomplete);
    }
    CHECK(read("HTTP/1.0 200 OK\r\n\r\n").st == state::complete);
}

TEST_CASE("CONNECT answer: interim answers are skipped; bytes after the header are not read") {
    const std::string head = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    auto a = read(head + "early");
    CHECK(a.st == state::complete);
    CHECK(a.status == 200);
    CHECK(a.header_size == head.size());
    CHECK(read("HTTP/1.1 100 Continue\r\n\r\n").st == state::incomplete);
}

TEST_CASE("CONNECT answer: 407 keeps Proxy-Authenticate and Via") {
    auto a = read("HTTP/1.1 407 Proxy Authentication Required\r\n"
                  "Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                  "Proxy-Authenticate: Negotiate\r\n"
                  "Via: 1.1 squid (squid/5.7)\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(a.st == state::complete);
    CHECK(a.status == 407);
    CHECK(a.proxy_authenticate == "Basic realm=\"corp\", Negotiate");
    CHECK(a.via == "1.1 squid (squid/5.7)");
    CHECK(a.outcome() == errc::proxy_auth_required);
}

TEST_CASE("CONNECT answer: refusals, and an origin the proxy could not reach") {
    auto outcome = [](std::string head) { return read(head + "\r\n").outcome(); };
    CHECK(outcome("HTTP/1.1 403 Forbidden\r\n") == errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 405 Method Not Allowed\r\n") == errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 502 Bad Gateway\r\n") == errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 503 Service Unavailable\r\n") == errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 302 Found\r\nLocation: /login\r\n") == errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n") ==
          errc::proxy_origin_unreachable);
    CHECK(outcome("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_DNS_FAIL 0\r\n") ==
          errc::proxy_origin_unreachable);
    CHECK(outcome("HTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n") ==
          errc::proxy_refused);
    CHECK(outcome("HTTP/1.1 504 Gateway Timeout\r\n") == errc::proxy_origin_unreachable);
    CHECK(outcome("HTTP/1.1 204 No Content\r\n") == error_code{});
}

TEST_CASE("CONNECT answer: garbage is malformed as soon as it shows, endless headers stop at the "
          "limit") {
    for (const char* bad : {"SSH-2.0-OpenSSH_9.2\r\n", "X", "HTTP/2 200\r\n\r\n",
                            "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                            "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n"}) {
        const std::string answer = bad;
        CAPTURE(answer);
        auto a = read(answer);
        CHECK(a.st == state::failed);
        CHECK(a.ec == errc::proxy_malformed_response);
        CHECK(a.outcome() == errc::proxy_malformed_response);
        CHECK(!a.reason.empty());
    }
    std::string endless = "HTTP/1.1 200 OK\r\n";
    while (endless.size() < 100)
        endless += "X-More: 0123456789\r\n";
    auto a = read(endless, 64);
    CHECK(a.st == state::failed);
    CHECK(a.ec == errc::header_too_large);
    // A header that ends past the limit, all of it received at once.
    a = read(endless + "\r\n", 64);
    CHECK(a.st == state::failed);
    CHECK(a.ec == errc::header_too_large);
    CHECK(read(endless + "\r\n", 1024).st == state::complete);
    // A status line and fields each under the limit, together over it (found by the fuzzer).
    const std::string long_line = "HTTP/1.1 407 " + std::string(40, 'x') + "\r\n";
    const std::string fields = "Proxy-Authenticate: Basic\r\n\r\n";
    REQUIRE(long_line.size() < 64);
    REQUIRE(fields.size() < 64);
    a = read(long_line + fields, 64);
    CHECK(a.st == state::failed);
    CHECK(a.ec == errc::header_too_large);
    CHECK(read(long_line + fields, 128).st == state::complete);
}
