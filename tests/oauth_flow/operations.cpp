// The OAuth back-channel operations (exchange, refresh, expire access) against the sandbox
// over TLS on loopback, and against a scripted server for answers the sandbox does not give.
#include "oauth/common.hpp"
#include "oauth_flow/fixture.hpp"

#include <tuple>

#include <boost/asio/deferred.hpp>

using namespace flow;

namespace {

struct token_result {
    error_code ec;
    oauth::token value;
    diagnostics diag;
};

token_result exchange(sandbox_env& env, const secret& code, oauth::config cfg) {
    token_result r;
    auto tuple_1 =
        env.run(oauth::async_exchange_code(*env.pool, cfg, code, secret(), default_scopes, r.diag,
                                           asio::as_tuple(asio::use_awaitable)));
    auto& ec = std::get<0>(tuple_1);
    auto& t = std::get<1>(tuple_1);
    r.ec = ec;
    r.value = std::move(t);
    return r;
}

token_result refresh(sandbox_env& env, const oauth::token& current) {
    token_result r;
    auto tuple_2 = env.run(oauth::async_refresh(*env.pool, env.cfg, current, r.diag,
                                                asio::as_tuple(asio::use_awaitable)));
    auto& ec = std::get<0>(tuple_2);
    auto& t = std::get<1>(tuple_2);
    r.ec = ec;
    r.value = std::move(t);
    return r;
}

} // namespace

TEST_CASE("exchange: a code becomes a refreshable token (TLS, sandbox)") {
    sandbox_env env;
    auto code = env.code();
    auto r = exchange(env, code, env.cfg);
    REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
    CHECK(r.diag.empty());
    CHECK(!r.value.access_token.empty());
    CHECK(r.value.refreshable());
    CHECK(r.value.is_bearer());
    REQUIRE(r.value.lifetime());
    CHECK(*r.value.lifetime() == 3600s);
    CHECK(r.value.scopes == default_scopes);
    CHECK(env.srv.stats().tokens_issued_authorization_code == 1);

    SUBCASE("the code is single use: invalid_grant, with the server's detail") {
        auto again = exchange(env, code, env.cfg);
        CHECK(again.ec == oauth_errc::invalid_grant);
        CHECK(again.diag.status == 400);
        CHECK(again.diag.error == "invalid_grant");
        CHECK(!again.diag.error_description.empty());
        // Nothing secret in what a log would show.
        auto text = again.diag.to_string() + again.ec.message();
        CHECK(text.find(code.reveal()) == std::string::npos);
        CHECK(text.find(std::string(sandbox::default_client_secret)) == std::string::npos);
    }
    SUBCASE("the throwing form throws error_with_diagnostics") {
        bool thrown = false;
        try {
            env.run(oauth::async_exchange_code(*env.pool, env.cfg, code, secret(), default_scopes));
        } catch (const joinme::error_with_diagnostics& e) {
            thrown = true;
            CHECK(e.code() == oauth_errc::invalid_grant);
            CHECK(e.get_diagnostics().status == 400);
            CHECK(std::string(e.what()).find(code.reveal()) == std::string::npos);
        }
        CHECK(thrown);
    }
}

TEST_CASE("the OAuth steps date their tokens with the pool's clock") {
    sandbox_env env; // the sandbox's clock: 2030-01-01 09:00 UTC, far from the system's
    joinme::http::pool_options opts;
    opts.clock = env.clock();
    env.pool.emplace(env.ioc.get_executor(), joinme::tls_context(env.ssl), opts);
    env.advance(1s);
    auto r = exchange(env, env.code(), env.cfg);
    REQUIRE_MESSAGE(!r.ec, r.diag);
    CHECK(r.value.obtained_at == std::chrono::floor<std::chrono::seconds>(*env.now));
    CHECK(r.value.expires_at == r.value.obtained_at + 3600s);
    env.advance(3599s);
    CHECK_FALSE(r.value.expired(*env.now));
    env.advance(1s);
    CHECK(r.value.expired(*env.now));
}

