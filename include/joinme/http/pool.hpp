// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_POOL_HPP
#define JOINME_HTTP_POOL_HPP

/// @file
/// A keep-alive connection pool over any `transport`, with deadlines, stale-connection
/// recovery and retries of rate-limited answers.

#include <joinme/http/connection_pool.hpp>
#include <joinme/http/exchange.hpp>
#include <joinme/http/retry.hpp>
#include <joinme/with_diagnostics.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace joinme::http {

/// Keep-alive HTTP/1.1 connections per origin (scheme, host, port) over `Stream`.
///
/// Concurrent requests share the pool; at most `max_connections_per_origin` connections are
/// open per origin and further requests wait for one. An idle connection that the server has
/// closed is detected and replaced before use where the stream can tell (TCP, TLS), and a
/// request that got no byte of response on a reused connection is sent once more on a fresh
/// connection when it is idempotent or was never completely written.
///
/// Deadlines: each exchange must end within `limits.timeout`, each connect within
/// `connect_timeout`. A request that waits in line for a connection does so within
/// `limits.timeout` too, counted from the start of the attempt, and fails with
/// `errc::pool_exhausted` when that runs out. A request may also carry its call's overall
/// deadline (`request_options::deadline`), which every step then keeps as well. Over TCP and
/// TLS one timer per pool checks the exchanges in flight every `deadline_resolution` (a
/// deadline fires up to that much late) and stops when none is left, so it does not keep
/// `io_context::run()` from returning.
///
/// Thread safety: one pool is not thread-safe. Use it from one thread, or give it a strand
/// as its executor.
///
/// Lifetime: operations keep the pool's state alive; destroying the pool closes idle
/// connections and makes waiting requests fail with `operation_aborted`, while requests
/// already on a connection run to completion.
template <transport Stream>
class basic_connection_pool final : public connection_pool {
public:
    /// What every new connection needs (`stream_traits<Stream>::context_type`).
    using context_type = typename stream_traits<Stream>::context_type;
    /// How connections of `Stream` are made, opened and closed.
    using traits = stream_traits<Stream>;

    /// @param ex       executor of every connection and operation.
    /// @param ctx      what new connections need (see `stream_traits`).
    /// @param options  connection limits, deadlines, retries, hooks; fixed for the pool's life.
    basic_connection_pool(executor_type ex, context_type ctx, pool_options options = {})
        : st_(std::make_shared<state>(std::move(ex), std::move(ctx), std::move(options))) {}

    basic_connection_pool(const basic_connection_pool&) = delete;
    basic_connection_pool& operator=(const basic_connection_pool&) = delete;

    ~basic_connection_pool() { close(); }

    executor_type get_executor() const noexcept override { return st_->ex; }
    const pool_options& options() const noexcept override { return st_->opts; }
    pool_stats stats() const noexcept override { return st_->stats; }

    /// Idle connections for `o` right now.
    std::size_t idle_connections(const origin& o) const {
        for (auto& h : st_->hosts)
            if (h->key == o)
                return h->idle.size();
        return 0;
    }

    /// Sends `req` to `target` and reads the response.
    ///
    /// The pool sets `Host`, `User-Agent` (unless present), keep-alive and `Content-Length`.
    /// A response with any status is a success at this level; interpreting it is the caller's
    /// business, except that 429 / 503 / over-QPS answers are retried per the retry policy
    /// and the last one is returned when retries run out.
    ///
    /// Completion signature: `void(error_code, response)`.
    /// Errors: those of `async_exchange`, connect and TLS errors (`errc::certificate_*` when
    /// the server's certificate is rejected), `operation_aborted`. With the default token or
    /// `with_diagnostics`, the exception's diagnostics say why a connection failed (see
    /// `co_request`).
    /// Cancellation: terminal; the connection in use is closed.
    template <class Token = default_token>
    auto async_request(const origin& target, request req, Token&& token = {}) {
        return joinme::detail::async_op<response>(
            st_->ex, nullptr, std::forward<Token>(token),
            [st = st_, h = host_of(*st_, target), req = std::move(req)](diagnostics* diag) mutable {
                auto ex = st->ex;
                return joinme::detail::run_op<response>(
                    [st = std::move(st), h, req = std::move(req)](diagnostics& d,
                                                                  response& res) mutable {
                        return run_request(std::move(st), h, std::move(req), res, {&d});
                    },
                    std::move(ex), diag);
            });
    }

