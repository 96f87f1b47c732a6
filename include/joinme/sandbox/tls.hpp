// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_TLS_HPP
#define JOINME_SANDBOX_TLS_HPP

/// @file
/// An ECDSA P-256 key and a self-signed certificate made in memory with OpenSSL, so that the
/// sandbox can serve TLS without any file. The certificate names `localhost`, `127.0.0.1` and
/// `::1` in its subjectAltName; a client that trusts its PEM passes host-name verification
/// for those names.

#include <boost/asio/ssl/context.hpp>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace joinme::sandbox {

/// A private key and its self-signed certificate, both PEM encoded.
struct self_signed_certificate {
    std::string key_pem;         ///< The private key (PKCS#8). Keep it in memory.
    std::string certificate_pem; ///< The certificate a client must trust.
};

namespace detail {

struct openssl_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};

[[noreturn]] inline void tls_fail(const char* what) {
    throw std::runtime_error(std::string("joinme sandbox: certificate generation failed: ") + what);
}

inline std::string bio_to_string(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

inline void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, openssl_free> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
        tls_fail("extension");
}

} // namespace detail

/// Generates a fresh P-256 key and a certificate for `localhost`, `127.0.0.1` and `::1`,
/// valid from one hour ago for 30 days (by the system clock, which the TLS peer checks).
/// Throws `std::runtime_error` if OpenSSL fails.
inline self_signed_certificate make_self_signed_certificate() {
    using detail::openssl_free;
    std::unique_ptr<EVP_PKEY, openssl_free> key(EVP_EC_gen("P-256"));
    if (!key)
        detail::tls_fail("key");
    std::unique_ptr<X509, openssl_free> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1)
        detail::tls_fail("certificate");
    // A random serial, so that a client caching certificates does not mix up two runs: 127
    // bits from OpenSSL's CSPRNG, positive as RFC 5280 §4.1.2.2 requires.
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn(BN_new(), BN_free);
    if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
        detail::tls_fail("serial");
    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600))
        detail::tls_fail("validity");
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1)
        detail::tls_fail("name");
    // Self-signed and used as its own trust anchor: a CA that may also serve TLS.
    detail::add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    detail::add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
    detail::add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    detail::add_extension(cert.get(), NID_subject_key_identifier, "hash");
    detail::add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
        detail::tls_fail("signature");

    self_signed_certificate out;
    std::unique_ptr<BIO, openssl_free> kb(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, openssl_free> cb(BIO_new(BIO_s_mem()));
    if (!kb || !cb ||
        PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        PEM_write_bio_X509(cb.get(), cert.get()) != 1)
        detail::tls_fail("PEM encoding");
    out.key_pem = detail::bio_to_string(kb.get());
    out.certificate_pem = detail::bio_to_string(cb.get());
    return out;
}

/// A TLS 1.2+ server context using `cert`. Throws `boost::system::system_error` on failure.
inline boost::asio::ssl::context make_server_context(const self_signed_certificate& cert) {
    namespace ssl = boost::asio::ssl;
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain(boost::asio::buffer(cert.certificate_pem));
    ctx.use_private_key(boost::asio::buffer(cert.key_pem), ssl::context::pem);
    return ctx;
}

} // namespace joinme::sandbox

#endif
