// skeleton.cpp - the skeleton KMD: DriverEntry, the dispatcher and DriverUnload.
//
// The seed's three routines, in C++. What each request means lives in core/ (plain C++,
// unit-tested on Linux); how each transfer method's buffers are found and made safe lives in the
// kit (kit/driver/kmd/irp_buffers.cpp). This file is only the NT shell around them.
#include <kmd/nt.hpp> // first: the contract checks its codes against the DDK's CTL_CODE

#include <skeleton/ioctl.h>

#include <kmd/device_security.hpp>
#include <kmd/irp_buffers.hpp>
#include <kmd/kernel_features.hpp>
#include <kmd/kernel_raii.hpp>
#include <kmd/log.hpp>

#include "../core/requests.hpp"
#include "pending.hpp"

#ifndef SKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE
#error "skeleton/ioctl.h must see the DDK's CTL_CODE: include kmd/nt.hpp first"
#endif

namespace core = skeleton::core;

namespace {

// Storage for both names lives as long as the driver image: SymbolicLinkOwner and DriverUnload
// refer to it after DriverEntry returns.
constinit UNICODE_STRING g_device_name = kmd::literal_ustring(SKELETON_DEVICE_NAME_W);
constinit UNICODE_STRING g_link_name = kmd::literal_ustring(SKELETON_DOS_DEVICE_NAME_W);

constexpr ULONG kPoolTag = 'nlkS'; // "Skln" in a pool dump (little-endian)

} // namespace

// The seed's three routines, by role (the DDK's function types), with the requests the dispatcher
// serves and the IRQL each runs at: what Microsoft's samples declare, for a reader and for static
// analysis alike. Every other major function lands in SkeletonDispatch too (DriverEntry says why).
extern "C" {
DRIVER_INITIALIZE DriverEntry;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) _Dispatch_type_(IRP_MJ_CLEANUP)
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH SkeletonDispatch;
DRIVER_UNLOAD SkeletonUnload;
}

// The seed's DriverDispatcher: standard requests succeed, IOCTLs go to the request core,
// everything else is STATUS_NOT_IMPLEMENTED.
_Use_decl_annotations_
extern "C" NTSTATUS NTAPI SkeletonDispatch(PDEVICE_OBJECT, PIRP irp) // PASSIVE_LEVEL, in the caller's thread
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    kmd::Result result{kmd::status::not_implemented, 0};

    // In-flight requests are completed later, by the pending queue, never here.
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL &&
        stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SKELETON_DELAY_PENDING)
        return skeleton::nt::pending::queue(irp, stack);

    switch (stack->MajorFunction) {
    case IRP_MJ_CLEANUP: // the handle's last close (Windows); Wine sends IRP_MJ_CLOSE only
    case IRP_MJ_CLOSE: skeleton::nt::pending::cancel_file(stack->FileObject); result = {kmd::status::success, 0}; break;
    case IRP_MJ_CREATE:
        // \\.\skeleton opens the device; \\.\skeleton\anything names nothing (dispatch_rules.hpp).
        result = {kmd::create_names_nothing_below_the_device(stack->FileObject ? stack->FileObject->FileName.Length : 0)
                      ? kmd::status::success
                      : kmd::kStatusObjectNameNotFound,
                  0};
        break;
    case IRP_MJ_DEVICE_CONTROL: result = kmd::run_device_control(core::table(), irp, stack); break;
    default:
        if (kmd::keeps_incoming_status(stack->MajorFunction)) { // IRP_MJ_PNP: its convention (dispatch_rules.hpp)
            const NTSTATUS incoming = irp->IoStatus.Status;
            IoCompleteRequest(irp, IO_NO_INCREMENT);
            return incoming;
        }
        break;
    }

    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL)
        KMD_LOG("%s code=0x%08lx in=%lu out=%lu -> status=0x%08lx information=%lu\n", kmd::major_name(stack->MajorFunction),
                stack->Parameters.DeviceIoControl.IoControlCode, stack->Parameters.DeviceIoControl.InputBufferLength,
                stack->Parameters.DeviceIoControl.OutputBufferLength, static_cast<ULONG>(result.status),
                static_cast<ULONG>(result.information));
    else
        KMD_LOG("%s -> status=0x%08lx\n", kmd::major_name(stack->MajorFunction), static_cast<ULONG>(result.status));
    return kmd::complete_request(irp, result);
}

