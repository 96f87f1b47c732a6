// A translation unit that makes one API call through basic_client over TLS.
#include <joinme/api/client.hpp>
#include <joinme/transport/tls.hpp>

#include <boost/asio/use_awaitable.hpp>

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

boost::asio::awaitable<std::string> user_name(joinme::api::basic_client<tls_stream>& client) {
    auto user = co_await client.async_get_user();
    co_return user.full_name;
}
