/*
 * baseline.c - the yardstick for `make bench`: the smallest correct C driver that answers the
 * skeleton contract (skeleton/ioctl.h), the same codes and the same data movement per request,
 * and nothing else: no request table, no RAII, no logging, no DACL, no zeroed pool, no defence in
 * depth beyond what correctness needs. It serves \Device\skeleton_baseline (\\.\skeleton_baseline)
 * so both drivers load side by side in one Wine prefix and the bench alternates between them.
 *
 * Built for the tests only, never shipped. CRC-32 comes from the kernel (RtlComputeCrc32, as a
 * plain C driver would use it), the fill is the contract's own skeleton_pattern_byte() loop.
 */
#include <ntifs.h>

#include <skeleton/ioctl.h>

#ifndef MdlMappingNoExecute /* Windows 8+; the mingw-w64 DDK headers lack it */
#define MdlMappingNoExecute 0x40000000
#endif

/* Exported by ntoskrnl (and ntdll) since Windows XP; the mingw-w64 DDK headers omit it. */
NTSYSAPI ULONG NTAPI RtlComputeCrc32(ULONG initial, const UCHAR* data, ULONG length);

/* plain_skeleton.sys, the same source under the skeleton's own names: the reliability suite's
 * stop-under-load and concurrent-run trials against a plain C driver with no unload guard of its
 * own (the kit's Wine host shim is what keeps its host alive, kit/winehost). */
#ifdef BASELINE_SERVES_SKELETON_DEVICE
#define BASELINE_DEVICE L"skeleton"
#else
#define BASELINE_DEVICE L"skeleton_baseline"
#endif
static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\" BASELINE_DEVICE);
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\" BASELINE_DEVICE);

static const char k_greeting[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

static LONG take_code(ULONG code, NTSTATUS* out)
{
    *out = code != 0 ? (NTSTATUS)code : STATUS_UNSUCCESSFUL;
    return EXCEPTION_EXECUTE_HANDLER;
}

/* METHOD_BUFFERED: reverse in place in the one system buffer. */
static NTSTATUS reverse_buffered(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* info)
{
    UCHAR* p = (UCHAR*)irp->AssociatedIrp.SystemBuffer;
    if (in_len > SKELETON_MAX_TRANSFER) return STATUS_INVALID_PARAMETER;
    if (out_len < in_len) return STATUS_BUFFER_TOO_SMALL;
    if (in_len == 0) return STATUS_SUCCESS;
    for (ULONG lo = 0, hi = in_len - 1; lo < hi; ++lo, --hi) {
        UCHAR t = p[lo];
        p[lo] = p[hi];
        p[hi] = t;
    }
    *info = in_len;
    return STATUS_SUCCESS;
}

static UCHAR* mapped_output(PIRP irp, ULONG out_len)
{
    if (out_len == 0 || out_len > SKELETON_MAX_TRANSFER || irp->MdlAddress == NULL) return NULL;
    if (MmGetMdlByteCount(irp->MdlAddress) < out_len) return NULL;
    return (UCHAR*)MmGetSystemAddressForMdlSafe(irp->MdlAddress, (MM_PAGE_PRIORITY)(NormalPagePriority | MdlMappingNoExecute));
}

/* METHOD_IN_DIRECT: CRC-32 of the caller's buffer, read in place through the MDL. */
static NTSTATUS verify_in_direct(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* info)
{
    const struct skeleton_verify_request* request = irp->AssociatedIrp.SystemBuffer;
    UCHAR* data = mapped_output(irp, out_len);
    if (request == NULL || in_len < sizeof *request || data == NULL) return STATUS_INVALID_PARAMETER;
    if (RtlComputeCrc32(0, data, out_len) != request->expected_crc32) return STATUS_CRC_ERROR;
    *info = out_len;
    return STATUS_SUCCESS;
}

/* METHOD_OUT_DIRECT: the pattern into the caller's buffer, written in place through the MDL. */
static NTSTATUS fill_out_direct(PIRP irp, ULONG in_len, ULONG out_len, ULONG_PTR* info)
{
    const struct skeleton_fill_request* request = irp->AssociatedIrp.SystemBuffer;
    UCHAR* data = mapped_output(irp, out_len);
    if (request == NULL || in_len < sizeof *request || data == NULL) return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < out_len; ++i) data[i] = skeleton_pattern_byte(request->seed, i);
    *info = out_len;
    return STATUS_SUCCESS;
}