// The seed's DriverUnload: undo DriverEntry, link first, so the driver can be loaded again. The
// I/O manager calls it only once no request is inside the driver and no handle is open. (Wine 8
// does not wait: the kit's host shim, kit/winehost, makes it, from outside this driver.)
_Use_decl_annotations_
extern "C" VOID NTAPI SkeletonUnload(PDRIVER_OBJECT driver)
{
    PAGED_CODE();
    skeleton::nt::pending::stop(); // nothing stays in flight past this line
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    KMD_LOG("DriverUnload: deleted %.*ws and %.*ws\n", KMD_USTR_ARGS(&g_link_name), KMD_USTR_ARGS(&g_device_name));
}

// The seed's DriverEntry: create the device, the link, the dispatch table and the unload routine.
// A failure at any step undoes the steps before it (the owners' destructors) and returns its status.
_Use_decl_annotations_
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PAGED_CODE();
    if (const NTSTATUS s = kmd::require_supported_kernel(); !NT_SUCCESS(s)) return s; // x64: Windows 8+ (kmd/kernel_features.hpp)
    KMD_LOG("DriverEntry: %.*ws\n", KMD_USTR_ARGS(registry_path));
    kmd::pool_init(kPoolTag);
    // No-execute pool and MDL mappings are chosen at run time on x86 (kmd/kernel_features.hpp).
    KMD_LOG("DriverEntry: pool from %s, MDL mappings %s\n", kmd::pool_description(),
            kmd::kernel_has_nx_pool() ? "no-execute" : "executable (kernel older than Windows 8)");

    kmd::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN);
    if (!NT_SUCCESS(status)) {
        KMD_LOG("IoCreateDevice(%.*ws) failed: 0x%08lx\n", KMD_USTR_ARGS(&g_device_name), static_cast<ULONG>(status));
        return status;
    }

    // FILE_DEVICE_SECURE_OPEN (above) makes the I/O manager apply the device's DACL to opens of
    // any name below it too (\Device\skeleton\anything), and the DACL admits only SYSTEM and
    // Administrators.
    status = kmd::restrict_to_system_and_admins(device.get());
    if (!NT_SUCCESS(status)) {
        KMD_LOG("setting the device's DACL failed: 0x%08lx\n", static_cast<ULONG>(status));
        return status; // `device` deletes the device object on the way out
    }

    kmd::SymbolicLinkOwner link;
    status = link.create(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        KMD_LOG("IoCreateSymbolicLink(%.*ws) failed: 0x%08lx; deleting the device\n", KMD_USTR_ARGS(&g_link_name),
                static_cast<ULONG>(status));
        return status; // `device` deletes the device object on the way out
    }

    // CREATE, CLOSE, CLEANUP and DEVICE_CONTROL are the requests we serve. Every other slot points
    // at the same dispatcher too, so that the seed's "undefined request -> STATUS_NOT_IMPLEMENTED"
    // is this driver's answer, not the I/O manager's default.
    status = skeleton::nt::pending::start();
    if (!NT_SUCCESS(status)) {
        KMD_LOG("starting the pending-request worker failed: 0x%08lx\n", static_cast<ULONG>(status));
        return status; // `link` and `device` undo themselves on the way out
    }

    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = SkeletonDispatch;
    driver->DriverUnload = SkeletonUnload;

    // Success: from here on the device and the link belong to the driver, and DriverUnload
    // deletes them.
    link.release();
    device.release();
    KMD_LOG("DriverEntry: created %.*ws -> %.*ws\n", KMD_USTR_ARGS(&g_link_name), KMD_USTR_ARGS(&g_device_name));
    return STATUS_SUCCESS;
}
