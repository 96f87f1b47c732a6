// The token source's refresh machine, stepped without any stream, pool, store or io_context:
// what a caller is served before any I/O; every branch of a flight (load, lock, refresh, save,
// unlock, done) with the results a store and a token endpoint can give; the destroyed source;
// exceptions; the clock offset from `Date`; sub-second margins.
#include <joinme/oauth/token_source.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <new>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>

using namespace std::chrono;
using namespace std::chrono_literals;
namespace oauth = joinme::oauth;
using joinme::errc;
using joinme::error_code;
using joinme::oauth_errc;
using joinme::secret;
using oauth::detail::refresh_action;
using oauth::detail::refresh_fsm;
using oauth::detail::refresh_input;
using oauth::detail::token_state;
using serve = token_state::serve;

namespace joinme::oauth::detail {
// For doctest's messages.
std::ostream& operator<<(std::ostream& os, refresh_action a) {
    constexpr const char* names[] = {"load", "lock", "refresh", "save", "unlock", "done"};
    return os << names[static_cast<int>(a)];
}
} // namespace joinme::oauth::detail

namespace {

const oauth::time_point t_start = sys_days{year{2030} / March / 1};

oauth::config registration() {
    oauth::config c;
    c.client_id = "id";
    c.client_secret = secret("shh");
    return c;
}

// A token source's state on a clock the test moves; with a store unless told otherwise.
struct bench {
    oauth::time_point now = t_start;
    token_state s;

    explicit bench(bool store = true, oauth::token_source_options o = {})
        : s(registration(), o, [this] { return now; }) {
        s.has_store = store;
    }

    // Holds `t` as a token read from or saved to the store at `version`.
    void hold(oauth::token t, std::uint64_t version = 1) {
        s.current = std::move(t);
        s.saved = true;
        s.version = version;
        s.loaded = true;
    }
};

// A token obtained at `at`, living `life`.
oauth::token token(std::string_view access, std::string_view refresh, oauth::time_point at,
                   seconds life = 3600s) {
    return oauth::make_token(access, refresh, life, {}, at);
}

refresh_input ok() {
    return {};
}

refresh_input failed(error_code ec) {
    refresh_input in;
    in.ec = ec;
    return in;
}

refresh_input threw(std::string what) {
    refresh_input in;
    in.ec = errc::token_store_failed;
    in.thrown = std::move(what);
    return in;
}

refresh_input loaded(std::optional<oauth::stored_token> stored) {
    refresh_input in;
    in.stored = std::move(stored);
    return in;
}

refresh_input locked(std::uint64_t id = 7) {
    refresh_input in;
    in.lease.id = id;
    return in;
}

refresh_input saved(std::uint64_t version) {
    refresh_input in;
    in.version = version;
    return in;
}

// The token endpoint's answer, arrived at `at`.
refresh_input answer(unsigned status, std::string body, oauth::time_point at,
                     std::optional<sys_seconds> date = std::nullopt) {
    refresh_input in;
    in.reply.res.result(status);
    in.reply.res.body() = std::move(body);
    in.reply.received = at;
    in.reply.server_date = date;
    return in;
}

refresh_input issued(std::string access, std::string refresh, oauth::time_point at) {
    return answer(200,
                  R"({"access_token":")" + access + R"(","refresh_token":")" + refresh +
                      R"(","token_type":"bearer","expires_in":3600})",
                  at);
}

refresh_input invalid_grant(oauth::time_point at) {
    return answer(400, R"({"error":"invalid_grant","error_description":"revoked"})", at);
}

bool mentions(const refresh_fsm& m, std::string_view what) {
    return m.outcome().diag.client_message.find(what) != std::string::npos;
}

} // namespace

