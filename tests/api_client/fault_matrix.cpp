// The fault matrix over real TCP on loopback: every endpoint's answer, the token refresh's
// included, cut by the sandbox after each byte offset in turn. A call then fails with
// connection_closed, or succeeds with the right answer when the cut left nothing to miss (or
// after a replay that the rules allow); it never succeeds with a wrong one.
#include "api_client/fixture.hpp"

#include <functional>

namespace apit {
namespace {

using sandbox::endpoint;
using client_type = api::basic_client<tcp_stream>;

// What a call returned: its error, or what identifies a right answer.
struct result {
    error_code ec;
    std::string seen;
};

// One row of the matrix: the endpoint whose answer is cut, a call that reaches it, and the
// error a replay gives when the server did process the request cut before its first byte.
struct row {
    const char* name;
    endpoint cut;
    std::function<asio::awaitable<result>(client_type&)> call;
    error_code replayed{};
};

// `op(token)`'s error, and `describe(value)` on success.
template <class Op, class Describe>
asio::awaitable<result> observe(Op op, Describe describe) {
    auto r = co_await op(asio::as_tuple(asio::use_awaitable));
    result out{std::get<0>(r), {}};
    if (!out.ec)
        out.seen = describe(std::get<1>(r));
    co_return out;
}

struct sweep_counts {
    std::size_t offsets = 0;   // offsets tried
    std::size_t failures = 0;  // calls that failed with connection_closed
    std::size_t successes = 0; // calls that succeeded with the right answer
};

// Cuts `r.cut`'s answer after 0, 1, 2... bytes until eight offsets in a row leave the answer
// whole, checking every call. `before` runs ahead of each call, without a fault.
sweep_counts sweep(env<tcp_stream>& e, client_type& client, const row& r, const std::string& right,
                   const std::function<void()>& before = {}) {
    CAPTURE(r.name);
    sweep_counts n;
    std::size_t whole_in_a_row = 0;
    for (std::size_t k = 0; whole_in_a_row < 8 && k < 8192; ++k) {
        if (before)
            before();
        sandbox::fault f;
        f.close_after_bytes = k;
        f.times = 1;
        e.srv.set_fault(r.cut, f);
        auto got = e.run(r.call(client));
        ++n.offsets;
        if (got.ec) {
            const bool replayed = k == 0 && r.replayed && got.ec == r.replayed;
            CHECK_MESSAGE((got.ec == errc::connection_closed || replayed), "offset ", k, ": ",
                          got.ec.message());
            ++n.failures;
            whole_in_a_row = 0;
        } else {
            CHECK_MESSAGE(got.seen == right, "offset ", k);
            ++n.successes;
            if (k > 0)
                ++whole_in_a_row;
        }
        e.srv.clear_faults();
    }
    return n;
}

TEST_CASE("fault matrix: every endpoint's answer cut at every byte offset, over TCP") {
    env<tcp_stream> e;
    client_type client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client, "user_info scheduler start_meeting");
    const auto start = std::chrono::floor<std::chrono::seconds>(*e.now) + std::chrono::hours(24);
    api::meeting_draft draft;
    draft.meeting_name = "Matrix";
    draft.meeting_start = start;
    draft.meeting_end = start + std::chrono::hours(1);
    const auto kept = e.run(client.async_schedule_meeting(draft)).meeting_id;
    std::int64_t doomed = 0; // a meeting scheduled for each delete

