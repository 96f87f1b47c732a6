// An asynchronous web server that signs its users in with join.me and manages their meetings:
// the library's first use case ("an async C++ server that logs its users in with join.me and
// then starts and schedules meetings for them").
//
// What it shows, in the order a request meets it:
// - a Beast HTTP/1.1 server on one io_context, one coroutine per connection, with header and
//   body limits and a read deadline on every request (`http_server` below);
// - a per-browser session in an HttpOnly, SameSite=Lax cookie, holding that browser's OAuth
//   `state` and PKCE verifier while it is at join.me, and a CSRF token for its forms;
// - "Sign in with join.me": the authorization code grant with `state` and PKCE S256
//   (`oauth::make_authorization_request`), the callback checked with `oauth::parse_redirect`
//   (a callback whose `state` is not this browser's is refused as forged), the code
//   exchanged with `oauth::async_exchange_code`;
// - a stale token (401 `stale_token`): the page offers join.me's renew-authorization page
//   (`any_client::renew_authorization_url`, reached through `GET /renew` so that the URL, which
//   holds the access token, never appears in a page), which comes back to the callback with
//   `isAuthorizationRenewed`; with the in-process sandbox, a button makes the token stale;
// - many users, one pool: one `api::any_client` per user, each with its own token source
//   keyed by the user's e-mail in one shared `oauth::memory_token_store`, all over a single
//   `http::connection_pool`; with `--redis redis://HOST:PORT` (when built with hiredis) the
//   store is a `store::redis_token_store` shared by several instances of this server, so
//   that one of them refreshes a user's token and the others take the new one;
// - a webhook receiver: starting a meeting registers `meeting.start` and `meeting.end`
//   webhooks pointing at `POST /webhooks/joinme`; the callbacks are parsed as
//   `api::webhook_event` and shown on the page of the user who started the meeting.
//
// With no environment set it runs against an in-process sandbox (plain HTTP on loopback) and
// prints its address on the second line. Against join.me, or a `joinme-sandbox` process, set
// JOINME_CLIENT_ID, JOINME_CLIENT_SECRET, JOINME_REDIRECT_URI (this server's callback, whose
// origin is also where join.me posts the webhooks) and optionally JOINME_AUTH_BASE,
// JOINME_API_BASE and JOINME_CA_FILE (a PEM bundle trusted besides the system's).
//
// Nothing secret is ever printed: not the client secret, tokens, codes, PKCE verifiers,
// presenter links, session ids, CSRF tokens or webhook keys. The request log shows paths
// without their query strings.
#include <joinme/joinme.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#ifdef JOINME_EXAMPLE_REDIS
#include <joinme/store/redis.hpp>
#endif

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace urls = boost::urls;
namespace oauth = joinme::oauth;
namespace api = joinme::api;
using tcp = asio::ip::tcp;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

namespace {

// Awaited with this token, an operation gives its error code instead of throwing. It is a
// named constant so that no temporary is built inside a `co_await` expression (g++ 12).
constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// --- Small helpers: randomness, HTML, forms, cookies ------------------------------------------

// 32 bytes from OpenSSL's CSPRNG, in hex: session ids, CSRF tokens, webhook keys.
std::string random_id() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

// Compares two secrets in constant time, so that the time taken says nothing about them.
bool secret_equals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Everything that goes into a page goes through this first.
std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// The fields of an `application/x-www-form-urlencoded` body (or query), decoded; a field
// given twice keeps its first value. Malformed input gives no fields.
std::map<std::string, std::string, std::less<>> parse_form(std::string_view body) {
    std::map<std::string, std::string, std::less<>> out;
    auto encoded = urls::parse_query(body);
    if (!encoded)
        return out;
    urls::encoding_opts opt;
    opt.space_as_plus = true; // forms encode a space as '+'
    for (auto p : urls::params_view(*encoded, opt))
        out.emplace(p.key, p.value);
    return out;
}

std::string_view field(const std::map<std::string, std::string, std::less<>>& form,
                       std::string_view name) {
    auto it = form.find(name);
    return it == form.end() ? std::string_view{} : std::string_view(it->second);
}

// The value of cookie `name` in the request's Cookie headers, if any.
std::optional<std::string> cookie(const request& req, std::string_view name) {
    auto [first, last] = req.equal_range(bhttp::field::cookie);
    for (auto h = first; h != last; ++h) {
        std::string_view rest = h->value();
        while (!rest.empty()) {
            auto end = rest.find(';');
            auto pair = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            while (!pair.empty() && pair.front() == ' ')
                pair.remove_prefix(1);
            auto eq = pair.find('=');
            if (eq != std::string_view::npos && pair.substr(0, eq) == name)
                return std::string(pair.substr(eq + 1));
        }
    }
    return std::nullopt;
}

std::optional<std::int64_t> to_id(std::string_view s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
        return std::nullopt;
    return v;
}

// --- Configuration ---------------------------------------------------------------------------

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// What the server needs to know about join.me and about itself.
struct app_config {
    api::client_config client;   // the OAuth registration and the endpoints (no user yet)
    urls::url public_origin;     // where browsers and join.me's webhooks reach this server
    std::string callback_path;   // the path of the redirect URI
    bool secure_cookies = false; // the public origin is https: cookies get `Secure`
};

// --- Pages -----------------------------------------------------------------------------------

// The pages' one style sheet, inline, allowed by its hash in the CSP.
constexpr std::string_view style =
    "body{margin:0;background:#f3f4f6;color:#1f2328;"
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{max-width:52rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;"
    "border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{margin:0 0 1rem;font-size:1.5rem}h2{margin:1.5rem 0 .5rem;font-size:1.15rem}"
    "form{display:inline}button,input{font:inherit}button{padding:.2rem .7rem;"
    "border:1px solid #aeb5bd;border-radius:6px;background:#f6f8fa;cursor:pointer}"
    "table{border-collapse:collapse;width:100%}th,td{padding:.35rem .5rem;text-align:left;"
    "border-bottom:1px solid #d8dee4}.notice{padding:.5rem .75rem;background:#ddf4ff;"
    "border-radius:6px}.error{color:#cf222e}code{font-size:.9em}";

// `'sha256-...'` of `text`, as a CSP hash source.
std::string csp_hash(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(size));
    return "'sha256-" +
           std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n)) + "'";
}

