// Plain values and decisions, no I/O: the error model, wire time formats, origins, and the
// retry policy.
#include <joinme/detail/random.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/error.hpp>
#include <joinme/http/retry.hpp>
#include <joinme/time.hpp>
#include <joinme/transport.hpp>
#include <joinme/version.hpp>

#include <boost/url/parse.hpp>

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using namespace std::chrono;
using joinme::errc;
using joinme::oauth_errc;

TEST_CASE("the version macros agree with each other") {
    std::ostringstream parts;
    parts << JOINME_VERSION_MAJOR << '.' << JOINME_VERSION_MINOR << '.' << JOINME_VERSION_PATCH;
    CHECK(parts.str() == JOINME_VERSION_STRING);
    CHECK(JOINME_VERSION ==
          JOINME_VERSION_MAJOR * 10000 + JOINME_VERSION_MINOR * 100 + JOINME_VERSION_PATCH);
    static_assert(JOINME_VERSION_MINOR < 100 && JOINME_VERSION_PATCH < 100);
}

TEST_CASE("errc codes have their own category and actionable messages") {
    joinme::error_code ec = errc::timeout;
    CHECK(ec.category() == joinme::joinme_category());
    CHECK(std::string(ec.category().name()) == "joinme");
    CHECK(ec.message().find("timed out") != std::string::npos);
    CHECK(ec != oauth_errc::invalid_grant);
    for (int i = 1; i <= static_cast<int>(errc::proxy_malformed_response); ++i)
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

TEST_CASE("error enumerators have short names for logs; oauth_errc names are the RFC strings") {
    CHECK(joinme::to_string(errc::timeout) == "timeout");
    CHECK(joinme::to_string(errc::reauthorization_required) == "reauthorization_required");
    CHECK(joinme::to_string(errc::pool_exhausted) == "pool_exhausted");
    CHECK(joinme::to_string(errc::certificate_name_mismatch) == "certificate_name_mismatch");
    CHECK(joinme::to_string(static_cast<errc>(0)).empty());
    CHECK(joinme::to_string(static_cast<errc>(999)).empty());
    std::set<std::string_view> names;
    for (int i = 1; i <= static_cast<int>(errc::proxy_malformed_response); ++i)
        names.insert(joinme::to_string(static_cast<errc>(i)));
    CHECK(names.size() == static_cast<std::size_t>(errc::proxy_malformed_response));
    CHECK(joinme::to_string(oauth_errc::unknown_error) == "unknown_error");
    for (int i = 2; i <= static_cast<int>(oauth_errc::invalid_authorization_code); ++i) {
        auto e = static_cast<oauth_errc>(i);
        CHECK(joinme::to_oauth_errc(joinme::to_string(e)) == e);
        // The message starts with the name the server used.
        CHECK(joinme::make_error_code(e).message().rfind(std::string(joinme::to_string(e)), 0) ==
              0);
    }
    CHECK(joinme::to_oauth_errc("unknown_error") == oauth_errc::unknown_error);
}

TEST_CASE("is_transient separates retryable failures") {
    CHECK(joinme::is_transient(errc::timeout));
    CHECK(joinme::is_transient(oauth_errc::temporarily_unavailable));
    CHECK_FALSE(joinme::is_transient(oauth_errc::invalid_grant));
    CHECK_FALSE(joinme::is_transient(errc::state_mismatch));
    CHECK_FALSE(joinme::is_transient(errc::certificate_untrusted));
}

TEST_CASE("diagnostics::redact removes a secret from every text, a cut-off start included") {
    joinme::diagnostics d;
    d.error_description = "bad secret xyzzy-42, really xyzzy-42";
    d.www_authenticate = "Bearer error=\"invalid_token\", token=\"xyzzy-42\"";
    d.client_message = "xyzzy-42";
    d.set_body_excerpt(std::string(joinme::diagnostics::max_excerpt - 5, 'x') +
                       " xyzzy-42 and more");
    d.redact("xyzzy-42");
    CHECK(d.error_description == "bad secret [redacted], really [redacted]");
    CHECK(d.www_authenticate == "Bearer error=\"invalid_token\", token=\"[redacted]\"");
    CHECK(d.client_message == "[redacted]");
    // The excerpt ended four bytes into the secret.
    CHECK(d.body_excerpt.ends_with(" [redacted]..."));
    CHECK(d.to_string().find("xyzz") == std::string::npos);
    // A quote the server cut short, 8 bytes or more into the secret; fewer are kept.
    const std::string rt = "SECRETrefreshXYZ12345";
    d.error_description = ("grant_type=refresh_token&refresh_token=" + rt).substr(0, 55);
    d.message = "ends with SECRETr";
    d.redact(rt);
    CHECK(d.error_description == "grant_type=refresh_token&refresh_token=[redacted]");
    CHECK(d.message == "ends with SECRETr");
    auto before = d;
    d.redact("");
    CHECK(d == before);
}

TEST_CASE("diagnostics::clear forgets every field") {
    joinme::diagnostics d;
    auto texts = {&d.error,
                  &d.error_description,
                  &d.error_uri,
                  &d.error_ticket_id,
                  &d.message,
                  &d.error_code,
                  &d.error_detail_header,
                  &d.mashery_error_code,
                  &d.www_authenticate,
                  &d.proxy_authenticate,
                  &d.via,
                  &d.body_excerpt,
                  &d.client_message};
    for (auto* text : texts) {
        *text = "said";
        CHECK_FALSE(d.empty());
        d.clear();
        CHECK(d.empty());
    }
    d.status = 401;
    d.retry_after = std::chrono::seconds(3);
    d.clear();
    CHECK(d == joinme::diagnostics{});
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
    // The challenge says why a token was refused.
    d.www_authenticate = R"(Bearer realm="api.join.me", error="invalid_token")";
    CHECK_FALSE(d.empty());
    CHECK(d.to_string() ==
          R"(WWW-Authenticate "Bearer realm="api.join.me", error="invalid_token"")");
    d.clear();
    d.retry_after = seconds{1};
    CHECK_FALSE(d.empty());
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
    for (const char* bad :
         {"", "2015-06-02", "2015-06-02 09:00:00Z", "2015-13-02T09:00:00Z", "2015-02-30T09:00:00Z",
          "2015-06-02T24:00:00Z", "2015-06-02T09:00:00ZZ", "2015-06-02T09:00:00+0200",
          "2015-06-02T09:00:00.Z", "x015-06-02T09:00:00Z", "2015-06-02T09:00:00+02:00x"})
        CHECK_MESSAGE(!parse_iso8601(bad), bad);
    CHECK(joinme::detail::format_iso8601(*z) == "2015-06-02T09:00:00Z");
}

TEST_CASE("ISO 8601 through the public header: what a program prints and reads") {
    auto t = joinme::parse_iso8601("2016-06-21T16:00:00+02:00");
    REQUIRE(t);
    CHECK(joinme::format_iso8601(*t) == "2016-06-21T14:00:00Z");
    CHECK_FALSE(joinme::parse_iso8601("next tuesday"));
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
        CHECK(t.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
        seen.insert(t);
    }
    CHECK(seen.size() == 100);
}

TEST_CASE("origin_of: scheme, host and default ports; other schemes refused") {
    joinme::error_code ec;
    auto o = joinme::origin_of(boost::urls::parse_uri("https://api.join.me/v1/").value(), ec);
    CHECK(!ec);
    CHECK(o == joinme::origin{"https", "api.join.me", "443"});
    CHECK(o.host_header() == "api.join.me");
    o = joinme::origin_of(boost::urls::parse_uri("http://127.0.0.1:8080/x?y").value(), ec);
    CHECK(o == joinme::origin{"http", "127.0.0.1", "8080"});
    CHECK(o.host_header() == "127.0.0.1:8080");
    o = joinme::origin_of(boost::urls::parse_uri("http://[::1]:9/").value(), ec);
    CHECK(o.host == "::1");
    CHECK(o.host_header() == "[::1]:9");
    joinme::origin_of(boost::urls::parse_uri("ftp://example.com/").value(), ec);
    CHECK(ec == errc::invalid_url);
    joinme::origin_of(boost::urls::parse_uri("mailto:someone@example.com").value(), ec);
    CHECK(ec == errc::invalid_url);
}

namespace {

joinme::http::response answer(unsigned status, std::string_view retry_after = {},
                              std::string_view mashery = {}) {
    joinme::http::response res(static_cast<boost::beast::http::status>(status), 11);
    if (!retry_after.empty())
        res.set(boost::beast::http::field::retry_after, retry_after);
    if (!mashery.empty())
        res.set("X-Mashery-Error-Code", mashery);
    return res;
}

} // namespace

TEST_CASE("Retry-After: seconds, HTTP dates, garbage") {
    using joinme::http::parse_retry_after;
    auto now = sys_days{2026y / November / 28} + 12h;
    CHECK(parse_retry_after("1", now) == seconds{1});
    CHECK(parse_retry_after(" 120 ", now) == seconds{120});
    CHECK(parse_retry_after("99999999999", now) == seconds{24 * 3600});
    CHECK(parse_retry_after("Sat, 28 Nov 2026 12:00:30 GMT", now) == seconds{30});
    // One rule for both forms: any wait longer than a day is a day, a number too large for
    // any integer type and a date decades ahead included.
    CHECK(parse_retry_after("99999999999999999999999", now) == joinme::http::max_retry_after);
    CHECK(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now) == seconds{24 * 3600});
    CHECK(parse_retry_after("86400", now) == seconds{86400});
    CHECK_FALSE(parse_retry_after("99999999999999999999999x", now));
    CHECK(parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now) == seconds{0});
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("-1", now));
    CHECK_FALSE(parse_retry_after("1.5", now));
    CHECK_FALSE(parse_retry_after("soon", now));
}

