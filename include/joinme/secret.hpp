// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SECRET_HPP
#define JOINME_SECRET_HPP

/// @file
/// `joinme::secret`: a string that prints redacted, for credentials (client secret, access and
/// refresh tokens, authorization codes, PKCE verifiers).

#include <openssl/crypto.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace joinme {

namespace detail {

/// Compares in time that depends on the lengths only, never on where the contents differ.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    // The length is not secret (it is fixed by the generator), so an early exit on it is fine.
    if (a.size() != b.size())
        return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace detail

/// A credential held as a string that never shows itself by accident.
///
/// `operator<<` prints `[redacted]` (or `[empty]`), so a secret that slips into a log line,
/// an exception message or a diagnostics string does not leak. The value is read only through
/// the explicitly named `reveal()`. There is deliberately no implicit conversion to a string
/// and no JSON conversion: writing a secret anywhere must be a visible decision.
///
/// Comparison with `==` takes time independent of where two values differ.
///
/// Thread safety: a value type; distinct objects may be used concurrently.
class secret {
public:
    /// An empty secret (no credential).
    secret() = default;

    /// Holds `value`.
    explicit secret(std::string value) noexcept : value_(std::move(value)) {}

    /// Holds a copy of `value`.
    explicit secret(std::string_view value) : value_(value) {}

    /// Holds a copy of `value`.
    explicit secret(const char* value) : value_(value) {}

    /// The credential itself. Call it only where the value is sent to its destination.
    const std::string& reveal() const noexcept { return value_; }

    /// True when no credential is held.
    bool empty() const noexcept { return value_.empty(); }

    /// Forgets the value.
    void clear() noexcept { value_.clear(); }

    /// Equal contents, compared in constant time for equal lengths.
    friend bool operator==(const secret& a, const secret& b) noexcept {
        return detail::constant_time_equal(a.value_, b.value_);
    }

    /// Prints `[redacted]`, or `[empty]` when no value is held; never the value.
    friend std::ostream& operator<<(std::ostream& os, const secret& s) {
        return os << (s.empty() ? "[empty]" : "[redacted]");
    }

private:
    std::string value_;
};

} // namespace joinme

#endif