TEST_CASE("served before any I/O: at once, at once with a background refresh, or after a flight") {
    bench b(false);
    CHECK(b.s.ask(std::nullopt) == serve::wait); // no token

    b.hold(token("A1", "R1", t_start));
    CHECK(b.s.ask(std::nullopt) == serve::now);
    CHECK(b.s.usable());

    b.now = t_start + 3600s - 30s; // in the 60 s margin, not expired
    CHECK(b.s.ask(std::nullopt) == serve::now_and_refresh);
    CHECK(!b.s.usable());

    b.now = t_start + 3600s;
    CHECK(b.s.ask(std::nullopt) == serve::wait);

    SUBCASE("an unsaved token waits for its save") {
        b.now = t_start;
        b.s.saved = false;
        CHECK(b.s.ask(std::nullopt) == serve::wait);
    }
    SUBCASE("a forced refresh: the rejected token is refreshed, another one handed out") {
        b.now = t_start;
        CHECK(b.s.ask(secret("A0")) == serve::now);
        CHECK(!b.s.force);
        CHECK(b.s.ask(secret("A1")) == serve::wait);
        REQUIRE(b.s.force);
        CHECK(*b.s.force == secret("A1"));
        CHECK(b.s.needs_refresh(*b.s.current));
    }
    SUBCASE("a token without a refresh token is handed out until it expires") {
        b.hold(token("I1", "", t_start));
        b.now = t_start + 3600s - 30s;
        CHECK(b.s.ask(std::nullopt) == serve::now);
        b.now = t_start + 3600s;
        CHECK(b.s.ask(std::nullopt) == serve::wait);
    }
}

TEST_CASE("adopting what the store holds: only a newer version, never over an unsaved token") {
    bench b;
    b.s.adopt(std::nullopt);
    CHECK(b.s.loaded);
    CHECK(!b.s.current);

    b.hold(token("A1", "R1", t_start), 3);
    b.s.adopt(oauth::stored_token{token("X", "RX", t_start), 3}); // the version we hold
    CHECK(b.s.current->access_token == secret("A1"));

    b.s.saved = false; // refreshed, not yet saved: ours is the newest
    b.s.adopt(oauth::stored_token{token("B1", "RB", t_start), 4});
    CHECK(b.s.current->access_token == secret("A1"));
    CHECK(b.s.stats.adopted == 0);

    b.s.saved = true;
    b.s.adopt(oauth::stored_token{token("B1", "RB", t_start), 4});
    CHECK(b.s.current->access_token == secret("B1"));
    CHECK(b.s.version == 4);
    CHECK(b.s.stats.adopted == 1);
}

TEST_CASE("the margin has sub-second precision, cut to half the lifetime") {
    oauth::token_source_options o;
    o.refresh_margin = 1500ms;
    bench b(false, o);
    b.hold(token("A1", "R1", t_start));
    b.now = t_start + 3600s - 1600ms;
    CHECK(b.s.usable());
    b.now = t_start + 3600s - 1400ms;
    CHECK(!b.s.usable());
    CHECK(b.s.ask(std::nullopt) == serve::now_and_refresh);

    o.refresh_margin = 600s; // a 100 s token: due after 50 s, not at once
    bench c(false, o);
    c.hold(token("A1", "R1", t_start, 100s));
    c.now = t_start + 49900ms;
    CHECK(c.s.usable());
    c.now = t_start + 50s;
    CHECK(!c.s.usable());
}

TEST_CASE("no token") {
    SUBCASE("without a store: reauthorization_required, no action") {
        bench b(false);
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::reauthorization_required);
        CHECK(mentions(m, "no token is held"));
    }
    SUBCASE("with a store: read once; what it holds is adopted") {
        bench b;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 4})) ==
              refresh_action::done);
        CHECK(!m.outcome().ec);
        CHECK(m.outcome().value.access_token == secret("A1"));
        CHECK(b.s.version == 4);
        CHECK(b.s.stats.adopted == 1);
        CHECK(b.s.stats.refresh_requests == 0);
    }
    SUBCASE("with an empty store: reauthorization_required; the store is not read again") {
        bench b;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::load);
        CHECK(m.resume(loaded(std::nullopt)) == refresh_action::done);
        CHECK(m.outcome().ec == errc::reauthorization_required);
        refresh_fsm again(b.s);
        CHECK(again.resume(ok()) == refresh_action::done);
        CHECK(again.outcome().ec == errc::reauthorization_required);
    }
    SUBCASE("the store fails on load: token_store_failed with its message") {
        bench b;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::load);
        CHECK(m.resume(threw("unreadable")) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "reading the token store failed"));
        CHECK(mentions(m, "threw an exception: unreadable"));
        CHECK(!b.s.loaded); // read again next time
    }
}

