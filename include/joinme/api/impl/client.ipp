// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_IMPL_CLIENT_IPP
#define JOINME_API_IMPL_CLIENT_IPP

#include <joinme/api/check_response.hpp>
#include <joinme/api/detail/client_impl.hpp>
#include <joinme/api/detail/describe.hpp>
#include <joinme/api/parse.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>

#include <boost/asio/deferred.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace joinme::api::detail {

template <class T>
using awaitable = boost::asio::awaitable<T>;

// Calls that go to the pool at once: eight per connection. Up to that many in flight, a call
// waits for a connection in the pool's line, as it would without this limit; the rest wait
// their turn in the client's, where a waiting call holds a few hundred bytes instead of the
// coroutines of its request and connection wait.
inline std::size_t calls_at_once(std::size_t connections) {
    return std::max<std::size_t>(1, std::min(connections, std::size_t(-1) / 8) * 8);
}

JOINME_DECL client_impl::client_impl(std::shared_ptr<http::connection_pool> pool, client_config c,
                                     bool owns)
    : cfg(std::move(c))
    , pool_(std::move(pool))
    , source(*pool_, cfg.oauth, cfg.token_source)
    , calls(pool_->get_executor(), calls_at_once(pool_->options().max_connections_per_origin))
    , owns_pool(owns) {
    // Parsed once: every call goes to this origin, below this path.
    auto parsed = joinme::detail::parse_absolute(cfg.api_base_url);
    if (!parsed) {
        base_error_ = errc::invalid_url;
        base_error_message_ = "api_base_url is not an absolute URL";
        return;
    }
    api_origin_ = origin_of(*parsed, base_error_);
    if (base_error_) {
        base_error_message_ = "api_base_url is not an http or https URL";
        return;
    }
    base_path_ = parsed->encoded_path();
    while (!base_path_.empty() && base_path_.back() == '/')
        base_path_.pop_back();
    // The endpoints that receive the client secret or a token must be in the API's
    // environment: production join.me, or not.
    const bool production_api = cfg.api_base_url == default_api_base_url;
    auto elsewhere = [production_api](std::string_view url, std::string_view production) {
        return (url == production) != production_api;
    };
    if (!cfg.allow_mixed_environments &&
        (elsewhere(cfg.oauth.token_url, oauth::default_token_url) ||
         elsewhere(cfg.oauth.expire_access_url, oauth::default_expire_access_url))) {
        base_error_ = errc::invalid_url;
        base_error_message_ =
            "api_base_url and the token or expire-access endpoint are in different "
            "environments (one is production join.me): set them together with "
            "client_config::set_base_url, or set allow_mixed_environments";
    }
}

JOINME_DECL error_code client_impl::check_base(diagnostics& diag) const {
    if (base_error_)
        diag.client_message = base_error_message_;
    return base_error_;
}

inline constexpr std::string_view bearer_prefix = "Bearer ";

// "Bearer <access token>", the Authorization header's value: the copy of the token a call
// keeps, made with one allocation.
inline joinme::secret bearer_of(const joinme::secret& token) {
    std::string v;
    v.reserve(bearer_prefix.size() + token.reveal().size());
    v.append(bearer_prefix).append(token.reveal());
    return joinme::secret(std::move(v));
}

// The access token in a value of `bearer_of`.
inline std::string_view token_of(const joinme::secret& bearer) {
    return std::string_view(bearer.reveal()).substr(bearer_prefix.size());
}

inline http::request make_request(const api_call& call, std::string_view base_path,
                                  const joinme::secret& bearer) {
    http::request req;
    req.version(11);
    req.method(call.method);
    std::string target;
    target.reserve(base_path.size() + call.target.size());
    target.append(base_path).append(call.target);
    req.target(target);
    // The header is the only place the token goes; request events carry no header.
    req.set(boost::beast::http::field::authorization, bearer.reveal());
    req.set(boost::beast::http::field::accept, "application/json");
    if (!call.body.empty()) {
        req.set(boost::beast::http::field::content_type, "application/json");
        req.body() = call.body;
    }
    return req;
}

