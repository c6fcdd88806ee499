/* vf_async.c - plain-C WDM drivers for the verifier's IRP races and forwarding (test_verifier.py):
 *
 *   VF_WORKER               IOCTL_ASYNC is completed by a work item on another thread while
 *                           dispatch returns STATUS_PENDING; IoMarkIrpPending first (correct)
 *   VF_WORKER + VFBUG_NO_MARK  the same without IoMarkIrpPending (PENDING_WITHOUT_MARK)
 *   VF_FORWARD_LOWER        completes every IOCTL_ASYNC (a lower driver)
 *   VF_FORWARD_UPPER        forwards IOCTL_ASYNC to vf_fwd_lower's device (\Driver\vf_fwd_lower) with a completion routine
 *                           that returns STATUS_MORE_PROCESSING_REQUIRED, waits for it, then
 *                           completes the IRP itself: the classic forward-and-wait, legitimate
 *
 * SAMPLE_NAME names the device (\Device\SAMPLE_NAME, \DosDevices\SAMPLE_NAME). */
#include <ntddk.h>

#define SAMPLE_WIDE2(s) L##s
#define SAMPLE_WIDE(s) SAMPLE_WIDE2(s)
#define SAMPLE_STR2(x) #x
#define SAMPLE_STR(x) SAMPLE_STR2(x)
#ifdef VF_FORWARD_UPPER
/* Exported by ntoskrnl, not declared by mingw-w64's DDK headers. IoDriverObjectType is the
 * POBJECT_TYPE variable itself. */
NTSYSAPI NTSTATUS NTAPI ObReferenceObjectByName(PUNICODE_STRING name, ULONG attributes, PACCESS_STATE state, ACCESS_MASK access,
                                                POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID parse, PVOID *object);
extern NTSYSAPI POBJECT_TYPE IoDriverObjectType;
#endif

#define IOCTL_ASYNC CTL_CODE(FILE_DEVICE_UNKNOWN, 0x910, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x222440 */

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD AsyncUnload;
static DRIVER_DISPATCH AsyncCreateClose;
static DRIVER_DISPATCH AsyncDeviceControl;

static NTSTATUS AsyncCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

#ifdef VF_WORKER
static IO_WORKITEM_ROUTINE AsyncWork;
static VOID AsyncWork(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIRP irp = (PIRP)Context;
    PIO_WORKITEM item = (PIO_WORKITEM)irp->Tail.Overlay.DriverContext[0];
    UNREFERENCED_PARAMETER(DeviceObject);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    IoFreeWorkItem(item);
}
#endif

#ifdef VF_FORWARD_UPPER
static IO_COMPLETION_ROUTINE AsyncForwarded;
static NTSTATUS AsyncForwarded(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED; /* the IRP is ours again */
}
#endif

static NTSTATUS AsyncDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_ASYNC) {
        Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
#if defined(VF_WORKER)
    {
        PIO_WORKITEM item = IoAllocateWorkItem(DeviceObject);
        if (item == NULL) {
            Irp->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
            Irp->IoStatus.Information = 0;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        Irp->Tail.Overlay.DriverContext[0] = item;
#ifndef VFBUG_NO_MARK
        IoMarkIrpPending(Irp);
#endif
        IoQueueWorkItem(item, AsyncWork, DelayedWorkQueue, Irp);
        return STATUS_PENDING;
    }
#elif defined(VF_FORWARD_UPPER)
    {
        /* Not IoGetDeviceObjectPointer: Wine 8's is a stub that hands back a fake device whose
         * driver has no dispatch routines (a call through it jumps to address 0). The lower
         * driver's object by name is what Wine implements. */
        UNICODE_STRING lower_name = RTL_CONSTANT_STRING(L"\\Driver\\vf_fwd_lower");
        PDRIVER_OBJECT lower = NULL;
        KEVENT done;
        NTSTATUS status = ObReferenceObjectByName(&lower_name, OBJ_CASE_INSENSITIVE, NULL, 0, IoDriverObjectType, KernelMode, NULL,
                                                  (PVOID *)&lower);
        UNREFERENCED_PARAMETER(DeviceObject);
        if (NT_SUCCESS(status) && lower->DeviceObject == NULL) {
            ObDereferenceObject(lower);
            status = STATUS_NO_SUCH_DEVICE;
        }
        if (NT_SUCCESS(status)) {
            KeInitializeEvent(&done, NotificationEvent, FALSE);
            IoCopyCurrentIrpStackLocationToNext(Irp);
            IoSetCompletionRoutine(Irp, AsyncForwarded, &done, TRUE, TRUE, TRUE);
            if (IoCallDriver(lower->DeviceObject, Irp) == STATUS_PENDING) KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
            status = Irp->IoStatus.Status;
            ObDereferenceObject(lower);
        }
        Irp->IoStatus.Status = status;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT); /* the second completion of this IRP, and a legitimate one */
        return status;
    }
#else
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
#endif
}

static VOID AsyncUnload(PDRIVER_OBJECT DriverObject)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, 0, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
#ifdef VF_FORWARD_UPPER
    device->StackSize = 2; /* one location for us, one for vf_fwd_lower's device */
#endif
    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = AsyncCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = AsyncCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = AsyncDeviceControl;
    DriverObject->DriverUnload = AsyncUnload;
    return STATUS_SUCCESS;
}
