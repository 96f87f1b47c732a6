// OAuth parsers: redirects (RFC 6749 §4.1.2, §4.2.2), token responses (§5.1, §5.2) and
// join.me's expire-access response, with every tolerance and error path, and no secret in
// any output.
#include <joinme/oauth/redirect.hpp>
#include <joinme/oauth/token_response.hpp>

#include <doctest/doctest.h>

#include "oauth/common.hpp"

#include <initializer_list>
#include <sstream>

using namespace std::chrono;
using namespace std::string_literals;
using oauth_test::print;
using oauth_test::t0;
namespace oauth = joinme::oauth;
using joinme::diagnostics;
using joinme::errc;
using joinme::error_code;
using joinme::oauth_errc;
using joinme::secret;

namespace {

const oauth::time_point now = t0 + milliseconds{250};

// Values used as codes and tokens throughout: none may ever show up in printed output.
constexpr std::string_view secrets[] = {"SplxlOBeZQQYbYS6WxSbIA", "2YotnFZFEjr1zCsicMWpAA",
                                        "tGzv3JOkF0XG5Qx2TlKWIA", "ef4jugsm8yuz2cv5z5sgvvx3"};

void check_no_secret(std::string_view text) {
    for (auto s : secrets)
        CHECK_MESSAGE(text.find(s) == std::string_view::npos, "secret leaked in: ", text);
}

void check_no_secret(const error_code& ec, const diagnostics& d) {
    check_no_secret(ec.message());
    check_no_secret(d.to_string());
    check_no_secret(d.error_uri);
}

oauth::authorization_request sent(oauth::response_type type = oauth::response_type::code) {
    oauth::authorization_request r;
    r.state = "xyz";
    r.type = type;
    r.redirect_uri = "https://client.example.com/cb";
    r.scopes = {oauth::scope::user_info, oauth::scope::scheduler};
    return r;
}

struct redirect_outcome {
    oauth::redirect_response r;
    error_code ec;
    diagnostics diag;
};

redirect_outcome redirect(std::string_view url, const oauth::authorization_request& req = sent(),
                          const oauth::redirect_options& opts = {}) {
    redirect_outcome o;
    o.r = oauth::parse_redirect(url, req, now, opts, o.ec, o.diag);
    check_no_secret(o.ec, o.diag);
    check_no_secret(print(o.r));
    return o;
}

struct token_outcome {
    oauth::token t;
    error_code ec;
    diagnostics diag;
};

token_outcome token_response(unsigned status, std::string_view body,
                             const oauth::scope_set& requested = {}) {
    token_outcome o;
    o.t = oauth::parse_token_response(status, body, now, requested, o.ec, o.diag);
    CHECK(o.diag.status == status);
    check_no_secret(o.ec, o.diag);
    check_no_secret(print(o.t));
    return o;
}

struct expire_outcome {
    std::string message;
    error_code ec;
    diagnostics diag;
};

expire_outcome expire_response(unsigned status, std::string_view body) {
    expire_outcome o;
    o.message = oauth::parse_expire_access_response(status, body, o.ec, o.diag);
    CHECK(o.diag.status == status);
    return o;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Redirects, code grant

TEST_CASE("redirect: RFC 6749 §4.1.2 code, as a full URL and as a request target") {
    for (auto url : {"https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
                     "/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
                     "/cb?state=xyz&iss=https%3A%2F%2Fserver&code=SplxlOBeZQQYbYS6WxSbIA"}) {
        auto o = redirect(url);
        REQUIRE_MESSAGE(!o.ec, url);
        CHECK(o.r.type == oauth::response_type::code);
        CHECK(o.r.code.reveal() == "SplxlOBeZQQYbYS6WxSbIA");
        CHECK_FALSE(o.r.implicit_token);
        CHECK(o.diag.empty());
    }
}

TEST_CASE("redirect: join.me's captured code redirect") {
    auto req = sent();
    req.state = "ZISSHUDBUNIq";
    req.redirect_uri = "https://developer.join.me/io-docs/oauth2callback";
    oauth::redirect_options opts;
    opts.check_redirect_uri = true;
    auto o = redirect("https://developer.join.me/io-docs/oauth2callback"
                      "?code=ef4jugsm8yuz2cv5z5sgvvx3&state=ZISSHUDBUNIq",
                      req, opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.r.code.reveal() == "ef4jugsm8yuz2cv5z5sgvvx3");
}

TEST_CASE("redirect: values are form-decoded") {
    auto o = redirect("/cb?code=a+b%2Bc%20d&state=xyz");
    REQUIRE_FALSE(o.ec);
    CHECK(o.r.code.reveal() == "a b+c d");
    auto req = sent();
    req.state = "a+b/c=";
    o = redirect("/cb?code=x&state=a%2Bb%2Fc%3D", req);
    CHECK_FALSE(o.ec);
    o = redirect("/cb?code=x&st%61te=xyz");
    CHECK_FALSE(o.ec);
}

TEST_CASE("redirect: RFC 6749 §4.1.2.1 error, with its description and URI") {
    auto o = redirect("https://client.example.com/cb?error=access_denied&state=xyz");
    CHECK(o.ec == oauth_errc::access_denied);
    CHECK(o.diag.error == "access_denied");
    o = redirect("/cb?error=invalid_scope&error_description=The+scope+%22x%22+is+unknown"
                 "&error_uri=https%3A%2F%2Fserver.example.com%2Ferr&state=xyz");
    CHECK(o.ec == oauth_errc::invalid_scope);
    CHECK(o.diag.error_description == "The scope \"x\" is unknown");
    CHECK(o.diag.error_uri == "https://server.example.com/err");
    o = redirect("/cb?error=&state=xyz");
    CHECK(o.ec == oauth_errc::unknown_error);
    CHECK_FALSE(o.diag.client_message.empty());
    o = redirect("/cb?error=made_up&state=xyz");
    CHECK(o.ec == oauth_errc::unknown_error);
    CHECK(o.diag.error == "made_up");
    // An error beside a code wins: the server said no.
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&error=server_error&state=xyz");
    CHECK(o.ec == oauth_errc::server_error);
    CHECK(o.r.code.empty());
}

TEST_CASE("redirect: state missing or wrong is an error even when all else looks right") {
    auto o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA");
    CHECK(o.ec == errc::missing_state);
    CHECK(o.r.code.empty());
    CHECK_FALSE(o.diag.client_message.empty());
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyZ");
    CHECK(o.ec == errc::state_mismatch);
    CHECK(o.r.code.empty());
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyzz");
    CHECK(o.ec == errc::state_mismatch);
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=");
    CHECK(o.ec == errc::state_mismatch);
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state");
    CHECK(o.ec == errc::state_mismatch);
    // An error redirect without state: the state error, with the server's words kept.
    o = redirect("/cb?error=access_denied&error_description=declined");
    CHECK(o.ec == errc::missing_state);
    CHECK(o.diag.error == "access_denied");
    CHECK(o.diag.error_description == "declined");
    o = redirect("/cb?error=access_denied&state=forged");
    CHECK(o.ec == errc::state_mismatch);
    // The code grant reads the query only: a code in the fragment is not a redirect for it.
    o = redirect("/cb#code=SplxlOBeZQQYbYS6WxSbIA&state=xyz");
    CHECK(o.ec == errc::missing_state);
    // No state kept on our side: refuse rather than skip the check.
    auto req = sent();
    req.state.clear();
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=", req);
    CHECK(o.ec == boost::system::errc::invalid_argument);
}

TEST_CASE("redirect: missing code, repeated parameters, size limit, malformed input") {
    auto o = redirect("/cb?state=xyz");
    CHECK(o.ec == errc::missing_parameter);
    o = redirect("/cb?code=&state=xyz");
    CHECK(o.ec == errc::missing_parameter);
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz&state=xyz");
    CHECK(o.ec == errc::malformed_response);
    o = redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&code=2YotnFZFEjr1zCsicMWpAA&state=xyz");
    CHECK(o.ec == errc::malformed_response);
    CHECK(o.r.code.empty());
    for (auto bad : {"/cb?code=%zz&state=xyz", "http://[::1/cb?code=a&state=xyz",
                     "/cb?code=a&state=xyz#a#b", "/c b?code=a&state=xyz"}) {
        o = redirect(bad);
        CHECK_MESSAGE(o.ec == errc::malformed_response, bad);
    }
    // Shapes that trip assertions inside Boost.URL 1.81 are refused before it sees them.
    for (auto bad : {"a:?", "x:[", "https:?code=a&state=xyz"}) {
        o = redirect(bad);
        CHECK_MESSAGE(o.ec == errc::malformed_response, bad);
    }
    o = redirect("/cb?#");
    CHECK(o.ec == errc::missing_state);
    // A private-use scheme (RFC 8252 §7.1) is a URI like any other.
    o = redirect("com.example.app:/oauth2redirect?code=a&state=xyz");
    CHECK_FALSE(o.ec);
    std::string huge = "/cb?state=xyz&code=" + std::string(9000, 'a');
    o = redirect(huge);
    CHECK(o.ec == errc::malformed_response);
    oauth::redirect_options big;
    big.max_size = 10000;
    o = redirect(huge, sent(), big);
    CHECK_FALSE(o.ec);
    o = redirect("", sent());
    CHECK(o.ec == errc::missing_state);
}

TEST_CASE("redirect: optional check of the redirect URI") {
    oauth::redirect_options opts;
    opts.check_redirect_uri = true;
    for (auto ok : {"/cb?code=a&state=xyz", "https://client.example.com/cb?code=a&state=xyz",
                    "HTTPS://CLIENT.example.com:443/cb?code=a&state=xyz"}) {
        auto o = redirect(ok, sent(), opts);
        CHECK_MESSAGE(!o.ec, ok);
    }
    for (auto bad : {"/other?code=a&state=xyz", "/?code=a&state=xyz", "/cb/?code=a&state=xyz",
                     "https://evil.example.com/cb?code=a&state=xyz",
                     "https://client.example.com:8443/cb?code=a&state=xyz",
                     "http://client.example.com/cb?code=a&state=xyz"}) {
        auto o = redirect(bad, sent(), opts);
        CHECK_MESSAGE(o.ec == errc::redirect_mismatch, bad);
        CHECK(o.r.code.empty());
    }
    // Loopback redirect URI with a port, checked against a request target.
    auto req = sent();
    req.redirect_uri = "http://127.0.0.1:53682/";
    CHECK_FALSE(redirect("/?code=a&state=xyz", req, opts).ec);
    CHECK_FALSE(redirect("http://127.0.0.1:53682?code=a&state=xyz", req, opts).ec);
    CHECK(redirect("http://127.0.0.1:53683/?code=a&state=xyz", req, opts).ec ==
          errc::redirect_mismatch);
    req.redirect_uri.clear();
    CHECK(redirect("/?code=a&state=xyz", req, opts).ec == boost::system::errc::invalid_argument);
    // Without the option, the path is not looked at.
    CHECK_FALSE(redirect("/elsewhere?code=a&state=xyz").ec);
}

TEST_CASE("redirect: the throwing form carries the diagnostics, and no secret") {
    auto req = sent();
    CHECK(oauth::parse_redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", req, now)
              .code.reveal() == "SplxlOBeZQQYbYS6WxSbIA");
    try {
        oauth::parse_redirect("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=bad", req, now);
        FAIL("no exception");
    } catch (const joinme::error_with_diagnostics& e) {
        CHECK(e.code() == errc::state_mismatch);
        check_no_secret(e.what());
    }
    try {
        oauth::parse_redirect("/cb?error=access_denied&error_description=no&state=xyz", req, now);
        FAIL("no exception");
    } catch (const joinme::error_with_diagnostics& e) {
        CHECK(e.code() == oauth_errc::access_denied);
        CHECK(e.get_diagnostics().error_description == "no");
    }
}

// ---------------------------------------------------------------------------------------------
// Redirects, implicit grant

TEST_CASE("redirect: RFC 6749 §4.2.2 access token in the fragment") {
    auto o = redirect("http://example.com/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz"
                      "&token_type=example&expires_in=3600",
                      sent(oauth::response_type::token));
    REQUIRE_FALSE(o.ec);
    CHECK(o.r.type == oauth::response_type::token);
    CHECK(o.r.code.empty());
    REQUIRE(o.r.implicit_token);
    const auto& t = *o.r.implicit_token;
    CHECK(t.access_token.reveal() == "2YotnFZFEjr1zCsicMWpAA");
    CHECK(t.token_type == "example");
    CHECK(t.obtained_at == t0);
    CHECK(t.expires_at == t0 + seconds{3600});
    CHECK_FALSE(t.refreshable());
    CHECK(t.scopes == sent().scopes); // no scope returned: the requested ones
}

TEST_CASE("redirect: implicit tolerances (join.me's shape, missing type and expiry, scope)") {
    auto req = sent(oauth::response_type::token);
    auto o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA&token_type=bearer"
                      "&expires_in=86400&state=xyz",
                      req);
    REQUIRE_FALSE(o.ec);
    CHECK(o.r.implicit_token->expires_at == t0 + hours{24});
    o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz", req);
    REQUIRE_FALSE(o.ec);
    CHECK(o.r.implicit_token->token_type == "bearer");
    CHECK_FALSE(o.r.implicit_token->expires_at);
    o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz&expires_in=&scope=user_info",
                 req);
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(o.r.implicit_token->expires_at);
    CHECK(o.r.implicit_token->scopes == oauth::scope_set{oauth::scope::user_info});
    // The implicit grant reads the fragment: a token in the query is not an answer.
    o = redirect("/cb?access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz", req);
    CHECK(o.ec == errc::missing_state);
}

