// proxy_stream over loopback, through a scripted proxy: tunnels to TLS and plain origins (SNI
// and verification for the origin, never the proxy), keep-alive through one tunnel, Basic
// authentication, and a proxy that refuses, is down, stalls or answers garbage.
#include <joinme/api/client.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/transport/proxy.hpp>

#include "support/certificates.hpp"
#include "support/http_server.hpp"
#include "support/run.hpp"
#include "support/scripted_proxy.hpp"

#include <boost/asio.hpp>
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using joinme::diagnostics;
using joinme::errc;
using joinme::error_code;
using joinme::http::request;
using joinme::http::response;
using test_support::certificate_spec;
using test_support::make_certificate;
using test_support::proxy_script;
using namespace std::chrono_literals;

namespace {

using proxy_pool = joinme::http::basic_connection_pool<joinme::proxy_stream>;

constexpr long day = 24 * 3600;

const test_support::test_certificate& test_ca() {
    static const auto ca = make_certificate({"joinme proxy test CA", "", -day, 30 * day, true});
    return ca;
}

// A server certificate for `alt_names`, issued by the test CA.
joinme::sandbox::self_signed_certificate server_certificate(std::string alt_names) {
    certificate_spec spec;
    spec.common_name = "origin";
    spec.alt_names = std::move(alt_names);
    return make_certificate(spec, &test_ca()).pem;
}

ssl::context client_context() {
    auto ctx = joinme::make_client_tls_context(joinme::trust_store::none);
    ctx.add_certificate_authority(asio::buffer(test_ca().pem.certificate_pem));
    return ctx;
}

// Records the SNI name of every handshake a server context makes.
int record_sni(SSL* s, int*, void* arg) {
    auto* names = static_cast<std::vector<std::string>*>(arg);
    const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    names->push_back(name ? name : "");
    return SSL_TLSEXT_ERR_OK;
}

struct outcome {
    error_code ec;
    diagnostics diag;
    unsigned status = 0;
    std::chrono::steady_clock::duration took{};
};

// An origin server (TLS or plain) on loopback, a scripted proxy, and a pool of proxy_stream
// whose host names are never resolved by the client: every connection must go through the
// proxy (or be a direct one to an IP literal).
struct rig {
    explicit rig(bool tls, std::string alt_names = "DNS:origin.test")
        : server_cert(server_certificate(std::move(alt_names)))
        , server_ctx(joinme::sandbox::make_server_context(server_cert))
        , server(ioc, {asio::ip::make_address("127.0.0.1"), 0}, tls ? &server_ctx : nullptr)
        , proxy(ioc)
        , tls(tls) {
        SSL_CTX_set_tlsext_servername_callback(server_ctx.native_handle(), record_sni);
        SSL_CTX_set_tlsext_servername_arg(server_ctx.native_handle(), &sni);
        opts.connect_timeout = 1s;
        opts.limits.timeout = 2s;
        opts.deadline_resolution = 20ms;
    }

    ~rig() {
        if (pool)
            pool->close();
        proxy.stop();
        server.stop();
        ioc.poll();
    }

    joinme::origin origin(std::string host = "origin.test") const {
        return {tls ? "https" : "http", std::move(host), std::to_string(server.endpoint().port())};
    }

    // A pool through `config` (the scripted proxy's URL when empty).
    proxy_pool& make_pool(std::optional<joinme::proxy_config> config = std::nullopt) {
        joinme::proxy_config c;
        if (config) {
            c = *config;
        } else {
            REQUIRE(!c.set_proxy(proxy.url()));
        }
        joinme::proxy_context ctx{joinme::tls_context(client_ssl), c};
        ctx.tls.tcp.resolve =
            [this](std::string_view host, std::string_view,
                   asio::any_completion_handler<void(error_code, joinme::resolve_results)> h) {
                resolved.emplace_back(host);
                asio::post(ioc, [h = std::move(h)]() mutable {
                    std::move(h)(asio::error::host_not_found, joinme::resolve_results{});
                });
            };
        pool.emplace(ioc.get_executor(), std::move(ctx), opts);
        return *pool;
    }

    outcome get(joinme::origin o, std::string target = "/v1/user") {
        auto start = std::chrono::steady_clock::now();
        auto r = test_support::run(
            ioc,
            [](proxy_pool& p, joinme::origin o, std::string t) -> asio::awaitable<outcome> {
                outcome out;
                response res;
                joinme::http::request_options ro;
                ro.diag = &out.diag;
                request req(bhttp::verb::get, t, 11);
                out.ec = co_await p.co_request(std::move(o), std::move(req), res, ro);
                out.status = res.result_int();
                co_return out;
            }(*pool, std::move(o), std::move(target)),
            10s);
        r.took = std::chrono::steady_clock::now() - start;
        return r;
    }