TEST_CASE("a token given with set_token is saved unconditionally before it is handed out") {
    bench b;
    b.s.current = token("A1", "R1", t_start);
    b.s.saved = false;
    b.s.unconditional_save = true;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::save);
    CHECK(m.to_save().access_token == secret("A1"));
    CHECK(m.expected_version() == oauth::any_version);
    CHECK(m.resume(saved(3)) == refresh_action::done);
    CHECK(!m.outcome().ec);
    CHECK(m.outcome().value.access_token == secret("A1"));
    CHECK(b.s.saved);
    CHECK(!b.s.unconditional_save);
    CHECK(b.s.version == 3);
    CHECK(b.s.stats.saves == 1);
}

TEST_CASE("a token that needs no refresh: done at once") {
    bench b;
    b.hold(token("A1", "R1", t_start));
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::done);
    CHECK(m.outcome().value.access_token == secret("A1"));
    CHECK(m.resume(ok()) == refresh_action::done); // stays done
}

TEST_CASE("without a store: refresh, then done with the new token") {
    bench b(false);
    b.hold(token("A1", "R1", t_start));
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::refresh);
    CHECK(m.request().body.reveal().find("refresh_token=R1") != std::string::npos);
    CHECK(b.s.stats.refresh_requests == 1);
    CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::done);
    CHECK(!m.outcome().ec);
    CHECK(m.outcome().value.access_token == secret("A2"));
    CHECK(b.s.current->refresh_token == secret("R2"));
    CHECK(b.s.saved);
    CHECK(b.s.usable());

    SUBCASE("a failed refresh: its error and diagnostics for every waiter") {
        b.now += 3601s;
        refresh_fsm n(b.s);
        CHECK(n.resume(ok()) == refresh_action::refresh);
        CHECK(n.resume(answer(503, "<html>down</html>", b.now)) == refresh_action::done);
        CHECK(n.outcome().ec == errc::server_error);
        CHECK(n.outcome().diag.status == 503);
        CHECK(b.s.current->access_token == secret("A2"));
    }
    SUBCASE("a refresh that timed out") {
        b.now += 3601s;
        refresh_fsm n(b.s);
        CHECK(n.resume(ok()) == refresh_action::refresh);
        CHECK(n.resume(failed(errc::timeout)) == refresh_action::done);
        CHECK(n.outcome().ec == errc::timeout);
    }
}

TEST_CASE("the refresh request cannot be built: its error, nothing sent") {
    bench b(false);
    b.s.cfg.client_id.clear();
    b.hold(token("A1", "R1", t_start));
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::done);
    CHECK(m.outcome().ec == boost::system::errc::invalid_argument);
    CHECK(b.s.stats.refresh_requests == 0);
}

TEST_CASE("with a store: lock, read again, refresh, save, unlock") {
    bench b;
    b.hold(token("A1", "R1", t_start), 5);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);
    CHECK(m.resume(locked(7)) == refresh_action::load);
    CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 5})) ==
          refresh_action::refresh);
    CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
    CHECK(m.to_save().access_token == secret("A2"));
    CHECK(m.expected_version() == 5);
    CHECK(!b.s.saved); // not handed out before it is saved
    CHECK(b.s.ask(std::nullopt) == serve::wait);
    CHECK(m.resume(saved(6)) == refresh_action::unlock);
    CHECK(m.lease().id == 7);
    CHECK(m.resume(ok()) == refresh_action::done);
    CHECK(!m.outcome().ec);
    CHECK(m.outcome().value.access_token == secret("A2"));
    CHECK(b.s.version == 6);
    CHECK(b.s.stats.saves == 1);
    CHECK(b.s.stats.refresh_requests == 1);
    CHECK(b.s.stats.adopted == 0);

    SUBCASE("a lost lease changes nothing") {
        b.now += 3601s;
        refresh_fsm n(b.s);
        CHECK(n.resume(ok()) == refresh_action::lock);
        CHECK(n.resume(locked()) == refresh_action::load);
        CHECK(n.resume(loaded(oauth::stored_token{*b.s.current, 6})) == refresh_action::refresh);
        CHECK(n.resume(issued("A3", "R3", b.now)) == refresh_action::save);
        CHECK(n.resume(saved(7)) == refresh_action::unlock);
        CHECK(n.resume(failed(oauth::store_errc::unknown_lease)) == refresh_action::done);
        CHECK(!n.outcome().ec);
        CHECK(n.outcome().value.access_token == secret("A3"));
    }
}

