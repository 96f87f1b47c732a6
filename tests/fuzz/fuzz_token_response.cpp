// libFuzzer target: the token-endpoint parsers (code exchange and refresh), the expire-access
// parser and the token's persistence format on arbitrary bodies and statuses. They must never
// crash or throw; a failure must leave no token behind, a success must carry one whose expiry
// follows its arrival, and what parses must survive a JSON round trip.
#include <joinme/oauth/token_response.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

namespace oauth = joinme::oauth;

void require(bool ok) {
    if (!ok)
        std::abort();
}

void check_round_trip(const oauth::token& t) {
    auto back = boost::json::value_to<oauth::token>(boost::json::value_from(t));
    require(back.access_token == t.access_token && back.refresh_token == t.refresh_token &&
            back.expires_at == t.expires_at && back.obtained_at == t.obtained_at &&
            back.scopes == t.scopes && back.token_type == t.token_type);
}

void check_token(const oauth::token& t, const joinme::error_code& ec,
                 const joinme::diagnostics& diag, unsigned status) {
    require(diag.status == status);
    require(diag.body_excerpt.size() <= joinme::diagnostics::max_excerpt + 3);
    if (ec) {
        require(t.access_token.empty());
        return;
    }
    require(status >= 200 && status < 300);
    require(!t.access_token.empty());
    require(!t.expires_at || (*t.expires_at >= t.obtained_at &&
                              *t.expires_at - t.obtained_at <= oauth::max_token_lifetime));
    check_round_trip(t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    // The first byte chooses the status; the rest is the body.
    static constexpr unsigned statuses[] = {200, 201, 204, 302, 400, 401,
                                            403, 404, 429, 500, 502, 503};
    const unsigned status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours{480000};

    {
        joinme::error_code ec;
        joinme::diagnostics diag;
        auto t =
            oauth::parse_token_response(status, body, now, {oauth::scope::user_info}, ec, diag);
        check_token(t, ec, diag, status);
    }
    {
        oauth::token previous;
        previous.access_token = joinme::secret("old");
        previous.refresh_token = joinme::secret("previous-refresh");
        joinme::error_code ec;
        joinme::diagnostics diag;
        auto t = oauth::parse_refresh_response(status, body, now, previous, ec, diag);
        check_token(t, ec, diag, status);
        if (!ec)
            require(t.refreshable());
    }
    {
        joinme::error_code ec;
        joinme::diagnostics diag;
        auto message = oauth::parse_expire_access_response(status, body, ec, diag);
        require(diag.status == status);
        require(!ec || message.empty());
        require(ec || (status >= 200 && status < 300));
    }
    {
        // The same bytes as a stored token (the file store reads this format back).
        boost::json::error_code jec;
        auto jv = boost::json::parse(body, jec);
        if (!jec) {
            auto r = boost::json::try_value_to<oauth::token>(jv);
            if (r)
                require(!r->access_token.empty());
        }
    }
    return 0;
}