response page(bhttp::status status, std::string_view title, std::string_view body_html) {
    // No script runs on these pages; say so, so that an injected one would not either. The
    // one style sheet is allowed by its hash.
    static const std::string csp =
        "default-src 'none'; style-src " + csp_hash(style) + "; form-action 'self'";
    response res{status, 11};
    res.set(bhttp::field::content_type, "text/html; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.set("Content-Security-Policy", csp);
    res.set("X-Frame-Options", "DENY");
    res.body() = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
                 escape(title) + "</title><style>" + std::string(style) +
                 "</style></head>\n<body><main>\n<h1>" + escape(title) + "</h1>\n" +
                 std::string(body_html) + "\n</main></body></html>\n";
    return res;
}

response redirect_to(std::string_view location, bhttp::status status = bhttp::status::see_other) {
    response res{status, 11};
    res.set(bhttp::field::location, location);
    res.set(bhttp::field::cache_control, "no-store");
    return res;
}

// A hidden field carrying the session's CSRF token; every form that posts has one.
std::string csrf_field(std::string_view csrf) {
    return "<input type=\"hidden\" name=\"csrf\" value=\"" + escape(csrf) + "\">";
}

std::string button_form(std::string_view action, std::string_view csrf, std::string_view label) {
    return "<form method=\"post\" action=\"" + escape(action) + "\">" + csrf_field(csrf) +
           "<button type=\"submit\">" + escape(label) + "</button></form>";
}

// What went wrong in a call, for the user: the condition and what the server said (the
// library keeps secrets out of both).
std::string describe(joinme::error_code ec, const joinme::diagnostics& diag) {
    std::ostringstream os;
    os << ec.message() << " (" << diag << ")";
    return os.str();
}

// --- The application: sessions, users, routes -------------------------------------------------

// One browser.
struct session {
    std::string csrf = random_id(); // the token every form of this session posts back
    // While the browser is at join.me: the request sent, with its `state` and PKCE verifier.
    std::optional<oauth::authorization_request> signing_in;
    std::string user;                 // the signed-in user's e-mail, empty before
    std::vector<std::string> notices; // HTML shown once on the next page
    std::chrono::steady_clock::time_point last_seen = std::chrono::steady_clock::now();
};

// One signed-in user, shared by all their browsers.
struct account {
    explicit account(api::any_client c) : client(std::move(c)) {}
    api::any_client client; // this user's token source, over the shared pool
    api::user profile;
    std::deque<api::webhook_event> events; // the newest first
    std::set<std::int64_t> started;        // meetings started from this server
};

class web_app {
public:
    web_app(std::shared_ptr<joinme::http::connection_pool> pool, app_config cfg,
            std::shared_ptr<oauth::token_store> store, joinme::sandbox::server* sandbox)
        : pool_(std::move(pool))
        , cfg_(std::move(cfg))
        , store_(std::move(store))
        , sandbox_(sandbox) {}

    // Answers one request. Never throws: an unexpected failure is a 500 page.
    asio::awaitable<response> handle(const request& req) {
        try {
            co_return co_await route(req);
        } catch (const std::exception& e) {
            std::cerr << "error: " << e.what() << "\n"; // the library's messages hold no secret
        }
        co_return page(bhttp::status::internal_server_error, "Something went wrong",
                       "<p>The server failed to answer. <a href=\"/\">Back</a></p>");
    }

private:
    static constexpr std::string_view cookie_name = "joinme_example_session";
    static constexpr std::size_t max_events = 20;
    using form_fields = std::map<std::string, std::string, std::less<>>;

    asio::awaitable<response> route(const request& req) {
        auto target = urls::parse_origin_form(req.target());
        if (!target)
            co_return page(bhttp::status::bad_request, "Bad request", "<p>Bad target.</p>");
        const std::string path = target->path();
        const bool get = req.method() == bhttp::verb::get;
        const bool post = req.method() == bhttp::verb::post;

        // join.me posts here: no session, no CSRF token; the body carries our own key.
        if (post && path == "/webhooks/joinme")
            co_return receive_webhook(req);
        if (get && path == "/")
            co_return co_await home(req);
        if (get && path == "/login")
            co_return login(req);
        if (get && path == cfg_.callback_path)
            co_return co_await callback(req);
        if (get && path == "/renew")
            co_return renew(req);
        if (!post)
            co_return page(bhttp::status::not_found, "Not found", "<p><a href=\"/\">Home</a></p>");

        // Every form post must come from one of our pages: it carries the session's CSRF token.
        // A cross-site form cannot read it (SameSite=Lax already keeps the cookie off
        // cross-site POSTs; the token also covers older browsers and same-site attackers).
        auto s = find_session(req);
        auto form = parse_form(req.body());
        if (!s || !secret_equals(field(form, "csrf"), s->csrf))
            co_return page(bhttp::status::forbidden, "Forbidden",
                           "<p>This form was not sent from this site's page (its CSRF token is "
                           "missing or wrong). <a href=\"/\">Reload the page</a> and try "
                           "again.</p>");
        if (path == "/logout")
            co_return logout(req);
        auto acct = account_of(*s);
        if (!acct)
            co_return redirect_to("/");
        if (path == "/meetings")
            co_return co_await schedule(*s, *acct, form);
        if (path == "/sandbox/stale")
            co_return make_stale(*s, *acct);
        // /meetings/{id}/start, /meetings/{id}/delete, /meetings/{id}/end
        auto segs = target->segments();
        if (segs.size() == 3 && segs.front() == "meetings") {
            auto it = segs.begin();
            auto id = to_id(*++it);
            const std::string action = *++it;
            if (id && action == "start")
                co_return co_await start(*s, acct, *id);
            if (id && action == "delete")
                co_return co_await remove(*s, *acct, *id);
            if (id && action == "end")
                co_return end(*s, *acct, *id);
        }
        co_return page(bhttp::status::not_found, "Not found", "<p><a href=\"/\">Home</a></p>");
    }

    // --- sessions

    std::shared_ptr<session> find_session(const request& req) {
        auto id = cookie(req, cookie_name);
        auto it = id ? sessions_.find(*id) : sessions_.end();
        if (it == sessions_.end())
            return nullptr;
        it->second->last_seen = std::chrono::steady_clock::now();
        return it->second;
    }

    // Forgets sessions left unused for a day, so that browsers that never come back do not
    // fill the memory. (A real server would also cap their number, or keep them elsewhere.)
    void forget_old_sessions() {
        const auto cutoff = std::chrono::steady_clock::now() - std::chrono::hours(24);
        std::erase_if(sessions_, [&](const auto& kv) { return kv.second->last_seen < cutoff; });
    }

    std::string set_cookie(std::string_view id, bool clear = false) const {
        std::string c =
            std::string(cookie_name) + "=" + std::string(id) + "; Path=/; HttpOnly; SameSite=Lax";
        if (cfg_.secure_cookies)
            c += "; Secure";
        if (clear)
            c += "; Max-Age=0";
        return c;
    }

    // Gives `s` a fresh id (after sign-in, so that an id planted before it is worth nothing)
    // and returns the Set-Cookie value.
    std::string new_session_id(const std::shared_ptr<session>& s, const request& req) {
        if (auto old = cookie(req, cookie_name))
            sessions_.erase(*old);
        auto id = random_id();
        sessions_[id] = s;
        return set_cookie(id);
    }

    std::shared_ptr<account> account_of(const session& s) {
        auto it = accounts_.find(s.user);
        return s.user.empty() || it == accounts_.end() ? nullptr : it->second;
    }

    // --- sign-in

    // Sends the browser to join.me with a fresh `state` and PKCE pair kept in its session.
    response login(const request& req) {
        auto s = find_session(req);
        std::string new_cookie;
        if (!s) {
            forget_old_sessions();
            s = std::make_shared<session>();
            new_cookie = new_session_id(s, req);
        }
        oauth::authorization_options options;
        options.scopes = oauth::scope_set::parse("user_info scheduler start_meeting");
        options.pkce = true;
        s->signing_in = oauth::make_authorization_request(cfg_.client.oauth, options);
        auto res = redirect_to(s->signing_in->url, bhttp::status::found);
        if (!new_cookie.empty())
            res.set(bhttp::field::set_cookie, new_cookie);
        return res;
    }

    // join.me sends the browser back here with `code` and `state` (or an `error`).
    asio::awaitable<response> callback(const request& req) {
        auto s = find_session(req);
        // Back from join.me's renew-authorization page: the same token works again. (Nothing
        // is trusted from this request; it only leads back to the page.)
        auto target = urls::parse_origin_form(req.target());
        if (target && target->params().contains("isAuthorizationRenewed")) {
            if (s && account_of(*s))
                s->notices.push_back("join.me renewed the authorization.");
            co_return redirect_to("/");
        }
        if (!s || !s->signing_in)
            co_return page(bhttp::status::bad_request, "Sign-in failed",
                           "<p>This browser has no sign-in in progress (a forged callback, or "
                           "one used twice). <a href=\"/login\">Sign in with join.me</a></p>");
        // A sign-in request is used once, whatever comes back.
        const oauth::authorization_request sent = std::move(*s->signing_in);
        s->signing_in.reset();

        // The state must be the one this browser's request carried: a callback made by
        // somebody else (carrying their code or their state) is refused here.
        joinme::error_code ec;
        joinme::diagnostics diag;
        const auto now = std::chrono::system_clock::now();
        auto got = oauth::parse_redirect(req.target(), sent, now, ec, diag);
        if (ec == joinme::errc::state_mismatch || ec == joinme::errc::missing_state)
            co_return page(bhttp::status::bad_request, "Sign-in refused",
                           "<p>Forged callback: its <code>state</code> is not the one this "
                           "browser's sign-in sent, so it was not started here. Nothing was "
                           "signed in. <a href=\"/login\">Sign in with join.me</a></p>");
        if (ec == joinme::oauth_errc::access_denied)
            co_return page(bhttp::status::ok, "Not signed in",
                           "<p>You declined at join.me. <a href=\"/login\">Try again</a></p>");
        if (ec)
            co_return page(bhttp::status::bad_request, "Sign-in failed",
                           "<p>" + escape(describe(ec, diag)) + "</p>");

        // The code (with the PKCE verifier) for a token, over the shared pool.
        auto exchange =
            oauth::async_exchange_code(*pool_, cfg_.client.oauth, sent, got, diag, as_result);
        auto [xec, token] = co_await std::move(exchange);
        if (xec)
            co_return page(bhttp::status::bad_gateway, "Sign-in failed",
                           "<p>join.me did not give a token: " + escape(describe(xec, diag)) +
                               "</p>");

        // Who is it? A client with no store asks once; the user's own client is keyed by the
        // answer. Every later call goes through that client.
        api::any_client probe(pool_, cfg_.client);
        probe.set_token(token);
        auto who_op = probe.async_get_user(diag, as_result);
        auto [uec, who] = co_await std::move(who_op);
        if (uec)
            co_return page(bhttp::status::bad_gateway, "Sign-in failed",
                           "<p>" + escape(describe(uec, diag)) + "</p>");

        auto& acct = accounts_[who.email];
        if (!acct) {
            // One client per user over the one pool, with a token source whose tokens are
            // saved in the shared store under the user's e-mail.
            api::client_config per_user = cfg_.client;
            per_user.token_source.store = store_;
            per_user.token_source.user = who.email;
            acct = std::make_shared<account>(api::any_client(pool_, per_user));
        }
        acct->client.set_token(std::move(token)); // saved to the store before its first use
        acct->profile = who;

        s->user = who.email;
        s->csrf = random_id();
        std::cout << "signed in: " << who.email << std::endl;
        auto res = redirect_to("/");
        res.set(bhttp::field::set_cookie, new_session_id(s, req));
        co_return res;
    }

    // Sends the browser to join.me's renew-authorization page for this user's token. (Its URL
    // holds the access token: it goes into a redirect, never into a page.)
    response renew(const request& req) {
        auto s = find_session(req);
        auto acct = s ? account_of(*s) : nullptr;
        joinme::error_code ec;
        auto url = acct ? acct->client.renew_authorization_url(ec) : joinme::secret();
        if (!acct || ec)
            return redirect_to("/");
        auto res = redirect_to(url.reveal(), bhttp::status::found);
        res.set("Referrer-Policy", "no-referrer");
        return res;
    }

    response logout(const request& req) {
        if (auto id = cookie(req, cookie_name))
            sessions_.erase(*id);
        auto res = redirect_to("/");
        res.set(bhttp::field::set_cookie, set_cookie("", true));
        return res;
    }

    // --- the page

    asio::awaitable<response> home(const request& req) {
        auto s = find_session(req);
        auto acct = s ? account_of(*s) : nullptr;
        if (!acct)
            co_return page(bhttp::status::ok, "join.me web server example",
                           "<p>You are not signed in.</p>\n"
                           "<p><a id=\"login\" href=\"/login\">Sign in with join.me</a></p>");

        joinme::diagnostics diag;
        auto list_op =
            acct->client.async_list_meetings(api::meeting_list_filter{}, diag, as_result);
        auto [ec, meetings] = co_await std::move(list_op);
        // join.me wants the user to confirm the authorization again, on its renew-authorization
        // page, which comes back to the callback.
        if (ec == joinme::errc::stale_token)
            s->notices.push_back("join.me asks you to confirm that this site may go on using "
                                 "your account. <a id=\"renew\" href=\"/renew\">Confirm at "
                                 "join.me</a>");

        const auto& u = acct->profile;
        std::string html = "<p id=\"profile\">Signed in as <strong>" + escape(u.full_name) +
                           "</strong> &lt;<span id=\"email\">" + escape(u.email) + "</span>&gt;, " +
                           escape(u.subscription_type) + " plan, " +
                           std::to_string(u.number_of_meetings_hosted) + " meetings hosted" +
                           (u.personal_url ? ", join.me/" + escape(*u.personal_url) : "") + ". " +
                           button_form("/logout", s->csrf, "Sign out") + "</p>\n";
        if (sandbox_)
            html += "<p>" +
                    button_form("/sandbox/stale", s->csrf, "Make my token stale (sandbox)") +
                    "</p>\n";
        for (auto& n : s->notices)
            html += "<p class=\"notice\">" + n + "</p>\n";
        s->notices.clear();

        html += "<h2>Your meetings</h2>\n";
        if (ec)
            html += "<p class=\"error\">The meetings could not be listed: " +
                    escape(describe(ec, diag)) + "</p>\n";
        else if (meetings.empty())
            html += "<p>No upcoming meeting.</p>\n";
        else {
            html += "<table>\n<tr><th>Id</th><th>Name</th><th>Start (UTC)</th><th>End "
                    "(UTC)</th><th></th></tr>\n";
            for (const auto& m : meetings) {
                const auto base = "/meetings/" + std::to_string(m.meeting_id);
                html += "<tr class=\"meeting\" id=\"meeting-" + std::to_string(m.meeting_id) +
                        "\"><td>" + std::to_string(m.meeting_id) + "</td><td>" +
                        escape(m.meeting_name) + "</td><td>" +
                        escape(joinme::format_iso8601(m.meeting_start)) + "</td><td>" +
                        escape(joinme::format_iso8601(m.meeting_end)) + "</td><td>" +
                        button_form(base + "/start", s->csrf, "Start") + " " +
                        button_form(base + "/delete", s->csrf, "Delete");
                if (sandbox_ && acct->started.contains(m.meeting_id))
                    html += " " + button_form(base + "/end", s->csrf, "End (sandbox)");
                html += "</td></tr>\n";
            }
            html += "</table>\n";
        }

        const auto tomorrow =
            std::chrono::ceil<std::chrono::hours>(std::chrono::system_clock::now()) +
            std::chrono::hours(24);
        html += "<h2>Schedule a meeting</h2>\n<form method=\"post\" action=\"/meetings\">" +
                csrf_field(s->csrf) +
                "<label>Name <input name=\"name\" required maxlength=\"200\"></label> "
                "<label>Start (UTC, ISO 8601) <input name=\"start\" value=\"" +
                escape(joinme::format_iso8601(std::chrono::floor<std::chrono::seconds>(tomorrow))) +
                "\"></label> <label>Minutes <input name=\"minutes\" value=\"60\" "
                "size=\"4\"></label> <button type=\"submit\">Schedule</button></form>\n";

        html += "<h2>Webhook events</h2>\n";
        if (acct->events.empty())
            html += "<p>None yet. Start a meeting and open its presenter link.</p>\n";
        else {
            html += "<ul id=\"events\">\n";
            for (const auto& e : acct->events)
                html += "<li class=\"event\">" + escape(e.event) + ", meeting " +
                        (e.meeting_id ? std::to_string(*e.meeting_id) : "?") +
                        (e.timestamp ? ", at " + escape(joinme::format_iso8601(*e.timestamp))
                                     : std::string()) +
                        "</li>\n";
            html += "</ul>\n";
        }
        co_return page(bhttp::status::ok, "join.me web server example", html);
    }

    // --- the actions (each answers with a redirect to the page, which shows a notice)

    asio::awaitable<response> schedule(session& s, account& acct, const form_fields& form) {
        api::meeting_draft draft;
        draft.meeting_name = std::string(field(form, "name"));
        auto start = joinme::parse_iso8601(field(form, "start"));
        auto minutes = to_id(field(form, "minutes"));
        if (draft.meeting_name.empty() || !start || !minutes || *minutes <= 0 || *minutes > 1440) {
            s.notices.push_back("A meeting needs a name, a start such as 2030-01-31T09:00:00Z "
                                "and a length of 1 to 1440 minutes.");
            co_return redirect_to("/");
        }
        draft.meeting_start = *start;
        draft.meeting_end = *start + std::chrono::minutes(*minutes);
        joinme::diagnostics diag;
        auto op = acct.client.async_schedule_meeting(draft, diag, as_result);
        auto [ec, m] = co_await std::move(op);
        s.notices.push_back(ec ? "Not scheduled: " + escape(describe(ec, diag))
                               : "Scheduled meeting " + std::to_string(m.meeting_id) + " \"" +
                                     escape(m.meeting_name) + "\".");
        co_return redirect_to("/");
    }

    // Starts a scheduled meeting with webhooks that call back this server. The webhook's
    // `customCallbackData` carries a fresh random key, which says whose meeting it is; an
    // unknown key is refused, so nobody can post events to a user without one.
    asio::awaitable<response> start(session& s, std::shared_ptr<account> acct, std::int64_t id) {
        const auto key = random_id();
        api::scheduled_start_request req;
        urls::url callback = cfg_.public_origin;
        callback.set_path("/webhooks/joinme");
        for (auto type :
             {api::webhook_event_type::meeting_start, api::webhook_event_type::meeting_end})
            req.webhooks[std::string(api::to_string(type))] =
                api::webhook_registration{std::string(callback.buffer()), {{"key", key}}};
        joinme::diagnostics diag;
        auto op = acct->client.async_start_scheduled_meeting(id, req, diag, as_result);
        auto [ec, started] = co_await std::move(op);
        if (ec) {
            s.notices.push_back("Not started: " + escape(describe(ec, diag)));
            co_return redirect_to("/");
        }
        hooks_[key] = {acct, id};
        acct->started.insert(id);
        // The presenter link is a one-time login link: shown to its owner, never logged.
        std::string n = "Started meeting " + std::to_string(id) +
                        ": <a id=\"presenter-link\" href=\"" + escape(started.presenter_link) +
                        "\">open it as the presenter</a> (once, within 10 minutes); viewers "
                        "join at <a href=\"" +
                        escape(started.viewer_link) + "\">" + escape(started.viewer_link) + "</a>.";
        if (started.webhook_registered("meeting.start") == false)
            n += " join.me did not register the webhooks, so no event will show here.";
        s.notices.push_back(std::move(n));
        co_return redirect_to("/");
    }

    asio::awaitable<response> remove(session& s, account& acct, std::int64_t id) {
        joinme::diagnostics diag;
        auto op = acct.client.async_delete_meeting(id, diag, as_result);
        auto [ec] = co_await std::move(op);
        s.notices.push_back(ec ? "Not deleted: " + escape(describe(ec, diag))
                               : "Deleted meeting " + std::to_string(id) + ".");
        co_return redirect_to("/");
    }

    // Sandbox only: everybody leaves the meeting, and the sandbox posts `meeting.end`.
    response end(session& s, account& acct, std::int64_t id) {
        const bool ok = sandbox_ && acct.started.contains(id) && sandbox_->meeting_ended(id);
        s.notices.push_back(ok ? "Meeting " + std::to_string(id) + " ended."
                               : "Meeting " + std::to_string(id) +
                                     " cannot be ended (not begun, or already ended).");
        return redirect_to("/");
    }

    // Sandbox only: the API answers `stale_token` for this user's token until they renew the
    // authorization, which the next page load sends them to do.
    response make_stale(session& s, account& acct) {
        joinme::error_code ec;
        auto renew = acct.client.renew_authorization_url(ec);
        auto url = ec ? urls::url() : urls::url(renew.reveal());
        auto it = url.params().find("access_token");
        const bool ok = sandbox_ && it != url.params().end() && sandbox_->set_stale((*it).value);
        s.notices.push_back(ok ? "Your token is now stale." : "The token could not be made stale.");
        return redirect_to("/");
    }

    // --- the webhook receiver

    response receive_webhook(const request& req) {
        joinme::error_code ec;
        joinme::diagnostics diag;
        auto event = api::parse<api::webhook_event>(req.body(), ec, diag);
        if (!event) {
            response res{bhttp::status::bad_request, 11};
            res.body() = "not a webhook event\n";
            return res;
        }
        const auto* data = event->custom_callback_data.if_object();
        const auto* key = data ? data->if_contains("key") : nullptr;
        auto it = key && key->is_string() ? hooks_.find(std::string_view(key->get_string()))
                                          : hooks_.end();
        if (it == hooks_.end()) {
            response res{bhttp::status::not_found, 11};
            res.body() = "unknown webhook\n";
            return res;
        }
        auto& [acct, meeting_id] = it->second;
        // The event's name is whatever the caller sent: the log gets the known names only.
        const auto type = event->type();
        std::cout << "webhook: "
                  << (type == api::webhook_event_type::unknown ? "unknown event"
                                                               : api::to_string(type))
                  << " for meeting " << meeting_id << std::endl;
        acct->events.push_front(*event);
        if (acct->events.size() > max_events)
            acct->events.pop_back();
        if (type == api::webhook_event_type::meeting_end) {
            acct->started.erase(meeting_id);
            hooks_.erase(it); // the meeting is over: nothing more comes for this key
        }
        return response{bhttp::status::no_content, 11};
    }

    struct hook {
        std::shared_ptr<account> acct;
        std::int64_t meeting_id;
    };

    std::shared_ptr<joinme::http::connection_pool> pool_; // shared by every user's client
    app_config cfg_;
    std::shared_ptr<oauth::token_store> store_; // every user's tokens, by e-mail
    joinme::sandbox::server* sandbox_;                 // the in-process sandbox, if any
    std::map<std::string, std::shared_ptr<session>, std::less<>> sessions_; // by session id
    std::map<std::string, std::shared_ptr<account>, std::less<>> accounts_; // by e-mail
    std::map<std::string, hook, std::less<>> hooks_;                        // by webhook key
};

// --- The HTTP server ------------------------------------------------------------------------

// Accepts connections and serves each on its own coroutine: read a request within a
// deadline and size limits, let the application answer, write, repeat while kept alive.
class http_server {
public:
    explicit http_server(asio::any_io_executor ex) : acceptor_(std::move(ex)) {}

    // Binds 127.0.0.1:`port` (0: any free port) and returns the port bound. Loopback only: in
    // production, put it behind a reverse proxy that terminates TLS for the public origin of
    // JOINME_REDIRECT_URI (which join.me's webhooks must reach too).
    unsigned short listen(unsigned short port) {
        tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        return acceptor_.local_endpoint().port();
    }

    // Accepts connections for `app`, which must outlive the server's work.
    void start(web_app& app) {
        app_ = &app;
        asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
    }

    // Stops accepting and closes every connection, so that io_context::run() returns.
    void stop() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto* s : open_)
            s->socket().close(ec);
    }

