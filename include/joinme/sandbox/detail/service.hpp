// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_DETAIL_SERVICE_HPP
#define JOINME_SANDBOX_DETAIL_SERVICE_HPP

// The sandbox's logic, sans I/O: one parsed HTTP request in, one response out (plus the fault
// to apply while sending it and the webhooks to deliver). The server in sandbox.hpp only moves
// bytes. Field names, paths, statuses and error shapes follow the API contract
// (joinme-api.md, §9 "Decisions").

#include <joinme/detail/ascii.hpp>
#include <joinme/detail/form.hpp>
#include <joinme/detail/html.hpp>
#include <joinme/detail/random.hpp>
#include <joinme/detail/time.hpp>
#include <joinme/detail/url.hpp>
#include <joinme/sandbox/options.hpp>
#include <joinme/secret.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joinme::sandbox::detail {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace urls = boost::urls;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using time_point = std::chrono::system_clock::time_point;

inline constexpr std::string_view auth_base = "/api/public/v1/auth";
inline constexpr std::string_view presenter_link_path = "/API/Public/StartMeeting.aspx";

/// A webhook POST to make.
struct webhook_call {
    std::string url;
    std::string body;
};

/// What to send for one request.
struct outcome {
    response res;
    endpoint ep = endpoint::other;
    std::optional<fault> applied; ///< Latency, close-after-bytes and never-answer to apply.
    std::vector<webhook_call> webhooks;
};

/// The part of a connection the logic needs.
struct connection_info {
    std::string_view scheme;        ///< "http" or "https".
    std::string_view fallback_base; ///< Base URL when the request has no Host.
};

// --- small helpers ------------------------------------------------------------------------

/// `n` random characters from `alphabet` (rejection sampling keeps them uniform).
inline std::string random_chars(std::size_t n, std::string_view alphabet) {
    std::string out;
    unsigned char buf[64];
    const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
    while (out.size() < n) {
        joinme::detail::random_bytes(buf);
        for (unsigned char c : buf)
            if (c < limit && out.size() < n)
                out += alphabet[c % alphabet.size()];
    }
    return out;
}

inline std::string random_alnum(std::size_t n) {
    return random_chars(n, "abcdefghijklmnopqrstuvwxyz0123456789");
}
inline std::string random_digits(std::size_t n) {
    return random_chars(n, "0123456789");
}

/// Decoded parameters of a query string or form body; `duplicate` is set when a name repeats
/// (RFC 6749 §3.1: parameters must not be included more than once).
struct params {
    std::map<std::string, std::string, std::less<>> values;
    bool duplicate = false;
    bool valid = true;

    const std::string* find(std::string_view k) const {
        auto it = values.find(k);
        return it == values.end() ? nullptr : &it->second;
    }
    std::string get(std::string_view k) const {
        auto p = find(k);
        return p ? *p : std::string();
    }
};

inline params parse_params(std::string_view s) {
    params out;
    out.valid = joinme::detail::for_each_form_param(s, [&out](std::string k, std::string v) {
        if (!out.values.emplace(std::move(k), std::move(v)).second)
            out.duplicate = true;
    });
    return out;
}

/// A token request body: form-encoded (the default) or a JSON object of strings.
inline params parse_body_params(const request& req) {
    auto ct = req[http::field::content_type];
    if (ct.size() >= 16 && joinme::detail::ascii_iequals(ct.substr(0, 16), "application/json")) {
        params out;
        boost::system::error_code ec;
        auto v = json::parse(req.body(), ec);
        if (ec || !v.is_object()) {
            out.valid = false;
            return out;
        }
        for (auto& kv : v.as_object()) {
            if (!kv.value().is_string()) {
                out.valid = false;
                continue;
            }
            out.values.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
        }
        return out;
    }
    return parse_params(req.body());
}

inline std::vector<std::string> split_scopes(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto sp = s.find(' ');
        auto w = s.substr(0, sp);
        if (!w.empty() && std::find(out.begin(), out.end(), w) == out.end())
            out.emplace_back(w);
        if (sp == std::string_view::npos)
            break;
        s.remove_prefix(sp + 1);
    }
    return out;
}

inline std::string join_scopes(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v)
        out += (out.empty() ? "" : " ") + s;
    return out;
}

inline bool is_loopback_host(std::string_view h) {
    return h == "127.0.0.1" || h == "[::1]" || h == "localhost";
}

/// Exact match, or RFC 8252 §7.3: a loopback `http` redirect URI matches with any port.
inline bool redirect_matches(std::string_view registered, std::string_view given) {
    if (registered == given)
        return true;
    auto r = joinme::detail::parse_absolute(registered);
    auto g = joinme::detail::parse_absolute(given);
    if (!r || !g || r->scheme() != "http" || g->scheme() != "http" ||
        !is_loopback_host(r->encoded_host()))
        return false;
    return r->encoded_host() == g->encoded_host() && !g->has_userinfo() && !g->has_fragment() &&
           r->encoded_path() == g->encoded_path() && r->has_query() == g->has_query() &&
           r->encoded_query() == g->encoded_query();
}

// --- responses ----------------------------------------------------------------------------

