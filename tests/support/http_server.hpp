// A small HTTP/1.1 server for the transport and pool tests: it serves any stream type, counts
// what it sees, and misbehaves on request (closes idle connections, never answers).
#ifndef JOINME_TESTS_SUPPORT_HTTP_SERVER_HPP
#define JOINME_TESTS_SUPPORT_HTTP_SERVER_HPP

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
};

struct server_counters {
    std::size_t connections = 0;
    std::size_t requests = 0;
};

// Serves HTTP/1.1 on one connection until the peer closes or the server is stopped.
template <class Stream>
asio::awaitable<void> serve_http(Stream& stream, std::shared_ptr<server_behaviour> b,
                                 std::shared_ptr<server_counters> counters) {
    beast::flat_buffer buffer;
    for (;;) {
        request req;
        auto [ec, n] =
            co_await bhttp::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;
        ++counters->requests;
        if (b->never_answer) {
            // Keep reading so that the connection stays open and silent.
            continue;
        }
        response res = b->handler ? b->handler(req) : response(bhttp::status::ok, 11);
        if (!b->handler) {
            res.set(bhttp::field::content_type, "text/plain");
            res.body() = "ok";
        }
        res.version(11);
        res.keep_alive(req.keep_alive() && res.keep_alive());
        res.prepare_payload();
        auto [wec, wn] =
            co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive() || b->close_after_response)
            co_return;
    }
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
        : ioc_(ioc)
        , acceptor_(ioc, ep)
        , tls_(tls) {
        asio::co_spawn(ioc, accept_loop(), asio::detached);
    }

    ~basic_test_server() { stop(); }

    typename Protocol::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    server_behaviour& behaviour() { return *behaviour_; }
    const server_counters& counters() const { return *counters_; }

    // Closes the acceptor and every connection, so that run() can return.
    void stop() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto& w : sockets_)
            if (auto s = w.lock())
                s->close(ec);
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            ++counters_->connections;
            auto shared = std::make_shared<socket_type>(std::move(sock));
            sockets_.push_back(shared);
            asio::co_spawn(ioc_, session(shared), asio::detached);
        }
    }

    asio::awaitable<void> session(std::shared_ptr<socket_type> sock) {
        auto b = behaviour_;
        auto c = counters_;
        if (tls_) {
            asio::ssl::stream<socket_type&> stream(*sock, *tls_);
            auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                        asio::as_tuple(asio::use_awaitable));
            if (!ec)
                co_await serve_http(stream, b, c);
        } else {
            co_await serve_http(*sock, b, c);
        }
        boost::system::error_code ec;
        sock->close(ec);
    }

    asio::io_context& ioc_;
    acceptor_type acceptor_;
    asio::ssl::context* tls_;
    std::shared_ptr<server_behaviour> behaviour_ = std::make_shared<server_behaviour>();
    std::shared_ptr<server_counters> counters_ = std::make_shared<server_counters>();
    std::vector<std::weak_ptr<socket_type>> sockets_;
};

using tcp_test_server = basic_test_server<asio::ip::tcp>;

} // namespace test_support

#endif
