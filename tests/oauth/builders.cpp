// OAuth values and builders: secret, scopes, config, token, authorization and token requests.
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/secret.hpp>

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <doctest/doctest.h>

#include "oauth/common.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

using namespace std::chrono;
using namespace std::string_literals;
using oauth_test::print;
using oauth_test::t0;
namespace oauth = joinme::oauth;
namespace urls = boost::urls;
using joinme::errc;
using joinme::error_code;
using joinme::secret;

namespace {

// The query of `url` decoded as a form, one value a key (a repeated key fails the test).
std::map<std::string, std::string> query_of(std::string_view url) {
    auto u = urls::parse_uri_reference(url).value();
    std::map<std::string, std::string> out;
    for (auto p : u.params()) {
        CHECK_MESSAGE(out.count(p.key) == 0, "repeated ", p.key);
        out[p.key] = p.value;
    }
    return out;
}

// A form body decoded, as a server would.
std::map<std::string, std::string> form_of(const secret& body) {
    return query_of("?" + body.reveal());
}

oauth::config rfc_client() {
    oauth::config c;
    c.client_id = "s6BhdRkqt3";
    c.client_secret = secret("gX1fBat3bV");
    c.redirect_uri = "https://client.example.com/cb";
    c.authorize_url = "https://server.example.com/authorize";
    c.token_url = "https://server.example.com/token";
    return c;
}

} // namespace

TEST_CASE("secret prints redacted, compares, and reveals only on request") {
    secret s("tGzv3JOkF0XG5Qx2TlKWIA");
    CHECK(print(s) == "[redacted]");
    CHECK(print(secret()) == "[empty]");
    CHECK(s.reveal() == "tGzv3JOkF0XG5Qx2TlKWIA");
    CHECK(s == secret("tGzv3JOkF0XG5Qx2TlKWIA"));
    CHECK_FALSE(s == secret("tGzv3JOkF0XG5Qx2TlKWIB"));
    CHECK_FALSE(s == secret("short"));
    CHECK(secret() == secret(""s));
    CHECK_FALSE(s.empty());
    s.clear();
    CHECK(s.empty());
    CHECK(joinme::detail::constant_time_equal("abc", "abc"));
    CHECK_FALSE(joinme::detail::constant_time_equal("abc", "abd"));
    CHECK_FALSE(joinme::detail::constant_time_equal("abc", "abcd"));
    CHECK(joinme::detail::constant_time_equal("", ""));
}

TEST_CASE("sent_secrets: the credentials a token request carries, decoded and as sent") {
    oauth::config cfg;
    cfg.client_id = "id one";
    cfg.client_secret = secret("s3cr t+x");
    error_code ec;
    auto tr = oauth::make_refresh_request(cfg, secret("refresh/1"), {}, ec);
    REQUIRE(!ec);
    auto s = oauth::detail::sent_secrets(tr);
    for (const char* want : {"s3cr t+x", "s3cr+t%2Bx", "refresh/1", "refresh%2F1"})
        CHECK(std::ranges::count(s, want) == 1);
    CHECK(std::ranges::count(s, "id one") == 0);
    CHECK(std::ranges::is_sorted(s, [](auto& a, auto& b) { return a.size() > b.size(); }));
    cfg.auth_method = oauth::client_auth_method::client_secret_basic;
    tr = oauth::make_refresh_request(cfg, secret("refresh/1"), {}, ec);
    REQUIRE(!ec);
    s = oauth::detail::sent_secrets(tr);
    // The secret inside the Basic credentials, and the credentials themselves.
    CHECK(std::ranges::count(s, "s3cr t+x") == 1);
    CHECK(std::ranges::count(s, std::string(tr.authorization.reveal().substr(6))) == 1);
}

