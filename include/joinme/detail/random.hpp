// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_RANDOM_HPP
#define JOINME_DETAIL_RANDOM_HPP

// Unguessable values (OAuth state, PKCE verifier, sandbox tokens) from OpenSSL's CSPRNG,
// SHA-256 (PKCE challenges, CSP hashes), and the base64 encodings (RFC 4648) they and HTTP
// Basic credentials travel in.

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace joinme::detail {

/// Standard base64 (RFC 4648 §4, padded), with OpenSSL's encoder.
inline std::string base64(std::span<const unsigned char> in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), in.data(),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// Standard base64 of text.
inline std::string base64(std::string_view in) {
    return base64({reinterpret_cast<const unsigned char*>(in.data()), in.size()});
}

/// base64url without padding (RFC 4648 §5).
inline std::string base64url(std::span<const unsigned char> in) {
    std::string out = base64(in);
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    for (char& c : out) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return out;
}

/// Fills `out` from OpenSSL's CSPRNG; throws when the generator cannot be seeded, because a
/// predictable value would silently defeat the protection it exists for.
inline void random_bytes(std::span<unsigned char> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
        throw std::runtime_error("joinme: OpenSSL RAND_bytes failed");
}

/// `bytes` random bytes, base64url encoded (32 bytes give 43 characters).
inline std::string random_token(std::size_t bytes = 32) {
    unsigned char buf[64];
    if (bytes > sizeof buf)
        bytes = sizeof buf;
    random_bytes({buf, bytes});
    return base64url({buf, bytes});
}

/// SHA-256 of `in`; throws when OpenSSL cannot hash.
inline std::array<unsigned char, 32> sha256(std::string_view in) {
    std::array<unsigned char, 32> out{};
    if (EVP_Digest(in.data(), in.size(), out.data(), nullptr, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("joinme: OpenSSL SHA-256 failed");
    return out;
}

} // namespace joinme::detail

#endif
