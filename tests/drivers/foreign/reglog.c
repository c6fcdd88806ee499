/* reglog.c - a driver that reads its registry Parameters and writes a file, written the usual WDM
 * way without the kit. DriverEntry reads <service>\Parameters\LogFile (REG_SZ, a file name;
 * default reglog.txt), \LogDirectory (REG_SZ, an NT path; default \SystemRoot\Temp) and \Prefix
 * (REG_DWORD, written before each record; default 0) with ZwOpenKey/ZwQueryValueKey. IOCTL_REGLOG_APPEND appends its input (at most
 * 4096 bytes) to the file (ZwCreateFile/ZwWriteFile); IOCTL_REGLOG_CONFIG returns Prefix.
 * Device \Device\Journal. */
#include <ntddk.h>

#define IOCTL_REGLOG_APPEND CTL_CODE(FILE_DEVICE_UNKNOWN, 0x840, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x0022a100 */
#define IOCTL_REGLOG_CONFIG CTL_CODE(FILE_DEVICE_UNKNOWN, 0x841, METHOD_BUFFERED, FILE_READ_ACCESS)  /* 0x00226104 */
#define REGLOG_MAX_RECORD 4096
#define REGLOG_TAG 'golR'

static UNICODE_STRING g_device = RTL_CONSTANT_STRING(L"\\Device\\Journal");
static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\DosDevices\\Journal");
static WCHAR g_path_buffer[256];
static UNICODE_STRING g_path; /* <LogDirectory>\<LogFile> */
static ULONG g_prefix;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD RegLogUnload;
static DRIVER_DISPATCH RegLogCreateClose, RegLogDeviceControl;

/* Reads one value of an open key into a pool buffer the caller frees. IRQL: PASSIVE_LEVEL. */
static NTSTATUS RegLogQuery(HANDLE key, PCWSTR name, PKEY_VALUE_PARTIAL_INFORMATION *value)
{
    UNICODE_STRING valueName;
    ULONG needed = 0;
    NTSTATUS status;
    RtlInitUnicodeString(&valueName, name);
    status = ZwQueryValueKey(key, &valueName, KeyValuePartialInformation, NULL, 0, &needed);
    if (status != STATUS_BUFFER_TOO_SMALL && status != STATUS_BUFFER_OVERFLOW) return status;
    *value = (PKEY_VALUE_PARTIAL_INFORMATION)ExAllocatePoolWithTag(PagedPool, needed, REGLOG_TAG);
    if (*value == NULL) return STATUS_INSUFFICIENT_RESOURCES;
    status = ZwQueryValueKey(key, &valueName, KeyValuePartialInformation, *value, needed, &needed);
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(*value, REGLOG_TAG);
        *value = NULL;
    }
    return status;
}

/* A REG_SZ of at most 95 characters, or none (STATUS_SUCCESS, *value NULL) when absent. */
static NTSTATUS RegLogQueryString(HANDLE key, PCWSTR name, PKEY_VALUE_PARTIAL_INFORMATION *value)
{
    NTSTATUS status = RegLogQuery(key, name, value);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
        *value = NULL;
        return STATUS_SUCCESS;
    }
    if (!NT_SUCCESS(status)) return status;
    if ((*value)->Type != REG_SZ || (*value)->DataLength < sizeof(WCHAR) || (*value)->DataLength > 96 * sizeof(WCHAR) ||
        ((PCWSTR)(*value)->Data)[(*value)->DataLength / sizeof(WCHAR) - 1] != L'\0') {
        ExFreePoolWithTag(*value, REGLOG_TAG);
        *value = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
}

