// The sandbox's OAuth side (authorize + consent, token, expire access, renew authorization)
// and its transports, checked with raw Beast requests.
#include "harness.hpp"

#include <openssl/evp.h>

using namespace sbt;

namespace {

constexpr std::string_view all_scopes = "user_info scheduler start_meeting";

void check_oauth_error(const response& res, unsigned status, std::string_view error) {
    CHECK(res.result_int() == status);
    auto o = body_object(res);
    CHECK(o.at("error").as_string() == error);
    CHECK(o.contains("error_description"));
}

void check_invalid_token(const response& res, unsigned status = 401) {
    CHECK(res.result_int() == status);
    CHECK(res[http::field::www_authenticate] ==
          R"(Bearer realm="api.join.me", error="invalid_token")");
    auto o = body_object(res);
    CHECK(o.at("ErrorCode").as_string() == "invalid_token");
    CHECK(o.at("Message").is_string());
}

std::string base64(std::string_view s) {
    std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// application/x-www-form-urlencoded, as RFC 6749 §2.3.1 has Basic credentials encoded.
std::string form_value(std::string_view s) {
    auto out = enc(s);
    for (std::size_t at; (at = out.find("%20")) != std::string::npos;)
        out.replace(at, 3, "+");
    return out;
}

response get_user(harness& h, std::string_view token) {
    return h.send(api(http::verb::get, "/v1/user", token));
}

} // namespace

TEST_CASE("authorize validates its parameters first: HTML error page, 400, no redirect") {
    harness h;
    auto page = [&](std::string target) {
        auto res = h.send(make(http::verb::get, "/api/public/v1/auth/oauth2?" + target));
        CHECK(res.result_int() == 400);
        CHECK(res[http::field::location].empty());
        CHECK(res[http::field::content_type].starts_with("text/html"));
        return res;
    };
    auto q = [](std::string_view client, std::string_view redirect, std::string_view type,
                std::string_view scope) {
        return form({{"client_id", client},
                     {"redirect_uri", redirect},
                     {"response_type", type},
                     {"scope", scope}});
    };
    page(form({{"redirect_uri", redirect_uri}, {"response_type", "code"}, {"scope", "user_info"}}));
    page(q("unknownclient", redirect_uri, "code", "user_info"));
    page(q(client_id(), "https://evil.example.com/callback", "code", "user_info"));
    page(q(client_id(), "", "code", "user_info"));
    page(q(client_id(), redirect_uri, "id_token", "user_info"));
    page(q(client_id(), redirect_uri, "", "user_info"));
    page(q(client_id(), redirect_uri, "code", ""));
    page(q(client_id(), redirect_uri, "code", "user_info admin"));
    // provisioning needs a Business key
    page(q(client_id(), redirect_uri, "code", "user_info provisioning"));
    // a repeated parameter
    page(q(client_id(), redirect_uri, "code", "user_info") + "&scope=scheduler");
    // loopback redirect URIs match on any port (RFC 8252 §7.3), but path and host must match
    page(q(client_id(), "http://127.0.0.1:4711/other", "code", "user_info"));
    page(q(client_id(), "https://app.example.com:8443/oauth/callback", "code", "user_info"));
    page(q(client_id(), "http://localhost:4711/callback#frag", "code", "user_info"));
    CHECK(h.send(make(http::verb::get,
                      "/api/public/v1/auth/oauth2?" +
                          q(client_id(), "http://127.0.0.1:4711/callback", "code", "user_info")))
              .result_int() == 200);
    CHECK(h.send(make(http::verb::get,
                      "/api/public/v1/auth/oauth2?" +
                          q(client_id(), "http://[::1]:4711/callback", "code", "user_info")))
              .result_int() == 200);
}

TEST_CASE("authorize: a redirect_uri Boost.URL 1.81 cannot parse is an error page, no abort") {
    // Boost.URL 1.81 asserts on a scheme, its colon and one character that starts neither a
    // path nor a segment; the sandbox must refuse such a redirect_uri like any unregistered one.
    harness h;
    for (std::string_view bad : {"http:?", "http:#", "http:[", "http:]", "x:?", "http: ", "http:\"",
                                 "http:{", "http:?x", "http:", "http:%", "http:?#"}) {
        CAPTURE(bad);
        auto res = h.send(
            make(http::verb::get, "/api/public/v1/auth/oauth2?" + form({{"client_id", client_id()},
                                                                        {"redirect_uri", bad},
                                                                        {"response_type", "code"},
                                                                        {"scope", "user_info"}})));
        CHECK(res.result_int() == 400);
        CHECK(res[http::field::location].empty());
        CHECK(res[http::field::content_type].starts_with("text/html"));
        CHECK(res.body().find("redirect_uri") != std::string::npos);
    }
    // the sandbox still serves after them
    CHECK(h.send(make(http::verb::get, h.authorize_target("user_info"))).result_int() == 200);
}

TEST_CASE("consent page: a real form; accept redirects with a code, decline with access_denied") {
    harness h;
    auto page = h.send(make(http::verb::get, h.authorize_target("user_info scheduler")));
    REQUIRE(page.result_int() == 200);
    CHECK(page[http::field::content_type].starts_with("text/html"));
    CHECK(page[http::field::x_frame_options] == "DENY");
    auto& html = page.body();
    CHECK(html.find("<form method=\"post\" action=\"/api/public/v1/auth/oauth2\">") !=
          std::string::npos);
    CHECK(html.find("value=\"accept\">Accept</button>") != std::string::npos);
    CHECK(html.find("value=\"decline\">Decline</button>") != std::string::npos);
    CHECK(html.find("pro@example.com") != std::string::npos);
    CHECK(html.find("joinme sandbox app") != std::string::npos);
    CHECK(html.find("<li>scheduler</li>") != std::string::npos);
    // Posts this page's form as the person signing in would, accepting as `user`.
    auto accept_as = [&](const std::string& user) {
        auto at = html.find("name=\"pending\" value=\"") + 22;
        auto pending = html.substr(at, html.find('"', at) - at);
        return h.send(
            post_form("/api/public/v1/auth/oauth2",
                      form({{"pending", pending}, {"user", user}, {"decision", "accept"}})));
    };

    SUBCASE("accept") {
        auto res =
            h.consent(h.authorize_target("user_info", "code", redirect_uri, "s t&ate"), "accept");
        CHECK(res.result_int() == 302);
        std::string loc(res[http::field::location]);
        CHECK(loc.starts_with(redirect_uri + "?code="));
        auto p = location_params(res);
        CHECK(p["code"].size() == 24);
        CHECK(p["state"] == "s t&ate");
        CHECK(p.count("error") == 0);
    }
    SUBCASE("decline") {
        auto res = h.consent(h.authorize_target("user_info"), "decline");
        CHECK(res.result_int() == 302);
        auto p = location_params(res);
        CHECK(p["error"] == "access_denied");
        CHECK(p["state"] == "xyz");
        CHECK(p.count("code") == 0);
    }
    SUBCASE("the pending authorization is single use and expires") {
        auto at = html.find("name=\"pending\" value=\"") + 22;
        auto pending = html.substr(at, html.find('"', at) - at);
        auto body = form({{"pending", pending}, {"decision", "accept"}});
        CHECK(h.send(post_form("/api/public/v1/auth/oauth2", body)).result_int() == 302);
        auto again = h.send(post_form("/api/public/v1/auth/oauth2", body));
        CHECK(again.result_int() == 400);
        CHECK(again[http::field::location].empty());

        auto page2 = h.send(make(http::verb::get, h.authorize_target("user_info")));
        auto at2 = page2.body().find("name=\"pending\" value=\"") + 22;
        auto pending2 = page2.body().substr(at2, page2.body().find('"', at2) - at2);
        h.advance(601s);
        CHECK(h.send(post_form("/api/public/v1/auth/oauth2",
                               form({{"pending", pending2}, {"decision", "accept"}})))
                  .result_int() == 400);
    }
    SUBCASE("a loopback redirect keeps its port and query") {
        auto res = h.consent(
            h.authorize_target("user_info", "code", "http://127.0.0.1:5555/callback"), "accept");
        CHECK(std::string(res[http::field::location])
                  .starts_with("http://127.0.0.1:5555/callback?code="));
    }
    SUBCASE("the consenting user is configurable") {
        h.srv.config().current_user = "free@example.com";
        auto t = h.login();
        auto o = body_object(get_user(h, t.access));
        CHECK(o.at("email").as_string() == "free@example.com");
    }
    SUBCASE("the person signing in picks one of the users in the form") {
        CHECK(html.find("<option value=\"pro@example.com\" selected>") != std::string::npos);
        CHECK(html.find("<option value=\"admin@example.com\">") != std::string::npos);
        auto res = accept_as("admin@example.com");
        REQUIRE(res.result_int() == 302);
        auto token = h.exchange(location_params(res)["code"]);
        REQUIRE(token.result_int() == 200);
        auto access = body_object(token).at("access_token").as_string();
        auto o = body_object(get_user(h, std::string(access)));
        CHECK(o.at("email").as_string() == "admin@example.com");
    }
    SUBCASE("a user the sandbox does not have is refused, and nothing is issued") {
        auto res = accept_as("nobody@example.com");
        CHECK(res.result_int() == 400);
        CHECK(res[http::field::location].empty());
        CHECK(res.body().find("not a user of the sandbox") != std::string::npos);
    }
}

TEST_CASE("implicit grant: token in the fragment, not refreshable") {
    harness h;
    auto res = h.consent(h.authorize_target("user_info", "token"), "accept");
    REQUIRE(res.result_int() == 302);
    auto u = urls::parse_uri_reference(res[http::field::location]);
    REQUIRE(u);
    CHECK(!u->has_query());
    auto p = location_params(res, true);
    CHECK(p["token_type"] == "bearer");
    CHECK(p["expires_in"] == "86400");
    CHECK(p["state"] == "xyz");
    CHECK(p.count("refresh_token") == 0);
    CHECK(h.srv.stats().tokens_issued_implicit == 1);
    auto token = p["access_token"];
    CHECK(get_user(h, token).result_int() == 200);
    // lives 24 hours
    h.advance(86399s);
    CHECK(get_user(h, token).result_int() == 200);
    h.advance(1s);
    check_invalid_token(get_user(h, token));

    SUBCASE("decline puts the error in the fragment") {
        auto d = h.consent(h.authorize_target("user_info", "token"), "decline");
        auto f = location_params(d, true);
        CHECK(f["error"] == "access_denied");
        CHECK(f["state"] == "xyz");
    }
    SUBCASE("alternative without token_type and expires_in") {
        h.srv.config().implicit_omit_token_type_and_expires_in = true;
        auto r = h.consent(h.authorize_target("user_info", "token"), "accept");
        auto f = location_params(r, true);
        CHECK(f.count("access_token") == 1);
        CHECK(f.count("token_type") == 0);
        CHECK(f.count("expires_in") == 0);
    }
    SUBCASE("the fragment escapes all but unreserved characters") {
        auto r = h.consent(
            h.authorize_target("user_info", "token", redirect_uri, "s t&a+te/\xc3\xa9~-._"),
            "decline");
        std::string loc(r[http::field::location]);
        CHECK(loc.ends_with("&state=s%20t%26a%2Bte%2F%C3%A9~-._"));
        CHECK(location_params(r, true)["state"] == "s t&a+te/\xc3\xa9~-._");
    }
}

TEST_CASE("auto-consent skips the page") {
    sandbox::options o;
    o.auto_consent = true;
    harness h(o);
    auto res = h.send(make(http::verb::get, h.authorize_target("user_info")));
    CHECK(res.result_int() == 302);
    CHECK(location_params(res)["code"].size() == 24);
}

TEST_CASE("token endpoint: authorization_code grant") {
    harness h;
    auto code = h.code();
    SUBCASE("form body") {
        auto res = h.exchange(code);
        REQUIRE(res.result_int() == 200);
        CHECK(res[http::field::cache_control] == "no-store");
        auto o = body_object(res);
        CHECK(o.at("token_type").as_string() == "bearer");
        CHECK(o.at("expires_in").as_int64() == 3600);
        CHECK(o.at("access_token").as_string().size() >= 32);
        CHECK(o.at("refresh_token").as_string().size() >= 32);
        CHECK(o.at("access_token") != o.at("refresh_token"));
        CHECK(get_user(h, o.at("access_token").as_string()).result_int() == 200);
        CHECK(h.srv.stats().tokens_issued_authorization_code == 1);
    }
    SUBCASE("JSON body") {
        json::object b{{"grant_type", "authorization_code"},
                       {"client_id", client_id()},
                       {"client_secret", client_secret()},
                       {"code", code},
                       {"redirect_uri", redirect_uri}};
        auto res = h.send(make(http::verb::post, "/api/public/v1/auth/token", json::serialize(b),
                               "application/json"));
        CHECK(res.result_int() == 200);
    }
    SUBCASE("HTTP Basic client authentication") {
        auto req =
            post_form("/api/public/v1/auth/token", form({{"grant_type", "authorization_code"},
                                                         {"code", code},
                                                         {"redirect_uri", redirect_uri}}));
        // base64("joinmesandboxclient00001:SandBox123")
        req.set(http::field::authorization,
                "Basic am9pbm1lc2FuZGJveGNsaWVudDAwMDAxOlNhbmRCb3gxMjM=");
        CHECK(h.send(req).result_int() == 200);
    }
    SUBCASE("HTTP Basic: id and secret are form-encoded before Base64 (RFC 6749 §2.3.1)") {
        const std::string secret = "s3cr et+/%x";
        h.srv.config().applications.front().client_secret = secret;
        auto basic = [&](std::string_view id, std::string_view pw) {
            auto req =
                post_form("/api/public/v1/auth/token", form({{"grant_type", "authorization_code"},
                                                             {"code", code},
                                                             {"redirect_uri", redirect_uri}}));
            req.set(http::field::authorization,
                    "Basic " + base64(form_value(id) + ":" + form_value(pw)));
            return h.send(req);
        };
        CHECK(form_value(secret) == "s3cr+et%2B%2F%25x");
        for (std::string_view wrong : {"s3cr et+/%y", "s3cr+et+/%x", "s3cr et /%x", "", "s3cr"}) {
            CAPTURE(wrong);
            auto res = basic(client_id(), wrong);
            check_oauth_error(res, 401, "invalid_client");
            CHECK(res[http::field::www_authenticate].starts_with("Basic"));
        }
        check_oauth_error(basic("unknown", secret), 401, "invalid_client");
        auto res = basic(client_id(), secret);
        CHECK(res.result_int() == 200);
        CHECK(body_object(res).contains("access_token"));
    }
    SUBCASE("a code is single use; replaying it revokes what it granted") {
        auto first = body_object(h.exchange(code));
        check_oauth_error(h.exchange(code), 400, "invalid_grant");
        check_invalid_token(get_user(h, first.at("access_token").as_string()));
        check_oauth_error(h.refresh(first.at("refresh_token").as_string()), 400, "invalid_grant");
    }
    SUBCASE("a code lives 10 minutes") {
        h.advance(599s);
        CHECK(h.exchange(code).result_int() == 200);
        auto late = h.code();
        h.advance(600s);
        check_oauth_error(h.exchange(late), 400, "invalid_grant");
    }
    SUBCASE("a code is bound to its redirect URI and client") {
        check_oauth_error(h.exchange(code, "http://localhost/callback"), 400, "invalid_grant");
        auto c2 = h.code();
        check_oauth_error(h.exchange(c2, redirect_uri, sandbox::default_business_client_id), 400,
                          "invalid_grant");
        check_oauth_error(h.exchange("nosuchcode"), 400, "invalid_grant");
    }
    SUBCASE("join.me's invalid_authorization_code on request") {
        h.srv.config().code_error_invalid_authorization_code = true;
        check_oauth_error(h.exchange("nosuchcode"), 400, "invalid_authorization_code");
    }
    SUBCASE("client authentication failures are 401 invalid_client") {
        auto bad = [&](std::string_view id, std::string_view secret) {
            return h.send(
                post_form("/api/public/v1/auth/token", form({{"grant_type", "authorization_code"},
                                                             {"client_id", id},
                                                             {"client_secret", secret},
                                                             {"code", code},
                                                             {"redirect_uri", redirect_uri}})));
        };
        check_oauth_error(bad(client_id(), "wrong"), 401, "invalid_client");
        check_oauth_error(bad("unknown", client_secret()), 401, "invalid_client");
        check_oauth_error(bad(client_id(), ""), 401, "invalid_client");
        auto req = post_form("/api/public/v1/auth/token",
                             form({{"grant_type", "authorization_code"}, {"code", code}}));
        req.set(http::field::authorization, "Basic Zm9vOmJhcg==");
        auto res = h.send(req);
        check_oauth_error(res, 401, "invalid_client");
        CHECK(res[http::field::www_authenticate].starts_with("Basic"));
        // the code was not consumed by the failed attempts
        CHECK(h.exchange(code).result_int() == 200);
    }
    SUBCASE("malformed requests") {
        check_oauth_error(h.send(post_form("/api/public/v1/auth/token",
                                           form({{"client_id", client_id()},
                                                 {"client_secret", client_secret()}}))),
                          400, "invalid_request");
        check_oauth_error(h.send(post_form("/api/public/v1/auth/token",
                                           form({{"grant_type", "password"},
                                                 {"client_id", client_id()},
                                                 {"client_secret", client_secret()}}))),
                          400, "unsupported_grant_type");
        check_oauth_error(h.send(post_form("/api/public/v1/auth/token",
                                           form({{"grant_type", "authorization_code"},
                                                 {"client_id", client_id()},
                                                 {"client_secret", client_secret()}}))),
                          400, "invalid_request");
        check_oauth_error(h.send(make(http::verb::post, "/api/public/v1/auth/token", "{oops",
                                      "application/json")),
                          400, "invalid_request");
    }
}

TEST_CASE("token response alternatives of the contract") {
    harness h;
    h.srv.config().token_omit_token_type = true;
    h.srv.config().token_expires_in_as_string = true;
    h.srv.config().token_extra_fields = true;
    auto o = body_object(h.exchange(h.code("user_info")));
    CHECK(!o.contains("token_type"));
    CHECK(o.at("expires_in").as_string() == "3600");
    CHECK(o.at("scope").as_string() == "user_info");
    h.srv.config().token_omit_expires_in = true;
    CHECK(!body_object(h.exchange(h.code())).contains("expires_in"));
}

TEST_CASE("refresh_token grant rotates the refresh token") {
    harness h;
    auto t = h.login();
    auto res = h.refresh(t.refresh);
    REQUIRE(res.result_int() == 200);
    auto o = body_object(res);
    std::string access(o.at("access_token").as_string()), next(o.at("refresh_token").as_string());
    CHECK(access != t.access);
    CHECK(next != t.refresh);
    CHECK(get_user(h, access).result_int() == 200);
    check_oauth_error(h.refresh(t.refresh), 400, "invalid_grant");
    CHECK(h.refresh(next).result_int() == 200);
    CHECK(h.srv.stats().refresh_requests == 3);
    CHECK(h.srv.stats().tokens_issued_refresh_token == 2);

    SUBCASE("without rotation the refresh token stays") {
        h.srv.config().rotate_refresh_tokens = false;
        auto t2 = h.login();
        auto o2 = body_object(h.refresh(t2.refresh));
        CHECK(o2.at("refresh_token").as_string() == t2.refresh);
        CHECK(h.refresh(t2.refresh).result_int() == 200);
    }
    SUBCASE("alternative: a refresh without a refresh token keeps the old one") {
        h.srv.config().refresh_omit_refresh_token = true;
        auto t2 = h.login();
        CHECK(!body_object(h.refresh(t2.refresh)).contains("refresh_token"));
        CHECK(h.refresh(t2.refresh).result_int() == 200);
    }
    SUBCASE("a revoked refresh token is invalid_grant") {
        auto t2 = h.login();
        CHECK(h.srv.revoke_refresh_token(t2.refresh));
        check_oauth_error(h.refresh(t2.refresh), 400, "invalid_grant");
    }
    SUBCASE("a refresh token is bound to its client") {
        auto t2 = h.login();
        auto r = h.send(post_form("/api/public/v1/auth/token",
                                  form({{"grant_type", "refresh_token"},
                                        {"client_id", sandbox::default_business_client_id},
                                        {"client_secret", client_secret()},
                                        {"refresh_token", t2.refresh}})));
        check_oauth_error(r, 400, "invalid_grant");
    }
}

TEST_CASE("access tokens expire by the clock") {
    harness h;
    auto t = h.login();
    h.advance(3599s);
    CHECK(get_user(h, t.access).result_int() == 200);
    h.advance(1s);
    check_invalid_token(get_user(h, t.access));
    auto o = body_object(h.refresh(t.refresh));
    CHECK(get_user(h, o.at("access_token").as_string()).result_int() == 200);
}

TEST_CASE("expire access, then refresh") {
    harness h;
    auto t = h.login();
    auto expire = [&](std::string_view token,
                      std::string_view secret = sandbox::default_client_secret) {
        return h.send(post_form("/api/public/v1/auth/expireaccesstoken",
                                form({{"access_token", token},
                                      {"client_id", sandbox::default_client_id},
                                      {"client_secret", secret}})));
    };
    SUBCASE("success") {
        auto res = expire(t.access);
        CHECK(res.result_int() == 200);
        auto o = body_object(res);
        CHECK(o.at("success") == json::value(true));
        CHECK(o.at("message").as_string() == "Access Token Expired");
        check_invalid_token(get_user(h, t.access));
        auto r = body_object(h.refresh(t.refresh));
        CHECK(get_user(h, r.at("access_token").as_string()).result_int() == 200);
    }
    SUBCASE("failure") {
        for (auto res : {expire(t.access, "wrong"), expire("unknown")}) {
            CHECK(res.result_int() == 400);
            auto o = body_object(res);
            CHECK(o.at("success") == json::value(false));
            CHECK(o.at("message").as_string() == "Expire Access Failed");
        }
        CHECK(get_user(h, t.access).result_int() == 200);
    }
    SUBCASE("delayed propagation") {
        h.srv.config().expire_access_delay = 600s;
        CHECK(expire(t.access).result_int() == 200);
        CHECK(get_user(h, t.access).result_int() == 200);
        h.advance(600s);
        check_invalid_token(get_user(h, t.access));
    }
    SUBCASE("\"success\": \"true\" as a string on request") {
        h.srv.config().expire_access_success_as_string = true;
        CHECK(body_object(expire(t.access)).at("success") == json::value("true"));
    }
    SUBCASE("implicit tokens can be expired but not refreshed") {
        auto res = h.consent(h.authorize_target("user_info", "token"), "accept");
        auto token = location_params(res, true)["access_token"];
        CHECK(expire(token).result_int() == 200);
        check_invalid_token(get_user(h, token));
    }
    SUBCASE("the control expires a token at once") {
        CHECK(h.srv.expire_access_token(t.access));
        check_invalid_token(get_user(h, t.access));
        CHECK(!h.srv.expire_access_token("unknown"));
    }
    SUBCASE("the FAQ's 403 form on request") {
        h.srv.config().invalid_token_as_403 = true;
        check_invalid_token(get_user(h, "unknown"), 403);
    }
}

TEST_CASE("stale token and renew authorization") {
    harness h;
    auto t = h.login();
    CHECK(h.srv.set_stale(t.access));
    auto res = get_user(h, t.access);
    CHECK(res.result_int() == 401);
    CHECK(body_object(res).at("ErrorCode").as_string() == "stale_token");
    const auto target = "/api/public/v1/auth/renewauthorization?" +
                        form({{"client_id", client_id()}, {"access_token", t.access}});
    // A page like the consent page: what the application asks for, and one button.
    auto page = h.send(make(http::verb::get, target));
    CHECK(page.result_int() == 200);
    CHECK(page[http::field::x_frame_options] == "DENY");
    const auto& html = page.body();
    CHECK(html.find("<title>join.me sandbox: renew authorization for ") != std::string::npos);
    CHECK(html.find("<li>user_info</li>") != std::string::npos);
    CHECK(html.find("pro@example.com") != std::string::npos);
    CHECK(html.find(t.access) == std::string::npos);
    auto at = html.find("name=\"pending\" value=\"");
    REQUIRE(at != std::string::npos);
    at += 22;
    const auto pending = html.substr(at, html.find('"', at) - at);
    CHECK(get_user(h, t.access).result_int() == 401); // still stale until the button
    auto renew = h.send(post_form("/api/public/v1/auth/renewauthorization",
                                  form({{"pending", pending}, {"decision", "renew"}})));
    CHECK(renew.result_int() == 302);
    // Back to the callback the token was granted through.
    CHECK(std::string(renew[http::field::location])
              .starts_with(redirect_uri + "?isAuthorizationRenewed=true"));
    CHECK(location_params(renew)["isAuthorizationRenewed"] == "true");
    CHECK(get_user(h, t.access).result_int() == 200);
    // The button works once.
    auto again = h.send(post_form("/api/public/v1/auth/renewauthorization",
                                  form({{"pending", pending}, {"decision", "renew"}})));
    CHECK(again.result_int() == 400);
    CHECK(again[http::field::location].empty());

    SUBCASE("with auto_consent it renews at once") {
        h.srv.config().auto_consent = true;
        CHECK(h.srv.set_stale(t.access));
        auto at_once = h.send(make(http::verb::get, target));
        CHECK(at_once.result_int() == 302);
        CHECK(location_params(at_once)["isAuthorizationRenewed"] == "true");
        CHECK(get_user(h, t.access).result_int() == 200);
    }
    auto bad = h.send(
        make(http::verb::get, "/api/public/v1/auth/renewauthorization?" +
                                  form({{"client_id", client_id()}, {"access_token", "nope"}})));
    CHECK(bad.result_int() == 400);
    CHECK(bad[http::field::location].empty());
}

TEST_CASE("transports: in-memory, TCP and TLS serve the same flow") {
    for (auto t : {transport::memory, transport::tcp, transport::tls}) {
        INFO(name(t));
        harness h;
        auto page = h.send(make(http::verb::get, h.authorize_target(all_scopes)), t);
        CHECK(page.result_int() == 200);
        auto tokens = h.login();
        auto res = h.send(api(http::verb::get, "/v1/user", tokens.access), t);
        CHECK(res.result_int() == 200);
        CHECK(body_object(res).at("email").as_string() == "pro@example.com");
    }
}

TEST_CASE("TLS: the in-memory certificate verifies for localhost and 127.0.0.1") {
    harness h;
    CHECK(h.srv.base_url().starts_with("http://127.0.0.1:"));
    CHECK(h.srv.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    for (auto host : {"localhost", "127.0.0.1"}) {
        INFO(host);
        h.tls_host = host;
        connection c(h, transport::tls);
        auto r = c.send(make(http::verb::get, "/v1/user"));
        CHECK(!r.ec);
        CHECK(r.res.result_int() == 401);
    }
    // a name the certificate does not carry fails verification
    h.tls_host = "example.com";
    connection bad(h, transport::tls);
    CHECK(!bad.connected());
    // base_url names the last listener
    sandbox::server s2(h.ioc.get_executor());
    auto port = s2.listen_tls();
    CHECK(s2.base_url() == "https://127.0.0.1:" + std::to_string(port));
}

TEST_CASE("keep-alive and pipelined requests") {
    for (auto t : {transport::memory, transport::tcp, transport::tls}) {
        INFO(name(t));
        harness h;
        auto tokens = h.login();
        connection c(h, t);
        for (int i = 0; i < 3; ++i) {
            auto r = c.send(api(http::verb::get, "/v1/user", tokens.access));
            REQUIRE(!r.ec);
            CHECK(r.res.result_int() == 200);
            CHECK(r.res.keep_alive());
        }
        // two requests in one write, two responses in order
        auto a = api(http::verb::get, "/v1/user", tokens.access);
        auto b = api(http::verb::get, "/v1/meetings/999", tokens.access);
        std::ostringstream os;
        os << a << b;
        CHECK(!c.write_raw(os.str()));
        auto r1 = c.read();
        auto r2 = c.read();
        CHECK(r1.res.result_int() == 200);
        CHECK(r2.res.result_int() == 404);
        CHECK(h.srv.stats().connections_accepted >= 1);
    }
}

TEST_CASE("parser limits: oversized header and body are refused") {
    harness h;
    auto big_header = make(http::verb::get, "/v1/user");
    big_header.set("X-Padding", std::string(16 * 1024, 'a'));
    connection c1(h, transport::tcp);
    auto r1 = c1.send(big_header);
    CHECK(r1.res.result_int() == 431);
    auto big_body = post_form("/api/public/v1/auth/token", std::string(128 * 1024, 'a'));
    connection c2(h, transport::tcp);
    auto r2 = c2.send(big_body);
    if (!r2.ec)
        CHECK(r2.res.result_int() == 413);
}

TEST_CASE("unknown paths and methods") {
    harness h;
    auto r = h.send(make(http::verb::get, "/v2/nothing"));
    CHECK(r.result_int() == 404);
    CHECK(body_object(r).contains("Message"));
    CHECK(h.send(make(http::verb::put, "/v1/user")).result_int() == 405);
    CHECK(h.send(make(http::verb::get, "/api/public/v1/auth/token")).result_int() == 405);
}
