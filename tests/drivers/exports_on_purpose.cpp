// exports_on_purpose.sys - test-only: a driver that exports one function on purpose, as a
// kernel-mode export driver (a "DLL" for other drivers) does. Proves the lint's no-exports rule.
#include <kmd/nt.hpp>

extern "C" __declspec(dllexport) ULONG NTAPI KmdExportedOnPurpose(ULONG x) { return x + 1; }

// An absolute address in data gives the image the base relocation every real driver has.
static const char* volatile g_message = "exports_on_purpose: loaded\n";

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT, PUNICODE_STRING)
{
    DbgPrint(g_message);
    return STATUS_SUCCESS;
}
