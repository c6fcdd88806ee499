/* @NAME@.sys - lesson 6, worked solution: lesson 1's skeleton, which checks the room the caller
 * gave before it writes there, so a request without an output buffer fails instead of crashing. */
#include <ntddk.h>

/* The seed's one IOCTL: CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)
 * = 0x00222007. METHOD_NEITHER: the driver gets the caller's own output address (lesson 4). */
#define IOCTL_SAY_HELLO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\@NAME@");
static UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\@NAME@");
static const char k_hello[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH DriverDispatcher;
static DRIVER_UNLOAD DriverUnload;

/* Every request (IRP) of every major function we registered comes here. */
static NTSTATUS NTAPI DriverDispatcher(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp); /* our slot in the IRP */
    NTSTATUS status = STATUS_NOT_IMPLEMENTED;
    ULONG_PTR information = 0; /* bytes handed back to the caller */
    (void)device;

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:  /* CreateFile */
    case IRP_MJ_CLOSE:   /* the last CloseHandle */
    case IRP_MJ_CLEANUP: /* CloseHandle (Windows sends it; Wine 8 does not) */
        status = STATUS_SUCCESS;
        break;
    case IRP_MJ_DEVICE_CONTROL: /* DeviceIoControl */
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SAY_HELLO) {
            ULONG room = stack->Parameters.DeviceIoControl.OutputBufferLength;
            if (room < sizeof k_hello) {
                status = STATUS_BUFFER_TOO_SMALL;
            } else {
                /* As the seed does it: straight into the caller's address, unchecked. Lesson 4
                 * shows why a real driver must not, and fixes it. */
                RtlCopyMemory(irp->UserBuffer, k_hello, sizeof k_hello);
                information = sizeof k_hello;
                status = STATUS_SUCCESS;
            }
        }
        break;
    default:
        break; /* ReadFile, WriteFile, ...: STATUS_NOT_IMPLEMENTED, as the seed says */
    }

    DbgPrint("@NAME@: major function %u -> status 0x%08lx, %lu bytes\n", stack->MajorFunction,
             (unsigned long)status, (unsigned long)information);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT); /* hand the IRP back: the caller's call returns now */
    return status;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link_name);
    IoDeleteDevice(driver->DeviceObject);
    DbgPrint("@NAME@: DriverUnload: link and device deleted\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    (void)registry_path;

    /* 1. The device object: what requests are addressed to, named \Device\@NAME@. */
    status = IoCreateDevice(driver, 0, &g_device_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;

    /* 2. The symbolic link: \DosDevices\@NAME@ is what CreateFile("\\\\.\\@NAME@") opens. */
    status = IoCreateSymbolicLink(&g_link_name, &g_device_name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device); /* the seed leaks it here */
        return status;
    }

    /* 3. The dispatch table: one entry per major function we answer. */
    driver->MajorFunction[IRP_MJ_CREATE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLOSE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLEANUP] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DriverDispatcher;

    /* 4. DriverUnload: without it the driver can never be stopped. */
    driver->DriverUnload = DriverUnload;
    DbgPrint("@NAME@: DriverEntry: \\DosDevices\\@NAME@ -> \\Device\\@NAME@\n");
    return STATUS_SUCCESS;
}
