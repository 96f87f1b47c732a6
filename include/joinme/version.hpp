// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_VERSION_HPP
#define JOINME_VERSION_HPP

/// @file
/// joinme's version. This file is the one place it is written: CMake and Meson read it from
/// here, and the packages take it from them.

/// The major version: incremented for changes that break source compatibility.
#define JOINME_VERSION_MAJOR 0
/// The minor version: incremented for additions. While the major version is 0, a new minor
/// version may also break source compatibility.
#define JOINME_VERSION_MINOR 1
/// The patch version: incremented for fixes.
#define JOINME_VERSION_PATCH 0
/// The version as text, `"MAJOR.MINOR.PATCH"`.
#define JOINME_VERSION_STRING "0.1.0"
/// The version as one number, `MAJOR * 10000 + MINOR * 100 + PATCH`, for `#if` comparisons.
#define JOINME_VERSION                                                                         \
    (JOINME_VERSION_MAJOR * 10000 + JOINME_VERSION_MINOR * 100 + JOINME_VERSION_PATCH)

#endif
