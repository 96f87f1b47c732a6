// The whole join.me story in one coroutine, top to bottom: authorize, catch the redirect on a
// loopback listener, exchange the code, then the user, an ad hoc meeting, a scheduled meeting
// listed, updated, fetched, started and deleted, a presenter, and an access token that expires
// and is refreshed by itself. docs/getting-started.md walks through it step by step.
//
// With no arguments it runs against an in-process join.me sandbox over TLS, which consents by
// itself: no account needed. With JOINME_CLIENT_ID, JOINME_CLIENT_SECRET and JOINME_REDIRECT_URI
// (a loopback callback URL registered for the application, such as
// http://127.0.0.1:8400/callback) in the environment, it runs the same story against join.me:
// open the printed URL in a browser and consent. Steps join.me offers only to some
// applications are then skipped, with a line that says why. JOINME_BASE_URL and JOINME_CA_FILE
// point that run at another server instead (a joinme-sandbox program, say). Behind an HTTP
// proxy, https_proxy and no_proxy are honoured as curl reads them (docs/proxies.md).
#include <joinme/joinme.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace oauth = joinme::oauth;
namespace api = joinme::api;
// TLS, directly or through an HTTP proxy's tunnel: which one is configuration.
using client_type = api::basic_client<joinme::proxy_stream>;
using namespace std::chrono_literals;

namespace {

// What the environment asks for: join.me (or another server), or, with nothing set, the
// in-process sandbox.
struct production {
    std::string client_id, client_secret, redirect_uri, base_url, ca_file;

    static std::optional<production> from_environment() {
        auto env = [](const char* name) {
            const char* v = std::getenv(name);
            return std::string(v ? v : "");
        };
        production p{env("JOINME_CLIENT_ID"), env("JOINME_CLIENT_SECRET"),
                     env("JOINME_REDIRECT_URI"), env("JOINME_BASE_URL"), env("JOINME_CA_FILE")};
        if (p.client_id.empty() || p.client_secret.empty() || p.redirect_uri.empty())
            return std::nullopt;
        return p;
    }
};

// In the sandbox, stands in for the user's browser: opens the authorization page (the sandbox
// consents at once and redirects) and follows the redirect to the loopback listener.
asio::awaitable<void> act_as_browser(client_type& client, std::string url) {
    const auto get = beast::http::verb::get;
    boost::urls::url_view authorize(url);
    joinme::http::request req;
    auto consent = co_await client.pool().async_request(get, authorize, req);
    std::string location(consent[beast::http::field::location]);
    boost::urls::url_view callback(location);
    joinme::http::basic_connection_pool<beast::tcp_stream> loopback(client.get_executor(), {});
    co_await loopback.async_request(get, callback, req);
}

asio::awaitable<void> run(client_type& client, const std::optional<production>& prod,
                          std::string sandbox_user) {
    const auto t0 = std::chrono::steady_clock::now();

    // 1. The authorization URL. The redirect comes back to a loopback listener (RFC 8252):
    //    on any free port in the sandbox; on the registered one against join.me.
    joinme::loopback::listener_options where;
    if (prod) {
        boost::urls::url_view uri(prod->redirect_uri);
        if (uri.scheme() != "http" || uri.port_number() == 0 ||
            (uri.host() != "127.0.0.1" && uri.host() != "localhost"))
            throw std::invalid_argument("JOINME_REDIRECT_URI must be a loopback callback URL "
                                        "with a port, such as http://127.0.0.1:8400/callback");
        where.ports = {uri.port_number()};
        where.path = uri.path();
        where.uri_host = uri.host();
    }
    joinme::loopback::redirect_listener listener(client.get_executor(), where);
    listener.listen();
    oauth::config cfg = client.config().oauth;
    cfg.redirect_uri = listener.redirect_uri();

    oauth::authorization_options what;
    what.scopes = oauth::scope_set::parse("user_info scheduler start_meeting");
    if (!prod)
        what.scopes = oauth::scope_set::parse("user_info scheduler start_meeting provisioning");
    what.pkce = true;
    auto sent = oauth::make_authorization_request(cfg, what);
    std::cout << "1. authorization URL: " << sent.url << "\n";

    // 2. Consent, and 3. the redirect caught by the listener, which checks its state.
    oauth::redirect_response redirect;
    if (prod) {
        std::cout << "2. consent: open the URL above in a browser and allow access" << std::endl;
        redirect = co_await listener.async_wait_redirect(sent);
    } else {
        std::cout << "2. consent: the sandbox consents for " << sandbox_user << "\n";
        using namespace asio::experimental::awaitable_operators;
        redirect =
            co_await (act_as_browser(client, sent.url) && listener.async_wait_redirect(sent));
    }
    std::cout << "3. redirect caught on " << cfg.redirect_uri << " with the right state\n";

    // 4. The code exchange, with the PKCE verifier and the redirect URI that were sent.
    auto token = co_await oauth::async_exchange_code(client.pool(), cfg, sent, redirect);
    std::cout << "4. code exchanged: " << token << "\n";
    client.set_token(std::move(token));

    // 5. The user.
    api::user me = co_await client.async_get_user();
    std::cout << "5. user: " << me.full_name << " <" << me.email << ">, " << me.subscription_type
              << " plan\n";

    // 6. An ad hoc meeting. Its presenter link logs the presenter in: never log it.
    api::start_request now;
    api::start_result adhoc = co_await client.async_start_meeting(now);
    std::cout << "6. ad hoc meeting started; viewers join at " << adhoc.viewer_link << "\n";

    // 7. A scheduled meeting: scheduled, listed, updated, fetched, started, deleted.
    api::meeting_draft draft;
    draft.meeting_name = "Weekly update";
    draft.meeting_start =
        std::chrono::ceil<std::chrono::hours>(std::chrono::system_clock::now()) + 24h;
    draft.meeting_end = draft.meeting_start + 1h;
    draft.participants = {"colleague@example.com"};
    api::meeting m = co_await client.async_schedule_meeting(draft);
    std::cout << "7. scheduled meeting " << m.meeting_id << " \"" << m.meeting_name << "\" at "
              << joinme::format_iso8601(m.meeting_start) << "\n";

    api::meeting_list_filter all;
    auto upcoming = co_await client.async_list_meetings(all);
    std::cout << "8. listed " << upcoming.size() << " upcoming meeting(s)\n";

    api::meeting_patch patch;
    patch.meeting_name = "Weekly update (moved)";
    m = co_await client.async_update_meeting(m.meeting_id, patch);
    std::cout << "9. updated: renamed \"" << m.meeting_name << "\"\n";

    m = co_await client.async_get_meeting(m.meeting_id);
    std::cout << "10. fetched: \"" << m.meeting_name << "\" at "
              << joinme::format_iso8601(m.meeting_start) << "\n";

    api::scheduled_start_request as_scheduled;
    auto live = co_await client.async_start_scheduled_meeting(m.meeting_id, as_scheduled);
    std::cout << "11. started; viewers join at " << live.viewer_link << "\n";

    co_await client.async_delete_meeting(m.meeting_id);
    std::cout << "12. deleted meeting " << m.meeting_id << "\n";

    // 13. A presenter: join.me's Business API (the provisioning scope, a Master Account Holder).
    if (prod) {
        std::cout << "13. presenter: skipped (presenters need a Business API key)\n";
    } else {
        api::new_presenter newcomer{"newcomer@example.com"};
        api::presenter p = co_await client.async_add_presenter(newcomer);
        std::cout << "13. presenter added: " << p.email << " (invitation "
                  << (p.is_invitation_accepted ? "accepted" : "pending") << ")\n";
    }

    // 14. The access token expires; the next call refreshes it by itself.
    if (prod) {
        std::cout << "14. expiry: skipped (Expire Access is a join.me test helper)\n";
    } else {
        co_await client.async_expire_access_token(api::expire_mode::locally);
        auto again = co_await client.async_get_user();
        std::cout << "14. access token expired; the next call refreshed it ("
                  << client.token_source().stats().refresh_requests << " refresh) and answered "
                  << again.email << "\n";
    }

    // 15. What it took.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    auto pool = client.pool().stats();
    std::cout << "15. " << pool.requests_sent << " requests on " << pool.connections_opened
              << " connection(s) in " << ms.count() << " ms\n";
}

} // namespace

