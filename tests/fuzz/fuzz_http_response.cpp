// libFuzzer target: one HTTP exchange whose response is arbitrary bytes, read in small pieces
// through the same code the pool uses. It must end with a response or a clean error, within
// the size limits, never crash or hang.
#include <joinme/http/exchange.hpp>
#include <joinme/transport/test_stream.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace asio = boost::asio;
    asio::io_context ioc;
    boost::beast::test::stream client(ioc), server(ioc);
    client.connect(server);
    client.append({reinterpret_cast<const char*>(data), size});
    client.close_remote();
    client.read_size(size % 7 + 1);

    joinme::http::exchange_limits limits;
    limits.header_limit = 1024;
    limits.body_limit = 4096;
    joinme::http::request req(boost::beast::http::verb::get, "/v1/user", 11);
    joinme::http::response res;
    joinme::http::exchange_progress progress;
    boost::beast::flat_buffer buffer;
    std::string scratch;
    joinme::error_code ec;
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            ec = co_await joinme::http::detail::exchange_with_deadline(
                client, buffer, req, res, limits, progress, scratch, limits.timeout);
            done = true;
        },
        asio::detached);
    ioc.run();
    if (!done || (!ec && res.body().size() > limits.body_limit))
        std::abort();
    return 0;
}
