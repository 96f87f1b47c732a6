// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_IMPL_TOKEN_SOURCE_IPP
#define JOINME_OAUTH_IMPL_TOKEN_SOURCE_IPP

#include <joinme/oauth/token_source.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>

#include <new>

namespace joinme::oauth::detail {

JOINME_DECL token_state::serve token_state::ask(const std::optional<joinme::secret>& rejected) {
    if (rejected) {
        // A token other than the rejected one is already there: use it.
        if (valid() && !(current->access_token == *rejected))
            return serve::now;
        force = *rejected;
        return serve::wait;
    }
    if (usable())
        return serve::now;
    return valid() ? serve::now_and_refresh : serve::wait;
}

JOINME_DECL void token_state::adopt(std::optional<stored_token> stored) {
    loaded = true;
    // A saved token that is no longer stored was erased (a logout, a store that lost its
    // data): it must not be refreshed, since the user must authorize again.
    if (!stored && current && saved && version != 0) {
        current.reset();
        version = 0;
        return;
    }
    // An unsaved token of ours is newer than anything stored: it is saved, not replaced.
    if (!stored || (current && (stored->version == version || !saved)))
        return;
    current = std::move(stored->value);
    version = stored->version;
    saved = true;
    unconditional_save = false;
    ++stats.adopted;
}

JOINME_DECL refresh_outcome refresh_fsm::store_failure(std::string_view what,
                                                       const refresh_input& in) {
    auto o = refresh_outcome::failure(errc::token_store_failed, what);
    if (in.thrown.empty())
        o.diag.client_message += ": " + in.ec.message();
    else
        o.diag.client_message += ": the token store threw an exception: " + in.thrown;
    return o;
}

// A load's result: false, with `out_` set, when the store failed; else the stored token is
// adopted if newer.
JOINME_DECL bool refresh_fsm::loaded(refresh_input& in) {
    if (in.ec) {
        out_ = store_failure("reading the token store failed", in);
        return false;
    }
    s_.adopt(std::move(in.stored));
    if (!s_.current) {
        out_ = refresh_outcome::failure(errc::reauthorization_required,
                                        "no token is stored for this user: authorize the "
                                        "application first");
        return false;
    }
    return true;
}

JOINME_DECL void refresh_fsm::saved(const refresh_input& in) {
    if (in.ec) {
        out_ = store_failure("saving the token failed", in);
        return;
    }
    s_.version = in.version;
    s_.saved = true;
    s_.unconditional_save = false;
    ++s_.stats.saves;
    out_ = refresh_outcome::success(*s_.current);
}

// Builds the refresh request for `current`, unless its refresh token was rejected or the
// source destroyed; false, with `out_` set, when nothing may be sent.
JOINME_DECL bool refresh_fsm::may_send() {
    if (s_.dead(*s_.current) || s_.closed) {
        out_ = s_.closed ? refresh_outcome::aborted() : refresh_outcome::rejected();
        return false;
    }
    error_code built;
    previous_ = *s_.current;
    request_ = make_refresh_request(s_.cfg, previous_.refresh_token, built);
    if (built) {
        out_ = refresh_outcome::failure(built, "the refresh request could not be built");
        return false;
    }
    ++s_.stats.refresh_requests;
    return true;
}

// The token endpoint's answer as the round's outcome; updates the clock offset from `Date`.
JOINME_DECL void refresh_fsm::replied(const refresh_input& in) {
    out_ = {};
    if (in.ec) {
        out_.ec = in.ec;
        out_.diag = in.reply.failure;
        return;
    }
    const auto& r = in.reply;
    if (s_.use_server_date && r.server_date)
        s_.offset = *r.server_date - r.received;
    out_.value =
        finish_token(r, r.received + s_.offset, &previous_, previous_.scopes, out_.ec, out_.diag);
}

JOINME_DECL refresh_action refresh_fsm::resume(refresh_input in) {
    if (failed_)
        return finish(); // the lease is released
    try {
        return step(in);
    } catch (...) {
        return fail(std::current_exception());
    }
}

// An exception the flight does not expect is its callers' error: they must not wait forever
// for a flight that ended.
JOINME_DECL refresh_action refresh_fsm::fail(std::exception_ptr e) {
    if (!failed_) {
        failed_ = true;
        using boost::system::errc::make_error_code;
        try {
            std::rethrow_exception(e);
        } catch (const boost::system::system_error& x) {
            out_ = refresh_outcome::failure(x.code(), "");
        } catch (const std::bad_alloc&) {
            out_ = refresh_outcome::failure(make_error_code(boost::system::errc::not_enough_memory),
                                            "the refresh ran out of memory");
        } catch (const std::exception& x) {
            out_ = refresh_outcome::failure(
                make_error_code(boost::system::errc::state_not_recoverable),
                std::string("the refresh failed with an exception: ") + x.what());
        } catch (...) {
            out_ = refresh_outcome::failure(
                make_error_code(boost::system::errc::state_not_recoverable),
                "the refresh failed with an exception");
        }
    }
    if (locked_) {
        locked_ = false;
        return refresh_action::unlock;
    }
    return finish();
}

JOINME_DECL refresh_action refresh_fsm::finish() {
    s_.force.reset();
    return refresh_action::done;
}

JOINME_DECL refresh_action refresh_fsm::step(refresh_input& in) {
    auto& s = s_;
    BOOST_ASIO_CORO_REENTER(coro_) {
        for (round_ = 0;; ++round_) {
            considered_ = false;
            do { // one round; `break` ends it with `out_`
                if (!s.current && s.has_store && !s.loaded) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                }
                if (!s.current) {
                    out_ = refresh_outcome::failure(
                        errc::reauthorization_required,
                        "no token is held: authorize the application first");
                    break;
                }
                if (!s.saved) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::save;
                    saved(in);
                    break;
                }
                if (s.has_store && s.needs_refresh(*s.current) && s.dead(*s.current)) {
                    // Nothing will be sent: only a token another process stored can help, and
                    // reading the store needs no lease.
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                    if (s.dead(*s.current)) {
                        out_ = refresh_outcome::rejected();
                        break;
                    }
                }
                considered_ = s.forced(*s.current);
                if (s.has_store && s.needs_refresh(*s.current)) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::lock;
                    if (in.ec) {
                        out_ = store_failure("locking the token store failed", in);
                        break;
                    }
                    lease_ = in.lease;
                    locked_ = true;
                    // Another process may have refreshed meanwhile.
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                }
                if (!s.needs_refresh(*s.current)) {
                    out_ = refresh_outcome::success(*s.current);
                    break;
                }
                if (!s.current->refreshable()) {
                    if (s.current->expired(s.server_now()) || s.forced(*s.current))
                        out_ = refresh_outcome::failure(
                            errc::reauthorization_required,
                            "the token has expired and has no refresh token");
                    else
                        out_ = refresh_outcome::success(*s.current);
                    break;
                }
                if (!may_send())
                    break;
                BOOST_ASIO_CORO_YIELD return refresh_action::refresh;
                replied(in);
                if (out_.ec == oauth_errc::invalid_grant) {
                    s.rejected_refresh = previous_.refresh_token;
                    if (s.has_store) {
                        // Another process may have rotated the refresh token: take what it
                        // stored.
                        BOOST_ASIO_CORO_YIELD return refresh_action::load;
                        if (!in.ec) {
                            s.adopt(std::move(in.stored));
                            if (s.current &&
                                !(s.current->refresh_token == previous_.refresh_token) &&
                                !s.current->expired(s.server_now()))
                                out_ = refresh_outcome::success(*s.current);
                        }
                    }
                    break;
                }
                if (out_.ec)
                    break;
                s.current = std::move(out_.value);
                s.saved = !s.has_store;
                s.unconditional_save = false;
                if (s.has_store) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::save;
                    saved(in);
                    break;
                }
                out_ = refresh_outcome::success(*s.current);
            } while (false);
            if (locked_) { // whatever happened under the lease, it is released
                locked_ = false;
                BOOST_ASIO_CORO_YIELD return refresh_action::unlock;
                // A lost lease changes nothing for the result.
            }
            if (out_.ec || considered_ || round_ == 1 || !s.forced(out_.value))
                break;
        }
    }
    return finish();
}