TEST_CASE("redirect: implicit errors") {
    auto req = sent(oauth::response_type::token);
    auto o = redirect("https://client.example.com/cb#error=access_denied&state=xyz", req);
    CHECK(o.ec == oauth_errc::access_denied);
    // Some servers put the implicit grant's error in the query.
    o = redirect("/cb?error=unsupported_response_type&state=xyz", req);
    CHECK(o.ec == oauth_errc::unsupported_response_type);
    o = redirect("/cb#state=xyz", req);
    CHECK(o.ec == errc::missing_parameter);
    o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz&expires_in=soon", req);
    CHECK(o.ec == errc::malformed_response);
    CHECK_FALSE(o.r.implicit_token);
    o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=abc", req);
    CHECK(o.ec == errc::state_mismatch);
    CHECK_FALSE(o.r.implicit_token);
    o = redirect("/cb#access_token=2YotnFZFEjr1zCsicMWpAA", req);
    CHECK(o.ec == errc::missing_state);
}

// ---------------------------------------------------------------------------------------------
// Token responses

TEST_CASE("token response: RFC 6749 §5.1 example") {
    auto o = token_response(200, R"({
       "access_token":"2YotnFZFEjr1zCsicMWpAA",
       "token_type":"example",
       "expires_in":3600,
       "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
       "example_parameter":"example_value"
     })",
                            {oauth::scope::user_info});
    REQUIRE_FALSE(o.ec);
    CHECK(o.t.access_token.reveal() == "2YotnFZFEjr1zCsicMWpAA");
    CHECK(o.t.refresh_token.reveal() == "tGzv3JOkF0XG5Qx2TlKWIA");
    CHECK(o.t.token_type == "example");
    CHECK(o.t.obtained_at == t0);
    CHECK(o.t.expires_at == t0 + seconds{3600});
    CHECK(o.t.scopes == oauth::scope_set{oauth::scope::user_info});
    CHECK(o.t.refreshable());
}

