// libFuzzer target: `read_connect_answer`, the reader of an HTTP proxy's answer to CONNECT. It
// must never crash or throw; it reads the same answer whether the bytes arrive at once or in
// two pieces (the first byte of the input says where to cut); its state follows from its
// fields; a complete answer is a final status within the limit, never a 1xx.
//
// Input: one byte choosing the cut, one byte choosing the limit, then the proxy's bytes.
#include <joinme/transport/connect.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string_view>

namespace {

void require(bool ok) {
    if (!ok)
        std::abort();
}

using joinme::connect_answer;

void check(const connect_answer& a, std::string_view bytes, std::size_t limit) {
    switch (a.st) {
    case connect_answer::state::incomplete:
        require(!a.ec && a.status == 0 && bytes.size() < limit);
        break;
    case connect_answer::state::complete:
        require(!a.ec && a.status >= 200 && a.status <= 999);
        require(a.header_size > 0 && a.header_size <= bytes.size() && a.header_size <= limit);
        require(bytes.substr(0, a.header_size).ends_with("\n"));
        break;
    case connect_answer::state::failed:
        require(a.ec == joinme::errc::proxy_malformed_response ||
                a.ec == joinme::errc::header_too_large);
        require(a.outcome() == a.ec && !a.reason.empty());
        break;
    }
    if (a.st == connect_answer::state::complete) {
        auto o = a.outcome();
        require((a.status < 300) == !o);
        require(a.status != 407 || o == joinme::errc::proxy_auth_required);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    static constexpr std::size_t limits[] = {64, 256, 1024, joinme::default_connect_answer_limit};
    const std::size_t limit = limits[data[1] % std::size(limits)];
    std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);

    const auto whole = joinme::read_connect_answer(bytes, limit);
    check(whole, bytes, limit);

    // Arriving in two pieces: the first one alone is at most as far along, and then the whole
    // reads the same (the reader is given every byte received so far, each time).
    const std::size_t cut = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);
    const auto first = joinme::read_connect_answer(bytes.substr(0, cut), limit);
    check(first, bytes.substr(0, cut), limit);
    if (first.st == connect_answer::state::complete) {
        require(whole.st == connect_answer::state::complete);
        require(whole.status == first.status && whole.header_size == first.header_size);
        require(whole.via == first.via && whole.proxy_authenticate == first.proxy_authenticate);
    }
    if (first.st == connect_answer::state::failed)
        require(whole.st == connect_answer::state::failed);
    return 0;
}
