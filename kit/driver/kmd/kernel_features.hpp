// kernel_features.hpp - what the running kernel offers that older ones lack, asked at run time.
//
// x64 images target Windows 8 and later, where no-execute pool (NonPagedPoolNx) and no-execute
// MDL mappings (MdlMappingNoExecute) always exist. x86 images also load on XP, Vista and 7, whose
// pool manager rejects NonPagedPoolNx (an invalid pool type) and whose MmGetSystemAddressForMdlSafe
// does not know the flag - so there the choice is made once, from RtlGetVersion (exported since
// Windows 2000), and cached. A race between two first callers is harmless: both store the same.
#pragma once

#include "nt.hpp"

namespace kmd {

#if defined(_WIN64)
inline bool kernel_has_nx_pool() { return true; }
#else
inline volatile LONG g_kernel_nx_state = 0;  // 0: not asked yet, 1: Windows 8 or later, 2: older

inline bool kernel_has_nx_pool()
{
    LONG state = g_kernel_nx_state;
    if (state == 0) {
        RTL_OSVERSIONINFOW version{};
        version.dwOSVersionInfoSize = sizeof(version);
        const bool win8_or_later = NT_SUCCESS(RtlGetVersion(&version)) &&
                                   (version.dwMajorVersion > 6 || (version.dwMajorVersion == 6 && version.dwMinorVersion >= 2));
        state = win8_or_later ? 1 : 2;
        g_kernel_nx_state = state;
    }
    return state == 1;
}
#endif

// Non-paged pool that is not executable where the kernel can say so.
inline POOL_TYPE nonpaged_pool() { return kernel_has_nx_pool() ? NonPagedPoolNx : NonPagedPool; }

// The MM_PAGE_PRIORITY flag that maps an MDL no-execute, or 0 where the kernel lacks it.
inline ULONG mdl_mapping_no_execute() { return kernel_has_nx_pool() ? static_cast<ULONG>(MdlMappingNoExecute) : 0; }

} // namespace kmd
