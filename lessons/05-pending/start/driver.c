/* @NAME@.sys - lesson 5's starting point: a request that pends. IOCTL_@UPPER@_WAIT parks the
 * caller's request in a queue; IOCTL_@UPPER@_FIRE (a ULONG) completes the oldest parked one with
 * that value. It works until a caller gives up: the two EXERCISEs below (docs/lessons/05-pending.md).
 * Use the classic IoSetCancelRoutine protocol (Wine 8 stubs the cancel-safe queue, IoCsq*): whoever
 * takes the cancel routine back (IoSetCancelRoutine(irp, NULL) returns non-NULL) owns the IRP and
 * completes it. */
#include <ntddk.h>

/* CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 / 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS). */
#define IOCTL_@UPPER@_WAIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222000: out = ULONG */
#define IOCTL_@UPPER@_FIRE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222004: in = ULONG */

typedef struct _@UPPER@_EXTENSION {
    KSPIN_LOCK Lock;   /* guards Parked: the dispatch routine, FIRE and the cancel routine race */
    LIST_ENTRY Parked; /* pended WAIT IRPs, oldest first, linked through Tail.Overlay.ListEntry */
} @UPPER@_EXTENSION, *P@UPPER@_EXTENSION;

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\@NAME@");
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\@NAME@");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH DriverDispatcher;
static DRIVER_UNLOAD DriverUnload;

static NTSTATUS Complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

/* Parks the IRP and returns STATUS_PENDING, or STATUS_CANCELLED when it was cancelled before it
 * could be parked (then the caller completes it). */
static NTSTATUS Park(P@UPPER@_EXTENSION ext, PIRP irp)
{
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    /* EXERCISE 1: a parked request that its caller cancels (CancelIo) stays here until FIRE. Write
     * a DRIVER_CANCEL routine that unlinks it (under ext->Lock) and completes it with
     * STATUS_CANCELLED; set it here with IoSetCancelRoutine, and if irp->Cancel is already set and
     * you take the routine back, return STATUS_CANCELLED instead of parking. */
    IoMarkIrpPending(irp); /* before anyone else can complete it */
    InsertTailList(&ext->Parked, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    return STATUS_PENDING;
}

/* Takes the oldest parked IRP whose cancel routine we could take back; NULL when none is left. */
static PIRP TakeOldest(P@UPPER@_EXTENSION ext)
{
    PLIST_ENTRY entry;
    PIRP found = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    for (entry = ext->Parked.Flink; entry != &ext->Parked; entry = entry->Flink) {
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        /* EXERCISE 1 too: only an IRP whose cancel routine you take back here is yours to complete. */
        RemoveEntryList(entry);
        found = irp;
        break;
    }
    KeReleaseSpinLock(&ext->Lock, irql);
    return found;
}

static NTSTATUS NTAPI DriverDispatcher(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    P@UPPER@_EXTENSION ext = (P@UPPER@_EXTENSION)device->DeviceExtension;
    PIRP parked;
    NTSTATUS status;

    if (stack->MajorFunction != IRP_MJ_DEVICE_CONTROL) return Complete(irp, STATUS_SUCCESS, 0); /* create, close */
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_@UPPER@_WAIT:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        status = Park(ext, irp);
        return status == STATUS_PENDING ? STATUS_PENDING : Complete(irp, status, 0);
    case IOCTL_@UPPER@_FIRE:
        if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) return Complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        parked = TakeOldest(ext);
        if (parked == NULL) return Complete(irp, STATUS_NO_MORE_ENTRIES, 0); /* nobody waits */
        *(PULONG)parked->AssociatedIrp.SystemBuffer = *(PULONG)irp->AssociatedIrp.SystemBuffer;
        Complete(parked, STATUS_SUCCESS, sizeof(ULONG));
        return Complete(irp, STATUS_SUCCESS, 0);
    default:
        return Complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver)
{
    P@UPPER@_EXTENSION ext = (P@UPPER@_EXTENSION)driver->DeviceObject->DeviceExtension;
    /* EXERCISE 2: requests still parked are never completed: their callers wait forever for a
     * driver that is gone. Complete each (TakeOldest) with STATUS_CANCELLED before the device goes. */
    (void)ext;
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    DbgPrint("@NAME@: DriverUnload: link and device deleted\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    P@UPPER@_EXTENSION ext;
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
    InitializeListHead(&ext->Parked);

    driver->MajorFunction[IRP_MJ_CREATE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLOSE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DriverDispatcher;
    driver->DriverUnload = DriverUnload;
    DbgPrint("@NAME@: DriverEntry: \\DosDevices\\@NAME@ -> \\Device\\@NAME@\n");
    return STATUS_SUCCESS;
}