TEST_CASE("exchange: an expired code, a bad client secret, a wrong redirect URI") {
    sandbox_env env;
    SUBCASE("expired code (clock advanced past 10 minutes)") {
        auto code = env.code();
        env.advance(601s);
        auto r = exchange(env, code, env.cfg);
        CHECK(r.ec == oauth_errc::invalid_grant);
        CHECK(r.diag.status == 400);
    }
    SUBCASE("bad client secret: invalid_client") {
        auto code = env.code();
        auto cfg = env.cfg;
        cfg.client_secret = secret("wrong-secret");
        auto r = exchange(env, code, cfg);
        CHECK(r.ec == oauth_errc::invalid_client);
        CHECK(r.diag.status == 401);
        CHECK(r.diag.error == "invalid_client");
        CHECK(r.diag.to_string().find("wrong-secret") == std::string::npos);
    }
    SUBCASE("redirect URI other than the authorization request's: invalid_grant") {
        auto code = env.code();
        auto cfg = env.cfg;
        cfg.redirect_uri = "https://app.example.com/oauth/callback";
        auto r = exchange(env, code, cfg);
        CHECK(r.ec == oauth_errc::invalid_grant);
    }
    SUBCASE("join.me's invalid_authorization_code") {
        env.srv.config().code_error_invalid_authorization_code = true;
        auto code = env.code();
        (void)exchange(env, code, env.cfg);
        auto r = exchange(env, code, env.cfg);
        CHECK(r.ec == oauth_errc::invalid_authorization_code);
    }
    SUBCASE("an unusable token URL fails without a request") {
        auto cfg = env.cfg;
        cfg.token_url = "ftp://example.com/token";
        auto r = exchange(env, secret("code"), cfg);
        CHECK(r.ec == errc::invalid_url);
        CHECK(env.srv.stats()[sandbox::endpoint::token] == 0);
    }
}

TEST_CASE("refresh: rotation, revocation, implicit tokens") {
    sandbox_env env;
    auto t1 = env.login();
    auto r = refresh(env, t1);
    REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
    auto t2 = r.value;
    CHECK(!(t2.access_token == t1.access_token));
    CHECK(t2.refreshable());
    CHECK(!(t2.refresh_token == t1.refresh_token)); // rotated
    CHECK(t2.scopes == t1.scopes);
    CHECK(env.srv.stats().refresh_requests == 1);
    CHECK(env.api_accepts(t2.access_token));

    SUBCASE("the rotated-away refresh token is refused") {
        auto again = refresh(env, t1);
        CHECK(again.ec == oauth_errc::invalid_grant);
        CHECK(again.diag.status == 400);
    }
    SUBCASE("a revoked refresh token is refused") {
        REQUIRE(env.srv.revoke_refresh_token(t2.refresh_token.reveal()));
        auto again = refresh(env, t2);
        CHECK(again.ec == oauth_errc::invalid_grant);
    }
    SUBCASE("without rotation the old refresh token is kept") {
        env.srv.config().refresh_omit_refresh_token = true;
        auto t3 = refresh(env, t2);
        REQUIRE(!t3.ec);
        CHECK(t3.value.refresh_token == t2.refresh_token);
    }
    SUBCASE("an implicit token cannot be refreshed, and no request is sent") {
        oauth::token implicit;
        implicit.access_token = secret("implicit-access");
        auto again = refresh(env, implicit);
        CHECK(again.ec == errc::reauthorization_required);
        CHECK(env.srv.stats().refresh_requests == 1);
    }
}

