/* vf_routines.c - a plain C, WDM-style driver with the two routines a kernel calls at
 * DISPATCH_LEVEL, a timer's DPC and a cancel routine, for the verifier's IRQL rules
 * (tests/e2e/test_verifier_checks.py, class IrqlRules). Built correct once (vf_routines.sys) and
 * once per defect, each a mistake real drivers make:
 *
 *   IOCTL_ROUTINES_TICK  sets a one-shot timer (KeSetTimer) whose DPC takes a snapshot block from
 *                        non-paged pool and polls the "stop" event with a zero timeout (both allowed
 *                        at DISPATCH_LEVEL), then signals the request, which waits for it (at PASSIVE_LEVEL)
 *   IOCTL_ROUTINES_PARK  parks the request, cancel-safe the classic way (IoSetCancelRoutine under the
 *                        queue lock); its cancel routine releases the cancel spin lock first, then
 *                        unlinks the IRP under the queue lock and completes it STATUS_CANCELLED
 *
 *   VFBUG_DPC_PAGED_POOL      the DPC's snapshot block comes from PagedPool
 *   VFBUG_DPC_WAITS           the DPC waits for the stop event with a 1 ms timeout (not a poll)
 *   VFBUG_CANCEL_KEEPS_CANCEL_LOCK  the cancel routine never calls IoReleaseCancelSpinLock
 *   VFBUG_CANCEL_KEEPS_OWN_LOCK     the cancel routine counts the cancellation under its statistics
 *                             lock and returns without releasing it
 *   VFBUG_CANCEL_WRONG_IRQL   the cancel routine releases the cancel spin lock to DISPATCH_LEVEL
 *                             ("it was called at DISPATCH_LEVEL"), not to Irp->CancelIrql
 *   VF_DPC_BY_HAND            the KDPC is filled in by hand, not by KeInitializeDpc (the verifier
 *                             then arms it when KeSetTimer is given it)
 *   VF_PERIODIC               TICK sets a periodic timer (KeSetTimerEx, every 10 ms), which stays set
 *                             until DriverUnload cancels it (KeCancelTimer)
 *   VFBUG_UNLOAD_KEEPS_TIMER  DriverUnload forgets KeCancelTimer: the timer, still set, is in the
 *                             device extension IoDeleteDevice frees, its DPC in the image going away
 *
 * SAMPLE_NAME names the device (\Device\SAMPLE_NAME, \DosDevices\SAMPLE_NAME). */
#include <ntddk.h>

#ifndef SAMPLE_NAME
#define SAMPLE_NAME vf_routines
#endif
#define SAMPLE_WIDE2(s) L##s
#define SAMPLE_WIDE(s) SAMPLE_WIDE2(s)
#define SAMPLE_STR2(x) #x
#define SAMPLE_STR(x) SAMPLE_STR2(x)

#define IOCTL_ROUTINES_TICK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x920, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x222480 */
#define IOCTL_ROUTINES_PARK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x921, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x222484 */
#define ROUTINES_TAG 'tuoR'

#ifdef VFBUG_DPC_PAGED_POOL
#define SNAPSHOT_POOL PagedPool
#else
#define SNAPSHOT_POOL NonPagedPoolNx
#endif

typedef struct _ROUTINES_EXTENSION {
    KTIMER Timer;
    KDPC Dpc;
    KEVENT Ticked;     /* set by the DPC */
    KEVENT Stop;       /* never set while a request runs: what the DPC polls */
    KSPIN_LOCK Lock;   /* guards Parked */
    LIST_ENTRY Parked; /* parked IOCTL_ROUTINES_PARK IRPs */
    KSPIN_LOCK StatsLock;
    LONG Cancelled;
} ROUTINES_EXTENSION, *PROUTINES_EXTENSION;

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD RoutinesUnload;
static DRIVER_DISPATCH RoutinesCreateClose;
static DRIVER_DISPATCH RoutinesDeviceControl;
static KDEFERRED_ROUTINE RoutinesDpc;
static DRIVER_CANCEL RoutinesCancel;

static NTSTATUS RoutinesComplete(PIRP Irp, NTSTATUS status)
{
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS RoutinesCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return RoutinesComplete(Irp, STATUS_SUCCESS);
}

/* IRQL: DISPATCH_LEVEL. */
static VOID RoutinesDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    PROUTINES_EXTENSION ext = (PROUTINES_EXTENSION)Context;
    PVOID snapshot;
    LARGE_INTEGER timeout;
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    snapshot = ExAllocatePoolWithTag(SNAPSHOT_POOL, 32, ROUTINES_TAG);
    if (snapshot != NULL) ExFreePoolWithTag(snapshot, ROUTINES_TAG);
#ifdef VFBUG_DPC_WAITS
    timeout.QuadPart = -10000LL; /* "only a millisecond" */
#else
    timeout.QuadPart = 0; /* a poll */
