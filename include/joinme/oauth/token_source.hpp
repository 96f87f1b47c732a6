// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_SOURCE_HPP
#define JOINME_OAUTH_TOKEN_SOURCE_HPP

/// @file
/// `token_source`: keeps a user's current token, hands it out, refreshes it
/// ahead of expiry with at most one refresh request at a time, and saves every new token to a
/// `token_store` before anybody uses it.

#include <joinme/detail/async_run.hpp>
#include <joinme/detail/config.hpp>
#include <joinme/error.hpp>
#include <joinme/http/connection_pool.hpp>
#include <joinme/http/exchange.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/oauth/token_source_options.hpp>
#include <joinme/oauth/token_store.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace joinme::oauth {

namespace detail {

// What a refresh ("flight") ends with, for every operation waiting on it.
struct refresh_outcome {
    error_code ec;
    diagnostics diag;
    oauth::token value;

    static refresh_outcome failure(error_code ec, std::string_view why) {
        refresh_outcome o;
        o.ec = ec;
        o.diag.client_message = std::string(why);
        return o;
    }
    static refresh_outcome aborted() {
        return failure(boost::asio::error::operation_aborted, "the token source was destroyed");
    }
    static refresh_outcome success(const oauth::token& t) { return {{}, {}, t}; }
    static refresh_outcome rejected() {
        return failure(errc::reauthorization_required,
                       "the refresh token was rejected (invalid_grant): the user must authorize "
                       "the application again");
    }
};

// A token source's state between its I/O, and the decisions made on it without any.
struct token_state {
    token_state(config c, const token_source_options& o, clock_function local_clock)
        : cfg(std::move(c))
        , margin(o.refresh_margin)
        , use_server_date(o.use_server_date)
        , has_store(o.store != nullptr)
        , clock(std::move(local_clock)) {}

    config cfg; // client registration, for the refresh request
    std::chrono::milliseconds margin;
    bool use_server_date;
    bool has_store;
    clock_function clock;
    std::chrono::system_clock::duration offset{}; // the server's clock minus the local one
    std::optional<oauth::token> current;
    bool saved = true;                   // current is in the store (or there is no store)
    bool unconditional_save = false;     // current came from set_token
    bool loaded = false;                 // the store was read at least once
    std::uint64_t version = 0;           // store version of current
    std::optional<joinme::secret> force; // refresh even if not due, if current is this
    std::optional<joinme::secret> rejected_refresh; // refused with invalid_grant: never resent
    bool closed = false;                            // the source is destroyed: no new request
    token_source_stats stats;

    time_point server_now() const { return joinme::detail::now(clock) + offset; }
    bool forced(const oauth::token& t) const { return force && t.access_token == *force; }
    // Is `t`'s refresh token one the server has rejected?
    bool dead(const oauth::token& t) const {
        return rejected_refresh && t.refreshable() && t.refresh_token == *rejected_refresh;
    }
    bool needs_refresh(const oauth::token& t) const {
        return forced(t) || t.refresh_due(margin, server_now());
    }
    // Held, saved, and not expired: can be handed out.
    bool valid() const { return current && saved && !current->expired(server_now()); }
    // Can be handed out now, without starting a refresh?
    bool usable() const {
        return valid() && (!current->refreshable() || !current->refresh_due(margin, server_now()));
    }

    // What an operation does before any I/O: `rejected` is the access token the API refused
    // (async_force_refresh), whose refresh the flight is then asked for.
    enum class serve { now, now_and_refresh, wait };
    JOINME_DECL serve ask(const std::optional<joinme::secret>& rejected);

    // Takes what the store holds, if newer than `current`; notes that the store was read.
    JOINME_DECL void adopt(std::optional<stored_token> stored);
};

// What the machine asks its driver to do next.
enum class refresh_action {
    load,    // read the store (async_load)
    lock,    // take the store's lease (async_lock)
    refresh, // send `request()` to the token endpoint, within the refresh timeout
    save,    // save `to_save()` with `expected_version()` (async_save)
    unlock,  // release `lease()` (async_unlock)
    done,    // `outcome()` is the flight's result for every waiter
};

// The result of the last action, fed back to the machine.
struct refresh_input {
    error_code ec;      // the action failed (for the store: with this error)
    std::string thrown; // the store threw instead: its message (`ec` is token_store_failed)
    std::optional<stored_token> stored; // load
    store_lease lease;                  // lock
    std::uint64_t version = 0;          // save: the new version
    endpoint_reply reply;               // refresh: the token endpoint's answer
};

// One flight, sans I/O: the load, lock, refresh, save, unlock steps of a refresh, deciding on
// a `token_state`. Rounds until a forced refresh asked for meanwhile is honoured (at most
// two); the lease, once taken, is always released before `done`.
class refresh_fsm {
public:
    explicit refresh_fsm(token_state& s) noexcept : s_(s) {}

