/* mathlib.c - an export driver (a kernel-mode DLL) written the usual way, without the kit: it
 * exports MathLibAdd and MathLibCalls for other drivers to import, and DllInitialize/DllUnload,
 * which Windows calls when the first importer loads it and after the last one unloaded.
 * DriverEntry exists only because the build needs an entry point; Windows never calls it for a
 * DLL loaded as an import (it does when the library is also started as a service). No device. */
#include <ntddk.h>

static volatile LONG g_calls;

__declspec(dllexport) ULONG NTAPI MathLibAdd(ULONG a, ULONG b)
{
    InterlockedIncrement(&g_calls);
    return a + b;
}

__declspec(dllexport) LONG NTAPI MathLibCalls(VOID)
{
    return g_calls;
}

__declspec(dllexport) NTSTATUS NTAPI DllInitialize(PUNICODE_STRING registry)
{
    DbgPrint("mathlib: DllInitialize %wZ\n", registry);
    return STATUS_SUCCESS;
}

__declspec(dllexport) NTSTATUS NTAPI DllUnload(VOID)
{
    DbgPrint("mathlib: DllUnload after %ld calls\n", g_calls);
    return STATUS_SUCCESS;
}

static VOID MathLibUnload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    UNREFERENCED_PARAMETER(registry);
    DbgPrint("mathlib: DriverEntry (started as a service)\n");
    driver->DriverUnload = MathLibUnload;
    return STATUS_SUCCESS;
}
