// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_SOURCE_HPP
#define JOINME_OAUTH_TOKEN_SOURCE_HPP

/// @file
/// `token_source`: keeps a user's current token, hands it out, refreshes it
/// ahead of expiry with at most one refresh request at a time, and saves every new token to a
/// `token_store` before anybody uses it.

#include <joinme/detail/async_run.hpp>
#include <joinme/error.hpp>
#include <joinme/http/exchange.hpp>
#include <joinme/http/connection_pool.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/oauth/token_store.hpp>
#include <joinme/secret.hpp>
#include <joinme/transport.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace joinme::oauth {

/// Settings of a token source.
struct token_source_options {
    /// Refresh this long before the token expires; cut to half the token's lifetime, so a
    /// short-lived token is not refreshed as soon as it arrives.
    std::chrono::seconds refresh_margin{60};

    /// The local clock; the pool's (`http::pool_options::clock`, the system clock unless set)
    /// when empty.
    clock_function clock;

    /// Measure expiry against the server's clock: the offset between the token endpoint's
    /// `Date` header and the local clock at arrival is remembered and added to the local
    /// clock. Tokens (and the store) then hold server times. From the first refresh on, this
    /// offset also cancels whatever skew an injected local clock has against the server: a
    /// test that wants its own clock to count against a server that sends `Date` turns this
    /// off.
    bool use_server_date = true;

    /// Where tokens are saved (and, with several processes, shared); none when null. Must
    /// outlive the token source's operations.
    std::shared_ptr<token_store> store;

    /// The store's key for this source's tokens.
    std::string user;

    /// Bound on one refresh request (connect, retries, exchange). The store's lease is held
    /// no longer than this plus the store's own local work.
    std::chrono::milliseconds refresh_timeout{60'000};
};

/// Counters for tests and monitoring.
struct token_source_stats {
    std::size_t refresh_requests = 0; ///< Refresh requests sent to the token endpoint.
    std::size_t adopted = 0;          ///< Newer tokens taken from the store.
    std::size_t saves = 0;            ///< Successful saves to the store.
};

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
        wake(*st_, aborted());
    }

    /// The pool's executor, on which every operation runs.
    boost::asio::any_io_executor get_executor() const { return st_->ex; }

    /// Replaces the current token by `t` (from a code exchange or an implicit redirect). It is
    /// saved to the store, unconditionally, before it is first handed out.
    void set_token(oauth::token t) {
        st_->current = std::move(t);
        st_->saved = !st_->opts.store;
        st_->unconditional_save = true;
    }

    /// Treats the current token as expired from now on, if its access token is `access`: the
    /// next operation refreshes it (or, without a refresh token, fails with
    /// `errc::reauthorization_required`). The store is not told.
    void mark_expired(const joinme::secret& access) {
        if (st_->current && st_->current->access_token == access)
            st_->current->expires_at =
                std::chrono::floor<std::chrono::seconds>(st_->server_now());
    }

    /// The current token, if any (it may be due for refresh, or not yet saved).
    const std::optional<oauth::token>& current_token() const noexcept { return st_->current; }

    /// The current token when `async_get_token` would hand it out at once without starting a
    /// refresh (saved, not expired, not due for refresh); null otherwise. Valid until the source is
    /// next used.
    const oauth::token* usable_token() const { return st_->usable() ? &*st_->current : nullptr; }

    /// The server's clock minus the local one, as last seen in a `Date` header.
    std::chrono::system_clock::duration clock_offset() const noexcept { return st_->offset; }

    /// The local clock corrected by `clock_offset()`: what expiry is measured against.
    time_point server_now() const { return st_->server_now(); }

    /// Counters.
    const token_source_stats& stats() const noexcept { return st_->stats; }

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

