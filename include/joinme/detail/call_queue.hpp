// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_CALL_QUEUE_HPP
#define JOINME_DETAIL_CALL_QUEUE_HPP

// A line of calls: at most `limit` run at once, the others wait for their turn, first come,
// first served. A waiting call holds one small node with its completion handler and nothing
// else (no coroutine frame of its own, no timer), so that thousands of calls can wait at once
// for little memory. One timer per line, armed for the earliest deadline among the waiting
// calls, fails those whose deadline passed; per-operation cancellation (of any type: waiting
// has no side effect) fails one with `operation_aborted`.
//
// The timer is armed whenever calls wait, if only for `time_point::max()`: it is the work that
// keeps `io_context::run()` going for them, and when the io_context is destroyed with calls
// still waiting, the destruction of its pending wait destroys theirs (their handlers, and so
// the coroutines that await them). Not thread-safe: used on one executor.

#include <joinme/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace joinme::detail {

class call_queue {
    struct state;

public:
    using time_point = std::chrono::steady_clock::time_point;

    // A call's place among the running ones, given up (to the first in line) when destroyed.
    class place {
    public:
        place() = default;
        place(place&& other) noexcept
            : deadline(other.deadline)
            , st_(std::exchange(other.st_, nullptr)) {}
        place& operator=(place&&) = delete;
        ~place() { leave(); }

        bool held() const noexcept { return st_ != nullptr; }
        void leave() {
            if (auto* s = std::exchange(st_, nullptr))
                s->leave();
        }

        // Of the wait for the place (see `async_enter`), and the caller's to read after.
        time_point deadline = time_point::max();

    private:
        friend class call_queue;
        state* st_ = nullptr;  // the queue outlives its places (see `async_enter`)
        std::uint64_t id_ = 0; // of its wait, never reused
    };

    call_queue(boost::asio::any_io_executor ex, std::size_t limit)
        : st_(std::make_shared<state>(std::move(ex), limit)) {}
    call_queue(const call_queue&) = delete;
    call_queue& operator=(const call_queue&) = delete;
    ~call_queue() { st_->disarm(); }

    // Takes a place now if there is room and nobody waits.
    bool try_enter(place& p) noexcept { return st_->try_enter(p); }

    // Waits for a place, until `p.deadline`: completes with `void(error_code)`, and `p` holds
    // the place on success. Fails with errc::pool_exhausted when the deadline comes first, and
    // operation_aborted when cancelled. `p` and this queue must outlive the wait (the caller
    // owns both, and its handler: destroying the handler destroys the caller).
    template <class Token>
    auto async_enter(place& p, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(initiation{st_.get()}, token,
                                                                    &p);
    }

    // Calls running, and calls waiting for their turn.
    std::size_t running() const noexcept { return st_->inside; }
    std::size_t waiting() const noexcept { return st_->count; }

private:
    // A waiting call: its handler, and its place (which has its deadline and number).
    struct node {
        node* prev = nullptr;
        node* next = nullptr;
        place* where = nullptr;

        virtual ~node() = default;
        // Posts the handler with `ec` to its executor (`ex` when it has none) and frees the node;
        // with `clear_slot`, first removes the canceller from the handler's cancellation slot.
        virtual void complete(error_code ec, bool clear_slot,
                              const boost::asio::any_io_executor& ex) = 0;
    };

    template <class Handler>
    struct node_for final : node {
        explicit node_for(Handler&& h) : handler(std::move(h)) {}
        Handler handler;

        void complete(error_code ec, bool clear_slot,
                      const boost::asio::any_io_executor& ex) override {
            if (auto slot = boost::asio::get_associated_cancellation_slot(handler);
                clear_slot && slot.is_connected())
                slot.clear();
            auto h = std::move(handler);
            delete this;
            auto hex = boost::asio::get_associated_executor(h, ex);
            boost::asio::post(hex, boost::asio::append(std::move(h), ec));
        }
    };

    // Destroyed without being run only when its io_context goes: it takes the waiting calls
    // with it.
    struct keeper {
        std::shared_ptr<state> st;
        std::uint64_t generation;

        keeper(std::shared_ptr<state> s, std::uint64_t g) : st(std::move(s)), generation(g) {}
        keeper(keeper&& other) noexcept : st(std::move(other.st)), generation(other.generation) {}
        keeper& operator=(keeper&&) = delete;
        ~keeper() {
            if (st)
                st->abandon();
        }
        void operator()(error_code) {
            auto s = std::move(st);
            s->on_timer(generation);
        }
    };

