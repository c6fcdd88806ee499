/* imports_probe.c - a plain-C driver for test_imports.py, built by one clang line: it imports a
 * routine Wine 8 implements (IoCreateDevice), one Wine's spec declares a stub (ExRaiseStatus) and,
 * with -DWANT_MISSING, one Wine 8 does not export at all (ExAllocatePool2), or with
 * -DWANT_MISSING_MODULE one from a module that does not exist (kmd_no_such.sys). None is called
 * unless IOCTL 0x222400 comes; DriverEntry only creates its device. */
#include <ntddk.h>

#ifdef WANT_MISSING
NTSYSAPI PVOID NTAPI ExAllocatePool2(ULONG64 flags, SIZE_T size, ULONG tag);
#endif
#ifdef WANT_MISSING_MODULE
__declspec(dllimport) VOID NTAPI KmdNoSuchRoutine(VOID);
#endif

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\imports_probe");

static NTSTATUS ProbeDispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    UNREFERENCED_PARAMETER(device);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL && stack->Parameters.DeviceIoControl.IoControlCode == 0x222400) {
#ifdef WANT_MISSING
        ExFreePool(ExAllocatePool2(0x40, 16, 'porP'));
#endif
#ifdef WANT_MISSING_MODULE
        KmdNoSuchRoutine();
#endif
        ExRaiseStatus(STATUS_UNSUCCESSFUL);
    }
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void ProbeUnload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(registry);
    driver->MajorFunction[IRP_MJ_CREATE] = ProbeDispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = ProbeDispatch;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ProbeDispatch;
    driver->DriverUnload = ProbeUnload;
    return IoCreateDevice(driver, 0, &g_device, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}