TEST_CASE("token response tolerances of joinme-api.md §9") {
    // join.me's decided shape.
    auto o = token_response(200, R"({"access_token":"2YotnFZFEjr1zCsicMWpAA",)"
                                 R"("refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",)"
                                 R"("token_type":"bearer","expires_in":3600})");
    REQUIRE_FALSE(o.ec);
    CHECK(o.t.is_bearer());
    // No expires_in: expiry unknown. No token_type: bearer.
    o = token_response(200, R"({"access_token":"a","refresh_token":"r"})");
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(o.t.expires_at);
    CHECK(o.t.token_type == "bearer");
    o = token_response(200, R"({"access_token":"a","expires_in":null,"token_type":null})");
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(o.t.expires_at);
    CHECK(o.t.token_type == "bearer");
    // expires_in as a string, a double, a huge number.
    o = token_response(200, R"({"access_token":"a","expires_in":"3600"})");
    CHECK(o.t.expires_at == t0 + seconds{3600});
    o = token_response(200, R"({"access_token":"a","expires_in":""})");
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(o.t.expires_at);
    o = token_response(200, R"({"access_token":"a","expires_in":59.9})");
    CHECK(o.t.expires_at == t0 + seconds{59});
    o = token_response(200, R"({"access_token":"a","expires_in":18446744073709551615})");
    CHECK(o.t.expires_at == t0 + oauth::max_token_lifetime);
    o = token_response(200, R"({"access_token":"a","expires_in":1e300})");
    CHECK(o.t.expires_at == t0 + oauth::max_token_lifetime);
    // Extra fields ignored; scope as a string or an array; absent scope gives the requested.
    o = token_response(200,
                       R"({"access_token":"a","scope":"openid user_info","id_token":"x.y.z",)"
                       R"("nested":{"k":[1,2,3]}})",
                       {oauth::scope::scheduler});
    REQUIRE_FALSE(o.ec);
    CHECK(o.t.scopes == oauth::scope_set::parse("user_info openid"));
    o = token_response(200, R"({"access_token":"a","scope":["user_info","scheduler"]})");
    CHECK(o.t.scopes == oauth::scope_set{oauth::scope::user_info, oauth::scope::scheduler});
    o = token_response(200, R"({"access_token":"a"})", {oauth::scope::scheduler});
    CHECK(o.t.scopes == oauth::scope_set{oauth::scope::scheduler});
    // Any 2xx; an empty refresh_token is none.
    o = token_response(201, R"({"access_token":"a","refresh_token":""})");
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(o.t.refreshable());
}