    /// `async_request` as an awaitable (see `connection_pool::co_request`): the same work,
    /// without a coroutine of its own per request.
    boost::asio::awaitable<error_code> co_request(const origin& target, request req, response& res,
                                                  request_options opts = {}) override {
        return run_request(st_, host_of(*st_, target), std::move(req), res, opts);
    }

    /// `co_warm_up` (connection_pool.hpp) as an asynchronous operation. Completion:
    /// `void(error_code)`.
    template <class Token = default_token>
    auto async_warm_up(const origin& target, std::size_t count, Token&& token = {}) {
        return joinme::detail::async_op<>(
            st_->ex, nullptr, std::forward<Token>(token),
            [st = st_, h = host_of(*st_, target), count](diagnostics* diag) mutable {
                auto ex = st->ex;
                return joinme::detail::run_op<>(
                    [st = std::move(st), h, count](diagnostics& d) mutable {
                        return run_warm_up(std::move(st), h, count, &d);
                    },
                    std::move(ex), diag);
            });
    }

    boost::asio::awaitable<error_code> co_warm_up(const origin& target, std::size_t count,
                                                  diagnostics* diag = nullptr) override {
        return run_warm_up(st_, host_of(*st_, target), count, diag);
    }

    /// Sends a request to an absolute URL: `method url` with an optional body in `req`, as
    /// `async_request(origin, ...)` does. A URL that is not `http` or `https` fails with
    /// `errc::invalid_url`.
    template <class Token = default_token>
    auto async_request(beast_http::verb method, boost::urls::url_view url, request req,
                       Token&& token = {}) {
        error_code ec;
        auto o = address(req, method, url, ec);
        return async_request(o, std::move(req), std::forward<Token>(token));
    }

    /// Closes every idle connection at once (no TLS close_notify) and fails waiting requests.
    /// Requests in flight finish, within their deadlines; their connections are closed
    /// afterwards.
    void close() override {
        st_->closed = true;
        if (st_->in_flight.empty())
            stop_watchdog(*st_);
        for (auto& h : st_->hosts) {
            for (auto& c : h->idle)
                traits::close(c->stream);
            h->open -= h->idle.size();
            h->idle.clear();
            while (!h->waiters.empty())
                next_waiter(*h); // woken with nothing: it reports the close
        }
    }

    /// Closes idle connections gracefully (TLS close_notify), each within `timeout`.
    /// Completion signature: `void(error_code)`.
    template <class Token = default_token>
    auto async_shutdown(std::chrono::milliseconds timeout, Token&& token = {}) {
        return joinme::detail::async_run<>(
            st_->ex, std::forward<Token>(token),
            [st = st_, timeout]() -> boost::asio::awaitable<error_code> {
                for (auto& h : st->hosts) {
                    auto idle = std::move(h->idle);
                    h->idle.clear();
                    for (auto& c : idle) {
                        if constexpr (detail::has_native_deadline<Stream>) {
                            // Its pending read must end before the TLS shutdown reads.
                            auto& r = c->early;
                            if (r.pending && !r.done) {
                                if (!std::exchange(r.stopping, true))
                                    boost::beast::get_lowest_layer(c->stream).cancel();
                                co_await r.async_wait(c->stream);
                            }
                        }
                        (void)co_await detail::with_deadline(shutdown_one(*c), timeout,
                                                             [&c] { traits::close(c->stream); });
                        traits::close(c->stream);
                        free_slot(*h);
                    }
                }
                co_return error_code{};
            });
    }

private:
    using steady = std::chrono::steady_clock;
    template <class T>
    using awaitable = boost::asio::awaitable<T>;

    struct connection {
        explicit connection(Stream s) : stream(std::move(s)) { buffer.reserve(read_buffer_size); }
        Stream stream;
        // Reads take as much as the buffer holds (Beast's `read_size`): 4 KiB holds a typical
        // answer in one system call where Beast's default, 512 bytes, needs two or more.
        static constexpr std::size_t read_buffer_size = 4096;
        boost::beast::flat_buffer buffer;
        std::string scratch; // the serialized request, reused
        std::size_t requests = 0;
        // While an exchange runs under the watchdog: its deadline, its place in the pool's
        // `in_flight`, and whether the watchdog closed it.
        std::chrono::steady_clock::time_point deadline{};
        std::size_t in_flight_index = 0;
        bool expired = false;
        detail::early_read early; // TCP, TLS: the next answer's read, pending while idle
    };
    // Shared with the read pending on the connection, which must end before the stream goes.
    using connection_ptr = std::shared_ptr<connection>;

