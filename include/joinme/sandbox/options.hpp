// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_OPTIONS_HPP
#define JOINME_SANDBOX_OPTIONS_HPP

/// @file
/// Configuration of the sandbox (the in-process join.me emulator): registered applications,
/// users, token lifetimes, the alternatives of the API contract's §9 it can produce, fault
/// injection and the counters it keeps. Plain values, no I/O.

#include <joinme/api/presenter.hpp>
#include <joinme/api/user.hpp>
#include <joinme/clock.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joinme::sandbox {

/// The clock tokens, codes, meetings and the QPS limit are measured against.
using joinme::clock_function;

/// A registered application (an API key).
struct application {
    std::string name = "joinme sandbox app"; ///< Shown on the consent page.
    std::string client_id{};                 ///< The API key.
    std::string client_secret{};             ///< The application secret.
    /// Registered callback URLs. A registered `http` URL whose host is `127.0.0.1`, `[::1]` or
    /// `localhost` matches a redirect URI with any port (RFC 8252 §7.3); every other URL must
    /// match exactly.
    std::vector<std::string> redirect_uris{};
    bool business = false; ///< A Business key: may request the `provisioning` scope.
    bool inactive = false; ///< The API answers the Mashery "Account Inactive" 403.
};

/// The `conferenceSettings` of a user: conference id (9 digits), dial-in numbers page and
/// organizer code (4-digit PIN), as the API client reads them.
using conference_settings = api::audio_conference;

/// A presenter provisioned by a Master Account Holder, as the API client reads it.
using presenter = api::presenter;

/// A join.me user, with the fields of `GET /v1/user`.
struct user {
    std::string email;                          ///< The identity (join.me has no numeric user id).
    std::string full_name{};                    ///< `fullName`.
    std::string language = "en-US";             ///< `language`.
    std::int64_t number_of_meetings_hosted = 0; ///< `numberOfMeetingsHosted`.
    std::optional<std::string> personal_url{};  ///< Absent for free users.
    std::string registration_date = "2014-03-22T20:45:00"; ///< Served verbatim.
    std::string subscription_type = "Pro";                 ///< `subscriptionType`.
    std::optional<conference_settings> conference{};       ///< Absent for free users.
    bool master_account_holder = false;                    ///< May use `/v1/presenters`.
    std::vector<presenter> presenters{};                   ///< Only for a Master Account Holder.
};

/// The seeded application's client id (24 lowercase alphanumerics, like join.me's API keys).
inline constexpr std::string_view default_client_id = "joinmesandboxclient00001";
/// The seeded application's secret. A well-known test value: the sandbox is not a security
/// boundary.
inline constexpr std::string_view default_client_secret = "SandBox123";
/// The seeded Business application's client id.
inline constexpr std::string_view default_business_client_id = "joinmesandboxbusiness001";

/// The endpoints the sandbox serves, for fault injection and counters.
enum class endpoint : std::size_t {
    authorize,           ///< GET  /api/public/v1/auth/oauth2
    consent,             ///< POST /api/public/v1/auth/oauth2 (the consent form)
    token,               ///< POST /api/public/v1/auth/token
    expire_access,       ///< POST /api/public/v1/auth/expireaccesstoken
    renew_authorization, ///< GET  /api/public/v1/auth/renewauthorization
    get_user,            ///< GET  /v1/user
    start_meeting,       ///< POST /v1/meetings/start
    list_meetings,       ///< GET  /v1/meetings
    schedule_meeting,    ///< POST /v1/meetings
    get_meeting,         ///< GET  /v1/meetings/{id}
    update_meeting,      ///< PATCH /v1/meetings/{id}
    delete_meeting,      ///< DELETE /v1/meetings/{id}
    start_scheduled,     ///< POST /v1/meetings/{id}/start
    list_presenters,     ///< GET  /v1/presenters
    get_presenter,       ///< GET  /v1/presenters/{id}
    add_presenter,       ///< POST /v1/presenters
    presenter_link,      ///< GET  /API/Public/StartMeeting.aspx (opening a presenter link)
    counters,            ///< GET  /sandbox/counters (the sandbox's own; not join.me's)
    other,               ///< Anything else (404/405).
};

