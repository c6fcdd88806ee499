// nt.hpp - the one way kit and driver code include the DDK, and the one place for what it lacks.
#pragma once

// The mingw-w64 DDK headers declare InterlockedBitTestAndSet/Reset a second time in C++ and
// collide with the compiler's intrinsic declarations; claiming them as defined avoids that.
#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset
// ntifs.h: ntddk.h plus the object-security calls (ObOpenObjectByPointer, ZwSetSecurityObject,
// RtlCreateAcl) that device_security.cpp needs.
#include <ntifs.h>

// ---- Annotations Microsoft's samples carry, which mingw-w64's headers lack ----
// Role types (DRIVER_INITIALIZE, DRIVER_DISPATCH, DRIVER_UNLOAD, DRIVER_CANCEL, KSTART_ROUTINE)
// come from the DDK itself. The SAL and IRQL annotations below are read by Microsoft's static
// analysis (PREfast, SDV) and by a reader; for clang they are empty, as in mingw-w64's sal.h.
#ifndef _Dispatch_type_
#define _Dispatch_type_(major)
#endif
#ifndef _Use_decl_annotations_
#define _Use_decl_annotations_
#endif
#ifndef _IRQL_requires_max_
#define _IRQL_requires_max_(irql)
#endif
#ifndef _IRQL_requires_
#define _IRQL_requires_(irql)
#endif
#ifndef _IRQL_requires_same_
#define _IRQL_requires_same_
#endif
#ifndef _Function_class_
#define _Function_class_(name)
#endif
// PAGED_CODE(): the WDK's checked builds assert there that IRQL <= APC_LEVEL. Empty here, also in
// debug builds: the x64 DDK's KeGetCurrentIrql reads CR8, which faults in Wine's user-mode host.
#ifndef PAGED_CODE
#define PAGED_CODE() ((void)0)
#endif

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
