// The test server of tests/support/http_server.hpp over in-memory streams: a connector that
// hands each new connection of a pool to a server session.
#ifndef JOINME_TESTS_SUPPORT_MEMORY_SERVER_HPP
#define JOINME_TESTS_SUPPORT_MEMORY_SERVER_HPP

#include <joinme/transport/test_stream.hpp>

#include "support/test_stream_pool.hpp"

#include "support/http_server.hpp"

#include <memory>
#include <vector>

namespace test_support {

struct memory_server {
    // Server sessions run on `ex` (a strand, for a multi-threaded io_context), by default on
    // `ioc`'s executor.
    explicit memory_server(asio::io_context& ioc) : memory_server(ioc, ioc.get_executor()) {}
    memory_server(asio::io_context& ioc, asio::any_io_executor ex) : ioc(ioc), ex(std::move(ex)) {}

    joinme::test_stream_connector connector() {
        return [this](const asio::any_io_executor& ex) {
            beast::test::stream client(ex);
            auto server = std::make_shared<beast::test::stream>(ioc);
            client.connect(*server);
            ++counters->connections;
            servers.push_back(server);
            asio::co_spawn(
                this->ex,
                [server, b = behaviour, c = counters]() -> asio::awaitable<void> {
                    co_await serve_http(*server, b, c);
                    server->close();
                },
                asio::detached);
            return client;
        };
    }

    // Ends every server session, so that io_context::run() can return.
    void stop() {
        for (auto& s : servers)
            s->close();
    }

    asio::io_context& ioc;
    asio::any_io_executor ex; // where server sessions run
    std::shared_ptr<server_behaviour> behaviour = std::make_shared<server_behaviour>();
    std::shared_ptr<server_counters> counters = std::make_shared<server_counters>();
    std::vector<std::shared_ptr<beast::test::stream>> servers;
};

} // namespace test_support

#endif
