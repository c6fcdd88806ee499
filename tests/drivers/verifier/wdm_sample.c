/* wdm_sample.c - a plain C, WDM-style legacy driver, written the way countless sample drivers are
 * and not in this project's C++ style: the verifier's proof that it checks drivers it was not
 * written with. Built once as it should be (wdm_sample.sys, which must pass verification) and
 * once per defect below, each defect switched on by one macro, each a mistake real drivers make:
 *
 *   VFBUG_SKIP_PROBE       METHOD_NEITHER output written without ProbeForWrite
 *   VFBUG_POOL_LEAK        a buffer allocated in DriverEntry and never freed
 *   VFBUG_DOUBLE_COMPLETE  the buffered IOCTL completes its IRP twice
 *   VFBUG_INFO_TOO_LARGE   the buffered IOCTL reports more bytes than the caller's buffer holds
 *   VFBUG_ENTRY_LEAK       DriverEntry's IoCreateSymbolicLink failure path forgets the device and pool
 *   VFBUG_EXEC_POOL        the device's scratch buffer comes from executable NonPagedPool
 *   VFBUG_DOUBLE_FREE      DriverUnload frees the scratch buffer twice
 *   VFBUG_TAG_ZERO         the scratch buffer is allocated with pool tag 0
 *   VFBUG_HANDLE_LEAK      DriverEntry opens its registry key and never closes it
 *   VFBUG_PENDING_NO_MARK  the buffered IOCTL returns STATUS_PENDING without IoMarkIrpPending
 *   VFBUG_PROBE_FIRST_BYTE METHOD_NEITHER output probed for its first byte only, then written whole
 *   VFBUG_SKIP_INPUT_PROBE METHOD_NEITHER input read without ProbeForRead
 *   VFBUG_UNGUARDED_READ   METHOD_NEITHER input read without ProbeForRead, by a loop of its own
 *                          before any call in the __try, which clang's x64 guard therefore does not
 *                          cover (it covers calls): a bad pointer from the in-host prober ends the host
 *   VFBUG_POOL_OVERRUN     the buffered IOCTL clears its scratch buffer one byte too far (i <= size)
 *   VFBUG_POOL_UNDERRUN    the buffered IOCTL clears its scratch buffer from one byte before it
 *   VFBUG_USE_AFTER_FREE   DriverUnload wipes the scratch buffer after freeing it, not before
 *   VFBUG_SUCCESS_ON_ALLOC_FAILURE  the buffered IOCTL answers STATUS_SUCCESS when its reply block
 *                          cannot be allocated ("nothing to say")
 *   VFBUG_LEAK_ON_ALLOC_FAILURE     ...and forgets its log block on that failure path
 *   VFBUG_PAGED_AT_DISPATCH  the buffered IOCTL allocates paged pool while it holds its spin lock
 *   VFBUG_LOCK_HELD_ON_RETURN the buffered IOCTL returns without releasing its spin lock
 *   VF_RAISE_IRQL          (x86 only) the buffered IOCTL clears its scratch buffer at DISPATCH_LEVEL
 *                          through KeRaiseIrql/KeLowerIrql (hal imports on x86; inline CR8 on x64)
 *   VFBUG_IRQL_NOT_RESTORED ...and returns without its KeLowerIrql
 *
 * SAMPLE_NAME names the device (\Device\SAMPLE_NAME, \DosDevices\SAMPLE_NAME). */
#include <ntddk.h>

#ifndef SAMPLE_NAME
#define SAMPLE_NAME wdm_sample
#endif
#define SAMPLE_WIDE2(s) L##s
#define SAMPLE_WIDE(s) SAMPLE_WIDE2(s)
#define SAMPLE_STR2(x) #x
#define SAMPLE_STR(x) SAMPLE_STR2(x)

#ifdef VFBUG_TAG_ZERO
#define SAMPLE_TAG 0
#else
#define SAMPLE_TAG 'pmaS'
#endif
#define IOCTL_SAMPLE_BUFFERED CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x222400 */
#define IOCTL_SAMPLE_NEITHER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_NEITHER, FILE_ANY_ACCESS)   /* 0x222407 */

#ifdef VFBUG_EXEC_POOL
#define SAMPLE_POOL NonPagedPool
#else
#define SAMPLE_POOL NonPagedPoolNx
#endif

static const char g_answer[] = "sample";
static KSPIN_LOCK g_scratch_lock; /* the scratch buffer is shared by every request */

#define SAMPLE_SCRATCH_SIZE 64
#if defined(VFBUG_POOL_OVERRUN)
#define SAMPLE_SCRATCH_END (SAMPLE_SCRATCH_SIZE + 1)
#else
#define SAMPLE_SCRATCH_END SAMPLE_SCRATCH_SIZE
#endif
#if defined(VFBUG_POOL_UNDERRUN)
#define SAMPLE_SCRATCH_START (-1)
#else
#define SAMPLE_SCRATCH_START 0
#endif