TEST_CASE("expire access, then refresh (the seed's Expire Access scenario)") {
    sandbox_env env;
    auto t1 = env.login();
    REQUIRE(env.api_accepts(t1.access_token));
    diagnostics diag;
    auto tuple_3 = env.run(oauth::async_expire_access(*env.pool, env.cfg, t1.access_token, diag,
                                                      asio::as_tuple(asio::use_awaitable)));
    auto& ec = std::get<0>(tuple_3);
    auto& message = std::get<1>(tuple_3);
    REQUIRE_MESSAGE(!ec, ec.message(), " ", diag);
    CHECK(message == "Access Token Expired");
    CHECK(!env.api_accepts(t1.access_token));
    auto r = refresh(env, t1);
    REQUIRE(!r.ec);
    CHECK(env.api_accepts(r.value.access_token));

    SUBCASE("the string \"true\" is accepted") {
        env.srv.config().expire_access_success_as_string = true;
        auto m = env.run(oauth::async_expire_access(*env.pool, env.cfg, r.value.access_token));
        CHECK(m == "Access Token Expired");
    }
    SUBCASE("failure: bad_request with the server's message") {
        diagnostics d2;
        auto tuple_4 = env.run(oauth::async_expire_access(
            *env.pool, env.cfg, secret("no-such-token"), d2, asio::as_tuple(asio::use_awaitable)));
        auto& e2 = std::get<0>(tuple_4);
        auto& m2 = std::get<1>(tuple_4);
        CHECK(e2 == errc::bad_request);
        CHECK(d2.status == 400);
        CHECK(d2.message == "Expire Access Failed");
        CHECK(m2.empty());
    }
}

TEST_CASE("the token endpoint answering an HTML 502: status and excerpt, no JSON error") {
    scripted_env env;
    env.behaviour->handler = [](const test_support::request&) {
        test_support::response res{bhttp::status::bad_gateway, 11};
        res.set(bhttp::field::content_type, "text/html");
        res.body() = "<html><head><title>502 Bad Gateway</title></head><body>" +
                     std::string(1000, 'x') + "</body></html>";
        return res;
    };
    oauth::token current;
    current.access_token = secret("a");
    current.refresh_token = secret("r");
    diagnostics diag;
    auto tuple_5 = env.run(oauth::async_refresh(*env.pool, env.cfg, current, diag,
                                                asio::as_tuple(asio::use_awaitable)));
    auto& ec = std::get<0>(tuple_5);
    CHECK(std::get<1>(tuple_5).access_token.empty());
    CHECK(ec == errc::server_error);
    CHECK(diag.status == 502);
    CHECK(diag.error.empty());
    CHECK(diag.body_excerpt.rfind("<html><head><title>502 Bad Gateway", 0) == 0);
    CHECK(diag.body_excerpt.size() <= diagnostics::max_excerpt + 3);
    CHECK(env.counters->requests == 1);
}

TEST_CASE("a token endpoint that quotes the request: no credential in diagnostics or what()") {
    // The server puts the whole request (body, Authorization) into error_description, a
    // header and, as HTML, into the body excerpt.
    scripted_env env;
    bool html = false;
    env.behaviour->handler = [&html](const test_support::request& req) {
        std::string quoted =
            "body " + req.body() + " auth " + std::string(req[bhttp::field::authorization]);
        auto res =
            html ? test_support::response{bhttp::status::bad_request, 11}
                 : json_response(400,
                                 boost::json::serialize(boost::json::object{
                                     {"error", "invalid_request"}, {"error_description", quoted}}));
        if (html) {
            res.set(bhttp::field::content_type, "text/html");
            res.body() = "<p>" + quoted + "</p>";
        }
        res.set("X-Error-Detail-Header", quoted);
        return res;
    };
    const std::string client_secret = "s3cr+t value/42=", code = "c0de-4711-abc",
                      verifier = "v3rifier-0123456789", refresh = "r3fresh-9876543210",
                      access = "acc3ss-5555-zz";
    env.cfg.client_secret = secret(client_secret);
    auto check_clean = [&](const diagnostics& d, const std::string& what) {
        auto printed = oauth_test::print(d);
        for (const auto& text : {printed, what})
            for (const auto& s : {client_secret, code, verifier, refresh, access,
                                  oauth::detail::form_encode(client_secret)}) {
                INFO(text);
                CHECK(text.find(s) == std::string::npos);
            }
        CHECK(printed.find("[redacted]") != std::string::npos);
    };
    for (auto method : {oauth::client_auth_method::client_secret_post,
                        oauth::client_auth_method::client_secret_basic})
        for (bool as_html : {false, true}) {
            CAPTURE(oauth::to_string(method));
            CAPTURE(as_html);
            html = as_html;
            env.cfg.auth_method = method;
            diagnostics d1;
            auto [e1, t1] = env.run(oauth::async_exchange_code(
                *env.pool, env.cfg, secret(code), secret(verifier), default_scopes, d1,
                asio::as_tuple(asio::use_awaitable)));
            CHECK(e1);
            check_clean(d1, "");
            oauth::token current;
            current.access_token = secret(access);
            current.refresh_token = secret(refresh);
            try {
                env.run(oauth::async_refresh(*env.pool, env.cfg, current));
                FAIL("no exception");
            } catch (const joinme::error_with_diagnostics& e) {
                check_clean(e.get_diagnostics(), e.what());
            }
            diagnostics d3;
            auto [e3, m3] = env.run(oauth::async_expire_access(
                *env.pool, env.cfg, current.access_token, d3, asio::as_tuple(asio::use_awaitable)));
            CHECK(e3);
            check_clean(d3, "");
        }
}