TEST_CASE("an entry erased from the store: reauthorization, never a refresh with the remembered "
          "token") {
    bench b;
    b.hold(token("A1", "R1", t_start), 3);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);
    CHECK(m.resume(locked(7)) == refresh_action::load);
    CHECK(m.resume(loaded(std::nullopt)) == refresh_action::unlock); // no refresh
    CHECK(m.resume(ok()) == refresh_action::done);
    CHECK(m.outcome().ec == errc::reauthorization_required);
    CHECK(mentions(m, "no token is stored"));
    CHECK(!b.s.current);
    CHECK(b.s.stats.refresh_requests == 0);
    CHECK(b.s.ask(std::nullopt) == serve::wait);
}

TEST_CASE("rotation: a token another process stored while we waited for the lease is adopted") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);
    CHECK(m.resume(locked()) == refresh_action::load);
    CHECK(m.resume(loaded(oauth::stored_token{token("B1", "RB", b.now), 2})) ==
          refresh_action::unlock);
    CHECK(m.resume(ok()) == refresh_action::done);
    CHECK(!m.outcome().ec);
    CHECK(m.outcome().value.access_token == secret("B1"));
    CHECK(b.s.version == 2);
    CHECK(b.s.stats.adopted == 1);
    CHECK(b.s.stats.refresh_requests == 0);
}

TEST_CASE("the store fails under the lease") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);

    SUBCASE("taking the lease fails: nothing to release") {
        CHECK(m.resume(failed(oauth::store_errc::lock_timeout)) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "locking the token store failed"));
    }
    SUBCASE("the store throws on lock") {
        CHECK(m.resume(threw("the lock server is down")) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "the lock server is down"));
    }
    SUBCASE("reading fails: the lease is released, nothing sent") {
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(failed(oauth::store_errc::corrupt)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "reading the token store failed"));
        CHECK(b.s.stats.refresh_requests == 0);
    }
    SUBCASE("saving conflicts: token_store_failed; the token is kept and saved next time") {
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::refresh);
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.resume(failed(oauth::store_errc::conflict)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "saving the token failed"));
        CHECK(b.s.current->access_token == secret("A2"));
        CHECK(!b.s.saved);

        refresh_fsm next(b.s);
        CHECK(next.resume(ok()) == refresh_action::save);
        CHECK(next.expected_version() == 1);
        CHECK(next.resume(saved(2)) == refresh_action::done);
        CHECK(!next.outcome().ec);
        CHECK(next.outcome().value.access_token == secret("A2"));
        CHECK(b.s.stats.refresh_requests == 1);
    }
    SUBCASE("the store throws on save") {
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::refresh);
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.resume(threw("the disk is full")) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::token_store_failed);
        CHECK(mentions(m, "the disk is full"));
    }
}

TEST_CASE("invalid_grant without a store: never sent again until a new token arrives") {
    bench b(false);
    b.hold(token("A1", "R1", t_start));
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::refresh);
    CHECK(m.resume(invalid_grant(b.now)) == refresh_action::done);
    CHECK(m.outcome().ec == oauth_errc::invalid_grant);
    CHECK(m.outcome().diag.error == "invalid_grant");
    REQUIRE(b.s.rejected_refresh);
    CHECK(*b.s.rejected_refresh == secret("R1"));

    for (int i = 0; i < 3; ++i) {
        refresh_fsm later(b.s);
        CHECK(later.resume(ok()) == refresh_action::done);
        CHECK(later.outcome().ec == errc::reauthorization_required);
        CHECK(mentions(later, "refresh token was rejected"));
    }
    CHECK(b.s.ask(secret("A1")) == serve::wait); // forced: fails the same way
    refresh_fsm forced(b.s);
    CHECK(forced.resume(ok()) == refresh_action::done);
    CHECK(forced.outcome().ec == errc::reauthorization_required);
    CHECK(b.s.stats.refresh_requests == 1);

    // A new authorization revives the source.
    b.hold(token("A2", "R2", b.now));
    b.now += 3601s;
    refresh_fsm revived(b.s);
    CHECK(revived.resume(ok()) == refresh_action::refresh);
    CHECK(revived.resume(issued("A3", "R3", b.now)) == refresh_action::done);
    CHECK(!revived.outcome().ec);
}

