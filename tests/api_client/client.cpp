// basic_client around its calls: the authorization behaviour (one refresh and one replay,
// single flight under load), rate limits, cancellation, lifetime, bodies that are not the
// model, its configuration (base URL, environments), any_client, and the sans-I/O response
// check.
#include "api_client/fixture.hpp"
#include "support/http_server.hpp"

#include <algorithm>

namespace apit {
namespace {

using sandbox::endpoint;

api::user get_user_ok(env<memory_stream>& e, api::basic_client<memory_stream>& c) {
    auto r = attempt<api::user>(
        e, [&](diagnostics& d, auto t) { return c.async_get_user(d, std::move(t)); });
    REQUIRE_MESSAGE(!r.ec, r.ec.message(), " ", r.diag);
    // Nothing of a rejection or of a refresh on the way is left behind.
    CHECK(r.diag.empty());
    return r.value;
}

TEST_CASE("api client: a rejected token is refreshed once and the call replayed") {
    env<memory_stream> e;
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, e.config());
    auto token = e.login(client);
    auto get_user = [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); };

    SUBCASE("expired by the sandbox during the call") {
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        CHECK(get_user_ok(e, client).email == "pro@example.com");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
        CHECK(client.stats().rejected_tokens == 1);
        CHECK(client.stats().replays == 1);
        REQUIRE(client.token_source().current_token());
        CHECK(!(client.token_source().current_token()->access_token == token.access_token));
        // The new token is used from now on, without another refresh.
        (void)get_user_ok(e, client);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 3);
    }

    SUBCASE("expired with the expire-access endpoint") {
        auto msg = e.run(
            oauth::async_expire_access(client.pool(), client.config().oauth, token.access_token));
        CHECK(msg == "Access Token Expired");
        CHECK(get_user_ok(e, client).email == "pro@example.com");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
    }

    SUBCASE("expired by the clock: refreshed before the call, no rejection") {
        e.advance(std::chrono::hours(2));
        (void)get_user_ok(e, client);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 1);
        CHECK(client.stats().rejected_tokens == 0);
    }

    SUBCASE("the refresh fails too: the call fails with the refresh's error") {
        REQUIRE(e.srv.revoke_refresh_token(token.refresh_token.reveal()));
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == oauth_errc::invalid_grant);
        CHECK(r.diag.status == 400);
        CHECK(r.diag.error == "invalid_grant");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 1);
        CHECK(client.stats().replays == 0);
        auto text = r.diag.to_string();
        CHECK(text.find(token.access_token.reveal()) == std::string::npos);
        CHECK(text.find(token.refresh_token.reveal()) == std::string::npos);
    }

    SUBCASE("the refresh fails with a server error") {
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        sandbox::fault f;
        f.status = 500;
        e.srv.set_fault(endpoint::token, f);
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == oauth_errc::server_error);
        CHECK(r.diag.status == 500);
        CHECK(e.requests(endpoint::get_user) == 1);
    }

    SUBCASE("a token without refresh token is not refreshed") {
        auto t = token;
        t.refresh_token = secret();
        client.set_token(t);
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::reauthorization_required);
        CHECK(e.refreshes() == 0);
    }

    SUBCASE("rejected again after the replay: reported, never a second refresh") {
        sandbox::fault f;
        f.status = 401;
        f.times = 2;
        e.srv.set_fault(endpoint::get_user, f);
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::invalid_token);
        CHECK(r.diag.status == 401);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
        CHECK(client.stats().replays == 1);
    }

    SUBCASE("a replacement made by another refresh and rejected too: refreshed for the call") {
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        sandbox::fault slow; // the rejection comes back after the refresh below
        slow.latency = 100ms;
        slow.times = 1;
        e.srv.set_fault(endpoint::get_user, slow);
        std::optional<outcome<api::user>> r;
        asio::co_spawn(
            e.ioc,
            [&]() -> asio::awaitable<void> {
                outcome<api::user> out;
                auto [ec, u] =
                    co_await client.async_get_user(out.diag, asio::as_tuple(asio::use_awaitable));
                out.ec = ec;
                out.value = std::move(u);
                r = std::move(out);
            },
            asio::detached);
        // Meanwhile another refresh makes a new current token, which the server expires too.
        auto other = e.run(oauth::async_refresh(client.pool(), client.config().oauth, token));
        REQUIRE(e.srv.expire_access_token(other.access_token.reveal()));
        client.set_token(other);
        REQUIRE(!r);
        REQUIRE(run_until(
            e.ioc, [&] { return r.has_value(); }, 10s));
        REQUIRE_MESSAGE(!r->ec, r->ec.message(), " ", r->diag);
        CHECK(r->value.email == "pro@example.com");
        CHECK(client.stats().rejected_tokens == 2);
        CHECK(client.stats().replays == 2);
        CHECK(e.refreshes() == 2); // the other one, then the call's own
        CHECK(e.requests(endpoint::get_user) == 3);
    }

    SUBCASE("the throwing form throws the refresh's error") {
        REQUIRE(e.srv.revoke_refresh_token(token.refresh_token.reveal()));
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        try {
            (void)e.run(client.async_get_user());
            FAIL("no exception");
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == oauth_errc::invalid_grant);
            CHECK(ex.get_diagnostics().error == "invalid_grant");
            CHECK(std::string(ex.what()).find(token.refresh_token.reveal()) == std::string::npos);
        }
    }

    SUBCASE("the throwing form, awaited from a strand, throws it with its diagnostics too") {
        REQUIRE(e.srv.revoke_refresh_token(token.refresh_token.reveal()));
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        std::optional<error_code> code;
        diagnostics got;
        asio::co_spawn(
            asio::make_strand(e.ioc),
            [&]() -> asio::awaitable<void> {
                try {
                    co_await client.async_get_user();
                    code = error_code{};
                } catch (const joinme::error_with_diagnostics& ex) {
                    code = ex.code();
                    got = ex.get_diagnostics();
                }
            },
            asio::detached);
        REQUIRE(run_until(e.ioc, [&] { return code.has_value(); }));
        CHECK(*code == oauth_errc::invalid_grant);
        CHECK(got.error == "invalid_grant");
    }
}

