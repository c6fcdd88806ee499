// prober.cpp - the in-host prober: bad and kernel pointers sent to a verified driver's
// METHOD_NEITHER codes (and a dropped MDL to its DIRECT ones) from inside the driver host.
//
// Why here: under Wine a caller's DeviceIoControl never hands a driver a bad or kernel pointer
// (the caller's side copies its buffers, and refuses what it cannot read or write), so the
// requests that matter most for METHOD_NEITHER cannot come from kmdctl. kmdverify.sys shares the
// host with the drivers it verifies and knows each device they created (objects.cpp), so it
// builds the IRP itself (IoBuildDeviceIoControlRequest, RequestorMode = UserMode, as a user
// caller's would be) and sends it with IoCallDriver: the driver's dispatch runs under the
// verifier's wrapper, its ProbeForRead/ProbeForWrite under probes.cpp's, and completion under
// irps.cpp's UNPROBED_USER_BUFFER check, as for any other request.
//
// The control device \Device\kmdverify (\\.\kmdverify) takes one METHOD_BUFFERED request,
// IOCTL_KMDVERIFY_PROBE, with a ProbeRequest as input (kit/verifier/verify.py builds it and
// sends it with `kmdctl ioctl`): which driver (its image name) and which of its devices (index, in
// the order of its DEVICE lines), which IOCTL code with which buffer lengths, and a mask of the
// cases below. Each case is one IRP and two kernel-log lines, "kmdverify: PROBER ... begin" and
// "kmdverify: PROBER ... status=... outcome=...": a begin without its end is a host that died in
// that case. The output is a ProbeResult per case.
//
// "Kernel memory" here is what probes.cpp calls kernel: an address above MmUserProbeAddress (the
// kernel-* cases: unmapped in Wine's user-mode host, so any touch faults), and pages the prober
// declares kernel (the pool-* cases: inaccessible, so that the first touch is caught by the
// vectored handler, reported as UNPROBED_USER_BUFFER with the touching instruction, and then let
// through). A correct driver never touches either: its ProbeForRead/ProbeForWrite raises first.
#include "verifier.hpp"

