// Shared by the OAuth flow tests: the sandbox over TLS on loopback on a manual clock, a TLS
// connection pool that trusts it, and a scripted in-memory server for answers the sandbox
// does not give (an HTML 502, a `Date` header).
#ifndef JOINME_TESTS_OAUTH_FLOW_FIXTURE_HPP
#define JOINME_TESTS_OAUTH_FLOW_FIXTURE_HPP

#include <joinme/http/pool.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/oauth/token_source.hpp>
#include <joinme/oauth/token_store.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/transport/test_stream.hpp>

#include "support/test_stream_pool.hpp"
#include <joinme/transport/tls.hpp>

#include "support/http_server.hpp"
#include "support/manual_clock.hpp"
#include "support/run.hpp"

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace flow {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace oauth = joinme::oauth;
namespace sandbox = joinme::sandbox;
using joinme::diagnostics;
using joinme::errc;
using joinme::error_code;
using joinme::oauth_errc;
using joinme::secret;
using time_point = std::chrono::system_clock::time_point;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using tls_pool = joinme::http::basic_connection_pool<tls_stream>;
using memory_pool = joinme::http::basic_connection_pool<beast::test::stream>;
using namespace std::chrono_literals;

inline const oauth::scope_set default_scopes{oauth::scope::user_info, oauth::scope::scheduler};

using test_support::run;
using test_support::run_until;

// The sandbox on TLS, and a pool and a config pointing at it.
struct sandbox_env {
    asio::io_context ioc;
    std::shared_ptr<time_point> now = std::make_shared<time_point>(
        std::chrono::sys_days{std::chrono::year{2030} / std::chrono::January / 1} + 9h);
    sandbox::server srv;
    asio::ssl::context ssl = joinme::make_client_tls_context();
    std::optional<tls_pool> pool;
    oauth::config cfg;

    explicit sandbox_env(sandbox::options o = {})
        : srv(ioc.get_executor(),
              test_support::with_clock(test_support::auto_consent(std::move(o)), now)) {
        srv.listen_tls();
        ssl.add_certificate_authority(asio::buffer(srv.certificate_pem()));
        joinme::http::pool_options opts;
        opts.clock = clock(); // the OAuth steps date their tokens with it
        pool.emplace(ioc.get_executor(), joinme::tls_context(ssl), opts);
        cfg = config_for(srv.base_url());
    }

    static oauth::config config_for(const std::string& base) {
        oauth::config c;
        c.client_id = std::string(sandbox::default_client_id);
        c.client_secret = secret(std::string(sandbox::default_client_secret));
        c.redirect_uri = "http://127.0.0.1/callback";
        c.authorize_url = base + "/api/public/v1/auth/oauth2";
        c.token_url = base + "/api/public/v1/auth/token";
        c.expire_access_url = base + "/api/public/v1/auth/expireaccesstoken";
        c.renew_authorization_url = base + "/api/public/v1/auth/renewauthorization";
        return c;
    }

    joinme::clock_function clock() const { return test_support::clock_of(now); }

    void advance(std::chrono::seconds d) { *now += d; }

    template <class T>
    T run(asio::awaitable<T> aw) {
        return flow::run(ioc, std::move(aw));
    }

    // An authorization code, through the sandbox's authorize endpoint (consent given
    // automatically) and the library's own redirect parser.
    secret code(const oauth::scope_set& scopes = default_scopes) {
        oauth::authorization_options opts;
        opts.scopes = scopes;
        auto sent = oauth::make_authorization_request(cfg, opts);
        return run([](tls_pool& p, oauth::authorization_request sent,
                      time_point now) -> asio::awaitable<secret> {
            joinme::http::request req;
            req.version(11);
            auto url = boost::urls::parse_absolute_uri(sent.url).value();
            auto res = co_await p.async_request(bhttp::verb::get, url, std::move(req));
            REQUIRE(res.result_int() == 302);
            auto r = oauth::parse_redirect(res[bhttp::field::location], sent, now);
            co_return r.code;
        }(*pool, sent, *now));
    }

    // A fresh code-flow token, dated with the manual clock (the pool's).
    oauth::token login(const oauth::scope_set& scopes = default_scopes) {
        auto c = code(scopes);
        return run(oauth::async_exchange_code(*pool, cfg, c, secret(), scopes));
    }

    // Whether the API accepts `access` (GET /v1/user answers 200).
    bool api_accepts(const secret& access) {
        return run([](tls_pool& p, std::string base, std::string auth) -> asio::awaitable<bool> {
            joinme::http::request req;
            req.version(11);
            req.set(bhttp::field::authorization, auth);
            std::string u = base + "/v1/user";
            auto url = boost::urls::parse_absolute_uri(u).value();
            auto res = co_await p.async_request(bhttp::verb::get, url, std::move(req));
            co_return res.result_int() == 200;
        }(*pool, srv.base_url(), "Bearer " + access.reveal()));
    }
};

// A scripted server on in-memory streams: `handler` answers every request.
struct scripted_env {
    asio::io_context ioc;
    std::shared_ptr<test_support::server_behaviour> behaviour =
        std::make_shared<test_support::server_behaviour>();
    std::shared_ptr<test_support::server_counters> counters =
        std::make_shared<test_support::server_counters>();
    std::optional<memory_pool> pool;
    oauth::config cfg = sandbox_env::config_for("https://auth.example.com");

    scripted_env() {
        joinme::test_stream_connector connect = [b = behaviour,
                                                 c = counters](const asio::any_io_executor& ex) {
            beast::test::stream client(ex);
            auto server = std::make_shared<beast::test::stream>(ex);
            client.connect(*server);
            ++c->connections;
            asio::co_spawn(
                ex,
                [](std::shared_ptr<beast::test::stream> s, auto b,
                   auto c) -> asio::awaitable<void> {
                    co_await test_support::serve_http(*s, b, c);
                }(server, b, c),
                asio::detached);
            return client;
        };
        pool.emplace(ioc.get_executor(), std::move(connect));
    }

    template <class T>
    T run(asio::awaitable<T> aw) {
        return flow::run(ioc, std::move(aw));
    }
};

inline test_support::response json_response(unsigned status, std::string body) {
    test_support::response res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

} // namespace flow

#endif
