// neither_prober.sys - test-only: proves skeleton.sys's METHOD_NEITHER guard from inside the
// kernel, where bad pointers can actually reach it (see prober_ioctl.h).
#include "prober_ioctl.h"

#include <kmd/kernel_raii.hpp>

namespace {

using kmd::literal_ustring;

constinit UNICODE_STRING g_device = literal_ustring(L"\\Device\\skeleton_prober");
constinit UNICODE_STRING g_link = literal_ustring(L"\\DosDevices\\skeleton_prober");
constinit UNICODE_STRING g_driver_name = literal_ustring(L"\\Driver\\skeleton");

// Lives in .rdata: writing here faults.
const unsigned char kReadOnly[4096] = {1};

void* const kUnmappedOut = reinterpret_cast<void*>(0x20);
void* const kUnmappedIn = reinterpret_cast<void*>(0x10);
// Kernel-looking: above the highest user address (x64: the canonical kernel half; x86: the 2 GB
// line, which is MmUserProbeAddress's side of the address space on 32-bit Windows).
#if defined(_WIN64)
void* const kKernelOut = reinterpret_cast<void*>(0xFFFF800000001000ull);
void* const kKernelIn = reinterpret_cast<void*>(0xFFFF800000002000ull);
#else
void* const kKernelOut = reinterpret_cast<void*>(0x80001000u);
void* const kKernelIn = reinterpret_cast<void*>(0x80002000u);
#endif

// skeleton.sys's device object, found through its driver object \Driver\skeleton and referenced
// until scope exit. (Opening \Device\skeleton as a file is what a kernel client usually does,
// but under Wine both drivers share one winedevice.exe whose single dispatch thread is busy
// running *this* request, so the open's IRP_MJ_CREATE could not be served; and Wine 8.0's
// IoGetDeviceObjectPointer is a stub.) skeleton.sys ignores the file object, so none is needed.
class TargetDevice {
public:
    TargetDevice() = default;
    TargetDevice(const TargetDevice&) = delete;
    TargetDevice& operator=(const TargetDevice&) = delete;
    ~TargetDevice()
    {
        if (device_ != nullptr) ObDereferenceObject(device_);
        if (driver_ != nullptr) ObDereferenceObject(driver_);
    }