// Starts `n` get-user calls at once, from coroutines on one strand, and waits for all.
template <class Stream>
std::size_t concurrent_get_user(env<Stream>& e, api::basic_client<Stream>& client, std::size_t n) {
    auto strand = asio::make_strand(e.ioc);
    std::size_t ok = 0, done = 0;
    for (std::size_t i = 0; i < n; ++i)
        asio::co_spawn(
            strand,
            [](api::basic_client<Stream>& c) -> asio::awaitable<bool> {
                diagnostics d;
                auto [ec, u] = co_await c.async_get_user(d, asio::as_tuple(asio::use_awaitable));
                co_return !ec && u.email == "pro@example.com";
            }(client),
            [&](std::exception_ptr ex, bool good) {
                ++done;
                ok += (!ex && good) ? 1 : 0;
            });
    REQUIRE(run_until(
        e.ioc, [&] { return done == n; }, 120s));
    return ok;
}

TEST_CASE_TEMPLATE("api client: 1000 concurrent calls, one refresh", Stream, memory_stream,
                   tls_stream) {
    env<Stream> e;
    api::basic_client<Stream> client(e.ioc.get_executor(), e.ctx, e.config());
    auto token = e.login(client);
    const auto limit = client.config().pool.max_connections_per_origin;
    e.srv.reset_counters();

    SUBCASE("the API rejects the token mid-flight") {
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        CHECK(concurrent_get_user(e, client, 1000) == 1000);
        CHECK(e.refreshes() == 1);
        CHECK(e.srv.stats().tokens_issued_refresh_token == 1);
        CHECK(e.requests(endpoint::get_user) <= 2000);
        CHECK(e.requests(endpoint::get_user) > 1000);
    }

    SUBCASE("the token expired by the clock") {
        e.advance(std::chrono::hours(2));
        CHECK(concurrent_get_user(e, client, 1000) == 1000);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 1000);
    }

    // Connections are kept alive and never dropped here, so every accepted connection was
    // open at the end: the pool never held more than its limit.
    CHECK(e.srv.stats().connections_accepted <= limit);
    CHECK(client.pool().stats().connections_opened <= limit);
}

TEST_CASE("api client: rate limits") {
    env<memory_stream> e;
    // The event's path is a view valid during the callback only: keep a copy.
    struct event {
        boost::beast::http::verb method;
        std::string path;
        unsigned status;
        unsigned attempt;
    };
    std::vector<event> events;
    auto cfg = e.config();
    cfg.pool.on_request = [&events](const joinme::http::request_event& ev) {
        events.push_back({ev.method, std::string(ev.path), ev.status, ev.attempt});
    };
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, cfg);
    e.login(client);
    events.clear();
    auto get_user = [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); };

    SUBCASE("over-QPS 403: success after the wait") {
        sandbox::fault f;
        f.status = 403;
        f.times = 2;
        e.srv.set_fault(endpoint::get_user, f);
        auto before = *e.now;
        (void)get_user_ok(e, client);
        CHECK(*e.sleeps == std::vector<std::chrono::milliseconds>{1000ms, 1000ms});
        CHECK(*e.now - before == 2s);
        CHECK(e.requests(endpoint::get_user) == 3);
        REQUIRE(events.size() == 3);
        CHECK(events[0].status == 403);
        CHECK(events[0].path == "/v1/user");
        CHECK(events[2].attempt == 3);
        CHECK(events[2].status == 200);
    }

    SUBCASE("the sandbox's own QPS limit") {
        e.srv.config().qps_limit = 1;
        (void)get_user_ok(e, client);
        (void)get_user_ok(e, client); // same second: over the limit, then after the wait
        CHECK(e.sleeps->size() == 1);
        CHECK(e.requests(endpoint::get_user) == 3);
    }

    SUBCASE("429 with Retry-After: success after the wait") {
        sandbox::fault f;
        f.status = 429;
        f.retry_after = "2";
        f.times = 1;
        e.srv.set_fault(endpoint::get_user, f);
        (void)get_user_ok(e, client);
        CHECK(*e.sleeps == std::vector<std::chrono::milliseconds>{2000ms});
    }

    SUBCASE("gives up after the configured attempts") {
        sandbox::fault f;
        f.status = 429;
        e.srv.set_fault(endpoint::get_user, f);
        auto r = attempt<api::user>(e, get_user);
        CHECK(r.ec == errc::rate_limited);
        CHECK(r.diag.status == 429);
        CHECK(r.diag.retry_after == std::optional<std::chrono::seconds>(1s));
        CHECK(e.requests(endpoint::get_user) == client.config().pool.retry.max_attempts);
        CHECK(e.sleeps->size() == client.config().pool.retry.max_attempts - 1);

        sandbox::fault q;
        q.status = 403;
        e.srv.set_fault(endpoint::get_user, q);
        auto r2 = attempt<api::user>(e, get_user);
        CHECK(r2.ec == errc::rate_limited);
        CHECK(r2.diag.mashery_error_code == "ERR_403_DEVELOPER_OVER_QPS");
        CHECK(r2.diag.error_detail_header == "Account Over Queries Per Second Limit");
    }

    SUBCASE("no event carries a token") {
        (void)get_user_ok(e, client);
        REQUIRE(events.size() == 1);
        CHECK(events[0].path == "/v1/user");
        CHECK(events[0].method == boost::beast::http::verb::get);
    }
}