    // Feeds the last action's result (nothing for the first call); returns the next action.
    JOINME_DECL refresh_action resume(refresh_input in);

    // The last action threw `e` (not a store's exception: `call_store` reports those): the
    // flight fails with it, after releasing the lease.
    JOINME_DECL refresh_action fail(std::exception_ptr e);

    const token_request& request() const noexcept { return request_; }
    const oauth::token& to_save() const noexcept { return *s_.current; }
    std::uint64_t expected_version() const noexcept {
        return s_.unconditional_save ? any_version : s_.version;
    }
    store_lease lease() const noexcept { return lease_; }
    const refresh_outcome& outcome() const noexcept { return out_; }

private:
    JOINME_DECL refresh_action step(refresh_input& in);
    JOINME_DECL refresh_action finish();
    JOINME_DECL bool loaded(refresh_input& in);
    JOINME_DECL void saved(const refresh_input& in);
    JOINME_DECL bool may_send();
    JOINME_DECL void replied(const refresh_input& in);
    JOINME_DECL static refresh_outcome store_failure(std::string_view what,
                                                     const refresh_input& in);

    token_state& s_;
    boost::asio::coroutine coro_;
    int round_ = 0;
    bool considered_ = false; // this round decided on the forced token
    bool locked_ = false;     // `lease_` is held
    bool failed_ = false;     // `fail` was called
    store_lease lease_;
    oauth::token previous_; // the token being refreshed
    token_request request_;
    refresh_outcome out_;
};

} // namespace detail

/// Hands out a valid access token for one user, refreshing it when needed.
///
/// - A token that is not due for refresh is handed out without any I/O.
/// - A token due for refresh (`token::refresh_due` with `refresh_margin`, against the
///   server-corrected clock) but not expired is handed out at once as well, while a refresh
///   runs in the background. Only an expired token (or `async_force_refresh`) makes callers
///   wait for the refresh. However many operations ask meanwhile, at most one refresh request
///   is in flight, and all the waiting ones complete with its result: the new token, or the
///   same error and diagnostics. A background refresh that fails is reported to nobody; the
///   next call that finds the token due starts another.
/// - Every new token (refreshed, or given with `set_token`) is saved to the store before it
///   is handed out; if saving fails, callers get `errc::token_store_failed` and the token is
///   kept unsaved in memory: the next call saves it before use, without another refresh.
/// - With a store, a refresh takes the store's lease, then re-reads the store: a token another
///   process stored meanwhile is adopted instead of refreshing. If the refresh still fails
///   with `invalid_grant`, the store is read once more and a token another process obtained
///   is adopted.
/// - A refresh token the server rejects with `invalid_grant` is never sent again. The callers
///   of that refresh get `invalid_grant`; every later operation that needs a refresh completes
///   at once with `errc::reauthorization_required`, without a request, until a token with
///   another refresh token arrives: through `set_token`, or (with a store, which such an
///   operation reads again) stored by another process.
/// - A store is the application's code: an exception it throws is a failure like an error it
///   reports (`errc::token_store_failed`, its `what()` in `client_message`). Any other
///   exception during a refresh (`std::bad_alloc`, ...) fails that refresh for its callers
///   (`boost::system::errc::not_enough_memory`, or `state_not_recoverable` with its message);
///   the store's lease is released either way, and the next call starts a new refresh.
/// - A token without a refresh token (implicit grant) is handed out until it expires, then
///   gives `errc::reauthorization_required`; so does a source without any token.
///
/// Thread safety: not thread-safe. All operations run on the pool's executor; call them from
/// it (use a strand on a multi-threaded io_context).
///
/// Cancellation: a waiting `async_get_token` / `async_force_refresh` supports terminal
/// cancellation; it completes with `operation_aborted` and leaves the shared refresh running
/// for the others.
///
/// Lifetime: the pool must outlive the source object (not its operations); the store is
/// shared. A refresh in flight keeps the source's state and the store alive until it ends, but
/// never uses the pool after the source is destroyed: destroying the source completes its
/// waiting operations at once with `operation_aborted`, and its refresh stops before its next
/// request (one already sent is finished, and its token saved to the store, so that a
/// rotated refresh token is not lost). The pool may then be destroyed.
class token_source {
public:
    /// The pool type refreshes are sent through.
    using pool_type = http::connection_pool;

