/* inverted.c - an inverted-call driver written the usual WDM way, without the kit: a program
 * parks requests (IOCTL_INVERTED_WAIT, pended in a queue), and when something happens
 * (IOCTL_INVERTED_FIRE carries a ULONG) the oldest parked request completes with it. The queue is
 * cancel-safe the way Windows-driver-samples general/cancel does it, with IoSetCancelRoutine and a
 * spin lock (Wine 8 stubs IoCsq*; built with -DINVERTED_USE_IOCSQ it uses them instead), so
 * CancelIo, closing the handle or unloading completes parked requests as STATUS_CANCELLED.
 * Built with -DINVERTED_BUG_NO_CANCEL it parks without a cancel routine (a common bug: a cancelled
 * request then hangs until an event comes or the driver unloads). Device \Device\Callback. */
#include <ntddk.h>
#ifdef INVERTED_USE_IOCSQ
#include <csq.h>
#endif

#define IOCTL_INVERTED_WAIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x830, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x002220c0 */
#define IOCTL_INVERTED_FIRE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x831, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x002220c4 */

typedef struct _INVERTED_EXTENSION {
    KSPIN_LOCK Lock;   /* guards Parked */
    LIST_ENTRY Parked; /* pended IOCTL_INVERTED_WAIT IRPs, oldest first */
#ifdef INVERTED_USE_IOCSQ
    IO_CSQ Csq;
#endif
} INVERTED_EXTENSION, *PINVERTED_EXTENSION;

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\Callback");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\Callback");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD InvertedUnload;
static DRIVER_DISPATCH InvertedCreate, InvertedCleanup, InvertedDeviceControl;

static NTSTATUS InvertedComplete(PIRP irp, NTSTATUS status, ULONG_PTR info)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

#ifndef INVERTED_USE_IOCSQ
static DRIVER_CANCEL InvertedCancel;

/* Called with the cancel spin lock held. IRQL: DISPATCH_LEVEL. */
static VOID InvertedCancel(PDEVICE_OBJECT device, PIRP irp)
{
    PINVERTED_EXTENSION ext = (PINVERTED_EXTENSION)device->DeviceExtension;
    KIRQL irql;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KeAcquireSpinLock(&ext->Lock, &irql);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    InvertedComplete(irp, STATUS_CANCELLED, 0);
}