TEST_CASE("invalid_grant with a store: the store is read again") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);
    CHECK(m.resume(locked()) == refresh_action::load);
    CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
          refresh_action::refresh);
    CHECK(m.resume(invalid_grant(b.now)) == refresh_action::load);

    SUBCASE("another process rotated the refresh token: its token is adopted") {
        CHECK(m.resume(loaded(oauth::stored_token{token("B1", "RB", b.now), 2})) ==
              refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(!m.outcome().ec);
        CHECK(m.outcome().value.access_token == secret("B1"));
        CHECK(b.s.stats.adopted == 1);
    }
    SUBCASE("nothing newer: invalid_grant; later calls read the store, without lease or request") {
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == oauth_errc::invalid_grant);

        refresh_fsm later(b.s);
        CHECK(later.resume(ok()) == refresh_action::load);
        CHECK(later.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::done);
        CHECK(later.outcome().ec == errc::reauthorization_required);

        refresh_fsm failing(b.s);
        CHECK(failing.resume(ok()) == refresh_action::load);
        CHECK(failing.resume(failed(oauth::store_errc::corrupt)) == refresh_action::done);
        CHECK(failing.outcome().ec == errc::token_store_failed);

        // Another process authorizes the user again and stores the new token.
        refresh_fsm revived(b.s);
        CHECK(revived.resume(ok()) == refresh_action::load);
        CHECK(revived.resume(loaded(oauth::stored_token{token("C1", "RC", b.now), 2})) ==
              refresh_action::done);
        CHECK(!revived.outcome().ec);
        CHECK(revived.outcome().value.access_token == secret("C1"));
        CHECK(b.s.stats.refresh_requests == 1);
    }
    SUBCASE("the store fails on that read: invalid_grant") {
        CHECK(m.resume(failed(oauth::store_errc::corrupt)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == oauth_errc::invalid_grant);
    }
}

TEST_CASE("a token without a refresh token") {
    bench b(false);
    b.hold(token("I1", "", t_start));
    SUBCASE("in its margin: handed out, nothing sent") {
        b.now = t_start + 3600s - 30s;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(!m.outcome().ec);
        CHECK(m.outcome().value.access_token == secret("I1"));
    }
    SUBCASE("expired: reauthorization_required, nothing sent") {
        b.now = t_start + 3600s;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::reauthorization_required);
        CHECK(mentions(m, "no refresh token"));
    }
    SUBCASE("forced: reauthorization_required") {
        CHECK(b.s.ask(secret("I1")) == serve::wait);
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == errc::reauthorization_required);
        CHECK(!b.s.force); // cleared at the end of the flight
    }
    CHECK(b.s.stats.refresh_requests == 0);
}

TEST_CASE("a forced refresh") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    REQUIRE(b.s.ask(secret("A1")) == serve::wait);

    SUBCASE("a valid token is refreshed; the force is then cleared") {
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::refresh);
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.resume(saved(2)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().value.access_token == secret("A2"));
        CHECK(!b.s.force);
        CHECK(b.s.ask(secret("A1")) == serve::now);
    }
    SUBCASE("asked during a round that saved the token: a second round refreshes it") {
        b.s.saved = false;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::save);
        CHECK(m.resume(saved(2)) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 2})) ==
              refresh_action::refresh);
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.resume(saved(3)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().value.access_token == secret("A2"));
    }
    SUBCASE("at most two rounds, even if the force still matches") {
        b.s.saved = false;
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::save);
        CHECK(m.resume(saved(2)) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 2})) ==
              refresh_action::refresh);
        b.s.force = secret("A2"); // another 401, on the new token, while it was refreshed
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.resume(saved(3)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().value.access_token == secret("A2"));
        CHECK(b.s.stats.refresh_requests == 1);
    }
    SUBCASE("forced during the flight, after the round decided: another round") {
        b.s.force.reset();
        b.now = t_start + 3600s - 30s; // due: refreshed in the background
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("B1", "RB", b.now), 2})) ==
              refresh_action::unlock);
        b.s.force = secret("B1"); // the API refused the adopted token meanwhile
        CHECK(m.resume(ok()) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("B1", "RB", b.now), 2})) ==
              refresh_action::refresh);
        CHECK(m.resume(issued("B2", "RB2", b.now)) == refresh_action::save);
        CHECK(m.resume(saved(3)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().value.access_token == secret("B2"));
    }
}

