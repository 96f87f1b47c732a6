// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_DETAIL_CONFIG_HPP
#define JOINME_DETAIL_CONFIG_HPP

// Header-only by default. A program that defines JOINME_SEPARATE_COMPILATION in every
// translation unit compiles joinme's own code once, in the translation unit that includes
// <joinme/src.hpp>: functions marked JOINME_DECL are then only declared by the headers, and
// the operations' templates are instantiated there for every endpoint and result type.
#if defined(JOINME_SEPARATE_COMPILATION)
#define JOINME_DECL
#else
#define JOINME_DECL inline
#define JOINME_HEADER_ONLY 1
#endif

#endif
