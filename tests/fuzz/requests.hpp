// Requests read from a fuzzer's bytes the way the server loop reads them
// (include/joinme/detail/http_server.hpp): a Beast request parser with a header and a body
// limit, one request after another (pipelined).
#ifndef JOINME_TESTS_FUZZ_REQUESTS_HPP
#define JOINME_TESTS_FUZZ_REQUESTS_HPP

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fuzz {

namespace bhttp = boost::beast::http;

using request = bhttp::request<bhttp::string_body>;

/// Calls `on_request(const request&)` for each of the first `max` requests in `bytes`, in
/// order. A request that does not parse ends the reading: `on_error(error_code)` gets its
/// error, as the server loop would (a partial message at the end of the bytes included).
template <class OnRequest, class OnError>
void for_each_request(std::string_view bytes, std::size_t header_limit, std::size_t body_limit,
                      std::size_t max, OnRequest&& on_request, OnError&& on_error) {
    for (std::size_t i = 0; i < max && !bytes.empty(); ++i) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(header_limit));
        parser.body_limit(body_limit);
        parser.eager(true);
        boost::system::error_code ec;
        for (;;) {
            auto n = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
            bytes.remove_prefix(n);
            if (parser.is_done() || (ec && ec != bhttp::error::need_more))
                break;
            // The parser needs more: give it the rest, or end the stream when there is none
            // (or it made no progress on what it has).
            ec = {};
            if (n > 0 && !bytes.empty())
                continue;
            parser.put_eof(ec);
            break;
        }
        if (ec || !parser.is_done()) {
            on_error(ec ? ec : make_error_code(bhttp::error::partial_message));
            return;
        }
        on_request(parser.get());
    }
}

} // namespace fuzz

#endif
