/* crashme.c - a WDM driver as one is written without the kit: plain C, built by one clang line in
 * test_crash_report.py with no debug information and no symbol table (-s), its device named
 * otherwise than its file. IOCTL 0x222400 writes through a NULL pointer in CrashmeFault, an
 * exported function (so the image's export table is the only name the crash can be given), or,
 * with -DCRASHME_NO_EXPORT, a function only the image's .pdata knows the bounds of. */
#include <ntddk.h>

#define IOCTL_CRASHME CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x222400 */

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\crashme_dev");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\crashme_dev");

#ifdef CRASHME_NO_EXPORT
#define CRASHME_EXPORT
#else
#define CRASHME_EXPORT __declspec(dllexport)
#endif

/* Not a leaf (it calls DbgPrint first), so it has unwind data: a .pdata range. */
CRASHME_EXPORT __declspec(noinline) void CrashmeFault(volatile ULONG *where, ULONG value)
{
    DbgPrint("crashme: writing %lu through %p\n", value, (void *)where);
    where[4] = value; /* where is NULL: a write to 0x10 */
}

static NTSTATUS CrashmeDispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    UNREFERENCED_PARAMETER(device);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL && stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_CRASHME)
        CrashmeFault((volatile ULONG *)irp->UserBuffer, 1); /* BUFFERED: UserBuffer is NULL for out-size 0 */
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void CrashmeUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(registry);
    status = IoCreateDevice(driver, 0, &g_device, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = CrashmeDispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = CrashmeDispatch;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CrashmeDispatch;
    driver->DriverUnload = CrashmeUnload;
    return STATUS_SUCCESS;
}