TEST_CASE("the sandbox's token endpoint behind a failing gateway (HTML 502) over TLS") {
    sandbox_env env;
    auto t = env.login();
    sandbox::fault gateway;
    gateway.status = 502;
    env.srv.set_fault(sandbox::endpoint::token, gateway);
    diagnostics diag;
    auto [ec, refreshed] = env.run(
        oauth::async_refresh(*env.pool, env.cfg, t, diag, asio::as_tuple(asio::use_awaitable)));
    CHECK(ec == errc::server_error);
    CHECK(refreshed.access_token.empty());
    CHECK(diag.status == 502);
    CHECK(diag.error.empty());
    CHECK(diag.body_excerpt.find("502 Bad Gateway") != std::string::npos);
    // The gateway recovers; the refresh token was not used up by the failed attempt.
    env.srv.clear_faults();
    auto [ec2, again] = env.run(
        oauth::async_refresh(*env.pool, env.cfg, t, diag, asio::as_tuple(asio::use_awaitable)));
    CHECK(!ec2);
    CHECK(env.api_accepts(again.access_token));
}

TEST_CASE("the request sent: form body, Accept, no secret outside the body") {
    scripted_env env;
    test_support::request seen;
    env.behaviour->handler = [&seen](const test_support::request& req) {
        seen = req;
        return json_response(200, R"({"access_token":"A2","expires_in":"120"})");
    };
    oauth::token current;
    current.access_token = secret("A1");
    current.refresh_token = secret("R1");
    current.scopes = default_scopes;
    auto t = env.run(oauth::async_refresh(*env.pool, env.cfg, current));
    CHECK(t.access_token.reveal() == "A2");
    CHECK(t.refresh_token.reveal() == "R1"); // kept: the server sent none
    CHECK(*t.lifetime() == 120s);
    CHECK(seen.method() == bhttp::verb::post);
    CHECK(seen.target() == "/api/public/v1/auth/token");
    CHECK(seen[bhttp::field::content_type] == "application/x-www-form-urlencoded");
    CHECK(seen[bhttp::field::accept] == "application/json");
    CHECK(seen.body().find("grant_type=refresh_token") != std::string::npos);
    CHECK(seen.body().find("refresh_token=R1") != std::string::npos);
    CHECK(oauth_test::print(t).find("A2") == std::string::npos);
}

TEST_CASE("exchange of what the authorization step produced: its redirect URI, verifier, scopes") {
    scripted_env env;
    test_support::request seen;
    env.behaviour->handler = [&seen](const test_support::request& req) {
        seen = req;
        return json_response(200, R"({"access_token":"A1","refresh_token":"R1"})");
    };
    auto cfg = env.cfg;
    cfg.redirect_uri = "http://127.0.0.1:49152/callback"; // the port the listener got
    oauth::authorization_options opts;
    opts.pkce = true;
    opts.scopes = default_scopes;
    auto sent = oauth::make_authorization_request(cfg, opts);
    cfg.redirect_uri = "http://127.0.0.1/callback"; // the configuration does not know it
    oauth::redirect_response got;
    got.code = secret("the-code");
    auto t = env.run(oauth::async_exchange_code(*env.pool, cfg, sent, got));
    CHECK(t.access_token.reveal() == "A1");
    CHECK(t.scopes == default_scopes);
    CHECK(seen.body().find("code=the-code") != std::string::npos);
    CHECK(seen.body().find("redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcallback") !=
          std::string::npos);
    CHECK(seen.body().find("code_verifier=" + sent.code_verifier.reveal()) != std::string::npos);

    // An implicit grant's redirect has no code to exchange.
    got.type = oauth::response_type::token;
    diagnostics diag;
    auto [ec, none] = env.run(oauth::async_exchange_code(*env.pool, cfg, sent, got, diag,
                                                         asio::as_tuple(asio::use_awaitable)));
    CHECK(ec == boost::system::errc::invalid_argument);
    CHECK(env.counters->requests == 1);
}