// What the flight asks of the store: `store_start<Op>{call}(handler)` initiates `Op`, for
// `token_source::call_store`. (Named types rather than lambdas: with separate compilation, the
// coroutine frames that hold them are compiled in a source file.)
enum class store_op { load, lock, save, unlock };

struct store_call {
    token_store* store; // null without a store: then no action asks for it
    const std::string& user;
    std::chrono::milliseconds lease_ttl;
    const refresh_fsm& fsm;
};

template <store_op Op>
struct store_start {
    const store_call& c;

    template <class Handler>
    void operator()(Handler h) const {
        if constexpr (Op == store_op::load)
            c.store->async_load(c.user, std::move(h));
        else if constexpr (Op == store_op::lock)
            c.store->async_lock(c.user, c.lease_ttl, std::move(h));
        else if constexpr (Op == store_op::save)
            c.store->async_save(c.user, c.fsm.to_save(), c.fsm.expected_version(), std::move(h));
        else
            c.store->async_unlock(c.user, c.fsm.lease(), std::move(h));
    }
};

// A refresh out of time needs nothing closed: its connection is the pool's.
struct nothing {
    void operator()() const {}
};

} // namespace joinme::oauth::detail

namespace joinme::oauth {

// Lives in the frame of an operation waiting for the flight (no coroutine of its own: many
// calls may wait at once). It joins the waiters when made and leaves them when destroyed,
// by any path.
struct token_source::waiter {
    explicit waiter(state& s) : st(s), timer(s.ex, std::chrono::steady_clock::time_point::max()) {
        st.waiters.push_back(this);
    }
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    // A frame can be destroyed without being woken (its io_context destroyed first): the
    // source must not wake it later.
    ~waiter() { std::erase(st.waiters, this); }

