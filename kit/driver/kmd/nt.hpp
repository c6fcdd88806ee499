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

// Object type of driver objects (for ObReferenceObjectByName), exported by ntoskrnl.exe and
// declared in Microsoft's ntddk.h, but not in mingw-w64's.
extern "C" NTSYSAPI POBJECT_TYPE* IoDriverObjectType;

// The compiler must understand structured exception handling: without __try/__except the
// METHOD_NEITHER guard would silently not exist. GCC has none, so the build stops here.
#if !defined(__clang__) && !defined(_MSC_VER)
#error "kit drivers need __try/__except: build the driver with clang (-fms-extensions) or MSVC"
#endif
// Worse than an error: clang (14) targeting i686-w64-windows-gnu accepts __try/__except but emits
// no exception registration record, so the handler is silently dropped, and -fasync-exceptions
// does not compile there (tools/x86_seh_probe.sh). x86 SEH is frame-based and needs the
// MSVC-style lowering this target lacks.
#if defined(__clang__) && defined(__MINGW32__) && defined(__i386__)
#error "no x86 build: clang for i686-w64-windows-gnu would silently drop the METHOD_NEITHER __try/__except guard"
#endif