    asio::io_context ioc;
    joinme::sandbox::self_signed_certificate server_cert;
    ssl::context server_ctx;
    ssl::context client_ssl = client_context();
    std::vector<std::string> sni;
    test_support::tcp_test_server server;
    test_support::scripted_proxy proxy;
    bool tls;
    joinme::http::pool_options opts;
    std::optional<proxy_pool> pool;
    std::vector<std::string> resolved; // host names the client tried to resolve itself
};

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

} // namespace

TEST_CASE("proxy: a TLS origin through the tunnel, verified and named as the origin") {
    rig r(true);
    r.make_pool();
    auto a = r.get(r.origin());
    REQUIRE_MESSAGE(!a.ec, a.ec.message(), " ", a.diag);
    CHECK(a.status == 200);
    REQUIRE(r.proxy.record().requests.size() == 1);
    const auto port = std::to_string(r.server.endpoint().port());
    CHECK(r.proxy.record().requests[0] ==
          "CONNECT origin.test:" + port + " HTTP/1.1\r\nHost: origin.test:" + port + "\r\n\r\n");
    CHECK(r.sni == std::vector<std::string>{"origin.test"});
    CHECK(r.resolved.empty()); // the proxy resolves the origin; the proxy is an IP literal
    CHECK(r.server.counters().requests == 1);
}

TEST_CASE("proxy: the origin's certificate is checked for the origin's name, not the proxy's") {
    // Valid for the proxy's address (127.0.0.1) and another name, not for origin.test.
    rig r(true, "DNS:other.test,IP:127.0.0.1");
    r.make_pool();
    auto a = r.get(r.origin());
    CHECK(a.ec == errc::certificate_name_mismatch);
    CHECK(contains(a.diag.client_message, "through the proxy http://127.0.0.1:"));
    CHECK(r.server.counters().requests == 0);
}

TEST_CASE("proxy: many calls reuse one tunnelled connection") {
    for (bool tls : {true, false}) {
        CAPTURE(tls);
        rig r(tls);
        auto& pool = r.make_pool();
        for (int i = 0; i < 50; ++i) {
            auto a = r.get(r.origin());
            REQUIRE_MESSAGE(!a.ec, a.ec.message(), " ", a.diag);
        }
        CHECK(pool.stats().connections_opened == 1);
        CHECK(pool.stats().reused == 49);
        CHECK(r.proxy.record().connections == 1);
        CHECK(r.proxy.record().requests.size() == 1);
        CHECK(r.server.counters().connections == 1);
        CHECK(r.server.counters().requests == 50);
    }
}

TEST_CASE("proxy: Basic authentication; a 407 keeps the proxy's words and no credential") {
    rig r(true);
    // "alice:Pr0xy-S3cret" in Base64.
    r.proxy.script().required_authorization = "Basic YWxpY2U6UHIweHktUzNjcmV0";
    joinme::proxy_config right;
    REQUIRE(
        !right.set_proxy("http://alice:Pr0xy-S3cret@127.0.0.1:" + std::to_string(r.proxy.port())));
    SUBCASE("right credentials") {
        r.make_pool(right);
        auto a = r.get(r.origin());
        REQUIRE_MESSAGE(!a.ec, a.ec.message(), " ", a.diag);
        CHECK(contains(r.proxy.record().requests[0],
                       "\r\nProxy-Authorization: Basic YWxpY2U6UHIweHktUzNjcmV0\r\n"));
    }
    SUBCASE("wrong credentials") {
        joinme::proxy_config wrong;
        REQUIRE(!wrong.set_proxy("http://alice:Wr0ng-Passw0rd@127.0.0.1:" +
                                 std::to_string(r.proxy.port())));
        r.make_pool(wrong);
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_auth_required);
        CHECK(a.diag.status == 407);
        CHECK(a.diag.proxy_authenticate == "Basic realm=\"test\"");
        CHECK(a.diag.via == "1.1 scripted-proxy");
        CHECK(contains(a.diag.client_message, "rejected the credentials"));
        CHECK(contains(a.diag.client_message, "http://alice@127.0.0.1:"));
        std::string all = a.diag.to_string() + " " + a.ec.message();
        CHECK(!contains(all, "Wr0ng-Passw0rd"));
        CHECK(!contains(all, joinme::detail::base64("alice:Wr0ng-Passw0rd")));
        CHECK(r.server.counters().connections == 0);
    }
    SUBCASE("a proxy that quotes the credentials back has them redacted") {
        auto& script = r.proxy.script();
        script.what = proxy_script::mode::answer;
        script.bytes = "HTTP/1.1 403 Basic YWxpY2U6UHIweHktUzNjcmV0 from alice:Pr0xy-S3cret\r\n"
                       "Via: 1.1 Pr0xy-S3cret\r\n\r\n";
        script.required_authorization.clear();
        r.make_pool(right);
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_refused);
        CHECK(a.diag.status == 403);
        std::string all = a.diag.to_string();
        CHECK(!contains(all, "Pr0xy-S3cret"));
        CHECK(!contains(all, "YWxpY2U6UHIweHktUzNjcmV0"));
        CHECK(contains(all, "[redacted]"));
    }
    SUBCASE("no credentials") {
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_auth_required);
        CHECK(contains(a.diag.client_message, "no credentials were sent"));
        CHECK(!contains(r.proxy.record().requests[0], "Proxy-Authorization"));
    }
}