TEST_CASE("scopes: typed join.me scopes and any server's names") {
    using oauth::scope;
    CHECK(oauth::to_string(scope::start_meeting) == "start_meeting");
    CHECK(oauth::parse_scope("provisioning") == scope::provisioning);
    CHECK_FALSE(oauth::parse_scope("openid").has_value());

    oauth::scope_set s{scope::user_info, scope::scheduler, scope::user_info};
    CHECK(s.size() == 2);
    CHECK(s.to_string() == "user_info scheduler");
    CHECK(s.contains(scope::scheduler));
    CHECK_FALSE(s.contains(scope::provisioning));

    // Unknown names survive a round trip; runs of spaces are tolerated; invalid tokens dropped.
    auto p = oauth::scope_set::parse("  openid user_info  https://graph.example/read\x01 x\"y ");
    CHECK(p.names() == std::vector<std::string>{"openid", "user_info"});
    auto q = oauth::scope_set::parse("openid https://graph.example/read offline_access");
    CHECK(q.to_string() == "openid https://graph.example/read offline_access");
    CHECK(q.contains("https://graph.example/read"));
    CHECK(oauth::scope_set::parse("").empty());

    CHECK(oauth::scope_set::parse("b a") == oauth::scope_set::parse("a b"));
    CHECK_FALSE(oauth::scope_set::parse("a b") == oauth::scope_set::parse("a"));
    CHECK(oauth::scope_set::parse("a b c").contains_all(oauth::scope_set::parse("c a")));

    oauth::scope_set e;
    CHECK_FALSE(e.insert("has space"));
    CHECK_FALSE(e.insert(""));
    CHECK(e.insert("ok"));
    e.insert(scope::provisioning);
    e.insert(scope::provisioning);
    e.erase("ok");
    CHECK(print(e) == "provisioning");
    e.erase(scope::provisioning);
    CHECK(e.empty());
    CHECK(oauth::is_valid_scope_name("a!#[]~"));
    CHECK_FALSE(oauth::is_valid_scope_name("a\\b"));
}

TEST_CASE("config defaults to production join.me and prints no secret") {
    oauth::config c;
    CHECK(c.authorize_url == "https://secure.join.me/api/public/v1/auth/oauth2");
    CHECK(c.token_url == "https://secure.join.me/api/public/v1/auth/token");
    CHECK(c.expire_access_url == "https://secure.join.me/api/public/v1/auth/expireaccesstoken");
    CHECK(c.renew_authorization_url ==
          "https://secure.join.me/api/public/v1/auth/renewauthorization");
    CHECK(c.auth_method == oauth::client_auth_method::client_secret_post);
    c.client_id = "fvg6qhpans4z2jryq45crb69";
    c.client_secret = secret("3BsfF8wRe5");
    auto text = print(c);
    CHECK(text.find("fvg6qhpans4z2jryq45crb69") != std::string::npos);
    CHECK(text.find("3BsfF8wRe5") == std::string::npos);
    CHECK(oauth::to_string(oauth::client_auth_method::client_secret_basic) ==
          "client_secret_basic");
    CHECK(oauth::to_string(oauth::client_auth_method::none) == "none");
}

