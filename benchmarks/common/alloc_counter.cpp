// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// Counts every heap allocation of the program it is linked into (see measure.hpp), at `malloc`:
// the program's own `operator new`, and OpenSSL's, libc's and every other library's allocations
// alike. The executable's definitions of the C allocation functions take the place of libc's
// for the whole process (as an LD_PRELOAD library's would) and forward to glibc's own. The
// count is a relaxed atomic, so that multi-threaded clients are counted too.
#include "measure.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<std::uint64_t> count{0};

void counted() noexcept {
    count.fetch_add(1, std::memory_order_relaxed);
}
} // namespace

extern "C" {

void* malloc(std::size_t n) {
    counted();
    return __libc_malloc(n);
}

void* calloc(std::size_t n, std::size_t size) {
    counted();
    return __libc_calloc(n, size);
}

void* realloc(void* p, std::size_t n) {
    counted();
    return __libc_realloc(p, n);
}

void* memalign(std::size_t alignment, std::size_t n) {
    counted();
    return __libc_memalign(alignment, n);
}

void* aligned_alloc(std::size_t alignment, std::size_t n) {
    counted();
    return __libc_memalign(alignment, n);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    counted();
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    void* p = __libc_memalign(alignment, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

} // extern "C"

std::uint64_t bench::allocations() noexcept {
    return count.load(std::memory_order_relaxed);
}

bool bench::counting_allocations() noexcept {
    return true;
}