/* <RegistryPath>\Parameters; a missing key or value keeps the defaults. */
static NTSTATUS RegLogReadParameters(PUNICODE_STRING registry)
{
    WCHAR nameBuffer[256];
    UNICODE_STRING name = {0, sizeof(nameBuffer), nameBuffer};
    OBJECT_ATTRIBUTES attributes;
    PKEY_VALUE_PARTIAL_INFORMATION value = NULL, directory = NULL;
    PCWSTR file = L"reglog.txt", folder = L"\\SystemRoot\\Temp";
    HANDLE key;
    NTSTATUS status;
    RtlInitEmptyUnicodeString(&g_path, g_path_buffer, sizeof(g_path_buffer));
    status = RtlAppendUnicodeStringToString(&name, registry);
    if (NT_SUCCESS(status)) status = RtlAppendUnicodeToString(&name, L"\\Parameters");
    if (!NT_SUCCESS(status)) return status;
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwOpenKey(&key, KEY_READ, &attributes);
    if (NT_SUCCESS(status)) {
        if (NT_SUCCESS(RegLogQuery(key, L"Prefix", &value))) {
            if (value->Type == REG_DWORD && value->DataLength == sizeof(ULONG)) g_prefix = *(PULONG)value->Data;
            ExFreePoolWithTag(value, REGLOG_TAG);
        }
        status = RegLogQueryString(key, L"LogFile", &value);
        if (NT_SUCCESS(status)) status = RegLogQueryString(key, L"LogDirectory", &directory);
        ZwClose(key);
        if (!NT_SUCCESS(status)) {
            if (value != NULL) ExFreePoolWithTag(value, REGLOG_TAG);
            return status; /* a value that is no short string: refuse to start */
        }
        if (value != NULL) file = (PCWSTR)value->Data;
        if (directory != NULL) folder = (PCWSTR)directory->Data;
    }
    status = RtlAppendUnicodeToString(&g_path, folder);
    if (NT_SUCCESS(status)) status = RtlAppendUnicodeToString(&g_path, L"\\");
    if (NT_SUCCESS(status)) status = RtlAppendUnicodeToString(&g_path, file);
    if (value != NULL) ExFreePoolWithTag(value, REGLOG_TAG);
    if (directory != NULL) ExFreePoolWithTag(directory, REGLOG_TAG);
    return status;
}

/* Appends Prefix and the record. IRQL: PASSIVE_LEVEL. */
static NTSTATUS RegLogAppend(const VOID *record, ULONG length)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE file;
    NTSTATUS status;
    InitializeObjectAttributes(&attributes, &g_path, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwCreateFile(&file, FILE_APPEND_DATA | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ,
                          FILE_OPEN_IF, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
    if (!NT_SUCCESS(status)) return status;
    status = ZwWriteFile(file, NULL, NULL, NULL, &iosb, &g_prefix, sizeof(g_prefix), NULL, NULL);
    if (NT_SUCCESS(status) && length != 0) status = ZwWriteFile(file, NULL, NULL, NULL, &iosb, (PVOID)record, length, NULL, NULL);
    ZwClose(file);
    return status;
}

static NTSTATUS RegLogCreateClose(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS RegLogDeviceControl(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR info = 0;
    UNREFERENCED_PARAMETER(device);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_REGLOG_APPEND:
        status = inLength > REGLOG_MAX_RECORD ? STATUS_INVALID_BUFFER_SIZE : RegLogAppend(irp->AssociatedIrp.SystemBuffer, inLength);
        break;
    case IOCTL_REGLOG_CONFIG:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            *(PULONG)irp->AssociatedIrp.SystemBuffer = g_prefix;
            info = sizeof(ULONG);
            status = STATUS_SUCCESS;
        }
        break;
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID RegLogUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = RegLogReadParameters(registry);
    if (!NT_SUCCESS(status)) return status;
    DbgPrint("reglog: logging to %wZ, prefix %lu\n", &g_path, g_prefix);
    status = IoCreateDevice(driver, 0, &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_link, &g_device);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    driver->MajorFunction[IRP_MJ_CREATE] = RegLogCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = RegLogCreateClose;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = RegLogDeviceControl;
    driver->DriverUnload = RegLogUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
