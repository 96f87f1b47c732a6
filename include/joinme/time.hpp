// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_TIME_HPP
#define JOINME_TIME_HPP

/// @file
/// The date-time text of join.me's JSON, ISO 8601, for programs that print or read the times
/// of meetings and tokens (the models hold `std::chrono::sys_seconds`).
///
/// - `joinme::format_iso8601(sys_seconds) -> std::string`: `2015-06-02T09:00:00Z`, in UTC.
/// - `joinme::parse_iso8601(std::string_view) -> std::optional<sys_seconds>`:
///   `YYYY-MM-DDTHH:MM:SS`, with `Z`, an offset (`+02:00`) or no suffix (read as UTC); a
///   fraction of a second is dropped. Empty for anything else.

#include <joinme/detail/time.hpp>

namespace joinme {

using detail::format_iso8601;
using detail::parse_iso8601;

} // namespace joinme

#endif
