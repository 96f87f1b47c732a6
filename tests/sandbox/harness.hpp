// Test harness for the sandbox: a server on a manual clock and a deliberately small Beast
// client (no joinme client code, so that the client and the sandbox cannot share a mistake).
#ifndef JOINME_TESTS_SANDBOX_HARNESS_HPP
#define JOINME_TESTS_SANDBOX_HARNESS_HPP

#include <joinme/sandbox/sandbox.hpp>

#include "support/manual_clock.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace sbt {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace urls = boost::urls;
namespace sandbox = joinme::sandbox;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using time_point = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

enum class transport { memory, tcp, tls };

inline const char* name(transport t) {
    return t == transport::memory ? "memory" : t == transport::tcp ? "tcp" : "tls";
}

inline std::string client_id() {
    return std::string(sandbox::default_client_id);
}
inline std::string client_secret() {
    return std::string(sandbox::default_client_secret);
}
inline const std::string redirect_uri = "http://127.0.0.1/callback";

/// Percent-encodes all but unreserved characters (kept apart from the sandbox's own encoder).
inline std::string enc(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

/// `k=v&...` with form encoding.
inline std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
    std::string out;
    for (auto& [k, v] : kv) {
        if (!out.empty())
            out += '&';
        out += enc(k);
        out += '=';
        out += enc(v);
    }
    return out;
}