TEST_CASE("refresh response: rotation, or the previous refresh token kept") {
    oauth::token previous;
    previous.access_token = secret("old");
    previous.refresh_token = secret("tGzv3JOkF0XG5Qx2TlKWIA");
    previous.scopes = {oauth::scope::user_info, oauth::scope::start_meeting};
    error_code ec;
    diagnostics diag;
    auto t = oauth::parse_refresh_response(200,
                                           R"({"access_token":"2YotnFZFEjr1zCsicMWpAA",)"
                                           R"("expires_in":3600})",
                                           now, previous, ec, diag);
    REQUIRE_FALSE(ec);
    CHECK(t.access_token.reveal() == "2YotnFZFEjr1zCsicMWpAA");
    CHECK(t.refresh_token == previous.refresh_token);
    CHECK(t.scopes == previous.scopes);
    CHECK(t.expires_at == t0 + seconds{3600});
    t = oauth::parse_refresh_response(
        200, R"({"access_token":"n","refresh_token":"rotated","scope":"user_info"})", now, previous,
        ec, diag);
    REQUIRE_FALSE(ec);
    CHECK(t.refresh_token.reveal() == "rotated");
    CHECK(t.scopes == oauth::scope_set{oauth::scope::user_info});
    CHECK_FALSE(t.expires_at);
    t = oauth::parse_refresh_response(400, R"({"error":"invalid_grant"})", now, previous, ec, diag);
    CHECK(ec == oauth_errc::invalid_grant);
    CHECK(t.access_token.empty());
    CHECK(t.refresh_token.empty());
}