TEST_CASE("PKCE S256: RFC 7636 Appendix B, and fresh verifiers") {
    secret verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    CHECK(oauth::pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    auto v1 = oauth::make_pkce_verifier();
    auto v2 = oauth::make_pkce_verifier();
    CHECK(v1.reveal().size() == 43); // RFC 7636 §4.1: 43 to 128 characters
    CHECK_FALSE(v1 == v2);
    for (char c : v1.reveal())
        CHECK(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_'));
}

TEST_CASE("authorization URL for the code grant, join.me's way") {
    oauth::config c;
    c.client_id = "fvg6qhpans4z2jryq45crb69";
    c.client_secret = secret("3BsfF8wRe5");
    c.redirect_uri = "https://app.example/callback?x=1";
    oauth::authorization_options o;
    o.scopes = {oauth::scope::user_info, oauth::scope::scheduler, oauth::scope::start_meeting};
    auto req = oauth::make_authorization_request(c, o);
    CHECK(req.url.starts_with("https://secure.join.me/api/public/v1/auth/oauth2?response_type=code"
                              "&client_id=fvg6qhpans4z2jryq45crb69"
                              "&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback%3Fx%3D1"
                              "&scope=user_info%20scheduler%20start_meeting&state="));
    auto q = query_of(req.url);
    CHECK(q.size() == 5);
    CHECK(q["response_type"] == "code");
    CHECK(q["redirect_uri"] == "https://app.example/callback?x=1");
    CHECK(q["scope"] == "user_info scheduler start_meeting");
    CHECK(q["state"] == req.state);
    CHECK(req.state.size() >= 22); // 128 bits in base64url
    CHECK(req.code_verifier.empty());
    CHECK(q.count("code_challenge") == 0);
    CHECK(req.type == oauth::response_type::code);
    CHECK(req.redirect_uri == c.redirect_uri);
    CHECK(req.scopes == o.scopes);

    // A fresh state every time.
    std::set<std::string> states;
    for (int i = 0; i < 50; ++i)
        states.insert(oauth::make_authorization_request(c, o).state);
    CHECK(states.size() == 50);
}

TEST_CASE("authorization URL: implicit grant, PKCE, an existing query, extra parameters") {
    auto c = rfc_client();
    c.authorize_url = "https://server.example.com/authorize?tenant=a%2Bb&empty";
    oauth::authorization_options o;
    o.pkce = true;
    o.extra_params = {{"prompt", "consent"}, {"login_hint", "a+b c@example.com"}};
    auto req = oauth::make_authorization_request(c, o);
    CHECK(req.url.starts_with("https://server.example.com/authorize?tenant=a%2Bb&empty&"));
    auto q = query_of(req.url);
    CHECK(q["tenant"] == "a+b");
    CHECK(q.count("scope") == 0);
    CHECK(q["code_challenge_method"] == "S256");
    CHECK(q["code_challenge"] == oauth::pkce_challenge(req.code_verifier));
    CHECK(req.code_verifier.reveal().size() == 43);
    CHECK(q["prompt"] == "consent");
    CHECK(q["login_hint"] == "a+b c@example.com"); // '+' escaped, not read back as a space
    CHECK(print(req).find(req.code_verifier.reveal()) == std::string::npos);
    CHECK(print(req).find(req.state) != std::string::npos);

    oauth::authorization_options implicit;
    implicit.type = oauth::response_type::token;
    implicit.scopes = {oauth::scope::user_info};
    auto r2 = oauth::make_authorization_request(c, implicit);
    CHECK(query_of(r2.url)["response_type"] == "token");
    CHECK(r2.type == oauth::response_type::token);

    c.redirect_uri.clear();
    CHECK(query_of(oauth::make_authorization_request(c).url).count("redirect_uri") == 0);
}

TEST_CASE("authorization URL errors") {
    auto c = rfc_client();
    error_code ec;
    for (auto bad :
         {"", "not a url", "/relative", "ftp://server.example.com/a",
          "https://server.example.com/a#frag", "https:///nohost", "https:?x", "https:"}) {
        c.authorize_url = bad;
        auto req = oauth::make_authorization_request(c, {}, ec);
        CHECK_MESSAGE(ec == errc::invalid_url, bad);
        CHECK(req.url.empty());
    }
    c = rfc_client();
    oauth::authorization_options o;
    o.type = oauth::response_type::token;
    o.pkce = true;
    oauth::make_authorization_request(c, o, ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    o = {};
    o.extra_params = {{"state", "mine"}};
    oauth::make_authorization_request(c, o, ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    c.client_id.clear();
    oauth::make_authorization_request(c, {}, ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    CHECK_THROWS_AS(oauth::make_authorization_request(c), boost::system::system_error);
    c = rfc_client();
    oauth::make_authorization_request(c, {}, ec);
    CHECK_FALSE(ec);
}

TEST_CASE("renew-authorization URL for a stale token") {
    oauth::config c;
    c.client_id = "fvg6qhpans4z2jryq45crb69";
    secret access("at+/=x");
    auto url = oauth::make_renew_authorization_url(c, access);
    CHECK(url.reveal() == "https://secure.join.me/api/public/v1/auth/renewauthorization"
                          "?client_id=fvg6qhpans4z2jryq45crb69&access_token=at%2B%2F%3Dx");
    CHECK(print(url) == "[redacted]");
    error_code ec;
    oauth::make_renew_authorization_url(c, secret(), ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    c.renew_authorization_url.clear();
    oauth::make_renew_authorization_url(c, access, ec);
    CHECK(ec == errc::invalid_url);
    c.renew_authorization_url = "http://127.0.0.1:8080/renew?v=2";
    CHECK(oauth::make_renew_authorization_url(c, access, ec).reveal() ==
          "http://127.0.0.1:8080/renew?v=2&client_id=fvg6qhpans4z2jryq45crb69"
          "&access_token=at%2B%2F%3Dx");
    CHECK_FALSE(ec);
}

TEST_CASE("code exchange body: RFC 6749 §4.1.3 with client_secret_post") {
    auto c = rfc_client();
    error_code ec;
    auto req = oauth::make_code_exchange_request(c, secret("SplxlOBeZQQYbYS6WxSbIA"), secret(), ec);
    REQUIRE_FALSE(ec);
    CHECK(req.url == "https://server.example.com/token");
    CHECK(req.content_type == "application/x-www-form-urlencoded");
    CHECK(req.accept == "application/json");
    CHECK(req.authorization.empty());
    CHECK(req.body.reveal() == "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA"
                               "&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb"
                               "&client_id=s6BhdRkqt3&client_secret=gX1fBat3bV");
    auto text = print(req);
    CHECK(text.find("SplxlOBeZQQYbYS6WxSbIA") == std::string::npos);
    CHECK(text.find("gX1fBat3bV") == std::string::npos);

    // With PKCE, the verifier travels too.
    auto r2 = oauth::make_code_exchange_request(
        c, secret("code"), secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), ec);
    CHECK(form_of(r2.body)["code_verifier"] == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST_CASE("client_secret_basic: RFC 6749 §2.3.1 and Appendix B encoding, credentials once") {
    auto c = rfc_client();
    c.auth_method = oauth::client_auth_method::client_secret_basic;
    error_code ec;
    auto req = oauth::make_code_exchange_request(c, secret("SplxlOBeZQQYbYS6WxSbIA"), secret(), ec);
    REQUIRE_FALSE(ec);
    // The RFC's own header for s6BhdRkqt3 / gX1fBat3bV.
    CHECK(req.authorization.reveal() == "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
    auto form = form_of(req.body);
    CHECK(form.count("client_id") == 0);
    CHECK(form.count("client_secret") == 0);
    CHECK(form["grant_type"] == "authorization_code");

    // Appendix B: " %&+£€" form-encodes to "+%25%26%2B%C2%A3%E2%82%AC", before base64.
    c.client_id = "a:b";
    c.client_secret = secret(" %&+\xC2\xA3\xE2\x82\xAC");
    req = oauth::make_refresh_request(c, secret("r"), ec);
    REQUIRE_FALSE(ec);
    CHECK(
        req.authorization.reveal() ==
        "Basic YSUzQWI6KyUyNSUyNiUyQiVDMiVBMyVFMiU4MiVBQw=="); // base64 of
                                                               // "a%3Ab:+%25%26%2B%C2%A3%E2%82%AC"
    CHECK(oauth::detail::form_encode(" %&+\xC2\xA3\xE2\x82\xAC") == "+%25%26%2B%C2%A3%E2%82%AC");
    CHECK(print(req).find("Basic") == std::string::npos);
}

TEST_CASE("refresh body: RFC 6749 §6, optional narrowing, public clients") {
    auto c = rfc_client();
    error_code ec;
    auto req = oauth::make_refresh_request(c, secret("tGzv3JOkF0XG5Qx2TlKWIA"), ec);
    REQUIRE_FALSE(ec);
    CHECK(req.body.reveal() == "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA"
                               "&client_id=s6BhdRkqt3&client_secret=gX1fBat3bV");
    req = oauth::make_refresh_request(c, secret("r"), {oauth::scope::user_info}, ec);
    CHECK(form_of(req.body)["scope"] == "user_info");

    c.auth_method = oauth::client_auth_method::none;
    c.client_secret.clear();
    req = oauth::make_refresh_request(c, secret("r"), ec);
    REQUIRE_FALSE(ec);
    CHECK(req.body.reveal() == "grant_type=refresh_token&refresh_token=r&client_id=s6BhdRkqt3");
    CHECK(req.authorization.empty());

    oauth::make_refresh_request(c, secret(), ec);
    CHECK(ec == errc::reauthorization_required);
}

TEST_CASE("expire-access body: join.me's three fields") {
    oauth::config c;
    c.client_id = "fvg6qhpans4z2jryq45crb69";
    c.client_secret = secret("3BsfF8wRe5");
    error_code ec;
    auto req = oauth::make_expire_access_request(c, secret("abc def"), ec);
    REQUIRE_FALSE(ec);
    CHECK(req.url == "https://secure.join.me/api/public/v1/auth/expireaccesstoken");
    CHECK(req.body.reveal() ==
          "access_token=abc+def&client_id=fvg6qhpans4z2jryq45crb69&client_secret=3BsfF8wRe5");
    oauth::make_expire_access_request(c, secret(), ec);
    CHECK(ec == boost::system::errc::invalid_argument);
}

TEST_CASE("token request errors") {
    auto c = rfc_client();
    error_code ec;
    oauth::make_code_exchange_request(c, secret(), secret(), ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    c.token_url = "token";
    oauth::make_code_exchange_request(c, secret("x"), secret(), ec);
    CHECK(ec == errc::invalid_url);
    oauth::make_refresh_request(c, secret("x"), ec);
    CHECK(ec == errc::invalid_url);
    c = rfc_client();
    c.client_secret.clear(); // a confidential method without a secret
    oauth::make_code_exchange_request(c, secret("x"), secret(), ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    c = rfc_client();
    c.client_id.clear();
    oauth::make_code_exchange_request(c, secret("x"), secret(), ec);
    CHECK(ec == boost::system::errc::invalid_argument);
    c = rfc_client();
    c.expire_access_url.clear();
    oauth::make_expire_access_request(c, secret("x"), ec);
    CHECK(ec == errc::invalid_url);
}

TEST_CASE("token expiry helpers") {
    oauth::token t;
    t.access_token = secret("2YotnFZFEjr1zCsicMWpAA");
    t.obtained_at = t0;
    CHECK_FALSE(t.lifetime());
    CHECK_FALSE(t.expired(t0 + hours{1000})); // unknown expiry: used until rejected
    CHECK_FALSE(t.refresh_due(seconds{60}, t0 + hours{1000}));
    CHECK_FALSE(t.refreshable());
    CHECK(t.is_bearer());

    t.expires_at = t0 + seconds{3600};
    CHECK(t.lifetime() == seconds{3600});
    CHECK_FALSE(t.expired(t0 + seconds{3599}));
    CHECK(t.expired(t0 + seconds{3600}));
    CHECK_FALSE(t.expires_within(seconds{60}, t0 + seconds{3539}));
    CHECK(t.expires_within(seconds{60}, t0 + seconds{3540}));
    CHECK(t.refresh_due(seconds{60}, t0 + seconds{3540}));
    CHECK_FALSE(t.refresh_due(seconds{60}, t0 + seconds{3539}));

    // The margin never exceeds half the lifetime.
    t.expires_at = t0 + seconds{100};
    CHECK_FALSE(t.refresh_due(seconds{60}, t0 + seconds{49}));
    CHECK(t.refresh_due(seconds{60}, t0 + seconds{50}));
    CHECK(t.expires_within(seconds{60}, t0 + seconds{49}));

    t.token_type = "Bearer";
    CHECK(t.is_bearer());
    t.token_type = "mac";
    CHECK_FALSE(t.is_bearer());
    t.refresh_token = secret("tGzv3JOkF0XG5Qx2TlKWIA");
    CHECK(t.refreshable());

    auto text = print(t);
    CHECK(text.find("2YotnFZFEjr1zCsicMWpAA") == std::string::npos);
    CHECK(text.find("tGzv3JOkF0XG5Qx2TlKWIA") == std::string::npos);
    CHECK(text.find("2024-03-01T12:01:40Z") != std::string::npos);
}

TEST_CASE("make_token: a token from values kept elsewhere") {
    auto t =
        oauth::make_token("2YotnFZFEjr1zCsicMWpAA", "tGzv3JOkF0XG5Qx2TlKWIA", seconds{3600},
                          oauth::scope_set::parse("user_info scheduler"), t0 + milliseconds{1500});
    CHECK(t.access_token.reveal() == "2YotnFZFEjr1zCsicMWpAA");
    CHECK(t.refreshable());
    CHECK(t.is_bearer());
    CHECK(t.obtained_at == t0 + seconds{1});
    CHECK(t.expires_at == t0 + seconds{3601});
    CHECK(t.scopes.to_string() == "user_info scheduler");

    // Only an access token: no refresh, unknown expiry (used until the API rejects it).
    auto bare = oauth::make_token("only-access");
    CHECK_FALSE(bare.refreshable());
    CHECK_FALSE(bare.expires_at);
    CHECK_FALSE(bare.expired(system_clock::now() + hours{24 * 365}));
}

TEST_CASE("config: set_auth_base_url points every endpoint at join.me's paths on another server") {
    oauth::config c;
    c.set_auth_base_url("https://127.0.0.1:8443/");
    CHECK(c.authorize_url == "https://127.0.0.1:8443/api/public/v1/auth/oauth2");
    CHECK(c.token_url == "https://127.0.0.1:8443/api/public/v1/auth/token");
    CHECK(c.expire_access_url == "https://127.0.0.1:8443/api/public/v1/auth/expireaccesstoken");
    CHECK(c.renew_authorization_url ==
          "https://127.0.0.1:8443/api/public/v1/auth/renewauthorization");
}

TEST_CASE("expires_in text and the lifetime cap") {
    using oauth::detail::parse_expires_in;
    CHECK(parse_expires_in("3600") == seconds{3600});
    CHECK(parse_expires_in(" 60 ") == seconds{60});
    CHECK(parse_expires_in("0") == seconds{0});
    CHECK_FALSE(parse_expires_in(""));
    CHECK_FALSE(parse_expires_in("-1"));
    CHECK_FALSE(parse_expires_in("1h"));
    CHECK_FALSE(parse_expires_in("3600.5"));
    CHECK(parse_expires_in("99999999999999999999999999") == oauth::max_token_lifetime);
    oauth::token t;
    oauth::detail::stamp(t, t0 + milliseconds{999}, seconds{10});
    CHECK(t.obtained_at == t0);
    CHECK(t.expires_at == t0 + seconds{10});
    oauth::detail::stamp(t, t0, std::nullopt);
    CHECK_FALSE(t.expires_at);
}

TEST_CASE("token JSON round trip for persistence") {
    oauth::token t;
    t.access_token = secret("2YotnFZFEjr1zCsicMWpAA");
    t.refresh_token = secret("tGzv3JOkF0XG5Qx2TlKWIA");
    t.token_type = "example";
    t.obtained_at = t0;
    t.expires_at = t0 + seconds{3600};
    t.scopes = oauth::scope_set::parse("user_info openid");
    auto jv = boost::json::value_from(t);
    CHECK(jv.at("access_token") == "2YotnFZFEjr1zCsicMWpAA");
    CHECK(jv.at("expires_at") == "2024-03-01T13:00:00Z");
    CHECK(jv.at("obtained_at") == "2024-03-01T12:00:00Z");
    CHECK(jv.at("scope") == "user_info openid");
    auto back = boost::json::value_to<oauth::token>(jv);
    CHECK(back.access_token == t.access_token);
    CHECK(back.refresh_token == t.refresh_token);
    CHECK(back.token_type == "example");
    CHECK(back.expires_at == t.expires_at);
    CHECK(back.obtained_at == t.obtained_at);
    CHECK(back.scopes == t.scopes);

    // An implicit token: no refresh token, unknown expiry; both stay absent.
    oauth::token i;
    i.access_token = secret("a");
    i.obtained_at = t0;
    jv = boost::json::value_from(i);
    CHECK_FALSE(jv.as_object().contains("refresh_token"));
    CHECK_FALSE(jv.as_object().contains("expires_at"));
    back = boost::json::value_to<oauth::token>(jv);
    CHECK_FALSE(back.refreshable());
    CHECK_FALSE(back.expires_at);
    CHECK(back.token_type == "bearer");

    // Unknown fields are ignored, missing optional ones defaulted, null is absent.
    back = boost::json::value_to<oauth::token>(boost::json::parse(
        R"({"access_token":"a","refresh_token":null,"future":[1,2],"expires_at":null})"));
    CHECK(back.access_token.reveal() == "a");
    CHECK_FALSE(back.refreshable());
    CHECK(back.obtained_at == sys_seconds{});
}

TEST_CASE("token JSON: malformed stored values are errors, not crashes") {
    auto bad = [](std::string_view json) {
        return boost::json::try_value_to<oauth::token>(boost::json::parse(json)).error();
    };
    CHECK(bad("[]") == boost::json::error::not_object);
    CHECK(bad(R"({})") == boost::json::error::not_found);
    CHECK(bad(R"({"access_token":""})") == boost::json::error::not_found);
    CHECK(bad(R"({"access_token":1})") == boost::json::error::not_string);
    CHECK(bad(R"({"access_token":"a","scope":["x"]})") == boost::json::error::not_string);
    CHECK(bad(R"({"access_token":"a","expires_at":"tomorrow"})") == errc::malformed_response);
    CHECK(bad(R"({"access_token":"a","obtained_at":"2024-13-01T00:00:00Z"})") ==
          errc::malformed_response);
    CHECK_THROWS_AS(boost::json::value_to<oauth::token>(boost::json::parse("{}")),
                    boost::system::system_error);
}