TEST_CASE("api client: cancellation") {
    env<memory_stream> e;
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client);
    sandbox::fault f;
    f.never_answer = true;
    f.times = 1;
    e.srv.set_fault(endpoint::get_user, f);

    asio::cancellation_signal signal;
    std::optional<error_code> result;
    diagnostics diag;
    client.async_get_user(diag, asio::bind_cancellation_slot(
                                    signal.slot(), [&](error_code ec, api::user) { result = ec; }));
    REQUIRE(run_until(e.ioc, [&] { return e.requests(endpoint::get_user) == 1; }));
    CHECK(!result);
    signal.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(e.ioc, [&] { return result.has_value(); }));
    CHECK(*result == asio::error::operation_aborted);
    // The client works on afterwards.
    CHECK(get_user_ok(e, client).email == "pro@example.com");
}

TEST_CASE("api client: calls beyond eight per connection wait their turn in the client's line, "
          "within their deadline, cancellable") {
    env<memory_stream> e;
    auto cfg = e.config();
    cfg.pool.max_connections_per_origin = 1; // eight calls at once in the pool
    cfg.call_timeout = 1s;
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, cfg);
    e.login(client);
    sandbox::fault f;
    f.never_answer = true;
    f.times = 1;
    e.srv.set_fault(endpoint::get_user, f);
    using clock = std::chrono::steady_clock;

    // The first call hangs on the connection, seven wait for it in the pool's line.
    std::vector<std::optional<error_code>> hung(8);
    std::vector<diagnostics> hung_diag(8);
    for (std::size_t i = 0; i < hung.size(); ++i)
        client.async_get_user(hung_diag[i], [&, i](error_code ec, api::user) { hung[i] = ec; });
    REQUIRE(run_until(e.ioc, [&] { return e.requests(endpoint::get_user) == 1; }));

    // The ninth waits in the client's line, until its own deadline.
    auto start = clock::now();
    std::optional<error_code> ninth;
    diagnostics ninth_diag;
    client.async_get_user(
        ninth_diag, joinme::timeout_after(100ms, [&](error_code ec, api::user) { ninth = ec; }));
    // The tenth waits behind it and is cancelled.
    asio::cancellation_signal signal;
    std::optional<error_code> tenth;
    diagnostics tenth_diag;
    client.async_get_user(
        tenth_diag,
        asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, api::user) { tenth = ec; }));
    // An eleventh, with the default token and no diagnostics of the caller's: its exception
    // carries them all the same.
    std::optional<error_code> eleventh;
    std::string eleventh_message;
    asio::co_spawn(
        e.ioc,
        [&]() -> asio::awaitable<void> {
            try {
                co_await client.async_get_user(joinme::timeout_after(100ms));
                eleventh = error_code{};
            } catch (const joinme::error_with_diagnostics& x) {
                eleventh = x.code();
                eleventh_message = x.get_diagnostics().client_message;
            }
        },
        asio::detached);
    REQUIRE(run_until(e.ioc, [&] { return ninth.has_value() && eleventh.has_value(); }));
    auto took = clock::now() - start;
    CHECK(*eleventh == errc::pool_exhausted);
    CHECK(eleventh_message.find("turn") != std::string::npos);
    CHECK(*ninth == errc::pool_exhausted);
    CHECK(ninth_diag.client_message.find("turn") != std::string::npos);
    CHECK(took >= 100ms);
    CHECK(took < 900ms);
    CHECK(!tenth);
    signal.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(e.ioc, [&] { return tenth.has_value(); }));
    CHECK(*tenth == asio::error::operation_aborted);
    CHECK(e.requests(endpoint::get_user) == 1); // no other call reached the API yet

    // The first ends at the client's deadline, and the others within theirs; the client works
    // on.
    REQUIRE(run_until(e.ioc, [&] {
        return std::all_of(hung.begin(), hung.end(), [](auto& r) { return r.has_value(); });
    }));
    CHECK(*hung[0] == errc::timeout);
    e.srv.clear_faults();
    CHECK(get_user_ok(e, client).email == "pro@example.com");
}

