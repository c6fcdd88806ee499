/* @NAME@.sys - lesson 8, worked solution: a periodic timer whose DPC counts ticks under a spin
 * lock; IOCTL_@UPPER@_TICKS returns the count. DriverUnload stops the timer and waits for a DPC
 * already queued before the code and the device extension it uses go away. */
#include <ntddk.h>

#define IOCTL_@UPPER@_TICKS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222000: out = ULONG */
#define TICK_PERIOD_MS 10

typedef struct _@UPPER@_EXTENSION {
    KTIMER Timer;
    KDPC Dpc;         /* what the timer queues at each due time */
    KSPIN_LOCK Lock;  /* guards Ticks: the DPC (any processor) and the IOCTL race */
    ULONG Ticks;
} @UPPER@_EXTENSION, *P@UPPER@_EXTENSION;

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\@NAME@");
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\@NAME@");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH DriverDispatcher;
static DRIVER_UNLOAD DriverUnload;
static KDEFERRED_ROUTINE CountTick;

/* IRQL: DISPATCH_LEVEL: no waiting, no pageable memory. */
static VOID NTAPI CountTick(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2)
{
    P@UPPER@_EXTENSION ext = (P@UPPER@_EXTENSION)context;
    (void)dpc;
    (void)arg1;
    (void)arg2;
    KeAcquireSpinLockAtDpcLevel(&ext->Lock); /* already at DISPATCH_LEVEL */
    ext->Ticks++;
    KeReleaseSpinLockFromDpcLevel(&ext->Lock);
}

static NTSTATUS NTAPI DriverDispatcher(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    P@UPPER@_EXTENSION ext = (P@UPPER@_EXTENSION)device->DeviceExtension;
    NTSTATUS status = STATUS_SUCCESS; /* create, close */
    ULONG_PTR information = 0;
    KIRQL irql;

    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_@UPPER@_TICKS) {
            status = STATUS_INVALID_DEVICE_REQUEST;
        } else if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            KeAcquireSpinLock(&ext->Lock, &irql);
            *(PULONG)irp->AssociatedIrp.SystemBuffer = ext->Ticks;
            KeReleaseSpinLock(&ext->Lock, irql);
            information = sizeof(ULONG);
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver)
{
    P@UPPER@_EXTENSION ext = (P@UPPER@_EXTENSION)driver->DeviceObject->DeviceExtension;
    KeCancelTimer(&ext->Timer); /* no further due time queues the DPC */
    KeFlushQueuedDpcs();        /* and one queued already has run: nothing of ours runs after this */
    DbgPrint("@NAME@: DriverUnload: timer cancelled after %lu ticks\n", (unsigned long)ext->Ticks);
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    P@UPPER@_EXTENSION ext;
    LARGE_INTEGER due;
    NTSTATUS status;
    (void)registry_path;

    status = IoCreateDevice(driver, sizeof(@UPPER@_EXTENSION), &g_device_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext = (P@UPPER@_EXTENSION)device->DeviceExtension;
    KeInitializeSpinLock(&ext->Lock);
    ext->Ticks = 0;
    KeInitializeDpc(&ext->Dpc, CountTick, ext);
    KeInitializeTimer(&ext->Timer);
    due.QuadPart = -10000LL * TICK_PERIOD_MS; /* relative, in 100 ns units */
    KeSetTimerEx(&ext->Timer, due, TICK_PERIOD_MS, &ext->Dpc); /* then every TICK_PERIOD_MS */

    driver->MajorFunction[IRP_MJ_CREATE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLOSE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DriverDispatcher;
    driver->DriverUnload = DriverUnload;
    DbgPrint("@NAME@: DriverEntry: ticking every %u ms\n", TICK_PERIOD_MS);
    return STATUS_SUCCESS;
}
