// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_TLS_HPP
#define JOINME_TRANSPORT_TLS_HPP

/// @file
/// `stream_traits` for TLS over TCP (`beast::ssl_stream<beast::tcp_stream>`): connect, SNI,
/// peer and host-name verification, handshake; graceful shutdown.

#include <joinme/transport/tcp.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

namespace joinme {

/// What a TLS connection needs: the `ssl::context` (trust store, client certificate), and
/// whether to check the peer.
///
/// Made from a `shared_ptr`, the `tls_context` (and every pool or client that copies it)
/// shares ownership of the `ssl::context`. Made from a reference, it does not: the caller
/// keeps the `ssl::context` alive for as long as any pool or client made with it.
///
/// Peer and host-name verification are on by default. `insecure_skip_verify` turns both off:
/// it exists only for tests against a server whose certificate cannot be trusted, and must
/// never be set in production.
struct tls_context {
    /// The OpenSSL context of every connection: trust store, client certificate, options.
    std::reference_wrapper<boost::asio::ssl::context> ssl;
    /// Turns off peer and host-name verification: for tests only (see above).
    bool insecure_skip_verify = false;
    /// The TCP connection under TLS (how host names are resolved).
    tcp_context tcp;

    /// Refers to `ctx`, which must outlive every stream made from this context.
    tls_context(boost::asio::ssl::context& ctx) : ssl(ctx) {}

    /// Shares ownership of `ctx` (not null).
    tls_context(std::shared_ptr<boost::asio::ssl::context> ctx)
        : ssl(*ctx)
        , owner_(std::move(ctx)) {}

private:
    std::shared_ptr<boost::asio::ssl::context> owner_;
};

/// Which certificate authorities a context made by `make_client_tls_context` trusts.
enum class trust_store {
    /// The system's, as OpenSSL finds them (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else its default
    /// hashed directory, `/etc/ssl/certs` on Debian), looked up one at a time when a handshake
    /// needs them, plus any added to the context.
    system,
    /// Only those added to the context (`add_certificate_authority`, `load_verify_file`).
    none,
};

namespace detail {

// Trusts the system's CAs without reading them all now. OpenSSL's
// `SSL_CTX_set_default_verify_paths` parses the whole bundle file when called (about 150
// certificates and 235,000 allocations on Debian 12); the hashed directory holds the same CAs,
// and OpenSSL reads only those a handshake asks for (and keeps them). The default paths
// remain for a user who names a bundle (`SSL_CERT_FILE`) and for a system without the
// directory.
inline void trust_system_lazily(boost::asio::ssl::context& ctx) {
    const char* dir = std::getenv(X509_get_default_cert_dir_env());
    if (!dir)
        dir = X509_get_default_cert_dir();
    std::error_code ec;
    if (std::getenv(X509_get_default_cert_file_env()) || !std::filesystem::is_directory(dir, ec) ||
        SSL_CTX_load_verify_locations(ctx.native_handle(), nullptr, dir) != 1)
        ctx.set_default_verify_paths();
}

} // namespace detail

/// An `ssl::context` for a TLS 1.2+ client that verifies peers against `trust` (the system's
/// CAs by default, loaded lazily). Add a test server's certificate with
/// `add_certificate_authority`.
inline boost::asio::ssl::context make_client_tls_context(trust_store trust = trust_store::system) {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    ctx.set_options(boost::asio::ssl::context::default_workarounds |
                    boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                    boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
    if (trust == trust_store::system)
        detail::trust_system_lazily(ctx);
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    return ctx;
}

namespace detail {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// The errc for a failed verification (`X509_V_ERR_*`), so that a caller can tell an
// untrusted issuer from a name mismatch or an expired certificate.
inline errc verify_errc(long result) noexcept {
    switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        return errc::certificate_untrusted;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return errc::certificate_name_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return errc::certificate_expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return errc::certificate_not_yet_valid;
    default:
        return errc::certificate_invalid;
    }
}

inline bool is_certificate_errc(const error_code& ec) noexcept {
    return ec.category() == joinme_category() &&
           ec.value() >= static_cast<int>(errc::certificate_untrusted) &&
           ec.value() <= static_cast<int>(errc::certificate_invalid);
}

// `name` in RFC 2253 form ("CN=api.example,O=Example").
inline std::string x509_name_text(const X509_NAME* name) {
    std::string out;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (name && bio && X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        long n = BIO_get_mem_data(bio.get(), &data);
        if (n > 0)
            out.assign(data, static_cast<std::size_t>(n));
    }
    return out;
}

// Why the handshake on `ssl` failed verification, for diagnostics: OpenSSL's reason and the
// subject and issuer of the server's certificate (public data, no secret).
inline std::string describe_verify_failure(SSL* ssl) {
    long result = SSL_get_verify_result(ssl);
    std::string out = "TLS certificate verification failed: ";
    out += X509_verify_cert_error_string(result);
    // A client does not keep the peer's certificate when verification fails, but keeps the
    // chain the peer sent, the server's own certificate first.
    X509* cert = nullptr;
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl); chain && sk_X509_num(chain) > 0)
        cert = sk_X509_value(chain, 0);
    if (cert) {
        out += "; server certificate subject \"";
        out += x509_name_text(X509_get_subject_name(cert));
        out += "\", issuer \"";
        out += x509_name_text(X509_get_issuer_name(cert));
        out += '"';
    }
    return out;
}