TEST_CASE("api client: destroyed while a call runs") {
    env<memory_stream> e;
    auto client =
        std::make_unique<api::basic_client<memory_stream>>(e.ioc.get_executor(), e.ctx, e.config());
    e.login(*client);
    sandbox::fault f;
    f.latency = 20ms;
    f.times = 1;
    e.srv.set_fault(endpoint::get_user, f);
    std::optional<error_code> result;
    std::string email;
    diagnostics diag;
    client->async_get_user(diag, [&](error_code ec, api::user u) {
        result = ec;
        email = u.email;
    });
    REQUIRE(run_until(e.ioc, [&] { return e.requests(endpoint::get_user) == 1; }));
    client.reset();
    REQUIRE(run_until(e.ioc, [&] { return result.has_value(); }));
    CHECK(!*result);
    CHECK(email == "pro@example.com");
}

TEST_CASE("api client: a 2xx body that is not the model is malformed_response") {
    // A scripted server on in-memory streams answers what the sandbox never would.
    asio::io_context ioc;
    auto behaviour = std::make_shared<test_support::server_behaviour>();
    auto counters = std::make_shared<test_support::server_counters>();
    std::string body;
    unsigned status = 200;
    behaviour->handler = [&](const test_support::request& req) {
        CHECK(req[boost::beast::http::field::authorization] == "Bearer scripted-access");
        CHECK(req[boost::beast::http::field::accept] == "application/json");
        // Content-Type only on requests with a body.
        CHECK((req.find(boost::beast::http::field::content_type) != req.end()) ==
              !req.body().empty());
        test_support::response res{static_cast<boost::beast::http::status>(status), 11};
        res.set(boost::beast::http::field::content_type, "application/json");
        res.body() = body;
        return res;
    };
    joinme::test_stream_connector connect = [behaviour, counters](const asio::any_io_executor& ex) {
        beast::test::stream client(ex);
        auto server = std::make_shared<beast::test::stream>(ex);
        client.connect(*server);
        asio::co_spawn(
            ex,
            [](std::shared_ptr<beast::test::stream> s, auto b, auto c) -> asio::awaitable<void> {
                co_await test_support::serve_http(*s, b, c);
            }(server, behaviour, counters),
            asio::detached);
        return client;
    };
    api::client_config cfg;
    cfg.set_base_url("https://api.example.com/");
    api::basic_client<memory_stream> client(ioc.get_executor(), connect, cfg);
    oauth::token t;
    t.access_token = secret("scripted-access");
    client.set_token(t);
    auto get_meeting = [&](diagnostics& d, auto tok) {
        return client.async_get_meeting(7, d, std::move(tok));
    };
    auto go = [&] {
        return run(ioc, [](auto op) -> asio::awaitable<outcome<api::meeting>> {
            outcome<api::meeting> out;
            auto [ec, v] = co_await op(out.diag, asio::as_tuple(asio::use_awaitable));
            out.ec = ec;
            out.value = std::move(v);
            co_return out;
        }(get_meeting));
    };

    body = R"({"meetingId": "7", "meetingName": "x"})";
    auto r = go();
    CHECK(r.ec == errc::malformed_response);
    CHECK(r.diag.status == 200);
    CHECK(r.diag.client_message.find("meetingId") != std::string::npos);

    body = "<html>";
    status = 202; // any 2xx is a success: the body decides
    r = go();
    CHECK(r.ec == errc::malformed_response);

    body = R"({"meetingId": 7, "meetingName": "x", "meetingStart": "2030-01-01T10:00:00+01:00",
               "meetingEnd": "2030-01-01T10:00:00Z", "startWithPersonalUrl": "true",
               "someNewField": [1, 2]})";
    r = go();
    REQUIRE_MESSAGE(!r.ec, r.diag);
    CHECK(r.value.meeting_id == 7);
    CHECK(r.value.start_with_personal_url);
    CHECK(r.value.meeting_end - r.value.meeting_start == 1h);
    CHECK(counters->requests == 3);

    // An API that quotes the request it rejects: the access token stays out of diagnostics.
    status = 400;
    body =
        R"({"Message": "no meeting for Bearer scripted-access", "ErrorCode": "scripted-access"})";
    r = go();
    CHECK(r.ec);
    CHECK(r.diag.message == "no meeting for Bearer [redacted]");
    CHECK(r.diag.error_code == "[redacted]");
    CHECK(r.diag.to_string().find("scripted-access") == std::string::npos);
}

TEST_CASE("api client: invalid base URL") {
    // `http:?` makes Boost.URL 1.81 assert unless joinme's guard refuses it first.
    for (const char* bad : {"not a url", "http:?", "x:[", "ftp://api.example.com"}) {
        CAPTURE(bad);
        env<memory_stream> e;
        auto cfg = e.config();
        cfg.api_base_url = bad;
        api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, cfg);
        e.login(client);
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        CHECK(r.ec == errc::invalid_url);
    }
}

