/* notifier.c - an event-notification driver written the usual WDM way, without the kit: a
 * user-mode program passes an event handle (IOCTL_NOTIFY_REGISTER), the driver references the
 * event (ObReferenceObjectByHandle) and signals it from a timer DPC when IOCTL_NOTIFY_ARM asks
 * (after the given milliseconds). The reference is dropped on IOCTL_NOTIFY_UNREGISTER, on
 * cleanup/close of the registering handle and at unload. Device \Device\Bell. */
#include <ntddk.h>

#define IOCTL_NOTIFY_REGISTER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)   /* 0x00222080 */
#define IOCTL_NOTIFY_ARM CTL_CODE(FILE_DEVICE_UNKNOWN, 0x821, METHOD_BUFFERED, FILE_ANY_ACCESS)        /* 0x00222084 */
#define IOCTL_NOTIFY_UNREGISTER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x822, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x00222088 */

typedef struct _BELL_EXTENSION {
    KSPIN_LOCK Lock;     /* guards Event and Owner */
    PKEVENT Event;       /* referenced; NULL when nobody registered */
    PFILE_OBJECT Owner;  /* the handle that registered it */
    KTIMER Timer;
    KDPC Dpc;
    volatile LONG Rung;
} BELL_EXTENSION, *PBELL_EXTENSION;

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\Bell");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\Bell");

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD BellUnload;
static DRIVER_DISPATCH BellCreate, BellCleanupClose, BellDeviceControl;
static KDEFERRED_ROUTINE BellDpc;

/* IRQL: DISPATCH_LEVEL. */
static VOID BellDpc(PKDPC dpc, PVOID context, PVOID arg1, PVOID arg2)
{
    PBELL_EXTENSION ext = (PBELL_EXTENSION)context;
    UNREFERENCED_PARAMETER(dpc);
    UNREFERENCED_PARAMETER(arg1);
    UNREFERENCED_PARAMETER(arg2);
    KeAcquireSpinLockAtDpcLevel(&ext->Lock);
    if (ext->Event != NULL) {
        KeSetEvent(ext->Event, IO_NO_INCREMENT, FALSE);
        InterlockedIncrement(&ext->Rung);
    }
    KeReleaseSpinLockFromDpcLevel(&ext->Lock);
}

/* Drops the registration if `owner` made it (NULL: whoever did). IRQL: PASSIVE_LEVEL. */
static VOID BellUnregister(PBELL_EXTENSION ext, PFILE_OBJECT owner)
{
    PKEVENT event = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    if (ext->Event != NULL && (owner == NULL || owner == ext->Owner)) {
        event = ext->Event;
        ext->Event = NULL;
        ext->Owner = NULL;
    }
    KeReleaseSpinLock(&ext->Lock, irql);
    if (event == NULL) return;
    KeCancelTimer(&ext->Timer);
    ObDereferenceObject(event); /* the DPC reads Event under the lock: it can no longer see this one */
}

static NTSTATUS BellRegister(PBELL_EXTENSION ext, PIRP irp, ULONG inLength)
{
    PKEVENT event, old;
    KIRQL irql;
    NTSTATUS status;
    if (inLength < sizeof(HANDLE)) return STATUS_BUFFER_TOO_SMALL;
    status = ObReferenceObjectByHandle(*(PHANDLE)irp->AssociatedIrp.SystemBuffer, EVENT_MODIFY_STATE, *ExEventObjectType,
                                       irp->RequestorMode, (PVOID *)&event, NULL);
    if (!NT_SUCCESS(status)) return status;
    KeAcquireSpinLock(&ext->Lock, &irql);
    old = ext->Event;
    ext->Event = event;
    ext->Owner = IoGetCurrentIrpStackLocation(irp)->FileObject;
    KeReleaseSpinLock(&ext->Lock, irql);
    if (old != NULL) ObDereferenceObject(old);
    return STATUS_SUCCESS;
}

static NTSTATUS BellArm(PBELL_EXTENSION ext, PIRP irp, ULONG inLength)
{
    LARGE_INTEGER due;
    ULONG ms;
    BOOLEAN registered;
    KIRQL irql;
    if (inLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
    ms = *(PULONG)irp->AssociatedIrp.SystemBuffer;
    if (ms > 60000) return STATUS_INVALID_PARAMETER;
    KeAcquireSpinLock(&ext->Lock, &irql);
    registered = ext->Event != NULL;
    KeReleaseSpinLock(&ext->Lock, irql);
    if (!registered) return STATUS_INVALID_DEVICE_STATE;
    due.QuadPart = -10000LL * (LONGLONG)(ms ? ms : 1);
    KeSetTimer(&ext->Timer, due, &ext->Dpc);
    return STATUS_SUCCESS;
}

static NTSTATUS BellComplete(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS BellCreate(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    return BellComplete(irp, STATUS_SUCCESS);
}

/* IRP_MJ_CLEANUP on Windows; Wine 8 sends none, so IRP_MJ_CLOSE does the same. */
static NTSTATUS BellCleanupClose(PDEVICE_OBJECT device, PIRP irp)
{
    BellUnregister((PBELL_EXTENSION)device->DeviceExtension, IoGetCurrentIrpStackLocation(irp)->FileObject);
    return BellComplete(irp, STATUS_SUCCESS);
}

static NTSTATUS BellDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PBELL_EXTENSION ext = (PBELL_EXTENSION)device->DeviceExtension;
    ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_NOTIFY_REGISTER: return BellComplete(irp, BellRegister(ext, irp, inLength));
    case IOCTL_NOTIFY_ARM: return BellComplete(irp, BellArm(ext, irp, inLength));
    case IOCTL_NOTIFY_UNREGISTER:
        BellUnregister(ext, stack->FileObject);
        return BellComplete(irp, STATUS_SUCCESS);
    default: return BellComplete(irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

static VOID BellUnload(PDRIVER_OBJECT driver)
{
    PBELL_EXTENSION ext = (PBELL_EXTENSION)driver->DeviceObject->DeviceExtension;
    BellUnregister(ext, NULL);
    KeCancelTimer(&ext->Timer);
    KeFlushQueuedDpcs();
    DbgPrint("bell: unloading, rung %ld times\n", ext->Rung);
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    PBELL_EXTENSION ext;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);
    status = IoCreateDevice(driver, sizeof(BELL_EXTENSION), &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext = (PBELL_EXTENSION)device->DeviceExtension;
    RtlZeroMemory(ext, sizeof(*ext));
    KeInitializeSpinLock(&ext->Lock);
    KeInitializeTimer(&ext->Timer);
    KeInitializeDpc(&ext->Dpc, BellDpc, ext);
    driver->MajorFunction[IRP_MJ_CREATE] = BellCreate;
    driver->MajorFunction[IRP_MJ_CLEANUP] = BellCleanupClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = BellCleanupClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BellDeviceControl;
    driver->DriverUnload = BellUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
