// entry_fails.sys - a driver whose DriverEntry fails, so the loader's StartService error path
// (and its undo) can be tested for real.
#include <kmd/nt.hpp>

// A pointer initialised with an address makes the linker emit a base relocation, as every real
// driver has one; without it this tiny image would (rightly) fail tools/pe_lint.py.
static const char* volatile g_message = "entry_fails: DriverEntry returns STATUS_INSUFFICIENT_RESOURCES\n";

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT, PUNICODE_STRING)
{
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "%s", g_message);
    return STATUS_INSUFFICIENT_RESOURCES;
}