TEST_CASE("api client: the API and the token endpoint in different environments is refused") {
    env<memory_stream> e;
    struct variant {
        const char* what;
        std::function<void(api::client_config&)> change;
        bool allowed;
    };
    const variant variants[] = {
        {"the API at a test server, OAuth at production join.me",
         [](api::client_config& c) { c.oauth = oauth::config{}; }, false},
        {"the API at production join.me, OAuth at a test server",
         [](api::client_config& c) { c.api_base_url = std::string(api::default_api_base_url); },
         false},
        {"only the expire-access endpoint at production join.me",
         [](api::client_config& c) {
             c.oauth.expire_access_url = std::string(oauth::default_expire_access_url);
         },
         false},
        {"mixed on purpose",
         [](api::client_config& c) {
             c.oauth.token_url = std::string(oauth::default_token_url);
             c.allow_mixed_environments = true;
         },
         true},
        {"one test server for both (set_base_url)",
         [&](api::client_config& c) { c.set_base_url(e.base); }, true},
    };
    for (const auto& v : variants) {
        CAPTURE(v.what);
        auto cfg = e.config();
        v.change(cfg);
        api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, cfg);
        oauth::token t;
        t.access_token = secret("seeded");
        client.set_token(t);
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        if (v.allowed) {
            CHECK(r.ec != errc::invalid_url);
        } else {
            CHECK(r.ec == errc::invalid_url);
            CHECK(r.diag.client_message.find("allow_mixed_environments") != std::string::npos);
            CHECK(e.srv.stats().connections_accepted == 0); // nothing was sent anywhere
        }
    }
}

TEST_CASE("any_client: the same client behind a type without the stream") {
    env<memory_stream> e;
    api::basic_client<memory_stream> basic(e.ioc.get_executor(), e.ctx, e.config());
    auto token = e.login(basic);
    api::any_client client = api::make_any_client(std::move(basic));

    SUBCASE("every endpoint of the scheduler, both forms") {
        auto u = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        REQUIRE_MESSAGE(!u.ec, u.diag);
        CHECK(u.value.email == "pro@example.com");

        api::meeting_draft draft;
        draft.meeting_name = "erased";
        draft.meeting_start = std::chrono::floor<std::chrono::seconds>(*e.now) + 24h;
        draft.meeting_end = draft.meeting_start + 1h;
        auto m = e.run(client.async_schedule_meeting(draft));
        CHECK(e.run(client.async_get_meeting(m.meeting_id)) == m);
        CHECK(e.run(client.async_list_meetings(api::meeting_list_filter{})).size() == 1);
        api::meeting_patch patch;
        patch.meeting_name = "renamed";
        CHECK(e.run(client.async_update_meeting(m.meeting_id, patch)).meeting_name == "renamed");
        CHECK(
            !e.run(client.async_start_scheduled_meeting(m.meeting_id, {})).presenter_link.empty());
        CHECK(!e.run(client.async_start_meeting(api::start_request{})).viewer_link.empty());
        auto del = attempt<none>(e, [&](diagnostics& d, auto t) {
            return client.async_delete_meeting(m.meeting_id, d, std::move(t));
        });
        REQUIRE_MESSAGE(!del.ec, del.diag);
        auto nf = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_get_meeting(m.meeting_id, d, std::move(t));
        });
        CHECK(nf.ec == errc::not_found);
        CHECK(nf.diag.message == "Meeting not found");
        try {
            e.run([](api::any_client& c, std::int64_t id) -> asio::awaitable<int> {
                co_await c.async_delete_meeting(id);
                co_return 0;
            }(client, m.meeting_id));
            FAIL("no exception");
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == errc::not_found);
            CHECK(ex.get_diagnostics().status == 404);
        }
        auto scope = attempt<std::vector<api::presenter>>(e, [&](diagnostics& d, auto t) {
            return client.async_list_presenters(d, std::move(t));
        });
        CHECK(scope.ec == errc::insufficient_scope);
        CHECK(attempt<api::presenter>(e, [&](diagnostics& d, auto t) {
                  return client.async_get_presenter(1, d, std::move(t));
              }).ec == errc::insufficient_scope);
        CHECK(attempt<api::presenter>(e, [&](diagnostics& d, auto t) {
                  return client.async_add_presenter(api::new_presenter{"x@example.com"}, d,
                                                    std::move(t));
              }).ec == errc::insufficient_scope);
    }

    SUBCASE("a rejected token: one refresh, replayed") {
        REQUIRE(e.srv.expire_access_token(token.access_token.reveal()));
        CHECK(e.run(client.async_get_user()).email == "pro@example.com");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
    }

    SUBCASE("stale token: the renew URL") {
        REQUIRE(e.srv.set_stale(token.access_token.reveal()));
        try {
            (void)e.run(client.async_get_user());
            FAIL("no exception");
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == errc::stale_token);
            CHECK(ex.get_diagnostics().error_code == "stale_token");
        }
        CHECK(client.renew_authorization_url().reveal().find("renewauthorization?") !=
              std::string::npos);
    }

    SUBCASE("a deferred operation starts when launched") {
        diagnostics d;
        auto op = client.async_get_user(d, asio::deferred);
        CHECK(e.requests(endpoint::get_user) == 0);
        std::optional<error_code> result;
        std::move(op)([&](error_code ec, api::user) { result = ec; });
        REQUIRE(run_until(e.ioc, [&] { return result.has_value(); }));
        CHECK(!*result);
        CHECK(e.requests(endpoint::get_user) == 1);
    }

    SUBCASE("cancellation crosses the erased handler") {
        sandbox::fault f;
        f.never_answer = true;
        f.times = 1;
        e.srv.set_fault(endpoint::get_user, f);
        asio::cancellation_signal signal;
        std::optional<error_code> result;
        diagnostics d;
        client.async_get_user(
            d, asio::bind_cancellation_slot(signal.slot(),
                                            [&](error_code ec, api::user) { result = ec; }));
        REQUIRE(run_until(e.ioc, [&] { return e.requests(endpoint::get_user) == 1; }));
        signal.emit(asio::cancellation_type::terminal);
        REQUIRE(run_until(e.ioc, [&] { return result.has_value(); }));
        CHECK(*result == asio::error::operation_aborted);
    }
}