TEST_CASE("proxy: refusals and failures are distinct, clear, and within the deadline") {
    rig r(true);
    auto& script = r.proxy.script();
    SUBCASE("403: refused, status and Via kept") {
        script.what = proxy_script::mode::answer;
        script.bytes = "HTTP/1.1 403 Forbidden\r\nVia: 1.1 corp-proxy\r\nContent-Length: 0\r\n\r\n";
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_refused);
        CHECK(a.diag.status == 403);
        CHECK(a.diag.via == "1.1 corp-proxy");
        CHECK(contains(a.diag.client_message, "refused CONNECT origin.test:"));
        CHECK(contains(a.diag.client_message, "403 Forbidden"));
    }
    SUBCASE("the proxy cannot reach the origin") {
        // The scripted proxy tunnels to 127.0.0.1 at the port asked for: a closed one.
        asio::ip::tcp::acceptor closed(r.ioc, {asio::ip::make_address("127.0.0.1"), 0});
        auto port = std::to_string(closed.local_endpoint().port());
        closed.close();
        r.make_pool();
        auto a = r.get({"https", "origin.test", port});
        CHECK(a.ec == errc::proxy_origin_unreachable);
        CHECK(a.diag.status == 503);
        CHECK(contains(a.diag.client_message, "ERR_CONNECT_FAIL"));
    }
    SUBCASE("the proxy is down") {
        asio::ip::tcp::acceptor closed(r.ioc, {asio::ip::make_address("127.0.0.1"), 0});
        auto port = std::to_string(closed.local_endpoint().port());
        closed.close();
        joinme::proxy_config down;
        REQUIRE(!down.set_proxy("http://127.0.0.1:" + port));
        r.make_pool(down);
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_unreachable);
        CHECK(contains(a.diag.client_message,
                       "could not connect to the proxy http://127.0.0.1:" + port));
        CHECK(a.took < 1s);
    }
    SUBCASE("the proxy stalls: timeout at the connect deadline") {
        script.what = proxy_script::mode::stall;
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::timeout);
        CHECK(contains(a.diag.client_message, "waiting for the proxy"));
        CHECK(a.took >= 900ms);
        CHECK(a.took < 3s);
    }
    SUBCASE("garbage: malformed at once") {
        script.what = proxy_script::mode::answer;
        script.bytes = "SSH-2.0-OpenSSH_9.2\r\n";
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_malformed_response);
        CHECK(contains(a.diag.client_message, "not an HTTP/1.x response"));
        CHECK(a.took < 900ms);
    }
    SUBCASE("an endless header stops at the limit") {
        script.what = proxy_script::mode::endless;
        script.bytes = "HTTP/1.1 200 OK\r\n";
        script.unit = "X-More: 0123456789\r\n";
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::header_too_large);
        CHECK(a.took < 900ms);
    }
    SUBCASE("bytes after the 200 are refused") {
        script.what = proxy_script::mode::answer;
        script.bytes = "HTTP/1.1 200 OK\r\n\r\nsurprise";
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::proxy_malformed_response);
        CHECK(contains(a.diag.client_message, "bytes after its 200"));
    }
    SUBCASE("a partial answer, then silence: timeout at the connect deadline") {
        script.what = proxy_script::mode::answer;
        script.bytes = "HTTP/1.1 200";
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::timeout);
        CHECK(a.took < 3s);
    }
    SUBCASE("closed before answering") {
        script.what = proxy_script::mode::answer;
        script.bytes = "HTTP/1.1 20";
        script.close_after = true;
        r.make_pool();
        auto a = r.get(r.origin());
        CHECK(a.ec == errc::connection_closed);
        CHECK(contains(a.diag.client_message, "closed the connection before answering CONNECT"));
        CHECK(a.took < 900ms);
    }
    CHECK(r.server.counters().connections == 0);
}

