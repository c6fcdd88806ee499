// skeleton.cpp - the skeleton KMD: DriverEntry, the dispatcher and DriverUnload.
//
// The seed's three routines, in C++. What each request means lives in driver/core (plain C++,
// unit-tested on Linux); how each transfer method's buffers are found and made safe lives in
// irp_buffers.cpp. This file is only the NT shell around them.
#include "nt.hpp" // first: the contract checks its codes against the DDK's CTL_CODE

#include <skeleton/ioctl.h>

#include "../core/requests.hpp"
#include "device_security.hpp"
#include "irp_buffers.hpp"
#include "kernel_raii.hpp"

#ifndef SKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE
#error "skeleton/ioctl.h must see the DDK's CTL_CODE: include nt.hpp first"
#endif

namespace core = skeleton::core;
using skeleton::nt::literal_ustring;

// The request core speaks NTSTATUS as plain numbers; they must be the DDK's.
static_assert(core::status::success == static_cast<uint32_t>(STATUS_SUCCESS));
static_assert(core::status::not_implemented == static_cast<uint32_t>(STATUS_NOT_IMPLEMENTED));
static_assert(core::status::invalid_parameter == static_cast<uint32_t>(STATUS_INVALID_PARAMETER));
static_assert(core::status::buffer_too_small == static_cast<uint32_t>(STATUS_BUFFER_TOO_SMALL));
static_assert(core::status::crc_error == static_cast<uint32_t>(STATUS_CRC_ERROR));

namespace {

// Storage for both names lives as long as the driver image: SymbolicLinkOwner and DriverUnload
// refer to it after DriverEntry returns.
constinit UNICODE_STRING g_device_name = literal_ustring(SKELETON_DEVICE_NAME_W);
constinit UNICODE_STRING g_link_name = literal_ustring(SKELETON_DOS_DEVICE_NAME_W);

// Driver messages go to the kernel debugger (DbgView, WinDbg; under Wine the `debugstr` channel).
// On Windows Vista and later, INFO level shows once the "Debug Print Filter" key enables it.
#define SKELETON_LOG(...) DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "skeleton: " __VA_ARGS__)

// "%.*ws" with these two arguments prints a counted UNICODE_STRING. (%wZ would be shorter, but
// Wine's DbgPrint does not know it, and a UNICODE_STRING need not be NUL-terminated.)
#define USTR_ARGS(u) static_cast<int>((u)->Length / sizeof(WCHAR)), (u)->Buffer

const char* major_name(UCHAR major)
{
    switch (major) {
    case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
    case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
    case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
    case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
    case IRP_MJ_READ: return "IRP_MJ_READ";
    case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
    default: return "IRP_MJ_(other)";
    }
}

// Completes the IRP exactly once and returns its status, as a dispatch routine must.
NTSTATUS complete(PIRP irp, core::Result result)
{
    const auto status = static_cast<NTSTATUS>(result.status);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = NT_SUCCESS(status) ? result.information : 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

} // namespace

// The seed's DriverDispatcher: standard requests succeed, IOCTLs go to the request core,
// everything else is STATUS_NOT_IMPLEMENTED.
extern "C" NTSTATUS NTAPI SkeletonDispatch(PDEVICE_OBJECT, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    core::Result result{core::status::not_implemented, 0};

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP: result = {core::status::success, 0}; break;
    case IRP_MJ_DEVICE_CONTROL: result = skeleton::nt::run_device_control(irp, stack); break;
    default: break;
    }

    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL)
        SKELETON_LOG("%s code=0x%08lx in=%lu out=%lu -> status=0x%08lx information=%lu\n", major_name(stack->MajorFunction),
                     stack->Parameters.DeviceIoControl.IoControlCode, stack->Parameters.DeviceIoControl.InputBufferLength,
                     stack->Parameters.DeviceIoControl.OutputBufferLength, static_cast<ULONG>(result.status),
                     static_cast<ULONG>(result.information));
    else
        SKELETON_LOG("%s -> status=0x%08lx\n", major_name(stack->MajorFunction), static_cast<ULONG>(result.status));
    return complete(irp, result);
}

// The seed's DriverUnload: undo DriverEntry, link first, so the driver can be loaded again.
extern "C" VOID NTAPI SkeletonUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    SKELETON_LOG("DriverUnload: deleted %.*ws and %.*ws\n", USTR_ARGS(&g_link_name), USTR_ARGS(&g_device_name));
}

// The seed's DriverEntry: create the device, the link, the dispatch table and the unload routine.
// A failure at any step undoes the steps before it (the owners' destructors) and returns its status.
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    SKELETON_LOG("DriverEntry: %.*ws\n", USTR_ARGS(registry_path));
    // Decided at run time on x86, where XP/Vista/7 lack no-execute pool (kernel_features.hpp).
    SKELETON_LOG("DriverEntry: pool %s, MDL mappings %s\n", skeleton::nt::kernel_has_nx_pool() ? "NonPagedPoolNx" : "NonPagedPool",
                 skeleton::nt::kernel_has_nx_pool() ? "no-execute" : "executable (kernel older than Windows 8)");

    skeleton::nt::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN);
    if (!NT_SUCCESS(status)) {
        SKELETON_LOG("IoCreateDevice(%.*ws) failed: 0x%08lx\n", USTR_ARGS(&g_device_name), static_cast<ULONG>(status));
        return status;
    }

    // FILE_DEVICE_SECURE_OPEN (above) makes the I/O manager apply the device's DACL to opens of
    // any name below it too (\Device\skeleton\anything), and the DACL admits only SYSTEM and
    // Administrators.
    status = skeleton::nt::restrict_to_system_and_admins(device.get());
    if (!NT_SUCCESS(status)) {
        SKELETON_LOG("setting the device's DACL failed: 0x%08lx\n", static_cast<ULONG>(status));
        return status; // `device` deletes the device object on the way out
    }

    skeleton::nt::SymbolicLinkOwner link;
    status = link.create(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        SKELETON_LOG("IoCreateSymbolicLink(%.*ws) failed: 0x%08lx; deleting the device\n", USTR_ARGS(&g_link_name),
                     static_cast<ULONG>(status));
        return status; // `device` deletes the device object on the way out
    }

    // CREATE, CLOSE, CLEANUP and DEVICE_CONTROL are the requests we serve. Every other slot points
    // at the same dispatcher too, so that the seed's "undefined request -> STATUS_NOT_IMPLEMENTED"
    // is this driver's answer, not the I/O manager's default.
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = SkeletonDispatch;
    driver->DriverUnload = SkeletonUnload;

    // Success: from here on the device and the link belong to the driver, and DriverUnload
    // deletes them.
    link.release();
    device.release();
    SKELETON_LOG("DriverEntry: created %.*ws -> %.*ws\n", USTR_ARGS(&g_link_name), USTR_ARGS(&g_device_name));
    return STATUS_SUCCESS;
}
