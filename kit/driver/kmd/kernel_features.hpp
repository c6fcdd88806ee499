// kernel_features.hpp - what the running kernel offers that older ones lack, asked at run time,
// and the oldest kernel each image accepts.
//
// No-execute pool (NonPagedPoolNx) and the MDL mapping flags MdlMappingNoExecute and
// MdlMappingNoWrite exist only from Windows 8 (6.2): an older pool manager rejects the pool type
// as invalid, and an older MmGetSystemAddressForMdlSafe does not know the flags. So every image,
// x64 and x86, chooses them from RtlGetVersion (exported since Windows 2000), asked once and
// cached. A race between two first callers is harmless: both store the same.
//
// x64 images need Windows 8 or later and refuse older kernels in DriverEntry
// (require_supported_kernel); x86 images load from Windows XP on, with executable pool and plain
// mappings before Windows 8.
#pragma once

#include <kmd/nt.hpp>

#ifndef KMD_DRIVER_NAME // as in kmd/log.hpp: the driver's name, from kmd_add_driver()
#define KMD_DRIVER_NAME "driver"
#endif

namespace kmd {

// 0: not asked yet; else (major << 8 | minor), saturated at 0xFF each.
inline volatile LONG g_kernel_version = 0;

inline LONG kernel_version()
{
    LONG v = g_kernel_version;
    if (v == 0) {
        RTL_OSVERSIONINFOW info{};
        info.dwOSVersionInfoSize = sizeof(info);
        if (NT_SUCCESS(RtlGetVersion(&info))) {
            const ULONG major = info.dwMajorVersion > 0xFF ? 0xFF : info.dwMajorVersion;
            const ULONG minor = info.dwMinorVersion > 0xFF ? 0xFF : info.dwMinorVersion;
            v = static_cast<LONG>(major << 8 | minor);
        }
        if (v == 0) v = 0x0500; // cannot say: assume the oldest (Windows 2000), never a newer one
        g_kernel_version = v;
    }
    return v;
}

// For tests: ask the kernel again on the next call.
inline void forget_kernel_version() { g_kernel_version = 0; }

inline bool kernel_is_windows8_or_later() { return kernel_version() >= 0x0602; }

inline bool kernel_has_nx_pool() { return kernel_is_windows8_or_later(); }

// Non-paged pool that is not executable where the kernel can say so.
inline POOL_TYPE nonpaged_pool() { return kernel_has_nx_pool() ? NonPagedPoolNx : NonPagedPool; }

// The MM_PAGE_PRIORITY flag that maps an MDL no-execute, or 0 where the kernel lacks it.
inline ULONG mdl_mapping_no_execute() { return kernel_is_windows8_or_later() ? static_cast<ULONG>(MdlMappingNoExecute) : 0; }

// The priority argument of MmGetSystemAddressForMdlSafe for a DIRECT method's buffer: normal
// priority; no-execute and, for a buffer locked for read access, read-only - both where the
// kernel has the flags (Windows 8+). Before that a read-only view cannot be asked for: the
// request core still gets the buffer as const (request.hpp), so a handler cannot write there.
inline MM_PAGE_PRIORITY mdl_mapping_priority(bool read_only)
{
    ULONG priority = NormalPagePriority;
    if (kernel_is_windows8_or_later()) {
        priority |= MdlMappingNoExecute;
        if (read_only) priority |= MdlMappingNoWrite;
    }
    return static_cast<MM_PAGE_PRIORITY>(priority);
}

// The oldest kernel this image runs on: x64 needs Windows 8 (no-execute pool everywhere, the
// HVCI rules); x86 runs from Windows XP (5.1), its subsystem version. One line in DriverEntry:
//   if (const NTSTATUS s = kmd::require_supported_kernel(); !NT_SUCCESS(s)) return s;
inline NTSTATUS require_supported_kernel()
{
    constexpr LONG oldest = sizeof(void*) == 8 ? 0x0602 : 0x0501;
    const LONG running = kernel_version();
    if (running >= oldest) return STATUS_SUCCESS;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL,
               KMD_DRIVER_NAME ": DriverEntry: refused: this %s image needs Windows %s (NT %ld.%ld) or later; "
                               "the kernel is NT %ld.%ld\n",
               sizeof(void*) == 8 ? "x64" : "x86", sizeof(void*) == 8 ? "8" : "XP", static_cast<long>(oldest >> 8),
               static_cast<long>(oldest & 0xFF), static_cast<long>(running >> 8), static_cast<long>(running & 0xFF));
    return STATUS_NOT_SUPPORTED;
}

} // namespace kmd