    struct host;

    // A connection counted in its host's `open`, out of the idle list. It is given back
    // exactly once: kept for reuse (`release(take())`) or discarded, which the destructor does
    // with whatever was not given back, so that a coroutine unwinding with an exception (a
    // cancelled one throws from its next co_await) cannot leak a connection slot.
    class lease {
    public:
        lease() = default;
        lease(host& h, connection_ptr c) : h_(&h), c_(std::move(c)) {}
        lease(lease&& other) noexcept = default;
        lease& operator=(lease&& other) noexcept {
            reset();
            h_ = other.h_;
            c_ = std::move(other.c_);
            return *this;
        }
        ~lease() { reset(); }

        explicit operator bool() const noexcept { return c_ != nullptr; }
        connection& operator*() const noexcept { return *c_; }
        connection* operator->() const noexcept { return c_.get(); }
        connection_ptr take() noexcept { return std::move(c_); }
        void reset() {
            if (c_)
                discard(*h_, std::move(c_));
        }

    private:
        host* h_ = nullptr;
        connection_ptr c_;
    };

    // A connection for a request, or why there is none.
    struct acquired {
        error_code ec;
        lease conn;
        bool reused = false;
    };

    // A request waiting in its host's line for a connection, until `deadline` at the latest
    // (its timer's expiry: only a request that has to wait arms one). Whoever wakes it cancels
    // its timer and hands it a released connection (`conn`), the slot of a closed one (`slot`:
    // room to open a connection, already counted in `open`), or nothing when the pool closes.
    // The line is first come, first served: a slot handed over is reserved, so a request that
    // arrives before the woken one resumes cannot take it. Leaving the line, by any path (a
    // cancelled wait throws from its co_await), unregisters the waiter and gives back what it
    // was handed and did not use.
    struct waiter {
        waiter(const executor_type& ex, host& h, steady::time_point deadline)
            : timer(ex, deadline)
            , h(h) {
            h.waiters.push_back(this);
        }
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        ~waiter() {
            if (!woken)
                h.waiters.erase(std::find(h.waiters.begin(), h.waiters.end(), this));
            else if (slot)
                free_slot(h);
        }

        // What the request was handed, after its wait ended with `ec`: a connection, room to
        // open one (neither error nor connection), or why neither (cancelled, out of time, the
        // pool closed).
        acquired result(error_code ec, bool closed) {
            if (!woken) // cancelled, or nothing came in time
                return {ec ? error_code(boost::asio::error::operation_aborted)
                           : error_code(errc::pool_exhausted),
                        {},
                        false};
            if (closed)
                return {boost::asio::error::operation_aborted, {}, false};
            if (conn)
                return {{}, std::move(conn), true};
            slot = false; // the slot is the request's now: its connection's lease gives it back
            return {};
        }

        boost::asio::steady_timer timer;
        host& h;
        bool woken = false;
        bool slot = false;
        lease conn;
    };

    struct host {
        origin key;
        std::string host_header;          // key.host_header(), sent with every request
        std::vector<connection_ptr> idle; // most recently used last
        std::size_t open = 0;             // idle + in use + connecting
        std::deque<waiter*> waiters;
    };

    struct state {
        state(executor_type e, context_type c, pool_options o)
            : ex(std::move(e))
            , ctx(std::move(c))
            , opts(std::move(o))
            , rng(std::random_device{}())
            , watchdog(ex) {}
        executor_type ex;
        context_type ctx;
        pool_options opts;
        std::vector<std::unique_ptr<host>> hosts; // few origins: a linear search is fastest
        std::minstd_rand rng;
        pool_stats stats;
        bool closed = false;
        boost::asio::steady_timer watchdog;
        bool watchdog_running = false;
        bool idle_check_posted = false;
        std::size_t exchanges_started = 0;
        std::vector<connection*> in_flight; // exchanges under the watchdog

        host& host_for(const origin& o) {
            for (auto& h : hosts)
                if (h->key == o)
                    return *h;
            hosts.push_back(std::make_unique<host>());
            hosts.back()->key = o;
            hosts.back()->host_header = o.host_header();
            return *hosts.back();
        }
    };

