// An HTTP proxy for the tests, on loopback: it reads each connection's CONNECT request, records
// it, and then does what the test says: open the tunnel (to 127.0.0.1 at the port asked for,
// whatever the host name, so that the client can use names that resolve nowhere), ask for
// credentials, or misbehave (answer with chosen bytes, stall, answer forever).
#ifndef JOINME_TESTS_SUPPORT_SCRIPTED_PROXY_HPP
#define JOINME_TESTS_SUPPORT_SCRIPTED_PROXY_HPP

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace test_support {

namespace asio = boost::asio;

struct proxy_script {
    enum class mode {
        tunnel,  // 200, then relay bytes both ways
        answer,  // write `bytes`, then keep the connection open and silent
        stall,   // never answer
        endless, // write `bytes`, then `unit` over and over
    };
    mode what = mode::tunnel;
    std::string bytes;
    std::string unit;
    // With `answer`: close the connection after `bytes` instead of keeping it open.
    bool close_after = false;
    // When not empty, the `Proxy-Authorization` value required for a tunnel; other requests
    // get 407 with `Proxy-Authenticate: Basic realm="test"`.
    std::string required_authorization;
};

struct proxy_record {
    std::size_t connections = 0;
    std::vector<std::string> requests; // the CONNECT requests' headers, as received
};

class scripted_proxy {
public:
    explicit scripted_proxy(asio::io_context& ioc)
        : acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}) {
        asio::co_spawn(ioc, accept_loop(), asio::detached);
    }
    ~scripted_proxy() { stop(); }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    proxy_script& script() { return *script_; }
    const proxy_record& record() const { return *record_; }

    void stop() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto& w : *sockets_)
            if (auto s = w.lock())
                s->close(ec);
    }

private:
    using socket_ptr = std::shared_ptr<asio::ip::tcp::socket>;

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            auto s = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
            sockets_->push_back(s);
            ++record_->connections;
            asio::co_spawn(acceptor_.get_executor(), serve(s, script_, record_, sockets_),
                           asio::detached);
        }
    }

    static asio::awaitable<void> relay(socket_ptr from, socket_ptr to) {
        std::array<char, 16384> buf;
        for (;;) {
            auto [ec, n] =
                co_await from->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
            if (ec)
                break;
            auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(buf.data(), n),
                                                        asio::as_tuple(asio::use_awaitable));
            if (wec)
                break;
        }
        boost::system::error_code ignored;
        to->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }

    static std::string header_value(const std::string& head, std::string_view name) {
        std::size_t at = 0;
        while ((at = head.find("\r\n", at)) != std::string::npos) {
            at += 2;
            if (head.size() - at > name.size() + 1 &&
                std::equal(name.begin(), name.end(), head.begin() + static_cast<long>(at),
                           [](char a, char b) { return std::tolower(a) == std::tolower(b); }) &&
                head[at + name.size()] == ':') {
                auto start = head.find_first_not_of(' ', at + name.size() + 1);
                return head.substr(start, head.find("\r\n", start) - start);
            }
        }
        return {};
    }

    static asio::awaitable<void> serve(socket_ptr s, std::shared_ptr<proxy_script> script,
                                       std::shared_ptr<proxy_record> record,
                                       std::shared_ptr<std::vector<std::weak_ptr<asio::ip::tcp::socket>>> all) {
        std::string in;
        auto [ec, n] = co_await asio::async_read_until(*s, asio::dynamic_buffer(in, 8192),
                                                       "\r\n\r\n",
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;
        std::string head = in.substr(0, n);
        record->requests.push_back(head);
        const auto& sc = *script;
        if (!sc.required_authorization.empty() &&
            header_value(head, "Proxy-Authorization") != sc.required_authorization) {
            std::string no = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                             "Proxy-Authenticate: Basic realm=\"test\"\r\n"
                             "Via: 1.1 scripted-proxy\r\nContent-Length: 0\r\n\r\n";
            co_await asio::async_write(*s, asio::buffer(no), asio::as_tuple(asio::use_awaitable));
            asio::steady_timer hold(s->get_executor(), std::chrono::seconds(5));
            co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
            co_return;
        }
        switch (sc.what) {
        case proxy_script::mode::tunnel: {
            // "CONNECT host:port HTTP/1.1": the port after the last ':' of the target.
            auto target = head.substr(8, head.find(' ', 8) - 8);
            auto port = static_cast<unsigned short>(std::stoi(target.substr(target.rfind(':') + 1)));
            auto up = std::make_shared<asio::ip::tcp::socket>(s->get_executor());
            all->push_back(up);
            const asio::ip::tcp::endpoint origin(asio::ip::make_address("127.0.0.1"), port);
            auto [cec] = co_await up->async_connect(origin, asio::as_tuple(asio::use_awaitable));
            std::string answer = cec ? "HTTP/1.1 503 Service Unavailable\r\n"
                                       "X-Squid-Error: ERR_CONNECT_FAIL 111\r\n\r\n"
                                     : "HTTP/1.1 200 Connection established\r\n\r\n";
            co_await asio::async_write(*s, asio::buffer(answer), asio::as_tuple(asio::use_awaitable));
            if (cec)
                co_return;
            auto ex = s->get_executor();
            asio::co_spawn(ex, relay(up, s), asio::detached);
            co_await relay(s, up);
            co_return;
        }
        case proxy_script::mode::answer: {
            co_await asio::async_write(*s, asio::buffer(sc.bytes), asio::as_tuple(asio::use_awaitable));
            if (sc.close_after) {
                boost::system::error_code ignored;
                s->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                s->close(ignored);
                co_return;
            }
            asio::steady_timer hold(s->get_executor(), std::chrono::seconds(5));
            co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
            co_return;
        }
        case proxy_script::mode::stall: {
            asio::steady_timer hold(s->get_executor(), std::chrono::seconds(5));
            co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
            co_return;
        }
        case proxy_script::mode::endless: {
            auto [wec, wn] = co_await asio::async_write(*s, asio::buffer(sc.bytes),
                                                        asio::as_tuple(asio::use_awaitable));
            std::string block;
            while (block.size() < 16 * 1024)
                block += sc.unit;
            while (!wec)
                std::tie(wec, wn) = co_await asio::async_write(*s, asio::buffer(block),
                                                               asio::as_tuple(asio::use_awaitable));
            co_return;
        }
        }
    }

    asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<proxy_script> script_ = std::make_shared<proxy_script>();
    std::shared_ptr<proxy_record> record_ = std::make_shared<proxy_record>();
    std::shared_ptr<std::vector<std::weak_ptr<asio::ip::tcp::socket>>> sockets_ =
        std::make_shared<std::vector<std::weak_ptr<asio::ip::tcp::socket>>>();
};

} // namespace test_support

#endif
