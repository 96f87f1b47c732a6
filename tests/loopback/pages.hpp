// What every page of the loopback listener carries, checked the same way whether the page came
// over a socket or straight from the request handler.
#ifndef JOINME_TESTS_LOOPBACK_PAGES_HPP
#define JOINME_TESTS_LOOPBACK_PAGES_HPP

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace loopback_test {

namespace bhttp = boost::beast::http;

// No caching, no referrer, no sniffing, a strict CSP, and the connection closes.
inline void check_common_headers(const bhttp::response<bhttp::string_body>& res) {
    CHECK_FALSE(res.keep_alive());
    CHECK(res[bhttp::field::connection] == "close");
    CHECK(res[bhttp::field::cache_control] == "no-store");
    CHECK(res["Referrer-Policy"] == "no-referrer");
    CHECK(res["X-Content-Type-Options"] == "nosniff");
    CHECK(res["Content-Security-Policy"].starts_with("default-src 'none'"));
}

// SHA-256 in standard base64, as a CSP hash source writes it.
inline std::string sha256_base64(std::string_view s) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    REQUIRE(EVP_Digest(s.data(), s.size(), digest, &size, EVP_sha256(), nullptr) == 1);
    unsigned char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, digest, static_cast<int>(size));
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

// The text between the first `open` and the next `close` after it; empty when absent.
inline std::string between(const std::string& html, std::string_view open, std::string_view close) {
    auto a = html.find(open);
    if (a == std::string::npos)
        return {};
    a += open.size();
    auto b = html.find(close, a);
    return b == std::string::npos ? std::string() : html.substr(a, b - a);
}

// A page a person reads: the tab title and the heading say the same `title`, its inline style
// and script are allowed by their hashes in the CSP (nothing inline is allowed otherwise), and
// it loads nothing from elsewhere.
inline void check_page(const bhttp::response<bhttp::string_body>& res, std::string_view title) {
    check_common_headers(res);
    CHECK(res[bhttp::field::content_type] == "text/html; charset=utf-8");
    const auto& html = res.body();
    const auto csp = std::string(res["Content-Security-Policy"]);
    CHECK(between(html, "<title>", "</title>") == title);
    CHECK(between(html, "<h1", "</h1>").ends_with(">" + std::string(title)));
    const auto style = between(html, "<style>", "</style>");
    CHECK_FALSE(style.empty());
    CHECK(csp.find("style-src 'sha256-" + sha256_base64(style) + "'") != std::string::npos);
    const auto script = between(html, "<script>", "</script>");
    CHECK_FALSE(script.empty());
    CHECK(csp.find("script-src 'sha256-" + sha256_base64(script) + "'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    for (auto external : {"src=", "href=", "url(", "@import", "://"}) {
        INFO(external);
        CHECK(html.find(external) == std::string::npos);
    }
}

} // namespace loopback_test

#endif