TEST_CASE("token response: RFC 6749 §5.2 errors and join.me's") {
    auto o = token_response(400, R"({"error":"invalid_request"})");
    CHECK(o.ec == oauth_errc::invalid_request);
    CHECK(o.diag.error == "invalid_request");
    CHECK(o.diag.body_excerpt.empty());
    CHECK(o.t.access_token.empty());
    o = token_response(400, R"({"error":"invalid_grant","error_description":"code expired",)"
                            R"("error_uri":"https://server.example.com/e"})");
    CHECK(o.ec == oauth_errc::invalid_grant);
    CHECK(o.diag.error_description == "code expired");
    CHECK(o.diag.error_uri == "https://server.example.com/e");
    o = token_response(401, R"({"error":"invalid_client"})");
    CHECK(o.ec == oauth_errc::invalid_client);
    o = token_response(400, R"({"error": "invalid_authorization_code", "StatusCode": 400})");
    CHECK(o.ec == oauth_errc::invalid_authorization_code);
    o = token_response(
        500,
        R"({"error": "server_error", "error_ticket_id": "d685626822", "error_description": ""})");
    CHECK(o.ec == oauth_errc::server_error);
    CHECK(joinme::is_transient(o.ec));
    CHECK(o.diag.error_ticket_id == "d685626822");
    CHECK(o.diag.to_string().find("d685626822") != std::string::npos);
    // Unknown codes kept verbatim; optional members of the wrong kind skipped.
    o = token_response(400, R"({"error":"slow_down","error_description":7})");
    CHECK(o.ec == oauth_errc::unknown_error);
    CHECK(o.diag.error == "slow_down");
    CHECK(o.diag.error_description.empty());
    // A 200 carrying an error object (some servers do that).
    o = token_response(200, R"({"error":"bad_verification_code","error_description":"bad"})");
    CHECK(o.ec == oauth_errc::unknown_error);
    CHECK(o.diag.error == "bad_verification_code");
}

TEST_CASE("token response: non-JSON and unexpected bodies") {
    std::string html = "<html><head><title>502 Bad Gateway</title></head><body>" +
                       std::string(1000, 'x') + "</body></html>";
    auto o = token_response(502, html);
    CHECK(o.ec == errc::server_error);
    CHECK(o.diag.status == 502);
    CHECK(o.diag.body_excerpt.starts_with("<html><head><title>502 Bad Gateway"));
    CHECK(o.diag.body_excerpt.size() <= diagnostics::max_excerpt + 3);
    CHECK(o.diag.error.empty());
    o = token_response(404, "Not Found");
    CHECK(o.ec == errc::unexpected_status);
    CHECK(o.diag.body_excerpt == "Not Found");
    o = token_response(429, "");
    CHECK(o.ec == errc::rate_limited);
    o = token_response(302, "");
    CHECK(o.ec == errc::unexpected_status);
    // secure.join.me's internal error shape, and the API's Message/ErrorCode.
    o = token_response(500, R"({"ExitPointId": 101101103500, "Message": "InternalServerError",)"
                            R"( "ReferenceNumber": "d685621056"})");
    CHECK(o.ec == errc::server_error);
    CHECK(o.diag.message == "InternalServerError");
    CHECK(o.diag.body_excerpt.find("d685621056") != std::string::npos);
    o = token_response(403, R"({"Message":"Account Inactive","ErrorCode":"inactive"})");
    CHECK(o.ec == errc::unexpected_status);
    CHECK(o.diag.error_code == "inactive");
    o = token_response(400, R"({"error":42})");
    CHECK(o.ec == errc::unexpected_status);
}

TEST_CASE("token response: a 2xx without a usable token") {
    auto o = token_response(200, "{}");
    CHECK(o.ec == errc::missing_parameter);
    CHECK_FALSE(o.diag.client_message.empty());
    o = token_response(200, R"({"access_token":""})");
    CHECK(o.ec == errc::missing_parameter);
    o = token_response(200, R"({"access_token":null,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"})");
    CHECK(o.ec == errc::missing_parameter);
    CHECK(o.t.refresh_token.empty());
    o = token_response(200, R"({"access_token":12})");
    CHECK(o.ec == errc::malformed_response);
    o = token_response(200, R"({"access_token":"a","token_type":1})");
    CHECK(o.ec == errc::malformed_response);
    o = token_response(200, R"({"access_token":"a","refresh_token":{}})");
    CHECK(o.ec == errc::malformed_response);
    for (auto bad : {R"("-1")", "-1", R"("soon")", "true", "[]", R"("1e3")", "-0.5"}) {
        o = token_response(200, R"({"access_token":"a","expires_in":)"s + bad + "}");
        CHECK_MESSAGE(o.ec == errc::malformed_response, bad);
        CHECK(o.t.access_token.empty());
    }
    o = token_response(200, R"({"access_token":"a","scope":5})");
    CHECK(o.ec == errc::malformed_response);
    o = token_response(200, R"({"access_token":"a","scope":["x",5]})");
    CHECK(o.ec == errc::malformed_response);
    o = token_response(200, "[]");
    CHECK(o.ec == errc::malformed_response);
    o = token_response(200, R"({"access_token":"a")");
    CHECK(o.ec == errc::malformed_response);
    // A form-encoded success body: not JSON, and not copied to diagnostics (it holds a token).
    o = token_response(200, "access_token=2YotnFZFEjr1zCsicMWpAA&token_type=bearer");
    CHECK(o.ec == errc::malformed_response);
    CHECK(o.diag.body_excerpt.empty());
    std::string big = R"({"access_token":"a","pad":")" + std::string(70000, 'p') + "\"}";
    o = token_response(200, big);
    CHECK(o.ec == errc::body_too_large);
}

