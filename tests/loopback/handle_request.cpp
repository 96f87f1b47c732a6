// The loopback listener's request handling as a plain function, without sockets: what each
// request gets back, and what it decides about the wait; and which peers it serves.
#include "pages.hpp"

#include <joinme/loopback.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace bhttp = boost::beast::http;
using joinme::errc;
using joinme::oauth_errc;
using joinme::loopback::listener_options;
using joinme::loopback::detail::decision;
using joinme::loopback::detail::handle_request;
using joinme::oauth::response_type;
using loopback_test::between;
using loopback_test::check_common_headers;
using loopback_test::check_page;
using loopback_test::sha256_base64;

namespace {

using request = bhttp::request<bhttp::string_body>;

struct judge {
    listener_options opts;
    decision st;

    explicit judge(response_type type = response_type::code) {
        joinme::oauth::config cfg;
        cfg.client_id = "app-id";
        cfg.redirect_uri = "http://127.0.0.1:8123/callback";
        joinme::oauth::authorization_options o;
        o.type = type;
        st.sent = joinme::oauth::make_authorization_request(cfg, o);
    }

    bhttp::response<bhttp::string_body> operator()(bhttp::verb method, std::string target,
                                                   std::string body = {}) {
        request req(method, target, 11);
        req.body() = std::move(body);
        req.prepare_payload();
        return handle_request(opts, st, req);
    }
    bhttp::response<bhttp::string_body> get(std::string target) {
        return (*this)(bhttp::verb::get, std::move(target));
    }
};

} // namespace

TEST_CASE("handle_request: the matching redirect decides the wait; the page holds no secret") {
    judge j;
    auto res = j.get("/callback?code=the-code-123&state=" + j.st.sent.state);
    CHECK(res.result_int() == 200);
    check_page(res, "Signed in");
    CHECK(res.body().find("the-code-123") == std::string::npos);
    CHECK(res.body().find(j.st.sent.state) == std::string::npos);
    // The page takes the code and the state out of the address bar and the history.
    CHECK(between(res.body(), "<script>", "</script>") ==
          "history.replaceState(null,\"\",location.pathname)");
    REQUIRE(j.st.result);
    CHECK_FALSE(std::get<0>(*j.st.result));
    CHECK(std::get<1>(*j.st.result).code.reveal() == "the-code-123");

    // Any later request finds the sign-in complete, and cannot change the outcome.
    auto again = j.get("/callback?code=other&state=" + j.st.sent.state);
    CHECK(again.result_int() == 409);
    CHECK(std::get<1>(*j.st.result).code.reveal() == "the-code-123");
}

TEST_CASE("handle_request: other paths (favicon) get 404 and decide nothing") {
    judge j;
    for (auto target : {"/favicon.ico", "/callback/extra", "/", "/Callback"}) {
        INFO(target);
        auto res = j.get(std::string(target) + "?code=c&state=" + j.st.sent.state);
        CHECK(res.result_int() == 404);
        check_common_headers(res);
    }
    CHECK_FALSE(j.st.result);
    CHECK_FALSE(j.st.rejected_ec);
    CHECK(j.get("//bad target").result_int() == 400);
}

TEST_CASE("handle_request: a wrong or missing state is rejected, not decided") {
    judge j;
    auto forged = j.get("/callback?code=forged-code&state=guess");
    CHECK(forged.result_int() == 400);
    check_page(forged, "Link not recognised");
    // The real sign-in still waits and will succeed: the page must not send the person back
    // to start again.
    CHECK(forged.body().find("carry on in the tab where you started") != std::string::npos);
    CHECK(forged.body().find("sign in again") == std::string::npos);
    CHECK(forged.body().find("start again") == std::string::npos);
    CHECK(forged.body().find("Error code: state_mismatch") != std::string::npos);
    CHECK(forged.body().find("forged-code") == std::string::npos);
    CHECK(forged.body().find("guess") == std::string::npos);
    CHECK_FALSE(j.st.result);
    CHECK(j.st.rejected_ec == errc::state_mismatch);

    CHECK(j.get("/callback?code=c").result_int() == 400);
    CHECK(j.st.rejected_ec == errc::missing_state);
    CHECK_FALSE(j.st.result);

    SUBCASE("with end_on_rejected_redirect the rejection decides the wait") {
        j.opts.end_on_rejected_redirect = true;
        auto stopped = j.get("/callback?code=c&state=guess");
        CHECK(stopped.result_int() == 400);
        check_page(stopped, "Sign-in stopped");
        CHECK(stopped.body().find("sign in again") != std::string::npos);
        REQUIRE(j.st.result);
        CHECK(std::get<0>(*j.st.result) == errc::state_mismatch);
    }
}