    // The host of `o`, looked up when a request is made, so that its coroutine need not keep
    // the origin; none for an origin without a host (errc::invalid_url). Hosts live as long
    // as the pool's state, which every operation keeps.
    static host* host_of(state& st, const origin& o) {
        return o.host.empty() ? nullptr : &st.host_for(o);
    }

    // Takes the request that has waited longest out of the line and wakes it.
    static waiter& next_waiter(host& h) {
        waiter* w = h.waiters.front();
        h.waiters.pop_front();
        w->woken = true;
        w->timer.cancel();
        return *w;
    }

    // The slot of a connection that is gone: to the first request in line, else free.
    static void free_slot(host& h) {
        if (h.waiters.empty())
            --h.open;
        else
            next_waiter(h).slot = true;
    }

    static void discard(host& h, connection_ptr c) {
        traits::close(c->stream);
        free_slot(h);
    }

    // A connection goes to the request that has waited longest, never to one that comes
    // later: a caller that loops on requests cannot starve the others. That request writes at
    // once and reads its answer itself; only a connection left idle gets a read pending (an
    // early read started now would find nothing to read: one system call wasted per request).
    static void release(const std::shared_ptr<state>& st, host& h, connection_ptr c) {
        if (st->closed)
            return discard(h, std::move(c));
        if (!h.waiters.empty()) {
            next_waiter(h).conn = lease(h, std::move(c));
            return;
        }
        if constexpr (detail::has_native_deadline<Stream>) {
            read_early(st, h, c);
            if (st->in_flight.empty() && !st->idle_check_posted) { // a warm-up
                st->idle_check_posted = true;
                post_idle_check(st, st->exchanges_started, 0);
            }
        }
        h.idle.push_back(std::move(c));
    }

    // The deadline watchdog. Over streams that honour per-operation cancellation (TCP, TLS),
    // an exchange writes its deadline into its connection and puts the connection in
    // `in_flight`; one timer per pool wakes every `deadline_resolution` while anything is in
    // flight and closes the connections past their deadline, whose exchanges then fail with
    // errc::timeout. A timer per exchange (Beast's `expires_after`) would be armed and
    // cancelled around every read and write, with a system call each time.
    class watched {
    public:
        watched(const std::shared_ptr<state>& st, connection& c, steady::time_point deadline)
            : st_(st)
            , c_(c) {
            c.deadline = deadline;
            c.expired = false;
            c.in_flight_index = st->in_flight.size();
            st->in_flight.push_back(&c);
            ++st->exchanges_started;
            if (!st->watchdog_running) {
                st->watchdog_running = true;
                ++st->stats.watchdog_starts;
                tick_later(st);
            }
        }
        watched(const watched&) = delete;
        watched& operator=(const watched&) = delete;
        ~watched() {
            auto& list = st_->in_flight;
            list[c_.in_flight_index] = list.back();
            list[c_.in_flight_index]->in_flight_index = c_.in_flight_index;
            list.pop_back();
            if (list.empty() && !st_->idle_check_posted) {
                st_->idle_check_posted = true;
                post_idle_check(st_, st_->exchanges_started, 0);
            }
        }

    private:
        const std::shared_ptr<state>& st_;
        connection& c_;
    };

    static void tick_later(std::shared_ptr<state> st) {
        auto& timer = st->watchdog;
        timer.expires_after(std::max(st->opts.deadline_resolution, std::chrono::milliseconds(1)));
        timer.async_wait([st = std::move(st)](error_code ec) mutable { tick(std::move(st), ec); });
    }

    static void tick(std::shared_ptr<state> st, error_code ec) {
        if (ec) // stopped
            return;
        if (st->in_flight.empty()) {
            st->watchdog_running = false;
            return;
        }
        auto now = steady::now();
        for (connection* c : st->in_flight) {
            if (!c->expired && c->deadline <= now) {
                c->expired = true;
                traits::close(c->stream);
            }
        }
        tick_later(std::move(st));
    }