int main() {
    asio::io_context ioc;
    const auto prod = production::from_environment();

    api::client_config cfg;
    std::optional<joinme::sandbox::server> sandbox;
    const std::string sandbox_user =
        "admin@example.com"; // a Master Account Holder: may add presenters
    auto ssl = joinme::make_client_tls_context(
        prod && prod->ca_file.empty() ? joinme::trust_store::system : joinme::trust_store::none);
    if (prod) {
        cfg.oauth.client_id = prod->client_id;
        cfg.oauth.client_secret = joinme::secret(prod->client_secret);
        if (!prod->ca_file.empty())
            ssl.load_verify_file(prod->ca_file);
        if (!prod->base_url.empty())
            cfg.set_base_url(prod->base_url);
        std::cout << "against " << (prod->base_url.empty() ? "join.me" : prod->base_url) << "\n";
    } else {
        joinme::sandbox::options opts;
        opts.auto_consent = true;
        opts.current_user = sandbox_user;
        sandbox.emplace(ioc.get_executor(), opts);
        sandbox->listen_tls();
        ssl.add_certificate_authority(asio::buffer(sandbox->certificate_pem()));
        cfg.set_base_url(sandbox->base_url()); // the API and the OAuth endpoints: the sandbox
        cfg.oauth.client_id = joinme::sandbox::default_business_client_id;
        cfg.oauth.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
        std::cout << "against the sandbox at " << sandbox->base_url() << "\n";
    }
    // The proxy of https_proxy / no_proxy, if any (the sandbox, on loopback, is never proxied).
    joinme::error_code ec;
    cfg.proxy = joinme::proxy_config_from_environment(ec);
    if (ec) {
        std::cerr << "https_proxy or http_proxy is not a proxy URL (http://host:port)\n";
        return 2;
    }
    client_type client(ioc.get_executor(), joinme::proxy_context(joinme::tls_context(ssl)), cfg);

    int status = 0;
    asio::co_spawn(ioc, run(client, prod, sandbox_user), [&](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "failed: " << ex.what() << "\n";
                status = 1;
            }
        }
        client.close();
        if (sandbox)
            sandbox->stop();
    });
    ioc.run();
    if (status == 0)
        std::cout << "done\n";
    return status;
}
