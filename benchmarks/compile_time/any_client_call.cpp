// A translation unit that makes one API call through the type-erased client.
#include <joinme/api/any_client.hpp>

#include <boost/asio/use_awaitable.hpp>

boost::asio::awaitable<std::string> user_name(joinme::api::any_client& client) {
    auto user = co_await client.async_get_user();
    co_return user.full_name;
}