TEST_CASE("completion tokens: callback, deferred; transport failures leave status 0") {
    scripted_env env;
    env.behaviour->handler = [](const test_support::request&) {
        return json_response(400, R"({"error":"invalid_grant","error_description":"used"})");
    };
    oauth::token current;
    current.access_token = secret("A1");
    current.refresh_token = secret("R1");

    SUBCASE("callback: never inline, diagnostics filled") {
        diagnostics diag;
        bool called = false;
        error_code got;
        oauth::async_refresh(*env.pool, env.cfg, current, diag, [&](error_code ec, oauth::token) {
            called = true;
            got = ec;
        });
        CHECK(!called);
        CHECK(run_until(env.ioc, [&] { return called; }));
        CHECK(got == oauth_errc::invalid_grant);
        CHECK(diag.error_description == "used");
    }
    SUBCASE("deferred") {
        diagnostics diag;
        auto op = oauth::async_refresh(*env.pool, env.cfg, current, diag, asio::deferred);
        auto tuple_6 = env.run(std::move(op)(asio::as_tuple(asio::use_awaitable)));
        auto& ec = std::get<0>(tuple_6);
        CHECK(ec == oauth_errc::invalid_grant);
    }
    SUBCASE("no server: the transport's error, empty status") {
        joinme::test_stream_connector none;
        memory_pool dead(env.ioc.get_executor(), none);
        diagnostics diag;
        auto tuple_7 = env.run(oauth::async_refresh(dead, env.cfg, current, diag,
                                                    asio::as_tuple(asio::use_awaitable)));
        auto& ec = std::get<0>(tuple_7);
        CHECK(ec);
        CHECK(diag.status == 0);
    }
}

TEST_CASE("a token endpoint whose certificate is not trusted: certificate_untrusted, and why") {
    sandbox_env env;
    auto code = env.code();
    // A pool that trusts no CA at all: the sandbox's self-signed certificate is rejected.
    auto nothing = joinme::make_client_tls_context(joinme::trust_store::none);
    tls_pool untrusting(env.ioc.get_executor(), joinme::tls_context(nothing));
    oauth::token current;
    current.access_token = secret("A1");
    current.refresh_token = secret("R1");
    diagnostics diag;
    error_code ec;
    SUBCASE("exchange") {
        std::tie(ec, std::ignore) =
            env.run(oauth::async_exchange_code(untrusting, env.cfg, code, secret(), default_scopes,
                                               diag, asio::as_tuple(asio::use_awaitable)));
    }
    SUBCASE("refresh") {
        std::tie(ec, std::ignore) = env.run(oauth::async_refresh(
            untrusting, env.cfg, current, diag, asio::as_tuple(asio::use_awaitable)));
    }
    SUBCASE("expire access") {
        std::tie(ec, std::ignore) = env.run(oauth::async_expire_access(
            untrusting, env.cfg, current.access_token, diag, asio::as_tuple(asio::use_awaitable)));
    }
    CHECK(ec == errc::certificate_untrusted);
    INFO(diag);
    CHECK(diag.status == 0);
    CHECK(diag.client_message.find(X509_verify_cert_error_string(
              X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)) != std::string::npos);
    CHECK(diag.client_message.find("subject \"CN=localhost\"") != std::string::npos);
    CHECK(env.srv.stats().tokens_issued_authorization_code == 0);
}