TEST_CASE("the source destroyed: no request, the lease released, a sent refresh still saved") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);

    SUBCASE("before the flight, without a store") {
        b.s.has_store = false;
        b.s.closed = true;
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == boost::asio::error::operation_aborted);
        CHECK(b.s.stats.refresh_requests == 0);
    }
    SUBCASE("while it waited for the lease") {
        CHECK(m.resume(ok()) == refresh_action::lock);
        b.s.closed = true;
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == boost::asio::error::operation_aborted);
        CHECK(b.s.stats.refresh_requests == 0);
    }
    SUBCASE("while it read the store") {
        CHECK(m.resume(ok()) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        b.s.closed = true;
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
        CHECK(m.outcome().ec == boost::asio::error::operation_aborted);
        CHECK(b.s.stats.refresh_requests == 0);
    }
    SUBCASE("during the request: its token is saved (a rotated refresh token is not lost)") {
        CHECK(m.resume(ok()) == refresh_action::lock);
        CHECK(m.resume(locked()) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::refresh);
        b.s.closed = true;
        CHECK(m.resume(issued("A2", "R2", b.now)) == refresh_action::save);
        CHECK(m.to_save().access_token == secret("A2"));
        CHECK(m.resume(saved(2)) == refresh_action::unlock);
        CHECK(m.resume(ok()) == refresh_action::done);
    }
}

TEST_CASE("an exception while an action runs fails the flight; the lease is released") {
    bench b;
    b.hold(token("A1", "R1", t_start), 1);
    b.now = t_start + 3601s;
    refresh_fsm m(b.s);
    CHECK(m.resume(ok()) == refresh_action::lock);

    SUBCASE("before the lease: done at once") {
        CHECK(m.fail(std::make_exception_ptr(std::bad_alloc())) == refresh_action::done);
        CHECK(m.outcome().ec == boost::system::errc::not_enough_memory);
    }
    SUBCASE("under the lease: unlock, then done") {
        CHECK(m.resume(locked(9)) == refresh_action::load);
        CHECK(m.resume(loaded(oauth::stored_token{token("A1", "R1", t_start), 1})) ==
              refresh_action::refresh);
        CHECK(m.fail(std::make_exception_ptr(std::runtime_error("boom"))) ==
              refresh_action::unlock);
        CHECK(m.lease().id == 9);
        SUBCASE("released") {
            CHECK(m.resume(ok()) == refresh_action::done);
        }
        SUBCASE("the release throws too: done, with the first error") {
            CHECK(m.fail(std::make_exception_ptr(std::bad_alloc())) == refresh_action::done);
        }
        CHECK(m.outcome().ec == boost::system::errc::state_not_recoverable);
        CHECK(mentions(m, "boom"));
        CHECK(!b.s.force);
    }
    SUBCASE("a system_error: its code") {
        CHECK(m.fail(std::make_exception_ptr(boost::system::system_error(errc::timeout))) ==
              refresh_action::done);
        CHECK(m.outcome().ec == errc::timeout);
    }
}

TEST_CASE("the clock offset comes from the token endpoint's Date header") {
    const auto server_ahead = 3600s;
    auto date = floor<seconds>(t_start + 30s) + server_ahead;

    SUBCASE("use_server_date: expiry on the server's clock") {
        bench b(false);
        b.hold(token("A1", "R1", t_start - 2h));
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::refresh);
        auto in = issued("A2", "R2", t_start + 30s);
        in.reply.server_date = date;
        CHECK(m.resume(std::move(in)) == refresh_action::done);
        CHECK(b.s.offset == server_ahead);
        REQUIRE(m.outcome().value.expires_at);
        CHECK(*m.outcome().value.expires_at == date + 3600s);
        CHECK(b.s.server_now() == t_start + server_ahead);
    }
    SUBCASE("without use_server_date: the local clock") {
        oauth::token_source_options o;
        o.use_server_date = false;
        bench b(false, o);
        b.hold(token("A1", "R1", t_start - 2h));
        refresh_fsm m(b.s);
        CHECK(m.resume(ok()) == refresh_action::refresh);
        auto in = issued("A2", "R2", t_start + 30s);
        in.reply.server_date = date;
        CHECK(m.resume(std::move(in)) == refresh_action::done);
        CHECK(b.s.offset == system_clock::duration::zero());
        CHECK(*m.outcome().value.expires_at == floor<seconds>(t_start + 30s) + 3600s);
    }
}
