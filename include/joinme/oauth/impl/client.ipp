// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_IMPL_CLIENT_IPP
#define JOINME_OAUTH_IMPL_CLIENT_IPP

#include <joinme/oauth/client.hpp>

namespace joinme::oauth::detail {

JOINME_DECL awaitable<endpoint_reply> post(http::connection_pool& pool, const token_request& tr,
                                           const clock_function& clock) {
    endpoint_reply out;
    auto url = joinme::detail::parse_absolute(tr.url);
    auto req = to_http_request(tr);
    origin o;
    if (url)
        o = http::address(req, http::beast_http::verb::post, *url, out.ec);
    if (!url || out.ec) {
        out.ec = errc::invalid_url;
        co_return out;
    }
    out.secrets = sent_secrets(tr);
    diagnostics d;
    // A token request that got no byte of answer on a reused connection is sent once more on a
    // fresh one, although a POST: most often the server closed the connection as the request
    // went out and never saw it. If it did process it, a refresh token it carried is used up
    // whether or not the request is repeated (and a code too), so repeating it never makes
    // things worse; not repeating it would fail a refresh the server never saw.
    const http::request_options send{&d, true};
    out.ec = co_await pool.co_request(std::move(o), std::move(req), out.res, send);
    out.received = joinme::detail::now(clock);
    if (out.ec) {
        out.failure = std::move(d);
        co_return out;
    }
    if (auto d = out.res.find(http::beast_http::field::date); d != out.res.end())
        out.server_date = joinme::detail::parse_http_date(d->value());
    co_return out;
}

// The bodies of the two operations (named: a lambda in a function that is not inline would
// give the coroutine frame a type without linkage).
struct token_body {
    http::connection_pool& pool;
    token_request tr;
    error_code built;
    scope_set requested;
    std::optional<token> previous;

    awaitable<error_code> operator()(diagnostics& diag, token& out) const {
        if (built)
            co_return built;
        auto reply = co_await post(pool, tr, pool.options().clock);
        error_code ec;
        diagnostics d;
        out =
            finish_token(reply, reply.received, previous ? &*previous : nullptr, requested, ec, d);
        if (ec)
            diag = std::move(d);
        co_return ec;
    }
};

struct expire_body {
    http::connection_pool& pool;
    token_request tr;
    error_code built;

    awaitable<error_code> operator()(diagnostics& diag, std::string& message) const {
        if (built)
            co_return built;
        auto reply = co_await post(pool, tr, pool.options().clock);
        error_code ec = reply.ec;
        if (ec) {
            diag = reply.failure;
            co_return ec;
        }
        diagnostics d;
        http::fill_diagnostics(reply.res, d, reply.received);
        message = parse_expire_access_response(reply.res.result_int(), reply.res.body(), ec, d);
        reply.redact(d);
        if (ec)
            diag = std::move(d);
        co_return ec;
    }
};

JOINME_DECL joinme::detail::op_awaitable<token>
run_token(http::connection_pool& pool, token_request tr, error_code built, scope_set requested,
          std::optional<token> previous, diagnostics* diag) {
    return joinme::detail::run_op<token>(
        token_body{pool, std::move(tr), built, std::move(requested), std::move(previous)},
        pool.get_executor(), diag);
}

JOINME_DECL joinme::detail::op_awaitable<std::string>
run_expire(http::connection_pool& pool, token_request tr, error_code built, diagnostics* diag) {
    return joinme::detail::run_op<std::string>(expire_body{pool, std::move(tr), built},
                                               pool.get_executor(), diag);
}

} // namespace joinme::oauth::detail

#endif