inline request make(http::verb v, std::string target, std::string body = {},
                    std::string_view content_type = {}) {
    request req{v, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty())
        req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

inline request post_form(std::string target, std::string body) {
    return make(http::verb::post, std::move(target), std::move(body),
                "application/x-www-form-urlencoded");
}

inline request api(http::verb v, std::string target, std::string_view token,
                   std::string body = {}) {
    auto req = make(v, std::move(target), std::move(body), "application/json");
    req.set(http::field::authorization, "Bearer " + std::string(token));
    return req;
}

inline json::object body_object(const response& res) {
    boost::system::error_code ec;
    auto v = json::parse(res.body(), ec);
    REQUIRE_MESSAGE(!ec, "not JSON: ", res.body());
    REQUIRE(v.is_object());
    return v.as_object();
}

/// The decoded query (or fragment) parameters of a redirect's Location.
inline std::map<std::string, std::string> location_params(const response& res,
                                                          bool fragment = false) {
    std::map<std::string, std::string> out;
    auto u = urls::parse_uri_reference(res[http::field::location]);
    REQUIRE(u);
    std::string s = fragment ? std::string(u->encoded_fragment()) : std::string(u->encoded_query());
    for (auto p : urls::params_view(s, urls::encoding_opts{}))
        out[p.key] = p.value;
    return out;
}

struct harness;

/// One client connection over any of the three transports.
class connection {
public:
    struct result {
        boost::system::error_code ec;
        response res;
    };

    connection(harness& h, transport t);

    result send(request req);
    boost::system::error_code write_raw(std::string data);
    result read();
    /// Reads until EOF or error, returning every byte received.
    std::string read_all();
    void close();
    /// False when the TLS handshake failed (certificate or host name verification).
    bool connected() const noexcept { return connected_; }

    template <class F>
    auto visit(F&& f) {
        if (mem_)
            return f(*mem_);
        if (tcp_)
            return f(*tcp_);
        return f(*tls_);
    }

private:
    harness& h_;
    std::optional<beast::test::stream> mem_;
    std::optional<beast::tcp_stream> tcp_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
    beast::flat_buffer buf_;
    bool connected_ = true;
    boost::system::error_code handshake_error_;
};

/// The clock every sandbox of the tests starts at: 2030-01-01T09:00:00Z.
inline std::shared_ptr<time_point> start_clock() {
    return std::make_shared<time_point>(
        std::chrono::sys_days{std::chrono::year{2030} / std::chrono::January / 1} + 9h);
}

/// The OAuth flows, spelled out with raw requests that `Self::send(request)` answers.
template <class Self>
struct flows {
    std::string authorize_target(std::string_view scope, std::string_view response_type = "code",
                                 std::string_view redirect = redirect_uri,
                                 std::string_view state = "xyz",
                                 std::string_view client = sandbox::default_client_id) {
        return "/api/public/v1/auth/oauth2?" + form({{"client_id", client},
                                                     {"redirect_uri", redirect},
                                                     {"response_type", response_type},
                                                     {"scope", scope},
                                                     {"state", state}});
    }

    /// Shows the consent page and submits its form with `decision`.
    response consent(std::string target, std::string_view decision) {
        auto page = self().send(make(http::verb::get, std::move(target)));
        REQUIRE(page.result_int() == 200);
        auto& html = page.body();
        auto at = html.find("name=\"pending\" value=\"");
        REQUIRE(at != std::string::npos);
        at += 22;
        auto pending = html.substr(at, html.find('"', at) - at);
        return self().send(post_form("/api/public/v1/auth/oauth2",
                                     form({{"pending", pending}, {"decision", decision}})));
    }

    std::string code(std::string_view scope = "user_info scheduler start_meeting",
                     std::string_view client = sandbox::default_client_id) {
        auto res = consent(authorize_target(scope, "code", redirect_uri, "xyz", client), "accept");
        REQUIRE(res.result_int() == 302);
        return location_params(res)["code"];
    }

    response exchange(std::string_view code, std::string_view redirect = redirect_uri,
                      std::string_view client = sandbox::default_client_id) {
        return self().send(post_form("/api/public/v1/auth/token",
                                     form({{"grant_type", "authorization_code"},
                                           {"client_id", client},
                                           {"client_secret", sandbox::default_client_secret},
                                           {"code", code},
                                           {"redirect_uri", redirect}})));
    }

    response refresh(std::string_view refresh_token) {
        return self().send(post_form("/api/public/v1/auth/token",
                                     form({{"grant_type", "refresh_token"},
                                           {"client_id", sandbox::default_client_id},
                                           {"client_secret", sandbox::default_client_secret},
                                           {"refresh_token", refresh_token}})));
    }

    struct tokens {
        std::string access, refresh;
    };

    tokens login(std::string_view scope = "user_info scheduler start_meeting",
                 std::string_view client = sandbox::default_client_id) {
        auto res = exchange(code(scope, client), redirect_uri, client);
        REQUIRE(res.result_int() == 200);
        auto o = body_object(res);
        return {std::string(o.at("access_token").as_string()),
                std::string(o.at("refresh_token").as_string())};
    }

private:
    Self& self() { return static_cast<Self&>(*this); }
};

/// A sandbox on its own io_context, a manual clock, TCP and TLS listeners.
struct harness : flows<harness> {
    asio::io_context ioc;
    std::shared_ptr<time_point> now = start_clock();
    sandbox::server srv;
    unsigned short tcp_port = 0, tls_port = 0;
    asio::ssl::context client_ctx{asio::ssl::context::tls_client};
    std::string tls_host = "localhost";

    explicit harness(sandbox::options o = {})
        : srv(ioc.get_executor(), test_support::with_clock(std::move(o), now)) {
        tls_port = srv.listen_tls();
        tcp_port = srv.listen_tcp();
        client_ctx.add_certificate_authority(asio::buffer(srv.certificate_pem()));
        client_ctx.set_verify_mode(asio::ssl::verify_peer);
    }

    void advance(std::chrono::seconds d) { *now += d; }

    /// Runs the io_context until `done()` or `limit` passes; false on timeout.
    template <class F>
    bool run_until(F&& done, std::chrono::milliseconds limit = 5000ms) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (ioc.stopped())
                ioc.restart();
            ioc.run_one_for(10ms);
        }
        return done();
    }

    /// Runs `aw` to completion (bounded by `limit`).
    template <class T>
    std::optional<T> await(asio::awaitable<T> aw, std::chrono::milliseconds limit = 5000ms) {
        std::optional<T> out;
        bool done = false;
        asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
            done = true;
            if (e)
                std::rethrow_exception(e);
            out = std::move(v);
        });
        run_until([&] { return done; }, limit);
        return out;
    }

    /// One request on a fresh connection.
    response send(request req, transport t = transport::memory) {
        connection c(*this, t);
        auto r = c.send(std::move(req));
        REQUIRE_MESSAGE(!r.ec, r.ec.message());
        return r.res;
    }
};

/// The sandbox's logic alone, on the same clock: each request is handed to
/// `service::handle` as a function, with no server and no stream.
struct service_harness : flows<service_harness> {
    std::shared_ptr<time_point> now = start_clock();
    sandbox::detail::service svc;

    explicit service_harness(sandbox::options o = {})
        : svc(test_support::with_clock(std::move(o), now)) {}

