// What the OAuth tests share: a fixed instant and printing through operator<<.
#ifndef JOINME_TESTS_OAUTH_COMMON_HPP
#define JOINME_TESTS_OAUTH_COMMON_HPP

#include <chrono>
#include <sstream>
#include <string>

namespace oauth_test {

using namespace std::chrono;

/// The instant the tests issue their tokens at.
inline const sys_seconds t0 = sys_days{2024y / 3 / 1} + 12h;

/// What `os << v` writes.
template <class T>
std::string print(const T& v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

} // namespace oauth_test

#endif