joinme::http::response make_response(unsigned status, std::string body = {}) {
    joinme::http::response res{static_cast<boost::beast::http::status>(status), 11};
    res.body() = std::move(body);
    return res;
}

TEST_CASE("check_response maps join.me's answers") {
    diagnostics d;
    for (unsigned s : {200u, 201u, 202u, 204u, 299u}) {
        d.clear();
        CHECK(!api::check_response(make_response(s), d));
        CHECK(d.empty());
    }

    auto r = make_response(401, R"({"Message": "expired", "ErrorCode": "invalid_token"})");
    r.set(boost::beast::http::field::www_authenticate,
          R"(Bearer realm="api.join.me", error="invalid_token")");
    d.clear();
    CHECK(api::check_response(r, d) == errc::invalid_token);
    CHECK(d.message == "expired");
    CHECK(d.error_code == "invalid_token");

    auto faq = make_response(403);
    faq.set(boost::beast::http::field::www_authenticate,
            R"(Bearer realm="api.join.me", error_description="x, y", error="invalid_token")");
    d.clear();
    CHECK(api::check_response(faq, d) == errc::invalid_token);

    auto inactive = make_response(403);
    inactive.set(boost::beast::http::field::www_authenticate,
                 R"(Bearer realm="api.join.me", error="invalid_token")");
    inactive.set("X-Error-Detail-Header", "Account Inactive");
    inactive.set("X-Mashery-Error-Code", "ERR_403_DEVELOPER_INACTIVE");
    d.clear();
    CHECK(api::check_response(inactive, d) == errc::account_inactive);

    auto qps = make_response(403);
    qps.set("X-Mashery-Error-Code", "ERR_403_DEVELOPER_OVER_QPS");
    qps.set(boost::beast::http::field::retry_after, "1");
    d.clear();
    CHECK(api::check_response(qps, d) == errc::rate_limited);
    CHECK(d.retry_after == std::optional<std::chrono::seconds>(1s));

    auto scope = make_response(403);
    scope.set(boost::beast::http::field::www_authenticate,
              R"(Bearer realm="api.join.me", error=insufficient_scope)");
    d.clear();
    CHECK(api::check_response(scope, d) == errc::insufficient_scope);

    d.clear();
    CHECK(api::check_response(make_response(401, R"({"ErrorCode": "stale_token"})"), d) ==
          errc::stale_token);
    d.clear();
    CHECK(api::check_response(make_response(403), d) == errc::unexpected_status);
    d.clear();
    CHECK(api::check_response(make_response(429), d) == errc::rate_limited);
    d.clear();
    CHECK(api::check_response(make_response(404, R"({"Message": "Meeting not found"})"), d) ==
          errc::not_found);
    CHECK(d.message == "Meeting not found");
    d.clear();
    CHECK(api::check_response(make_response(400, "<html>bad</html>"), d) == errc::bad_request);
    CHECK(d.body_excerpt == "<html>bad</html>");
    d.clear();
    CHECK(api::check_response(make_response(502), d) == errc::server_error);
    d.clear();
    CHECK(api::check_response(make_response(503), d) == errc::server_error);
    d.clear();
    CHECK(api::check_response(make_response(302), d) == errc::unexpected_status);
    CHECK(d.status == 302);
}

