// stack_cookie.hpp - the kit's stack cookie (-fstack-protector-strong in every driver; see
// stack_cookie.cpp). Drivers need nothing from here: the image's entry point, KmdDriverEntry,
// seeds the cookie and then calls the driver's DriverEntry.
#pragma once

#include <stdint.h>

extern "C" {
extern uintptr_t __stack_chk_guard;
// Seeds __stack_chk_guard from the kernel's entropy; runs once, before DriverEntry.
void kmd_seed_stack_cookie();
}

namespace kmd {

// The value before seeding: not zero, and with a zero byte on x64 as after seeding.
inline constexpr uint64_t kDefaultStackCookie = sizeof(void*) == 8 ? 0x00002B992DDFA232ull : 0xBB40E64Eull;

// A seed made into a cookie: on x64 the top 16 bits cleared (as /GS does: a string copy that runs
// over the cookie stops at its zero bytes, and cannot write a plausible pointer); never the
// default, never zero.
constexpr uintptr_t finish_stack_cookie(uint64_t seed)
{
    uint64_t c = sizeof(void*) == 8 ? (seed & 0x0000FFFFFFFFFFFFull) : static_cast<uint32_t>(seed ^ (seed >> 32));
    if (c == 0 || c == kDefaultStackCookie) c = kDefaultStackCookie ^ 0x4711;
    return static_cast<uintptr_t>(c);
}

} // namespace kmd