TEST_CASE("cancellation reaches the request") {
    scripted_env env;
    env.behaviour->never_answer = true;
    oauth::token current;
    current.access_token = secret("A1");
    current.refresh_token = secret("R1");
    asio::cancellation_signal signal;
    diagnostics diag;
    bool done = false;
    error_code got;
    oauth::async_refresh(
        *env.pool, env.cfg, current, diag,
        asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, oauth::token) {
            done = true;
            got = ec;
        }));
    REQUIRE(run_until(env.ioc, [&] { return env.counters->requests == 1; }));
    signal.emit(asio::cancellation_type::terminal);
    CHECK(run_until(env.ioc, [&] { return done; }));
    CHECK(got == asio::error::operation_aborted);
}

// ---------------------------------------------------------------------------------------
// The whole flow as a native program runs it: the sandbox's consent page submitted like a
// browser would (plain HTTP requests), the redirect caught by the loopback listener, the code
// (or, for the implicit grant, the token posted back by the relay page) used on the API.

#include <joinme/loopback.hpp>
#include <joinme/transport/tcp.hpp>

namespace {

using tcp_pool = joinme::http::basic_connection_pool<flow::beast::tcp_stream>;

struct browser_flow {
    flow::sandbox_env env;
    joinme::loopback::redirect_listener listener{env.ioc.get_executor()};
    tcp_pool to_listener{env.ioc.get_executor(), joinme::tcp_context{}};

    browser_flow() {
        env.srv.config().auto_consent = false; // the consent page, submitted below
        listener.listen();
        env.cfg.redirect_uri = listener.redirect_uri();
    }

    // GET or POST through the TLS pool (the sandbox) or the TCP pool (the listener).
    flow::asio::awaitable<joinme::http::response>
    fetch(flow::bhttp::verb verb, std::string url, std::string body = {}, std::string type = {}) {
        joinme::http::request req;
        req.version(11);
        if (!type.empty())
            req.set(flow::bhttp::field::content_type, type);
        req.body() = std::move(body);
        auto u = boost::urls::parse_absolute_uri(url).value();
        if (u.scheme() == "https")
            co_return co_await env.pool->async_request(verb, u, std::move(req));
        co_return co_await to_listener.async_request(verb, u, std::move(req));
    }

    // Opens the authorization URL, submits the consent form with `decision`, and returns
    // where the sandbox redirects the browser.
    flow::asio::awaitable<std::string> consent(std::string authorize_url, std::string decision) {
        auto page = co_await fetch(flow::bhttp::verb::get, authorize_url);
        REQUIRE(page.result_int() == 200);
        const std::string& html = page.body();
        REQUIRE(html.find("<form method=\"post\"") != std::string::npos);
        auto at = html.find("name=\"pending\" value=\"");
        REQUIRE(at != std::string::npos);
        at += 22;
        std::string pending = html.substr(at, html.find('"', at) - at);
        auto decided = co_await fetch(flow::bhttp::verb::post, env.cfg.authorize_url,
                                      "pending=" + pending + "&decision=" + decision,
                                      "application/x-www-form-urlencoded");
        REQUIRE(decided.result_int() == 302);
        co_return std::string(decided[flow::bhttp::field::location]);
    }
};

} // namespace

TEST_CASE("browser flow: consent form, loopback listener, code exchange, API call") {
    browser_flow b;
    oauth::authorization_options opts;
    opts.scopes = flow::default_scopes;
    auto sent = oauth::make_authorization_request(b.env.cfg, opts);
    diagnostics diag;
    std::optional<std::tuple<error_code, oauth::redirect_response>> caught;
    b.listener.async_wait_redirect(sent, diag, [&](error_code ec, oauth::redirect_response r) {
        caught.emplace(ec, std::move(r));
    });
    auto location = b.env.run(b.consent(sent.url, "accept"));
    CHECK(location.rfind(b.listener.redirect_uri() + "?code=", 0) == 0);
    auto landing = b.env.run(b.fetch(flow::bhttp::verb::get, location));
    CHECK(landing.result_int() == 200);
    REQUIRE(flow::run_until(b.env.ioc, [&] { return caught.has_value(); }));
    REQUIRE_MESSAGE(!std::get<0>(*caught), std::get<0>(*caught).message());
    // What the authorization step produced goes to the exchange as it is.
    auto token =
        b.env.run(oauth::async_exchange_code(*b.env.pool, b.env.cfg, sent, std::get<1>(*caught)));
    CHECK(token.refreshable());
    CHECK(b.env.api_accepts(token.access_token));
    // The page the browser saw holds neither the code nor the state.
    CHECK(landing.body().find(sent.state) == std::string::npos);
}

