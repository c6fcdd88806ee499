/* @NAME@.sys - lesson 1, your starting point: the seed's skeleton KMD in plain C, with four
 * pieces left for you (search for EXERCISE). `make lesson 1` says which ones are still missing.
 * Read docs/lessons/01-skeleton.md first. */
#include <ntddk.h>

/* The seed's one IOCTL: CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)
 * = 0x00222007. METHOD_NEITHER: the driver gets the caller's own output address (lesson 4). */
#define IOCTL_SAY_HELLO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)

static UNICODE_STRING g_device_name = RTL_CONSTANT_STRING(L"\\Device\\@NAME@");
/* Not static until the exercises use them: the build (-Werror) refuses an unused static. */
UNICODE_STRING g_link_name = RTL_CONSTANT_STRING(L"\\DosDevices\\@NAME@");
const char k_hello[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

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
        /* EXERCISE 3: if the code is IOCTL_SAY_HELLO and OutputBufferLength has room for
         * k_hello, copy k_hello to irp->UserBuffer (RtlCopyMemory), set information to the bytes
         * copied and status to STATUS_SUCCESS; too little room: STATUS_BUFFER_TOO_SMALL. */
        break;
    default:
        break; /* ReadFile, WriteFile, ...: STATUS_NOT_IMPLEMENTED, as the seed says */
    }

    DbgPrint("@NAME@: major function %u -> status 0x%08lx, %lu bytes\n", stack->MajorFunction,
             (unsigned long)status, (unsigned long)information);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    /* EXERCISE 2: hand the IRP back to the I/O manager (IoCompleteRequest, IO_NO_INCREMENT).
     * Until you do, every request stays with the driver and the caller's call never returns. */
    return status;
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver)
{
    /* EXERCISE 4: undo DriverEntry: delete the symbolic link (IoDeleteSymbolicLink) before
     * the device. A link left behind makes the next load's IoCreateSymbolicLink fail. */
    IoDeleteDevice(driver->DeviceObject);
    DbgPrint("@NAME@: DriverUnload: device deleted\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device = NULL;
    NTSTATUS status;
    (void)registry_path;

    /* 1. The device object: what requests are addressed to, named \Device\@NAME@. */
    status = IoCreateDevice(driver, 0, &g_device_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;

    /* EXERCISE 1: the symbolic link \DosDevices\@NAME@ -> \Device\@NAME@ (IoCreateSymbolicLink:
     * g_link_name, g_device_name), so that CreateFile("\\\\.\\@NAME@") finds the device. If it
     * fails, delete the device and return the status. */

    /* 3. The dispatch table: one entry per major function we answer. */
    driver->MajorFunction[IRP_MJ_CREATE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLOSE] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_CLEANUP] = DriverDispatcher;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DriverDispatcher;

    /* 4. DriverUnload: without it the driver can never be stopped. */
    driver->DriverUnload = DriverUnload;
    DbgPrint("@NAME@: DriverEntry: \\Device\\@NAME@ created\n");
    return STATUS_SUCCESS;
}
