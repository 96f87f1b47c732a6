// The secrets audit: every flow runs with distinctive credentials, everything joinme and the
// sandbox show a user is captured (the pool's and the sandbox's request hooks, diagnostics,
// exception messages, operator<< of every printable type, the loopback listener's pages,
// error messages, the quickstart example's output), and no credential may appear in any of it,
// whole or cut to its first 12 characters. Every later program (a CLI, a web server, a proxy
// transport) joins this audit when it is added.
#include "api_client/fixture.hpp"
#include "support/http_server.hpp"
#include "support/scripted_proxy.hpp"

#include <joinme/detail/random.hpp>
#include <joinme/loopback.hpp>
#include <joinme/transport/proxy.hpp>

#include <boost/url.hpp>
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace audit {
namespace {

using namespace apit;
using sandbox::endpoint;
namespace bhttp = boost::beast::http;

// Values an application keeps secret, chosen to stand out.
const std::string client_id = "auditapp0000000000000001";
const std::string client_secret = "SECRETclientXYZ123";
const std::string wrong_client_secret = "SECRETwrongClient456";
const std::string echo_access = "SECRETaccessECHO789";
const std::string echo_refresh = "SECRETrefreshECHO012";
const std::string echo_code = "SECRETcodeECHO345";
const std::string echo_verifier = "SECRETverifierECHO678-0123456789abcdefghijklmnopqrstuvwxyz";
const std::string proxy_password = "SECRETproxyPW901";
const std::string wrong_proxy_password = "SECRETproxyWRONG234";

constexpr std::size_t cut = 12; // a secret's prefix this long counts as a leak

// One text a user could see, and where it came from.
struct shown {
    std::string where;
    std::string text;
};

// Everything captured, and every secret the run used or was issued.
struct audit_log {
    std::vector<shown> texts;
    std::set<std::string> secrets;

    void add(std::string where, std::string text) {
        texts.push_back({std::move(where), std::move(text)});
    }
    template <class T>
    void print(std::string where, const T& v) {
        std::ostringstream os;
        os << v;
        add(std::move(where), os.str());
    }
    void secret(const std::string& s) {
        REQUIRE(s.size() >= cut);
        secrets.insert(s);
    }
    void secret(const joinme::secret& s) { secret(s.reveal()); }
    void token(const oauth::token& t) {
        print("operator<<(token)", t);
        print("operator<<(token.access_token)", t.access_token);
        secret(t.access_token);
        if (t.refreshable()) {
            print("operator<<(token.refresh_token)", t.refresh_token);
            secret(t.refresh_token);
        }
    }
    void diag(std::string where, const diagnostics& d) {
        print(where + ": operator<<(diagnostics)", d);
        add(where + ": diagnostics.to_string()", d.to_string());
    }
    void error(std::string where, const error_code& ec) {
        add(where + ": error_code.message()", ec.message());
        add(where + ": error_code.category().name()", ec.category().name());
    }
};

// Each (where, secret) that shows a secret or its first `cut` characters.
std::vector<std::string> leaks(const std::vector<shown>& texts,
                               const std::set<std::string>& secrets) {
    std::vector<std::string> out;
    for (const auto& t : texts)
        for (const auto& s : secrets)
            if (t.text.find(s.substr(0, cut)) != std::string::npos)
                out.push_back(t.where + " shows " + s.substr(0, 6) + "... in: " + t.text);
    return out;
}

std::string describe(const joinme::http::request_event& e) {
    std::ostringstream os;
    os << bhttp::to_string(e.method) << " " << e.path << " " << e.status << " " << e.ec.message()
       << " attempt " << e.attempt << (e.reused_connection ? " reused" : "");
    return os.str();
}

std::string describe(const sandbox::request_log_entry& e) {
    return e.method + " " + e.path + " " + std::to_string(e.status);
}

// The browser: one request on a fresh connection to `url`'s host and port, the whole answer.
asio::awaitable<test_support::response>
browse(std::string url, bhttp::verb method = bhttp::verb::get, std::string body = {}) {
    auto u = boost::urls::parse_uri(url).value();
    beast::tcp_stream s(co_await asio::this_coro::executor);
    s.expires_after(5s);
    asio::ip::tcp::endpoint ep(asio::ip::make_address(std::string(u.host_address())),
                               static_cast<unsigned short>(std::stoi(std::string(u.port()))));
    co_await s.async_connect(ep, asio::use_awaitable);
    std::string target(u.encoded_target());
    if (target.empty())
        target = "/";
    test_support::request req(method, target, 11);
    req.set(bhttp::field::host, std::string(u.encoded_host_and_port()));
    if (method == bhttp::verb::post) {
        req.set(bhttp::field::content_type, "text/plain");
        req.body() = std::move(body);
        req.prepare_payload();
    }
    co_await bhttp::async_write(s, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    test_support::response res;
    co_await bhttp::async_read(s, buffer, res, asio::use_awaitable);
    co_return res;
}

// The sandbox with the audit's application (a Business key, so presenters are allowed), the
// pool's and the sandbox's hooks writing into `log`.
struct audit_env {
    audit_log& log;
    env<tcp_stream> e;

    static sandbox::options sandbox_options(audit_log& log) {
        sandbox::options o;
        sandbox::application app;
        app.name = "audit app";
        app.client_id = client_id;
        app.client_secret = client_secret;
        app.redirect_uris = {"http://127.0.0.1/callback"};
        app.business = true;
        o.applications.push_back(app);
        o.on_request = [&log](const sandbox::request_log_entry& entry) {
            log.add("sandbox on_request", describe(entry));
        };
        return o;
    }

    explicit audit_env(audit_log& l) : log(l), e(sandbox_options(l)) {}

    api::client_config config() {
        auto c = e.config(client_id);
        c.oauth.client_secret = joinme::secret(client_secret);
        c.pool.on_request = [this](const joinme::http::request_event& ev) {
            log.add("pool on_request", describe(ev));
        };
        return c;
    }
};

// Runs `op(diag, as_tuple(use_awaitable))`, logs its diagnostics and error; returns both.
template <class T, class Op>
outcome<T> logged(audit_env& a, std::string where, Op op) {
    auto r = attempt<T>(a.e, std::move(op));
    a.log.diag(where, r.diag);
    a.log.error(where, r.ec);
    return r;
}

// Runs the throwing form `aw` and logs what() of what it throws; true if it threw.
template <class T>
bool logged_throw(audit_env& a, std::string where, asio::awaitable<T> aw) {
    try {
        (void)a.e.run(std::move(aw));
        return false;
    } catch (const joinme::error_with_diagnostics& ex) {
        a.log.add(where + ": what()", ex.what());
        a.log.diag(where + ": get_diagnostics()", ex.get_diagnostics());
        return true;
    } catch (const std::exception& ex) {
        a.log.add(where + ": what()", ex.what());
        return true;
    }
}

// What a code grant produced.
struct grant {
    oauth::token token;
    oauth::config cfg;
    oauth::authorization_request sent;
    oauth::redirect_response redirect;
};

// The code grant with PKCE and state through the loopback listener: the authorization URL,
// the sandbox's redirect, the listener's page, the exchange.
template <class Client>
grant code_grant(audit_env& a, Client& client, std::string_view scopes) {
    auto& log = a.log;
    joinme::loopback::listener_options lo;
    lo.timeout = 10s;
    joinme::loopback::redirect_listener listener(a.e.ioc.get_executor(), lo);
    listener.listen();
    auto cfg = client.config().oauth;
    cfg.redirect_uri = listener.redirect_uri();
    log.print("operator<<(oauth::config)", cfg);

    oauth::authorization_options opts;
    opts.scopes = oauth::scope_set::parse(scopes);
    opts.pkce = true;
    log.print("operator<<(scope_set)", opts.scopes);
    auto sent = oauth::make_authorization_request(cfg, opts);
    log.print("operator<<(authorization_request)", sent);
    log.print("operator<<(code_verifier)", sent.code_verifier);
    log.secret(sent.code_verifier);
    REQUIRE(sent.url.find("code_challenge=") != std::string::npos);

    std::optional<std::pair<error_code, oauth::redirect_response>> got;
    diagnostics wait_diag;
    listener.async_wait_redirect(sent, wait_diag, [&](error_code ec, oauth::redirect_response r) {
        got.emplace(ec, std::move(r));
    });
    auto authorize = a.e.run(browse(sent.url));
    REQUIRE(authorize.result_int() == 302);
    const std::string location(authorize[bhttp::field::location]);
    auto page = a.e.run(browse(location));
    log.add("listener page (code grant)", page.body());
    REQUIRE(run_until(
        a.e.ioc, [&] { return got.has_value(); }, 10s));
    log.diag("listener wait", wait_diag);
    REQUIRE_FALSE(got->first);
    const auto& redirect = got->second;
    log.print("operator<<(redirect_response)", redirect);
    log.print("operator<<(redirect.code)", redirect.code);
    log.secret(redirect.code);
    REQUIRE(location.find(redirect.code.reveal()) != std::string::npos);

    // The same redirect against another request: a state mismatch, which must not show the
    // code the redirect carries.
    {
        auto other = oauth::make_authorization_request(cfg, opts);
        error_code ec;
        diagnostics d;
        (void)oauth::parse_redirect(location, other, *a.e.now, ec, d);
        CHECK(ec == errc::state_mismatch);
        log.error("parse_redirect, state mismatch", ec);
        log.diag("parse_redirect, state mismatch", d);
        try {
            (void)oauth::parse_redirect(location, other, *a.e.now);
            FAIL_CHECK("no exception");
        } catch (const std::exception& ex) {
            log.add("parse_redirect, state mismatch: what()", ex.what());
        }
    }

    auto r = logged<oauth::token>(a, "exchange code", [&](diagnostics& d, auto t) {
        return oauth::async_exchange_code(client.pool(), cfg, sent, redirect, d, std::move(t));
    });
    REQUIRE_MESSAGE(!r.ec, r.diag);
    log.token(r.value);

    return {r.value, cfg, sent, redirect};
}

// The same code again: invalid_grant, with and without exceptions (the sandbox then revokes
// what the code granted, as RFC 6749 §4.1.2 allows).
void exchange_used_code(audit_env& a, api::basic_client<tcp_stream>& client, const grant& g) {
    auto again = logged<oauth::token>(a, "exchange a used code", [&](diagnostics& d, auto t) {
        return oauth::async_exchange_code(client.pool(), g.cfg, g.sent, g.redirect, d,
                                          std::move(t));
    });
    CHECK(again.ec == oauth_errc::invalid_grant);
    CHECK(logged_throw(a, "exchange a used code, throwing",
                       oauth::async_exchange_code(client.pool(), g.cfg, g.sent, g.redirect)));
}

// Records the client's current token, issued by the sandbox on a refresh inside a call.
template <class Client>
void learn_current(audit_env& a, Client& client) {
    const auto& t = client.token_source().current_token();
    REQUIRE(t);
    a.log.token(*t);
}

// Every API call of the audit's user, each logged.
template <class Client>
void api_calls(audit_env& a, Client& client) {
    auto u = logged<api::user>(a, "get user", [&](diagnostics& d, auto t) {
        return client.async_get_user(d, std::move(t));
    });
    CHECK_FALSE(u.ec);
    api::meeting_draft draft;
    draft.meeting_name = "Audit";
    draft.meeting_start = std::chrono::ceil<std::chrono::hours>(*a.e.now) + 24h;
    draft.meeting_end = draft.meeting_start + 1h;
    auto m = logged<api::meeting>(a, "schedule meeting", [&](diagnostics& d, auto t) {
        return client.async_schedule_meeting(draft, d, std::move(t));
    });
    CHECK_FALSE(m.ec);
    auto l = logged<std::vector<api::meeting>>(a, "list meetings", [&](diagnostics& d, auto t) {
        return client.async_list_meetings(api::meeting_list_filter{}, d, std::move(t));
    });
    CHECK_FALSE(l.ec);
    auto g = logged<api::meeting>(a, "get meeting", [&](diagnostics& d, auto t) {
        return client.async_get_meeting(m.value.meeting_id, d, std::move(t));
    });
    CHECK_FALSE(g.ec);
    auto s = logged<api::start_result>(a, "start meeting", [&](diagnostics& d, auto t) {
        return client.async_start_meeting(api::start_request{}, d, std::move(t));
    });
    CHECK_FALSE(s.ec);
    auto p = logged<std::vector<api::presenter>>(a, "list presenters", [&](diagnostics& d, auto t) {
        return client.async_list_presenters(d, std::move(t));
    });
    CHECK_FALSE(p.ec);
    auto missing =
        logged<api::meeting>(a, "get a meeting that does not exist", [&](diagnostics& d, auto t) {
            return client.async_get_meeting(424242, d, std::move(t));
        });
    CHECK(missing.ec == errc::not_found);
    CHECK(logged_throw(a, "get a meeting that does not exist, throwing",
                       client.async_get_meeting(424242)));
}

// What the echo server answers: the whole request it got (headers and body) quoted back in
// each kind of error answer, so that every field of diagnostics meets the credentials.
test_support::response echo(const test_support::request& req) {
    std::ostringstream all;
    all << req;
    std::string quoted = all.str();
    for (auto& c : quoted)
        if (c == '\r' || c == '\n')
            c = ' ';
    std::string target(req.target());
    test_support::response res;
    if (target.starts_with("/api/public/v1/auth/")) {
        res.result(bhttp::status::bad_request);
        res.set(bhttp::field::content_type, "application/json");
        res.set("X-Error-Detail-Header", std::string(req.body()));
        boost::json::object o{{"error", "invalid_request"},
                              {"error_description", quoted},
                              {"error_uri", "https://example.com/?" + std::string(req.body())}};
        res.body() = boost::json::serialize(o);
    } else if (target.starts_with("/v1/user")) {
        res.result(bhttp::status::bad_request);
        res.set(bhttp::field::content_type, "application/json");
        res.set("X-Mashery-Error-Code", std::string(req[bhttp::field::authorization]));
        boost::json::object o{{"Message", quoted}, {"ErrorCode", quoted}};
        res.body() = boost::json::serialize(o);
    } else if (target.starts_with("/v1/presenters")) {
        // A rejection that quotes the token: the client refreshes (the token endpoint
        // answers with its own echo) and reports that.
        res.result(bhttp::status::unauthorized);
        res.set(bhttp::field::www_authenticate,
                "Bearer error=\"invalid_token\", error_description=\"" +
                    std::string(req[bhttp::field::authorization]) + "\"");
        res.set("X-Error-Detail-Header", std::string(req[bhttp::field::authorization]));
    } else {
        // Not JSON, and the excerpt of 256 bytes ends 14 characters into the bearer token.
        res.result(bhttp::status::internal_server_error);
        res.set(bhttp::field::content_type, "text/plain");
        std::string auth(req[bhttp::field::authorization]);
        std::string lead = "failed: ";
        auto pad = diagnostics::max_excerpt - lead.size() - std::string("Bearer ").size() - 14;
        res.body() = lead + std::string(pad, '.') + auth + " " + quoted;
    }
    return res;
}

} // namespace

TEST_CASE("secrets audit: the harness sees a secret printed unredacted, whole or cut") {
    std::set<std::string> secrets{client_secret, echo_access};
    CHECK(leaks({{"clean", "client secret [redacted], token [redacted]"}}, secrets).empty());
    CHECK(leaks({{"whole", "token " + echo_access + "."}}, secrets).size() == 1);
    CHECK(leaks({{"cut", "secret " + client_secret.substr(0, cut) + "..."}}, secrets).size() == 1);
    // What joinme prints of a secret, next to what `reveal()` shows.
    std::ostringstream redacted, revealed;
    joinme::secret s(client_secret);
    redacted << s;
    revealed << s.reveal();
    CHECK(leaks({{"operator<<", redacted.str()}}, secrets).empty());
    CHECK(leaks({{"reveal()", revealed.str()}}, secrets).size() == 1);
}

TEST_CASE("secrets audit: no flow shows a credential") {
    audit_log log;
    audit_env a(log);
    auto& e = a.e;
    log.secret(client_secret);
    log.secret(wrong_client_secret);

    // The code grant with PKCE and state, and the API as the Master Account Holder.
    e.srv.config().current_user = "admin@example.com";
    api::basic_client<tcp_stream> client(e.ioc.get_executor(), e.ctx, a.config());
    auto g = code_grant(a, client, "user_info scheduler start_meeting provisioning");
    const auto first = g.token;
    client.set_token(first);
    api_calls(a, client);

    // An explicit refresh, and asking join.me to expire the access token.
    auto refreshed = logged<oauth::token>(a, "refresh", [&](diagnostics& d, auto t) {
        return oauth::async_refresh(client.pool(), client.config().oauth, first, d, std::move(t));
    });
    REQUIRE_FALSE(refreshed.ec);
    log.token(refreshed.value);
    CHECK_FALSE(refreshed.value.access_token == first.access_token);
    client.set_token(refreshed.value);
    auto expired = logged<std::string>(a, "expire access token", [&](diagnostics& d, auto t) {
        return client.async_expire_access_token(api::expire_mode::locally, d, std::move(t));
    });
    CHECK_FALSE(expired.ec);
    log.add("expire access token: message", expired.value);
    api_calls(a, client); // the first call refreshes
    learn_current(a, client);
    CHECK(e.refreshes() == 2);

    // A 401 on a token the sandbox expired: one refresh, one replay.
    {
        auto current = *client.token_source().current_token();
        REQUIRE(e.srv.expire_access_token(current.access_token.reveal()));
        api_calls(a, client);
        learn_current(a, client);
        CHECK(client.stats().replays == 1);
        CHECK(e.refreshes() == 3);
    }

    // The refresh token revoked: invalid_grant from the refresh inside a call.
    {
        auto current = *client.token_source().current_token();
        REQUIRE(e.srv.revoke_refresh_token(current.refresh_token.reveal()));
        REQUIRE(e.srv.expire_access_token(current.access_token.reveal()));
        auto u =
            logged<api::user>(a, "get user, refresh token revoked", [&](diagnostics& d, auto t) {
                return client.async_get_user(d, std::move(t));
            });
        CHECK(u.ec == oauth_errc::invalid_grant);
        CHECK(
            logged_throw(a, "get user, refresh token revoked, throwing", client.async_get_user()));
        auto r =
            logged<oauth::token>(a, "refresh with a revoked token", [&](diagnostics& d, auto t) {
                return oauth::async_refresh(client.pool(), client.config().oauth, current, d,
                                            std::move(t));
            });
        CHECK(r.ec == oauth_errc::invalid_grant);
    }

    // The wrong client secret: invalid_client.
    {
        auto cfg = client.config().oauth;
        cfg.client_secret = joinme::secret(wrong_client_secret);
        log.print("operator<<(oauth::config), wrong secret", cfg);
        auto r = logged<oauth::token>(
            a, "refresh with the wrong client secret", [&](diagnostics& d, auto t) {
                return oauth::async_refresh(client.pool(), cfg, first, d, std::move(t));
            });
        CHECK(r.ec);
    }

    // The implicit grant through the loopback listener's relay page.
    {
        joinme::loopback::listener_options lo;
        lo.timeout = 10s;
        joinme::loopback::redirect_listener listener(e.ioc.get_executor(), lo);
        listener.listen();
        auto cfg = client.config().oauth;
        cfg.redirect_uri = listener.redirect_uri();
        oauth::authorization_options opts;
        opts.type = oauth::response_type::token;
        opts.scopes = oauth::scope_set::parse("user_info");
        auto sent = oauth::make_authorization_request(cfg, opts);
        log.print("operator<<(authorization_request), implicit", sent);
        std::optional<std::pair<error_code, oauth::redirect_response>> got;
        diagnostics wait_diag;
        listener.async_wait_redirect(
            sent, wait_diag,
            [&](error_code ec, oauth::redirect_response r) { got.emplace(ec, std::move(r)); });
        auto authorize = e.run(browse(sent.url));
        REQUIRE(authorize.result_int() == 302);
        std::string location(authorize[bhttp::field::location]);
        auto hash = location.find('#');
        REQUIRE(hash != std::string::npos);
        auto page = e.run(browse(location.substr(0, hash)));
        log.add("listener relay page", page.body());
        auto posted =
            e.run(browse(location.substr(0, hash), bhttp::verb::post, location.substr(hash + 1)));
        log.add("listener answer to the relayed fragment", posted.body());
        REQUIRE(run_until(
            e.ioc, [&] { return got.has_value(); }, 10s));
        log.diag("listener wait, implicit", wait_diag);
        REQUIRE_FALSE(got->first);
        REQUIRE(got->second.implicit_token);
        log.print("operator<<(redirect_response), implicit", got->second);
        log.token(*got->second.implicit_token);
        REQUIRE(location.find(got->second.implicit_token->access_token.reveal()) !=
                std::string::npos);
        api::basic_client<tcp_stream> implicit(e.ioc.get_executor(), e.ctx, a.config());
        implicit.set_token(*got->second.implicit_token);
        auto u = logged<api::user>(a, "get user, implicit token", [&](diagnostics& d, auto t) {
            return implicit.async_get_user(d, std::move(t));
        });
        CHECK_FALSE(u.ec);
        // Rejected, and no refresh token to refresh it with.
        REQUIRE(e.srv.expire_access_token(got->second.implicit_token->access_token.reveal()));
        auto again =
            logged<api::user>(a, "get user, implicit token expired", [&](diagnostics& d, auto t) {
                return implicit.async_get_user(d, std::move(t));
            });
        CHECK(again.ec == errc::reauthorization_required);
        implicit.close();
    }

    exchange_used_code(a, client, g);

    // A server that quotes the whole request back in its error answers, for each client
    // authentication method.
    test_support::tcp_test_server echo_server(e.ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::vector<shown> echoed; // what the echo server sent back: the secrets must be in it
    echo_server.behaviour().handler = [&](const test_support::request& req) {
        auto res = echo(req);
        std::ostringstream os;
        os << res;
        echoed.push_back({"echo server answer", os.str()});
        return res;
    };
    log.secret(echo_access);
    log.secret(echo_refresh);
    log.secret(echo_code);
    log.secret(echo_verifier);
    const std::string echo_base =
        "http://127.0.0.1:" + std::to_string(echo_server.endpoint().port());
    for (auto method : {oauth::client_auth_method::client_secret_post,
                        oauth::client_auth_method::client_secret_basic}) {
        const std::string m =
            method == oauth::client_auth_method::client_secret_basic ? " (basic)" : " (post)";
        auto cfg = a.config();
        cfg.set_base_url(echo_base);
        cfg.oauth.auth_method = method;
        cfg.pool.retry.max_attempts = 1;
        api::basic_client<tcp_stream> c(e.ioc.get_executor(), e.ctx, cfg);
        c.set_token(oauth::make_token(echo_access, echo_refresh, 3600s, {}, *e.now));
        if (method == oauth::client_auth_method::client_secret_basic) {
            // The header's credentials, base64 of "id:secret": decodable, so a secret too.
            const std::string credentials = client_id + ':' + client_secret;
            log.secret(joinme::detail::base64(
                {reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size()}));
        }
        const oauth::token echo_token =
            oauth::make_token(echo_access, echo_refresh, 3600s, {}, *e.now);
        const joinme::secret code(echo_code), verifier(echo_verifier);
        const auto scopes = oauth::scope_set::parse("user_info");
        auto x = logged<oauth::token>(a, "echo: exchange code" + m, [&](diagnostics& d, auto t) {
            return oauth::async_exchange_code(c.pool(), cfg.oauth, code, verifier, scopes, d,
                                              std::move(t));
        });
        CHECK(x.ec == oauth_errc::invalid_request);
        CHECK(x.diag.error_description.find("[redacted]") != std::string::npos);
        auto r = logged<oauth::token>(a, "echo: refresh" + m, [&](diagnostics& d, auto t) {
            return oauth::async_refresh(c.pool(), cfg.oauth, echo_token, d, std::move(t));
        });
        CHECK(r.ec == oauth_errc::invalid_request);
        CHECK(logged_throw(a, "echo: refresh, throwing" + m,
                           oauth::async_refresh(c.pool(), cfg.oauth, echo_token)));
        auto x2 = logged<std::string>(a, "echo: expire access" + m, [&](diagnostics& d, auto t) {
            return oauth::async_expire_access(c.pool(), cfg.oauth, echo_token.access_token, d,
                                              std::move(t));
        });
        CHECK(x2.ec);
        auto u = logged<api::user>(a, "echo: get user" + m, [&](diagnostics& d, auto t) {
            return c.async_get_user(d, std::move(t));
        });
        CHECK(u.ec == errc::bad_request);
        CHECK(u.diag.message.find("[redacted]") != std::string::npos);
        auto l = logged<std::vector<api::meeting>>(
            a, "echo: list meetings" + m, [&](diagnostics& d, auto t) {
                return c.async_list_meetings(api::meeting_list_filter{}, d, std::move(t));
            });
        CHECK(l.ec);
        CHECK_FALSE(l.diag.body_excerpt.empty());
        auto p = logged<std::vector<api::presenter>>(
            a, "echo: list presenters" + m,
            [&](diagnostics& d, auto t) { return c.async_list_presenters(d, std::move(t)); });
        CHECK(p.ec == oauth_errc::invalid_request); // the refresh's error
        CHECK(logged_throw(a, "echo: get user, throwing" + m, c.async_get_user()));
        c.close();
    }
    echo_server.stop();

    // The quickstart example, run as a user runs it.
#ifdef JOINME_QUICKSTART
    {
        std::string out;
        FILE* p = ::popen(JOINME_QUICKSTART " 2>&1", "r");
        REQUIRE(p);
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
            out.append(buf, n);
        CHECK(::pclose(p) == 0);
        log.add("joinme-quickstart output", out);
        // Its secrets are the sandbox's well-known client secret and the tokens and code its
        // own sandbox issued, 43 base64url characters each: no such run may be printed, except
        // in the authorization URL, whose state and PKCE challenge are meant to be public.
        CHECK(out.find(std::string(sandbox::default_client_secret)) == std::string::npos);
        CHECK(out.find("access_token [redacted], refresh_token [redacted]") != std::string::npos);
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            if (line.find("authorization URL") != std::string::npos)
                continue;
            std::size_t run = 0;
            for (char ch : line) {
                run = (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')
                          ? run + 1
                          : 0;
                CHECK_MESSAGE(run < 32, "joinme-quickstart printed a token-like value: ", line);
                if (run >= 32)
                    break;
            }
        }
    }
#else
    MESSAGE("joinme-quickstart was not built with this test program: its output is not audited");
#endif

    // Everything that was shown: the hooks saw every step, and nothing shows a secret.
    std::size_t pool_events = 0, sandbox_events = 0;
    for (const auto& t : log.texts) {
        pool_events += t.where == "pool on_request";
        sandbox_events += t.where == "sandbox on_request";
    }
    CHECK(pool_events > 40);
    CHECK(sandbox_events > 30);
    CHECK(log.secrets.size() >= 16);
    for (const auto& l : leaks(log.texts, log.secrets))
        FAIL_CHECK(l);
    // JOINME_AUDIT_DUMP=file writes everything captured there, for a human to read.
    if (const char* dump = std::getenv("JOINME_AUDIT_DUMP")) {
        std::ofstream out(dump);
        for (const auto& t : log.texts)
            out << "== " << t.where << "\n" << t.text << "\n";
    }

    // The harness sees what it looks for: the echo server did send the credentials back...
    CHECK(leaks(echoed, {client_secret}).size() >= 1);
    CHECK(leaks(echoed, {echo_access}).size() >= 1);
    CHECK(leaks(echoed, {echo_refresh}).size() >= 1);
    CHECK(leaks(echoed, {echo_code}).size() >= 1);
    CHECK(leaks(echoed, {echo_verifier}).size() >= 1);
    // ...and a token that one more line prints unredacted would be caught.
    auto probe = log.texts;
    probe.push_back({"deliberate", "token " + first.access_token.reveal()});
    CHECK(leaks(probe, log.secrets).size() == 1);
    client.close();
}

TEST_CASE("secrets audit: a proxy's credentials are never shown") {
    audit_log log;
    audit_env a(log);
    auto& e = a.e;
    log.secret(client_secret);
    log.secret(proxy_password);
    log.secret(wrong_proxy_password);
    const auto basic = [](const std::string& password) {
        return joinme::detail::base64("auditor:" + password);
    };
    log.secret(basic(proxy_password));
    log.secret(basic(wrong_proxy_password));

    test_support::scripted_proxy proxy(e.ioc);
    proxy.script().required_authorization = "Basic " + basic(proxy_password);
    auto config = [&](const std::string& password) {
        auto cfg = a.config();
        REQUIRE_FALSE(cfg.proxy.set_proxy("http://auditor:" + password +
                                          "@127.0.0.1:" + std::to_string(proxy.port())));
        cfg.proxy.proxy_loopback = true; // the sandbox is on loopback
        log.print("operator<<(proxy_server)", *cfg.proxy.http);
        return cfg;
    };
    using proxy_client = api::basic_client<joinme::proxy_stream>;

    // The whole flow through the proxy, with the right credentials.
    e.srv.config().current_user = "admin@example.com";
    proxy_client client(e.ioc.get_executor(), joinme::proxy_context(joinme::tls_context(e.ssl)),
                        config(proxy_password));
    auto g = code_grant(a, client, "user_info scheduler start_meeting provisioning");
    client.set_token(g.token);
    api_calls(a, client);
    learn_current(a, client);
    CHECK(proxy.record().connections >= 1);
    CHECK(e.refreshes() == 0);

    // The wrong password: 407, with and without exceptions.
    proxy_client wrong(e.ioc.get_executor(), joinme::proxy_context(joinme::tls_context(e.ssl)),
                       config(wrong_proxy_password));
    wrong.set_token(g.token);
    auto u = logged<api::user>(a, "proxy: wrong password", [&](diagnostics& d, auto t) {
        return wrong.async_get_user(d, std::move(t));
    });
    CHECK(u.ec == errc::proxy_auth_required);
    CHECK(u.diag.status == 407);
    CHECK(logged_throw(a, "proxy: wrong password, throwing", wrong.async_get_user()));
    wrong.close();

    // A proxy that quotes every credential it got back, in its status line and its headers.
    auto& script = proxy.script();
    script.what = test_support::proxy_script::mode::answer;
    script.close_after = true;
    const std::string quoted = basic(proxy_password) + " auditor:" + proxy_password;
    script.bytes = "HTTP/1.1 403 Forbidden " + quoted + "\r\nVia: 1.1 " + quoted +
                   "\r\nProxy-Authenticate: Basic realm=\"" + quoted + "\"\r\n\r\n";
    client.close();
    proxy_client quoting(e.ioc.get_executor(), joinme::proxy_context(joinme::tls_context(e.ssl)),
                         config(proxy_password));
    quoting.set_token(g.token);
    auto q = logged<api::user>(a, "proxy: quotes the credentials", [&](diagnostics& d, auto t) {
        return quoting.async_get_user(d, std::move(t));
    });
    CHECK(q.ec == errc::proxy_refused);
    CHECK(logged_throw(a, "proxy: quotes the credentials, throwing", quoting.async_get_user()));
    quoting.close();

    for (const auto& l : leaks(log.texts, log.secrets))
        FAIL_CHECK(l);
    // The harness sees what it looks for: the proxy's own bytes do show the password.
    CHECK(leaks({{"the proxy's answer", script.bytes}}, {proxy_password}).size() == 1);
    std::size_t pool_events = 0;
    for (const auto& t : log.texts)
        pool_events += t.where == "pool on_request";
    CHECK(pool_events > 10);
}

} // namespace audit
