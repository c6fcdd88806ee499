// guard_nt_unwind.sys (x86 only: tests/drivers/CMakeLists.txt builds it for x86) - the kit's x86 METHOD_NEITHER guard (kit/driver/kmd/guarded_x86.cpp)
// under RtlUnwind as a real NT kernel implements it.
//
// An NT kernel's RtlUnwind "returns" through ZwContinue with a context whose EAX..EDI are zero
// (ReactOS's RtlpCaptureContext; x86 Windows alike). Wine's keeps every register, so a guard that
// kept a pointer in ESI across the call passed every Wine test and double-faulted ReactOS (bug
// check 0x7F). This driver takes the import slot __imp__RtlUnwind@16 for itself (an object's
// definition wins over the import library's), so the kit's guard, linked in unchanged, reaches
// clobbering_unwind below: the real RtlUnwind, then every general register but ESP and EBP zeroed,
// as the kernel does. Its one IOCTL runs the guard over faulting accesses and returns their
// statuses; the e2e test (tests/e2e/test_guard_nt_unwind.py) asks twice, so the driver must still
// serve after the first round.
#include <kmd/nt.hpp>

#include <kmd/guarded.hpp>
#include <kmd/kernel_raii.hpp>

// Buffered: out = the statuses of the rounds below, one ULONG each, in order.
#define IOCTL_GUARD_ROUNDS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x910, METHOD_BUFFERED, FILE_ANY_ACCESS)

extern "C" {
// The real RtlUnwind, looked up at run time: the link-time name now means clobbering_unwind.
void* g_real_unwind = nullptr;
}

asm(R"(
    .data
    .globl __imp__RtlUnwind@16
__imp__RtlUnwind@16:
    .long _clobbering_unwind@16
    .text
_clobbering_unwind@16:
    pushl 16(%esp)            # ReturnValue   (each push moves ESP by 4: the same offset four times)
    pushl 16(%esp)            # ExceptionRecord
    pushl 16(%esp)            # TargetIp
    pushl 16(%esp)            # TargetFrame
    call  *_g_real_unwind
    xorl  %eax, %eax          # what ZwContinue hands back on an NT kernel
    xorl  %ebx, %ebx
    xorl  %ecx, %ecx
    xorl  %edx, %edx
    xorl  %esi, %esi
    xorl  %edi, %edi
    ret   $16
)");

namespace {

constinit UNICODE_STRING g_device = kmd::literal_ustring(L"\\Device\\guard_nt_unwind");
constinit UNICODE_STRING g_link = kmd::literal_ustring(L"\\DosDevices\\guard_nt_unwind");

constexpr ULONG kRounds = 3;

// Read-only under Wine (the image's .rdata): a store to it faults.
const ULONG g_read_only = 1;

// Each round touches memory no caller may pass: a read-only page, an unmapped low page, and the
// same inside a guard nested in another guard (the inner one must take it, the outer see nothing).
// (Not the NULL page itself: 32-bit Wine maps low memory for DOS programs.)
[[gnu::noinline]] void run_rounds(ULONG* out)
{
    auto* volatile read_only = const_cast<volatile ULONG*>(&g_read_only);
    auto* volatile low_page = reinterpret_cast<volatile UCHAR*>(static_cast<ULONG_PTR>(0x10000 - 0x100));
    out[0] = static_cast<ULONG>(kmd::guarded([&] { *read_only = 2; }));
    out[1] = static_cast<ULONG>(kmd::guarded([&] { *low_page = 1; }));
    NTSTATUS inner = STATUS_SUCCESS;
    const NTSTATUS outer = kmd::guarded([&] { inner = kmd::guarded([&] { *read_only = 3; }); });
    out[2] = outer == STATUS_SUCCESS ? static_cast<ULONG>(inner) : static_cast<ULONG>(outer) | 0x1;
}

} // namespace

extern "C" NTSTATUS NTAPI GuardDispatch(PDEVICE_OBJECT, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_GUARD_ROUNDS) {
            status = STATUS_NOT_IMPLEMENTED;
        } else if (stack->Parameters.DeviceIoControl.OutputBufferLength < kRounds * sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            run_rounds(static_cast<ULONG*>(irp->AssociatedIrp.SystemBuffer));
            information = kRounds * sizeof(ULONG);
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

extern "C" VOID NTAPI GuardUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    UNICODE_STRING name = kmd::literal_ustring(L"RtlUnwind");
    g_real_unwind = MmGetSystemRoutineAddress(&name);
    if (g_real_unwind == nullptr) return STATUS_PROCEDURE_NOT_FOUND;

    kmd::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN);
    if (!NT_SUCCESS(status)) return status;
    kmd::SymbolicLinkOwner link;
    status = link.create(&g_link, &g_device);
    if (!NT_SUCCESS(status)) return status;
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = GuardDispatch;
    driver->DriverUnload = GuardUnload;
    link.release();
    device.release();
    return STATUS_SUCCESS;
}