JOINME_DECL std::chrono::steady_clock::time_point
client_impl::deadline_of(std::chrono::milliseconds timeout) const {
    auto t = timeout == no_timeout ? cfg.call_timeout : timeout;
    return t.count() > 0 ? std::chrono::steady_clock::now() + t
                         : std::chrono::steady_clock::time_point::max();
}

JOINME_DECL awaitable<error_code>
client_impl::send(api_call call, diagnostics& diag, void* out,
                  std::chrono::steady_clock::time_point deadline) {
    if (auto ec = check_base(diag))
        co_return ec;
    // One deadline for the whole call, kept by each step it waits for (the client's line of
    // calls, the pool's watchdog, the token source's wait), so it costs no timer of its own.
    http::request_options send{&diag};
    send.deadline = deadline;
    // A token that needs no refresh is taken as is: no I/O, no coroutine.
    joinme::secret bearer;
    if (auto* current = source.usable_token()) {
        bearer = bearer_of(current->access_token);
    } else if (auto ec = co_await source.co_access_token(nullptr, diag, bearer, send.deadline)) {
        co_return ec;
    } else {
        bearer = bearer_of(bearer);
    }

    http::response res;
    // A rejected token is replaced, by a refresh shared with every call that saw it rejected,
    // and the call sent once more; the rejection of a token refreshed for it is final. A
    // replacement that was current already (another call's refresh made it) was not refreshed
    // for this call: if the API rejects it too (expired meanwhile), the call asks again, now
    // for a refresh. Two replays at most.
    int replays = 0;
    bool refreshed = false;
    for (;;) {
        auto ec = co_await pool_->co_request(api_origin_, make_request(call, base_path_, bearer),
                                             res, send);
        if (ec)
            co_return ec;
        ec = check_response(res, diag);
        if (!ec)
            co_return call.parse ? call.parse(res, out, diag) : ec;
        res = http::response{};
        diag.redact(token_of(bearer)); // an API may quote the request it rejects
        if (ec == errc::invalid_token)
            ++stats.rejected_tokens;
        if (ec == errc::invalid_token && !refreshed && replays < 2) {
            // (The token source clears `diag` of the rejection as it starts.)
            joinme::secret rejected(token_of(bearer));
            auto* current = source.usable_token();
            refreshed = !current || current->access_token == rejected;
            if (auto fec = co_await source.co_access_token(&rejected, diag, bearer, send.deadline))
                co_return fec;
            bearer = bearer_of(bearer);
            ++stats.replays;
            ++replays;
            continue;
        }
        if (ec == errc::stale_token)
            diag.client_message = "join.me asks the user to renew the authorization: send the "
                                  "browser to the client's renew_authorization_url()";
        co_return ec;
    }
}

JOINME_DECL awaitable<error_code> client_impl::warm_up(std::size_t connections, diagnostics& diag) {
    if (auto ec = check_base(diag))
        co_return ec;
    co_return co_await pool_->co_warm_up(api_origin_, connections, &diag);
}

JOINME_DECL awaitable<error_code> client_impl::expire(bool locally, diagnostics& diag,
                                                      std::string& message) {
    const auto& current = source.current_token();
    if (!current) {
        diag.client_message = "no token is held: authorize the application first";
        co_return errc::reauthorization_required;
    }
    const auto access = current->access_token;
    error_code built;
    auto tr = oauth::make_expire_access_request(cfg.oauth, access, built);
    auto [ec, said] = co_await oauth::detail::run_expire(*pool_, std::move(tr), built, &diag);
    if (ec)
        co_return ec;
    message = std::move(said);
    if (locally)
        source.mark_expired(access);
    co_return ec;
}