#endif
    if (KeWaitForSingleObject(&ext->Stop, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS) return;
    KeSetEvent(&ext->Ticked, IO_NO_INCREMENT, FALSE);
}

/* Called holding the cancel spin lock. IRQL: DISPATCH_LEVEL. */
static VOID RoutinesCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PROUTINES_EXTENSION ext = (PROUTINES_EXTENSION)DeviceObject->DeviceExtension;
    KIRQL irql;
#if defined(VFBUG_CANCEL_WRONG_IRQL)
    IoReleaseCancelSpinLock(DISPATCH_LEVEL);
#elif !defined(VFBUG_CANCEL_KEEPS_CANCEL_LOCK)
    IoReleaseCancelSpinLock(Irp->CancelIrql);
#endif
    KeAcquireSpinLock(&ext->Lock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    KeAcquireSpinLock(&ext->StatsLock, &irql);
    ++ext->Cancelled;
#ifndef VFBUG_CANCEL_KEEPS_OWN_LOCK
    KeReleaseSpinLock(&ext->StatsLock, irql);
#endif
    RoutinesComplete(Irp, STATUS_CANCELLED);
}

static NTSTATUS RoutinesTick(PROUTINES_EXTENSION ext)
{
    LARGE_INTEGER due, wait;
    due.QuadPart = -10000LL; /* 1 ms from now */
    wait.QuadPart = -20000000LL; /* 2 s */
    KeClearEvent(&ext->Ticked);
#ifdef VF_PERIODIC
    KeSetTimerEx(&ext->Timer, due, 10, &ext->Dpc);
#else
    KeSetTimer(&ext->Timer, due, &ext->Dpc);
#endif
    return KeWaitForSingleObject(&ext->Ticked, Executive, KernelMode, FALSE, &wait) == STATUS_SUCCESS ? STATUS_SUCCESS : STATUS_IO_TIMEOUT;
}

static NTSTATUS RoutinesPark(PROUTINES_EXTENSION ext, PIRP Irp)
{
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    IoSetCancelRoutine(Irp, RoutinesCancel);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&ext->Lock, irql);
        return RoutinesComplete(Irp, STATUS_CANCELLED); /* cancelled before it was parked */
    }
    IoMarkIrpPending(Irp);
    InsertTailList(&ext->Parked, &Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->Lock, irql);
    return STATUS_PENDING;
}

static NTSTATUS RoutinesDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PROUTINES_EXTENSION ext = (PROUTINES_EXTENSION)DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_ROUTINES_TICK:
        return RoutinesComplete(Irp, RoutinesTick(ext));
    case IOCTL_ROUTINES_PARK:
        return RoutinesPark(ext, Irp);
    default:
        return RoutinesComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

static VOID RoutinesUnload(PDRIVER_OBJECT DriverObject)
{
    PROUTINES_EXTENSION ext = (PROUTINES_EXTENSION)DriverObject->DeviceObject->DeviceExtension;
    KIRQL irql;
#ifndef VFBUG_UNLOAD_KEEPS_TIMER
    KeCancelTimer(&ext->Timer);
#endif
    KeFlushQueuedDpcs();
    /* Parked requests whose cancel routine can still be taken back complete as cancelled. */
    for (;;) {
        PIRP irp = NULL;
        PLIST_ENTRY entry;
        KeAcquireSpinLock(&ext->Lock, &irql);
        for (entry = ext->Parked.Flink; entry != &ext->Parked; entry = entry->Flink) {
            PIRP candidate = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
            if (IoSetCancelRoutine(candidate, NULL) == NULL) continue; /* being cancelled: its routine completes it */
            RemoveEntryList(entry);
            irp = candidate;
            break;
        }
        KeReleaseSpinLock(&ext->Lock, irql);
        if (irp == NULL) break;
        RoutinesComplete(irp, STATUS_CANCELLED);
    }
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device = NULL;
    PROUTINES_EXTENSION ext;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);

    status = IoCreateDevice(DriverObject, sizeof(ROUTINES_EXTENSION), &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN,
                            FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    ext = (PROUTINES_EXTENSION)device->DeviceExtension;
    KeInitializeTimer(&ext->Timer);
#ifdef VF_DPC_BY_HAND
    RtlZeroMemory(&ext->Dpc, sizeof(ext->Dpc));
    ext->Dpc.DeferredRoutine = RoutinesDpc;
    ext->Dpc.DeferredContext = ext;
#else
    KeInitializeDpc(&ext->Dpc, RoutinesDpc, ext);
#endif
    KeInitializeEvent(&ext->Ticked, NotificationEvent, FALSE);
    KeInitializeEvent(&ext->Stop, NotificationEvent, FALSE);
    KeInitializeSpinLock(&ext->Lock);
    InitializeListHead(&ext->Parked);
    KeInitializeSpinLock(&ext->StatsLock);
    ext->Cancelled = 0;

    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = RoutinesCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = RoutinesCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = RoutinesDeviceControl;
    DriverObject->DriverUnload = RoutinesUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
