// libFuzzer target: `http::parse_retry_after` on arbitrary values, against a few fixed clocks.
// It must never crash, and what it reads is a wait in [0, max_retry_after]: delay-seconds as
// written (or the cap), an HTTP date as its distance from `now` (zero when past, the cap when
// further).
#include <joinme/detail/time.hpp>
#include <joinme/http/message.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace std::chrono;
using joinme::http::max_retry_after;

void require(bool ok) {
    if (!ok)
        std::abort();
}

std::string_view trimmed(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view value(reinterpret_cast<const char*>(data), size);
    // The epoch, a moment with a fraction of a second, and one far ahead.
    static const system_clock::time_point clocks[] = {
        system_clock::time_point{},
        sys_days{year{2026} / 12 / 2} + hours{14} + milliseconds{250},
        sys_days{year{2200} / 1 / 1},
    };
    for (auto now : clocks) {
        auto wait = joinme::http::parse_retry_after(value, now);
        if (!wait)
            continue;
        require(*wait >= seconds{0} && *wait <= max_retry_after);
        auto v = trimmed(value);
        unsigned long long n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (!v.empty() && v.front() != '-' && end == v.data() + v.size()) {
            // Delay-seconds: as written, or the cap.
            require(ec == std::errc::result_out_of_range ||
                            n > static_cast<unsigned long long>(max_retry_after.count())
                        ? *wait == max_retry_after
                        : wait->count() == static_cast<long long>(n));
            continue;
        }
        // Otherwise an HTTP date: the whole seconds from `now` until then (a date is whole
        // seconds, so rounding the difference up is subtracting `now` rounded down).
        auto date = joinme::detail::parse_http_date(v);
        require(date.has_value());
        const auto distance = *date - floor<seconds>(now);
        require(*wait == std::clamp(distance, seconds{0}, seconds{max_retry_after}));
    }
    return 0;
}
