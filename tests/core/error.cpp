// Error model and the wire time formats.
#include <joinme/detail/random.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/error.hpp>

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using namespace std::chrono;
using joinme::errc;
using joinme::oauth_errc;

TEST_CASE("errc codes have their own category and actionable messages") {
    joinme::error_code ec = errc::timeout;
    CHECK(ec.category() == joinme::joinme_category());
    CHECK(std::string(ec.category().name()) == "joinme");
    CHECK(ec.message().find("timed out") != std::string::npos);
    CHECK(ec != oauth_errc::invalid_grant);
    for (int i = 1; i <= static_cast<int>(errc::pool_exhausted); ++i)
        CHECK(joinme::make_error_code(static_cast<errc>(i)).message() != "unknown joinme error");
    CHECK(joinme::make_error_code(static_cast<errc>(999)).message() == "unknown joinme error");
}

TEST_CASE("oauth_errc maps RFC 6749 strings, unknown strings kept apart") {
    CHECK(joinme::to_oauth_errc("invalid_grant") == oauth_errc::invalid_grant);
    CHECK(joinme::to_oauth_errc("access_denied") == oauth_errc::access_denied);
    CHECK(joinme::to_oauth_errc("invalid_authorization_code") ==
          oauth_errc::invalid_authorization_code);
    CHECK(joinme::to_oauth_errc("made_up") == oauth_errc::unknown_error);
    CHECK(joinme::to_oauth_errc("") == oauth_errc::unknown_error);
    joinme::error_code ec = oauth_errc::invalid_client;
    CHECK(std::string(ec.category().name()) == "joinme.oauth");
    CHECK(ec.message().find("client id and secret") != std::string::npos);
}

TEST_CASE("is_transient separates retryable failures") {
    CHECK(joinme::is_transient(errc::timeout));
    CHECK(joinme::is_transient(oauth_errc::temporarily_unavailable));
    CHECK_FALSE(joinme::is_transient(oauth_errc::invalid_grant));
    CHECK_FALSE(joinme::is_transient(errc::state_mismatch));
}

TEST_CASE("diagnostics print what the server said and truncate bodies") {
    joinme::diagnostics d;
    CHECK(d.empty());
    d.status = 400;
    d.error = "invalid_grant";
    d.error_description = "code expired";
    d.retry_after = seconds{3};
    CHECK_FALSE(d.empty());
    CHECK(d.to_string() ==
          R"(status 400, error "invalid_grant", error_description "code expired", Retry-After 3s)");
    d.set_body_excerpt(std::string(1000, 'x'));
    CHECK(d.body_excerpt.size() == joinme::diagnostics::max_excerpt + 3);
    std::ostringstream os;
    os << d;
    CHECK(os.str() == d.to_string());
    d.clear();
    CHECK(d.empty());
}

TEST_CASE("error_with_diagnostics carries code and diagnostics") {
    joinme::diagnostics d;
    d.status = 403;
    d.error_detail_header = "Account Inactive";
    try {
        joinme::throw_on_error(errc::account_inactive, d);
        FAIL("no exception");
    } catch (const joinme::error_with_diagnostics& e) {
        CHECK(e.code() == errc::account_inactive);
        CHECK(e.get_diagnostics().status == 403);
        CHECK(std::string(e.what()).find("Account Inactive") != std::string::npos);
    }
    CHECK_NOTHROW(joinme::throw_on_error({}, d));
}

TEST_CASE("ISO 8601: Z, offsets, no suffix, fractions; invalid rejected") {
    using joinme::detail::parse_iso8601;
    auto z = parse_iso8601("2015-06-02T09:00:00Z");
    REQUIRE(z);
    CHECK(*z == sys_days{2015y / June / 2} + 9h);
    CHECK(parse_iso8601("2016-06-21T16:00:00+02:00") == sys_days{2016y / June / 21} + 14h);
    CHECK(parse_iso8601("2016-06-21T12:30:00-01:30") == sys_days{2016y / June / 21} + 14h);
    CHECK(parse_iso8601("2014-03-22T20:45:00") == sys_days{2014y / March / 22} + 20h + 45min);
    CHECK(parse_iso8601("2014-03-22T20:45:00.123Z") == sys_days{2014y / March / 22} + 20h + 45min);
    for (const char* bad : {"", "2015-06-02", "2015-06-02 09:00:00Z", "2015-13-02T09:00:00Z",
                            "2015-02-30T09:00:00Z", "2015-06-02T24:00:00Z", "2015-06-02T09:00:00ZZ",
                            "2015-06-02T09:00:00+0200", "2015-06-02T09:00:00.Z", "x015-06-02T09:00:00Z",
                            "2015-06-02T09:00:00+02:00x"})
        CHECK_MESSAGE(!parse_iso8601(bad), bad);
    CHECK(joinme::detail::format_iso8601(*z) == "2015-06-02T09:00:00Z");
}

TEST_CASE("HTTP dates round trip (RFC 9110 example)") {
    using joinme::detail::parse_http_date;
    auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    REQUIRE(t);
    CHECK(*t == sys_days{1994y / November / 6} + 8h + 49min + 37s);
    CHECK(joinme::detail::format_http_date(*t) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
    CHECK_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
}

TEST_CASE("random tokens are base64url and distinct") {
    unsigned char bytes[] = {0xfb, 0xff, 0xfe};
    CHECK(joinme::detail::base64url(bytes) == "-__-");
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        auto t = joinme::detail::random_token(16);
        CHECK(t.size() == 22);
        CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
        seen.insert(t);
    }
    CHECK(seen.size() == 100);
}
