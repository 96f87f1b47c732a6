// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_TIME_HPP
#define JOINME_DETAIL_TIME_HPP

// Date-time text formats on the wire: ISO 8601 (join.me's JSON) and the HTTP date of RFC 9110
// §5.6.7 (`Date`, `Retry-After`). Pure functions over std::chrono, no locale, no time zone
// database: offsets are applied arithmetically and results are UTC.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace joinme::detail {

// Reads exactly `n` decimal digits at `pos`, advancing `pos`.
inline bool read_digits(std::string_view s, std::size_t& pos, int n, int& out) noexcept {
    if (s.size() < pos + static_cast<std::size_t>(n))
        return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

inline bool expect_char(std::string_view s, std::size_t& pos, char c) noexcept {
    if (pos >= s.size() || s[pos] != c)
        return false;
    ++pos;
    return true;
}

// Calendar validation and conversion; seconds up to 60 are accepted (leap second folds into the
// next minute).
inline std::optional<std::chrono::sys_seconds> make_time(int y, int mo, int d, int h, int mi,
                                                         int sec) noexcept {
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    return sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]`; no suffix means UTC. The fraction
/// is dropped (join.me's times are whole seconds).
inline std::optional<std::chrono::sys_seconds> parse_iso8601(std::string_view s) noexcept {
    std::size_t p = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!read_digits(s, p, 4, y) || !expect_char(s, p, '-') || !read_digits(s, p, 2, mo) ||
        !expect_char(s, p, '-') || !read_digits(s, p, 2, d))
        return std::nullopt;
    if (p >= s.size() || (s[p] != 'T' && s[p] != 't'))
        return std::nullopt;
    ++p;
    if (!read_digits(s, p, 2, h) || !expect_char(s, p, ':') || !read_digits(s, p, 2, mi) ||
        !expect_char(s, p, ':') || !read_digits(s, p, 2, sec))
        return std::nullopt;
    if (p < s.size() && s[p] == '.') {
        ++p;
        std::size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9')
            ++p;
        if (p == start)
            return std::nullopt;
    }
    auto t = make_time(y, mo, d, h, mi, sec);
    if (!t)
        return std::nullopt;
    if (p == s.size())
        return t;
    if (s[p] == 'Z' || s[p] == 'z')
        return p + 1 == s.size() ? t : std::nullopt;
    if (s[p] != '+' && s[p] != '-')
        return std::nullopt;
    int sign = s[p] == '+' ? 1 : -1;
    ++p;
    int oh = 0, om = 0;
    if (!read_digits(s, p, 2, oh) || !expect_char(s, p, ':') || !read_digits(s, p, 2, om) ||
        p != s.size() || oh > 23 || om > 59)
        return std::nullopt;
    // 16:00+02:00 is 14:00Z: subtract the offset.
    return *t - sign * (std::chrono::hours{oh} + std::chrono::minutes{om});
}

/// Formats as `YYYY-MM-DDTHH:MM:SSZ`.
inline std::string format_iso8601(std::chrono::sys_seconds t) {
    using namespace std::chrono;
    auto days = floor<std::chrono::days>(t);
    year_month_day ymd{days};
    hh_mm_ss hms{t - days};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

inline constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
inline constexpr std::string_view weekday_names[] = {"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};

/// Parses an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7). The obsolete
/// RFC 850 and asctime forms are not accepted.
inline std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) noexcept {
    if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT")
        return std::nullopt;
    std::size_t p = 5;
    int d = 0, y = 0, h = 0, mi = 0, sec = 0;
    if (!read_digits(s, p, 2, d) || !expect_char(s, p, ' '))
        return std::nullopt;
    int mo = 0;
    for (int i = 0; i < 12; ++i)
        if (s.substr(p, 3) == month_names[i])
            mo = i + 1;
    p += 3;
    if (mo == 0 || !expect_char(s, p, ' ') || !read_digits(s, p, 4, y) || !expect_char(s, p, ' ') ||
        !read_digits(s, p, 2, h) || !expect_char(s, p, ':') || !read_digits(s, p, 2, mi) ||
        !expect_char(s, p, ':') || !read_digits(s, p, 2, sec))
        return std::nullopt;
    return make_time(y, mo, d, h, mi, sec);
}

/// Formats as an IMF-fixdate.
inline std::string format_http_date(std::chrono::sys_seconds t) {
    using namespace std::chrono;
    auto days = floor<std::chrono::days>(t);
    year_month_day ymd{days};
    weekday wd{days};
    hh_mm_ss hms{t - days};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                  weekday_names[wd.c_encoding()].data(), static_cast<unsigned>(ymd.day()),
                  month_names[static_cast<unsigned>(ymd.month()) - 1].data(),
                  static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
    return buf;
}

} // namespace joinme::detail

#endif