namespace kmdverify {
namespace {

// CTL_CODE(FILE_DEVICE_UNKNOWN, 0x9F0, METHOD_BUFFERED, FILE_ANY_ACCESS)
constexpr ULONG kProbeIoctl = 0x002227C0;

enum ProbeCase : ULONG { bad_in, kernel_in, pool_in, bad_out, kernel_out, pool_out, read_only_out, no_mdl, kCases };
// The names verify.py prints and takes back in --call (bad-in... as kmdctl sweep's spec words).
const char* const kCaseNames[kCases] = {"bad-in", "kernel-in", "pool-in", "bad-out", "kernel-out", "pool-out", "ro-out", "no-mdl"};

struct ProbeRequest {
    ULONG code;        // the IOCTL code to send
    ULONG in_length;   // InputBufferLength of every case
    ULONG out_length;  // OutputBufferLength of every case
    ULONG cases;       // 1 << ProbeCase, for each case to send
    ULONG device;      // which of the driver's devices: 0 the first it created
    WCHAR driver[64];  // its image name, "x.sys", NUL-terminated
};

enum class Outcome : ULONG { completed, cancelled, never_completed, not_sent };
const char* const kOutcomeNames[] = {"completed", "pended-then-cancelled", "never-completed", "not-sent"};

struct ProbeResult {
    ULONG which;       // ProbeCase
    ULONG status;      // the IRP's final status (not_sent: why not)
    ULONG information; // its Information
    Outcome outcome;
};

constexpr ULONG kMaxLength = 64 * 1024;
constexpr LONGLONG kPendWait = -100 * 10000LL;    // 100 ms, relative: what kmdctl sweep waits before cancelling
constexpr LONGLONG kCancelWait = -2000 * 10000LL; // 2 s after IoCancelIrp

const auto kBadIn = reinterpret_cast<char*>(0x10);
const auto kBadOut = reinterpret_cast<char*>(0x20);
#if defined(_WIN64)
const auto kKernelIn = reinterpret_cast<char*>(0xFFFF800000002000ull);
const auto kKernelOut = reinterpret_cast<char*>(0xFFFF800000001000ull);
#else
const auto kKernelIn = reinterpret_cast<char*>(0x80002000u);
const auto kKernelOut = reinterpret_cast<char*>(0x80001000u);
#endif

PDEVICE_OBJECT g_control;
UNICODE_STRING g_control_name, g_control_link;

SIZE_T pages(SIZE_T n) { return (n + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE; }

// Pages of this process (the driver host), as a user caller's buffer is. Freed at scope exit,
// unless a request that never completed may still touch them.
class HostPages {
public:
    HostPages() = default;
    HostPages(const HostPages&) = delete;
    HostPages& operator=(const HostPages&) = delete;
    ~HostPages() { release(); }
    void release()
    {
        if (base_ == nullptr) return;
        SIZE_T size = 0;
        ZwFreeVirtualMemory(NtCurrentProcess(), &base_, &size, MEM_RELEASE);
        base_ = nullptr;
    }
    bool allocate(SIZE_T size, ULONG protection)
    {
        size_ = pages(size == 0 ? 1 : size);
        SIZE_T got = size_;
        return NT_SUCCESS(ZwAllocateVirtualMemory(NtCurrentProcess(), &base_, 0, &got, MEM_COMMIT | MEM_RESERVE, protection));
    }
    char* data() const { return static_cast<char*>(base_); }
    SIZE_T size() const { return size_; }
    void abandon() { base_ = nullptr; }

private:
    PVOID base_ = nullptr;
    SIZE_T size_ = 0;
};

// The case being sent, for the vectored handler (prober_fault): the addresses it handed over as
// kernel memory. Written by the one thread that sends, before and after the IRP.
struct Watched {
    volatile bool active;
    PIRP irp;
    Image* image;
    ULONG which;
    char* start[2];
    SIZE_T length[2];
    char* guarded; // the pool-* case's pages: opened on the first touch
    SIZE_T guarded_size;
    volatile LONG reported;
};
Watched g_watch;

// What one IRP needs after the dispatch routine returned: in pool, so that a request that never
// completes can keep it (its completion still writes the status block and sets the event).
struct InFlight {
    KEVENT done;
    IO_STATUS_BLOCK iosb;
};

// The driver's index-th device, referenced; nullptr if there is none.
PDEVICE_OBJECT referenced_device(const WCHAR* driver, ULONG index, Image** image)
{
    UNICODE_STRING wanted;
    RtlInitUnicodeString(&wanted, driver);
    Locked lock;
    for (Image& i : g_images) {
        if (!i.used) continue;
        UNICODE_STRING name;
        RtlInitUnicodeString(&name, i.name);
        if (!RtlEqualUnicodeString(&name, &wanted, TRUE)) continue;
        ULONG n = 0;
        for (const Device& d : i.devices)
            if (d.object != nullptr && n++ == index) {
                ObfReferenceObject(d.object);
                *image = &i;
                return d.object;
            }
    }
    return nullptr;
}

bool applies(ULONG which, ULONG method)
{
    if (which == no_mdl) return method == METHOD_IN_DIRECT || method == METHOD_OUT_DIRECT;
    return method == METHOD_NEITHER; // a BUFFERED code's input would be copied here, in the prober
}

// Sends one case; the caller's buffers are `user_in`/`user_out` (host pages, read-write),
// `read_only` (host pages, read-only) and `kernel` (host pages declared kernel, inaccessible).
ProbeResult send_case(Image* image, PDEVICE_OBJECT device, const ProbeRequest& r, ULONG which, char* user_in, char* user_out,
                      char* read_only, HostPages& kernel, bool* abandon)
{
    ProbeResult result{which, 0, 0, Outcome::not_sent};
    char* in = r.in_length != 0 ? user_in : nullptr;
    char* out = r.out_length != 0 ? user_out : nullptr;
    switch (which) {
    case bad_in: in = kBadIn; break;
    case kernel_in: in = kKernelIn; break;
    case pool_in: in = kernel.data(); break;
    case bad_out: out = kBadOut; break;
    case kernel_out: out = kKernelOut; break;
    case pool_out: out = kernel.data(); break;
    case read_only_out: out = read_only; break;
    default: break;
    }
    auto* flight = static_cast<InFlight*>(ExAllocatePoolWithTag(NonPagedPool, sizeof(InFlight), 'bPfV'));
    if (flight == nullptr) {
        result.status = static_cast<ULONG>(STATUS_INSUFFICIENT_RESOURCES);
        return result;
    }
    KeInitializeEvent(&flight->done, NotificationEvent, FALSE);
    flight->iosb = IO_STATUS_BLOCK{};
    PIRP irp = IoBuildDeviceIoControlRequest(r.code, device, in, r.in_length, out, r.out_length, FALSE, &flight->done, &flight->iosb);
    if (irp == nullptr) {
        ExFreePoolWithTag(flight, 'bPfV');
        result.status = static_cast<ULONG>(STATUS_INSUFFICIENT_RESOURCES);
        return result;
    }
    irp->RequestorMode = UserMode; // a user caller's request: the driver must probe what it touches
    if (which == no_mdl && irp->MdlAddress != nullptr) {
        // Unlocked before it is freed, as Windows requires of a locked MDL.
        MmUnlockPages(irp->MdlAddress);
        IoFreeMdl(irp->MdlAddress);
        irp->MdlAddress = nullptr;
    }
    const bool kernel_case = which == kernel_in || which == kernel_out || which == pool_in || which == pool_out;
    if (which == pool_in || which == pool_out) declare_kernel(kernel.data(), kernel.size());
    g_watch.image = image;
    g_watch.which = which;
    g_watch.start[0] = kernel_case && (which == kernel_in || which == pool_in) ? in : nullptr;
    g_watch.length[0] = r.in_length;
    g_watch.start[1] = kernel_case && (which == kernel_out || which == pool_out) ? out : nullptr;
    g_watch.length[1] = r.out_length;
    g_watch.guarded = which == pool_in || which == pool_out ? kernel.data() : nullptr;
    g_watch.guarded_size = kernel.size();
    g_watch.reported = 0;
    g_watch.irp = irp;
    g_watch.active = true;

    NTSTATUS status = IoCallDriver(device, irp);
    result.outcome = Outcome::completed;
    if (status == STATUS_PENDING) {
        LARGE_INTEGER wait;
        wait.QuadPart = kPendWait;
        if (KeWaitForSingleObject(&flight->done, Executive, KernelMode, FALSE, &wait) != STATUS_SUCCESS) {
            result.outcome = Outcome::cancelled;
            IoCancelIrp(irp);
            wait.QuadPart = kCancelWait;
            if (KeWaitForSingleObject(&flight->done, Executive, KernelMode, FALSE, &wait) != STATUS_SUCCESS)
                result.outcome = Outcome::never_completed;
        }
        status = result.outcome == Outcome::never_completed ? STATUS_PENDING : flight->iosb.Status;
    }
    g_watch.active = false;
    g_watch.irp = nullptr;
    if (which == pool_in || which == pool_out) declare_kernel(nullptr, 0);
    result.status = static_cast<ULONG>(status);
    if (result.outcome == Outcome::never_completed) {
        // The IRP is still the driver's: its completion may come, and write here, at any time.
        *abandon = true;
        char args[64];
        RtlStringCbPrintfA(args, sizeof args, "irp=%p, code=0x%08lx", irp, r.code);
        violation(image, "CANCELLED_IRP_NOT_COMPLETED", "IoCancelIrp", args, reinterpret_cast<void*>(image->real_major[IRP_MJ_DEVICE_CONTROL]),
                  "(the prober's request pended 100 ms, then was not completed 2 s after IoCancelIrp)");
        return result;
    }
    result.information = static_cast<ULONG>(flight->iosb.Information);
    ExFreePoolWithTag(flight, 'bPfV');
    return result;
}

NTSTATUS run_probe(const ProbeRequest& r, ProbeResult* results, ULONG_PTR* information)
{
    if (r.in_length > kMaxLength || r.out_length > kMaxLength || r.cases == 0 || r.cases >= (1u << kCases)) return STATUS_INVALID_PARAMETER;
    WCHAR driver[64];
    RtlCopyMemory(driver, r.driver, sizeof driver);
    driver[63] = 0;
    Image* image = nullptr;
    PDEVICE_OBJECT device = referenced_device(driver, r.device, &image);
    if (device == nullptr) return STATUS_NO_SUCH_DEVICE;
    HostPages user, read_only, kernel;
    bool abandon = false;
    NTSTATUS status = STATUS_SUCCESS;
    if (!user.allocate(pages(r.in_length) + pages(r.out_length), PAGE_READWRITE) || !read_only.allocate(r.out_length, PAGE_READONLY))
        status = STATUS_INSUFFICIENT_RESOURCES;
    char* const user_in = user.data();
    char* const user_out = user.data() + pages(r.in_length);
    ULONG n = 0;
    for (ULONG which = 0; NT_SUCCESS(status) && which < kCases; ++which) {
        if ((r.cases & (1u << which)) == 0) continue;
        ProbeResult& result = results[n++];
        DbgPrint("kmdverify: PROBER driver=%ws device=%lu code=0x%08lx case=%s in=%lu out=%lu begin\n", image->name, r.device, r.code,
                 kCaseNames[which], r.in_length, r.out_length);
        result = ProbeResult{which, static_cast<ULONG>(STATUS_NOT_SUPPORTED), 0, Outcome::not_sent};
        // Fresh inaccessible pages for each pool-* case: a touch in an earlier case opened them.
        if (applies(which, METHOD_FROM_CTL_CODE(r.code)) &&
            ((which != pool_in && which != pool_out) || kernel.allocate(pages(r.in_length > r.out_length ? r.in_length : r.out_length), PAGE_NOACCESS)))
            result = send_case(image, device, r, which, user_in, user_out, read_only.data(), kernel, &abandon);
        DbgPrint("kmdverify: PROBER driver=%ws device=%lu code=0x%08lx case=%s status=0x%08lx information=%lu outcome=%s\n", image->name,
                 r.device, r.code, kCaseNames[which], result.status, result.information, kOutcomeNames[static_cast<ULONG>(result.outcome)]);
        if (abandon) break; // the rest would share pages the stuck request may still write
        kernel.release();
    }
    if (abandon) {
        user.abandon();
        read_only.abandon();
        kernel.abandon();
    }
    ObfDereferenceObject(device);
    *information = n * sizeof(ProbeResult);
    return status;
}

NTSTATUS NTAPI control_dispatch(PDEVICE_OBJECT, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        const auto& p = stack->Parameters.DeviceIoControl;
        if (p.IoControlCode != kProbeIoctl)
            status = STATUS_INVALID_DEVICE_REQUEST;
        else if (p.InputBufferLength < sizeof(ProbeRequest) || p.OutputBufferLength < kCases * sizeof(ProbeResult))
            status = STATUS_BUFFER_TOO_SMALL;
        else {
            ProbeRequest request;
            RtlCopyMemory(&request, irp->AssociatedIrp.SystemBuffer, sizeof request);
            ProbeResult results[kCases] = {};
            status = run_probe(request, results, &information);
            RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, results, information);
        }
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IofCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

} // namespace

NTSTATUS create_prober(PDRIVER_OBJECT self)
{
    RtlInitUnicodeString(&g_control_name, L"\\Device\\kmdverify");
    RtlInitUnicodeString(&g_control_link, L"\\DosDevices\\kmdverify");
    NTSTATUS status = IoCreateDevice(self, 0, &g_control_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_control);
    if (!NT_SUCCESS(status)) return status;
    status = IoCreateSymbolicLink(&g_control_link, &g_control_name);
    if (status == STATUS_OBJECT_NAME_COLLISION) {
        // Left by a host that died with an earlier kmdverify in it (Wine keeps a dead host's links
        // until the session ends): it points nowhere now.
        IoDeleteSymbolicLink(&g_control_link);
        status = IoCreateSymbolicLink(&g_control_link, &g_control_name);
    }
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(g_control);
        g_control = nullptr;
        return status;
    }
    self->MajorFunction[IRP_MJ_CREATE] = control_dispatch;
    self->MajorFunction[IRP_MJ_CLOSE] = control_dispatch;
    self->MajorFunction[IRP_MJ_DEVICE_CONTROL] = control_dispatch;
    return STATUS_SUCCESS;
}

void delete_prober()
{
    if (g_control == nullptr) return;
    IoDeleteSymbolicLink(&g_control_link);
    IoDeleteDevice(g_control);
    g_control = nullptr;
}

namespace {

// Where in the driver the touch was made: the instruction when it is the driver's; else (it was in
// a routine the driver called: RtlCopyMemory, RtlCompareMemory...) the innermost return address
// into the driver's code on the faulting thread's stack, found by scanning up from its stack
// pointer; failing both, the dispatch routine.
bool in_code(const Image* image, ULONG_PTR a)
{
    const auto* dos = reinterpret_cast<const IMAGE_DOS_HEADER*>(image->base);
    const auto* nt = reinterpret_cast<const IMAGE_NT_HEADERS*>(image->base + dos->e_lfanew);
    const IMAGE_SECTION_HEADER* section = IMAGE_FIRST_SECTION(nt);
    for (unsigned i = 0; i < nt->FileHeader.NumberOfSections; ++i, ++section) {
        const auto start = reinterpret_cast<ULONG_PTR>(image->base) + section->VirtualAddress;
        if ((section->Characteristics & IMAGE_SCN_MEM_EXECUTE) != 0 && a >= start && a < start + section->Misc.VirtualSize) return true;
    }
    return false;
}

void* touch_site(Image* image, void* instruction, const CONTEXT* context)
{
    if (image_at(instruction) == image) return instruction;
#if defined(_WIN64)
    const auto* slot = reinterpret_cast<const ULONG_PTR*>(context->Rsp);
#else
    const auto* slot = reinterpret_cast<const ULONG_PTR*>(context->Esp);
#endif
    ULONG_PTR low = 0, high = 0;
    IoGetStackLimits(&low, &high); // the faulting thread's own stack: the scan never leaves it
    for (unsigned i = 0; i < 512 && reinterpret_cast<ULONG_PTR>(slot + i + 1) <= high; ++i) // the routine the driver called is shallow
        if (in_code(image, slot[i])) return reinterpret_cast<void*>(slot[i]);
    return reinterpret_cast<void*>(image->real_major[IRP_MJ_DEVICE_CONTROL]);
}

} // namespace

bool is_prober_irp(PIRP irp)
{
    return g_watch.active && irp != nullptr && g_watch.irp == irp;
}

// special_pool.cpp's vectored handler asks first: EXCEPTION_CONTINUE_EXECUTION when the fault was
// on the prober's pages and they are open now, else 0 (EXCEPTION_CONTINUE_SEARCH: the handler goes on).
LONG prober_fault(const void* address, bool write, void* instruction, const CONTEXT* context)
{
    if (!g_watch.active) return 0;
    auto a = static_cast<const char*>(address);
    int buffer = -1;
    for (int i = 0; i < 2; ++i)
        if (g_watch.start[i] != nullptr && a >= g_watch.start[i] && a < g_watch.start[i] + (g_watch.length[i] ? g_watch.length[i] : 1)) buffer = i;
    const bool guarded = g_watch.guarded != nullptr && a >= g_watch.guarded && a < g_watch.guarded + g_watch.guarded_size;
    if (buffer < 0 && !guarded) return 0;
    if (buffer < 0) buffer = g_watch.which == pool_in ? 0 : 1;
    Image* image = g_watch.image;
    if (InterlockedExchange(&g_watch.reported, 1) == 0) {
        char args[64], detail[176];
        RtlStringCbPrintfA(args, sizeof args, "address=%p", address);
        void* site = touch_site(image, instruction, context);
        RtlStringCbPrintfA(detail, sizeof detail, "(%s of kernel memory handed over as the UserMode METHOD_NEITHER %s, without %s; probe case %s, instruction=%p)",
                           write ? "write" : "read", buffer == 0 ? "Type3InputBuffer" : "UserBuffer",
                           buffer == 0 ? "ProbeForRead" : "ProbeForWrite", kCaseNames[g_watch.which], instruction);
        violation(image, "UNPROBED_USER_BUFFER", write ? "write" : "read", args, site, detail);
    }
    // The prober's pages are opened and the instruction runs again (the verifier reports and
    // recovers); an unmapped kernel-looking address cannot be: the driver's __except, or the host's death.
    if (!guarded) return EXCEPTION_CONTINUE_SEARCH;
    PVOID base = g_watch.guarded;
    SIZE_T size = g_watch.guarded_size;
    ULONG old = 0;
    return NT_SUCCESS(ZwProtectVirtualMemory(NtCurrentProcess(), &base, &size, PAGE_READWRITE, &old)) ? EXCEPTION_CONTINUE_EXECUTION
                                                                                                      : EXCEPTION_CONTINUE_SEARCH;
}

} // namespace kmdverify