TEST_CASE("proxy: loopback origins go direct unless asked; no_proxy hosts go direct") {
    rig r(true, "DNS:origin.test,IP:127.0.0.1");
    SUBCASE("loopback, by default") {
        r.make_pool();
        auto a = r.get(r.origin("127.0.0.1"));
        REQUIRE_MESSAGE(!a.ec, a.ec.message(), " ", a.diag);
        CHECK(r.proxy.record().connections == 0);
        CHECK(r.pool->stats().connections_opened == 1);
    }
    SUBCASE("loopback, proxied when asked") {
        joinme::proxy_config c;
        REQUIRE(!c.set_proxy(r.proxy.url()));
        c.proxy_loopback = true;
        r.make_pool(c);
        auto a = r.get(r.origin("127.0.0.1"));
        REQUIRE_MESSAGE(!a.ec, a.ec.message(), " ", a.diag);
        CHECK(r.proxy.record().connections == 1);
    }
    SUBCASE("no_proxy") {
        joinme::proxy_config c;
        REQUIRE(!c.set_proxy(r.proxy.url()));
        c.no_proxy = "example.com, .test";
        r.make_pool(c);
        auto a = r.get(r.origin());
        // Direct: the client resolves origin.test itself (the test's resolver knows nothing).
        CHECK(a.ec == asio::error::host_not_found);
        CHECK(r.resolved == std::vector<std::string>{"origin.test"});
        CHECK(r.proxy.record().connections == 0);
    }
}

TEST_CASE("proxy: the API client honours client_config::proxy, and other streams refuse it") {
    asio::io_context ioc;
    joinme::sandbox::server srv(ioc.get_executor());
    srv.listen_tls();
    test_support::scripted_proxy proxy(ioc);
    auto ssl_ctx = joinme::make_client_tls_context(joinme::trust_store::none);
    ssl_ctx.add_certificate_authority(asio::buffer(srv.certificate_pem()));

    joinme::api::client_config cfg;
    cfg.set_base_url(srv.base_url());
    REQUIRE(!cfg.proxy.set_proxy(proxy.url()));
    cfg.proxy.proxy_loopback = true;

    using tls_stream = beast::ssl_stream<beast::tcp_stream>;
    CHECK_THROWS_AS(joinme::api::basic_client<tls_stream>(ioc.get_executor(),
                                                          joinme::tls_context(ssl_ctx), cfg),
                    std::invalid_argument);

    // A client over a shared pool goes where the pool's context says: it refuses a proxy of
    // its own rather than ignore it.
    auto shared = std::make_shared<proxy_pool>(ioc.get_executor(),
                                               joinme::proxy_context(joinme::tls_context(ssl_ctx)));
    CHECK_THROWS_AS(joinme::api::any_client(shared, cfg), std::invalid_argument);
    shared->close();

    joinme::api::basic_client<joinme::proxy_stream> client(
        ioc.get_executor(), joinme::proxy_context(joinme::tls_context(ssl_ctx)), cfg);
    joinme::diagnostics d;
    // No token yet: the call fails before any connection. Warm-up opens one, through the proxy.
    auto ec = test_support::run(ioc,
                                [](joinme::api::basic_client<joinme::proxy_stream>& c,
                                   joinme::diagnostics& d) -> asio::awaitable<error_code> {
                                    auto [ec] = co_await c.async_warm_up(
                                        1, d, asio::as_tuple(asio::use_awaitable));
                                    co_return ec;
                                }(client, d));
    REQUIRE_MESSAGE(!ec, ec.message(), " ", d);
    CHECK(proxy.record().connections == 1);
    REQUIRE(proxy.record().requests.size() == 1);
    CHECK(proxy.record().requests[0].rfind("CONNECT 127.0.0.1:", 0) == 0);
    client.close();
    proxy.stop();
    srv.stop();
    ioc.poll();
}
