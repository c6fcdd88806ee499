/* @NAME@.sys - lesson 3, your starting point: the lesson-1 skeleton with three IOCTLs, one per
 * transfer method the I/O manager makes safe. Their handlers are yours (search for EXERCISE);
 * `make lesson 3` says which still answer wrongly. Read docs/lessons/03-ioctls.md first. */
#include <ntddk.h>

#include "ioctl.h"

#ifndef MdlMappingNoExecute /* Windows 8+; the mingw-w64 DDK headers lack it */
#define MdlMappingNoExecute 0x40000000
#endif

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\@NAME@");
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\@NAME@");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH DriverDispatcher;
static DRIVER_UNLOAD DriverUnload;

/* METHOD_BUFFERED: one kernel copy holds the input; the answer is written over it. */
static NTSTATUS reverse(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* information)
{
    /* EXERCISE 1: the input is in irp->AssociatedIrp.SystemBuffer (in_len bytes); reverse it in
     * place (at most @UPPER@_MAX_TRANSFER; out_len < in_len: STATUS_BUFFER_TOO_SMALL) and set
     * *information to in_len: the I/O manager copies that many bytes back to the caller. */
    (void)irp; (void)in_len; (void)out_len; (void)information;
    return STATUS_NOT_IMPLEMENTED;
}

/* The caller's data buffer, locked by the I/O manager and described by the MDL, mapped into
 * system space; NULL when there is none or it is shorter than the caller says. */
static UCHAR* mapped_data(PIRP irp, ULONG out_len)
{
    if (out_len == 0 || out_len > @UPPER@_MAX_TRANSFER || irp->MdlAddress == NULL) return NULL;
    if (MmGetMdlByteCount(irp->MdlAddress) < out_len) return NULL;
    return (UCHAR*)MmGetSystemAddressForMdlSafe(irp->MdlAddress, (MM_PAGE_PRIORITY)(NormalPagePriority | MdlMappingNoExecute));
}

/* METHOD_IN_DIRECT: the small input in SystemBuffer, the data read in place through the MDL. */
static NTSTATUS count(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* information)
{
    /* EXERCISE 2: B is the first byte of irp->AssociatedIrp.SystemBuffer (in_len >= 1); the data
     * is the caller's *output* buffer, read in place: mapped_data(irp, out_len). Set *information
     * to how many of its out_len bytes equal B (no data or no B: STATUS_INVALID_PARAMETER). */
    (void)irp; (void)in_len; (void)out_len; (void)information; (void)mapped_data;
    return STATUS_NOT_IMPLEMENTED;
}

/* METHOD_OUT_DIRECT: the small input in SystemBuffer, the answer written in place through the MDL. */
static NTSTATUS fill(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* information)
{
    /* EXERCISE 3: B is the first byte of irp->AssociatedIrp.SystemBuffer; write B into all
     * out_len bytes of mapped_data(irp, out_len) (RtlFillMemory) and set *information to out_len. */
    (void)irp; (void)in_len; (void)out_len; (void)information;
    return STATUS_NOT_IMPLEMENTED;
}

static NTSTATUS NTAPI DriverDispatcher(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_NOT_IMPLEMENTED;
    ULONG_PTR information = 0;
    (void)device;

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP:
        status = STATUS_SUCCESS;
        break;
    case IRP_MJ_DEVICE_CONTROL: {
        const ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
        const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
        switch (stack->Parameters.DeviceIoControl.IoControlCode) {
        case IOCTL_@UPPER@_REVERSE: status = reverse(irp, in_len, out_len, &information); break;
        case IOCTL_@UPPER@_COUNT: status = count(irp, in_len, out_len, &information); break;
        case IOCTL_@UPPER@_FILL: status = fill(irp, in_len, out_len, &information); break;
        default: break;
        }
        break;
    }
    default:
        break;
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = NT_SUCCESS(status) ? information : 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    (void)registry_path;
    status = IoCreateDevice(driver, 0, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLOSE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLEANUP] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DriverDispatcher;
    driver->DriverUnload = DriverUnload;
    return STATUS_SUCCESS;
}
