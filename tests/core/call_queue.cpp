// The client's line of calls (joinme/detail/call_queue.hpp): at most `limit` calls at once,
// the others served first come, first served; deadlines, cancellation, and an io_context
// destroyed while calls wait.
#include <joinme/detail/call_queue.hpp>

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace {

namespace asio = boost::asio;
using joinme::errc;
using joinme::error_code;
using joinme::detail::call_queue;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A waiting call: its place, and how its wait ended.
struct call {
    call_queue::place place;
    std::optional<error_code> ended;
};

void enter(call_queue& q, call& c, steady::time_point deadline = steady::time_point::max()) {
    c.place.deadline = deadline;
    q.async_enter(c.place, [&c](error_code ec) { c.ended = ec; });
}

TEST_CASE("call queue: at most `limit` at once, then first come, first served") {
    asio::io_context ioc;
    call_queue q(ioc.get_executor(), 2);
    call a, b, c, d, e;
    CHECK(q.try_enter(a.place));
    CHECK(q.try_enter(b.place));
    CHECK(!q.try_enter(c.place));
    enter(q, c);
    enter(q, d);
    CHECK(!q.try_enter(e.place)); // full, and others wait: no overtaking
    enter(q, e);
    CHECK(q.running() == 2);
    CHECK(q.waiting() == 3);
    ioc.poll();
    CHECK(!c.ended); // nothing is handed out before a place is given up

    b.place.leave();
    ioc.poll();
    REQUIRE(c.ended);
    CHECK(!*c.ended);
    CHECK(c.place.held());
    CHECK(!d.ended);
    CHECK(q.running() == 2);

    a.place.leave();
    c.place.leave();
    ioc.poll();
    REQUIRE(d.ended);
    REQUIRE(e.ended);
    CHECK(!*d.ended);
    CHECK(!*e.ended);
    CHECK(q.waiting() == 0);
    d.place.leave();
    e.place.leave();
    CHECK(q.running() == 0);
    // Nothing waits: nothing is left for the io_context to run.
    ioc.restart();
    CHECK(ioc.run_for(1s) == 0);
}

TEST_CASE("call queue: a call whose deadline passes first leaves with pool_exhausted; run() "
          "returns when nobody waits") {
    asio::io_context ioc;
    call_queue q(ioc.get_executor(), 1);
    call a, late, soon, patient;
    REQUIRE(q.try_enter(a.place));
    auto start = steady::now();
    enter(q, late, start + 200ms);
    enter(q, soon, start + 50ms); // an earlier deadline behind a later one
    enter(q, patient);
    while (!soon.ended)
        ioc.run_one();
    CHECK(*soon.ended == errc::pool_exhausted);
    CHECK(steady::now() - start >= 50ms);
    CHECK(steady::now() - start < 190ms);
    CHECK(!late.ended);
    CHECK(!soon.place.held());
    while (!late.ended)
        ioc.run_one();
    CHECK(*late.ended == errc::pool_exhausted);
    CHECK(steady::now() - start >= 200ms);
    CHECK(!patient.ended);
    // The place goes to the one still waiting.
    a.place.leave();
    ioc.run();
    REQUIRE(patient.ended);
    CHECK(!*patient.ended);
    CHECK(q.waiting() == 0);
    patient.place.leave();
}

TEST_CASE("call queue: cancelling a waiting call takes it out of the line, and only it") {
    asio::io_context ioc;
    call_queue q(ioc.get_executor(), 1);
    call a, b, c;
    REQUIRE(q.try_enter(a.place));
    asio::cancellation_signal signal;
    b.place.deadline = steady::now() + 1h;
    q.async_enter(
        b.place, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { b.ended = ec; }));
    enter(q, c, steady::now() + 1h);
    ioc.poll();
    signal.emit(asio::cancellation_type::terminal);
    ioc.poll();
    REQUIRE(b.ended);
    CHECK(*b.ended == asio::error::operation_aborted);
    CHECK(!b.place.held());
    CHECK(q.waiting() == 1);
    // Emitted again once the call is gone: nothing happens.
    signal.emit(asio::cancellation_type::terminal);
    a.place.leave();
    ioc.run();
    REQUIRE(c.ended);
    CHECK(!*c.ended);
    c.place.leave();
    CHECK(q.running() == 0);
}

// A waiting call's handler that owns the call (its place) and keeps the queue alive, as an
// operation's coroutine does (the place goes first); counts the handlers alive.
struct owning_handler {
    std::shared_ptr<call_queue> q;
    std::unique_ptr<call> c;
    std::shared_ptr<int> alive;
    void operator()(error_code) {}
};

TEST_CASE("call queue: an io_context destroyed while calls wait destroys their handlers") {
    auto alive = std::make_shared<int>(0);
    std::weak_ptr<call_queue> gone;
    {
        asio::io_context ioc;
        auto q = std::make_shared<call_queue>(ioc.get_executor(), 1);
        gone = q;
        call a;
        REQUIRE(q->try_enter(a.place));
        for (int i = 0; i < 10; ++i) {
            auto c = std::make_unique<call>();
            auto* p = &c->place;
            p->deadline = steady::now() + 1h;
            q->async_enter(*p, owning_handler{q, std::move(c), alive});
        }
        CHECK(alive.use_count() == 11);
        ioc.poll();
        a.place.leave(); // hands the place to the first: its handler is posted, not run
        q.reset();
        // The io_context goes without running again.
    }
    // Every handler was destroyed, and with them the queue (ASan reports anything left).
    CHECK(alive.use_count() == 1);
    CHECK(gone.expired());
}

} // namespace