private:
    static constexpr std::size_t header_limit = 8 * 1024;
    static constexpr std::size_t body_limit = 64 * 1024;
    // The whole request, from the moment we start waiting for it: a keep-alive connection left
    // idle, or a request trickling in byte by byte, is cut off alike.
    static constexpr std::chrono::seconds read_timeout{15};
    static constexpr std::chrono::seconds write_timeout{15};

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(as_result);
            if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                co_return;
            if (!ec)
                asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        open_.insert(&stream);
        beast::flat_buffer buffer;
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(header_limit);
            parser.body_limit(body_limit);
            stream.expires_after(read_timeout);
            auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, as_result);
            if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit) {
                auto status = ec == bhttp::error::header_limit
                                  ? bhttp::status::request_header_fields_too_large
                                  : bhttp::status::payload_too_large;
                response res{status, 11};
                res.keep_alive(false);
                res.prepare_payload();
                stream.expires_after(write_timeout);
                co_await bhttp::async_write(stream, res, as_result);
                break;
            }
            if (ec)
                break; // closed, timed out, or not HTTP
            const request& req = parser.get();
            response res = co_await app_->handle(req);
            // The log shows the path only: a query string may carry a code or a state.
            std::cout << req.method_string() << " "
                      << req.target().substr(0, req.target().find('?')) << " " << res.result_int()
                      << std::endl;
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            stream.expires_after(write_timeout);
            auto [wec, wn] = co_await bhttp::async_write(stream, res, as_result);
            if (wec || !res.keep_alive())
                break;
        }
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        open_.erase(&stream);
    }

    tcp::acceptor acceptor_;
    web_app* app_ = nullptr;
    std::set<beast::tcp_stream*> open_;
};