TEST_CASE("many users, one pool: each client its own token, the connections shared") {
    env<tcp_stream> e;
    api::basic_client<tcp_stream> pro(e.ioc.get_executor(), e.ctx, e.config());
    e.login(pro, default_scopes, "pro@example.com");
    auto cfg = e.config();
    cfg.token_source.user = "free";
    api::any_client free(pro.shared_pool(), cfg);
    e.login(free, default_scopes, "free@example.com");
    const auto opened = pro.pool().stats().connections_opened;

    // Interleaved calls: each user sees itself, over the same few connections.
    auto both = e.run([](api::any_client& a, api::any_client& b) -> asio::awaitable<std::string> {
        std::string seen;
        for (int i = 0; i < 5; ++i) {
            seen += (co_await a.async_get_user()).email + " ";
            seen += (co_await b.async_get_user()).email + " ";
        }
        co_return seen;
    }(pro, free));
    CHECK(both.find("pro@example.com free@example.com pro@example.com") != std::string::npos);
    CHECK(pro.pool().stats().connections_opened == opened);
    CHECK(&free.pool() == &pro.pool());

    SUBCASE("a meeting scheduled by one user is not the other's") {
        api::meeting_draft draft;
        draft.meeting_name = "mine";
        draft.meeting_start = std::chrono::floor<std::chrono::seconds>(*e.now) + 24h;
        draft.meeting_end = draft.meeting_start + 1h;
        auto m = e.run(free.async_schedule_meeting(draft));
        CHECK(e.run(free.async_list_meetings(api::meeting_list_filter{})).size() == 1);
        CHECK(e.run(pro.async_list_meetings(api::meeting_list_filter{})).empty());
        auto other = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return pro.async_get_meeting(m.meeting_id, d, std::move(t));
        });
        CHECK(other.ec == errc::not_found);
    }
    SUBCASE("closing or destroying a client over a shared pool leaves the pool open") {
        {
            api::any_client gone(pro.shared_pool(), cfg);
            gone.close();
        }
        free.close();
        CHECK(e.run(pro.async_get_user()).email == "pro@example.com");
        CHECK(e.run(free.async_get_user()).email == "free@example.com");
    }
}

TEST_CASE("api client: a warm-up opens the API's connections before the first call") {
    env<tcp_stream> e;
    api::basic_client<tcp_stream> client(e.ioc.get_executor(), e.ctx, e.config());
    auto warm = e.run([](api::any_client& c) -> asio::awaitable<error_code> {
        auto [ec] = co_await c.async_warm_up(2, asio::as_tuple(asio::use_awaitable));
        co_return ec;
    }(client));
    CHECK(!warm);
    CHECK(client.pool().stats().connections_opened == 2);
    e.login(client);
    CHECK(e.run(client.async_get_user()).email == "pro@example.com");
    CHECK(client.pool().stats().connections_opened == 2); // the login and the call reused them
}

TEST_CASE("api client: a server certificate the client does not trust: certificate_untrusted, "
          "and why") {
    env<tls_stream> e;
    // Trusts no CA at all: the sandbox's self-signed certificate is rejected.
    auto nothing = joinme::make_client_tls_context(joinme::trust_store::none);
    api::basic_client<tls_stream> client(e.ioc.get_executor(), joinme::tls_context(nothing),
                                         e.config());
    auto get_user = [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); };
    outcome<none> r;
    SUBCASE("an API call") {
        client.set_token(oauth::make_token("A1", "R1", 3600s, {}, *e.now));
        auto got = attempt<api::user>(e, get_user);
        r = {got.ec, got.diag, {}};
    }
    SUBCASE("the refresh of an expired token, before the call") {
        client.set_token(oauth::make_token("A1", "R1", 0s, {}, *e.now));
        auto got = attempt<api::user>(e, get_user);
        r = {got.ec, got.diag, {}};
    }
    SUBCASE("a warm-up") {
        r = attempt<none>(
            e, [&](diagnostics& d, auto t) { return client.async_warm_up(2, d, std::move(t)); });
    }
    CHECK(r.ec == errc::certificate_untrusted);
    INFO(r.diag);
    CHECK(r.diag.client_message.find(X509_verify_cert_error_string(
              X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)) != std::string::npos);
    CHECK(r.diag.client_message.find("subject \"CN=localhost\"") != std::string::npos);
    CHECK(e.requests(endpoint::get_user) == 0);
}

TEST_CASE("api client: expire access token, locally or until the API rejects it") {
    env<memory_stream> e;
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, e.config());
    auto token = e.login(client);

    SUBCASE("locally: the next call refreshes first, without a rejected request") {
        auto msg = e.run(client.async_expire_access_token(api::expire_mode::locally));
        CHECK(msg == "Access Token Expired");
        CHECK(e.run(client.async_get_user()).email == "pro@example.com");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 1);
        CHECK(client.stats().rejected_tokens == 0);
    }
    SUBCASE("until rejected: the API refuses it, then one refresh and a replay") {
        auto msg = e.run(client.async_expire_access_token(api::expire_mode::until_rejected));
        CHECK(msg == "Access Token Expired");
        CHECK(e.refreshes() == 0);
        CHECK(e.run(client.async_get_user()).email == "pro@example.com");
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 2);
        CHECK(client.stats().rejected_tokens == 1);
    }
    SUBCASE("without a token: reauthorization_required, nothing sent") {
        api::basic_client<memory_stream> fresh(e.ioc.get_executor(), e.ctx, e.config());
        auto r = attempt<std::string>(e, [&](diagnostics& d, auto t) {
            return fresh.async_expire_access_token(api::expire_mode::locally, d, std::move(t));
        });
        CHECK(r.ec == errc::reauthorization_required);
        CHECK(!r.diag.client_message.empty());
    }
}

