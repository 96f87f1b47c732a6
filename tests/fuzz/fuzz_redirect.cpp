// libFuzzer target: joinme::oauth::parse_redirect on arbitrary bytes, for both grants, with and
// without the redirect URI check. It must never crash or throw; a failure must leave no code
// or token behind, a success must carry one, and an implicit token must survive a JSON round
// trip.
#include <joinme/oauth/redirect.hpp>

#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void require(bool ok) {
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    // The first byte chooses the grant and the options; the rest is the redirect.
    const std::uint8_t mode = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    namespace oauth = joinme::oauth;
    oauth::authorization_request sent;
    sent.state = "xyz";
    sent.type = (mode & 1) ? oauth::response_type::token : oauth::response_type::code;
    sent.redirect_uri = (mode & 4) ? "http://127.0.0.1:8080/cb" : "https://client.example.com/cb";
    sent.scopes = {oauth::scope::user_info};
    oauth::redirect_options opts;
    opts.check_redirect_uri = (mode & 2) != 0;
    opts.max_size = (mode & 8) ? 64 : 8192;

    const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours{480000};
    joinme::error_code ec;
    joinme::diagnostics diag;
    auto r = oauth::parse_redirect(input, sent, now, opts, ec, diag);

    require(r.type == sent.type);
    if (ec) {
        require(r.code.empty() && !r.implicit_token);
        require(!diag.client_message.empty() || !diag.error.empty());
        require(diag.body_excerpt.empty());
        return 0;
    }
    require(input.size() <= opts.max_size);
    if (sent.type == oauth::response_type::code) {
        require(!r.code.empty() && !r.implicit_token);
        return 0;
    }
    require(r.code.empty() && r.implicit_token && !r.implicit_token->access_token.empty());
    const auto& t = *r.implicit_token;
    require(!t.refreshable());
    require(!t.expires_at || *t.expires_at >= t.obtained_at);
    auto back = boost::json::value_to<oauth::token>(boost::json::value_from(t));
    require(back.access_token == t.access_token && back.expires_at == t.expires_at &&
            back.obtained_at == t.obtained_at && back.scopes == t.scopes &&
            back.token_type == t.token_type);
    return 0;
}