/// Number of values of `endpoint`.
inline constexpr std::size_t endpoint_count = static_cast<std::size_t>(endpoint::other) + 1;

/// The name of `e`: its enumerator's name (`"get_user"`), as `GET /sandbox/counters` spells it.
constexpr std::string_view to_string(endpoint e) noexcept {
    constexpr std::string_view names[] = {
        "authorize",           "consent",         "token",          "expire_access",
        "renew_authorization", "get_user",        "start_meeting",  "list_meetings",
        "schedule_meeting",    "get_meeting",     "update_meeting", "delete_meeting",
        "start_scheduled",     "list_presenters", "get_presenter",  "add_presenter",
        "presenter_link",      "counters",        "other"};
    static_assert(std::size(names) == endpoint_count);
    return names[static_cast<std::size_t>(e)];
}

/// A fault injected into the responses of one endpoint.
struct fault {
    /// Delay before the response is written.
    std::chrono::milliseconds latency{0};
    /// Answer with this status instead of handling the request. 429 and 503 carry
    /// `Retry-After`; 403 is Mashery's over-QPS answer; 500 on the OAuth endpoints is
    /// `{"error": "server_error", "error_ticket_id": ...}`; 502 and 504 are a gateway's HTML
    /// page.
    std::optional<unsigned> status{};
    /// `Retry-After` value: delay-seconds or an HTTP date.
    std::string retry_after = "1";
    /// Write only the first N bytes of the response, then close the connection.
    std::optional<std::size_t> close_after_bytes{};
    /// Read the request and never answer (the connection stays open until the client or
    /// `server::stop` closes it).
    bool never_answer = false;
    /// How many requests the fault applies to; then it is removed.
    std::size_t times = std::numeric_limits<std::size_t>::max();
    /// Interim (1xx) responses written before the answer, in this order: 100 is
    /// `100 Continue`, 103 is `103 Early Hints` with a `Link` header, another 1xx a bare status
    /// line; values outside 100-199 are ignored. A client must skip them (RFC 9110 §15.2).
    std::vector<unsigned> interim{};
    /// Write a second response nobody asked for on the same connection, after the answer: a
    /// `200` whose body is a user of `GET /v1/user` who does not exist
    /// (`unsolicited@sandbox.invalid`). A client must close a connection on which such bytes
    /// arrive, and never take them as the answer to a later request.
    bool unsolicited = false;
    /// Write the unsolicited response this long after the answer instead of right behind it.
    /// A client that sends its next request on the connection meanwhile cannot tell it from
    /// the answer to that request (HTTP/1.1 has no way to), so tests of this form keep the
    /// connection idle until it arrived.
    std::chrono::milliseconds unsolicited_delay{0};
};

/// Faults drawn at random, request by request, for chosen endpoints, from a generator seeded
/// with `seed` (`std::mt19937_64`): the same seed and the same order of requests give the same
/// faults. One draw per request picks at most one of them; an injected `fault` of the endpoint
/// (`server::set_fault`) takes precedence. All probabilities 0 (the default): none.
struct random_faults {
    std::uint64_t seed = 1; ///< Seed of the generator.
    /// The endpoints they apply to; empty: every endpoint.
    std::vector<endpoint> endpoints{};
    /// Probability of handling the request, then closing the connection instead of answering:
    /// half of them before the first byte of the answer, half after a few bytes of its header.
    double disconnect = 0;
    /// Probability of answering `status` (with `retry_after`, as `fault::status`) instead of
    /// handling the request.
    double error_status = 0;
    unsigned status = 503;         ///< The status of `error_status`.
    std::string retry_after = "0"; ///< Its `Retry-After` value.
    /// Probability of an interim response before the answer: `100 Continue` or
    /// `103 Early Hints`, one or the other at random.
    double interim = 0;
    /// Probability of an unsolicited response after the answer (`fault::unsolicited`), written
    /// `unsolicited_delay` after it.
    double unsolicited = 0;
    std::chrono::milliseconds unsolicited_delay{0}; ///< Delay of the unsolicited response.
};

