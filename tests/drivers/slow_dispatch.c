/* slow_dispatch.sys - a plain C WDM driver written as for Windows, with no guard of its own and
 * nothing from the kit: its one IOCTL sleeps 500 ms inside the dispatch routine. On Windows the I/O
 * manager never calls DriverUnload while that request is inside (the device is referenced). Wine 8
 * does, and unmaps the image as soon as DriverUnload returns: the sleeping request then returns
 * into freed code and the driver host dies. tests/e2e/test_wine_host.py stops it mid-request with
 * and without the kit's host shim (kit/winehost/kmdhost.cpp), which must make the difference. */
#include <ntddk.h>

#define IOCTL_SLOW_SLEEP_500MS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x920, METHOD_BUFFERED, FILE_ANY_ACCESS)

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\slow_dispatch");
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\slow_dispatch");

static NTSTATUS NTAPI dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    (void)device;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SLOW_SLEEP_500MS) {
            LARGE_INTEGER delay;
            delay.QuadPart = -500LL * 10000; /* 500 ms, relative */
            DbgPrint("slow_dispatch: sleeping inside dispatch\n");
            KeDelayExecutionThread(KernelMode, FALSE, &delay);
            DbgPrint("slow_dispatch: awake, completing\n");
        } else {
            status = STATUS_INVALID_DEVICE_REQUEST;
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI unload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    DbgPrint("slow_dispatch: unloaded\n");
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
    driver->MajorFunction[IRP_MJ_CREATE] = dispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = dispatch;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = dispatch;
    driver->DriverUnload = unload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