    // Idle connections over TCP and TLS keep a read pending (see `early_read`), Go's `readLoop`
    // in Asio's terms: a server that closes one, or sends bytes nobody asked for, has it closed
    // and discarded at once, before any request can take it, and a request that takes it waits
    // for that read's completion as its answer's first read. Noticing costs one system call
    // per idle period (Asio tries the read at once, and it finds nothing), as the `is_reusable`
    // check before each reuse would. Bytes that arrive while a request is being written remain
    // indistinguishable from an early answer. A pending read would keep `io_context::run()` from
    // returning, so when the pool goes quiet (see `post_idle_check`) the reads are cancelled: a
    // connection parked that way is checked with `is_reusable` (one system call) before its next
    // use.
    static void read_early(const std::shared_ptr<state>& st, host& h, const connection_ptr& c) {
        auto& r = c->early;
        r.pending = true;
        r.done = false;
        r.ec = {};
        auto space = c->buffer.prepare(boost::beast::read_size(c->buffer, 65536));
        c->stream.async_read_some(space, [st, hp = &h, c](error_code ec, std::size_t n) {
            on_early_read(st, *hp, c, ec, n);
        });
    }

    static void on_early_read(const std::shared_ptr<state>& st, host& h, const connection_ptr& c,
                              error_code ec, std::size_t n) {
        auto& r = c->early;
        c->buffer.commit(n);
        bool taken = std::exchange(r.restart, false);
        if (std::exchange(r.stopping, false) && ec == boost::asio::error::operation_aborted) {
            if (taken) // a request took it meanwhile: read its answer
                return read_early(st, h, c);
            r.pending = false; // parked
            if (r.waiter)      // async_shutdown
                r.resume();
            return;
        }
        r.done = true;
        r.ec = ec;
        if (r.waiter)
            return r.resume();
        auto it = std::find(h.idle.begin(), h.idle.end(), c);
        if (it == h.idle.end()) // in use (its exchange takes the result after writing), or gone
            return;
        h.idle.erase(it);
        ++st->stats.stale_discarded;
        discard(h, connection_ptr(c));
    }

    // Cancels the reads pending on idle connections, for `io_context::run()` to return.
    static void park_idle_connections(state& st) {
        if constexpr (detail::has_native_deadline<Stream>) {
            for (auto& h : st.hosts) {
                for (auto& c : h->idle) {
                    auto& r = c->early;
                    if (r.pending && !r.done && !r.stopping) {
                        r.stopping = true;
                        boost::beast::get_lowest_layer(c->stream).cancel();
                    }
                }
            }
        }
    }

    static void stop_watchdog(state& st) {
        if (st.watchdog_running) {
            st.watchdog_running = false;
            st.watchdog.cancel();
        }
    }

    // When the last exchange in flight ends, the watchdog is stopped if no other one starts
    // within two turns of the event loop: then `io_context::run()` returns as soon as the
    // work is done, while a caller that sends one request after another (its next request
    // starts after a turn or two) keeps the watchdog running instead of restarting it for
    // every request.
    static void post_idle_check(std::shared_ptr<state> st, std::size_t started, int turn) {
        auto& ex = st->ex; // the state outlives the move below: the handler owns it
        boost::asio::post(ex, [st = std::move(st), started, turn]() mutable {
            if (!st->in_flight.empty() || st->exchanges_started != started) {
                st->idle_check_posted = false;
            } else if (turn == 0) {
                post_idle_check(std::move(st), started, 1);
            } else {
                st->idle_check_posted = false;
                stop_watchdog(*st);
                park_idle_connections(*st);
            }
        });
    }

    static awaitable<error_code> connect_one(state& st, connection& c, const origin& o) {
        auto [ec] = co_await traits::async_connect(c.stream, o, st.ctx,
                                                   boost::asio::as_tuple(boost::asio::deferred));
        co_return ec;
    }

    static awaitable<error_code> shutdown_one(connection& c) {
        auto [ec] =
            co_await traits::async_shutdown(c.stream, boost::asio::as_tuple(boost::asio::deferred));
        co_return ec;
    }

    // The most recently used idle connection that still looks alive, if any; the dead ones
    // on the way are discarded. One with a read pending is alive (the read would have noticed
    // otherwise); any other one is checked.
    static lease take_idle(state& st, host& h) {
        while (!h.idle.empty()) {
            connection_ptr c = std::move(h.idle.back());
            h.idle.pop_back();
            if (c->early.pending) {
                c->early.restart = c->early.stopping;
                return lease(h, std::move(c));
            }
            if (traits::is_reusable(c->stream))
                return lease(h, std::move(c));
            ++st.stats.stale_discarded;
            discard(h, std::move(c));
        }
        return {};
    }