TEST_CASE("browser flow: the user declines, the listener reports access_denied") {
    browser_flow b;
    oauth::authorization_options opts;
    opts.scopes = flow::default_scopes;
    auto sent = oauth::make_authorization_request(b.env.cfg, opts);
    diagnostics diag;
    std::optional<error_code> caught;
    b.listener.async_wait_redirect(sent, diag,
                                   [&](error_code ec, oauth::redirect_response) { caught = ec; });
    auto location = b.env.run(b.consent(sent.url, "decline"));
    b.env.run(b.fetch(flow::bhttp::verb::get, location));
    REQUIRE(flow::run_until(b.env.ioc, [&] { return caught.has_value(); }));
    CHECK(*caught == oauth_errc::access_denied);
    CHECK(diag.error == "access_denied");
}

TEST_CASE("browser flow: implicit grant through the relay page") {
    browser_flow b;
    oauth::authorization_options opts;
    opts.type = oauth::response_type::token;
    opts.scopes = flow::default_scopes;
    auto sent = oauth::make_authorization_request(b.env.cfg, opts);
    diagnostics diag;
    std::optional<std::tuple<error_code, oauth::redirect_response>> caught;
    b.listener.async_wait_redirect(sent, diag, [&](error_code ec, oauth::redirect_response r) {
        caught.emplace(ec, std::move(r));
    });
    auto location = b.env.run(b.consent(sent.url, "accept"));
    auto hash = location.find('#');
    REQUIRE(hash != std::string::npos);
    // A browser never sends the fragment: it gets the relay page, whose script posts it back.
    auto relay = b.env.run(b.fetch(flow::bhttp::verb::get, location.substr(0, hash)));
    CHECK(relay.result_int() == 200);
    CHECK(relay.body().find("location.hash") != std::string::npos);
    auto posted = b.env.run(b.fetch(flow::bhttp::verb::post, location.substr(0, hash),
                                    location.substr(hash + 1), "text/plain"));
    CHECK(posted.result_int() == 200);
    REQUIRE(flow::run_until(b.env.ioc, [&] { return caught.has_value(); }));
    REQUIRE_MESSAGE(!std::get<0>(*caught), std::get<0>(*caught).message());
    const auto& token = std::get<1>(*caught).implicit_token;
    REQUIRE(token);
    CHECK_FALSE(token->refreshable());
    CHECK(b.env.api_accepts(token->access_token));
}

TEST_CASE("browser flow: a forged redirect with another state does not complete the wait") {
    browser_flow b;
    oauth::authorization_options opts;
    opts.scopes = flow::default_scopes;
    auto sent = oauth::make_authorization_request(b.env.cfg, opts);
    diagnostics diag;
    std::optional<error_code> caught;
    b.listener.async_wait_redirect(sent, diag,
                                   [&](error_code ec, oauth::redirect_response) { caught = ec; });
    // An attacker's page makes the browser hit the listener with its own code and state.
    auto forged = b.env.run(
        b.fetch(flow::bhttp::verb::get, b.listener.redirect_uri() + "?code=attacker&state=forged"));
    CHECK(forged.result_int() == 400);
    CHECK_FALSE(flow::run_until(
        b.env.ioc, [&] { return caught.has_value(); }, 100ms));
    // The real redirect still wins.
    auto location = b.env.run(b.consent(sent.url, "accept"));
    b.env.run(b.fetch(flow::bhttp::verb::get, location));
    REQUIRE(flow::run_until(b.env.ioc, [&] { return caught.has_value(); }));
    CHECK(!*caught);
}
