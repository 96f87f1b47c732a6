// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_CLIENT_HPP
#define JOINME_API_CLIENT_HPP

/// @file
/// `joinme::api::basic_client<Stream>`: the join.me API client (any_client.hpp) with its own
/// connection pool over `Stream`, the user's compile-time choice of transport. It is an
/// `any_client`: the operations, their completion, errors, cancellation and lifetime are
/// those documented in any_client.hpp, and a `basic_client` moves into an `any_client`
/// wherever the stream type should not be named.

#include <joinme/api/any_client.hpp>
#include <joinme/api/check_response.hpp>
#include <joinme/api/client_config.hpp>
#include <joinme/api/detail/client_impl.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/transport.hpp>

#include <memory>
#include <stdexcept>
#include <utility>

namespace joinme::api {

/// A join.me REST API client over connections of type `Stream` (`beast::ssl_stream<
/// beast::tcp_stream>` for production, `beast::tcp_stream` or `beast::test::stream` for
/// tests; any type with a `stream_traits` specialization).
///
/// It makes a keep-alive connection pool of its own (`client_config::pool`), shared by every
/// API call and token refresh, and closes it when destroyed or `close()`-d. `context_type`
/// values that refer to other objects must outlive every operation.
template <transport Stream>
class basic_client : public any_client {
public:
    /// The type of every connection.
    using stream_type = Stream;
    /// What new connections need (`stream_traits<Stream>::context_type`).
    using context_type = typename stream_traits<Stream>::context_type;
    /// The client's own connection pool.
    using pool_type = http::basic_connection_pool<Stream>;

    /// @param ex   executor of every operation and connection.
    /// @param ctx  what new connections need (`tls_context` for TLS, `tcp_context` for TCP, a
    ///             `test_stream_connector` for in-memory streams).
    /// @param cfg  URLs, credentials, pool and token source settings.
    /// @throws std::invalid_argument when `cfg.proxy` is not empty and `Stream` cannot go
    ///         through a proxy (only `proxy_stream` can, among joinme's streams).
    basic_client(executor_type ex, context_type ctx, const client_config& cfg = {})
        : any_client(std::make_shared<detail::client_impl>(
              std::make_shared<pool_type>(std::move(ex), with_proxy(std::move(ctx), cfg.proxy),
                                          cfg.pool),
              cfg, true)) {}

    /// Takes over `other`'s state, as `any_client`'s move constructor.
    basic_client(basic_client&&) noexcept = default;
    /// Closes this client and takes over `other`'s state, as `any_client`'s move assignment.
    basic_client& operator=(basic_client&&) noexcept = default;

    /// The connection pool, with its stream type.
    pool_type& pool() noexcept { return static_cast<pool_type&>(any_client::pool()); }

private:
    // `ctx` made to use `proxy` when it is not empty: a configured proxy is never ignored.
    static context_type with_proxy(context_type ctx, const proxy_config& proxy) {
        if (proxy.empty())
            return ctx;
        if constexpr (requires { stream_traits<Stream>::use_proxy(ctx, proxy); }) {
            stream_traits<Stream>::use_proxy(ctx, proxy);
            return ctx;
        } else {
            throw std::invalid_argument(
                "client_config::proxy is set, but this client's stream type cannot go through a "
                "proxy: use api::basic_client<joinme::proxy_stream>");
        }
    }
};

/// Moves `c` into an `any_client`: the same client (pool, token source, configuration)
/// behind a type that does not name `Stream`.
template <transport Stream>
any_client make_any_client(basic_client<Stream> c) {
    return any_client(std::move(c));
}

} // namespace joinme::api

#endif