/// What the sandbox counted since start (or since `server::reset_counters`). A client in another
/// process reads them with `GET /sandbox/counters`: a JSON object with one member per field
/// below, and `requests` an object keyed by `to_string(endpoint)`.
struct counters {
    std::array<std::size_t, endpoint_count> requests{}; ///< Requests received, per endpoint.
    std::size_t connections_accepted = 0;               ///< TCP, TLS and in-memory connections.
    std::size_t tokens_issued_authorization_code = 0;   ///< Token responses to code exchanges.
    std::size_t tokens_issued_refresh_token = 0;        ///< Token responses to refreshes.
    std::size_t tokens_issued_implicit = 0;             ///< Tokens sent in implicit redirects.
    std::size_t refresh_requests = 0;   ///< Token requests with grant_type=refresh_token.
    std::size_t webhooks_delivered = 0; ///< Callbacks answered with a 2xx.
    std::size_t webhooks_failed = 0;    ///< Callbacks that failed or timed out.
    std::size_t random_disconnects = 0; ///< Connections closed by `options::random`.
    std::size_t random_statuses = 0;    ///< Error statuses answered by `options::random`.
    std::size_t random_interim = 0;     ///< Answers with an interim response before them.
    std::size_t random_unsolicited = 0; ///< Answers with an unsolicited response after them.
    /// Token responses to refreshes, per user (e-mail address).
    std::map<std::string, std::size_t, std::less<>> refreshes_by_user{};

    /// Requests received by `e`.
    std::size_t operator[](endpoint e) const noexcept {
        return requests[static_cast<std::size_t>(e)];
    }
};

/// One line of the request log. Holds the path without its query string, so that it never
/// carries a token, code or secret.
struct request_log_entry {
    std::string method{};                  ///< The request's method.
    std::string path{};                    ///< The request's path, without the query.
    unsigned status = 0;                   ///< 0 when no response was sent (never_answer).
    std::chrono::microseconds duration{0}; ///< From the request's arrival to its answer.
};

/// How the sandbox behaves. Every member has a working default.
struct options {
    /// Registered applications. Default: a Basic application (`default_client_id`) and a
    /// Business application (`default_business_client_id`), both with `default_client_secret`
    /// and the callback URLs `http://127.0.0.1/callback`, `http://localhost/callback`,
    /// `http://[::1]/callback` and `https://app.example.com/oauth/callback`.
    std::vector<application> applications = default_applications();
    /// Users. Default: a Pro user `pro@example.com` (personal URL, conference settings), a
    /// Free user `free@example.com` and a Master Account Holder `admin@example.com`.
    std::vector<user> users = default_users();
    /// The user who is logged in at the authorize page and consents. The consent page lets the
    /// person signing in pick another of `users` (its form's `user` field); with
    /// `auto_consent`, the authorize request's `user` query parameter does.
    std::string current_user = "pro@example.com";
    /// Skip the consent page: authorize redirects at once as if the user accepted.
    bool auto_consent = false;
    /// The clock; default `std::chrono::system_clock::now`.
    clock_function clock = [] { return std::chrono::system_clock::now(); };

    std::chrono::seconds access_token_lifetime{3600};    ///< Code-flow access tokens.
    std::chrono::seconds implicit_token_lifetime{86400}; ///< Implicit-flow access tokens.
    std::chrono::seconds code_lifetime{600};             ///< Authorization codes.
    std::chrono::seconds presenter_link_lifetime{600};   ///< One-time presenter links.
    /// How long an expire-access call takes to reach the API (join.me: up to 10 minutes).
    std::chrono::seconds expire_access_delay{0};
    /// A refresh returns a new refresh token and the old one stops working.
    bool rotate_refresh_tokens = true;
    /// Faults drawn at random for chosen endpoints (none by default).
    random_faults random{};
    /// API requests per second allowed per access token; 0 = unlimited. Excess requests get
    /// Mashery's over-QPS 403 with `Retry-After: 1`.
    std::size_t qps_limit = 0;

