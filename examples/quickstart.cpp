// The whole join.me flow against the embedded sandbox, with no account and no arguments:
// authorize, exchange the code for a token, then call the API: who am I, schedule a meeting,
// start one.
//
// The sandbox stands in for secure.join.me and api.join.me on a loopback TLS port. Against
// the real service, drop the sandbox, keep the default URLs of oauth::config, fill in your
// application's client id, secret and callback URL, and open the authorization URL in the
// user's browser instead of fetching it here.
#include <joinme/joinme.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>

#include <boost/asio.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace http = joinme::http;
namespace oauth = joinme::oauth;
namespace api = joinme::api;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using tls_pool = http::basic_connection_pool<tls_stream>;

namespace {

// Sends `method url` with an optional body and returns the response; throws on a transport
// error (a status of any kind is a response).
asio::awaitable<http::response> send(tls_pool& pool, boost::beast::http::verb method,
                                     const std::string& url, http::request req = {}) {
    req.version(11);
    co_return co_await pool.async_request(method, boost::urls::url_view(url), std::move(req));
}

asio::awaitable<void> run(joinme::sandbox::server& sandbox, tls_pool& pool,
                          joinme::tls_context tls) {
    const std::string base = sandbox.base_url();
    oauth::config cfg;
    cfg.client_id = joinme::sandbox::default_client_id;
    cfg.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
    cfg.redirect_uri = "http://127.0.0.1/callback";
    cfg.set_auth_base_url(base); // the sandbox's OAuth endpoints, at join.me's paths

    // 1. The authorization URL, with a fresh unguessable state.
    oauth::authorization_options options;
    options.scopes = oauth::scope_set::parse("user_info scheduler start_meeting");
    auto authorization = oauth::make_authorization_request(cfg, options);
    std::cout << "1. authorization URL: " << authorization.url << "\n";

    // 2. The user's browser would open it and consent; the sandbox consents by itself here
    //    and answers with the redirect to the callback URL.
    auto consent = co_await send(pool, boost::beast::http::verb::get, authorization.url);
    std::string location(consent[boost::beast::http::field::location]);
    auto now = std::chrono::system_clock::now();
    auto redirect = oauth::parse_redirect(location, authorization, now); // checks state
    std::cout << "2. redirected with a code " << redirect.code << " and the right state\n";

    // 3. Exchange the code for a token at the token endpoint (throws error_with_diagnostics,
    //    which says what the server said, on failure).
    auto token = co_await oauth::async_exchange_code(pool, cfg, redirect.code, {}, options.scopes);
    std::cout << "3. token: " << token << "\n";

    // 4. The API client: it sends the bearer token, refreshes it ahead of expiry (once, however
    //    many calls wait) and replays a call once if the token is rejected.
    api::client_config client_cfg;
    client_cfg.oauth = cfg;
    client_cfg.set_base_url(base); // the API and the OAuth endpoints: both the sandbox
    api::basic_client<tls_stream> client(co_await asio::this_coro::executor, tls, client_cfg);
    client.set_token(std::move(token));

    auto user = co_await client.async_get_user();
    std::cout << "4. GET /v1/user: " << user.full_name << " <" << user.email << ">, "
              << user.subscription_type << " plan\n";

    api::meeting_draft draft;
    draft.meeting_name = "Weekly update";
    draft.meeting_start = std::chrono::ceil<std::chrono::hours>(std::chrono::system_clock::now()) +
                          std::chrono::hours(24);
    draft.meeting_end = draft.meeting_start + std::chrono::hours(1);
    draft.participants = {"worldsbestboss@join.me"};
    auto meeting = co_await client.async_schedule_meeting(draft);
    std::cout << "5. scheduled meeting " << meeting.meeting_id << " \"" << meeting.meeting_name
              << "\" at " << joinme::format_iso8601(meeting.meeting_start) << "\n";

    auto started = co_await client.async_start_meeting(api::start_request{});
    std::cout << "6. started an ad hoc meeting; viewers join at " << started.viewer_link << "\n";
    client.close();
}

} // namespace

int main() {
    asio::io_context ioc;
    joinme::sandbox::options sandbox_options;
    sandbox_options.auto_consent = true;
    joinme::sandbox::server sandbox(ioc.get_executor(), sandbox_options);
    sandbox.listen_tls();
    std::cout << "sandbox listening on " << sandbox.base_url() << "\n";

    auto tls = joinme::make_client_tls_context();
    tls.add_certificate_authority(asio::buffer(sandbox.certificate_pem()));
    tls_pool pool(ioc.get_executor(), joinme::tls_context(tls));

    int status = 0;
    asio::co_spawn(ioc, run(sandbox, pool, joinme::tls_context(tls)), [&](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "failed: " << ex.what() << "\n";
                status = 1;
            }
        }
        pool.close();
        sandbox.stop();
    });
    ioc.run();
    if (status == 0)
        std::cout << "done: the whole flow worked against the sandbox\n";
    return status;
}
