// One manual clock for a test: the sandbox, the pool and the token source all read it, and
// the test moves it.
#ifndef JOINME_TESTS_SUPPORT_MANUAL_CLOCK_HPP
#define JOINME_TESTS_SUPPORT_MANUAL_CLOCK_HPP

#include <joinme/clock.hpp>
#include <joinme/sandbox/options.hpp>

#include <chrono>
#include <memory>

namespace test_support {

using time_point = std::chrono::system_clock::time_point;

// A clock that reads `*now`, which the test moves.
inline joinme::clock_function clock_of(std::shared_ptr<time_point> now) {
    return [now] { return *now; };
}

// The sandbox's options `o`, on the clock `*now`.
inline joinme::sandbox::options with_clock(joinme::sandbox::options o,
                                           std::shared_ptr<time_point> now) {
    o.clock = clock_of(std::move(now));
    return o;
}

// The sandbox's options `o`, consenting by itself (no consent page to submit).
inline joinme::sandbox::options auto_consent(joinme::sandbox::options o) {
    o.auto_consent = true;
    return o;
}

} // namespace test_support

#endif
