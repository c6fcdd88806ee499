/* @NAME@.sys - lesson 3, worked solution: one IOCTL per transfer method that the I/O manager
 * makes safe (BUFFERED, IN_DIRECT, OUT_DIRECT); lesson 4 is the fourth, METHOD_NEITHER. */
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
    UCHAR* buffer = (UCHAR*)irp->AssociatedIrp.SystemBuffer;
    if (in_len > @UPPER@_MAX_TRANSFER) return STATUS_INVALID_PARAMETER;
    if (out_len < in_len) return STATUS_BUFFER_TOO_SMALL;
    for (ULONG lo = 0, hi = in_len; lo + 1 < hi; ++lo, --hi) {
        UCHAR t = buffer[lo];
        buffer[lo] = buffer[hi - 1];
        buffer[hi - 1] = t;
    }
    *information = in_len; /* the I/O manager copies this many bytes back to the caller */
    return STATUS_SUCCESS;
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
    const UCHAR* wanted = (const UCHAR*)irp->AssociatedIrp.SystemBuffer;
    const UCHAR* data = mapped_data(irp, out_len);
    ULONG n = 0;
    if (wanted == NULL || in_len < 1 || data == NULL) return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < out_len; ++i) n += data[i] == *wanted;
    *information = n;
    return STATUS_SUCCESS;
}

/* METHOD_OUT_DIRECT: the small input in SystemBuffer, the answer written in place through the MDL. */
static NTSTATUS fill(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* information)
{
    const UCHAR* value = (const UCHAR*)irp->AssociatedIrp.SystemBuffer;
    UCHAR* data = mapped_data(irp, out_len);
    if (value == NULL || in_len < 1 || data == NULL) return STATUS_INVALID_PARAMETER;
    RtlFillMemory(data, out_len, *value);
    *information = out_len;
    return STATUS_SUCCESS;
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