TEST_CASE("handle_request: an error redirect decides the wait; its text is not reflected") {
    judge j;
    auto res = j.get("/callback?error=access_denied&error_description=The+user+said+%3Cb%3Eno"
                     "%3C%2Fb%3E&state=" +
                     j.st.sent.state);
    CHECK(res.result_int() == 200);
    check_page(res, "Sign-in declined");
    // Plain words, the OAuth code only in small print.
    CHECK(between(res.body(), "</h1><p>", "</p>") ==
          "You declined; return to the application to try again.");
    CHECK(between(res.body(), "<p class=\"code\">", "</p>") == "Error code: access_denied");
    CHECK(res.body().find("said") == std::string::npos);
    REQUIRE(j.st.result);
    CHECK(std::get<0>(*j.st.result) == oauth_errc::access_denied);
    CHECK(std::get<2>(*j.st.result).error_description == "The user said <b>no</b>");

    judge missing;
    auto failed = missing.get("/callback?state=" + missing.st.sent.state);
    check_page(failed, "Sign-in failed");
    CHECK(failed.body().find("Error code: missing_parameter") != std::string::npos);
    REQUIRE(missing.st.result);
    CHECK(std::get<0>(*missing.st.result) == errc::missing_parameter);
}

TEST_CASE("handle_request: methods (POST only for the implicit grant, never PUT)") {
    judge code;
    auto post = code(bhttp::verb::post, "/callback", "code=c&state=" + code.st.sent.state);
    CHECK(post.result_int() == 405);
    CHECK(post[bhttp::field::allow] == "GET");
    judge implicit(response_type::token);
    auto put =
        implicit(bhttp::verb::put, "/callback?access_token=t&state=" + implicit.st.sent.state);
    CHECK(put.result_int() == 405);
    CHECK(put[bhttp::field::allow] == "GET, POST");
    CHECK_FALSE(code.st.result);
    CHECK_FALSE(implicit.st.result);
}

