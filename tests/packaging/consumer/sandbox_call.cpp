// A consumer that makes a real call: it prints joinme's version, starts the sandbox on
// loopback, signs its Pro user in (authorization code grant; the sandbox consents at once, so
// its redirect is followed here instead of in a browser), reads the user's profile through an
// `api::any_client` and exits 0 if that is the signed-in user.
#include <joinme/joinme.hpp>
#include <joinme/sandbox/sandbox.hpp>

#include <boost/asio.hpp>

#include <iostream>
#include <memory>

namespace asio = boost::asio;
namespace api = joinme::api;
namespace oauth = joinme::oauth;

asio::awaitable<int> sign_in_and_call(std::string base_url) {
    auto ex = co_await asio::this_coro::executor;
    api::client_config cfg;
    cfg.set_base_url(base_url);
    cfg.oauth.client_id = joinme::sandbox::default_client_id;
    cfg.oauth.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
    cfg.oauth.redirect_uri = "http://127.0.0.1/callback";
    auto pool = std::make_shared<joinme::http::basic_connection_pool<boost::beast::tcp_stream>>(
        ex, joinme::tcp_context{}, cfg.pool);

    oauth::authorization_options opts;
    opts.scopes = oauth::scope_set::parse("user_info");
    auto sent = oauth::make_authorization_request(cfg.oauth, opts);
    auto url = boost::urls::parse_absolute_uri(sent.url).value();
    auto answer = co_await pool->async_request(boost::beast::http::verb::get, url, {});
    auto got = oauth::parse_redirect(answer[boost::beast::http::field::location], sent,
                                     std::chrono::system_clock::now());
    auto token = co_await oauth::async_exchange_code(*pool, cfg.oauth, sent, got);

    api::any_client client(pool, cfg);
    client.set_token(std::move(token));
    api::user user = co_await client.async_get_user();
    std::cout << "signed in to the sandbox as " << user.email << "\n";
    co_return user.email == "pro@example.com" ? 0 : 1;
}

int main() {
    std::cout << "joinme " << JOINME_VERSION_STRING << "\n";
    asio::io_context ioc;
    joinme::sandbox::server sandbox(ioc.get_executor());
    sandbox.config().auto_consent = true;
    sandbox.listen_tcp();
    int status = 1;
    asio::co_spawn(ioc, sign_in_and_call(sandbox.base_url()), [&](std::exception_ptr e, int s) {
        sandbox.stop();
        if (e)
            std::rethrow_exception(e);
        status = s;
    });
    ioc.run();
    return status;
}
