// driver.cpp - @NAME@.sys: DriverEntry, the dispatcher and DriverUnload, on the kit's driver
// support. What each request means is in core/requests.cpp; the kit finds and guards the
// caller's buffers for each transfer method (kit/driver/kmd/irp_buffers.cpp).
#include <kmd/nt.hpp>

#include <@NAME@/ioctl.h>

#include <kmd/device_security.hpp>
#include <kmd/irp_buffers.hpp>
#include <kmd/kernel_features.hpp>
#include <kmd/kernel_raii.hpp>
#include <kmd/log.hpp>

#include "../core/requests.hpp"

namespace {

// Names live as long as the image: DriverUnload uses them after DriverEntry returned.
constinit UNICODE_STRING g_device_name = kmd::literal_ustring(@UPPER@_DEVICE_NAME_W);
constinit UNICODE_STRING g_link_name = kmd::literal_ustring(@UPPER@_DOS_DEVICE_NAME_W);

constexpr ULONG kPoolTag = '@TAG@'; // shows reversed in a pool dump: pick four letters of your own

} // namespace

// Each routine by its role (the DDK's function types) and the requests the dispatcher serves, as
// Microsoft's samples declare them: for a reader, and for static analysis (PREfast, SDV).
extern "C" {
DRIVER_INITIALIZE DriverEntry;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) _Dispatch_type_(IRP_MJ_CLEANUP)
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH @UPPER@_Dispatch;
DRIVER_UNLOAD @UPPER@_Unload;
}

_Use_decl_annotations_
extern "C" NTSTATUS NTAPI @UPPER@_Dispatch(PDEVICE_OBJECT, PIRP irp) // PASSIVE_LEVEL, in the caller's thread
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    kmd::Result result{kmd::status::not_implemented, 0};
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        // \\.\@NAME@ opens the device; \\.\@NAME@\anything names nothing (kmd/dispatch_rules.hpp).
        result = {kmd::create_names_nothing_below_the_device(stack->FileObject ? stack->FileObject->FileName.Length : 0)
                      ? kmd::status::success
                      : kmd::kStatusObjectNameNotFound,
                  0};
        break;
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP: result = {kmd::status::success, 0}; break;
    case IRP_MJ_DEVICE_CONTROL: result = kmd::run_device_control(@NAME@::core::table(), irp, stack); break;
    default:
        if (kmd::keeps_incoming_status(stack->MajorFunction)) { // IRP_MJ_PNP: its convention
            const NTSTATUS incoming = irp->IoStatus.Status;
            IoCompleteRequest(irp, IO_NO_INCREMENT);
            return incoming;
        }
        break;
    }
    KMD_LOG("%s -> status=0x%08lx information=%lu\n", kmd::major_name(stack->MajorFunction), static_cast<ULONG>(result.status),
            static_cast<ULONG>(result.information));
    return kmd::complete_request(irp, result);
}

_Use_decl_annotations_
extern "C" VOID NTAPI @UPPER@_Unload(PDRIVER_OBJECT driver)
{
    PAGED_CODE();
    // The I/O manager calls this only once no request is left: undo DriverEntry, link first.
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    KMD_LOG("DriverUnload: done\n");
}

// Every failure undoes what came before it: the owners' destructors delete what they hold.
_Use_decl_annotations_
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    PAGED_CODE();
    if (const NTSTATUS s = kmd::require_supported_kernel(); !NT_SUCCESS(s)) return s; // x64: Windows 8+ (kmd/kernel_features.hpp)
    kmd::pool_init(kPoolTag);

    kmd::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN);
    if (!NT_SUCCESS(status)) return status;
    status = kmd::restrict_to_system_and_admins(device.get());
    if (!NT_SUCCESS(status)) return status;
    kmd::SymbolicLinkOwner link;
    status = link.create(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) return status;

    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = @UPPER@_Dispatch;
    driver->DriverUnload = @UPPER@_Unload;
    link.release();
    device.release();
    KMD_LOG("DriverEntry: created %.*ws\n", KMD_USTR_ARGS(&g_device_name));
    return STATUS_SUCCESS;
}