    // Starts the flight, unless one is in the air: whether the caller must wait for it.
    // co_spawn may run the flight inline up to its first suspension, and a flight that
    // needs no I/O has then already woken this waiter.
    bool start(const std::shared_ptr<state>& s) {
        if (!s->pool) // started just before the source was destroyed
            return false;
        take_off(s);
        return !woken;
    }

    // Waits until woken, `deadline`, or the caller's cancellation.
    auto wait(std::chrono::steady_clock::time_point deadline) {
        timer.expires_at(deadline);
        return timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
    }

    // The flight's outcome, or why the caller stopped waiting (`ec`, the wait's result):
    // the source is gone, out of time, or cancelled. The flight goes on for the others.
    std::shared_ptr<const outcome> result(error_code ec) {
        if (woken)
            return std::move(out);
        if (!st.pool)
            return std::make_shared<const outcome>(outcome::aborted());
        if (ec)
            return std::make_shared<const outcome>(
                outcome::failure(boost::asio::error::operation_aborted, ""));
        return std::make_shared<const outcome>(outcome::failure(
            errc::timeout, "the call's deadline passed while it waited for a token refresh"));
    }

    state& st;
    boost::asio::steady_timer timer;
    bool woken = false;
    std::shared_ptr<const outcome> out; // shared by every waiter of a flight
};

// The body of `async_get_token` and `async_force_refresh`: the token at once, or the
// flight's result.
struct token_source::get_body {
    std::shared_ptr<state> st;
    std::optional<joinme::secret> rejected;

