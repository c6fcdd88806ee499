// pool.hpp - zeroed, non-paged, no-execute pool, with the modern call where the kernel has it.
//
// ExAllocatePoolWithTag is deprecated from Windows 10 2004 on in favour of ExAllocatePool2, which
// zeroes by itself. But a driver that *imports* ExAllocatePool2 does not load on older Windows,
// nor under Wine 8 (whose ntoskrnl does not export it). So one image resolves it at run time
// (MmGetSystemRoutineAddress, in pool_init() from DriverEntry) and falls back to
// ExAllocatePoolWithTag(NonPagedPoolNx) + RtlZeroMemory where it is missing - or, on the x86
// kernels older than Windows 8 (XP, Vista, 7), which reject NonPagedPoolNx, plain NonPagedPool
// (kernel_features.hpp).
//
// Why non-paged: callers run at PASSIVE_LEVEL today, but the buffers carry request data that a
// completion path may touch at DISPATCH_LEVEL; non-paged is the type that is always safe. Why
// no-execute: data pages must never be executable (HVCI refuses executable pool).
#pragma once

#include "nt.hpp"

namespace kmd {

// Looks up ExAllocatePool2 once and sets the driver's pool tag (four characters that name the
// driver in a pool dump, e.g. 'nlkS' shows as "Sk ln"). Call from DriverEntry (PASSIVE_LEVEL)
// before any allocation; until then, and where the kernel lacks it, allocations take the fallback.
void pool_init(ULONG driver_tag);

// The tag pool_init() set ('dmkK', "Kkmd", before it).
ULONG driver_pool_tag();

// True when allocations go through ExAllocatePool2 (for logs and tests).
bool pool_uses_allocate_pool2();

// Which call and pool type allocations use, e.g. "ExAllocatePoolWithTag(NonPagedPoolNx)" (for logs).
const char* pool_description();

// `size` zeroed bytes of non-paged, no-execute pool tagged `tag`, or nullptr.
void* allocate_pool(SIZE_T size, ULONG tag);
void free_pool(void* p, ULONG tag);

} // namespace kmd
