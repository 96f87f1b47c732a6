// libFuzzer target: a token entry as read back from Redis (<joinme/store/redis.hpp>): its
// `version` and `token` fields, in clear and encrypted (AES-256-GCM). It must never crash or
// throw; a success carries a version from 1 and a token with an access token; with a key, only
// what that key sealed for that user opens, and what is sealed opens again.
#include <joinme/store/redis.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void require(bool ok) {
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace store = joinme::store;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // "VERSION\nPAYLOAD"; the first byte's low bit picks the key.
    auto nl = in.find('\n');
    auto version = nl == std::string_view::npos ? std::string_view{} : in.substr(0, nl);
    auto payload = nl == std::string_view::npos ? in : in.substr(nl + 1);
    const std::string key(32, 'k');
    const std::string_view aad = "joinme:token:user@example.com";
    bool keyed = size > 0 && (data[0] & 1);
    joinme::error_code ec;
    auto got = store::detail::parse_entry(version, payload, keyed ? key : "", aad, ec);
    require(!got == !!ec);
    if (got) {
        require(got->version >= 1);
        require(!got->value.access_token.empty());
        // What parses is sealed and opened again to the same token.
        auto sealed = store::detail::encode_entry(got->value, key, aad);
        joinme::error_code ec2;
        auto back = store::detail::parse_entry("1", sealed, key, aad, ec2);
        require(back && back->value.access_token == got->value.access_token &&
                back->value.refresh_token == got->value.refresh_token);
        joinme::error_code ec3;
        require(!store::detail::parse_entry("1", sealed, key, "another user", ec3));
        require(ec3 == joinme::oauth::store_errc::bad_key);
    }
    return 0;
}
