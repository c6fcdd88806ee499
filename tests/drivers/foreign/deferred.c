/* deferred.c - a work-item driver written the usual WDM way, without the kit: IOCTL_DEFER_DOUBLE
 * takes a ULONG, pends the IRP and doubles the value in a work item (IoAllocateWorkItem,
 * IoQueueWorkItem), which completes the IRP. Device \Device\LaterDev. */
#include <ntddk.h>

#define IOCTL_DEFER_DOUBLE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222040 */

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\LaterDev");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\LaterDev");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD DeferUnload;
static DRIVER_DISPATCH DeferCreateClose, DeferDeviceControl;
static IO_WORKITEM_ROUTINE DeferWork;

static NTSTATUS DeferCreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

/* IRQL: PASSIVE_LEVEL, on a system worker thread. The work item was stored in the IRP. */
static VOID DeferWork(PDEVICE_OBJECT device, PVOID context)
{
    PIRP irp = (PIRP)context;
    PIO_WORKITEM item = (PIO_WORKITEM)irp->Tail.Overlay.DriverContext[0];
    PULONG value = (PULONG)irp->AssociatedIrp.SystemBuffer;
    UNREFERENCED_PARAMETER(device);
    *value *= 2;
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = sizeof(ULONG);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    IoFreeWorkItem(item);
}

static NTSTATUS DeferDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PIO_WORKITEM item;
    NTSTATUS status;
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_DEFER_DOUBLE) {
        status = STATUS_INVALID_DEVICE_REQUEST;
    } else if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
               stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
        status = STATUS_BUFFER_TOO_SMALL;
    } else if ((item = IoAllocateWorkItem(device)) == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
    } else {
        irp->Tail.Overlay.DriverContext[0] = item;
        IoMarkIrpPending(irp);
        IoQueueWorkItem(item, DeferWork, DelayedWorkQueue, irp); /* holds a device reference until it ran */
        return STATUS_PENDING;
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID DeferUnload(PDRIVER_OBJECT driver)
{
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
    driver->MajorFunction[IRP_MJ_CREATE] = DeferCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = DeferCreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeferDeviceControl;
    driver->DriverUnload = DeferUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
