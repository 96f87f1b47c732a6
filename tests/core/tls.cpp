// TLS peer verification over real sockets on loopback: each way a server's certificate can be
// rejected has its own errc, and the diagnostics say why (OpenSSL's reason) and whose
// certificate it was.
#include <joinme/http/pool.hpp>
#include <joinme/sandbox/tls.hpp>
#include <joinme/transport/tls.hpp>

#include "support/certificates.hpp"
#include "support/http_server.hpp"

#include <doctest/doctest.h>
#include <openssl/x509_vfy.h>

#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using joinme::errc;
using joinme::error_code;
using test_support::certificate_spec;
using test_support::make_certificate;
using test_support::test_certificate;

namespace {

using tls_pool = joinme::http::basic_connection_pool<beast::ssl_stream<beast::tcp_stream>>;

constexpr long one_day = 24 * 3600;

// The CA the client trusts, and one it does not.
const test_certificate& trusted_ca() {
    static const auto ca = make_certificate({"joinme test CA", "", -one_day, 30 * one_day, true});
    return ca;
}

const test_certificate& untrusted_ca() {
    static const auto ca =
        make_certificate({"joinme untrusted CA", "", -one_day, 30 * one_day, true});
    return ca;
}

struct attempt {
    error_code ec;
    joinme::diagnostics diag;
    std::size_t requests = 0; // seen by the server
};

// One GET through a pool that trusts only `trusted_ca()`, to a server on 127.0.0.1 that shows
// `server_cert`, addressed as `host`.
attempt request_to(const test_certificate& server_cert, const std::string& host,
                   bool insecure_skip_verify = false) {
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(server_cert.pem);
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0},
                                         &server_ctx);
    auto client_ctx = joinme::make_client_tls_context(joinme::trust_store::none);
    client_ctx.add_certificate_authority(asio::buffer(trusted_ca().pem.certificate_pem));
    joinme::tls_context tls(client_ctx);
    tls.insecure_skip_verify = insecure_skip_verify;
    tls_pool pool(ioc.get_executor(), tls);
    const joinme::origin target{"https", host, std::to_string(server.endpoint().port())};
    attempt out;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            joinme::http::request req(bhttp::verb::get, "/v1/user", 11);
            joinme::http::response res;
            const joinme::http::request_options send{&out.diag};
            out.ec = co_await pool.co_request(target, std::move(req), res, send);
            pool.close();
            server.stop();
        },
        asio::detached);
    ioc.run();
    out.requests = server.counters().requests;
    return out;
}

// A server certificate for 127.0.0.1 and localhost issued by `ca`.
test_certificate issued(const test_certificate& ca, certificate_spec spec) {
    return make_certificate(spec, &ca);
}

// The diagnostics carry OpenSSL's reason for `result` and the certificate's subject.
void check_reported(const attempt& a, long result, const std::string& subject) {
    const auto& msg = a.diag.client_message;
    INFO(msg);
    CHECK(msg.find(X509_verify_cert_error_string(result)) != std::string::npos);
    CHECK(msg.find("subject \"" + subject + "\"") != std::string::npos);
    CHECK(a.requests == 0); // nothing was sent to that server
}

} // namespace

TEST_CASE("TLS verification: a trusted, valid certificate for the dialled name succeeds") {
    auto good = issued(trusted_ca(), {"good.test", "DNS:localhost,IP:127.0.0.1"});
    for (const char* host : {"127.0.0.1", "localhost"}) {
        CAPTURE(host);
        auto a = request_to(good, host);
        CHECK_MESSAGE(!a.ec, a.ec.message());
        CHECK(a.diag.empty());
        CHECK(a.requests == 1);
    }
}

TEST_CASE("TLS verification: a certificate for another name is certificate_name_mismatch") {
    auto other = issued(trusted_ca(), {"other.example", "DNS:other.example"});
    SUBCASE("dialled by IP address") {
        auto a = request_to(other, "127.0.0.1");
        CHECK(a.ec == errc::certificate_name_mismatch);
        check_reported(a, X509_V_ERR_IP_ADDRESS_MISMATCH, "CN=other.example");
    }
    SUBCASE("dialled by host name") {
        auto a = request_to(other, "localhost");
        CHECK(a.ec == errc::certificate_name_mismatch);
        check_reported(a, X509_V_ERR_HOSTNAME_MISMATCH, "CN=other.example");
    }
}

