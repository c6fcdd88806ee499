// kmdverify.sys - a Driver Verifier for Wine. Loaded first into a driver host (winedevice.exe:
// one per load-order group), it interposes itself between every driver image loaded after it and
// Wine's ntoskrnl, and reports each broken kernel rule as a DbgPrint line "kmdverify: ..." that
// kit/verifier/verify.py collects from the box's kernel log. See docs/verifier.md.
//
// How it gets in (read from Wine 8's dlls/ntoskrnl.exe/ntoskrnl.c, load_driver/init_driver):
// load_driver() maps the image with LoadLibraryExW (imports already bound), then calls the
// PsSetLoadImageNotifyRoutine callbacks with ImageBase = the module and ImageSize = SizeOfImage,
// and only then does init_driver() read AddressOfEntryPoint from the mapped headers and call it.
// So the callback below can (1) rewrite the image's import address table to point at the
// wrappers here, and (2) redirect the entry point to a jump stub in the header page, so that
// DriverEntry runs under the verifier, which then wraps DriverUnload and the dispatch routines.
// Calls resolved at run time are covered by wrapping MmGetSystemRoutineAddress.
//
// The wrappers forward to the real routines (this image's own imports are never patched) and
// check on the way. A driver never sees a difference except where Windows would differ from Wine:
// ProbeForRead/ProbeForWrite raise for kernel addresses as Windows does, a second completion of
// an IRP is reported and dropped instead of corrupting the host, and an oversized Information is
// reported and clamped so Wine's copy-back stays in the caller's buffer.
//
// This file is the verifier driver itself; each check family has its own file (verifier.hpp lists them).
#include "verifier.hpp"

using namespace kmdverify;

extern "C" VOID NTAPI VerifierUnload(PDRIVER_OBJECT)
{
    PsRemoveLoadImageNotifyRoutine(on_image_load);
    delete_prober();
    shutdown_special_pool();
    for (const Image& i : g_images)
        if (i.used) DbgPrint("kmdverify: ERROR unloaded while %ws is still loaded: stop verified drivers first\n", i.name);
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    KeInitializeSpinLock(&g_lock);
    init_irp_checks();
    g_self_base = static_cast<char*>(driver->DriverStart);
    g_self_size = driver->DriverSize;
    if (!NT_SUCCESS(RtlStringCbPrintfW(g_params_key, sizeof g_params_key, L"%.*ws\\Parameters",
                                         static_cast<int>(registry_path->Length / sizeof(WCHAR)), registry_path->Buffer)))
        return STATUS_NAME_TOO_LONG;
    UNICODE_STRING protect;
    RtlInitUnicodeString(&protect, L"ZwProtectVirtualMemory");
    ZwProtectVirtualMemory = reinterpret_cast<kmd::winehost::ZwProtectVirtualMemoryFn>(MmGetSystemRoutineAddress(&protect));
    UNICODE_STRING raise;
    RtlInitUnicodeString(&raise, L"RtlRaiseStatus");
    RtlRaiseStatus = reinterpret_cast<RtlRaiseStatusFn>(MmGetSystemRoutineAddress(&raise));
    if (ZwProtectVirtualMemory == nullptr || RtlRaiseStatus == nullptr) return STATUS_PROCEDURE_NOT_FOUND;
    UNICODE_STRING pool2;
    RtlInitUnicodeString(&pool2, L"ExAllocatePool2");
    g_pool2_exists = MmGetSystemRoutineAddress(&pool2) != nullptr;
    // Without a vectored exception handler special pool cannot report a fault: it is then off.
    if (!init_special_pool()) DbgPrint("kmdverify: ERROR no vectored exception handler (ntdll's RtlAddVectoredExceptionHandler): special pool off\n");
    // \\.\kmdverify: bad and kernel pointers sent from inside the host (prober.cpp). Without it
    // the verifier still verifies; verify.py's prober requests then fail, and say so.
    NTSTATUS status = create_prober(driver);
    if (!NT_SUCCESS(status))
        DbgPrint("kmdverify: ERROR no prober device \\Device\\kmdverify (status 0x%08lx): bad and kernel pointers cannot be sent\n",
                 static_cast<ULONG>(status));
    status = PsSetLoadImageNotifyRoutine(on_image_load);
    if (!NT_SUCCESS(status)) {
        delete_prober();
        return status;
    }
    driver->DriverUnload = VerifierUnload;
    DbgPrint("kmdverify: ready (%lu wrapped calls); drivers loaded into this host from now on are verified\n",
             wrapped_call_count());
    return STATUS_SUCCESS;
}