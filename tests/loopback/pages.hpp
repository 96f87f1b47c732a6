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

} // namespace loopback_test

#endif