    sandbox::detail::outcome handle(const request& req) {
        return svc.handle(req, sandbox::detail::connection_info{"http", "http://sandbox.invalid"});
    }
    response send(const request& req) { return handle(req).res; }
};

// --- connection ---

template <class Stream>
asio::awaitable<connection::result> do_send(Stream& s, beast::flat_buffer& buf, request req) {
    connection::result r;
    auto [ec, n] = co_await http::async_write(s, req, asio::as_tuple(asio::use_awaitable));
    if (ec) {
        r.ec = ec;
        co_return r;
    }
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 20);
    auto [rec, rn] = co_await http::async_read(s, buf, p, asio::as_tuple(asio::use_awaitable));
    r.ec = rec;
    if (!rec)
        r.res = p.release();
    co_return r;
}

template <class Stream>
asio::awaitable<connection::result> do_read(Stream& s, beast::flat_buffer& buf) {
    connection::result r;
    http::response_parser<http::string_body> p;
    auto [rec, rn] = co_await http::async_read(s, buf, p, asio::as_tuple(asio::use_awaitable));
    r.ec = rec;
    if (!rec)
        r.res = p.release();
    co_return r;
}

inline connection::connection(harness& h, transport t) : h_(h) {
    if (t == transport::memory) {
        mem_.emplace(h.srv.in_memory_connector()(h.ioc.get_executor()));
        return;
    }
    tcp::endpoint ep(asio::ip::address_v4::loopback(),
                     t == transport::tcp ? h.tcp_port : h.tls_port);
    if (t == transport::tcp) {
        tcp_.emplace(h.ioc);
        auto r = h.await([](beast::tcp_stream& s, tcp::endpoint ep) -> asio::awaitable<bool> {
            s.expires_after(5s);
            auto [ec] = co_await s.async_connect(ep, asio::as_tuple(asio::use_awaitable));
            co_return !ec;
        }(*tcp_, ep));
        connected_ = r && *r;
        REQUIRE_MESSAGE(connected_, handshake_error_.message());
        return;
    }
    tls_.emplace(beast::tcp_stream(h.ioc), h.client_ctx);
    SSL_set_tlsext_host_name(tls_->native_handle(), h.tls_host.c_str());
    tls_->set_verify_callback(asio::ssl::host_name_verification(h.tls_host));
    auto r = h.await([](beast::ssl_stream<beast::tcp_stream>& s, tcp::endpoint ep,
                        boost::system::error_code& err) -> asio::awaitable<bool> {
        beast::get_lowest_layer(s).expires_after(5s);
        auto [ec] = co_await beast::get_lowest_layer(s).async_connect(
            ep, asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return false;
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client,
                                                asio::as_tuple(asio::use_awaitable));
        err = hec;
        co_return !hec;
    }(*tls_, ep, handshake_error_));
    connected_ = r && *r;
}

inline connection::result connection::send(request req) {
    REQUIRE_MESSAGE(connected_, handshake_error_.message());
    auto r = visit([&](auto& s) { return h_.await(do_send(s, buf_, std::move(req))); });
    REQUIRE_MESSAGE(r, "no response within the time limit");
    return *r;
}

inline connection::result connection::read() {
    auto r = visit([&](auto& s) { return h_.await(do_read(s, buf_)); });
    REQUIRE_MESSAGE(r, "no response within the time limit");
    return *r;
}

inline boost::system::error_code connection::write_raw(std::string data) {
    auto r = visit([&](auto& s) {
        return h_.await([](auto& s, std::string d) -> asio::awaitable<boost::system::error_code> {
            auto [ec, n] =
                co_await asio::async_write(s, asio::buffer(d), asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(s, std::move(data)));
    });
    REQUIRE(r);
    return *r;
}

inline std::string connection::read_all() {
    auto r = visit([&](auto& s) {
        return h_.await([](auto& s) -> asio::awaitable<std::string> {
            std::string out;
            char b[4096];
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(asio::buffer(b),
                                                          asio::as_tuple(asio::use_awaitable));
                out.append(b, n);
                if (ec)
                    co_return out;
            }
        }(s));
    });
    REQUIRE_MESSAGE(r, "the connection was not closed within the time limit");
    return *r;
}

inline void connection::close() {
    visit([](auto& s) { beast::get_lowest_layer(s).close(); });
}

} // namespace sbt

#endif