typedef struct _SAMPLE_EXTENSION {
    PVOID scratch;
} SAMPLE_EXTENSION, *PSAMPLE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SampleUnload;
static DRIVER_DISPATCH SampleCreateClose;
static DRIVER_DISPATCH SampleDeviceControl;

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\" SAMPLE_WIDE(SAMPLE_STR(SAMPLE_NAME)));

static NTSTATUS SampleCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

/* METHOD_NEITHER: Irp->UserBuffer is the caller's raw address; touched only inside __try, in a
 * function of its own, kept out of line: the kit's PE lint checks that every copy in a function
 * that probes is guarded, and SampleDeviceControl also copies into the (safe) system buffer. */
#if defined(__i386__)
/* x86: clang for i686-w64-windows-gnu does not lower __try/__except (kit/driver/kmd/guarded.hpp),
 * and this plain C sample has no kit seam to lean on: the accesses are unguarded there, which the
 * verifier's tests never provoke (their buffers are valid). */
#define SAMPLE_TRY if (1)
#define SAMPLE_EXCEPT else
#else
/* x64: clang's __try covers the calls made inside it (its SEH tables map call sites), not a load or
 * store of this function's own: every first touch of the caller's memory below is therefore a call
 * (RtlCompareMemory, RtlZeroMemory), so that a bad pointer faults inside the guard. The code is
 * taken in the filter, which sees the exception record: the __except body's GetExceptionCode()
 * reads what the unwind left, and Wine 8's __C_specific_handler leaves 0 there (Windows: the
 * code), which would turn a fault into success. */
static LONG SampleTakeCode(NTSTATUS code, NTSTATUS *fault)
{
    *fault = code != 0 ? code : STATUS_UNSUCCESSFUL;
    return EXCEPTION_EXECUTE_HANDLER;
}
#define SAMPLE_TRY __try
#define SAMPLE_EXCEPT __except (SampleTakeCode(GetExceptionCode(), &fault))
#endif
static __declspec(noinline) NTSTATUS SampleNeither(PIRP Irp, ULONG outLength, ULONG_PTR *information)
{
    NTSTATUS status = STATUS_SUCCESS;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    const UCHAR *input = (const UCHAR *)stack->Parameters.DeviceIoControl.Type3InputBuffer;
    ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    volatile SIZE_T sum = 0;
    NTSTATUS fault = STATUS_UNSUCCESSFUL; /* the exception's code, from the filter */
    if (outLength < sizeof(g_answer) || Irp->UserBuffer == NULL) return STATUS_BUFFER_TOO_SMALL;
    SAMPLE_TRY {
        if (input != NULL && inLength != 0) {
#if !defined(VFBUG_SKIP_INPUT_PROBE) && !defined(VFBUG_UNGUARDED_READ)
            if (Irp->RequestorMode != KernelMode) ProbeForRead((PVOID)input, inLength, 1);
#endif
#ifdef VFBUG_UNGUARDED_READ
            {
                ULONG i;
                for (i = 0; i < inLength; ++i) sum += input[i];
            }
#else
            sum = RtlCompareMemory(input, input, inLength); /* the input is read: a check nobody needs */
#endif
            (void)sum;
        }
#if defined(VFBUG_PROBE_FIRST_BYTE)
        if (Irp->RequestorMode != KernelMode) ProbeForWrite(Irp->UserBuffer, 1, 1);
#elif !defined(VFBUG_SKIP_PROBE)
        if (Irp->RequestorMode != KernelMode) ProbeForWrite(Irp->UserBuffer, outLength, 1);
#endif
        RtlZeroMemory(Irp->UserBuffer, outLength); /* the answer, zero-padded to the buffer's end */
        RtlCopyMemory(Irp->UserBuffer, g_answer, sizeof(g_answer));
        *information = sizeof(g_answer);
    } SAMPLE_EXCEPT {
        status = fault;
    }
    return status;
}

/* The buffered answer is built in pool blocks of its own, a log record and the reply, as a driver
 * that formats its answers does: two failable calls per request, for the verifier's low-resources
 * simulation to fail. */
static NTSTATUS SampleBuildReply(PVOID systemBuffer)
{
    PCHAR log, reply;
    log = (PCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, 32, 'goLS');
    if (log == NULL) return STATUS_INSUFFICIENT_RESOURCES;
    reply = (PCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(g_answer), SAMPLE_TAG);
    if (reply == NULL) {
#ifndef VFBUG_LEAK_ON_ALLOC_FAILURE
        ExFreePoolWithTag(log, 'goLS');
#endif
#ifdef VFBUG_SUCCESS_ON_ALLOC_FAILURE
        return STATUS_SUCCESS;
#else
        return STATUS_INSUFFICIENT_RESOURCES;
#endif
    }
    RtlCopyMemory(log, "buffered", sizeof("buffered"));
    RtlCopyMemory(reply, g_answer, sizeof(g_answer));
    RtlCopyMemory(systemBuffer, reply, sizeof(g_answer));
    ExFreePoolWithTag(reply, SAMPLE_TAG);
    ExFreePoolWithTag(log, 'goLS');
    return STATUS_SUCCESS;
}