TEST_CASE("retry decisions: which answers, how long, how often") {
    joinme::http::retry_policy p;
    const system_clock::time_point now = sys_days{2026y / November / 28};
    joinme::http::request get(boost::beast::http::verb::get, "/v1/user", 11);
    joinme::http::request post(boost::beast::http::verb::post, "/v1/meetings", 11);
    using joinme::http::decide_retry;

    auto d = decide_retry(p, get, answer(429, "1"), 1, 0ms, 0.5, now);
    CHECK(d.retry);
    CHECK(d.delay == 1s);
    CHECK(decide_retry(p, get, answer(503, "2"), 1, 0ms, 0.5, now).delay == 2s);
    // join.me's gateway says "over QPS" with a 403; other 403s are final.
    CHECK(decide_retry(p, get, answer(403, "1", "ERR_403_DEVELOPER_OVER_QPS"), 1, 0ms, 0.5, now)
              .retry);
    CHECK_FALSE(
        decide_retry(p, get, answer(403, {}, "ERR_403_DEVELOPER_INACTIVE"), 1, 0ms, 0.5, now)
            .retry);
    CHECK_FALSE(decide_retry(p, get, answer(500), 1, 0ms, 0.5, now).retry);
    CHECK_FALSE(decide_retry(p, get, answer(200), 1, 0ms, 0.5, now).retry);
    // Attempts, non-idempotent requests, budgets.
    CHECK_FALSE(decide_retry(p, get, answer(429, "1"), 3, 0ms, 0.5, now).retry);
    CHECK_FALSE(decide_retry(p, post, answer(429, "1"), 1, 0ms, 0.5, now).retry);
    p.retry_non_idempotent = true;
    CHECK(decide_retry(p, post, answer(429, "1"), 1, 0ms, 0.5, now).retry);
    CHECK_FALSE(decide_retry(p, get, answer(429, "120"), 1, 0ms, 0.5, now).retry); // > max_backoff
    CHECK_FALSE(decide_retry(p, get, answer(429, "5"), 1, 58s, 0.5, now).retry);   // > max_total
    CHECK(decide_retry(p, get, answer(429, "Sat, 28 Nov 2026 00:00:03 GMT"), 1, 0ms, 0.5, now)
              .delay == 3s);
    // Exponential backoff with full jitter when the server gives no delay.
    p.jitter = false;
    CHECK(decide_retry(p, get, answer(503), 1, 0ms, 0.5, now).delay == 500ms);
    CHECK(decide_retry(p, get, answer(503), 2, 0ms, 0.5, now).delay == 1000ms);
    p.max_attempts = 10;
    CHECK(decide_retry(p, get, answer(503), 9, 0ms, 0.5, now).delay == 30s); // capped
    p.jitter = true;
    CHECK(decide_retry(p, get, answer(503), 2, 0ms, 0.25, now).delay == 250ms);
    CHECK(decide_retry(p, get, answer(503), 2, 0ms, 0.0, now).delay == 0ms);
}