    // References the driver object and then its device object: the IRPs go to the device, so the
    // device is what must stay alive while they are sent.
    NTSTATUS open()
    {
        NTSTATUS status = ObReferenceObjectByName(&g_driver_name, OBJ_CASE_INSENSITIVE, nullptr, 0, IoDriverObjectType, KernelMode,
                                                  nullptr, reinterpret_cast<PVOID*>(&driver_));
        if (!NT_SUCCESS(status)) return status;
        if (driver_->DeviceObject == nullptr) return STATUS_NO_SUCH_DEVICE;
        device_ = driver_->DeviceObject;
        ObReferenceObject(device_);
        return STATUS_SUCCESS;
    }
    PDEVICE_OBJECT device() const { return device_; }

private:
    PDRIVER_OBJECT driver_ = nullptr;
    PDEVICE_OBJECT device_ = nullptr;
};

// "User" memory for requests that claim to come from user mode: pages of the current process from
// ZwAllocateVirtualMemory, as a user-mode caller's buffer would be. Pool is kernel memory, and on
// Windows ProbeForRead/ProbeForWrite reject it for a UserMode request (Wine's are no-ops; under
// kmdverify.sys they are not). Freed at scope exit.
class UserPages {
public:
    UserPages() = default;
    UserPages(const UserPages&) = delete;
    UserPages& operator=(const UserPages&) = delete;
    ~UserPages()
    {
        if (base_ == nullptr) return;
        SIZE_T size = 0;
        ZwFreeVirtualMemory(NtCurrentProcess(), &base_, &size, MEM_RELEASE);
    }
    NTSTATUS allocate(SIZE_T size)
    {
        return ZwAllocateVirtualMemory(NtCurrentProcess(), &base_, 0, &size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    }
    unsigned char* at(SIZE_T offset) const { return static_cast<unsigned char*>(base_) + offset; }

private:
    PVOID base_ = nullptr;
};

// What to break in an IRP after IoBuildDeviceIoControlRequest built it.
enum class Tamper { none, drop_mdl, claim_more_output };

// Sends one request to \Device\skeleton as if from user mode; its outcome goes to results[which].
void send(prober_result* results, PDEVICE_OBJECT target, prober_case which, ULONG code, void* in, ULONG in_len, void* out,
          ULONG out_len, Tamper tamper = Tamper::none)
{
    prober_result& r = results[which];
    r = prober_result{static_cast<unsigned>(which), 0, 0};
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IO_STATUS_BLOCK iosb{};
    PIRP irp = IoBuildDeviceIoControlRequest(code, target, in, in_len, out, out_len, FALSE, &done, &iosb);
    if (irp == nullptr) {
        r.status = static_cast<unsigned>(STATUS_INSUFFICIENT_RESOURCES);
        return;
    }
    irp->RequestorMode = UserMode; // what makes skeleton.sys probe
    if (tamper == Tamper::drop_mdl && irp->MdlAddress != nullptr) {
        // IoBuildDeviceIoControlRequest locked the buffer's pages (MmProbeAndLockPages) for a
        // DIRECT method: unlock before freeing, or Windows bug-checks (0xC4 under Driver Verifier).
        MmUnlockPages(irp->MdlAddress);
        IoFreeMdl(irp->MdlAddress);
        irp->MdlAddress = nullptr;
    }
    if (tamper == Tamper::claim_more_output) IoGetNextIrpStackLocation(irp)->Parameters.DeviceIoControl.OutputBufferLength = out_len * 16;
    NTSTATUS status = IoCallDriver(target, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, nullptr);
        status = iosb.Status;
    }
    r.status = static_cast<unsigned>(status);
    r.information = iosb.Information;
}

NTSTATUS run_cases(prober_result* results)
{
    TargetDevice skeleton;
    NTSTATUS status = skeleton.open();
    if (!NT_SUCCESS(status)) return status;
    PDEVICE_OBJECT target = skeleton.device();

    UserPages user;
    status = user.allocate(PAGE_SIZE);
    if (!NT_SUCCESS(status)) return status;
    unsigned char* const good_out = user.at(0);   // 256 bytes
    unsigned char* const good_in = user.at(1024); // 16 zero bytes
    kmd::PoolBuffer pool_out, pool_in;            // kernel memory handed over as if it were the caller's
    if (!pool_out.allocate(256) || !pool_in.allocate(16)) return STATUS_INSUFFICIENT_RESOURCES;
    void* read_only = const_cast<unsigned char*>(kReadOnly);
    const ULONG hello = IOCTL_SKELETON_SAY_HELLO, echo = IOCTL_SKELETON_ECHO_NEITHER;

    send(results, target, PROBER_VALID_BUFFERS, hello, nullptr, 0, good_out, 256);
    send(results, target, PROBER_HELLO_OUT_UNMAPPED, hello, nullptr, 0, kUnmappedOut, 64);
    send(results, target, PROBER_HELLO_OUT_READ_ONLY, hello, nullptr, 0, read_only, 64);
    send(results, target, PROBER_HELLO_OUT_KERNEL_ADDRESS, hello, nullptr, 0, kKernelOut, 64);
    send(results, target, PROBER_HELLO_OUT_NULL_WITH_LENGTH, hello, nullptr, 0, nullptr, 64);
    send(results, target, PROBER_ECHO_IN_UNMAPPED, echo, kUnmappedIn, 16, good_out, 256);
    send(results, target, PROBER_ECHO_IN_KERNEL_ADDRESS, echo, kKernelIn, 16, good_out, 256);
    send(results, target, PROBER_ECHO_IN_NULL_WITH_LENGTH, echo, nullptr, 16, good_out, 256);
    send(results, target, PROBER_ECHO_OUT_READ_ONLY, echo, good_in, 16, read_only, 64);
    send(results, target, PROBER_HELLO_OUT_KERNEL_POOL, hello, nullptr, 0, pool_out.data(), 256);
    send(results, target, PROBER_ECHO_IN_KERNEL_POOL, echo, pool_in.data(), 16, good_out, 256);

    // The direct methods: what skeleton.sys does when the MDL is missing or shorter than claimed.
    // good_in is zeroed: a CRC of 0 and a seed of 0 are both fine requests.
    const ULONG verify = IOCTL_SKELETON_VERIFY_IN_DIRECT, fill = IOCTL_SKELETON_FILL_OUT_DIRECT;
    send(results, target, PROBER_VERIFY_NO_MDL, verify, good_in, 4, good_out, 256, Tamper::drop_mdl);
    send(results, target, PROBER_FILL_LENGTH_BEYOND_MDL, fill, good_in, 4, good_out, 256, Tamper::claim_more_output);
    send(results, target, PROBER_FILL_VALID, fill, good_in, 4, good_out, 256);
    return STATUS_SUCCESS;
}

NTSTATUS query_dacl(void* out, ULONG out_len, ULONG_PTR& information)
{
    TargetDevice skeleton;
    NTSTATUS status = skeleton.open();
    if (!NT_SUCCESS(status)) return status;
    kmd::KernelHandle handle;
    status = ObOpenObjectByPointer(skeleton.device(), OBJ_KERNEL_HANDLE, nullptr, READ_CONTROL, IoDeviceObjectType, KernelMode, handle.out());
    if (!NT_SUCCESS(status)) return status;
    ULONG needed = 0;
    status = ZwQuerySecurityObject(handle.get(), DACL_SECURITY_INFORMATION, out, out_len, &needed);
    information = NT_SUCCESS(status) ? needed : 0;
    return status;
}

} // namespace

extern "C" NTSTATUS NTAPI ProberDispatch(PDEVICE_OBJECT, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
        void* system = irp->AssociatedIrp.SystemBuffer;
        switch (stack->Parameters.DeviceIoControl.IoControlCode) {
        case IOCTL_PROBER_RUN_NEITHER_CASES:
            if (system == nullptr || out_len < sizeof(prober_result) * PROBER_CASE_COUNT) {
                status = STATUS_BUFFER_TOO_SMALL;
                break;
            }
            status = run_cases(static_cast<prober_result*>(system));
            if (NT_SUCCESS(status)) information = sizeof(prober_result) * PROBER_CASE_COUNT;
            break;
        case IOCTL_PROBER_QUERY_SKELETON_DACL:
            status = system != nullptr ? query_dacl(system, out_len, information) : STATUS_BUFFER_TOO_SMALL;
            break;
        default: status = STATUS_NOT_IMPLEMENTED;
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

extern "C" VOID NTAPI ProberUnload(PDRIVER_OBJECT driver)
{
    IoDeleteSymbolicLink(&g_link);
    IoDeleteDevice(driver->DeviceObject);
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING)
{
    kmd::DeviceObjectOwner device;
    NTSTATUS status = device.create(driver, &g_device, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN);
    if (!NT_SUCCESS(status)) return status;
    kmd::SymbolicLinkOwner link;
    status = link.create(&g_link, &g_device);
    if (!NT_SUCCESS(status)) return status;
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = ProberDispatch;
    driver->DriverUnload = ProberUnload;
    link.release();
    device.release();
    return STATUS_SUCCESS;
}