inline response make_response(unsigned status, std::string_view content_type, std::string body) {
    response res{static_cast<http::status>(status), 11};
    if (!content_type.empty())
        res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

inline response json_response(unsigned status, const json::value& v) {
    return make_response(status, "application/json; charset=utf-8", json::serialize(v));
}

inline response html_response(unsigned status, std::string_view title, std::string_view inner) {
    std::string body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
    body += joinme::detail::html_escape(title);
    body += "</title></head>\n<body>\n<h1>";
    body += joinme::detail::html_escape(title);
    body += "</h1>\n";
    body += inner;
    body += "\n</body></html>\n";
    auto res = make_response(status, "text/html; charset=utf-8", std::move(body));
    // The authorize pages refuse to be framed, like join.me's.
    res.set(http::field::x_frame_options, "DENY");
    res.set("Content-Security-Policy", "frame-ancestors 'none'");
    res.set(http::field::cache_control, "no-store");
    return res;
}

inline response error_page(std::string_view message) {
    return html_response(400, "join.me sandbox: invalid request",
                         "<p>" + joinme::detail::html_escape(message) + "</p>");
}

inline response oauth_error(unsigned status, std::string_view error, std::string_view description) {
    auto res =
        json_response(status, json::object{{"error", error}, {"error_description", description}});
    res.set(http::field::cache_control, "no-store");
    return res;
}

inline response api_error(unsigned status, std::string_view message,
                          std::string_view error_code = {}) {
    json::object o{{"Message", message}};
    if (!error_code.empty())
        o["ErrorCode"] = error_code;
    return json_response(status, o);
}

inline response bearer_error(unsigned status, std::string_view error, std::string_view message) {
    auto res = api_error(status, message, error);
    res.set(http::field::www_authenticate,
            "Bearer realm=\"api.join.me\", error=\"" + std::string(error) + "\"");
    return res;
}

inline response mashery_403(std::string_view detail, std::string_view code,
                            std::string_view retry_after = {}) {
    auto res = api_error(403, detail);
    res.set(http::field::server, "Mashery Proxy");
    res.set("X-Error-Detail-Header", detail);
    res.set("X-Mashery-Error-Code", code);
    if (!retry_after.empty())
        res.set(http::field::retry_after, retry_after);
    return res;
}

inline response redirect(const urls::url& to) {
    response res{http::status::found, 11};
    res.set(http::field::location, to.buffer());
    res.set(http::field::cache_control, "no-store");
    res.prepare_payload();
    return res;
}

// --- typed JSON field access (bodies of the API) ------------------------------------------

enum class field { missing, ok, bad };

inline field get_bool(const json::object& o, std::string_view k, bool& out) {
    auto p = o.if_contains(k);
    if (!p || p->is_null())
        return field::missing;
    if (p->is_bool()) {
        out = p->get_bool();
        return field::ok;
    }
    // Real clients sent "true"/"false" as strings.
    if (p->is_string() && (p->get_string() == "true" || p->get_string() == "false")) {
        out = p->get_string() == "true";
        return field::ok;
    }
    return field::bad;
}

inline field get_string(const json::object& o, std::string_view k, std::string& out) {
    auto p = o.if_contains(k);
    if (!p || p->is_null())
        return field::missing;
    if (!p->is_string())
        return field::bad;
    out = std::string(p->get_string());
    return field::ok;
}

// --- state ----------------------------------------------------------------------------------

struct access_token_rec {
    std::string client_id, user;
    std::vector<std::string> scopes;
    time_point expires_at;
    std::optional<time_point> revoked_at; // expire-access takes effect at this time
    bool implicit = false;
    bool stale = false;
};

struct refresh_token_rec {
    std::string client_id, user;
    std::vector<std::string> scopes;
};

struct code_rec {
    std::string client_id, redirect_uri, user;
    std::vector<std::string> scopes;
    time_point expires_at;
    bool used = false;
    std::vector<std::string> issued; // tokens to revoke when the code is replayed
};

struct pending_rec {
    std::string client_id, redirect_uri, response_type, user;
    std::vector<std::string> scopes;
    std::optional<std::string> state;
    time_point expires_at;
};

struct meeting_rec {
    std::int64_t id = 0;
    std::string owner, name;
    std::chrono::sys_seconds start, end;
    bool personal = false;
    std::vector<std::string> participants;
    std::string conference_id;
    std::optional<std::string> viewer_link; // active once started
};

struct webhook_rec {
    std::string url;
    json::value custom;
};

struct live_meeting {
    std::int64_t id = 0;
    std::string presenter_token;
    time_point link_expires;
    bool link_used = false, started = false, ended = false;
    std::map<std::string, webhook_rec, std::less<>> webhooks;
};

/// All of the sandbox's state and its request handling. Not thread-safe.
class service {
public:
    explicit service(options opts) : opts_(std::move(opts)) {
        if (!opts_.clock)
            opts_.clock = [] { return std::chrono::system_clock::now(); };
        for (auto& u : opts_.users)
            for (auto& p : u.presenters)
                next_presenter_id_ = std::max(next_presenter_id_, p.id + 1);
    }

    options& opts() noexcept { return opts_; }
    counters& stats() noexcept { return counters_; }

    void set_fault(endpoint e, fault f) { faults_[static_cast<std::size_t>(e)] = std::move(f); }
    void clear_faults() {
        for (auto& f : faults_)
            f.reset();
    }

    bool revoke_refresh_token(std::string_view t) { return refresh_.erase(std::string(t)) > 0; }

    bool expire_access_token(std::string_view t) {
        auto it = access_.find(t);
        if (it == access_.end())
            return false;
        it->second.revoked_at = now();
        return true;
    }

    bool mark_stale(std::string_view t, bool stale) {
        auto it = access_.find(t);
        if (it == access_.end())
            return false;
        it->second.stale = stale;
        return true;
    }

    std::optional<std::int64_t> meeting_for_presenter_link(std::string_view link) const {
        std::string copy(link);
        auto u = joinme::detail::parse_reference(copy);
        if (!u)
            return std::nullopt;
        auto l = links_.find(parse_params(u->encoded_query()).get("token"));
        if (l == links_.end())
            return std::nullopt;
        return l->second;
    }

    /// The webhook calls for `event` of a started meeting; nullopt when there is no such
    /// meeting or the event already happened.
    std::optional<std::vector<webhook_call>> meeting_event(std::int64_t id, bool end) {
        auto it = live_.find(id);
        if (it == live_.end())
            return std::nullopt;
        auto& m = it->second;
        if (end ? (m.ended || !m.started) : m.started)
            return std::nullopt;
        (end ? m.ended : m.started) = true;
        std::vector<webhook_call> out;
        auto name = end ? "meeting.end" : "meeting.start";
        auto w = m.webhooks.find(name);
        if (w != m.webhooks.end()) {
            json::object body{{"event", name},
                              {"meetingId", id},
                              {"timestamp", format_time(now())},
                              {"customCallbackData", w->second.custom}};
            out.push_back({w->second.url, json::serialize(body)});
        }
        return out;
    }

    /// Handles one request.
    outcome handle(const request& req, const connection_info& ci) {
        outcome out;
        auto target = urls::parse_origin_form(req.target());
        if (!target) {
            out.res = api_error(400, "Bad request target");
            ++counters_.requests[static_cast<std::size_t>(endpoint::other)];
            return out;
        }
        std::string path(target->encoded_path());
        if (path.size() > 1 && path.back() == '/')
            path.pop_back();
        std::string id;
        out.ep = classify(req.method(), path, id);
        ++counters_.requests[static_cast<std::size_t>(out.ep)];
        purge();

        auto& slot = faults_[static_cast<std::size_t>(out.ep)];
        if (slot) {
            out.applied = *slot;
            if (--slot->times == 0)
                slot.reset();
            if (out.applied->status) {
                out.res = forced(out.ep, *out.applied->status, out.applied->retry_after);
                return out;
            }
        }
        base_ = opts_.public_base_url;
        if (base_.empty()) {
            auto host = req[http::field::host];
            base_ = host.empty() ? std::string(ci.fallback_base)
                                 : std::string(ci.scheme) + "://" + std::string(host);
        }
        try {
            out.res = dispatch(out.ep, req, *target, path, id, out.webhooks);
        } catch (const std::exception&) {
            // E.g. a registered callback URL that does not parse: answer, keep serving.
            out.res = api_error(500, "The sandbox failed to handle the request.");
        }
        return out;
    }

private:
    time_point now() const { return opts_.clock(); }

    std::string format_time(time_point t) const {
        auto s = joinme::detail::format_iso8601(std::chrono::floor<std::chrono::seconds>(t));
        if (opts_.dates_without_zone)
            s.pop_back();
        return s;
    }

    const application* find_app(std::string_view id) const {
        for (auto& a : opts_.applications)
            if (a.client_id == id)
                return &a;
        return nullptr;
    }
    user* find_user(std::string_view email) {
        for (auto& u : opts_.users)
            if (u.email == email)
                return &u;
        return nullptr;
    }

    void purge() {
        auto t = now();
        std::erase_if(codes_, [&](auto& kv) { return kv.second.expires_at <= t; });
        std::erase_if(pending_, [&](auto& kv) { return kv.second.expires_at <= t; });
        std::erase_if(access_, [&](auto& kv) { return kv.second.expires_at <= t; });
        auto sec = std::chrono::floor<std::chrono::seconds>(t);
        std::erase_if(qps_, [&](auto& kv) { return kv.second.first < sec; });
    }

    static bool is_id(std::string_view s) {
        return !s.empty() && s.size() < 18 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    }

    static endpoint classify(http::verb v, std::string_view path, std::string& id) {
        using http::verb;
        auto pick = [&](std::initializer_list<std::pair<verb, endpoint>> m) {
            for (auto& [mv, e] : m)
                if (mv == v)
                    return e;
            return endpoint::other;
        };
        if (path.starts_with(auth_base)) {
            auto rest = path.substr(auth_base.size());
            if (rest == "/oauth2")
                return pick({{verb::get, endpoint::authorize}, {verb::post, endpoint::consent}});
            if (rest == "/token")
                return pick({{verb::post, endpoint::token}});
            if (rest == "/expireaccesstoken")
                return pick({{verb::post, endpoint::expire_access}});
            if (rest == "/renewauthorization")
                return pick({{verb::get, endpoint::renew_authorization}});
            return endpoint::other;
        }
        if (path == presenter_link_path)
            return pick({{verb::get, endpoint::presenter_link}});
        if (path == "/v1/user")
            return pick({{verb::get, endpoint::get_user}});
        if (path == "/v1/meetings/start")
            return pick({{verb::post, endpoint::start_meeting}});
        if (path == "/v1/meetings")
            return pick(
                {{verb::get, endpoint::list_meetings}, {verb::post, endpoint::schedule_meeting}});
        if (path == "/v1/presenters")
            return pick(
                {{verb::get, endpoint::list_presenters}, {verb::post, endpoint::add_presenter}});
        constexpr std::string_view mp = "/v1/meetings/", pp = "/v1/presenters/";
        if (path.starts_with(mp)) {
            auto rest = path.substr(mp.size());
            auto slash = rest.find('/');
            id = rest.substr(0, slash);
            if (slash == std::string_view::npos)
                return pick({{verb::get, endpoint::get_meeting},
                             {verb::patch, endpoint::update_meeting},
                             {verb::delete_, endpoint::delete_meeting}});
            if (rest.substr(slash) == "/start")
                return pick({{verb::post, endpoint::start_scheduled}});
            return endpoint::other;
        }
        if (path.starts_with(pp) && path.find('/', pp.size()) == std::string_view::npos) {
            id = path.substr(pp.size());
            return pick({{verb::get, endpoint::get_presenter}});
        }
        return endpoint::other;
    }

    static bool is_auth_endpoint(endpoint e) {
        return e == endpoint::authorize || e == endpoint::consent || e == endpoint::token ||
               e == endpoint::expire_access || e == endpoint::renew_authorization;
    }

    response forced(endpoint e, unsigned status, std::string_view retry_after) {
        response res;
        if (status == 403)
            return mashery_403("Account Over Queries Per Second Limit",
                               "ERR_403_DEVELOPER_OVER_QPS", retry_after);
        if (status == 500 && (e == endpoint::token || e == endpoint::expire_access)) {
            res = json_response(500, json::object{{"error", "server_error"},
                                                  {"error_ticket_id", random_alnum(10)},
                                                  {"error_description", ""}});
        } else if (status == 502 || status == 504) {
            // What a gateway in front of the service answers: an HTML page, not JSON.
            auto reason = http::obsolete_reason(static_cast<http::status>(status));
            std::string title =
                std::to_string(status) + " " + std::string(reason.data(), reason.size());
            res = html_response(status, title, "<p>The upstream server did not answer.</p>");
        } else if (status == 500 && is_auth_endpoint(e)) {
            res = json_response(500, json::object{{"ExitPointId", 101101103500},
                                                  {"Message", "InternalServerError"},
                                                  {"ReferenceNumber", random_alnum(10)}});
        } else {
            auto reason = http::obsolete_reason(static_cast<http::status>(status));
            res = api_error(status, std::string_view(reason.data(), reason.size()));
        }
        if (status == 429 || status == 503)
            res.set(http::field::retry_after, retry_after);
        return res;
    }

    response dispatch(endpoint e, const request& req, urls::url_view target, std::string_view path,
                      std::string_view id, std::vector<webhook_call>& hooks) {
        switch (e) {
        case endpoint::authorize:
            return authorize(parse_params(target.encoded_query()));
        case endpoint::consent:
            return consent(req);
        case endpoint::token:
            return token(req);
        case endpoint::expire_access:
            return expire_access(req);
        case endpoint::renew_authorization:
            return renew(parse_params(target.encoded_query()));
        case endpoint::presenter_link:
            return open_presenter_link(target, hooks);
        case endpoint::other: {
            std::string ignored;
            bool known = false;
            for (auto v :
                 {http::verb::get, http::verb::post, http::verb::patch, http::verb::delete_})
                if (classify(v, path, ignored) != endpoint::other)
                    known = true;
            return known ? api_error(405, "Method not allowed") : api_error(404, "Not found");
        }
        default:
            return api(e, req, target, id);
        }
    }

    // --- OAuth ---------------------------------------------------------------------------

    response authorize(const params& p) {
        if (!p.valid || p.duplicate)
            return error_page("The request is malformed or repeats a parameter.");
        auto app = find_app(p.get("client_id"));
        if (!app)
            return error_page("The client_id is missing or unknown.");
        auto redirect_uri = p.get("redirect_uri");
        bool registered = false;
        for (auto& r : app->redirect_uris)
            registered = registered || redirect_matches(r, redirect_uri);
        if (!registered)
            return error_page("The redirect_uri is missing or is not a registered callback URL.");
        auto response_type = p.get("response_type");
        if (response_type != "code" && response_type != "token")
            return error_page("The response_type must be code or token.");
        auto scopes = split_scopes(p.get("scope"));
        if (scopes.empty())
            return error_page("The scope is missing.");
        for (auto& s : scopes) {
            bool known = s == "user_info" || s == "scheduler" || s == "start_meeting" ||
                         (s == "provisioning" && app->business);
            if (!known)
                return error_page("The scope contains a value this application may not request.");
        }
        auto u = find_user(opts_.current_user);
        if (!u)
            return error_page("No user is logged in to the sandbox.");
        pending_rec pr{app->client_id,
                       redirect_uri,
                       response_type,
                       u->email,
                       scopes,
                       p.find("state") ? std::optional<std::string>(p.get("state")) : std::nullopt,
                       now() + opts_.code_lifetime};
        if (opts_.auto_consent)
            return finish(pr, true);
        auto pid = joinme::detail::random_token(16);
        std::string inner =
            "<p>Signed in as <strong>" + joinme::detail::html_escape(u->full_name) + " (" +
            joinme::detail::html_escape(u->email) + ")</strong>.</p>\n<p><strong>" +
            joinme::detail::html_escape(app->name) + "</strong> asks for:</p>\n<ul>\n";
        for (auto& s : scopes)
            inner += "<li>" + joinme::detail::html_escape(s) + "</li>\n";
        inner += "</ul>\n<form method=\"post\" action=\"" + std::string(auth_base) +
                 "/oauth2\">\n<input type=\"hidden\" name=\"pending\" value=\"" + pid +
                 "\">\n<button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button>\n"
                 "<button type=\"submit\" name=\"decision\" value=\"decline\">Decline</button>\n"
                 "</form>";
        pending_.emplace(pid, std::move(pr));
        return html_response(200, "join.me sandbox: authorize " + app->name, inner);
    }

    response consent(const request& req) {
        auto p = parse_params(req.body());
        auto it = pending_.find(p.get("pending"));
        if (!p.valid || p.duplicate || it == pending_.end())
            return error_page("This authorization request is unknown, used or expired.");
        auto pr = std::move(it->second);
        pending_.erase(it); // single use
        return finish(pr, p.get("decision") == "accept");
    }

    response finish(const pending_rec& pr, bool accepted) {
        urls::url to(pr.redirect_uri);
        std::vector<std::pair<std::string, std::string>> ps;
        if (!accepted) {
            ps = {{"error", "access_denied"}, {"error_description", "The user denied access"}};
        } else if (pr.response_type == "code") {
            auto code = random_alnum(24);
            codes_.emplace(code, code_rec{pr.client_id,
                                          pr.redirect_uri,
                                          pr.user,
                                          pr.scopes,
                                          now() + opts_.code_lifetime,
                                          false,
                                          {}});
            ps = {{"code", code}};
        } else {
            auto t = issue_access(pr.client_id, pr.user, pr.scopes, true);
            ++counters_.tokens_issued_implicit;
            ps = {{"access_token", t}};
            if (!opts_.implicit_omit_token_type_and_expires_in) {
                ps.emplace_back("token_type", "bearer");
                ps.emplace_back("expires_in",
                                std::to_string(opts_.implicit_token_lifetime.count()));
            }
        }
        if (pr.state)
            ps.emplace_back("state", *pr.state);
        if (pr.response_type == "code") {
            for (auto& [k, v] : ps)
                to.params().append({k, v});
        } else {
            // Implicit grant: the answer travels in the fragment (RFC 6749 §4.2.2).
            std::string frag;
            for (auto& [k, v] : ps) {
                frag += (frag.empty() ? "" : "&") + k + "=";
                frag += urls::encode(v, urls::unreserved_chars); // all but unreserved escaped
            }
            to.set_encoded_fragment(frag);
        }
        return redirect(to);
    }

    std::string issue_access(const std::string& client, const std::string& user,
                             const std::vector<std::string>& scopes, bool implicit) {
        auto t = joinme::detail::random_token(32);
        access_.emplace(t, access_token_rec{client, user, scopes,
                                            now() + (implicit ? opts_.implicit_token_lifetime
                                                              : opts_.access_token_lifetime),
                                            std::nullopt, implicit, false});
        return t;
    }

    response token_response(const std::string& access, const std::string* refresh,
                            const std::vector<std::string>& scopes) {
        json::object o{{"access_token", access}};
        if (refresh)
            o["refresh_token"] = *refresh;
        if (!opts_.token_omit_token_type)
            o["token_type"] = "bearer";
        if (!opts_.token_omit_expires_in) {
            auto s = opts_.access_token_lifetime.count();
            if (opts_.token_expires_in_as_string)
                o["expires_in"] = std::to_string(s);
            else
                o["expires_in"] = s;
        }
        if (opts_.token_extra_fields) {
            o["scope"] = join_scopes(scopes);
            o["id_token"] = nullptr;
        }
        auto res = json_response(200, o);
        res.set(http::field::cache_control, "no-store");
        res.set(http::field::pragma, "no-cache");
        return res;
    }

    /// Client authentication: `client_secret_post`, or HTTP Basic (RFC 6749 §2.3.1).
    const application* authenticate(const request& req, const params& p, bool& basic) {
        std::string id = p.get("client_id"), secret = p.get("client_secret");
        auto auth = req[http::field::authorization];
        basic = auth.size() > 6 && joinme::detail::ascii_iequals(auth.substr(0, 6), "Basic ");
        if (basic) {
            auto b64 = auth.substr(6);
            if (b64.size() > 1024 || b64.size() % 4 != 0)
                return nullptr;
            std::string raw(b64.size() / 4 * 3, '\0');
            int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                    reinterpret_cast<const unsigned char*>(b64.data()),
                                    static_cast<int>(b64.size()));
            if (n < 0)
                return nullptr;
            // EVP_DecodeBlock counts the padding as zero bytes.
            std::size_t pad = b64.ends_with("==") ? 2 : b64.ends_with("=") ? 1 : 0;
            raw.resize(static_cast<std::size_t>(n) - pad);
            auto colon = raw.find(':');
            if (colon == std::string::npos)
                return nullptr;
            // RFC 6749 §2.3.1: both are form-encoded before Base64, so `+` is a space.
            auto dec = [](std::string_view s) {
                urls::encoding_opts opt;
                opt.space_as_plus = true;
                auto pv = urls::make_pct_string_view(s);
                return pv ? pv->decode(opt) : std::string(s);
            };
            id = dec(std::string_view(raw).substr(0, colon));
            secret = dec(std::string_view(raw).substr(colon + 1));
        }
        auto app = find_app(id);
        if (!app || !joinme::detail::constant_time_equal(app->client_secret, secret))
            return nullptr;
        return app;
    }

    response token(const request& req) {
        auto p = parse_body_params(req);
        if (!p.valid || p.duplicate)
            return oauth_error(400, "invalid_request", "The request body is malformed.");
        auto grant = p.get("grant_type");
        if (grant == "refresh_token")
            ++counters_.refresh_requests;
        if (grant.empty())
            return oauth_error(400, "invalid_request", "grant_type is missing.");
        bool basic = false;
        auto app = authenticate(req, p, basic);
        if (!app) {
            auto res = oauth_error(401, "invalid_client", "Client authentication failed.");
            if (basic)
                res.set(http::field::www_authenticate, "Basic realm=\"secure.join.me\"");
            return res;
        }
        if (grant == "authorization_code")
            return exchange_code(*app, p);
        if (grant == "refresh_token")
            return refresh(*app, p);
        return oauth_error(400, "unsupported_grant_type", "The grant_type is not supported.");
    }

    response exchange_code(const application& app, const params& p) {
        auto code_error = [&](std::string_view why) {
            return oauth_error(400,
                               opts_.code_error_invalid_authorization_code
                                   ? "invalid_authorization_code"
                                   : "invalid_grant",
                               why);
        };
        auto code = p.find("code");
        if (!code)
            return oauth_error(400, "invalid_request", "code is missing.");
        auto it = codes_.find(*code);
        if (it == codes_.end())
            return code_error("The authorization code is unknown or expired.");
        auto& c = it->second;
        if (c.used) {
            // A replayed code revokes what it granted (RFC 6749 §4.1.2).
            for (auto& t : c.issued) {
                access_.erase(t);
                refresh_.erase(t);
            }
            c.issued.clear();
            return code_error("The authorization code was already used.");
        }
        if (c.client_id != app.client_id)
            return code_error("The authorization code was issued to another client.");
        if (p.get("redirect_uri") != c.redirect_uri)
            return code_error("The redirect_uri differs from the authorization request's.");
        c.used = true;
        auto access = issue_access(c.client_id, c.user, c.scopes, false);
        auto refresh = joinme::detail::random_token(32);
        refresh_.emplace(refresh, refresh_token_rec{c.client_id, c.user, c.scopes});
        c.issued = {access, refresh};
        ++counters_.tokens_issued_authorization_code;
        return token_response(access, &refresh, c.scopes);
    }

    response refresh(const application& app, const params& p) {
        auto rt = p.find("refresh_token");
        if (!rt)
            return oauth_error(400, "invalid_request", "refresh_token is missing.");
        auto it = refresh_.find(*rt);
        if (it == refresh_.end() || it->second.client_id != app.client_id)
            return oauth_error(400, "invalid_grant", "The refresh token is invalid or revoked.");
        auto rec = it->second;
        auto access = issue_access(rec.client_id, rec.user, rec.scopes, false);
        ++counters_.tokens_issued_refresh_token;
        if (opts_.refresh_omit_refresh_token || !opts_.rotate_refresh_tokens)
            return token_response(access, opts_.refresh_omit_refresh_token ? nullptr : &*rt,
                                  rec.scopes);
        refresh_.erase(it);
        auto fresh = joinme::detail::random_token(32);
        refresh_.emplace(fresh, rec);
        return token_response(access, &fresh, rec.scopes);
    }

    response expire_access(const request& req) {
        auto p = parse_body_params(req);
        bool basic = false;
        auto app = p.valid && !p.duplicate ? authenticate(req, p, basic) : nullptr;
        auto it = access_.find(p.get("access_token"));
        if (!app || it == access_.end() || it->second.client_id != app->client_id)
            return json_response(
                400, json::object{{"success", false}, {"message", "Expire Access Failed"}});
        auto at = now() + opts_.expire_access_delay;
        if (!it->second.revoked_at || *it->second.revoked_at > at)
            it->second.revoked_at = at;
        json::value ok =
            opts_.expire_access_success_as_string ? json::value("true") : json::value(true);
        return json_response(200,
                             json::object{{"success", ok}, {"message", "Access Token Expired"}});
    }

    response renew(const params& p) {
        auto app = find_app(p.get("client_id"));
        auto it = access_.find(p.get("access_token"));
        if (!p.valid || p.duplicate || !app || it == access_.end() ||
            it->second.client_id != app->client_id || app->redirect_uris.empty())
            return error_page("The client_id or access_token is missing or unknown.");
        it->second.stale = false;
        urls::url to(app->redirect_uris.front());
        to.params().append({"isAuthorizationRenewed", "true"});
        return redirect(to);
    }

    // --- API -----------------------------------------------------------------------------

    static std::string_view required_scope(endpoint e) {
        switch (e) {
        case endpoint::get_user:
            return "user_info";
        case endpoint::start_meeting:
        case endpoint::start_scheduled:
            return "start_meeting";
        case endpoint::list_presenters:
        case endpoint::get_presenter:
        case endpoint::add_presenter:
            return "provisioning";
        default:
            return "scheduler";
        }
    }

    response invalid_token() {
        return bearer_error(opts_.invalid_token_as_403 ? 403 : 401, "invalid_token",
                            "The access token is invalid or expired.");
    }

    response api(endpoint e, const request& req, urls::url_view target, std::string_view id) {
        auto auth = req[http::field::authorization];
        if (auth.size() <= 7 || !joinme::detail::ascii_iequals(auth.substr(0, 7), "Bearer "))
            return invalid_token();
        auto it = access_.find(auth.substr(7));
        auto t = now();
        if (it == access_.end() || it->second.expires_at <= t ||
            (it->second.revoked_at && *it->second.revoked_at <= t))
            return invalid_token();
        auto& tok = it->second;
        auto app = find_app(tok.client_id);
        if (!app || app->inactive)
            return inactive_response();
        if (opts_.qps_limit) {
            auto sec = std::chrono::floor<std::chrono::seconds>(t);
            auto& w = qps_[it->first];
            if (w.first != sec)
                w = {sec, 0};
            if (++w.second > opts_.qps_limit)
                return mashery_403("Account Over Queries Per Second Limit",
                                   "ERR_403_DEVELOPER_OVER_QPS", "1");
        }
        if (tok.stale)
            return api_error(401, "The authorization must be renewed.", "stale_token");
        auto scope = required_scope(e);
        if (std::find(tok.scopes.begin(), tok.scopes.end(), scope) == tok.scopes.end())
            return bearer_error(403, "insufficient_scope",
                                "The access token lacks the " + std::string(scope) + " scope.");
        auto u = find_user(tok.user);
        if (!u)
            return invalid_token();

        json::object body;
        if (e != endpoint::get_user && e != endpoint::get_meeting && e != endpoint::list_meetings &&
            e != endpoint::list_presenters && e != endpoint::get_presenter &&
            e != endpoint::delete_meeting) {
            // GET/DELETE bodies (the docs send '{}') are ignored; others must be an object.
            if (req.body().find_first_not_of(" \t\r\n") != std::string::npos) {
                boost::system::error_code ec;
                auto v = json::parse(req.body(), ec);
                if (ec || !v.is_object())
                    return api_error(400, "The request body is not a JSON object.");
                body = std::move(v.as_object());
            }
        }
        switch (e) {
        case endpoint::get_user:
            return get_user(*u);
        case endpoint::start_meeting:
            return start_adhoc(*u, body);
        case endpoint::list_meetings:
            return list_meetings(*u, target);
        case endpoint::schedule_meeting:
            return schedule(*u, body);
        case endpoint::get_meeting:
        case endpoint::update_meeting:
        case endpoint::delete_meeting:
        case endpoint::start_scheduled: {
            auto m = is_id(id) ? meetings_.find(std::stoll(std::string(id))) : meetings_.end();
            if (m == meetings_.end() || m->second.owner != u->email)
                return api_error(404, "Meeting not found");
            if (e == endpoint::get_meeting)
                return json_response(200, meeting_json(m->second));
            if (e == endpoint::delete_meeting) {
                meetings_.erase(m);
                return make_response(204, {}, {});
            }
            if (e == endpoint::update_meeting)
                return update(m->second, body);
            return start(*u, body, m->second.personal, &m->second);
        }
        default:
            return presenters(e, *u, body, id);
        }
    }

    response inactive_response() {
        auto res = mashery_403("Account Inactive", "ERR_403_DEVELOPER_INACTIVE");
        res.set(http::field::www_authenticate,
                "Bearer realm=\"api.join.me\", error=\"invalid_token\"");
        return res;
    }

    response get_user(const user& u) {
        json::object o{{"email", u.email},
                       {"fullName", u.full_name},
                       {"language", u.language},
                       {"numberOfMeetingsHosted", u.number_of_meetings_hosted}};
        if (u.personal_url)
            o["personalUrl"] = *u.personal_url;
        o["registrationDate"] = u.registration_date;
        o["subscriptionType"] = u.subscription_type;
        if (u.conference)
            o["conferenceSettings"] = conference_json(*u.conference);
        return json_response(opts_.get_user_status, o);
    }

    static json::object conference_json(const conference_settings& c) {
        return {{"conferenceId", c.conference_id},
                {"conferenceCallNumbersUrl", c.conference_call_numbers_url},
                {"organizerCode", c.organizer_code}};
    }

    json::object meeting_json(const meeting_rec& m) const {
        json::array ps;
        for (auto& p : m.participants)
            ps.emplace_back(p);
        json::object o{{"meetingId", m.id},
                       {"meetingName", m.name},
                       {"meetingStart", format_time(m.start)},
                       {"meetingEnd", format_time(m.end)},
                       {"startWithPersonalUrl", m.personal},
                       {"participants", std::move(ps)},
                       {"conferenceId", m.conference_id}};
        if (m.viewer_link)
            o["viewerLink"] = *m.viewer_link;
        return o;
    }

    response list_meetings(const user& u, urls::url_view target) {
        auto p = parse_params(target.encoded_query());
        std::optional<std::chrono::sys_seconds> end;
        if (auto e = p.find("endDate")) {
            end = joinme::detail::parse_iso8601(*e);
            if (!end)
                return api_error(400, "endDate is not an ISO 8601 date-time.");
        }
        auto t = std::chrono::floor<std::chrono::seconds>(now());
        json::array list;
        std::vector<const meeting_rec*> sel;
        for (auto& [mid, m] : meetings_)
            if (m.owner == u.email && m.start >= t && (!end || m.start <= *end))
                sel.push_back(&m);
        std::stable_sort(sel.begin(), sel.end(),
                         [](auto a, auto b) { return a->start < b->start; });
        for (auto m : sel)
            list.emplace_back(meeting_json(*m));
        return json_response(200, json::object{{"meetings", std::move(list)}});
    }

    /// Reads the scheduled-meeting fields present in `b` into `m`; an error message or "".
    std::string read_meeting(const json::object& b, meeting_rec& m, const user& u) {
        std::string s;
        switch (get_string(b, "meetingName", s)) {
        case field::bad:
            return "meetingName must be a string.";
        case field::ok:
            if (s.empty() || s.size() > 1024)
                return "meetingName must be 1 to 1024 characters.";
            m.name = s;
            break;
        case field::missing:
            break;
        }
        for (auto [key, dst] : {std::pair{"meetingStart", &m.start}, {"meetingEnd", &m.end}}) {
            switch (get_string(b, key, s)) {
            case field::bad:
                return std::string(key) + " must be a string.";
            case field::ok: {
                auto t = joinme::detail::parse_iso8601(s);
                if (!t)
                    return std::string(key) + " is not an ISO 8601 date-time.";
                *dst = *t;
                break;
            }
            case field::missing:
                break;
            }
        }
        if (get_bool(b, "startWithPersonalUrl", m.personal) == field::bad)
            return "startWithPersonalUrl must be a boolean.";
        if (m.personal && !u.personal_url)
            return "The user has no personal URL.";
        if (auto ps = b.if_contains("participants"); ps && !ps->is_null()) {
            if (!ps->is_array() || ps->as_array().size() > 250)
                return "participants must be an array of at most 250 e-mail addresses.";
            m.participants.clear();
            for (auto& v : ps->as_array()) {
                if (!v.is_string())
                    return "participants must contain strings.";
                m.participants.emplace_back(v.as_string());
            }
        }
        if (m.end <= m.start)
            return "meetingEnd must be after meetingStart.";
        return {};
    }

    response schedule(const user& u, const json::object& b) {
        for (auto k : {"meetingName", "meetingStart", "meetingEnd"})
            if (!b.if_contains(k) || b.at(k).is_null())
                return api_error(400, std::string(k) + " is required.");
        meeting_rec m;
        if (auto err = read_meeting(b, m, u); !err.empty())
            return api_error(400, err);
        m.id = next_meeting_id_++;
        m.owner = u.email;
        m.conference_id = u.conference ? u.conference->conference_id : random_digits(9);
        auto& stored = meetings_.emplace(m.id, std::move(m)).first->second;
        return json_response(201, meeting_json(stored));
    }

    response update(meeting_rec& m, const json::object& b) {
        auto u = find_user(m.owner);
        meeting_rec copy = m;
        if (auto err = read_meeting(b, copy, *u); !err.empty())
            return api_error(400, err);
        m = std::move(copy);
        return json_response(200, meeting_json(m));
    }

    response start_adhoc(const user& u, const json::object& b) {
        bool personal = false;
        switch (get_bool(b, "startWithPersonalUrl", personal)) {
        case field::missing:
            return api_error(400, "startWithPersonalUrl is required.");
        case field::bad:
            return api_error(400, "startWithPersonalUrl must be a boolean.");
        case field::ok:
            break;
        }
        return start(u, b, personal, nullptr);
    }

    response start(const user& u, const json::object& b, bool personal, meeting_rec* scheduled) {
        if (personal && !u.personal_url)
            return api_error(400, "The user has no personal URL.");
        std::string mode;
        if (get_string(b, "viewerMode", mode) == field::bad ||
            (!mode.empty() && mode != "default" && mode != "headless"))
            return api_error(400, "viewerMode must be null, \"default\" or \"headless\".");
        bool detect = true;
        if (get_bool(b, "viewerAppDetection", detect) == field::bad)
            return api_error(400, "viewerAppDetection must be a boolean.");
        auto hooks = b.if_contains("webhooks");
        if (hooks && !hooks->is_null() && !hooks->is_object())
            return api_error(400, "webhooks must be an object.");
        live_meeting lm;
        lm.id = scheduled ? scheduled->id : next_meeting_id_++;
        lm.presenter_token = joinme::detail::random_token(24);
        lm.link_expires = now() + opts_.presenter_link_lifetime;
        json::object status;
        if (hooks && hooks->is_object()) {
            for (auto& [event, v] : hooks->as_object()) {
                // A webhook that cannot be registered does not stop the meeting (joinme-api.md
                // §4.4): it is reported unregistered, with the reason.
                json::object st{{"registered", false}};
                const json::value* url =
                    v.is_object() ? v.as_object().if_contains("callbackUrl") : nullptr;
                auto parsed = url && url->is_string()
                                  ? joinme::detail::parse_absolute(url->get_string())
                                  : std::nullopt;
                if (event != "meeting.start" && event != "meeting.end")
                    st["message"] = "Unknown event.";
                else if (!parsed)
                    st["message"] = "callbackUrl must be an absolute URL.";
                else if (parsed->scheme() != "http")
                    st["message"] = "The sandbox delivers webhooks over http only.";
                else {
                    st["registered"] = true;
                    auto custom = v.as_object().if_contains("customCallbackData");
                    lm.webhooks[std::string(event)] =
                        webhook_rec{std::string(url->get_string()), custom ? *custom : nullptr};
                }
                status[event] = std::move(st);
            }
        }
        auto code = personal ? *u.personal_url : random_digits(9);
        auto viewer = base_ + "/" + code;
        if (scheduled)
            scheduled->viewer_link = viewer;
        auto conf = u.conference ? *u.conference
                                 : conference_settings{random_digits(9), {}, random_digits(4)};
        if (conf.conference_call_numbers_url.empty())
            conf.conference_call_numbers_url =
                "https://secure.join.me/api/public/intphone.aspx?conferenceId=" +
                conf.conference_id;
        json::object o{{"presenterLink",
                        base_ + std::string(presenter_link_path) + "?token=" + lm.presenter_token},
                       {"viewerLink", viewer},
                       {"audioConference", conference_json(conf)}};
        if (hooks && hooks->is_object())
            o["webhooksStatus"] = std::move(status);
        links_[lm.presenter_token] = lm.id;
        live_[lm.id] = std::move(lm);
        return json_response(201, o);
    }

    response open_presenter_link(urls::url_view target, std::vector<webhook_call>& hooks) {
        auto token = parse_params(target.encoded_query()).get("token");
        auto l = links_.find(token);
        auto lm = l == links_.end() ? live_.end() : live_.find(l->second);
        // A scheduled meeting started again gets a new link; the old one stops working.
        if (lm == live_.end() || lm->second.presenter_token != token || lm->second.link_used ||
            lm->second.link_expires <= now())
            return html_response(410, "join.me sandbox: link expired",
                                 "<p>This presenter link is invalid, used or expired.</p>");
        lm->second.link_used = true; // one-time login link
        if (auto calls = meeting_event(lm->first, false))
            hooks = std::move(*calls);
        return html_response(200, "join.me sandbox: meeting started",
                             "<p>Meeting " + std::to_string(lm->first) + " started.</p>");
    }

    // --- presenters ----------------------------------------------------------------------

    json::value presenter_json(const presenter& p) const {
        return json::object{{"id", p.id},
                            {"email", p.email},
                            {"isInvitationAccepted", p.is_invitation_accepted},
                            {"isSeatAssigned", p.is_seat_assigned}};
    }

    response presenters(endpoint e, user& u, const json::object& b, std::string_view id) {
        if (!u.master_account_holder)
            return api_error(403, "Only a Master Account Holder can manage presenters.");
        if (e == endpoint::list_presenters) {
            json::array a;
            for (auto& p : u.presenters)
                a.push_back(presenter_json(p));
            if (opts_.presenters_wrapped)
                return json_response(200, json::object{{"presenters", std::move(a)}});
            return json_response(200, a);
        }
        if (e == endpoint::get_presenter) {
            for (auto& p : u.presenters)
                if (is_id(id) && p.id == std::stoll(std::string(id)))
                    return json_response(200, presenter_json(p));
            return api_error(404, "Presenter not found");
        }
        std::string email;
        if (get_string(b, "email", email) != field::ok || email.find('@') == std::string::npos ||
            email.size() > 254)
            return api_error(400, "email must be an e-mail address.");
        for (auto& p : u.presenters)
            if (joinme::detail::ascii_iequals(p.email, email))
                return api_error(400, "The presenter already exists.");
        u.presenters.push_back(presenter{next_presenter_id_++, email, false, false});
        return json_response(201, presenter_json(u.presenters.back()));
    }

    options opts_;
    counters counters_;
    std::array<std::optional<fault>, endpoint_count> faults_;
    std::map<std::string, access_token_rec, std::less<>> access_;
    std::map<std::string, refresh_token_rec, std::less<>> refresh_;
    std::map<std::string, code_rec, std::less<>> codes_;
    std::map<std::string, pending_rec, std::less<>> pending_;
    std::map<std::int64_t, meeting_rec> meetings_;
    std::map<std::int64_t, live_meeting> live_;
    std::map<std::string, std::int64_t, std::less<>> links_;
    std::map<std::string, std::pair<std::chrono::sys_seconds, std::size_t>, std::less<>> qps_;
    std::int64_t next_meeting_id_ = 1001;
    std::int64_t next_presenter_id_ = 1;
    std::string base_; // of the request being handled
};

} // namespace joinme::sandbox::detail

#endif
