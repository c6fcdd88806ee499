// pool.cpp - see pool.hpp.
#include "pool.hpp"

#include "kernel_features.hpp"

namespace kmd {
namespace {

// POOL_FLAGS of ExAllocatePool2 (wdm.h, Windows 10 2004+; not in the mingw-w64 DDK headers).
// https://learn.microsoft.com/windows-hardware/drivers/kernel/pool_flags
constexpr ULONG64 kPoolFlagNonPaged = 0x0000000000000040ull; // non-paged, no-execute; zeroed unless UNINITIALIZED

using AllocatePool2 = PVOID(NTAPI*)(ULONG64 flags, SIZE_T size, ULONG tag);

// Written once by pool_init() in DriverEntry, before any dispatch routine can run; read-only after.
AllocatePool2 g_allocate_pool2 = nullptr;
ULONG g_tag = 'dmkK';

} // namespace

void pool_init(ULONG driver_tag)
{
    g_tag = driver_tag;
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"ExAllocatePool2");
    g_allocate_pool2 = reinterpret_cast<AllocatePool2>(MmGetSystemRoutineAddress(&name));
}

ULONG driver_pool_tag() { return g_tag; }

const char* pool_description()
{
    if (g_allocate_pool2 != nullptr) return "ExAllocatePool2";
    return kernel_has_nx_pool() ? "ExAllocatePoolWithTag(NonPagedPoolNx)" : "ExAllocatePoolWithTag(NonPagedPool)";
}

bool pool_uses_allocate_pool2() { return g_allocate_pool2 != nullptr; }

void* allocate_pool(SIZE_T size, ULONG tag)
{
    // cppcheck-suppress CastIntegerToAddressAtReturn ; it cannot see PVOID, the pointer's return type
    if (g_allocate_pool2 != nullptr) return g_allocate_pool2(kPoolFlagNonPaged, size, tag);
    void* p = ExAllocatePoolWithTag(nonpaged_pool(), size, tag);
    if (p != nullptr) RtlZeroMemory(p, size);
    return p;
}

void free_pool(void* p, ULONG tag) { ExFreePoolWithTag(p, tag); }

} // namespace kmd
