// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_SANDBOX_SRC_HPP
#define JOINME_SANDBOX_SRC_HPP

/// @file
/// With JOINME_SEPARATE_COMPILATION, compiles the sandbox once: include this file in the one
/// .cpp of the program that includes <joinme/src.hpp>. The sandbox is opt-in, and so is its
/// compiled part: a program that does not use it does not carry it.

#include <joinme/sandbox/sandbox.hpp>

#if defined(JOINME_SEPARATE_COMPILATION)
#include <joinme/sandbox/impl/sandbox.ipp>
#endif

#endif