    // A new connection in a slot already counted in the host's `open`, leased at once: the
    // lease gives the slot back by any path, even when the coroutine that opens it never starts
    // (a cancelled coroutine throws from its next co_await).
    static lease new_connection(state& st, host& h) {
        return lease(h, std::make_shared<connection>(traits::create(st.ex, st.ctx)));
    }

    // Opens `c`. When that fails, what the stream says about it goes to `diag`, if any, and
    // the slot is given back. A connect ends at `connect_timeout` or at the call's deadline,
    // whichever comes first, with errc::timeout.
    static awaitable<acquired> open_one(std::shared_ptr<state> st, host& h, lease c,
                                        diagnostics* diag, steady::time_point call_deadline) {
        auto timeout = within(st->opts.connect_timeout, call_deadline);
        if (timeout.count() <= 0)
            co_return acquired{errc::timeout, {}, false}; // `c` gives the slot back
        auto ec = co_await detail::with_deadline(connect_one(*st, *c, h.key), timeout,
                                                 [&c] { traits::close(c->stream); });
        if (ec) {
            if (diag)
                joinme::detail::describe_connect_failure(c->stream, ec, *diag);
            co_return acquired{ec, {}, false}; // `c` is discarded
        }
        ++st->stats.connections_opened;
        co_return acquired{{}, std::move(c), false};
    }

