// Certificates for the TLS verification tests, made in memory with OpenSSL: a CA, and server
// certificates it issues for chosen names and validity periods (expired ones included).
#ifndef JOINME_TESTS_SUPPORT_CERTIFICATES_HPP
#define JOINME_TESTS_SUPPORT_CERTIFICATES_HPP

#include <joinme/sandbox/tls.hpp>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace test_support {

struct certificate_spec {
    std::string common_name = "localhost";
    // subjectAltName, empty for none.
    std::string alt_names = "DNS:localhost,IP:127.0.0.1";
    // Validity, in seconds from now.
    long not_before = -3600;
    long not_after = 30L * 24 * 3600;
    bool ca = false;
};

// A key and its certificate; `pem` is what a server context (or a client's trust store)
// takes, the key and certificate objects are kept to issue other certificates.
struct test_certificate {
    std::shared_ptr<EVP_PKEY> key;
    std::shared_ptr<X509> cert;
    joinme::sandbox::self_signed_certificate pem;
};

// A certificate for `spec`, signed by `issuer`, or self-signed when `issuer` is null.
inline test_certificate make_certificate(const certificate_spec& spec,
                                         const test_certificate* issuer = nullptr) {
    namespace d = joinme::sandbox::detail;
    test_certificate out;
    out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
    out.cert.reset(X509_new(), X509_free);
    X509* cert = out.cert.get();
    if (!out.key || !cert || X509_set_version(cert, 2) != 1)
        d::tls_fail("certificate");
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn(BN_new(), BN_free);
    if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
        d::tls_fail("serial");
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), spec.not_before) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), spec.not_after))
        d::tls_fail("validity");
    X509_NAME* name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer->cert.get()) : name) !=
            1 ||
        X509_set_pubkey(cert, out.key.get()) != 1)
        d::tls_fail("name");
    if (spec.ca) {
        d::add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
        d::add_extension(cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        d::add_extension(cert, NID_basic_constraints, "critical,CA:FALSE");
        d::add_extension(cert, NID_key_usage, "critical,digitalSignature");
        d::add_extension(cert, NID_ext_key_usage, "serverAuth");
    }
    d::add_extension(cert, NID_subject_key_identifier, "hash");
    if (!spec.alt_names.empty())
        d::add_extension(cert, NID_subject_alt_name, spec.alt_names.c_str());
    if (X509_sign(cert, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) == 0)
        d::tls_fail("signature");

    std::unique_ptr<BIO, d::openssl_free> kb(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, d::openssl_free> cb(BIO_new(BIO_s_mem()));
    if (!kb || !cb ||
        PEM_write_bio_PrivateKey(kb.get(), out.key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1 ||
        PEM_write_bio_X509(cb.get(), cert) != 1)
        d::tls_fail("PEM encoding");
    out.pem.key_pem = d::bio_to_string(kb.get());
    out.pem.certificate_pem = d::bio_to_string(cb.get());
    return out;
}

} // namespace test_support

#endif