    awaitable<error_code> operator()(diagnostics& diag, oauth::token& out) const {
        using serve = detail::token_state::serve;
        auto how = st->tokens.ask(rejected);
        if (how == serve::now_and_refresh)
            take_off(st); // due for refresh, still valid: refreshed behind the caller's back
        if (how != serve::wait) {
            out = *st->tokens.current;
            co_return error_code{};
        }
        waiter w(*st);
        error_code ec;
        if (w.start(st))
            std::tie(ec) = co_await w.wait(std::chrono::steady_clock::time_point::max());
        auto flight = w.result(ec);
        if (flight->ec)
            diag = flight->diag;
        else
            out = flight->value;
        co_return flight->ec;
    }
};

JOINME_DECL joinme::detail::op_awaitable<oauth::token>
token_source::run_get(std::shared_ptr<state> st, diagnostics* diag,
                      std::optional<joinme::secret> rejected) {
    auto ex = st->ex;
    return joinme::detail::run_op<oauth::token>(get_body{std::move(st), std::move(rejected)},
                                                std::move(ex), diag);
}

// `co_access_token`: as `run_get`, the access token only.
JOINME_DECL boost::asio::awaitable<error_code>
token_source::run_access(std::shared_ptr<state> st, const joinme::secret* rejected,
                         diagnostics& diag, joinme::secret& access,
                         std::chrono::steady_clock::time_point deadline) {
    using serve = detail::token_state::serve;
    diag.clear();
    auto how = st->tokens.ask(rejected ? std::optional(*rejected) : std::nullopt);
    if (how == serve::now_and_refresh)
        take_off(st);
    if (how != serve::wait) {
        access = st->tokens.current->access_token;
        co_return error_code{};
    }
    waiter w(*st);
    error_code ec;
    if (w.start(st))
        std::tie(ec) = co_await w.wait(deadline);
    auto flight = w.result(ec);
    if (flight->ec)
        diag = flight->diag;
    else
        access = flight->value.access_token;
    co_return flight->ec;
}

// Starts the flight, unless one is in the air.
JOINME_DECL void token_source::take_off(const std::shared_ptr<state>& st) {
    if (st->flying)
        return;
    st->flying = true;
    boost::asio::co_spawn(st->ex, fly(st), boost::asio::detached);
}

// The single flight: performs what the machine asks for until it is done, then every
// waiter gets the result. An exception is the machine's to handle (it releases the lease).
JOINME_DECL boost::asio::awaitable<void> token_source::fly(std::shared_ptr<state> st) {
    detail::refresh_fsm fsm(st->tokens);
    auto next = fsm.resume(detail::refresh_input());
    while (next != detail::refresh_action::done) {
        detail::refresh_input in;
        std::exception_ptr thrown;
        try {
            co_await perform(*st, fsm, next, in);
        } catch (...) {
            thrown = std::current_exception();
        }
        next = thrown ? fsm.fail(thrown) : fsm.resume(std::move(in));
    }
    st->flying = false;
    wake(*st, fsm.outcome());
    co_await save_again(st);
}

// A new token the store failed to save is saved again without waiting for a caller, every
// 200 ms for up to `refresh_timeout` (the lease's time to live): until it is saved, the
// processes sharing the store do not see it, and once the lease lapses one of them could
// refresh with the refresh token this one rotated away.
JOINME_DECL boost::asio::awaitable<void> token_source::save_again(std::shared_ptr<state> st) {
    if (st->tokens.saved || !st->tokens.has_store || !st->tokens.current || !st->pool) {
        st->resave_until.reset();
        co_return;
    }
    auto now = std::chrono::steady_clock::now();
    if (!st->resave_until)
        st->resave_until = now + st->opts.refresh_timeout;
    if (now >= *st->resave_until)
        co_return; // the next caller saves it
    boost::asio::steady_timer t(st->ex, std::chrono::milliseconds(200));
    (void)co_await t.async_wait(boost::asio::as_tuple(boost::asio::deferred));
    if (st->pool && !st->flying && !st->tokens.saved)
        take_off(st);
}

// Does `action` (anything but `done`), its result in `in`.
JOINME_DECL boost::asio::awaitable<void> token_source::perform(state& st,
                                                               const detail::refresh_fsm& fsm,
                                                               detail::refresh_action action,
                                                               detail::refresh_input& in) {
    using detail::store_op;
    using detail::store_start;
    const detail::store_call call{st.opts.store.get(), st.opts.user, st.opts.refresh_timeout, fsm};
    switch (action) {
    case detail::refresh_action::load:
        co_await call_store(st, in, store_start<store_op::load>{call}, in.stored);
        break;
    case detail::refresh_action::lock:
        co_await call_store(st, in, store_start<store_op::lock>{call}, in.lease);
        break;
    case detail::refresh_action::save:
        co_await call_store(st, in, store_start<store_op::save>{call}, in.version);
        break;
    case detail::refresh_action::unlock:
        co_await call_store(st, in, store_start<store_op::unlock>{call});
        break;
    case detail::refresh_action::refresh:
        in.ec = co_await http::detail::with_deadline(request(st, fsm.request(), in.reply),
                                                     st.opts.refresh_timeout, detail::nothing{});
        break;
    case detail::refresh_action::done:
        break;
    }
}

// The refresh request proper. Checks the pool where it is used: this coroutine starts
// when `with_deadline` awaits it.
JOINME_DECL boost::asio::awaitable<error_code>
token_source::request(state& st, const token_request& tr, detail::endpoint_reply& reply) {
    if (!st.pool)
        reply.ec = boost::asio::error::operation_aborted;
    else
        reply = co_await detail::post(*st.pool, tr, st.tokens.clock);
    co_return reply.ec;
}

// Completes every waiter with `out`.
JOINME_DECL void token_source::wake(state& st, const outcome& out) {
    auto waiters = std::move(st.waiters);
    st.waiters.clear();
    auto shared = std::make_shared<const outcome>(out);
    for (waiter* w : waiters) {
        w->out = shared;
        w->woken = true;
        w->timer.cancel();
    }
}

// Awaits the store operation that `start(handler)` initiates: its error in `in.ec`, its
// values in `out...`. The store is the application's code: an exception it throws is
// reported as `errc::token_store_failed`, its message in `in.thrown`. (Awaited as an Asio
// operation, an exception thrown by the initiation would not reach this coroutine but leave
// `io_context::run`.)
template <class Start, class... Ts>
boost::asio::awaitable<void> token_source::call_store(const state& st, detail::refresh_input& in,
                                                      Start start, Ts&... out) {
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
        in.thrown = *e.what() ? e.what() : "(no message)";
    } catch (...) {
        in.thrown = "(not a std::exception)";
    }
    if (in.thrown.empty() && !c->result)
        (void)co_await c->timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
    if (c->result)
        std::tie(in.ec, out...) = std::move(*c->result);
    else
        in.ec = errc::token_store_failed;
}

} // namespace joinme::oauth

#endif