private:
    template <class T>
    using awaitable = boost::asio::awaitable<T>;
    struct state;

    template <class Token>
    auto get(diagnostics* diag, Token&& token, std::optional<joinme::secret> rejected) {
        return joinme::detail::async_op<oauth::token>(
            st_->ex, diag, std::forward<Token>(token),
            [st = st_, rejected = std::move(rejected)](diagnostics* d) mutable {
                return run_get(std::move(st), d, std::move(rejected));
            });
    }

    using result = std::tuple<error_code, oauth::token>;

    struct outcome {
        error_code ec;
        diagnostics diag;
        oauth::token value;
        bool considered_force = false;
    };

    // Lives in the frame of an operation waiting for the flight.
    // It joins the waiters when made and leaves them when destroyed, by any path.
    struct waiter {
        explicit waiter(state& s)
            : st(s)
            , timer(s.ex, std::chrono::steady_clock::time_point::max()) {
            st.waiters.push_back(this);
        }
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        // A frame can be destroyed without being woken (its io_context destroyed first): the
        // source must not wake it later.
        ~waiter() { std::erase(st.waiters, this); }
        state& st;
        boost::asio::steady_timer timer;
        bool woken = false;
        outcome out;
    };

    struct state {
        state(pool_type& p, config c, token_source_options o)
            : pool(&p)
            , ex(p.get_executor())
            , cfg(std::move(c))
            , opts(std::move(o))
            , clock(opts.clock ? opts.clock : p.options().clock) {}

        // Null once the source is destroyed: the pool may be gone. A flight checks it after
        // suspending and before using the pool.
        pool_type* pool;
        boost::asio::any_io_executor ex;
        config cfg;
        token_source_options opts;
        clock_function clock; // opts.clock, or the pool's
        std::optional<oauth::token> current;
        bool saved = true;               // current is in the store (or there is no store)
        bool unconditional_save = false; // current came from set_token
        bool loaded = false;             // the store was read at least once
        std::uint64_t version = 0;       // store version of current
        std::chrono::system_clock::duration offset{};
        std::optional<joinme::secret> force; // refresh even if not due, if current is this
        std::optional<joinme::secret> rejected_refresh; // refused with invalid_grant: not resent
        bool flying = false;
        std::vector<waiter*> waiters;
        token_source_stats stats;

        time_point local_now() const { return joinme::detail::now(clock); }
        time_point server_now() const { return local_now() + offset; }

        bool forced(const oauth::token& t) const { return force && t.access_token == *force; }

        // Is `t`'s refresh token one the server has rejected?
        bool dead(const oauth::token& t) const {
            return rejected_refresh && t.refreshable() && t.refresh_token == *rejected_refresh;
        }

        bool needs_refresh(const oauth::token& t) const {
            return forced(t) || t.refresh_due(opts.refresh_margin, server_now());
        }

        // Can be handed out now, without any I/O?
        bool usable() const {
            if (!current || !saved)
                return false;
            if (current->expired(server_now()))
                return false;
            return !current->refreshable() ||
                   !current->refresh_due(opts.refresh_margin, server_now());
        }
    };

    static outcome fail(error_code ec, std::string_view why) {
        outcome o;
        o.ec = ec;
        o.diag.client_message = std::string(why);
        return o;
    }

    // `thrown`: the message of the exception the store threw instead of reporting `ec`.
    static outcome store_failure(std::string_view what, const error_code& ec,
                                 const std::string& thrown = {}) {
        auto o = fail(errc::token_store_failed, what);
        if (thrown.empty())
            o.diag.client_message += ": " + ec.message();
        else
            o.diag.client_message += ": the token store threw an exception: " + thrown;
        return o;
    }

    // An exception the flight does not expect, as its callers' error: they must not wait
    // forever for a flight that ended.
    static outcome unexpected(std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const boost::system::system_error& x) {
            return fail(x.code(), "");
        } catch (const std::bad_alloc&) {
            return fail(
                boost::system::errc::make_error_code(boost::system::errc::not_enough_memory),
                "the refresh ran out of memory");
        } catch (const std::exception& x) {
            return fail(
                boost::system::errc::make_error_code(boost::system::errc::state_not_recoverable),
                std::string("the refresh failed with an exception: ") + x.what());
        } catch (...) {
            return fail(
                boost::system::errc::make_error_code(boost::system::errc::state_not_recoverable),
                "the refresh failed with an exception");
        }
    }

    static outcome rejected() {
        return fail(errc::reauthorization_required,
                    "the refresh token was rejected (invalid_grant): the user must authorize the "
                    "application again");
    }

    static outcome aborted() {
        return fail(boost::asio::error::operation_aborted, "the token source was destroyed");
    }

    static outcome success(const oauth::token& t) {
        outcome o;
        o.value = t;
        return o;
    }

    static auto get_body(std::shared_ptr<state> st, std::optional<joinme::secret> rejected) {
        return [st = std::move(st), rejected = std::move(rejected)](
                   diagnostics& diag, oauth::token& out) -> awaitable<error_code> {
            if (rejected) {
                // A token other than the rejected one is already there: use it.
                if (st->current && st->saved && !(st->current->access_token == *rejected) &&
                    !st->current->expired(st->server_now())) {
                    out = *st->current;
                    co_return error_code{};
                }
                st->force = *rejected;
            } else if (st->usable()) {
                out = *st->current;
                co_return error_code{};
            } else if (st->current && st->saved && !st->current->expired(st->server_now())) {
                // Due for refresh, still valid: refreshed behind the caller's back.
                take_off(st);
                out = *st->current;
                co_return error_code{};
            }
            auto flight = co_await join(st);
            if (flight.ec)
                diag = std::move(flight.diag);
            else
                out = std::move(flight.value);
            co_return flight.ec;
        };
    }

    static joinme::detail::op_awaitable<oauth::token>
    run_get(std::shared_ptr<state> st, diagnostics* diag, std::optional<joinme::secret> rejected) {
        auto ex = st->ex;
        return joinme::detail::run_op<oauth::token>(get_body(std::move(st), std::move(rejected)),
                                                    std::move(ex), diag);
    }

    // Waits for the flight (starting it if none), or for the caller's cancellation.
    static awaitable<outcome> join(std::shared_ptr<state> st) {
        if (!st->pool)
            co_return aborted(); // started just before the source was destroyed
        waiter w(*st);
        take_off(st);
        // co_spawn may run the flight inline up to its first suspension; a flight that needs
        // no I/O has then already woken this waiter.
        if (!w.woken)
            (void)co_await w.timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (!w.woken) {
            // Cancelled by this caller: leave (`w` leaves the list); the flight goes on for the
            // others.
            co_return fail(boost::asio::error::operation_aborted, "");
        }
        co_return std::move(w.out);
    }

    // Starts the flight, unless one is in the air.
    static void take_off(const std::shared_ptr<state>& st) {
        if (st->flying)
            return;
        st->flying = true;
        boost::asio::co_spawn(st->ex, fly(st), boost::asio::detached);
    }

    // The single flight: rounds until a forced refresh asked for meanwhile is honoured, then
    // every waiter gets the result.
    static awaitable<void> fly(std::shared_ptr<state> st) {
        outcome out;
        for (int i = 0; i < 2; ++i) {
            try {
                out = co_await round(st);
            } catch (...) {
                out = unexpected(std::current_exception());
            }
            if (out.ec || out.considered_force || !st->forced(out.value))
                break;
        }
        st->flying = false;
        st->force.reset();
        wake(*st, out);
    }

    // Completes every waiter with `out`.
    static void wake(state& st, const outcome& out) {
        auto waiters = std::move(st.waiters);
        st.waiters.clear();
        for (waiter* w : waiters) {
            w->out = out;
            w->woken = true;
            w->timer.cancel();
        }
    }

    // Awaits the store operation that `start(handler)` initiates. The store is the
    // application's code: an exception it throws is returned as `errc::token_store_failed`,
    // its message in `thrown`. (Awaited with `use_awaitable`, an exception thrown by the
    // initiation would not reach this coroutine but leave `io_context::run`.)
    template <class... Ts, class Start>
    static awaitable<std::tuple<error_code, Ts...>> call_store(const state& st, Start start,
                                                               std::string& thrown) {
        struct call {
            explicit call(const boost::asio::any_io_executor& ex)
                : timer(ex, std::chrono::steady_clock::time_point::max()) {}
            boost::asio::steady_timer timer;
            std::optional<std::tuple<error_code, Ts...>> result;
        };
        auto c = std::make_shared<call>(st.ex);
        try {
            start(boost::asio::bind_executor(st.ex, [c](error_code ec, Ts... values) {
                c->result.emplace(ec, std::move(values)...);
                c->timer.cancel();
            }));
        } catch (const std::exception& e) {
            thrown = e.what();
            if (thrown.empty())
                thrown = "(no message)";
        } catch (...) {
            thrown = "(not a std::exception)";
        }
        if (thrown.empty() && !c->result)
            (void)co_await c->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (!c->result) {
            std::tuple<error_code, Ts...> failed{};
            std::get<0>(failed) = errc::token_store_failed;
            co_return failed;
        }
        co_return std::move(*c->result);
    }

    static awaitable<outcome> save_current(std::shared_ptr<state> st) {
        auto expected = st->unconditional_save ? any_version : st->version;
        std::string thrown;
        auto [ec, v] = co_await call_store<std::uint64_t>(
            *st,
            [&](auto h) {
                st->opts.store->async_save(st->opts.user, *st->current, expected, std::move(h));
            },
            thrown);
        if (ec)
            co_return store_failure("saving the token failed", ec, thrown);
        st->version = v;
        st->saved = true;
        st->unconditional_save = false;
        ++st->stats.saves;
        co_return success(*st->current);
    }

    // Reads the store; adopts a token newer than ours. Fails only on a store failure.
    static awaitable<outcome> reload(std::shared_ptr<state> st) {
        std::string thrown;
        auto [ec, stored] = co_await call_store<std::optional<stored_token>>(
            *st, [&](auto h) { st->opts.store->async_load(st->opts.user, std::move(h)); }, thrown);
        if (ec)
            co_return store_failure("reading the token store failed", ec, thrown);
        st->loaded = true;
        if (stored && (!st->current || stored->version != st->version) &&
            (st->saved || !st->current)) {
            st->current = std::move(stored->value);
            st->version = stored->version;
            st->saved = true;
            st->unconditional_save = false;
            ++st->stats.adopted;
        }
        co_return outcome{};
    }

    // The refresh request proper, bounded by refresh_timeout; updates the clock offset.
    static awaitable<error_code> request(std::shared_ptr<state> st, const token_request& tr,
                                         detail::endpoint_reply& reply) {
        // Checked again here, where the pool is used: this coroutine may start later.
        if (!st->pool) {
            reply.ec = boost::asio::error::operation_aborted;
            co_return reply.ec;
        }
        reply = co_await detail::post(*st->pool, tr, st->clock);
        co_return reply.ec;
    }

    static awaitable<outcome> refresh(std::shared_ptr<state> st) {
        if (!st->pool)
            co_return aborted();
        error_code built;
        auto previous = *st->current;
        auto tr = make_refresh_request(st->cfg, previous.refresh_token, built);
        if (built)
            co_return fail(built, "the refresh request could not be built");
        ++st->stats.refresh_requests;
        detail::endpoint_reply reply;
        auto op = request(st, tr, reply);
        auto noop = [] {};
        auto ec =
            co_await http::detail::with_deadline(std::move(op), st->opts.refresh_timeout, noop);
        if (ec)
            co_return fail(ec, "");
        if (st->opts.use_server_date && reply.server_date)
            st->offset = *reply.server_date - reply.received;
        outcome out;
        auto stamp = reply.received + st->offset;
        out.value =
            detail::finish_token(reply, stamp, &previous, previous.scopes, out.ec, out.diag);
        co_return out;
    }

    // Decides, refreshes, saves; with a store, under its lease.
    static awaitable<outcome> round(std::shared_ptr<state> st) {
        if (!st->pool)
            co_return aborted();
        auto& store = st->opts.store;
        if (!st->current && store && !st->loaded) {
            auto loaded = co_await reload(st);
            if (loaded.ec)
                co_return loaded;
        }
        if (!st->current)
            co_return fail(errc::reauthorization_required,
                           "no token is held: authorize the application first");
        if (!st->saved)
            co_return co_await save_current(st);
        if (store && st->needs_refresh(*st->current) && st->dead(*st->current)) {
            // Nothing will be sent: only a token another process stored can help, and reading
            // the store needs no lease.
            auto o = co_await reload(st);
            if (o.ec)
                co_return o;
            if (st->dead(*st->current))
                co_return rejected();
        }
        const bool considered = st->forced(*st->current);
        if (!st->needs_refresh(*st->current)) {
            auto o = success(*st->current);
            o.considered_force = considered;
            co_return o;
        }
        if (!store) {
            auto o = co_await refresh_unlocked(st);
            o.considered_force = considered;
            co_return o;
        }
        std::string thrown;
        // (Not a structured binding: clang 14 cannot capture one in the unlock's lambda.)
        auto locked = co_await call_store<store_lease>(
            *st,
            [&](auto h) {
                store->async_lock(st->opts.user, st->opts.refresh_timeout, std::move(h));
            },
            thrown);
        if (auto lec = std::get<0>(locked))
            co_return store_failure("locking the token store failed", lec, thrown);
        const store_lease lease = std::get<1>(locked);
        // Whatever happens under the lease, it is released.
        outcome o;
        try {
            o = co_await under_lease(st);
        } catch (...) {
            o = unexpected(std::current_exception());
        }
        auto [uec] = co_await call_store<>(
            *st, [&](auto h) { store->async_unlock(st->opts.user, lease, std::move(h)); }, thrown);
        (void)uec; // a lost lease changes nothing for this result
        o.considered_force = considered;
        co_return o;
    }

    // Re-reads the store, and refreshes unless another process did.
    static awaitable<outcome> under_lease(std::shared_ptr<state> st) {
        if (!st->pool)
            co_return aborted(); // destroyed while waiting for the lease
        auto o = co_await reload(st);
        if (o.ec)
            co_return o;
        if (!st->needs_refresh(*st->current))
            co_return success(*st->current); // another process refreshed meanwhile
        o = co_await refresh_unlocked(st);
        co_return o;
    }

    // Refreshes `current` (the lease, if any, is held by the caller) and saves the result.
    static awaitable<outcome> refresh_unlocked(std::shared_ptr<state> st) {
        if (!st->current->refreshable()) {
            if (st->current->expired(st->server_now()) || st->forced(*st->current))
                co_return fail(errc::reauthorization_required,
                               "the token has expired and has no refresh token");
            co_return success(*st->current);
        }
        if (st->dead(*st->current))
            co_return rejected();
        auto used = st->current->refresh_token;
        auto o = co_await refresh(st);
        if (o.ec == oauth_errc::invalid_grant) {
            st->rejected_refresh = used;
            if (st->opts.store) {
                // Another process may have rotated the refresh token: take what it stored.
                auto reloaded = co_await reload(st);
                if (!reloaded.ec && !(st->current->refresh_token == used) &&
                    !st->current->expired(st->server_now()))
                    co_return success(*st->current);
            }
            co_return o;
        }
        if (o.ec)
            co_return o;
        st->current = std::move(o.value);
        st->saved = !st->opts.store;
        st->unconditional_save = false;
        if (st->opts.store)
            co_return co_await save_current(st);
        co_return success(*st->current);
    }

    std::shared_ptr<state> st_;
};

} // namespace joinme::oauth

#endif