TEST_CASE("diagnostics are added to, not reset, and success clears the error code") {
    error_code ec = errc::timeout;
    diagnostics diag;
    diag.www_authenticate = "Bearer";
    auto t = oauth::parse_token_response(200, R"({"access_token":"a"})", now, {}, ec, diag);
    CHECK_FALSE(ec);
    CHECK(diag.www_authenticate == "Bearer");
    CHECK(diag.status == 200);
}

// ---------------------------------------------------------------------------------------------
// Expire access

TEST_CASE("expire-access response: success as a boolean or the string \"true\"") {
    auto o = expire_response(200, R"({"success": true, "message": "Access Token Expired"})");
    CHECK_FALSE(o.ec);
    CHECK(o.message == "Access Token Expired");
    o = expire_response(200, R"({"success": "true", "message": "Access Token Expired"})");
    CHECK_FALSE(o.ec);
    CHECK(o.message == "Access Token Expired");
    o = expire_response(204, R"({"success": true})");
    CHECK_FALSE(o.ec);
    CHECK(o.message.empty());
}

TEST_CASE("expire-access response: failures") {
    auto o = expire_response(400, R"({"success": false, "message": "Expire Access Failed"})");
    CHECK(o.ec == errc::bad_request);
    CHECK(o.diag.message == "Expire Access Failed");
    o = expire_response(200, R"({"success": "false", "message": "Expire Access Failed"})");
    CHECK(o.ec == errc::bad_request);
    o = expire_response(503, R"({"success": false})");
    CHECK(o.ec == errc::server_error);
    o = expire_response(401, R"({"error": "invalid_client"})");
    CHECK(o.ec == oauth_errc::invalid_client);
    o = expire_response(502, "<html>Bad Gateway</html>");
    CHECK(o.ec == errc::server_error);
    CHECK(o.diag.body_excerpt == "<html>Bad Gateway</html>");
    o = expire_response(404, "");
    CHECK(o.ec == errc::unexpected_status);
    o = expire_response(200, "{}");
    CHECK(o.ec == errc::missing_parameter);
    o = expire_response(200, R"({"success": 1})");
    CHECK(o.ec == errc::malformed_response);
    o = expire_response(200, R"({"success": "yes"})");
    CHECK(o.ec == errc::malformed_response);
    o = expire_response(200, "OK");
    CHECK(o.ec == errc::malformed_response);
    CHECK(o.diag.body_excerpt == "OK");
    o = expire_response(200, R"({"error": "invalid_token"})");
    CHECK(o.ec == oauth_errc::invalid_token);
    o = expire_response(200, std::string(oauth::max_token_response_size + 1, ' '));
    CHECK(o.ec == errc::body_too_large);
}
