// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// Counts every heap allocation of the program it is linked into (see measure.hpp). The count
// is a relaxed atomic, so that multi-threaded clients are counted too; single-threaded ones
// pay the same small price.
#include "measure.hpp"

#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> count{0};

void* allocate(std::size_t n) {
    count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}

void* allocate_aligned(std::size_t n, std::align_val_t al) {
    count.fetch_add(1, std::memory_order_relaxed);
    auto a = static_cast<std::size_t>(al);
    auto rounded = n == 0 ? a : (n + a - 1) / a * a; // aligned_alloc wants a multiple of a
    if (void* p = std::aligned_alloc(a, rounded))
        return p;
    throw std::bad_alloc();
}
} // namespace

std::uint64_t bench::allocations() noexcept {
    return count.load(std::memory_order_relaxed);
}
bool bench::counting_allocations() noexcept {
    return true;
}

void* operator new(std::size_t n) {
    return allocate(n);
}
void* operator new[](std::size_t n) {
    return allocate(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
    return allocate_aligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al) {
    return allocate_aligned(n, al);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    count.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    count.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
