/* adder.c - the client of the export driver mathlib.sys, written the usual way without the kit:
 * it imports MathLibAdd/MathLibCalls (so the loader loads mathlib.sys first) and answers
 * IOCTL_ADDER_ADD (two ULONGs in, their sum out) through it. Device \Device\Summer. */
#include <ntddk.h>

__declspec(dllimport) ULONG NTAPI MathLibAdd(ULONG a, ULONG b);
__declspec(dllimport) LONG NTAPI MathLibCalls(VOID);

#define IOCTL_ADDER_ADD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x850, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222140 */

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\Summer");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\Summer");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD AdderUnload;
static DRIVER_DISPATCH AdderCreateClose, AdderDeviceControl;

static NTSTATUS AdderCreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS AdderDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PULONG buffer = (PULONG)irp->AssociatedIrp.SystemBuffer;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR info = 0;
    UNREFERENCED_PARAMETER(device);
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_ADDER_ADD) {
        if (stack->Parameters.DeviceIoControl.InputBufferLength < 2 * sizeof(ULONG) ||
            stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            buffer[0] = MathLibAdd(buffer[0], buffer[1]);
            info = sizeof(ULONG);
            status = STATUS_SUCCESS;
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID AdderUnload(PDRIVER_OBJECT driver)
{
    DbgPrint("adder: unloading, mathlib served %ld calls\n", MathLibCalls());
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);
    status = IoCreateDevice(driver, 0, &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = AdderCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = AdderCreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = AdderDeviceControl;
    driver->DriverUnload = AdderUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