    // In a waiting call's cancellation slot; harmless once the call is gone (the node is
    // found by its number, which is never reused).
    struct canceller {
        canceller(std::weak_ptr<state> s, std::uint64_t i) : st(std::move(s)), id(i) {}
        std::weak_ptr<state> st;
        std::uint64_t id;
        void operator()(boost::asio::cancellation_type) const {
            if (auto s = st.lock())
                s->cancel(id);
        }
    };

    struct state : std::enable_shared_from_this<state> {
        state(boost::asio::any_io_executor ex, std::size_t limit)
            : timer(std::move(ex))
            , limit(limit) {}

        boost::asio::steady_timer timer;
        std::size_t limit;
        std::size_t inside = 0; // places held, or handed over and not yet taken up
        std::size_t count = 0;  // waiting
        node* head = nullptr;
        node* tail = nullptr;
        std::uint64_t next_id = 0;
        std::uint64_t generation = 0; // of the timer's current wait
        bool armed = false;
        time_point armed_at;
        bool abandoned = false;

        bool try_enter(place& p) noexcept {
            if (inside >= limit || head)
                return false;
            ++inside;
            p.st_ = this;
            return true;
        }

        void push(node* n) {
            n->prev = tail;
            (tail ? tail->next : head) = n;
            tail = n;
            ++count;
        }

        void unlink(node* n) {
            (n->prev ? n->prev->next : head) = n->next;
            (n->next ? n->next->prev : tail) = n->prev;
            --count;
        }

        void leave() {
            if (head && !abandoned) {
                node* n = head;
                unlink(n);
                n->where->st_ = this; // the place passes on: `inside` is unchanged
                if (!head)
                    disarm();
                n->complete({}, true, timer.get_executor());
            } else {
                --inside;
            }
        }

        void cancel(std::uint64_t id) {
            for (node* n = head; n; n = n->next) {
                if (n->where->id_ == id) {
                    unlink(n);
                    if (!head)
                        disarm();
                    n->complete(boost::asio::error::operation_aborted, false, timer.get_executor());
                    return;
                }
            }
        }

        void arm(time_point at) {
            armed = true;
            armed_at = at;
            timer.expires_at(at); // cancels the wait before, whose keeper then finds itself stale
            timer.async_wait(keeper(shared_from_this(), ++generation));
        }

        void disarm() {
            if (armed) {
                armed = false;
                ++generation;
                timer.cancel();
            }
        }

        void on_timer(std::uint64_t g) {
            if (g != generation || abandoned)
                return;
            armed = false;
            auto now = std::chrono::steady_clock::now();
            auto earliest = time_point::max();
            for (node* n = head; n;) {
                node* next = n->next;
                auto deadline = n->where->deadline;
                if (deadline <= now) {
                    unlink(n);
                    n->complete(errc::pool_exhausted, true, timer.get_executor());
                } else if (deadline < earliest) {
                    earliest = deadline;
                }
                n = next;
            }
            if (head)
                arm(earliest);
        }

        // The io_context is being destroyed: the waiting calls go with it, unrun.
        void abandon() {
            abandoned = true;
            armed = false;
            node* n = std::exchange(head, nullptr);
            tail = nullptr;
            count = 0;
            while (n)
                delete std::exchange(n, n->next);
        }
    };

    struct initiation {
        state* st;

        template <class Handler>
        void operator()(Handler&& h, place* p) const {
            if (st->try_enter(*p)) { // room: the place at once
                auto ex = boost::asio::get_associated_executor(h, st->timer.get_executor());
                boost::asio::post(ex, boost::asio::append(std::move(h), error_code{}));
                return;
            }
            auto* n = new node_for<std::decay_t<Handler>>(std::move(h));
            p->id_ = st->next_id++;
            n->where = p;
            auto slot = boost::asio::get_associated_cancellation_slot(n->handler);
            if (slot.is_connected())
                slot.template emplace<canceller>(st->weak_from_this(), p->id_);
            st->push(n);
            if (!st->armed || p->deadline < st->armed_at)
                st->arm(p->deadline);
        }
    };

    std::shared_ptr<state> st_;
};

} // namespace joinme::detail

#endif
