// Shared by the API client tests: the sandbox on a manual clock, served over TLS, plain TCP or
// an in-memory stream pair, and a `basic_client` of the matching stream type pointed at it.
#ifndef JOINME_TESTS_API_CLIENT_FIXTURE_HPP
#define JOINME_TESTS_API_CLIENT_FIXTURE_HPP

#include <joinme/api/client.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/test_stream.hpp>

#include "support/test_stream_pool.hpp"
#include <joinme/transport/tls.hpp>

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include "support/manual_clock.hpp"
#include "support/run.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace apit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace api = joinme::api;
namespace oauth = joinme::oauth;
namespace sandbox = joinme::sandbox;
using joinme::diagnostics;
using joinme::errc;
using joinme::error_code;
using joinme::oauth_errc;
using joinme::secret;
using time_point = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using tcp_stream = beast::tcp_stream;
using memory_stream = beast::test::stream;

inline const char* const default_scopes = "user_info scheduler start_meeting";

using test_support::run;
using test_support::run_until;

// The result of an operation in its diagnostics form.
template <class T>
struct outcome {
    error_code ec;
    diagnostics diag;
    T value{};
};
struct none {};

// How each stream type reaches the sandbox.
template <class Stream>
struct setup;

template <>
struct setup<tls_stream> {
    static constexpr const char* name = "tls";
    static joinme::tls_context context(sandbox::server& srv, asio::ssl::context& ssl) {
        srv.listen_tls();
        ssl.add_certificate_authority(asio::buffer(srv.certificate_pem()));
        return joinme::tls_context(ssl);
    }
};

template <>
struct setup<tcp_stream> {
    static constexpr const char* name = "tcp";
    static joinme::tcp_context context(sandbox::server& srv, asio::ssl::context&) {
        srv.listen_tcp();
        return {};
    }
};

template <>
struct setup<memory_stream> {
    static constexpr const char* name = "memory";
    static joinme::test_stream_connector context(sandbox::server& srv, asio::ssl::context&) {
        return srv.in_memory_connector();
    }
};

inline oauth::config oauth_config_for(const std::string& base, std::string_view client_id) {
    oauth::config c;
    c.client_id = std::string(client_id);
    c.client_secret = secret(std::string(sandbox::default_client_secret));
    c.redirect_uri = "http://127.0.0.1/callback";
    c.set_auth_base_url(base);
    return c;
}

// The sandbox (auto consent, manual clock) and its address for `Stream`.
template <class Stream>
struct env {
    using client_type = api::basic_client<Stream>;

    asio::io_context ioc;
    std::shared_ptr<time_point> now = std::make_shared<time_point>(
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    sandbox::server srv;
    asio::ssl::context ssl = joinme::make_client_tls_context();
    typename joinme::stream_traits<Stream>::context_type ctx;
    std::string base;
    // Waits asked of the retry policy; the injected sleep advances the clock instead.
    std::shared_ptr<std::vector<std::chrono::milliseconds>> sleeps =
        std::make_shared<std::vector<std::chrono::milliseconds>>();

    explicit env(sandbox::options o = {})
        : srv(ioc.get_executor(),
              test_support::with_clock(test_support::auto_consent(std::move(o)), now))
        , ctx(setup<Stream>::context(srv, ssl)) {
        base = std::is_same_v<Stream, memory_stream> ? std::string("http://sandbox.test")
                                                     : srv.base_url();
    }

    ~env() {
        srv.stop();
        ioc.poll();
    }

    void advance(std::chrono::seconds d) { *now += d; }

    // A client configuration: small pool, injected clock and retry sleep.
    api::client_config config(std::string_view client_id = sandbox::default_client_id) {
        api::client_config c;
        c.api_base_url = base;
        c.oauth = oauth_config_for(base, client_id);
        c.pool.max_connections_per_origin = 4;
        c.pool.limits.timeout = 20s;
        c.pool.retry.sleep = [t = now, s = sleeps, ex = ioc.get_executor()](
                                 std::chrono::milliseconds d,
                                 asio::any_completion_handler<void(error_code)> h) {
            s->push_back(d);
            *t += std::chrono::ceil<std::chrono::seconds>(d);
            asio::post(ex, [h = std::move(h)]() mutable { std::move(h)(error_code{}); });
        };
        c.pool.clock = test_support::clock_of(now); // the token source's too
        return c;
    }

    template <class T>
    T run(asio::awaitable<T> aw, std::chrono::milliseconds limit = 30s) {
        return apit::run(ioc, std::move(aw), limit);
    }

    // Logs `user` in with `scopes` through the sandbox's authorize and token endpoints and
    // hands the token to `client` (a `basic_client` or an `any_client`).
    template <class Client>
    oauth::token login(Client& client, std::string_view scopes = default_scopes,
                       std::string_view user = "pro@example.com") {
        srv.config().current_user = std::string(user);
        oauth::authorization_options opts;
        opts.scopes = oauth::scope_set::parse(scopes);
        auto cfg = client.config().oauth;
        auto sent = oauth::make_authorization_request(cfg, opts);
        auto t = run([](joinme::http::connection_pool& pool, oauth::authorization_request sent,
                        oauth::config cfg, oauth::scope_set scopes,
                        time_point at) -> asio::awaitable<oauth::token> {
            auto url = boost::urls::parse_absolute_uri(sent.url).value();
            error_code ec;
            auto origin = joinme::origin_of(url, ec);
            joinme::http::request req(beast::http::verb::get, url.encoded_target(), 11);
            joinme::http::response res;
            ec = co_await pool.co_request(origin, std::move(req), res);
            REQUIRE(!ec);
            REQUIRE(res.result_int() == 302);
            auto r = oauth::parse_redirect(res[beast::http::field::location], sent, at);
            auto none_verifier = secret();
            co_return co_await oauth::async_exchange_code(pool, cfg, r.code, none_verifier, scopes);
        }(client.pool(), sent, cfg, opts.scopes, *now));
        client.set_token(t);
        return t;
    }

    std::size_t requests(sandbox::endpoint e) const { return srv.stats()[e]; }
    std::size_t refreshes() const { return srv.stats().refresh_requests; }
};

// Runs an operation in its diagnostics form: `op(diag, token)`.
template <class T, class Env, class Op>
outcome<T> attempt(Env& e, Op op) {
    return e.run([](Op op) -> asio::awaitable<outcome<T>> {
        outcome<T> out;
        if constexpr (std::is_same_v<T, none>) {
            auto [ec] = co_await op(out.diag, asio::as_tuple(asio::use_awaitable));
            out.ec = ec;
        } else {
            auto [ec, v] = co_await op(out.diag, asio::as_tuple(asio::use_awaitable));
            out.ec = ec;
            out.value = std::move(v);
        }
        co_return out;
    }(std::move(op)));
}

} // namespace apit

#endif