    // Alternatives of the contract's §9 a client must tolerate.
    bool token_omit_expires_in = false;      ///< Token responses without `expires_in`.
    bool token_expires_in_as_string = false; ///< `"expires_in": "3600"`.
    bool token_omit_token_type = false;      ///< Token responses without `token_type`.
    bool token_extra_fields = false;         ///< Adds `scope` and `id_token` to token responses.
    bool refresh_omit_refresh_token = false; ///< A refresh returns no refresh token (old kept).
    bool code_error_invalid_authorization_code = false; ///< join.me's `invalid_authorization_code`
                                                        ///< instead of `invalid_grant` for codes.
    bool implicit_omit_token_type_and_expires_in = false; ///< Implicit redirect carries neither.
    bool expire_access_success_as_string = false;         ///< `"success": "true"`.
    bool invalid_token_as_403 = false; ///< The FAQ's 403 form of the invalid-token answer.
    bool presenters_wrapped = false;   ///< `{"presenters": [...]}` instead of a bare array.
    bool dates_without_zone = false;   ///< Meeting dates without the `Z` suffix.
    unsigned get_user_status = 200;    ///< The docs say 201; the contract chose 200.

    /// Base of `presenterLink`/`viewerLink`. Empty: the request's scheme and `Host`.
    std::string public_base_url{};
    /// Largest request header (request line and fields), in bytes: a longer one is answered
    /// 431 and the connection closed.
    std::size_t header_limit = 8 * 1024;
    /// Largest request body, in bytes: a longer one is answered 413 and the connection closed.
    std::size_t body_limit = 64 * 1024;
    /// Deadline of each request on a TCP/TLS connection, counted from the accept or the end
    /// of the previous answer: the whole request (headers and body) must have arrived by
    /// then, however its bytes trickle in, or the connection is closed without an answer. So
    /// it also ends an idle keep-alive connection, and one that stalls. It bounds the TLS
    /// handshake and the writing of each answer as well. (In-memory connections have none.)
    std::chrono::milliseconds idle_timeout{30000};
    /// Close a keep-alive connection after this many responses (0 = never). Without
    /// `announce_close` the connection is closed silently after the last response, the way a
    /// server drops an idle connection.
    std::size_t keep_alive_max_requests = 0;
    bool announce_close = false; ///< Send `Connection: close` on the last response.
    /// Timeout of a webhook POST (connect, write and read).
    std::chrono::milliseconds webhook_timeout{5000};
    /// Called after every response (see request_log_entry).
    std::function<void(const request_log_entry&)> on_request{};

    /// The default applications (see `applications`).
    static std::vector<application> default_applications() {
        std::vector<std::string> uris{"http://127.0.0.1/callback", "http://localhost/callback",
                                      "http://[::1]/callback",
                                      "https://app.example.com/oauth/callback"};
        return {application{"joinme sandbox app", std::string(default_client_id),
                            std::string(default_client_secret), uris, false, false},
                application{"joinme sandbox business app", std::string(default_business_client_id),
                            std::string(default_client_secret), uris, true, false}};
    }

    /// The default users (see `users`).
    static std::vector<user> default_users() {
        user pro;
        pro.email = "pro@example.com";
        pro.full_name = "Hardest Worker";
        pro.number_of_meetings_hosted = 57;
        pro.personal_url = "hardwork";
        pro.conference = conference_settings{
            "123456789", "https://secure.join.me/api/public/intphone.aspx?conferenceId=123456789",
            "1234"};
        user free;
        free.email = "free@example.com";
        free.full_name = "Free Rider";
        free.subscription_type = "Free";
        user admin;
        admin.email = "admin@example.com";
        admin.full_name = "Master Account Holder";
        admin.subscription_type = "Business";
        admin.personal_url = "theboss";
        admin.conference = conference_settings{
            "987654321", "https://secure.join.me/api/public/intphone.aspx?conferenceId=987654321",
            "4321"};
        admin.master_account_holder = true;
        admin.presenters = {presenter{1, "hardworker@example.com", true, true}};
        return {pro, free, admin};
    }
};

} // namespace joinme::sandbox

#endif