// The expire operation's body (named: a lambda in a function that is not inline would give
// the coroutine frame a type without linkage).
struct expire_body {
    std::shared_ptr<client_impl> impl;
    bool locally;

    awaitable<error_code> operator()(diagnostics& d, std::string& message) const {
        return impl->expire(locally, d, message);
    }
};

JOINME_DECL joinme::detail::op_awaitable<std::string> run_expire(std::shared_ptr<client_impl> impl,
                                                                 bool locally, diagnostics* diag) {
    auto ex = impl->get_executor();
    return joinme::detail::run_op<std::string>(expire_body{std::move(impl), locally}, std::move(ex),
                                               diag);
}

struct warm_up_body {
    std::shared_ptr<client_impl> impl;
    std::size_t connections;
    awaitable<error_code> operator()(diagnostics& d) const { return impl->warm_up(connections, d); }
};

JOINME_DECL joinme::detail::op_awaitable<> run_warm_up(std::shared_ptr<client_impl> impl,
                                                       std::size_t connections, diagnostics* diag) {
    auto ex = impl->get_executor();
    return joinme::detail::run_op<>(warm_up_body{std::move(impl), connections}, std::move(ex),
                                    diag);
}

// The body of endpoint `e`'s operation: its turn among the client's calls (the deadline counts
// from the start of the wait), then `send`. Small, because a call waiting for its turn holds
// it: the request is described once the turn comes. The place goes to the next call when the
// operation's frame goes.
template <class E>
struct call_body {
    std::shared_ptr<client_impl> impl;
    std::chrono::milliseconds timeout;       // client_impl::no_timeout: the client's
    joinme::detail::call_queue::place place; // given up before `impl` goes; with the deadline
    [[no_unique_address]] E e;

    boost::asio::any_io_executor get_executor() const { return impl->get_executor(); }
    bool enter() {
        place.deadline = impl->deadline_of(timeout);
        return impl->calls.try_enter(place);
    }
    auto wait_turn() { return impl->calls.async_enter(place, boost::asio::deferred); }
    awaitable<error_code> operator()(diagnostics& d) const {
        return impl->send(describe(e), d, nullptr, place.deadline);
    }
    template <class Result>
    awaitable<error_code> operator()(diagnostics& d, Result& out) const {
        return impl->send(describe(e), d, &out, place.deadline);
    }
};

template <bool Throws, class E>
typename endpoint_op<Throws, E>::awaitable
run_endpoint(std::shared_ptr<client_impl> impl, E e, diagnostics* diag,
             std::optional<std::chrono::milliseconds> timeout) {
    call_body<E> body{std::move(impl), timeout.value_or(client_impl::no_timeout), {}, std::move(e)};
    if constexpr (std::is_void_v<typename E::result>)
        return joinme::detail::run_body_as<Throws>(std::move(body), diag);
    else
        return joinme::detail::run_body_as<Throws, typename E::result>(std::move(body), diag);
}

} // namespace joinme::api::detail