TEST_CASE("operations: one signature, any completion token") {
    env<memory_stream> e;
    api::basic_client<memory_stream> client(e.ioc.get_executor(), e.ctx, e.config());
    e.login(client); // meeting 7 does not exist: 404

    SUBCASE("as_tuple never throws, and the caller's diagnostics are filled") {
        auto r = attempt<api::meeting>(e, [&](diagnostics& d, auto t) {
            return client.async_get_meeting(7, d, std::move(t));
        });
        CHECK(r.ec == errc::not_found);
        CHECK(r.diag.status == 404);
    }
    SUBCASE("without diagnostics, as_tuple gives the code alone") {
        auto ec = e.run([](api::any_client& c) -> asio::awaitable<error_code> {
            auto [ec, m] = co_await c.async_get_meeting(7, asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(client));
        CHECK(ec == errc::not_found);
    }
    SUBCASE("with_diagnostics(callback): an exception_ptr holding the server's answer") {
        std::exception_ptr got;
        bool done = false;
        client.async_get_meeting(7,
                                 joinme::with_diagnostics([&](std::exception_ptr ex, api::meeting) {
                                     got = ex;
                                     done = true;
                                 }));
        CHECK(!done); // never inline
        REQUIRE(run_until(e.ioc, [&] { return done; }));
        REQUIRE(got);
        try {
            std::rethrow_exception(got);
        } catch (const joinme::error_with_diagnostics& ex) {
            CHECK(ex.code() == errc::not_found);
            CHECK(ex.get_diagnostics().status == 404);
        }
    }
    SUBCASE("with_diagnostics over the caller's diagnostics fills both") {
        diagnostics d;
        bool thrown = false;
        try {
            (void)e.run(
                client.async_get_meeting(7, d, joinme::with_diagnostics(asio::use_awaitable)));
        } catch (const joinme::error_with_diagnostics& ex) {
            thrown = true;
            CHECK(ex.get_diagnostics().status == 404);
        }
        CHECK(thrown);
    }
    SUBCASE("use_future and a plain callback") {
        auto fut = client.async_get_user(asio::use_future);
        error_code cb_ec = errc::timeout;
        client.async_get_meeting(7, [&](error_code ec, api::meeting) { cb_ec = ec; });
        REQUIRE(run_until(e.ioc, [&] {
            return fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready &&
                   cb_ec != errc::timeout;
        }));
        CHECK(fut.get().email == "pro@example.com");
        CHECK(cb_ec == errc::not_found);
    }
}

TEST_CASE("api client: one deadline per call, over the refresh it waits for and its own "
          "exchange; timeout_after sets it for one call") {
    env<tcp_stream> e;
    auto cfg = e.config();
    cfg.call_timeout = 300ms;
    cfg.pool.deadline_resolution = 20ms;
    api::basic_client<tcp_stream> client(e.ioc.get_executor(), e.ctx, cfg);
    e.login(client);
    using clock = std::chrono::steady_clock;

    SUBCASE("a slow refresh: the call gives up at its deadline, the refresh goes on") {
        sandbox::fault slow;
        slow.latency = 1s;
        slow.times = 1;
        e.srv.set_fault(endpoint::token, slow);
        e.advance(std::chrono::hours(2)); // the token has expired: the next call refreshes
        auto start = clock::now();
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        auto took = clock::now() - start;
        CHECK(r.ec == errc::timeout);
        CHECK(r.diag.client_message.find("token refresh") != std::string::npos);
        CHECK(took >= 300ms);
        CHECK(took < 900ms); // not the refresh's latency
        // A call with more time joins the same refresh and succeeds.
        auto r2 = attempt<api::user>(e, [&](diagnostics& d, auto t) {
            return client.async_get_user(d, joinme::timeout_after(5s, std::move(t)));
        });
        REQUIRE_MESSAGE(!r2.ec, r2.ec.message(), " ", r2.diag);
        CHECK(e.refreshes() == 1);
        CHECK(e.requests(endpoint::get_user) == 1);
    }

    SUBCASE("a slow answer: the client's deadline, or the call's own") {
        sandbox::fault slow;
        slow.latency = 600ms;
        e.srv.set_fault(endpoint::get_user, slow);
        auto start = clock::now();
        auto r = attempt<api::user>(
            e, [&](diagnostics& d, auto t) { return client.async_get_user(d, std::move(t)); });
        auto took = clock::now() - start;
        CHECK(r.ec == errc::timeout);
        CHECK(took >= 300ms);
        CHECK(took < 600ms);
        auto r2 = attempt<api::user>(e, [&](diagnostics& d, auto t) {
            return client.async_get_user(d, joinme::timeout_after(3s, std::move(t)));
        });
        REQUIRE_MESSAGE(!r2.ec, r2.ec.message(), " ", r2.diag);
        CHECK(r2.value.email == "pro@example.com");
        // With the default token: the exception carries errc::timeout.
        auto thrown = e.run([&]() -> asio::awaitable<error_code> {
            try {
                co_await client.async_get_user(joinme::timeout_after(100ms));
            } catch (const joinme::error_with_diagnostics& x) {
                co_return x.code();
            }
            co_return error_code{};
        }());
        CHECK(thrown == errc::timeout);
    }
}

} // namespace
} // namespace apit
