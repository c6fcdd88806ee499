// debug_holder.sys - does nothing but stay loaded. Under Wine each driver gets its own
// winedevice.exe at StartService, so there is no process to attach a debugger to before a
// driver's DriverEntry runs - unless a driver of the same load-order group already runs: the new
// one then loads into that process. kit/harness/kmd_debug.py `entry` starts this holder in a
// group, attaches gdb to its host, and then starts the driver under test in the same group.
#include <kmd/nt.hpp>

// A pointer initialised with an address gives the image the base relocation every driver has.
static const char* volatile g_message = "debug_holder: holding a winedevice.exe for the debugger\n";

extern "C" VOID NTAPI HolderUnload(PDRIVER_OBJECT) {}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "%s", g_message);
    driver->DriverUnload = HolderUnload;
    return STATUS_SUCCESS;
}