namespace joinme::api {

JOINME_DECL any_client::any_client(std::shared_ptr<http::connection_pool> pool, client_config cfg)
    : impl_(std::make_shared<detail::client_impl>(std::move(pool), std::move(cfg), false)) {
    if (!impl_->cfg.proxy.empty())
        throw std::invalid_argument("client_config::proxy is set, but a client over a shared pool "
                                    "goes where the pool's context says: configure the proxy in "
                                    "the pool's proxy_context");
}

JOINME_DECL any_client& any_client::operator=(any_client&& other) noexcept {
    if (this != &other) {
        close();
        impl_ = std::move(other.impl_);
    }
    return *this;
}

JOINME_DECL any_client::~any_client() {
    close();
}

JOINME_DECL any_client::executor_type any_client::get_executor() const noexcept {
    return impl_->get_executor();
}

JOINME_DECL const client_config& any_client::config() const noexcept {
    return impl_->cfg;
}

JOINME_DECL http::connection_pool& any_client::pool() noexcept {
    return *impl_->pool_;
}

JOINME_DECL std::shared_ptr<http::connection_pool> any_client::shared_pool() const noexcept {
    return impl_->pool_;
}

JOINME_DECL oauth::token_source& any_client::token_source() noexcept {
    return impl_->source;
}

JOINME_DECL void any_client::set_token(oauth::token t) {
    impl_->source.set_token(std::move(t));
}

JOINME_DECL const client_stats& any_client::stats() const noexcept {
    return impl_->stats;
}

JOINME_DECL joinme::secret any_client::renew_authorization_url(error_code& ec) const {
    const auto& t = impl_->source.current_token();
    if (!t) {
        ec = errc::reauthorization_required;
        return {};
    }
    return oauth::make_renew_authorization_url(impl_->cfg.oauth, t->access_token, ec);
}

JOINME_DECL joinme::secret any_client::renew_authorization_url() const {
    error_code ec;
    auto u = renew_authorization_url(ec);
    throw_on_error(ec);
    return u;
}

JOINME_DECL void any_client::close() {
    if (impl_ && impl_->owns_pool)
        impl_->pool_->close();
}

} // namespace joinme::api

#if !defined(JOINME_HEADER_ONLY)
// What a translation unit that includes only any_client.hpp leaves to this one: the coroutine
// of every endpoint, and the spawning of every result type.
namespace joinme::detail {
template void spawn_op<>(const boost::asio::any_io_executor&, op_awaitable<>, op_handler<>);
#define JOINME_INSTANTIATE_SPAWN(T)                                                                \
    template void spawn_op<T>(const boost::asio::any_io_executor&, op_awaitable<T>, op_handler<T>);
JOINME_INSTANTIATE_SPAWN(api::user)
JOINME_INSTANTIATE_SPAWN(api::start_result)
JOINME_INSTANTIATE_SPAWN(api::meeting)
JOINME_INSTANTIATE_SPAWN(std::vector<api::meeting>)
JOINME_INSTANTIATE_SPAWN(api::presenter)
JOINME_INSTANTIATE_SPAWN(std::vector<api::presenter>)
JOINME_INSTANTIATE_SPAWN(std::string)
#undef JOINME_INSTANTIATE_SPAWN
} // namespace joinme::detail

namespace joinme::api::detail {
#define JOINME_INSTANTIATE_ENDPOINT_AS(Throws, E)                                                  \
    template typename endpoint_op<Throws, endpoints::E>::awaitable                                 \
    run_endpoint<Throws, endpoints::E>(std::shared_ptr<client_impl>, endpoints::E, diagnostics*,   \
                                       std::optional<std::chrono::milliseconds>);
#define JOINME_INSTANTIATE_ENDPOINT(E)                                                             \
    JOINME_INSTANTIATE_ENDPOINT_AS(false, E)                                                       \
    JOINME_INSTANTIATE_ENDPOINT_AS(true, E)
JOINME_INSTANTIATE_ENDPOINT(get_user)
JOINME_INSTANTIATE_ENDPOINT(start_meeting)
JOINME_INSTANTIATE_ENDPOINT(list_meetings)
JOINME_INSTANTIATE_ENDPOINT(get_meeting)
JOINME_INSTANTIATE_ENDPOINT(schedule_meeting)
JOINME_INSTANTIATE_ENDPOINT(update_meeting)
JOINME_INSTANTIATE_ENDPOINT(delete_meeting)
JOINME_INSTANTIATE_ENDPOINT(start_scheduled_meeting)
JOINME_INSTANTIATE_ENDPOINT(get_presenter)
JOINME_INSTANTIATE_ENDPOINT(list_presenters)
JOINME_INSTANTIATE_ENDPOINT(add_presenter)
#undef JOINME_INSTANTIATE_ENDPOINT
#undef JOINME_INSTANTIATE_ENDPOINT_AS
} // namespace joinme::api::detail
#endif

#endif
