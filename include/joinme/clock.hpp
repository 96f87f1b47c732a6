// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_CLOCK_HPP
#define JOINME_CLOCK_HPP

/// @file
/// `joinme::clock_function`: the one way to give joinme a clock of your own. Every layer reads
/// the wall clock through one: the pool (`pool_options::clock`, for `Retry-After` dates), the
/// OAuth steps (the pool's, to date the tokens they return), the token source (its own, or
/// else the pool's) and the sandbox (`sandbox::options::clock`).

#include <chrono>
#include <functional>

namespace joinme {

/// Returns "now" on the system clock. Empty means `std::chrono::system_clock::now`. Tests
/// inject a manual clock; a program may inject one corrected by its own time source.
using clock_function = std::function<std::chrono::system_clock::time_point()>;

namespace detail {

/// `clock()`, or the system clock when `clock` is empty.
inline std::chrono::system_clock::time_point now(const clock_function& clock) {
    return clock ? clock() : std::chrono::system_clock::now();
}

} // namespace detail

} // namespace joinme

#endif
