// driver.cpp - @NAME@.sys: DriverEntry, the dispatcher and DriverUnload, on the kit's driver
// support. What each request means is in core/requests.cpp; the kit finds and guards the
// caller's buffers for each transfer method (kit/driver/kmd/irp_buffers.cpp).
#include <kmd/nt.hpp>

#include <@NAME@/ioctl.h>

#include <kmd/device_security.hpp>
#include <kmd/dispatch_guard.hpp>
#include <kmd/unload_barrier.hpp>
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

// Keeps requests and DriverUnload apart (kit/driver/kmd/dispatch_guard.hpp): a host may still be
// dispatching when it unloads the driver (Wine 8 does), and the image must not vanish under a
// running request.
constinit kmd::DispatchGuard g_guard;
// How long unload would wait for requests the host had already taken, should kmd::settle_unload
// be unable to send its own request behind them (kit/driver/kmd/unload_barrier.hpp).
constexpr ULONG kFallbackSettleMs = 100;

} // namespace

extern "C" NTSTATUS NTAPI @UPPER@_Dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    const auto pass = g_guard.enter(); // first thing: refused once DriverUnload has begun
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    kmd::Result result{kmd::status::not_implemented, 0};
    if (!pass) {
        return kmd::complete_request(irp, {static_cast<uint32_t>(kmd::refusal_status(device, stack->MajorFunction)), 0});
    }
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP: result = {kmd::status::success, 0}; break;
    case IRP_MJ_DEVICE_CONTROL: result = kmd::run_device_control(@NAME@::core::table(), irp, stack); break;
    default: break;
    }
    KMD_LOG("%s -> status=0x%08lx information=%lu\n", kmd::major_name(stack->MajorFunction), static_cast<ULONG>(result.status),
            static_cast<ULONG>(result.information));
    return kmd::complete_request(irp, result);
}

extern "C" VOID NTAPI @UPPER@_Unload(PDRIVER_OBJECT driver)
{
    g_guard.run_down(); // no new requests; wait for those inside
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    // Last: requests the host had already taken have come and gone before the image goes.
    const ULONG settled_us = kmd::settle_unload(driver, g_guard, kFallbackSettleMs);
    KMD_LOG("DriverUnload: done (requests settled in %lu us)\n", settled_us);
}

// Every failure undoes what came before it: the owners' destructors delete what they hold.
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
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

    g_guard.initialize(); // before the first request can arrive
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = @UPPER@_Dispatch;
    driver->DriverUnload = @UPPER@_Unload;
    link.release();
    device.release();
    KMD_LOG("DriverEntry: created %.*ws\n", KMD_USTR_ARGS(&g_device_name));
    return STATUS_SUCCESS;
}
