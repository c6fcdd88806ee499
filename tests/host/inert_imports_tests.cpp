// kmdhost.sys judges a driver image by its imports (kit/winehost/image_watch.hpp): only routines
// that keep no code pointer of the caller's may count as inert, or a stop skips its wait for a
// crash the driver's leftover code is about to cause.
#include <gtest/gtest.h>

#include "inert_imports.hpp"

using kmd::winehost::inert_import;
using kmd::winehost::kernel_module;
using kmd::winehost::watched_import;

TEST(InertImports, NoRoutineThatTakesACodePointerOrAnIrpAway)
{
    for (const char* name : {"KeSetTimer", "KeSetTimerEx", "KeInitializeDpc", "KeInsertQueueDpc", "IoQueueWorkItem", "ExQueueWorkItem",
                             "IoAllocateWorkItem", "KeInitializeApc", "KeInsertQueueApc", "IofCallDriver", "IoCallDriver",
                             "IoBuildDeviceIoControlRequest", "IoAllocateIrp", "IoStartPacket", "IoCsqInitialize", "IoCsqInsertIrp",
                             "PsSetCreateProcessNotifyRoutine", "PsSetLoadImageNotifyRoutine", "PsSetCreateThreadNotifyRoutine",
                             "CmRegisterCallback", "ObRegisterCallbacks", "KeRegisterBugCheckCallback", "ExRegisterCallback",
                             "IoRegisterShutdownNotification", "IoRegisterPlugPlayNotification", "IoInitializeTimer",
                             "IoCreateSystemThread", "ZwReadFile", "ZwWriteFile", "ZwDeviceIoControlFile", "ZwFsControlFile",
                             "ZwNotifyChangeKey", "IoCancelIrp", "IoSetCompletionRoutineEx", "KeRegisterNmiCallback"})
        EXPECT_FALSE(inert_import(name)) << name;
}

TEST(InertImports, WhatTheSkeletonAndTheBaselineImportIsInertOrWatched)
{
    for (const char* name : {"KeQueryPerformanceCounter", "DbgPrintEx", "ExAllocatePoolWithTag", "ExFreePoolWithTag", "IoCreateDevice",
                             "IoCreateSymbolicLink", "IoDeleteDevice", "IoDeleteSymbolicLink", "IoDeviceObjectType",
                             "IoReleaseCancelSpinLock", "KeAcquireSpinLockRaiseToDpc", "KeBugCheckEx", "KeEnterCriticalRegion",
                             "KeInitializeEvent", "KeLeaveCriticalRegion", "KeReleaseSpinLock", "KeSetEvent", "KeWaitForSingleObject",
                             "MmMapLockedPagesSpecifyCache", "ObOpenObjectByPointer", "ProbeForRead", "ProbeForWrite", "RtlGetVersion",
                             "RtlInitUnicodeString", "ZwClose", "ZwSetSecurityObject", "ZwWaitForSingleObject", "__C_specific_handler",
                             "_except_handler3", "RtlUnwind", "RtlComputeCrc32", "memcpy", "memmove", "memset"})
        EXPECT_TRUE(inert_import(name)) << name;
    for (const char* name : {"PsCreateSystemThread", "PsTerminateSystemThread", "IofCompleteRequest", "MmGetSystemRoutineAddress"}) {
        const int index = watched_import(name);
        ASSERT_LE(0, index) << name;
        EXPECT_STREQ(name, kmd::winehost::kWatchedImports[index]) << "the hook its index names";
        EXPECT_FALSE(inert_import(name)) << name << ": watched, so not inert by itself";
    }
    EXPECT_EQ(-1, watched_import("IoCompleteRequest")) << "not hooked: an image importing it is judged not inert";
}

TEST(InertImports, NamesAreMatchedAsTheLoaderBindsThemAndModulesWithoutCase)
{
    EXPECT_FALSE(inert_import("memcpy2"));
    EXPECT_FALSE(inert_import("MEMCPY"));
    EXPECT_FALSE(inert_import(""));
    EXPECT_TRUE(kernel_module("NTOSKRNL.EXE"));
    EXPECT_TRUE(kernel_module("hal.dll"));
    EXPECT_FALSE(kernel_module("mathlib.sys"));
}
