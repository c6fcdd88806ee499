// crash_on_ioctl.sys - a driver with a beginner's bug on purpose: its IOCTL handler writes through a
// pointer it never checked (address 0x10). Under Wine that kills the winedevice.exe hosting it, as
// a bug check would stop Windows. The tests use it to prove that a crash comes back to the user as
// a report in words - the driver, the exception, module+offset, the function and source line -
// and that the harness recovers the box afterwards.
//
// Its second request arms a late fault: DriverUnload then leaves a thread behind that runs the
// driver's code 50 ms after the image is gone, as a request still in flight does when Wine 8
// unloads a busy driver (docs/wine-unload-race.md). That makes "a crash during a stop" repeatable.
#include <kmd/nt.hpp>

#include <kmd/kernel_raii.hpp>

// The one request this driver knows; any other code completes with STATUS_NOT_IMPLEMENTED.
#define IOCTL_CRASH_WRITE_NULL_PLUS_16 CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CRASH_ARM_LATE_FAULT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CRASH_SMASH_STACK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)

namespace {

constinit UNICODE_STRING g_device = kmd::literal_ustring(L"\\Device\\crash_on_ioctl");
constinit UNICODE_STRING g_link = kmd::literal_ustring(L"\\DosDevices\\crash_on_ioctl");

volatile LONG g_late_fault_armed = 0;

// Runs after DriverUnload returned: the sleep returns into this image, which Wine has unmapped.
VOID NTAPI late_thread(PVOID)
{
    LARGE_INTEGER delay;
    delay.QuadPart = -50LL * 10000; // 50 ms, relative
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

struct Counters {
    ULONG requests;
    ULONG last_code;
};

// The bug. noinline keeps it a frame of its own, so the crash report names this function; the
// test looks for the line that carries the marker below.
[[gnu::noinline]] void record_request(Counters* counters, ULONG code)
{
    counters->requests += 1; // CRASH_ON_IOCTL_FAULT_LINE: counters is 0x10 here, an unmapped page
    counters->last_code = code;
}

// The other classic: the caller's input copied into a fixed stack buffer by the length the
// caller claims. More than 16 bytes run over the stack cookie (-fstack-protector-strong), and the
// check on return ends in KeBugCheckEx(DRIVER_OVERRAN_STACK_BUFFER) instead of a return through
// an overwritten address (kmd/stack_cookie.cpp).
[[gnu::noinline]] ULONG remember_name(const void* input, ULONG length)
{
    char name[16];
    RtlCopyMemory(name, input, length); // CRASH_ON_IOCTL_SMASH_LINE: no check that length <= sizeof name
    ULONG sum = 0;
    for (char c : name) sum += static_cast<unsigned char>(c);
    return sum;
}

} // namespace

extern "C" NTSTATUS NTAPI CrashDispatch(PDEVICE_OBJECT, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
        if (code == IOCTL_CRASH_WRITE_NULL_PLUS_16) {
            // A "pointer" that is really a small offset: the classic uninitialised-struct bug.
            record_request(reinterpret_cast<Counters*>(static_cast<ULONG_PTR>(0x10)), code);
        } else if (code == IOCTL_CRASH_SMASH_STACK) {
            remember_name(irp->AssociatedIrp.SystemBuffer, stack->Parameters.DeviceIoControl.InputBufferLength);
        } else if (code == IOCTL_CRASH_ARM_LATE_FAULT) {
            InterlockedExchange(&g_late_fault_armed, 1);
        } else {
            status = STATUS_NOT_IMPLEMENTED;
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

extern "C" VOID NTAPI CrashUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
    if (g_late_fault_armed) {
        HANDLE thread = nullptr;
        if (NT_SUCCESS(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr, late_thread, nullptr)))
            ZwClose(thread);
    }
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    kmd::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device, FILE_DEVICE_UNKNOWN, 0);
    if (!NT_SUCCESS(status)) return status;
    kmd::SymbolicLinkOwner link;
    status = link.create(&g_link, &g_device);
    if (!NT_SUCCESS(status)) return status;
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = CrashDispatch;
    driver->DriverUnload = CrashUnload;
    link.release();
    device.release();
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "crash_on_ioctl: ready; IOCTL 0x%08lx writes to address 0x10\n",
               static_cast<ULONG>(IOCTL_CRASH_WRITE_NULL_PLUS_16));
    return STATUS_SUCCESS;
}
