// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_DETAIL_SERVICE_HPP
#define JOINME_SANDBOX_DETAIL_SERVICE_HPP

// The sandbox's logic, sans I/O: one parsed HTTP request in, one response out (plus the fault
// to apply while sending it and the webhooks to deliver). The server in sandbox.hpp only moves
// bytes. Field names, paths, statuses and error shapes follow the API contract
// (joinme-api.md, §9 "Decisions"); the JSON of the API is written and read with the models of
// joinme/api.

#include <joinme/api/models.hpp>
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
#include <random>
#include <span>
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
    /// Latency, close-after-bytes, never-answer, interim and unsolicited responses to apply.
    std::optional<fault> applied;
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

/// Decoded parameters of a query string or form body. Not `valid` when malformed or when a
/// name repeats (RFC 6749 §3.1: parameters must not be included more than once).
struct params {
    std::map<std::string, std::string, std::less<>> values;
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
    bool repeated = false;
    bool parsed = joinme::detail::for_each_form_param(s, [&](std::string k, std::string v) {
        if (!out.values.emplace(std::move(k), std::move(v)).second)
            repeated = true;
    });
    out.valid = parsed && !repeated;
    return out;
}

/// A token request body: form-encoded (the default) or a JSON object of strings.
inline params parse_body_params(const request& req) {
    auto ct = req[http::field::content_type];
    if (ct.size() < 16 || !joinme::detail::ascii_iequals(ct.substr(0, 16), "application/json"))
        return parse_params(req.body());
    params out;
    boost::system::error_code ec;
    auto v = json::parse(req.body(), ec);
    out.valid = !ec && v.is_object();
    if (!out.valid)
        return out;
    for (auto& kv : v.as_object()) {
        if (kv.value().is_string())
            out.values.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
        else
            out.valid = false;
    }
    return out;
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

/// Exact match, or RFC 8252 §7.3: a loopback `http` redirect URI matches with any port.
inline bool redirect_matches(std::string_view registered, std::string_view given) {
    if (registered == given)
        return true;
    auto r = joinme::detail::parse_absolute(registered);
    auto g = joinme::detail::parse_absolute(given);
    if (!r || !g || r->scheme() != "http" || g->scheme() != "http")
        return false;
    auto host = r->encoded_host();
    if (host != "127.0.0.1" && host != "[::1]" && host != "localhost")
        return false;
    return host == g->encoded_host() && !g->has_userinfo() && !g->has_fragment() &&
           r->encoded_path() == g->encoded_path() && r->has_query() == g->has_query() &&
           r->encoded_query() == g->encoded_query();
}

/// Whether `path` matches `pattern`, where a `*` stands for one path segment (`id` gets it).
inline bool path_matches(std::string_view pattern, std::string_view path, std::string& id) {
    auto star = pattern.find('*');
    if (star == std::string_view::npos)
        return pattern == path;
    auto prefix = pattern.substr(0, star);
    auto suffix = pattern.substr(star + 1);
    if (path.size() < prefix.size() + suffix.size() || !path.starts_with(prefix) ||
        !path.ends_with(suffix))
        return false;
    auto segment = path.substr(star, path.size() - prefix.size() - suffix.size());
    if (segment.find('/') != std::string_view::npos)
        return false;
    id = segment;
    return true;
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

// The pages' style: small, readable, nothing loaded from elsewhere.
inline constexpr std::string_view page_style =
    "body{margin:0;background:#eef1f5;color:#1f2328;"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{max-width:32rem;margin:10vh auto 2rem;padding:2rem 2.25rem;background:#fff;"
    "border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{margin:0 0 1rem;font-size:1.35rem}button{font:inherit;padding:.45rem 1.1rem;"
    "margin:.5rem .5rem 0 0;border-radius:6px;border:1px solid #aeb5bd;background:#f6f8fa}"
    "button[value=accept],button[value=renew]{background:#1f6feb;border-color:#1f6feb;"
    "color:#fff}select{font:inherit}";

inline response html_response(unsigned status, std::string_view title, std::string_view inner) {
    auto t = joinme::detail::html_escape(title);
    auto res = make_response(status, "text/html; charset=utf-8",
                             "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
                                 t + "</title><style>" + std::string(page_style) +
                                 "</style></head>\n<body><main>\n<h1>" + t + "</h1>\n" +
                                 std::string(inner) + "\n</main></body></html>\n");
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
    return json_response(
        status, json::value_from(api::error_body{std::string(message), std::string(error_code)}));
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
    auto res = make_response(302, {}, {});
    res.set(http::field::location, to.buffer());
    res.set(http::field::cache_control, "no-store");
    return res;
}

/// The bytes of the interim response `status` (see `fault::interim`); empty for a status
/// that is not 1xx.
inline std::string interim_response(unsigned status) {
    if (status < 100 || status > 199)
        return {};
    if (status == 100)
        return "HTTP/1.1 100 Continue\r\n\r\n";
    if (status == 103)
        return "HTTP/1.1 103 Early Hints\r\nLink: </static/sandbox.css>; rel=preload; "
               "as=style\r\n\r\n";
    return "HTTP/1.1 " + std::to_string(status) + " \r\n\r\n";
}

/// The bytes of the unsolicited response (see `fault::unsolicited`): a complete `200` whose
/// body a client of `GET /v1/user` would read without complaint, as a user who does not exist.
inline std::string unsolicited_response() {
    auto body = json::serialize(json::value_from(api::user{.email = "unsolicited@sandbox.invalid",
                                                           .full_name = "Nobody Asked",
                                                           .language = "en-US",
                                                           .subscription_type = "Free"}));
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// --- state ----------------------------------------------------------------------------------

/// What a user granted to an application: carried by codes and tokens.
struct grant {
    std::string client_id{}, user{};
    std::vector<std::string> scopes{};
    std::string redirect_uri{}; // the callback the grant went through; renewal returns there
};

/// A renew-authorization page shown, waiting for its button.
struct renewal {
    std::string access_token;
    time_point expires_at{};
};

struct access_token_rec {
    grant g;
    time_point expires_at{};
    std::optional<time_point> revoked_at{}; // expire-access takes effect at this time
    bool stale = false;
};

/// An authorization request, first waiting for consent, then (code flow) behind its code.
struct authorization {
    grant g;
    std::string redirect_uri{}, response_type{};
    std::optional<std::string> state{};
    time_point expires_at{};
    bool used = false;                 // the code was exchanged
    std::vector<std::string> issued{}; // tokens to revoke when the code is replayed
};

struct meeting_rec {
    std::string owner;
    api::meeting m;
};

struct live_meeting {
    std::string presenter_token;
    time_point link_expires;
    bool link_used = false, started = false, ended = false;
    std::map<std::string, api::webhook_registration, std::less<>> webhooks{};
};

/// The entry of `m` at `k`, or null.
template <class Map, class Key>
auto lookup(Map& m, const Key& k) -> decltype(&m.begin()->second) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
}

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
    void clear_faults() { faults_ = {}; }

    bool revoke_refresh_token(std::string_view t) { return refresh_.erase(std::string(t)) > 0; }

    bool expire_access_token(std::string_view t) {
        auto tok = lookup(access_, t);
        if (tok)
            tok->revoked_at = now();
        return tok;
    }

    bool mark_stale(std::string_view t, bool stale) {
        auto tok = lookup(access_, t);
        if (tok)
            tok->stale = stale;
        return tok;
    }

    std::optional<std::int64_t> meeting_for_presenter_link(std::string_view link) const {
        std::string copy(link);
        auto u = joinme::detail::parse_reference(copy);
        auto id = u ? lookup(links_, parse_params(u->encoded_query()).get("token")) : nullptr;
        return id ? std::optional<std::int64_t>(*id) : std::nullopt;
    }

    /// The webhook calls for `event` of a started meeting; nullopt when there is no such
    /// meeting or the event already happened.
    std::optional<std::vector<webhook_call>> meeting_event(std::int64_t id, bool end) {
        auto m = lookup(live_, id);
        if (!m || (end ? (m->ended || !m->started) : m->started))
            return std::nullopt;
        (end ? m->ended : m->started) = true;
        std::vector<webhook_call> out;
        auto type =
            end ? api::webhook_event_type::meeting_end : api::webhook_event_type::meeting_start;
        if (auto w = lookup(m->webhooks, api::to_string(type))) {
            api::webhook_event e{std::string(api::to_string(type)), id,
                                 std::chrono::floor<std::chrono::seconds>(now()),
                                 w->custom_callback_data};
            out.push_back({w->callback_url, json::serialize(dated(json::value_from(e)))});
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
        // The first pattern that matches the path decides; then the method picks the route.
        call c{req, *target, {}, nullptr, {}, out.webhooks};
        std::string_view known;
        const route* found = nullptr;
        for (auto& r : routes()) {
            if (known.empty() && path_matches(r.pattern, path, c.id))
                known = r.pattern;
            if (r.pattern == known && r.method == req.method())
                found = &r;
        }
        out.ep = found ? found->ep : endpoint::other;
        ++counters_.requests[static_cast<std::size_t>(out.ep)];
        purge();

        auto& slot = faults_[static_cast<std::size_t>(out.ep)];
        if (slot) {
            out.applied = *slot;
            if (--slot->times == 0)
                slot.reset();
        } else {
            out.applied = random_fault(out.ep);
        }
        if (out.applied && out.applied->status) {
            out.res = forced(out.ep, *out.applied->status, out.applied->retry_after);
            return out;
        }
        base_ = opts_.public_base_url;
        if (base_.empty()) {
            // Only a well-formed host[:port] goes into the links: any other Host (bytes that
            // are not UTF-8 would make the JSON answer invalid) gets the fallback.
            auto host = req[http::field::host];
            auto authority = urls::parse_authority(host);
            base_ = host.empty() || !authority || authority->has_userinfo()
                        ? std::string(ci.fallback_base)
                        : std::string(ci.scheme) + "://" + std::string(host);
        }
        try {
            if (!found)
                out.res = known.empty() ? api_error(404, "Not found")
                                        : api_error(405, "Method not allowed");
            else if (auto refused = found->scope.empty() ? std::nullopt : admit(*found, c))
                out.res = std::move(*refused);
            else
                out.res = (this->*found->handler)(c);
        } catch (const std::exception&) {
            // E.g. a registered callback URL that does not parse: answer, keep serving.
            out.res = api_error(500, "The sandbox failed to handle the request.");
        }
        return out;
    }

private:
    /// One request being handled.
    struct call {
        const request& req;
        urls::url_view target;
        std::string id;    ///< The path segment matched by the route's `*`.
        user* u;           ///< The token's user (API endpoints).
        json::object body; ///< The JSON body (API endpoints that take one).
        std::vector<webhook_call>& hooks;
    };

    struct route {
        http::verb method;
        std::string_view pattern; ///< The path; `*` stands for one segment, the id.
        endpoint ep;
        std::string_view scope; ///< The scope an API endpoint requires; empty for the others.
        response (service::*handler)(call&);
    };

    static std::span<const route> routes() {
        using v = http::verb;
        using e = endpoint;
        using s = service;
        // Literal paths come before the patterns that would also match them.
        static const route table[] = {
            {v::get, "/api/public/v1/auth/oauth2", e::authorize, {}, &s::authorize},
            {v::post, "/api/public/v1/auth/oauth2", e::consent, {}, &s::consent},
            {v::post, "/api/public/v1/auth/token", e::token, {}, &s::token},
            {v::post,
             "/api/public/v1/auth/expireaccesstoken",
             e::expire_access,
             {},
             &s::expire_access},
            {v::get,
             "/api/public/v1/auth/renewauthorization",
             e::renew_authorization,
             {},
             &s::renew},
            {v::post,
             "/api/public/v1/auth/renewauthorization",
             e::renew_authorization,
             {},
             &s::renew_confirm},
            {v::get, presenter_link_path, e::presenter_link, {}, &s::open_presenter_link},
            {v::get, "/v1/user", e::get_user, "user_info", &s::get_user},
            {v::post, "/v1/meetings/start", e::start_meeting, "start_meeting", &s::start_adhoc},
            {v::get, "/v1/meetings", e::list_meetings, "scheduler", &s::list_meetings},
            {v::post, "/v1/meetings", e::schedule_meeting, "scheduler", &s::schedule},
            {v::get, "/v1/meetings/*", e::get_meeting, "scheduler", &s::get_meeting},
            {v::patch, "/v1/meetings/*", e::update_meeting, "scheduler", &s::update_meeting},
            {v::delete_, "/v1/meetings/*", e::delete_meeting, "scheduler", &s::delete_meeting},
            {v::post, "/v1/meetings/*/start", e::start_scheduled, "start_meeting",
             &s::start_scheduled},
            {v::get, "/v1/presenters", e::list_presenters, "provisioning", &s::list_presenters},
            {v::post, "/v1/presenters", e::add_presenter, "provisioning", &s::add_presenter},
            {v::get, "/v1/presenters/*", e::get_presenter, "provisioning", &s::get_presenter},
            {v::get, "/sandbox/counters", e::counters, {}, &s::counters_json},
        };
        return table;
    }

    time_point now() const { return opts_.clock(); }

    /// `v` with the `Z` of its date-times dropped when `dates_without_zone` asks for it.
    json::value dated(json::value v) const {
        for (auto key : {"meetingStart", "meetingEnd", "timestamp"})
            if (auto s = v.as_object().if_contains(key); s && opts_.dates_without_zone)
                s->as_string().pop_back();
        return v;
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

    /// The fault `options::random` draws for a request to `e`, if any.
    std::optional<fault> random_fault(endpoint e) {
        const auto& r = opts_.random;
        if (!(r.disconnect > 0 || r.error_status > 0 || r.interim > 0 || r.unsolicited > 0))
            return std::nullopt;
        if (!r.endpoints.empty() &&
            std::find(r.endpoints.begin(), r.endpoints.end(), e) == r.endpoints.end())
            return std::nullopt;
        if (!rng_ || rng_seed_ != r.seed) {
            rng_.emplace(r.seed);
            rng_seed_ = r.seed;
        }
        auto& g = *rng_;
        // 53 random bits in [0, 1): the same numbers with every standard library.
        double u = static_cast<double>(g() >> 11) * 0x1.0p-53;
        fault f;
        if ((u -= r.disconnect) < 0) {
            // Half of them within the status line and headers of the answer.
            f.close_after_bytes = g() % 2 == 0 ? 0 : 1 + g() % 64;
            ++counters_.random_disconnects;
        } else if ((u -= r.error_status) < 0) {
            f.status = r.status;
            f.retry_after = r.retry_after;
            ++counters_.random_statuses;
        } else if ((u -= r.interim) < 0) {
            f.interim = {g() % 2 == 0 ? 100u : 103u};
            ++counters_.random_interim;
        } else if ((u -= r.unsolicited) < 0) {
            f.unsolicited = true;
            f.unsolicited_delay = r.unsolicited_delay;
            ++counters_.random_unsolicited;
        } else {
            return std::nullopt;
        }
        return f;
    }

    void purge() {
        auto t = now();
        auto expired = [t](auto& kv) { return kv.second.expires_at <= t; };
        std::erase_if(codes_, expired);
        std::erase_if(pending_, expired);
        std::erase_if(renewals_, expired);
        std::erase_if(access_, expired);
        auto sec = std::chrono::floor<std::chrono::seconds>(t);
        std::erase_if(qps_, [&](auto& kv) { return kv.second.first < sec; });
    }

    static bool is_id(std::string_view s) {
        return !s.empty() && s.size() < 18 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    }

    response forced(endpoint e, unsigned status, std::string_view retry_after) {
        if (status == 403)
            return mashery_403("Account Over Queries Per Second Limit",
                               "ERR_403_DEVELOPER_OVER_QPS", retry_after);
        auto reason = http::obsolete_reason(static_cast<http::status>(status));
        std::string text(reason.data(), reason.size());
        // The OAuth endpoints are the first five of `endpoint`.
        const bool oauth = e <= endpoint::renew_authorization;
        response res;
        if (status == 500 && (e == endpoint::token || e == endpoint::expire_access))
            res = json_response(500, json::object{{"error", "server_error"},
                                                  {"error_ticket_id", random_alnum(10)},
                                                  {"error_description", ""}});
        else if (status == 502 || status == 504) // a gateway's HTML page, not JSON
            res = html_response(status, std::to_string(status) + " " + text,
                                "<p>The upstream server did not answer.</p>");
        else if (status == 500 && oauth)
            res = json_response(500, json::object{{"ExitPointId", 101101103500},
                                                  {"Message", "InternalServerError"},
                                                  {"ReferenceNumber", random_alnum(10)}});
        else
            res = api_error(status, text);
        if (status == 429 || status == 503)
            res.set(http::field::retry_after, retry_after);
        return res;
    }

    // --- OAuth ---------------------------------------------------------------------------

    response authorize(call& c) {
        auto p = parse_params(c.target.encoded_query());
        if (!p.valid)
            return error_page("The request is malformed or repeats a parameter.");
        auto app = find_app(p.get("client_id"));
        if (!app)
            return error_page("The client_id is missing or unknown.");
        auto redirect_uri = p.get("redirect_uri");
        if (std::none_of(app->redirect_uris.begin(), app->redirect_uris.end(),
                         [&](auto& r) { return redirect_matches(r, redirect_uri); }))
            return error_page("The redirect_uri is missing or is not a registered callback URL.");
        auto response_type = p.get("response_type");
        if (response_type != "code" && response_type != "token")
            return error_page("The response_type must be code or token.");
        auto scopes = split_scopes(p.get("scope"));
        if (scopes.empty())
            return error_page("The scope is missing.");
        for (auto& s : scopes)
            if (s != "user_info" && s != "scheduler" && s != "start_meeting" &&
                (s != "provisioning" || !app->business))
                return error_page("The scope contains a value this application may not request.");
        // With auto-consent, `user` names who consents (the consent page's choice, for tests).
        auto u = find_user(opts_.auto_consent && p.find("user") ? p.get("user")
                                                                 : opts_.current_user);
        if (!u)
            return error_page("No user is logged in to the sandbox.");
        authorization a{{app->client_id, u->email, scopes, redirect_uri},
                        redirect_uri,
                        response_type,
                        p.find("state") ? std::optional<std::string>(p.get("state")) : std::nullopt,
                        now() + opts_.code_lifetime};
        if (opts_.auto_consent)
            return finish(std::move(a), true);
        auto pid = joinme::detail::random_token(16);
        std::string inner = "<p><strong>" + joinme::detail::html_escape(app->name) +
                            "</strong> asks for:</p>\n<ul>\n";
        for (auto& s : scopes)
            inner += "<li>" + joinme::detail::html_escape(s) + "</li>\n";
        inner += "</ul>\n<form method=\"post\" action=\"/api/public/v1/auth/oauth2\">\n"
                 "<input type=\"hidden\" name=\"pending\" value=\"" +
                 pid + "\">\n<p><label>Signed in as <select name=\"user\">\n";
        for (auto& other : opts_.users)
            inner += "<option value=\"" + joinme::detail::html_escape(other.email) + "\"" +
                     (&other == u ? " selected" : "") + ">" +
                     joinme::detail::html_escape(other.full_name) + " (" +
                     joinme::detail::html_escape(other.email) + ")</option>\n";
        inner += "</select></label></p>\n"
                 "<button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button>\n"
                 "<button type=\"submit\" name=\"decision\" value=\"decline\">Decline</button>\n"
                 "</form>";
        pending_.emplace(pid, std::move(a));
        return html_response(200, "join.me sandbox: authorize " + app->name, inner);
    }

    response consent(call& c) {
        auto p = parse_params(c.req.body());
        auto a = lookup(pending_, p.get("pending"));
        if (!p.valid || !a)
            return error_page("This authorization request is unknown, used or expired.");
        auto taken = std::move(*a);
        pending_.erase(p.get("pending")); // single use
        if (p.find("user")) { // the person chose who they are; the default is current_user
            auto chosen = find_user(p.get("user"));
            if (!chosen)
                return error_page("The chosen user is not a user of the sandbox.");
            taken.g.user = chosen->email;
        }
        return finish(std::move(taken), p.get("decision") == "accept");
    }

    response counters_json(call&) {
        json::object requests;
        for (std::size_t e = 0; e < endpoint_count; ++e)
            requests[to_string(static_cast<endpoint>(e))] = counters_.requests[e];
        const auto& c = counters_;
        json::object by_user;
        for (auto& [u, n] : c.refreshes_by_user)
            by_user[u] = n;
        return json_response(
            200,
            json::object{{"requests", std::move(requests)},
                         {"connections_accepted", c.connections_accepted},
                         {"tokens_issued_authorization_code", c.tokens_issued_authorization_code},
                         {"tokens_issued_refresh_token", c.tokens_issued_refresh_token},
                         {"tokens_issued_implicit", c.tokens_issued_implicit},
                         {"refresh_requests", c.refresh_requests},
                         {"webhooks_delivered", c.webhooks_delivered},
                         {"webhooks_failed", c.webhooks_failed},
                         {"random_disconnects", c.random_disconnects},
                         {"random_statuses", c.random_statuses},
                         {"random_interim", c.random_interim},
                         {"random_unsolicited", c.random_unsolicited},
                         {"refreshes_by_user", std::move(by_user)}});
    }

    response finish(authorization a, bool accepted) {
        std::vector<std::pair<std::string, std::string>> ps;
        if (!accepted) {
            ps = {{"error", "access_denied"}, {"error_description", "The user denied access"}};
        } else if (a.response_type == "code") {
            auto code = random_alnum(24);
            a.expires_at = now() + opts_.code_lifetime;
            codes_.emplace(code, a);
            ps = {{"code", code}};
        } else {
            ps = {{"access_token", issue_access(a.g, opts_.implicit_token_lifetime)}};
            ++counters_.tokens_issued_implicit;
            if (!opts_.implicit_omit_token_type_and_expires_in) {
                ps.emplace_back("token_type", "bearer");
                ps.emplace_back("expires_in",
                                std::to_string(opts_.implicit_token_lifetime.count()));
            }
        }
        if (a.state)
            ps.emplace_back("state", *a.state);
        urls::url to(a.redirect_uri);
        if (a.response_type == "code") {
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

    std::string issue_access(const grant& g, std::chrono::seconds lifetime) {
        auto t = joinme::detail::random_token(32);
        access_.emplace(t, access_token_rec{g, now() + lifetime});
        return t;
    }

    std::string issue_refresh(const grant& g) {
        auto t = joinme::detail::random_token(32);
        refresh_.emplace(t, g);
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

    response token(call& c) {
        auto p = parse_body_params(c.req);
        if (!p.valid)
            return oauth_error(400, "invalid_request", "The request body is malformed.");
        auto grant_type = p.get("grant_type");
        if (grant_type == "refresh_token")
            ++counters_.refresh_requests;
        if (grant_type.empty())
            return oauth_error(400, "invalid_request", "grant_type is missing.");
        bool basic = false;
        auto app = authenticate(c.req, p, basic);
        if (!app) {
            auto res = oauth_error(401, "invalid_client", "Client authentication failed.");
            if (basic)
                res.set(http::field::www_authenticate, "Basic realm=\"secure.join.me\"");
            return res;
        }
        if (grant_type == "authorization_code")
            return exchange_code(*app, p);
        if (grant_type == "refresh_token")
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
        auto a = lookup(codes_, *code);
        if (!a)
            return code_error("The authorization code is unknown or expired.");
        if (a->used) {
            // A replayed code revokes what it granted (RFC 6749 §4.1.2).
            for (auto& t : a->issued) {
                access_.erase(t);
                refresh_.erase(t);
            }
            a->issued.clear();
            return code_error("The authorization code was already used.");
        }
        if (a->g.client_id != app.client_id)
            return code_error("The authorization code was issued to another client.");
        if (p.get("redirect_uri") != a->redirect_uri)
            return code_error("The redirect_uri differs from the authorization request's.");
        a->used = true;
        a->issued = {issue_access(a->g, opts_.access_token_lifetime), issue_refresh(a->g)};
        ++counters_.tokens_issued_authorization_code;
        return token_response(a->issued[0], &a->issued[1], a->g.scopes);
    }

    response refresh(const application& app, const params& p) {
        auto rt = p.find("refresh_token");
        if (!rt)
            return oauth_error(400, "invalid_request", "refresh_token is missing.");
        auto found = lookup(refresh_, *rt);
        if (!found || found->client_id != app.client_id)
            return oauth_error(400, "invalid_grant", "The refresh token is invalid or revoked.");
        auto g = *found;
        auto access = issue_access(g, opts_.access_token_lifetime);
        ++counters_.tokens_issued_refresh_token;
        ++counters_.refreshes_by_user[g.user];
        if (opts_.refresh_omit_refresh_token)
            return token_response(access, nullptr, g.scopes);
        if (!opts_.rotate_refresh_tokens)
            return token_response(access, rt, g.scopes);
        refresh_.erase(*rt);
        auto fresh = issue_refresh(g);
        return token_response(access, &fresh, g.scopes);
    }

    response expire_access(call& c) {
        auto p = parse_body_params(c.req);
        bool basic = false;
        auto app = p.valid ? authenticate(c.req, p, basic) : nullptr;
        auto tok = lookup(access_, p.get("access_token"));
        if (!app || !tok || tok->g.client_id != app->client_id)
            return json_response(
                400, json::object{{"success", false}, {"message", "Expire Access Failed"}});
        auto at = now() + opts_.expire_access_delay;
        if (!tok->revoked_at || *tok->revoked_at > at)
            tok->revoked_at = at;
        json::value ok =
            opts_.expire_access_success_as_string ? json::value("true") : json::value(true);
        return json_response(200,
                             json::object{{"success", ok}, {"message", "Access Token Expired"}});
    }

    // Shows the renew-authorization page (or, with auto_consent, renews at once).
    response renew(call& c) {
        auto p = parse_params(c.target.encoded_query());
        auto app = find_app(p.get("client_id"));
        auto tok = lookup(access_, p.get("access_token"));
        if (!p.valid || !app || !tok || tok->g.client_id != app->client_id ||
            app->redirect_uris.empty())
            return error_page("The client_id or access_token is missing or unknown.");
        if (opts_.auto_consent)
            return renewed(*app, *tok);
        auto pid = joinme::detail::random_token(16);
        renewals_.emplace(pid, renewal{p.get("access_token"), now() + opts_.code_lifetime});
        auto u = find_user(tok->g.user);
        std::string inner = "<p><strong>" + joinme::detail::html_escape(app->name) +
                            "</strong> asks you to confirm that it may go on using your "
                            "join.me account" +
                            (u ? " (" + joinme::detail::html_escape(u->email) + ")" : "") +
                            " with:</p>\n<ul>\n";
        for (auto& s : tok->g.scopes)
            inner += "<li>" + joinme::detail::html_escape(s) + "</li>\n";
        inner += "</ul>\n<form method=\"post\" action=\"/api/public/v1/auth/renewauthorization\">\n"
                 "<input type=\"hidden\" name=\"pending\" value=\"" +
                 pid +
                 "\">\n<button type=\"submit\" name=\"decision\" value=\"renew\">Renew "
                 "authorization</button>\n</form>";
        return html_response(200, "join.me sandbox: renew authorization for " + app->name, inner);
    }

    // The renew-authorization page's button.
    response renew_confirm(call& c) {
        auto p = parse_params(c.req.body());
        auto r = lookup(renewals_, p.get("pending"));
        if (!p.valid || !r)
            return error_page("This renewal is unknown, used or expired.");
        auto token = std::move(r->access_token);
        renewals_.erase(p.get("pending")); // single use
        auto tok = lookup(access_, token);
        auto app = tok ? find_app(tok->g.client_id) : nullptr;
        if (!tok || !app || app->redirect_uris.empty())
            return error_page("The access token is no longer known.");
        return renewed(*app, *tok);
    }

    // The token is usable again; back to the callback it was granted through.
    response renewed(const application& app, access_token_rec& tok) {
        tok.stale = false;
        urls::url to(tok.g.redirect_uri.empty() ? app.redirect_uris.front() : tok.g.redirect_uri);
        to.params().append({"isAuthorizationRenewed", "true"});
        return redirect(to);
    }

    // --- API -----------------------------------------------------------------------------

    response invalid_token() {
        return bearer_error(opts_.invalid_token_as_403 ? 403 : 401, "invalid_token",
                            "The access token is invalid or expired.");
    }

    /// The gateway's and the API's checks before an endpoint runs: token, account, rate,
    /// staleness, scope, JSON body and (for presenters) the Master Account Holder. Sets `c.u`
    /// and `c.body`; the refusal, if any.
    std::optional<response> admit(const route& r, call& c) {
        auto auth = c.req[http::field::authorization];
        if (auth.size() <= 7 || !joinme::detail::ascii_iequals(auth.substr(0, 7), "Bearer "))
            return invalid_token();
        std::string token(auth.substr(7));
        auto tok = lookup(access_, token);
        auto t = now();
        if (!tok || tok->expires_at <= t || (tok->revoked_at && *tok->revoked_at <= t))
            return invalid_token();
        auto app = find_app(tok->g.client_id);
        if (!app || app->inactive) {
            auto res = mashery_403("Account Inactive", "ERR_403_DEVELOPER_INACTIVE");
            res.set(http::field::www_authenticate,
                    "Bearer realm=\"api.join.me\", error=\"invalid_token\"");
            return res;
        }
        if (opts_.qps_limit) {
            auto sec = std::chrono::floor<std::chrono::seconds>(t);
            auto& w = qps_[token];
            if (w.first != sec)
                w = {sec, 0};
            if (++w.second > opts_.qps_limit)
                return mashery_403("Account Over Queries Per Second Limit",
                                   "ERR_403_DEVELOPER_OVER_QPS", "1");
        }
        if (tok->stale)
            return api_error(401, "The authorization must be renewed.", "stale_token");
        auto& scopes = tok->g.scopes;
        if (std::find(scopes.begin(), scopes.end(), r.scope) == scopes.end())
            return bearer_error(403, "insufficient_scope",
                                "The access token lacks the " + std::string(r.scope) + " scope.");
        c.u = find_user(tok->g.user);
        if (!c.u)
            return invalid_token();
        // GET/DELETE bodies (the docs send '{}') are ignored; others must be an object.
        bool reads_body = r.method == http::verb::post || r.method == http::verb::patch;
        if (reads_body && c.req.body().find_first_not_of(" \t\r\n") != std::string::npos) {
            boost::system::error_code ec;
            auto v = json::parse(c.req.body(), ec);
            if (ec || !v.is_object())
                return api_error(400, "The request body is not a JSON object.");
            c.body = std::move(v.as_object());
        }
        if (r.scope == "provisioning" && !c.u->master_account_holder)
            return api_error(403, "Only a Master Account Holder can manage presenters.");
        return std::nullopt;
    }

    response get_user(call& c) {
        const user& u = *c.u;
        auto v =
            json::value_from(api::user{.email = u.email,
                                       .full_name = u.full_name,
                                       .language = u.language,
                                       .number_of_meetings_hosted = u.number_of_meetings_hosted,
                                       .personal_url = u.personal_url,
                                       .subscription_type = u.subscription_type,
                                       .conference_settings = u.conference});
        v.as_object()["registrationDate"] = u.registration_date; // served verbatim
        return json_response(opts_.get_user_status, v);
    }

    response list_meetings(call& c) {
        auto p = parse_params(c.target.encoded_query());
        std::optional<std::chrono::sys_seconds> end;
        if (auto e = p.find("endDate")) {
            end = joinme::detail::parse_iso8601(*e);
            if (!end)
                return api_error(400, "endDate is not an ISO 8601 date-time.");
        }
        auto t = std::chrono::floor<std::chrono::seconds>(now());
        std::vector<const api::meeting*> sel;
        for (auto& [id, rec] : meetings_)
            if (rec.owner == c.u->email && rec.m.meeting_start >= t &&
                (!end || rec.m.meeting_start <= *end))
                sel.push_back(&rec.m);
        std::stable_sort(sel.begin(), sel.end(),
                         [](auto a, auto b) { return a->meeting_start < b->meeting_start; });
        json::array list;
        for (auto m : sel)
            list.push_back(dated(json::value_from(*m)));
        return json_response(200, json::object{{"meetings", std::move(list)}});
    }

    /// Reads the scheduled-meeting members present in `b` into `m`; the answer to a bad one.
    static std::optional<response> read_meeting(const json::object& b, api::meeting& m,
                                                const user& u) {
        api::detail::json_reader r;
        if (!r.optional(b, "meetingName", m.meeting_name) ||
            !r.optional(b, "meetingStart", m.meeting_start) ||
            !r.optional(b, "meetingEnd", m.meeting_end) ||
            !r.optional(b, "startWithPersonalUrl", m.start_with_personal_url) ||
            !r.optional(b, "participants", m.participants))
            return api_error(400, r.error());
        if (m.meeting_name.empty() || m.meeting_name.size() > 1024)
            return api_error(400, "meetingName must be 1 to 1024 characters.");
        if (m.participants.size() > 250)
            return api_error(400, "participants must be at most 250 e-mail addresses.");
        if (m.start_with_personal_url && !u.personal_url)
            return api_error(400, "The user has no personal URL.");
        if (m.meeting_end <= m.meeting_start)
            return api_error(400, "meetingEnd must be after meetingStart.");
        return std::nullopt;
    }

    response schedule(call& c) {
        for (auto k : {"meetingName", "meetingStart", "meetingEnd"})
            if (!c.body.if_contains(k) || c.body.at(k).is_null())
                return api_error(400, std::string(k) + " is required.");
        api::meeting m;
        if (auto refused = read_meeting(c.body, m, *c.u))
            return std::move(*refused);
        m.meeting_id = next_meeting_id_++;
        m.conference_id = c.u->conference ? c.u->conference->conference_id : random_digits(9);
        meetings_[m.meeting_id] = {c.u->email, m};
        return json_response(201, dated(json::value_from(m)));
    }

    /// The caller's meeting the path names, or null.
    api::meeting* own_meeting(const call& c) {
        auto rec = is_id(c.id) ? lookup(meetings_, std::stoll(c.id)) : nullptr;
        return rec && rec->owner == c.u->email ? &rec->m : nullptr;
    }

    response get_meeting(call& c) {
        auto m = own_meeting(c);
        if (!m)
            return api_error(404, "Meeting not found");
        return json_response(200, dated(json::value_from(*m)));
    }

    response update_meeting(call& c) {
        auto m = own_meeting(c);
        if (!m)
            return api_error(404, "Meeting not found");
        auto copy = *m;
        if (auto refused = read_meeting(c.body, copy, *c.u))
            return std::move(*refused);
        *m = std::move(copy);
        return json_response(200, dated(json::value_from(*m)));
    }

    response delete_meeting(call& c) {
        auto m = own_meeting(c);
        if (!m)
            return api_error(404, "Meeting not found");
        meetings_.erase(m->meeting_id);
        return make_response(204, {}, {});
    }

    response start_adhoc(call& c) {
        bool personal = false;
        api::detail::json_reader r;
        if (!r.required(c.body, "startWithPersonalUrl", personal))
            return api_error(400, r.error());
        return start(c, personal, nullptr);
    }

    response start_scheduled(call& c) {
        auto m = own_meeting(c);
        if (!m)
            return api_error(404, "Meeting not found");
        return start(c, m->start_with_personal_url, m);
    }

    response start(call& c, bool personal, api::meeting* scheduled) {
        const user& u = *c.u;
        if (personal && !u.personal_url)
            return api_error(400, "The user has no personal URL.");
        api::detail::json_reader r;
        std::string mode;
        bool detect = true;
        if (!r.optional(c.body, "viewerMode", mode) ||
            !r.optional(c.body, "viewerAppDetection", detect))
            return api_error(400, r.error());
        if (!mode.empty() && mode != "default" && mode != "headless")
            return api_error(400, "viewerMode must be null, \"default\" or \"headless\".");
        auto hooks = c.body.if_contains("webhooks");
        if (hooks && !hooks->is_null() && !hooks->is_object())
            return api_error(400, "webhooks must be an object.");
        auto id = scheduled ? scheduled->meeting_id : next_meeting_id_++;
        live_meeting lm{joinme::detail::random_token(24), now() + opts_.presenter_link_lifetime};
        api::start_result out;
        if (hooks && hooks->is_object())
            out.webhooks_status = register_webhooks(hooks->as_object(), lm);
        out.presenter_link =
            base_ + std::string(presenter_link_path) + "?token=" + lm.presenter_token;
        out.viewer_link = base_ + "/" + (personal ? *u.personal_url : random_digits(9));
        if (scheduled)
            scheduled->viewer_link = out.viewer_link;
        auto& conf = out.audio_conference.emplace(
            u.conference ? *u.conference
                         : conference_settings{random_digits(9), {}, random_digits(4)});
        if (conf.conference_call_numbers_url.empty())
            conf.conference_call_numbers_url =
                "https://secure.join.me/api/public/intphone.aspx?conferenceId=" +
                conf.conference_id;
        links_[lm.presenter_token] = id;
        live_[id] = std::move(lm);
        return json_response(201, json::value_from(out));
    }

    /// Registers the webhooks of a start request on `lm` and returns `webhooksStatus`. A
    /// webhook that cannot be registered does not stop the meeting (joinme-api.md §4.4): it is
    /// reported unregistered, with the reason.
    static json::object register_webhooks(const json::object& hooks, live_meeting& lm) {
        json::object status;
        for (auto& [event, v] : hooks) {
            api::webhook_registration reg;
            api::detail::json_reader r;
            auto url = api::detail::read_json(r, v, reg)
                           ? joinme::detail::parse_absolute(reg.callback_url)
                           : std::nullopt;
            json::object st{{"registered", false}};
            if (api::to_webhook_event_type(event) == api::webhook_event_type::unknown)
                st["message"] = "Unknown event.";
            else if (!url)
                st["message"] = "callbackUrl must be an absolute URL.";
            else if (url->scheme() != "http")
                st["message"] = "The sandbox delivers webhooks over http only.";
            else {
                st["registered"] = true;
                lm.webhooks[std::string(event)] = std::move(reg);
            }
            status[event] = std::move(st);
        }
        return status;
    }

    response open_presenter_link(call& c) {
        auto token = parse_params(c.target.encoded_query()).get("token");
        auto id = lookup(links_, token);
        auto lm = id ? lookup(live_, *id) : nullptr;
        // A scheduled meeting started again gets a new link; the old one stops working.
        if (!lm || lm->presenter_token != token || lm->link_used || lm->link_expires <= now())
            return html_response(410, "join.me sandbox: link expired",
                                 "<p>This presenter link is invalid, used or expired.</p>");
        lm->link_used = true; // one-time login link
        if (auto calls = meeting_event(*id, false))
            c.hooks = std::move(*calls);
        return html_response(200, "join.me sandbox: meeting started",
                             "<p>Meeting " + std::to_string(*id) + " started.</p>");
    }

    // --- presenters ----------------------------------------------------------------------

    response list_presenters(call& c) {
        auto list = json::value_from(c.u->presenters);
        if (opts_.presenters_wrapped)
            return json_response(200, json::object{{"presenters", std::move(list)}});
        return json_response(200, list);
    }

    response get_presenter(call& c) {
        for (auto& p : c.u->presenters)
            if (is_id(c.id) && p.id == std::stoll(c.id))
                return json_response(200, json::value_from(p));
        return api_error(404, "Presenter not found");
    }

    response add_presenter(call& c) {
        auto e = c.body.if_contains("email");
        std::string email = e && e->is_string() ? std::string(e->get_string()) : std::string();
        if (email.find('@') == std::string::npos || email.size() > 254)
            return api_error(400, "email must be an e-mail address.");
        for (auto& p : c.u->presenters)
            if (joinme::detail::ascii_iequals(p.email, email))
                return api_error(400, "The presenter already exists.");
        c.u->presenters.push_back(presenter{next_presenter_id_++, email, false, false});
        return json_response(201, json::value_from(c.u->presenters.back()));
    }

    options opts_;
    counters counters_;
    std::array<std::optional<fault>, endpoint_count> faults_;
    std::map<std::string, access_token_rec, std::less<>> access_;
    std::map<std::string, grant, std::less<>> refresh_;
    std::map<std::string, authorization, std::less<>> codes_, pending_;
    std::map<std::string, renewal, std::less<>> renewals_;
    std::map<std::int64_t, meeting_rec> meetings_;
    std::map<std::int64_t, live_meeting> live_;
    std::map<std::string, std::int64_t, std::less<>> links_;
    std::map<std::string, std::pair<std::chrono::sys_seconds, std::size_t>, std::less<>> qps_;
    std::int64_t next_meeting_id_ = 1001;
    std::int64_t next_presenter_id_ = 1;
    std::string base_;                   // of the request being handled
    std::optional<std::mt19937_64> rng_; // of options::random, seeded on first use
    std::uint64_t rng_seed_ = 0;
};

} // namespace joinme::sandbox::detail

#endif
