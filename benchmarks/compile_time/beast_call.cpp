// The baseline: the same call written by hand with Beast over TLS and parsed with Boost.JSON.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

namespace beast = boost::beast;
namespace http = beast::http;

boost::asio::awaitable<std::string> user_name(beast::ssl_stream<beast::tcp_stream>& stream,
                                              beast::flat_buffer& buffer, std::string bearer) {
    http::request<http::empty_body> req(http::verb::get, "/v1/user", 11);
    req.set(http::field::host, "api.join.me");
    req.set(http::field::authorization, "Bearer " + bearer);
    co_await http::async_write(stream, req, boost::asio::use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, boost::asio::use_awaitable);
    auto jv = boost::json::parse(res.body());
    co_return std::string(jv.at("fullName").as_string());
}