    /// @param pool  connections to the token endpoint.
    /// @param cfg   client registration and `token_url`.
    /// @param opts  margin, clock, store.
    token_source(pool_type& pool, config cfg, token_source_options opts = {})
        : st_(std::make_shared<state>(pool, std::move(cfg), std::move(opts))) {}

    token_source(const token_source&) = delete;
    token_source& operator=(const token_source&) = delete;

    /// Completes waiting operations with `operation_aborted`; a refresh in flight no longer
    /// uses the pool (see "Lifetime").
    ~token_source() {
        st_->pool = nullptr;
        st_->tokens.closed = true;
        wake(*st_, detail::refresh_outcome::aborted());
    }

    /// The pool's executor, on which every operation runs.
    boost::asio::any_io_executor get_executor() const { return st_->ex; }

    /// Replaces the current token by `t` (from a code exchange or an implicit redirect). It is
    /// saved to the store, unconditionally, before it is first handed out.
    void set_token(oauth::token t) {
        auto& s = st_->tokens;
        s.current = std::move(t);
        s.saved = !s.has_store;
        s.unconditional_save = true;
    }

    /// Treats the current token as expired from now on, if its access token is `access`: the
    /// next operation refreshes it (or, without a refresh token, fails with
    /// `errc::reauthorization_required`). The store is not told.
    void mark_expired(const joinme::secret& access) {
        auto& s = st_->tokens;
        if (s.current && s.current->access_token == access)
            s.current->expires_at = std::chrono::floor<std::chrono::seconds>(s.server_now());
    }

    /// The current token, if any (it may be due for refresh, or not yet saved).
    const std::optional<oauth::token>& current_token() const noexcept {
        return st_->tokens.current;
    }

    /// The current token when `async_get_token` would hand it out at once without starting a
    /// refresh (saved, not expired, not due for refresh); null otherwise. Valid until the source is
    /// next used.
    const oauth::token* usable_token() const {
        return st_->tokens.usable() ? &*st_->tokens.current : nullptr;
    }

    /// The server's clock minus the local one, as last seen in a `Date` header.
    std::chrono::system_clock::duration clock_offset() const noexcept { return st_->tokens.offset; }

    /// The local clock corrected by `clock_offset()`: what expiry is measured against.
    time_point server_now() const { return st_->tokens.server_now(); }

    /// Counters.
    const token_source_stats& stats() const noexcept { return st_->tokens.stats; }

    /// Gets a token that is valid now: at once when the current one is (when it is due for
    /// refresh, the refresh is started, and runs in the background), else after the (shared)
    /// refresh.
    ///
    /// @param diag   cleared at start; on failure what the token endpoint said (or, for a
    ///               store failure, the store's message in `client_message`).
    /// @param token  completion token, signature `void(error_code, oauth::token)`.
    ///
    /// Errors: `errc::reauthorization_required` (no token, an expired one that cannot be
    /// refreshed, or one whose refresh token the server has rejected); `errc::token_store_failed`;
    /// the refresh's errors as `async_refresh` reports them (`oauth_errc::invalid_grant` for a
    /// revoked or rotated-away refresh token, ...); `errc::timeout` when the refresh exceeds
    /// `refresh_timeout`; `operation_aborted`.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_token(diagnostics& diag, Token&& token = {}) {
        return get(&diag, std::forward<Token>(token), std::nullopt);
    }

    /// As above, with diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_get_token(Token&& token = {}) {
        return get(nullptr, std::forward<Token>(token), std::nullopt);
    }

    /// Gets a token other than `rejected`, the access token the API just refused (a 401):
    /// if the current token already differs (another caller refreshed it), that one at once;
    /// otherwise a refresh, joined with one already in flight.
    ///
    /// Completion, errors and cancellation as `async_get_token`; a token without a refresh
    /// token gives `errc::reauthorization_required`.
    template <joinme::detail::completion_token Token = default_token>
    auto async_force_refresh(const joinme::secret& rejected, diagnostics& diag,
                             Token&& token = {}) {
        return get(&diag, std::forward<Token>(token), rejected);
    }

    /// As above, with diagnostics of the operation's own.
    template <joinme::detail::completion_token Token = default_token>
    auto async_force_refresh(const joinme::secret& rejected, Token&& token = {}) {
        return get(nullptr, std::forward<Token>(token), rejected);
    }

    /// `async_get_token` (no `rejected`) or `async_force_refresh` as an awaitable, for a
    /// coroutine: the operation with `as_tuple(use_awaitable)`.
    joinme::detail::op_awaitable<oauth::token> co_get(diagnostics* diag,
                                                      std::optional<joinme::secret> rejected) {
        return run_get(st_, diag, std::move(rejected));
    }

    /// What a client needs before a call, for a coroutine on the source's executor: the
    /// access token only (`async_get_token`, or `async_force_refresh` when `rejected` is not
    /// null), written to `access`. `diag` is cleared, and says why on failure. Callers waiting
    /// for a refresh share its result instead of each holding a copy of the token. A caller
    /// still waiting for a refresh at `deadline` (its call's deadline) stops waiting with
    /// `errc::timeout`; the refresh goes on for the others.
    boost::asio::awaitable<error_code>
    co_access_token(const joinme::secret* rejected, diagnostics& diag, joinme::secret& access,
                    std::chrono::steady_clock::time_point deadline =
                        std::chrono::steady_clock::time_point::max()) {
        return run_access(st_, rejected, diag, access, deadline);
    }