TEST_CASE("TLS verification: an expired certificate is certificate_expired") {
    auto expired = issued(trusted_ca(),
                          {"expired.test", "DNS:localhost,IP:127.0.0.1", -10 * one_day, -one_day});
    auto a = request_to(expired, "127.0.0.1");
    CHECK(a.ec == errc::certificate_expired);
    check_reported(a, X509_V_ERR_CERT_HAS_EXPIRED, "CN=expired.test");
}

TEST_CASE("TLS verification: a certificate valid from tomorrow is certificate_not_yet_valid") {
    auto early =
        issued(trusted_ca(), {"early.test", "DNS:localhost,IP:127.0.0.1", one_day, 10 * one_day});
    auto a = request_to(early, "localhost");
    CHECK(a.ec == errc::certificate_not_yet_valid);
    check_reported(a, X509_V_ERR_CERT_NOT_YET_VALID, "CN=early.test");
}

TEST_CASE("TLS verification: a certificate from a CA the client does not trust is "
          "certificate_untrusted") {
    SUBCASE("issued by another CA") {
        auto stranger = issued(untrusted_ca(), {"stranger.test", "DNS:localhost,IP:127.0.0.1"});
        auto a = request_to(stranger, "127.0.0.1");
        CHECK(a.ec == errc::certificate_untrusted);
        check_reported(a, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "CN=stranger.test");
        CHECK(a.diag.client_message.find("issuer \"CN=joinme untrusted CA\"") != std::string::npos);
    }
    SUBCASE("self-signed") {
        auto self = make_certificate({"self.test", "DNS:localhost,IP:127.0.0.1"});
        auto a = request_to(self, "localhost");
        CHECK(a.ec == errc::certificate_untrusted);
        check_reported(a, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "CN=self.test");
    }
}

TEST_CASE("TLS verification: insecure_skip_verify accepts any certificate") {
    auto bad = issued(untrusted_ca(), {"bad.test", "DNS:other.example", -10 * one_day, -one_day});
    auto a = request_to(bad, "127.0.0.1", true);
    CHECK_MESSAGE(!a.ec, a.ec.message());
    CHECK(a.requests == 1);
}

TEST_CASE("TLS verification: the throwing form carries the reason in its diagnostics") {
    auto other = issued(trusted_ca(), {"other.example", "DNS:other.example"});
    asio::io_context ioc;
    auto server_ctx = joinme::sandbox::make_server_context(other.pem);
    test_support::tcp_test_server server(ioc, {asio::ip::make_address("127.0.0.1"), 0},
                                         &server_ctx);
    auto client_ctx = joinme::make_client_tls_context(joinme::trust_store::none);
    client_ctx.add_certificate_authority(asio::buffer(trusted_ca().pem.certificate_pem));
    tls_pool pool(ioc.get_executor(), joinme::tls_context(client_ctx));
    const joinme::origin target{"https", "127.0.0.1", std::to_string(server.endpoint().port())};
    std::string what;
    error_code ec;
    joinme::diagnostics diag;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            try {
                joinme::http::request req(bhttp::verb::get, "/", 11);
                (void)co_await pool.async_request(target, std::move(req));
            } catch (const joinme::error_with_diagnostics& e) {
                ec = e.code();
                diag = e.get_diagnostics();
                what = e.what();
            }
            pool.close();
            server.stop();
        },
        asio::detached);
    ioc.run();
    CHECK(ec == errc::certificate_name_mismatch);
    CHECK(diag.client_message.find("CN=other.example") != std::string::npos);
    CHECK(what.find(X509_verify_cert_error_string(X509_V_ERR_IP_ADDRESS_MISMATCH)) !=
          std::string::npos);
}
