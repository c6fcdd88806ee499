// link_squatter.sys - holds the name \DosDevices\skeleton (pointing at \Device\Null) while it runs,
// so skeleton.sys's IoCreateSymbolicLink fails and its DriverEntry must delete the device object
// it had already created. The test then stops the squatter and loads skeleton.sys again: that
// works only if the failed attempt left no \Device\skeleton behind.
#include <skeleton/ioctl.h>

#include <kmd/kernel_raii.hpp>

namespace {
constinit UNICODE_STRING g_link = kmd::literal_ustring(SKELETON_DOS_DEVICE_NAME_W);
constinit UNICODE_STRING g_target = kmd::literal_ustring(L"\\Device\\Null");
} // namespace

extern "C" VOID NTAPI SquatterUnload(PDRIVER_OBJECT)
{
    IoDeleteSymbolicLink(&g_link);
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    const NTSTATUS status = IoCreateSymbolicLink(&g_link, &g_target);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "link_squatter: IoCreateSymbolicLink -> 0x%08lx\n",
               static_cast<ULONG>(status));
    if (NT_SUCCESS(status)) driver->DriverUnload = SquatterUnload;
    return status;
}
