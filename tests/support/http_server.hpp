// A small HTTP/1.1 server for the transport and pool tests: it serves any stream type, counts
// what it sees, and misbehaves on request (closes idle connections, never answers).
#ifndef JOINME_TESTS_SUPPORT_HTTP_SERVER_HPP
#define JOINME_TESTS_SUPPORT_HTTP_SERVER_HPP

#include <joinme/detail/http_server.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

struct server_behaviour {
    // Builds the answer to a request; the default says 200 "ok".
    std::function<response(const request&)> handler;
    // Close the connection after each answer without announcing it (no Connection: close),
    // as a server does when its keep-alive timer fires.
    bool close_after_response = false;
    // Read requests but never answer.
    bool never_answer = false;
    // Never answer requests for this target (when not empty); answer the others.
    std::string never_answer_target;
    // Close the connection instead of answering every second request (the 2nd, the 4th...),
    // as a server whose keep-alive timer fires just as a request arrives.
    bool drop_every_second = false;
    // Raw bytes sent before each answer (interim responses) and after it (unsolicited bytes).
    std::string prefix;
    std::string suffix;
};

struct server_counters {
    std::size_t connections = 0;
    std::size_t requests = 0;
};

// Answers with `b`, counting requests in `counters`.
inline auto scripted_handler(std::shared_ptr<server_behaviour> b,
                             std::shared_ptr<server_counters> counters) {
    return [b, counters](const request& req) {
        joinme::detail::server_reply reply;
        ++counters->requests;
        // The connection stays open and silent.
        reply.withhold = b->never_answer || (!b->never_answer_target.empty() &&
                                             req.target() == b->never_answer_target);
        if (reply.withhold)
            return reply;
        if (b->drop_every_second && counters->requests % 2 == 0) {
            reply.cut_after = 0;
            return reply;
        }
        if (b->handler) {
            reply.res = b->handler(req);
        } else {
            reply.res.set(bhttp::field::content_type, "text/plain");
            reply.res.body() = "ok";
        }
        reply.res.version(11);
        reply.res.prepare_payload();
        reply.close = b->close_after_response;
        reply.prefix = b->prefix;
        reply.suffix = b->suffix;
        return reply;
    };
}

// Serves HTTP/1.1 on one connection until the peer closes it, then closes it.
template <class Stream>
asio::awaitable<void> serve_http(Stream& stream, std::shared_ptr<server_behaviour> b,
                                 std::shared_ptr<server_counters> counters) {
    joinme::detail::server_connections::slot unowned;
    joinme::detail::server_options opts;
    auto handler = scripted_handler(std::move(b), std::move(counters));
    co_await joinme::detail::serve_connection(stream, std::move(unowned), opts, handler);
}

// Accepts connections on an acceptor of any protocol and serves each with `serve_http`,
// optionally through TLS.
template <class Protocol>
class basic_test_server {
public:
    using acceptor_type = typename Protocol::acceptor;
    using socket_type = typename Protocol::socket;

    basic_test_server(asio::io_context& ioc, typename Protocol::endpoint ep,
                      asio::ssl::context* tls = nullptr)
        : acceptor_(ioc, ep) {
        asio::co_spawn(ioc,
                       joinme::detail::accept_loop(
                           acceptor_, conns_,
                           [ex = ioc.get_executor(), tls, conns = conns_, b = behaviour_,
                            c = counters_](socket_type socket) {
                               ++c->connections;
                               auto slot = joinme::detail::server_connections::add(conns);
                               asio::co_spawn(
                                   ex, session(std::move(socket), std::move(slot), tls, b, c),
                                   asio::detached);
                           }),
                       asio::detached);
    }

    ~basic_test_server() { stop(); }

    typename Protocol::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    server_behaviour& behaviour() { return *behaviour_; }
    const server_counters& counters() const { return *counters_; }

    // Closes the acceptor and every connection, so that run() can return.
    void stop() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        conns_->close();
    }

private:
    static asio::awaitable<void> session(socket_type sock,
                                         joinme::detail::server_connections::slot slot,
                                         asio::ssl::context* tls,
                                         std::shared_ptr<server_behaviour> b,
                                         std::shared_ptr<server_counters> c) {
        joinme::detail::server_options opts;
        auto handler = scripted_handler(std::move(b), std::move(c));
        if (!tls) {
            co_await joinme::detail::serve_connection(sock, std::move(slot), opts, handler);
            co_return;
        }
        asio::ssl::stream<socket_type&> stream(sock, *tls);
        slot.on_close([&sock] { joinme::detail::close_stream(sock); });
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                    asio::as_tuple(asio::use_awaitable));
        if (!ec && !slot.closed())
            co_await joinme::detail::serve_connection(stream, std::move(slot), opts, handler);
        joinme::detail::close_stream(sock);
    }

    acceptor_type acceptor_;
    std::shared_ptr<joinme::detail::server_connections> conns_ =
        std::make_shared<joinme::detail::server_connections>();
    std::shared_ptr<server_behaviour> behaviour_ = std::make_shared<server_behaviour>();
    std::shared_ptr<server_counters> counters_ = std::make_shared<server_counters>();
};

using tcp_test_server = basic_test_server<asio::ip::tcp>;

} // namespace test_support

#endif
