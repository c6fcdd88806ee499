/* ticker.c - a timer/DPC driver written the usual WDM way, without the kit: a periodic KTIMER
 * whose DPC counts ticks; IOCTL_TICKER_GET returns the count. Device \Device\TickTock (not the
 * file's name). Unload cancels the timer and flushes queued DPCs before the device goes away. */
#include <ntddk.h>

#define IOCTL_TICKER_GET CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS) /* 0x00226000 */
#define TICK_PERIOD_MS 10

typedef struct _TICKER_EXTENSION {
    KTIMER Timer;
    KDPC Dpc;
    volatile LONG Ticks;
} TICKER_EXTENSION, *PTICKER_EXTENSION;

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\TickTock");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\TickTock");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD TickerUnload;
static DRIVER_DISPATCH TickerCreateClose, TickerDeviceControl;
static KDEFERRED_ROUTINE TickerDpc;

/* IRQL: DISPATCH_LEVEL. */
static VOID TickerDpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2)
{
    PTICKER_EXTENSION ext = (PTICKER_EXTENSION)context;
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(arg1);
    UNREFERENCED_PARAMETER(arg2);
    InterlockedIncrement(&ext->Ticks);
}

static NTSTATUS TickerCreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS TickerDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PTICKER_EXTENSION ext = (PTICKER_EXTENSION)device->DeviceExtension;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR info = 0;
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_TICKER_GET) {
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            *(PULONG)irp->AssociatedIrp.SystemBuffer = (ULONG)ext->Ticks;
            info = sizeof(ULONG);
            status = STATUS_SUCCESS;
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID TickerUnload(PDRIVER_OBJECT driver)
{
    PTICKER_EXTENSION ext = (PTICKER_EXTENSION)driver->DeviceObject->DeviceExtension;
    KeCancelTimer(&ext->Timer);
    KeFlushQueuedDpcs(); /* a DPC already queued must not run after the extension is gone */
    DbgPrint("ticker: unloading after %ld ticks\n", ext->Ticks);
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    PTICKER_EXTENSION ext;
    LARGE_INTEGER due;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);
    status = IoCreateDevice(driver, sizeof(TICKER_EXTENSION), &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext = (PTICKER_EXTENSION)device->DeviceExtension;
    ext->Ticks = 0;
    KeInitializeDpc(&ext->Dpc, TickerDpc, ext);
    KeInitializeTimer(&ext->Timer);
    due.QuadPart = -10000LL * TICK_PERIOD_MS; /* relative, 100 ns units */
    KeSetTimerEx(&ext->Timer, due, TICK_PERIOD_MS, &ext->Dpc);
    driver->MajorFunction[IRP_MJ_CREATE] = TickerCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = TickerCreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TickerDeviceControl;
    driver->DriverUnload = TickerUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