    // `timeout`, or less if `deadline` comes first (then possibly zero or negative).
    static std::chrono::milliseconds within(std::chrono::milliseconds timeout,
                                            steady::time_point deadline) {
        if (deadline == steady::time_point::max())
            return timeout;
        return std::min(timeout,
                        std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()));
    }

    static awaitable<error_code> sleep(state& st, std::chrono::milliseconds d) {
        if (st.opts.retry.sleep) {
            auto token = boost::asio::as_tuple(boost::asio::deferred);
            auto [ec] = co_await boost::asio::async_initiate<decltype(token), void(error_code)>(
                [&st, d](auto handler) { st.opts.retry.sleep(d, std::move(handler)); }, token);
            co_return ec;
        }
        boost::asio::steady_timer timer(st.ex, d);
        auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
        co_return ec;
    }

    // Opens connections to `target` until it has `count` (within the per-origin limit), each
    // put in the idle list.
    static awaitable<error_code> run_warm_up(std::shared_ptr<state> st, host* hp, std::size_t count,
                                             diagnostics* diag) {
        if (!hp)
            co_return errc::invalid_url;
        host& h = *hp;
        while (h.open < std::min(count, st->opts.max_connections_per_origin)) {
            if (st->closed)
                co_return boost::asio::error::operation_aborted;
            ++h.open;
            auto a =
                co_await open_one(st, h, new_connection(*st, h), diag, steady::time_point::max());
            if (a.ec)
                co_return a.ec;
            release(st, h, a.conn.take());
        }
        co_return error_code{};
    }

    // The whole request: its attempts, each with one replay on a fresh connection when a reused
    // one turned out dead, and the retries of rate-limited answers. The last response is read
    // into `res`, which is left empty on failure. Every step ends by the call's deadline,
    // `opts.deadline`. One coroutine for all of it, so that a request waiting in line holds
    // one frame.
    static awaitable<error_code> run_request(std::shared_ptr<state> st, host* hp, request req,
                                             response& res, request_options opts) {
        if (!hp)
            co_return errc::invalid_url;
        host& h = *hp;
        // Host and User-Agent, unless the request has its own, are written with it, not
        // inserted into it. A prepared string body has a length: the request is never chunked.
        const detail::request_defaults defaults{h.host_header, st->opts.user_agent};
        req.keep_alive(true);
        req.prepare_payload();
        std::chrono::milliseconds waited{0};
        unsigned attempt = 1;
        for (bool fresh = false;;) {
            auto start = steady::now();
            if (start >= opts.deadline) {
                res = response{};
                co_return errc::timeout;
            }
            // An idle connection that still looks alive, a new one if the origin has room, or
            // what the line hands over: a released connection, or room to open one. Waiting in
            // line ends by `limits.timeout` from the start of the attempt (or the call's
            // deadline) with errc::pool_exhausted. No coroutine of its own, for the common
            // case, a live idle connection, and because many requests may wait at once.
            acquired a;
            if (st->closed) {
                a.ec = boost::asio::error::operation_aborted;
            } else if (!fresh && (a.conn = take_idle(*st, h))) {
                a.reused = true;
            } else if (h.open < st->opts.max_connections_per_origin) {
                ++h.open;
            } else {
                waiter w(st->ex, h, std::min(start + st->opts.limits.timeout, opts.deadline));
                auto [ec] =
                    co_await w.timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
                a = w.result(ec, st->closed);
            }
            if (!a.ec && !a.conn)
                a = co_await open_one(st, h, new_connection(*st, h), opts.diag, opts.deadline);
            exchange_progress progress;
            error_code ec = a.ec;
            if (!ec) {
                ++st->stats.requests_sent;
                if (a.reused)
                    ++st->stats.reused;
                auto& c = *a.conn;
                if constexpr (detail::has_native_deadline<Stream>) {
                    auto begun = a.reused ? start : steady::now();
                    watched w(st, c, std::min(begun + st->opts.limits.timeout, opts.deadline));
                    auto* early = c.early.pending ? &c.early : nullptr;
                    ec = co_await detail::exchange(c.stream, c.buffer, req, res, st->opts.limits,
                                                   progress, c.scratch, defaults, early);
                    if (ec && c.expired)
                        ec = errc::timeout;
                } else {
                    auto timeout = within(st->opts.limits.timeout, opts.deadline);
                    if (timeout.count() <= 0)
                        ec = errc::timeout;
                    else
                        ec = co_await detail::exchange_with_deadline(c.stream, c.buffer, req, res,
                                                                     st->opts.limits, progress,
                                                                     c.scratch, timeout, defaults);
                }
            }
            if (st->opts.on_request) {
                auto path = req.target();
                request_event ev{req.method(),
                                 std::string(path.substr(0, path.find('?'))),
                                 ec ? 0u : res.result_int(),
                                 ec,
                                 steady::now() - start,
                                 attempt,
                                 a.reused};
                st->opts.on_request(ev);
            }
            if (ec) {
                a.conn.reset();
                // A kept-alive connection the server had already closed fails before any byte
                // of response; such a request was not processed if it was not completely
                // written, and is harmless to repeat if idempotent or if the caller says so.
                bool replay = a.reused && !fresh && !progress.response_started &&
                              ec != errc::timeout && ec != boost::asio::error::operation_aborted &&
                              (is_idempotent(req.method()) || !progress.request_written ||
                               opts.replay_unanswered);
                if (!replay) {
                    res = response{}; // not a retried attempt's answer
                    co_return ec;
                }
                ++st->stats.replayed_on_fresh;
                fresh = true;
                continue;
            }
            ++a.conn->requests;
            auto limit = st->opts.max_requests_per_connection;
            // Bytes after a complete answer were never asked for: the connection would hand
            // them to the next call as its answer.
            if (progress.keep_alive && !a.conn->expired && a.conn->buffer.size() == 0 &&
                (limit == 0 || a.conn->requests < limit))
                release(st, h, a.conn.take());
            else
                a.conn.reset();
            if (!is_rate_limited(res))
                co_return ec; // the common case: no jitter to draw, no clock to read
            double r = std::uniform_real_distribution<double>(0.0, 1.0)(st->rng);
            auto d = decide_retry(st->opts.retry, req, res, attempt, waited, r,
                                  joinme::detail::now(st->opts.clock));
            if (!d.retry || steady::now() + d.delay >= opts.deadline) // no time left for it
                co_return ec;
            ++st->stats.rate_limit_retries;
            if (auto sec = co_await sleep(*st, d.delay)) {
                res = response{};
                co_return sec;
            }
            waited += d.delay;
            ++attempt;
            fresh = false;
        }
    }

    std::shared_ptr<state> st_;
};

} // namespace joinme::http

#if defined(JOINME_SEPARATE_COMPILATION)
// The pools over joinme's own streams are compiled once, in src.hpp (http/impl/pool.ipp).
#include <joinme/transport/proxy.hpp>

namespace joinme::http {
extern template class basic_connection_pool<boost::beast::tcp_stream>;
extern template class basic_connection_pool<joinme::detail::tls_stream>;
extern template class basic_connection_pool<proxy_stream>;
} // namespace joinme::http
#endif

#endif
