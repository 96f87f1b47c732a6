// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_DETAIL_CLIENT_IMPL_HPP
#define JOINME_API_DETAIL_CLIENT_IMPL_HPP

// The one implementation behind `any_client` and `basic_client<Stream>`: the state a client
// and its operations share, over a `http::connection_pool` (the stream is erased there), and
// the coroutines that send an endpoint's request with the user's token. Nothing here depends
// on the stream type: with JOINME_SEPARATE_COMPILATION it is compiled once, in src.hpp.

#include <joinme/api/any_client.hpp>
#include <joinme/api/client_config.hpp>
#include <joinme/api/endpoints.hpp>
#include <joinme/detail/async_run.hpp>
#include <joinme/detail/call_queue.hpp>
#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>
#include <joinme/http/connection_pool.hpp>
#include <joinme/oauth/token_source.hpp>
#include <joinme/secret.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace joinme::api::detail {

// One API request before authorization, from an endpoint's description: method, path and
// query below the base URL, JSON body, and how to read a 2xx body into the result (none for
// an endpoint without one).
struct api_call {
    boost::beast::http::verb method{};
    std::string target; // "/v1/meetings?endDate=..."
    std::string body;   // JSON text, or empty
    error_code (*parse)(const http::response& res, void* out, diagnostics& diag) = nullptr;
};

// The state a client and its operations share.
class client_impl {
public:
    JOINME_DECL client_impl(std::shared_ptr<http::connection_pool> pool, client_config cfg,
                            bool owns_pool);

    boost::asio::any_io_executor get_executor() const noexcept { return pool_->get_executor(); }

    // Sends `call` with the current token; on a rejected token, one forced refresh and one
    // replay. Reads a 2xx body with `call.parse` into `out`, or returns the error with `diag`
    // filled. The whole call ends by `deadline`.
    JOINME_DECL boost::asio::awaitable<error_code>
    send(api_call call, diagnostics& diag, void* out,
         std::chrono::steady_clock::time_point deadline);

    // The deadline of a call that starts now: `timeout`, or `cfg.call_timeout` for
    // `no_timeout`; `time_point::max()` when that is zero.
    static constexpr std::chrono::milliseconds no_timeout = std::chrono::milliseconds::min();
    JOINME_DECL std::chrono::steady_clock::time_point
    deadline_of(std::chrono::milliseconds timeout) const;

    // Opens up to `connections` connections to the API's origin.
    JOINME_DECL boost::asio::awaitable<error_code> warm_up(std::size_t connections,
                                                           diagnostics& diag);

    // Asks the authorization server to expire the current access token; with `locally`, the
    // token source then treats it as expired.
    JOINME_DECL boost::asio::awaitable<error_code> expire(bool locally, diagnostics& diag,
                                                          std::string& message);

    client_config cfg;
    std::shared_ptr<http::connection_pool> pool_;
    oauth::token_source source;
    // API calls in the pool at once are at most eight per connection it may open to an
    // origin; the others wait for their turn here, each in a small node, rather than in the
    // pool's line with the coroutines of the call, its request and its connection wait.
    joinme::detail::call_queue calls;
    client_stats stats;
    bool owns_pool;

private:
    // `base_error_`, with its message in `diag`, when api_base_url is unusable.
    JOINME_DECL error_code check_base(diagnostics& diag) const;

    origin api_origin_;     // of api_base_url
    std::string base_path_; // api_base_url's path without a trailing '/'
    error_code base_error_; // api_base_url is unusable
    std::string base_error_message_;
};

} // namespace joinme::api::detail

#endif
