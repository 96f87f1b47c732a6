// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TRANSPORT_TLS_HPP
#define JOINME_TRANSPORT_TLS_HPP

/// @file
/// `stream_traits` for TLS over TCP (`beast::ssl_stream<beast::tcp_stream>`): connect, SNI,
/// peer and host-name verification, handshake; graceful shutdown.

#include <joinme/transport/tcp.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
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
    std::reference_wrapper<boost::asio::ssl::context> ssl;
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

struct tls_connect_op {
    tls_stream& stream;
    origin target;
    tls_context ctx;
    bool connected = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        if (ec)
            return self.complete(ec);
        if (!connected) {
            connected = true;
            return stream_traits<boost::beast::tcp_stream>::async_connect(
                boost::beast::get_lowest_layer(stream), target, ctx.tcp, std::move(self));
        }
        SSL* ssl = stream.native_handle();
        // SNI: servers with several certificates pick the right one from it. IP literals are
        // not valid SNI names (RFC 6066 §3).
        error_code addr_ec;
        boost::asio::ip::make_address(target.host, addr_ec);
        if (addr_ec && !SSL_set_tlsext_host_name(ssl, target.host.c_str()))
            return self.complete(error_code(static_cast<int>(::ERR_get_error()),
                                            boost::asio::error::get_ssl_category()));
        if (ctx.insecure_skip_verify) {
            stream.set_verify_mode(boost::asio::ssl::verify_none);
        } else {
            stream.set_verify_mode(boost::asio::ssl::verify_peer);
            stream.set_verify_callback(boost::asio::ssl::host_name_verification(target.host));
        }
        stream.async_handshake(
            boost::asio::ssl::stream_base::client,
            [self = std::move(self)](error_code ec) mutable { self.complete(ec); });
    }
};

} // namespace detail

template <>
struct stream_traits<detail::tls_stream> {
    using context_type = tls_context;

    static detail::tls_stream create(const boost::asio::any_io_executor& ex, tls_context& ctx) {
        return detail::tls_stream(ex, ctx.ssl.get());
    }

    template <class Token>
    static auto async_connect(detail::tls_stream& s, const origin& o, tls_context& ctx,
                              Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(
            detail::tls_connect_op{s, o, ctx}, token, s);
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