// Connects the TCP layer (unless `connected`: a tunnel through a proxy already reaches the
// origin), then runs the handshake for `target`.
struct tls_connect_op {
    tls_stream& stream;
    origin target;
    tls_context ctx;
    bool connected = false;
    enum { starting, connecting, handshaking } step = starting;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        switch (step) {
        case starting:
            step = connecting;
            if (connected)
                return (*this)(self, error_code{});
            return stream_traits<boost::beast::tcp_stream>::async_connect(
                boost::beast::get_lowest_layer(stream), target, ctx.tcp, std::move(self));
        case connecting:
            if (ec)
                return self.complete(ec);
            if (auto sec = prepare(stream.native_handle()))
                return self.complete(sec);
            step = handshaking;
            return stream.async_handshake(boost::asio::ssl::stream_base::client, std::move(self));
        case handshaking:
            // OpenSSL records why verification failed; the handshake's own error only says
            // that it did.
            if (ec && !ctx.insecure_skip_verify) {
                long result = SSL_get_verify_result(stream.native_handle());
                if (result != X509_V_OK)
                    ec = verify_errc(result);
            }
            return self.complete(ec);
        }
    }

    // SNI, and what OpenSSL must check: the chain and, in it, the host name or address.
    error_code prepare(SSL* ssl) const {
        auto ssl_error = [] {
            return error_code(static_cast<int>(::ERR_get_error()),
                              boost::asio::error::get_ssl_category());
        };
        error_code addr_ec;
        boost::asio::ip::make_address(target.host, addr_ec);
        bool ip = !addr_ec;
        // SNI: servers with several certificates pick the right one from it. IP literals are
        // not valid SNI names (RFC 6066 §3).
        if (!ip && !SSL_set_tlsext_host_name(ssl, target.host.c_str()))
            return ssl_error();
        if (ctx.insecure_skip_verify) {
            SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
            return {};
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.host.c_str()) != 1
               : SSL_set1_host(ssl, target.host.c_str()) != 1)
            return ssl_error();
        return {};
    }
};

} // namespace detail

template <>
struct stream_traits<detail::tls_stream> {
    using context_type = tls_context;

    static detail::tls_stream create(const boost::asio::any_io_executor& ex, tls_context& ctx) {
        return detail::tls_stream(ex, ctx.ssl.get());
    }

    /// Connects, then handshakes with SNI (for a host name) and, unless
    /// `insecure_skip_verify`, OpenSSL's verification of the chain and of the host name or IP
    /// address. A failed verification completes with `errc::certificate_untrusted`,
    /// `certificate_name_mismatch`, `certificate_expired`, `certificate_not_yet_valid` or
    /// `certificate_invalid`; other TLS failures with an error of Asio's ssl category.
    template <class Token>
    static auto async_connect(detail::tls_stream& s, const origin& o, tls_context& ctx,
                              Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            detail::tls_connect_op{s, o, ctx}, token, s);
    }

    /// After `async_connect` failed with `ec`: for a certificate error, OpenSSL's reason and
    /// the subject and issuer of the certificate the server sent; otherwise empty.
    static std::string describe_connect_failure(detail::tls_stream& s, const error_code& ec) {
        if (!detail::is_certificate_errc(ec))
            return {};
        return detail::describe_verify_failure(s.native_handle());
    }

    /// Sends close_notify. A peer that closes without answering it (`stream_truncated`) is
    /// normal on the web and not reported.
    template <class Token>
    static auto async_shutdown(detail::tls_stream& s, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            [&s, started = false](auto& self, error_code ec = {}) mutable {
                if (!started) {
                    started = true;
                    return s.async_shutdown(std::move(self));
                }
                if (ec == boost::asio::ssl::error::stream_truncated ||
                    ec == boost::asio::error::eof)
                    ec = {};
                boost::beast::get_lowest_layer(s).close();
                self.complete(ec);
            },
            token, s);
    }

    static void close(detail::tls_stream& s) noexcept { boost::beast::get_lowest_layer(s).close(); }

    static bool is_reusable(detail::tls_stream& s) noexcept {
        return detail::socket_is_idle(boost::beast::get_lowest_layer(s).socket());
    }
};

} // namespace joinme

#endif