    auto user = [](const api::user& u) { return u.email; };
    auto meeting = [](const api::meeting& m) { return m.meeting_name; };
    auto started = [](const api::start_result& s) {
        return std::string(s.presenter_link.empty() ? "no link" : "link");
    };
    api::meeting_patch patch;
    patch.meeting_name = "Matrix";
    std::vector<row> rows = {
        {"get user", endpoint::get_user,
         [&](client_type& c) {
             return observe([&](auto t) { return c.async_get_user(std::move(t)); }, user);
         }},
        {"list meetings", endpoint::list_meetings,
         [&](client_type& c) {
             return observe([&](auto t) { return c.async_list_meetings({}, std::move(t)); },
                            [](const std::vector<api::meeting>& v) {
                                return std::to_string(v.size()) + " " + v.at(0).meeting_name;
                            });
         }},
        {"get meeting", endpoint::get_meeting,
         [&](client_type& c) {
             return observe([&](auto t) { return c.async_get_meeting(kept, std::move(t)); },
                            meeting);
         }},
        {"update meeting", endpoint::update_meeting,
         [&](client_type& c) {
             return observe(
                 [&](auto t) { return c.async_update_meeting(kept, patch, std::move(t)); },
                 meeting);
         }},
        {"start scheduled meeting", endpoint::start_scheduled,
         [&](client_type& c) {
             return observe(
                 [&](auto t) { return c.async_start_scheduled_meeting(kept, {}, std::move(t)); },
                 started);
         }},
        {"start meeting", endpoint::start_meeting,
         [&](client_type& c) {
             return observe([&](auto t) { return c.async_start_meeting({}, std::move(t)); },
                            started);
         }},
    };
    const std::vector<std::string> right = {"pro@example.com", "1 Matrix", "Matrix",
                                            "Matrix",          "link",     "link"};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto n = sweep(e, client, rows[i], right[i]);
        // Each answer is some hundreds of bytes, every one of which was a place to cut.
        CHECK(n.failures > 100);
        CHECK(n.successes >= 8);
    }

    // Answers of requests that are not replayed: schedule and delete.
    row schedule{"schedule meeting", endpoint::schedule_meeting, [&](client_type& c) {
                     return observe(
                         [&](auto t) { return c.async_schedule_meeting(draft, std::move(t)); },
                         meeting);
                 }};
    CHECK(sweep(e, client, schedule, "Matrix").failures > 100);
    row del{"delete meeting", endpoint::delete_meeting,
            [&](client_type& c) -> asio::awaitable<result> {
                auto [ec] =
                    co_await c.async_delete_meeting(doomed, asio::as_tuple(asio::use_awaitable));
                co_return result{ec, ec ? "" : "deleted"};
            },
            // DELETE is idempotent: sent again when its answer was cut before the first byte,
            // and the meeting the first one deleted is gone.
            errc::not_found};
    auto deleted = sweep(e, client, del, "deleted",
                         [&] { doomed = e.run(client.async_schedule_meeting(draft)).meeting_id; });
    CHECK(deleted.failures > 20);

    // The token refresh a call makes: each call, signed in afresh, finds its token expired and
    // refreshes first. A refresh the sandbox processed has burnt its refresh token even when
    // its answer was cut, so the replay of one cut before its first byte gets invalid_grant:
    // what the call would have got at its next refresh without the replay.
    row refresh{"refresh, then get user", endpoint::token, rows[0].call, oauth_errc::invalid_grant};
    auto before_refresh = e.refreshes();
    auto n = sweep(e, client, refresh, "pro@example.com", [&] {
        e.login(client, "user_info scheduler start_meeting");
        e.advance(2h);
    });
    CHECK(n.failures > 100);
    CHECK(e.refreshes() - before_refresh >= n.offsets);
}

TEST_CASE("fault matrix: presenters, cut at every byte offset, over TCP") {
    env<tcp_stream> e;
    client_type client(e.ioc.get_executor(), e.ctx, e.config(sandbox::default_business_client_id));
    e.login(client, "user_info provisioning", "admin@example.com");
    auto list = e.run(client.async_list_presenters());
    REQUIRE(list.size() == 1);
    const auto id = list[0].id;
    auto email = [](const api::presenter& p) { return p.email; };
    row get{"get presenter", endpoint::get_presenter, [&](client_type& c) {
                return observe([&](auto t) { return c.async_get_presenter(id, std::move(t)); },
                               email);
            }};
    row all{"list presenters", endpoint::list_presenters, [&](client_type& c) {
                return observe([&](auto t) { return c.async_list_presenters(std::move(t)); },
                               [](const std::vector<api::presenter>& v) { return v.at(0).email; });
            }};
    for (const auto* r : {&get, &all}) {
        auto n = sweep(e, client, *r, "hardworker@example.com");
        CHECK(n.failures > 100);
    }
}

} // namespace
} // namespace apit
