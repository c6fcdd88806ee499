#include "inert_imports.hpp"

namespace kmd::winehost {
namespace {

bool same(const char* a, const char* b)
{
    while (*a != 0 && *a == *b) ++a, ++b;
    return *a == *b;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_ignoring_case(const char* a, const char* b)
{
    while (*a != 0 && lower(*a) == lower(*b)) ++a, ++b;
    return lower(*a) == lower(*b);
}

// Grouped by what they do. Not here on purpose, among others: PsCreateSystemThread's kin without
// a watch (IoCreateSystemThread), Ke*Timer*, Ke*Dpc*, Io*WorkItem*, ExQueueWorkItem, Ke*Apc*,
// Io*CallDriver and IoBuild*/IoAllocateIrp (completion routines), IoStartPacket and IoCsq* (start
// and cancel routines), every Ps*Notify*, Cm*Callback*, Ob*Callback*, Ke*Callback*, ExRegisterCallback,
// IoRegister*, and the Zw I/O calls that take an APC routine (ZwReadFile, ZwWriteFile,
// ZwDeviceIoControlFile, ZwFsControlFile, ZwNotifyChangeKey).
constexpr const char* kInert[] = {
    // output and failure
    "DbgPrint", "DbgPrintEx", "vDbgPrintEx", "vDbgPrintExWithPrefix", "DbgBreakPoint", "KeBugCheck", "KeBugCheckEx", "RtlAssert",
    // pool and memory descriptors
    "ExAllocatePool", "ExAllocatePoolWithTag", "ExAllocatePool2", "ExAllocatePool3", "ExAllocatePoolZero", "ExFreePool",
    "ExFreePoolWithTag", "IoAllocateMdl", "IoFreeMdl", "MmBuildMdlForNonPagedPool", "MmProbeAndLockPages", "MmUnlockPages",
    "MmMapLockedPages", "MmMapLockedPagesSpecifyCache", "MmUnmapLockedPages", "MmIsAddressValid", "MmGetPhysicalAddress",
    "ProbeForRead", "ProbeForWrite",
    // devices and links (dispatch routines are reached through the driver object, which kmdhost wraps)
    "IoCreateDevice", "IoDeleteDevice", "IoCreateSymbolicLink", "IoCreateUnprotectedSymbolicLink", "IoDeleteSymbolicLink",
    "IoDeviceObjectType", "IoDriverObjectType", "IoFileObjectType", "ExEventObjectType", "ExSemaphoreObjectType", "PsThreadType",
    "PsProcessType", "IoGetCurrentProcess", "IoIs32bitProcess",
    "IoIsWdmVersionAvailable", "IoGetRequestorProcessId", "IoAcquireCancelSpinLock", "IoReleaseCancelSpinLock",
    // synchronisation
    "KeInitializeEvent", "KeSetEvent", "KeClearEvent", "KeResetEvent", "KeReadStateEvent", "KeWaitForSingleObject",
    "KeWaitForMultipleObjects", "KeDelayExecutionThread", "KeInitializeMutex", "KeReleaseMutex", "KeInitializeSemaphore",
    "KeReleaseSemaphore", "KeAcquireSpinLockRaiseToDpc", "KeAcquireSpinLockAtDpcLevel", "KeReleaseSpinLock",
    "KeReleaseSpinLockFromDpcLevel", "KeAcquireSpinLock", "KfAcquireSpinLock", "KfReleaseSpinLock", "KeAcquireInStackQueuedSpinLock",
    "KeReleaseInStackQueuedSpinLock", "KeInitializeSpinLock", "ExAcquireFastMutex", "ExReleaseFastMutex", "ExAcquireFastMutexUnsafe",
    "ExReleaseFastMutexUnsafe", "ExInitializeResourceLite", "ExDeleteResourceLite", "ExAcquireResourceExclusiveLite",
    "ExAcquireResourceSharedLite", "ExReleaseResourceLite", "ExReleaseResourceForThreadLite", "KeEnterCriticalRegion",
    "KeLeaveCriticalRegion", "KeEnterGuardedRegion", "KeLeaveGuardedRegion", "ZwWaitForSingleObject", "ZwWaitForMultipleObjects",
    "InterlockedIncrement", "InterlockedDecrement", "InterlockedExchange", "InterlockedCompareExchange", "InterlockedExchangeAdd",
    "InterlockedPushEntrySList", "InterlockedPopEntrySList", "ExInterlockedInsertTailList", "ExInterlockedInsertHeadList",
    "ExInterlockedRemoveHeadList", "ExfInterlockedInsertTailList", "ExfInterlockedInsertHeadList", "ExfInterlockedRemoveHeadList",
    "ExInterlockedAddLargeInteger", "ExInterlockedAddUlong", "InitializeSListHead",
    // IRQL, time, the processor
    "KeGetCurrentIrql", "KfRaiseIrql", "KfLowerIrql", "KeRaiseIrqlToDpcLevel", "KeLowerIrql", "KeRaiseIrql",
    "KeQueryPerformanceCounter", "KeQuerySystemTime", "KeQuerySystemTimePrecise", "KeQueryTickCount", "KeQueryTimeIncrement",
    "KeQueryInterruptTime", "KeGetCurrentThread", "KeGetCurrentProcessorNumber", "KeGetCurrentProcessorNumberEx",
    "KeQueryActiveProcessorCount", "KeNumberProcessors", "KeSaveFloatingPointState", "KeRestoreFloatingPointState",
    "ExGetPreviousMode", "KeGetPreviousMode", "PsGetCurrentProcessId", "PsGetCurrentThreadId", "PsGetCurrentProcess",
    "PsGetCurrentThread", "PsGetVersion", "RtlGetVersion", "RtlVerifyVersionInfo", "VerSetConditionMask", "PsInitialSystemProcess",
    // objects and handles
    "ObReferenceObjectByHandle", "ObReferenceObjectByPointer", "ObReferenceObjectByName", "ObfReferenceObject",
    "ObfDereferenceObject", "ObDereferenceObject", "ObOpenObjectByPointer", "ZwClose", "ZwDuplicateObject",
    "ZwSetSecurityObject", "ZwQuerySecurityObject",
    // security descriptors
    "RtlCreateAcl", "RtlAddAccessAllowedAce", "RtlCreateSecurityDescriptor", "RtlSetDaclSecurityDescriptor", "RtlLengthSid",
    "RtlLengthSecurityDescriptor", "RtlValidSid", "SeExports", "SeSinglePrivilegeCheck", "SeCaptureSubjectContext",
    "SeReleaseSubjectContext",
    // the registry and files, without APC routines
    "ZwOpenKey", "ZwOpenKeyEx", "ZwCreateKey", "ZwQueryKey", "ZwEnumerateKey", "ZwEnumerateValueKey", "ZwQueryValueKey",
    "ZwSetValueKey", "ZwDeleteKey", "ZwDeleteValueKey", "ZwFlushKey", "RtlQueryRegistryValues", "RtlWriteRegistryValue",
    "RtlDeleteRegistryValue", "RtlCheckRegistryKey", "ZwCreateFile", "ZwOpenFile", "ZwQueryInformationFile",
    "ZwSetInformationFile", "ZwQueryFullAttributesFile", "ZwDeleteFile", "ZwFlushBuffersFile",
    // strings, numbers, memory
    "RtlInitUnicodeString", "RtlInitAnsiString", "RtlInitString", "RtlCopyUnicodeString", "RtlAppendUnicodeToString",
    "RtlAppendUnicodeStringToString", "RtlCompareUnicodeString", "RtlEqualUnicodeString", "RtlPrefixUnicodeString",
    "RtlUpcaseUnicodeString", "RtlDowncaseUnicodeString", "RtlUpcaseUnicodeChar", "RtlUnicodeStringToAnsiString",
    "RtlAnsiStringToUnicodeString", "RtlFreeUnicodeString", "RtlFreeAnsiString", "RtlIntegerToUnicodeString",
    "RtlUnicodeStringToInteger", "RtlCharToInteger", "RtlInt64ToUnicodeString", "RtlStringFromGUID", "RtlGUIDFromString",
    "RtlCompareMemory", "RtlCompareMemoryUlong", "RtlFillMemory", "RtlZeroMemory", "RtlMoveMemory", "RtlCopyMemory",
    "RtlComputeCrc32", "RtlRandom", "RtlRandomEx", "RtlUlongByteSwap", "RtlUshortByteSwap", "RtlUlonglongByteSwap",
    "RtlTimeToTimeFields", "RtlTimeFieldsToTime", "ExSystemTimeToLocalTime", "RtlInitializeBitMap", "RtlClearAllBits",
    "RtlSetAllBits", "RtlFindClearBitsAndSet", "RtlClearBits", "RtlSetBits", "RtlAreBitsSet", "RtlAreBitsClear",
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strlen", "wcslen", "strnlen", "wcsnlen", "strcmp", "wcscmp", "strncmp",
    "wcsncmp", "_stricmp", "_wcsicmp", "_strnicmp", "_wcsnicmp", "strcpy", "wcscpy", "strncpy", "wcsncpy", "strcat", "wcscat",
    "strchr", "wcschr", "strrchr", "wcsrchr", "strstr", "wcsstr", "toupper", "tolower", "towupper", "towlower", "sprintf",
    "swprintf", "_snprintf", "_snwprintf", "_vsnprintf", "_vsnwprintf", "vsprintf", "atoi", "atol", "_itoa", "_itow", "_ultoa",
    "_ultow", "_wtoi", "qsort", "bsearch",
    // the compiler's own helpers: exception handlers, stack probes, 64-bit arithmetic on x86
    "__C_specific_handler", "_except_handler2", "_except_handler3", "_except_handler4_common", "__chkstk", "_chkstk",
    "_alloca_probe", "_allmul", "_alldiv", "_allrem", "_aulldiv", "_aullrem", "_allshl", "_allshr", "_aullshr",
    "_alldvrm", "_aulldvrm", "_local_unwind", "_global_unwind2", "_local_unwind2", "_abnormal_termination",
    "__security_check_cookie", "_purecall", "RtlUnwind", "RtlUnwindEx", "RtlCaptureContext", "RtlLookupFunctionEntry",
    "RtlVirtualUnwind", "RtlPcToFileHeader",
};


} // namespace

bool inert_import(const char* name)
{
    for (const char* n : kInert)
        if (same(name, n)) return true;
    return false;
}

int watched_import(const char* name)
{
    for (int i = 0; i < static_cast<int>(sizeof kWatchedImports / sizeof kWatchedImports[0]); ++i)
        if (same(name, kWatchedImports[i])) return i;
    return -1;
}

bool kernel_module(const char* dll_name)
{
    return same_ignoring_case(dll_name, "ntoskrnl.exe") || same_ignoring_case(dll_name, "hal.dll");
}

} // namespace kmd::winehost