private:
    template <class T>
    using awaitable = boost::asio::awaitable<T>;
    using outcome = detail::refresh_outcome;
    struct state;

    template <class Token>
    auto get(diagnostics* diag, Token&& token, std::optional<joinme::secret> rejected) {
        return joinme::detail::async_op<oauth::token>(
            st_->ex, diag, std::forward<Token>(token),
            [st = st_, rejected = std::move(rejected)](diagnostics* d) mutable {
                return run_get(std::move(st), d, std::move(rejected));
            });
    }

    struct waiter;   // a call waiting for the flight
    struct get_body; // of `async_get_token` and `async_force_refresh`

    struct state {
        state(pool_type& p, config c, token_source_options o)
            : pool(&p)
            , ex(p.get_executor())
            , opts(std::move(o))
            , tokens(std::move(c), opts, opts.clock ? opts.clock : p.options().clock) {}

        // Null once the source is destroyed: the pool may be gone. The flight checks it
        // before using the pool.
        pool_type* pool;
        boost::asio::any_io_executor ex;
        token_source_options opts;
        detail::token_state tokens;
        bool flying = false;
        std::vector<waiter*> waiters;
        // Until when a token the store failed to save is saved again in the background.
        std::optional<std::chrono::steady_clock::time_point> resave_until;
    };

    // The engine, in impl/token_source.ipp: the calls (`run_get`, `run_access`), the single
    // flight that performs what `detail::refresh_fsm` asks for (`take_off`, `fly`, `perform`,
    // `request`, `call_store`), and the waiters' wake-up (`wake`).
    JOINME_DECL static awaitable<error_code>
    run_access(std::shared_ptr<state> st, const joinme::secret* rejected, diagnostics& diag,
               joinme::secret& access, std::chrono::steady_clock::time_point deadline);
    JOINME_DECL static joinme::detail::op_awaitable<oauth::token>
    run_get(std::shared_ptr<state> st, diagnostics* diag, std::optional<joinme::secret> rejected);
    JOINME_DECL static void take_off(const std::shared_ptr<state>& st);
    JOINME_DECL static awaitable<void> fly(std::shared_ptr<state> st);
    JOINME_DECL static awaitable<void> save_again(std::shared_ptr<state> st);
    JOINME_DECL static awaitable<void> perform(state& st, const detail::refresh_fsm& fsm,
                                               detail::refresh_action action,
                                               detail::refresh_input& in);
    JOINME_DECL static awaitable<error_code> request(state& st, const token_request& tr,
                                                     detail::endpoint_reply& reply);
    JOINME_DECL static void wake(state& st, const outcome& out);
    template <class Start, class... Ts>
    static awaitable<void> call_store(const state& st, detail::refresh_input& in, Start start,
                                      Ts&... out);

    std::shared_ptr<state> st_;
};

} // namespace joinme::oauth

#if defined(JOINME_HEADER_ONLY)
#include <joinme/oauth/impl/token_source.ipp>
#endif

#endif