TEST_CASE("handle_request: the implicit grant's relay page, then its POST back") {
    judge j(response_type::token);
    const auto fixed = std::chrono::sys_seconds(std::chrono::seconds(1'700'000'000));
    j.opts.clock = [fixed] { return joinme::oauth::time_point(fixed); };

    auto page = j.get("/callback");
    CHECK(page.result_int() == 200);
    check_page(page, "Sign-in needs JavaScript");
    // Without JavaScript nothing is relayed, and the page says only that.
    CHECK(between(page.body(), "<p id=\"m\">", "</p>")
              .starts_with("This page passes the "
                           "sign-in to the application"));
    // "Completing the sign-in" only comes from the script.
    CHECK(page.body().find("Completing") > page.body().find("<script>"));
    CHECK_FALSE(j.st.result);
    const auto& html = page.body();
    auto open = html.find("<script>");
    auto close = html.find("</script>");
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    const auto script = html.substr(open + 8, close - open - 8);
    const auto csp = std::string(page["Content-Security-Policy"]);
    CHECK(csp.find("script-src 'sha256-" + sha256_base64(script) + "'") != std::string::npos);

    auto posted =
        j(bhttp::verb::post, "/callback",
          "access_token=tok-xyz&token_type=bearer&expires_in=3600&state=" + j.st.sent.state);
    CHECK(posted.result_int() == 200);
    check_common_headers(posted);
    CHECK(posted[bhttp::field::content_type] == "text/plain; charset=utf-8");
    // The title on the first line, the advice on the second, for the script to show.
    CHECK(posted.body() == "Signed in\nYou can close this tab and return to the application.");
    CHECK(posted.body().find("tok-xyz") == std::string::npos);
    REQUIRE(j.st.result);
    CHECK_FALSE(std::get<0>(*j.st.result));
    const auto& token = std::get<1>(*j.st.result).implicit_token;
    REQUIRE(token);
    CHECK(token->access_token.reveal() == "tok-xyz");
    CHECK(token->expires_at == fixed + std::chrono::seconds(3600));

    // Once decided, a POST is told so in plain text, for the relay page to show.
    auto late = j(bhttp::verb::post, "/callback", "access_token=x&state=" + j.st.sent.state);
    CHECK(late.result_int() == 409);
    CHECK(late[bhttp::field::content_type] == "text/plain; charset=utf-8");
}

TEST_CASE("handle_request: the pages name the application") {
    judge j;
    j.opts.application_name = "Acme <Notes>";
    auto lost = j.get("/favicon.ico");
    check_page(lost, "Not found");
    CHECK(between(lost.body(), "<p class=\"app\">", "</p>") == "Acme &lt;Notes&gt;");
    auto declined = j.get("/callback?error=access_denied&state=" + j.st.sent.state);
    CHECK(declined.body().find("You declined; return to Acme &lt;Notes&gt; to try again.") !=
          std::string::npos);
    auto again = j.get("/callback?code=c&state=" + j.st.sent.state);
    check_page(again, "Sign-in already complete");

    judge implicit(response_type::token);
    implicit.opts.application_name = "Acme";
    auto relay = implicit.get("/callback");
    CHECK(between(relay.body(), "<p class=\"app\">", "</p>") == "Acme");
    auto denied = implicit(bhttp::verb::post, "/callback",
                           "error=access_denied&state=" + implicit.st.sent.state);
    CHECK(denied.body() == "Sign-in declined\nYou declined; return to Acme to try again.\n"
                           "Error code: access_denied");
}

TEST_CASE("handle_request: an implicit grant's error in the query needs no relay") {
    judge j(response_type::token);
    auto res = j.get("/callback?error=access_denied&state=" + j.st.sent.state);
    CHECK(res.result_int() == 200);
    check_page(res, "Sign-in declined");
    CHECK(res.body().find("location.hash") == std::string::npos); // not the relay page
    REQUIRE(j.st.result);
    CHECK(std::get<0>(*j.st.result) == oauth_errc::access_denied);
}

TEST_CASE("refusal_page: requests that cannot be read") {
    using joinme::loopback::detail::refusal_page;
    for (auto status : {bhttp::status::bad_request, bhttp::status::payload_too_large,
                        bhttp::status::request_header_fields_too_large}) {
        auto res = refusal_page(status);
        REQUIRE(res);
        CHECK(res->result() == status);
        check_common_headers(*res);
    }
}

TEST_CASE("is_loopback_peer: 127.0.0.0/8, ::1 and ::ffff:127.x are served, nothing else") {
    using joinme::loopback::detail::is_loopback_peer;
    auto peer = [](const char* text) {
        return is_loopback_peer(boost::asio::ip::make_address(text));
    };
    for (auto a : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1",
                   "::ffff:127.1.2.3"}) {
        INFO(a);
        CHECK(peer(a));
    }
    for (auto a : {"0.0.0.0", "10.0.0.1", "126.255.255.255", "128.0.0.1", "192.168.1.10",
                   "169.254.0.1", "::", "::2", "fe80::1", "2001:db8::1", "::ffff:10.0.0.1",
                   "::ffff:128.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1"}) {
        INFO(a);
        CHECK_FALSE(peer(a));
    }
}
