// nt.hpp - the one way kit and driver code include the DDK, and the one place for what it lacks.
#pragma once

// The mingw-w64 DDK headers declare InterlockedBitTestAndSet/Reset a second time in C++ and
// collide with the compiler's intrinsic declarations; claiming them as defined avoids that.
#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset
// ntifs.h: ntddk.h plus the object-security calls (ObOpenObjectByPointer, ZwSetSecurityObject,
// RtlCreateAcl) that device_security.cpp needs.
#include <ntifs.h>

// ---- Names newer than the mingw-w64 DDK headers (values from Microsoft's documentation) ----

// MM_PAGE_PRIORITY flag, Windows 8 and later: map the MDL's pages no-execute.
// https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-mmgetsystemaddressformdlsafe
#ifndef MdlMappingNoExecute
#define MdlMappingNoExecute 0x40000000
#endif
// MM_PAGE_PRIORITY flag, Windows 8 and later: map the MDL's pages read-only (same page).
#ifndef MdlMappingNoWrite
#define MdlMappingNoWrite 0x80000000
#endif

// Object types of driver and device objects (ObReferenceObjectByName, ObOpenObjectByPointer):
// exported data of ntoskrnl.exe, declared in Microsoft's headers but not in mingw-w64's. Declared
// dllimport as what each export is, a POBJECT_TYPE variable, so the name is the value to pass
// (IoDeviceObjectType). The WDK's `extern POBJECT_TYPE *IoDeviceObjectType` names the import slot
// instead, hence its `*IoDeviceObjectType`; here that `*` would read the type object itself.
extern "C" NTSYSAPI POBJECT_TYPE IoDriverObjectType;
extern "C" NTSYSAPI POBJECT_TYPE IoDeviceObjectType;

// The METHOD_NEITHER guard needs structured exception handling: clang's __try/__except on x64
// (user_copy.cpp), a hand-made frame-based SEH record on x86 (guarded_x86.cpp; clang for
// i686-w64-windows-gnu accepts __try but drops the handler, so x86 code must go through
// user_copy.hpp / guarded.hpp). GCC has neither __try nor the asm the x86 guard uses: stop here.
#if !defined(__clang__) && !defined(_MSC_VER)
#error "kit drivers are built with clang: the SEH guard is user_copy.cpp (__try) on x64, guarded_x86.cpp on x86"
#endif