static NTSTATUS SampleDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG outLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SAMPLE_BUFFERED: {
        /* The scratch buffer is cleared before each request, a byte at a time (volatile: the loop
         * stays in this function, so a fault names this instruction, not a memset). */
        volatile UCHAR *scratch = (volatile UCHAR *)((PSAMPLE_EXTENSION)DeviceObject->DeviceExtension)->scratch;
        KIRQL oldIrql;
        int i;
        KeAcquireSpinLock(&g_scratch_lock, &oldIrql);
        for (i = SAMPLE_SCRATCH_START; i < SAMPLE_SCRATCH_END; ++i) scratch[i] = 0;
#ifdef VF_RAISE_IRQL
        {
            /* Raised "to keep the clear atomic" once more, after the lock. */
            KIRQL raised;
            KeReleaseSpinLock(&g_scratch_lock, oldIrql);
            KeRaiseIrql(DISPATCH_LEVEL, &raised);
            for (i = SAMPLE_SCRATCH_START; i < SAMPLE_SCRATCH_END; ++i) scratch[i] = 0;
#ifndef VFBUG_IRQL_NOT_RESTORED
            KeLowerIrql(raised);
#endif
            KeAcquireSpinLock(&g_scratch_lock, &oldIrql);
        }
#endif
#ifdef VFBUG_PAGED_AT_DISPATCH
        {
            /* "Just a small note": paged pool at DISPATCH_LEVEL. */
            PVOID note = ExAllocatePoolWithTag(PagedPool, 16, 'etoN');
            if (note != NULL) ExFreePoolWithTag(note, 'etoN');
        }
#endif
#ifndef VFBUG_LOCK_HELD_ON_RETURN
        KeReleaseSpinLock(&g_scratch_lock, oldIrql);
#endif
        if (outLength < sizeof(g_answer)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        status = SampleBuildReply(Irp->AssociatedIrp.SystemBuffer);
        if (!NT_SUCCESS(status)) break;
#ifdef VFBUG_INFO_TOO_LARGE
        information = outLength + 64;
#else
        information = sizeof(g_answer);
#endif
#ifdef VFBUG_DOUBLE_COMPLETE
        Irp->IoStatus.Status = status;
        Irp->IoStatus.Information = information;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
#endif
        break;
    }
    case IOCTL_SAMPLE_NEITHER:
        status = SampleNeither(Irp, outLength, &information);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
#ifdef VFBUG_PENDING_NO_MARK
    /* "It may still be running": but the IRP was never marked pending. */
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SAMPLE_BUFFERED) return STATUS_PENDING;
#endif
    return status;
}

static VOID SampleUnload(PDRIVER_OBJECT DriverObject)
{
    PSAMPLE_EXTENSION ext = (PSAMPLE_EXTENSION)DriverObject->DeviceObject->DeviceExtension;
    IoDeleteSymbolicLink(&g_link_name);
#ifndef VFBUG_USE_AFTER_FREE
    RtlSecureZeroMemory(ext->scratch, SAMPLE_SCRATCH_SIZE); /* what it held is nobody's business */
#endif
    ExFreePoolWithTag(ext->scratch, SAMPLE_TAG);
#ifdef VFBUG_USE_AFTER_FREE
    RtlSecureZeroMemory(ext->scratch, SAMPLE_SCRATCH_SIZE);
#endif
#ifdef VFBUG_DOUBLE_FREE
    ExFreePoolWithTag(ext->scratch, SAMPLE_TAG);
#endif
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device = NULL;
    PSAMPLE_EXTENSION ext;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);

    KeInitializeSpinLock(&g_scratch_lock);
    status = IoCreateDevice(DriverObject, sizeof(SAMPLE_EXTENSION), &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN,
                            FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    ext = (PSAMPLE_EXTENSION)device->DeviceExtension;

    ext->scratch = ExAllocatePoolWithTag(SAMPLE_POOL, SAMPLE_SCRATCH_SIZE, SAMPLE_TAG);
    if (ext->scratch == NULL) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
#ifndef VFBUG_ENTRY_LEAK
        ExFreePoolWithTag(ext->scratch, SAMPLE_TAG);
        IoDeleteDevice(device);
#endif
        return status;
    }

#ifdef VFBUG_POOL_LEAK
    /* A "cache" nobody remembers to free. */
    if (ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'kaeL') == NULL) {
        IoDeleteSymbolicLink(&g_link_name);
        ExFreePoolWithTag(ext->scratch, SAMPLE_TAG);
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
#endif

#ifdef VFBUG_HANDLE_LEAK
    {
        /* Reads nothing yet; the handle is simply forgotten. */
        OBJECT_ATTRIBUTES attributes;
        HANDLE key;
        InitializeObjectAttributes(&attributes, RegistryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
        if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &attributes))) key = NULL;
    }
#endif

    DriverObject->MajorFunction[IRP_MJ_CREATE] = SampleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = SampleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SampleDeviceControl;
    DriverObject->DriverUnload = SampleUnload;
    return STATUS_SUCCESS;
}