/* METHOD_NEITHER: probe, capture the input once into pool (the caller could change it under
 * us), write the output back, all under __try. SAY_HELLO writes the greeting the same way. */
static NTSTATUS neither(PIRP irp, PIO_STACK_LOCATION stack, ULONG code, ULONG in_len, ULONG out_len, ULONG_PTR* info)
{
    void* user_in = stack->Parameters.DeviceIoControl.Type3InputBuffer;
    void* user_out = irp->UserBuffer;
    const void* source = k_greeting;
    ULONG length = sizeof k_greeting;
    UCHAR* copy = NULL;
    NTSTATUS status = STATUS_SUCCESS;

    if (user_out == NULL) out_len = 0;
    if (code == IOCTL_SKELETON_ECHO_NEITHER) {
        if (in_len > SKELETON_MAX_TRANSFER || (in_len != 0 && user_in == NULL)) return STATUS_INVALID_PARAMETER;
        if (out_len < in_len) return STATUS_BUFFER_TOO_SMALL;
        if (in_len == 0) return STATUS_SUCCESS;
        copy = ExAllocatePoolWithTag(NonPagedPoolNx, in_len, 'lsaB');
        if (copy == NULL) return STATUS_INSUFFICIENT_RESOURCES;
        source = copy;
        length = in_len;
    } else if (out_len < sizeof k_greeting) {
        return STATUS_BUFFER_TOO_SMALL;
    }

    __try {
        if (irp->RequestorMode != KernelMode) {
            if (copy != NULL) ProbeForRead(user_in, in_len, 1);
            ProbeForWrite(user_out, length, 1);
        }
        if (copy != NULL) RtlCopyMemory(copy, user_in, in_len);
        RtlCopyMemory(user_out, source, length);
        *info = length;
    } __except (take_code(GetExceptionCode(), &status)) {
        *info = 0;
    }
    if (copy != NULL) ExFreePoolWithTag(copy, 'lsaB');
    return status;
}

static NTSTATUS NTAPI dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_NOT_IMPLEMENTED;
    ULONG_PTR info = 0;
    (void)device;

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP: status = STATUS_SUCCESS; break;
    case IRP_MJ_DEVICE_CONTROL: {
        const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
        const ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
        const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
        switch (code) {
        case IOCTL_SKELETON_SAY_HELLO:
        case IOCTL_SKELETON_ECHO_NEITHER: status = neither(irp, stack, code, in_len, out_len, &info); break;
        case IOCTL_SKELETON_REVERSE_BUFFERED: status = reverse_buffered(irp, in_len, out_len, &info); break;
        case IOCTL_SKELETON_VERIFY_IN_DIRECT: status = verify_in_direct(irp, in_len, out_len, &info); break;
        case IOCTL_SKELETON_FILL_OUT_DIRECT: status = fill_out_direct(irp, in_len, out_len, &info); break;
        default: break;
        }
        break;
    }
    default: break;
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = NT_SUCCESS(status) ? info : 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI unload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    (void)registry_path;
#ifdef BASELINE_LOOKS_UP_EXALLOCATEPOOL2
    /* baseline_pool_lookup.sys only: the one lookup the skeleton's pool setup makes (kmd::pool_init).
     * Wine 8 does not export ExAllocatePool2, and on a miss MmGetSystemRoutineAddress loads hal.dll
     * to look there: `make bench BASELINE=baseline_pool_lookup` shows what that adds to a load. */
    {
        UNICODE_STRING name;
        RtlInitUnicodeString(&name, L"ExAllocatePool2");
        (void)MmGetSystemRoutineAddress(&name);
    }
#endif

    status = IoCreateDevice(driver, 0, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) driver->MajorFunction[i] = dispatch;
    driver->DriverUnload = unload;
    return STATUS_SUCCESS;
}