/* Parks the IRP, or says it was cancelled already (the caller completes it then). */
static NTSTATUS InvertedPark(PINVERTED_EXTENSION ext, PIRP irp)
{
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
#ifndef INVERTED_BUG_NO_CANCEL
    IoSetCancelRoutine(irp, InvertedCancel);
#endif
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {
        KeReleaseSpinLock(&ext->Lock, irql);
        return STATUS_CANCELLED; /* cancelled before it was parked, and the routine will not run */
    }
    IoMarkIrpPending(irp);
    InsertTailList(&ext->Parked, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    return STATUS_PENDING;
}

/* Takes the oldest parked IRP of `file` (NULL: any) whose cancel routine it could clear. */
static PIRP InvertedTake(PINVERTED_EXTENSION ext, PFILE_OBJECT file)
{
    PLIST_ENTRY entry;
    PIRP found = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    for (entry = ext->Parked.Flink; entry != &ext->Parked; entry = entry->Flink) {
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        if (file != NULL && IoGetCurrentIrpStackLocation(irp)->FileObject != file) continue;
#ifndef INVERTED_BUG_NO_CANCEL
        if (IoSetCancelRoutine(irp, NULL) == NULL) continue; /* being cancelled: its routine completes it */
#endif
        RemoveEntryList(entry);
        found = irp;
        break;
    }
    KeReleaseSpinLock(&ext->Lock, irql);
    return found;
}
#else
static VOID CsqInsert(PIO_CSQ csq, PIRP irp)
{
    InsertTailList(&CONTAINING_RECORD(csq, INVERTED_EXTENSION, Csq)->Parked, &irp->Tail.Overlay.ListEntry);
}
static VOID CsqRemove(PIO_CSQ csq, PIRP irp)
{
    UNREFERENCED_PARAMETER(csq);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
}
static PIRP CsqPeek(PIO_CSQ csq, PIRP irp, PVOID context)
{
    PINVERTED_EXTENSION ext = CONTAINING_RECORD(csq, INVERTED_EXTENSION, Csq);
    PLIST_ENTRY entry = irp != NULL ? irp->Tail.Overlay.ListEntry.Flink : ext->Parked.Flink;
    for (; entry != &ext->Parked; entry = entry->Flink) {
        PIRP next = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        if (context == NULL || IoGetCurrentIrpStackLocation(next)->FileObject == (PFILE_OBJECT)context) return next;
    }
    return NULL;
}
static VOID CsqAcquire(PIO_CSQ csq, PKIRQL irql)
{
    KeAcquireSpinLock(&CONTAINING_RECORD(csq, INVERTED_EXTENSION, Csq)->Lock, irql);
}
static VOID CsqRelease(PIO_CSQ csq, KIRQL irql)
{
    KeReleaseSpinLock(&CONTAINING_RECORD(csq, INVERTED_EXTENSION, Csq)->Lock, irql);
}
static VOID CsqCancelled(PIO_CSQ csq, PIRP irp)
{
    UNREFERENCED_PARAMETER(csq);
    InvertedComplete(irp, STATUS_CANCELLED, 0);
}
static NTSTATUS InvertedPark(PINVERTED_EXTENSION ext, PIRP irp)
{
    IoCsqInsertIrp(&ext->Csq, irp, NULL); /* marks it pending */
    return STATUS_PENDING;
}
static PIRP InvertedTake(PINVERTED_EXTENSION ext, PFILE_OBJECT file)
{
    return IoCsqRemoveNextIrp(&ext->Csq, file);
}
#endif

static NTSTATUS InvertedCreate(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    return InvertedComplete(irp, STATUS_SUCCESS, 0);
}

/* IRP_MJ_CLEANUP (and IRP_MJ_CLOSE, since Wine 8 sends no cleanup): the handle's parked requests
 * are cancelled. */
static NTSTATUS InvertedCleanup(PDEVICE_OBJECT device, PIRP irp)
{
    PINVERTED_EXTENSION ext = (PINVERTED_EXTENSION)device->DeviceExtension;
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
    PIRP parked;
    while ((parked = InvertedTake(ext, file)) != NULL) InvertedComplete(parked, STATUS_CANCELLED, 0);
    return InvertedComplete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS InvertedDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PINVERTED_EXTENSION ext = (PINVERTED_EXTENSION)device->DeviceExtension;
    PIRP parked;
    NTSTATUS status;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_INVERTED_WAIT:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) return InvertedComplete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        status = InvertedPark(ext, irp);
        return status == STATUS_PENDING ? STATUS_PENDING : InvertedComplete(irp, status, 0);
    case IOCTL_INVERTED_FIRE:
        if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) return InvertedComplete(irp, STATUS_BUFFER_TOO_SMALL, 0);
        parked = InvertedTake(ext, NULL);
        if (parked == NULL) return InvertedComplete(irp, STATUS_NO_MORE_ENTRIES, 0); /* nobody waits */
        *(PULONG)parked->AssociatedIrp.SystemBuffer = *(PULONG)irp->AssociatedIrp.SystemBuffer;
        InvertedComplete(parked, STATUS_SUCCESS, sizeof(ULONG));
        return InvertedComplete(irp, STATUS_SUCCESS, 0);
    default: return InvertedComplete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static VOID InvertedUnload(PDRIVER_OBJECT driver)
{
    PINVERTED_EXTENSION ext = (PINVERTED_EXTENSION)driver->DeviceObject->DeviceExtension;
    PIRP parked;
    while ((parked = InvertedTake(ext, NULL)) != NULL) InvertedComplete(parked, STATUS_CANCELLED, 0);
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    PINVERTED_EXTENSION ext;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);
    status = IoCreateDevice(driver, sizeof(INVERTED_EXTENSION), &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext = (PINVERTED_EXTENSION)device->DeviceExtension;
    KeInitializeSpinLock(&ext->Lock);
    InitializeListHead(&ext->Parked);
#ifdef INVERTED_USE_IOCSQ
    status = IoCsqInitialize(&ext->Csq, CsqInsert, CsqRemove, CsqPeek, CsqAcquire, CsqRelease, CsqCancelled);
    if (!NT_SUCCESS(status)) {
        IoDeleteSymbolicLink(&g_link);
        IoDeleteDevice(device);
        return status;
    }
#endif
    driver->MajorFunction[IRP_MJ_CREATE] = InvertedCreate;
    driver->MajorFunction[IRP_MJ_CLEANUP] = InvertedCleanup;
    driver->MajorFunction[IRP_MJ_CLOSE] = InvertedCleanup;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = InvertedDeviceControl;
    driver->DriverUnload = InvertedUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
