// skeleton.cpp - the skeleton KMD: DriverEntry, the dispatcher and DriverUnload.
//
// The seed's three routines, in C++. What each request means lives in core/ (plain C++,
// unit-tested on Linux); how each transfer method's buffers are found and made safe lives in the
// kit (kit/driver/kmd/irp_buffers.cpp). This file is only the NT shell around them.
#include <kmd/nt.hpp> // first: the contract checks its codes against the DDK's CTL_CODE

#include <skeleton/ioctl.h>

#include <kmd/device_security.hpp>
#include <kmd/dispatch_guard.hpp>
#include <kmd/unload_barrier.hpp>
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

// Keeps requests and DriverUnload apart: see kit/driver/kmd/dispatch_guard.hpp.
constinit kmd::DispatchGuard g_guard;
// How long DriverUnload would wait for a request the host had already taken off its queue if
// kmd::settle_unload could not send its own request behind it (kit/driver/kmd/unload_barrier.hpp).
constexpr ULONG kFallbackSettleMs = 100;

} // namespace

// The seed's DriverDispatcher: standard requests succeed, IOCTLs go to the request core,
// everything else is STATUS_NOT_IMPLEMENTED.
extern "C" NTSTATUS NTAPI SkeletonDispatch(PDEVICE_OBJECT device, PIRP irp)
{
    // First thing: once DriverUnload has begun, new work is refused (CLOSE and CLEANUP still
    // succeed: there is nothing to refuse), and DriverUnload waits until admitted requests leave.
    const auto pass = g_guard.enter();
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    kmd::Result result{kmd::status::not_implemented, 0};

    if (!pass) {
        result = {static_cast<uint32_t>(kmd::refusal_status(device, stack->MajorFunction)), 0};
        if (!kmd::is_unload_barrier(device)) // DriverUnload's own request (unload_barrier.hpp): not news
            KMD_LOG("%s refused: unloading -> status=0x%08lx\n", kmd::major_name(stack->MajorFunction), static_cast<ULONG>(result.status));
        return kmd::complete_request(irp, result);
    }

    // In-flight requests are completed later, by the pending queue, never here.
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL &&
        stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SKELETON_DELAY_PENDING)
        return skeleton::nt::pending::queue(irp, stack);

    switch (stack->MajorFunction) {
    case IRP_MJ_CLEANUP: // the handle's last close (Windows); Wine sends IRP_MJ_CLOSE only
    case IRP_MJ_CLOSE: skeleton::nt::pending::cancel_file(stack->FileObject); [[fallthrough]];
    case IRP_MJ_CREATE: result = {kmd::status::success, 0}; break;
    case IRP_MJ_DEVICE_CONTROL: result = kmd::run_device_control(core::table(), irp, stack); break;
    default: break;
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

// The seed's DriverUnload: undo DriverEntry, link first, so the driver can be loaded again.
// Before that, refuse new requests and wait for those already inside the driver: the image is
// unmapped as soon as this returns.
extern "C" VOID NTAPI SkeletonUnload(PDRIVER_OBJECT driver)
{
    g_guard.run_down();
    skeleton::nt::pending::stop(); // nothing stays in flight past this line
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    // Last: every request the host had already taken has come and gone (refused) before we return.
    const ULONG settled_us = kmd::settle_unload(driver, g_guard, kFallbackSettleMs);
    KMD_LOG("DriverUnload: deleted %.*ws and %.*ws; requests settled in %lu us\n", KMD_USTR_ARGS(&g_link_name),
            KMD_USTR_ARGS(&g_device_name), settled_us);
}

// The seed's DriverEntry: create the device, the link, the dispatch table and the unload routine.
// A failure at any step undoes the steps before it (the owners' destructors) and returns its status.
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
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

    g_guard.initialize();
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = SkeletonDispatch;
    driver->DriverUnload = SkeletonUnload;

    // Success: from here on the device and the link belong to the driver, and DriverUnload
    // deletes them.
    link.release();
    device.release();
    KMD_LOG("DriverEntry: created %.*ws -> %.*ws\n", KMD_USTR_ARGS(&g_link_name), KMD_USTR_ARGS(&g_device_name));
    return STATUS_SUCCESS;
}