// --- main ----------------------------------------------------------------------------------

// The pool every user's client shares: TLS for https origins (trusting the system's CAs, and
// JOINME_CA_FILE's), plain TCP for a sandbox on http; directly, or through the proxy of
// https_proxy / http_proxy / no_proxy as curl reads them (loopback origins go direct).
// Past this point only `connection_pool`, the interface, is named.
std::shared_ptr<joinme::http::connection_pool> make_pool(asio::any_io_executor ex,
                                                         const api::client_config& cfg) {
    joinme::error_code ec;
    std::string why;
    auto proxy = joinme::proxy_config_from_environment(ec, {}, &why);
    if (ec)
        throw std::runtime_error(why);
    auto ssl = std::make_shared<asio::ssl::context>(joinme::make_client_tls_context());
    if (auto ca = env("JOINME_CA_FILE"); !ca.empty())
        ssl->load_verify_file(ca);
    return std::make_shared<joinme::http::basic_connection_pool<joinme::proxy_stream>>(
        ex, joinme::proxy_context(joinme::tls_context(ssl), std::move(proxy)), cfg.pool);
}

int usage(const char* argv0) {
    std::cerr << "usage: " << argv0 << " [--port PORT] [--redis redis://HOST:PORT]\n"
              << "Serves on 127.0.0.1:PORT (8080 by default; 0 picks a free port). With\n"
              << "--redis, users' tokens are kept in Redis, shared with other instances.\n"
              << "Without JOINME_CLIENT_ID it runs against an in-process sandbox; otherwise set\n"
              << "JOINME_CLIENT_SECRET and JOINME_REDIRECT_URI too, and optionally\n"
              << "JOINME_AUTH_BASE, JOINME_API_BASE and JOINME_CA_FILE. https_proxy,\n"
              << "http_proxy and no_proxy are honoured as curl reads them.\n";
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    unsigned short port = 8080;
    std::string redis_url;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            auto v = to_id(argv[++i]);
            if (!v || *v < 0 || *v > 65535)
                return usage(argv[0]);
            port = static_cast<unsigned short>(*v);
        } else if (arg == "--redis" && i + 1 < argc) {
            redis_url = argv[++i];
        } else
            return usage(argv[0]);
    }

    try {
        asio::io_context ioc;

        // Bind first: in sandbox mode the redirect URI carries the port actually bound.
        http_server server(ioc.get_executor());
        port = server.listen(port);
        const std::string self = "http://127.0.0.1:" + std::to_string(port);

        app_config cfg;
        auto& oc = cfg.client.oauth;
        std::optional<joinme::sandbox::server> sandbox;
        if (env("JOINME_CLIENT_ID").empty()) {
            // The sandbox stands in for join.me. Its consent page lets the person pick which
            // of its users they are; its registered callbacks include http://127.0.0.1/callback
            // on any port (RFC 8252 §7.3).
            sandbox.emplace(ioc.get_executor());
            sandbox->listen_tcp();
            oc.client_id = joinme::sandbox::default_client_id;
            oc.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
            oc.redirect_uri = self + "/callback";
            cfg.client.set_base_url(sandbox->base_url());
        } else {
            oc.client_id = env("JOINME_CLIENT_ID");
            oc.client_secret = joinme::secret(env("JOINME_CLIENT_SECRET"));
            oc.redirect_uri = env("JOINME_REDIRECT_URI");
            if (oc.client_secret.empty() || oc.redirect_uri.empty())
                return usage(argv[0]);
            if (auto auth = env("JOINME_AUTH_BASE"); !auth.empty())
                oc.set_auth_base_url(auth);
            if (auto base = env("JOINME_API_BASE"); !base.empty())
                cfg.client.api_base_url = base;
        }
        auto redirect = urls::parse_absolute_uri(oc.redirect_uri);
        if (!redirect) {
            std::cerr << "JOINME_REDIRECT_URI is not an absolute URL\n";
            return 2;
        }
        cfg.callback_path = redirect->path();
        cfg.public_origin = urls::url(redirect->encoded_origin());
        cfg.secure_cookies = redirect->scheme() == "https";

        auto pool = make_pool(ioc.get_executor(), cfg.client);
        std::shared_ptr<oauth::token_store> store;
        std::function<void()> close_store = [] {};
        if (!redis_url.empty()) {
#ifdef JOINME_EXAMPLE_REDIS
            auto redis = std::make_shared<joinme::store::redis_token_store>(
                pool->get_executor(), joinme::store::redis_options::from_url(redis_url));
            close_store = [redis] { redis->close(); };
            store = redis;
#else
            std::cerr << "joinme-web-server: built without hiredis, so without --redis\n";
            return 2;
#endif
        } else {
            store = std::make_shared<oauth::memory_token_store>(pool->get_executor());
        }
        web_app app(pool, cfg, store, sandbox ? &*sandbox : nullptr);
        server.start(app);

        // The first line is what a test (or a person) looks for.
        std::cout << "joinme-web-server listening on " << self << "/" << std::endl;
        if (sandbox)
            std::cout << "sandbox listening on " << sandbox->base_url() << "/" << std::endl;

        // SIGINT/SIGTERM: stop accepting, close the connections, the pool and the sandbox;
        // then nothing is left to run and run() returns.
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](boost::system::error_code ec, int) {
            if (ec)
                return;
            std::cout << "shutting down" << std::endl;
            server.stop();
            pool->close();
            close_store();
            if (sandbox)
                sandbox->stop();
        });
        ioc.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "joinme-web-server: " << e.what() << "\n";
        return 1;
    }
}
