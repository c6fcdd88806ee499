// irps.cpp - the IRP checks: double completion, Information too large, unprobed METHOD_NEITHER
// buffers at completion, STATUS_PENDING without IoMarkIrpPending, IRPs not completed, forwarding,
// and the dispatch wrapper every verified MajorFunction slot points at.
#include "verifier.hpp"

namespace kmdverify {

IrpEntry g_irps[kMaxIrps];

namespace {

struct CompletedIrp { PIRP irp; Image* image; bool marked_pending; };

CompletedIrp g_completed[kMaxCompleted];
unsigned g_completed_next;
ULONG64 g_order;

// A test's fixed interleaving of one IOCTL's dispatch return and its completion on another thread
// (Parameters\RaceCode = the IOCTL code, RaceOrder = 1 or 2; 0: off), so a race in the IRP checks
// is shown every time instead of once in a while (tests/e2e/test_verifier.py):
//   1: the dispatch return waits until the completion has taken the IRP out of the owned table;
//      the completion then waits, before the real IoCompleteRequest, until that return is judged;
//   2: the completion waits until the dispatch return has looked the IRP up, and the dispatch
//      return, once it has, waits until the IRP was completed before judging it.
ULONG g_race_code, g_race_order;
KEVENT g_race_removed, g_race_judged, g_race_looked_up, g_race_completed;
constexpr LONGLONG kRaceWait = -50000000LL; // 5 s, relative: a race that cannot happen does not hang the host

// The entry of the driver that owns `irp` now (dispatched and not handed on); nullptr finds a free slot.
IrpEntry* find_irp(PIRP irp)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && !e.forwarded) return &e;
    return nullptr;
}

// The entry of one dispatch call, by its order.
IrpEntry* find_dispatch(PIRP irp, ULONG64 order)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && e.order == order) return &e;
    return nullptr;
}

// `image`'s entry for an IRP it handed on and may complete again once its completion routine has
// stopped the completion (STATUS_MORE_PROCESSING_REQUIRED).
IrpEntry* find_forwarded(PIRP irp, const Image* image)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && e.forwarded && e.image == image) return &e;
    return nullptr;
}

CompletedIrp* find_completed(PIRP irp)
{
    for (CompletedIrp& e : g_completed)
        if (e.irp == irp) return &e;
    return nullptr;
}

// The innermost IRP this thread is dispatching, if any (probes and faults are charged to it).
IrpEntry* dispatching_here()
{
    const HANDLE thread = PsGetCurrentThreadId();
    IrpEntry* innermost = nullptr;
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.in_dispatch && e.thread == thread && (innermost == nullptr || e.order > innermost->order))
            innermost = &e;
    return innermost;
}

const char* method_name(ULONG m)
{
    static const char* const names[] = {"BUFFERED", "IN_DIRECT", "OUT_DIRECT", "NEITHER"};
    return names[m & 3];
}

// The test interleaving's point in a completion (see g_race_order): only on another thread than
// the dispatch routine's, which would otherwise wait for itself.
bool race_point(const IrpEntry& entry, ULONG order)
{
    return g_race_order == order && entry.major == IRP_MJ_DEVICE_CONTROL && entry.code == g_race_code &&
           entry.thread != PsGetCurrentThreadId();
}

// Low resources: a call failed for this request, yet it reports success. (A driver that can do
// without what it failed to get is flagged too: it should then not have asked.) A function of its
// own: at -O0 its buffers would push vf_IofCompleteRequest's frame past the kit's 1 KiB limit.
void success_after_failed_call(const IrpEntry& entry, PIRP irp, void* site)
{
    char args[64], detail[112];
    RtlStringCbPrintfA(detail, sizeof detail, "(%s was made to fail during its dispatch; completed with 0x%08lx, Information=%lu)",
                       entry.injected, static_cast<ULONG>(irp->IoStatus.Status), static_cast<ULONG>(irp->IoStatus.Information));
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, entry.major);
    violation(entry.image, "SUCCESS_AFTER_FAILED_CALL", "IoCompleteRequest", args, site, detail);
}

// Both entry points (IofCompleteRequest, and IoCompleteRequest, its stdcall twin on x86) come here
// with their caller's return address.
void complete_request(PIRP irp, CCHAR boost, void* site)
{
    Image* image = caller_image(site);
    IrpEntry entry{};
    bool tracked = false, twice = false;
    {
        IrpEntry peek{};
        {
            Locked lock;
            if (IrpEntry* e = find_irp(irp)) peek = *e;
        }
        if (race_point(peek, 2)) {
            LARGE_INTEGER wait;
            wait.QuadPart = kRaceWait;
            KeWaitForSingleObject(&g_race_looked_up, Executive, KernelMode, FALSE, &wait);
        }
    }
    {
        // One critical section takes the IRP out of the owned table and records it completed, with
        // the IoMarkIrpPending flag as it is now, before the real IoCompleteRequest (which clears the
        // stack's Control): a dispatch return judging it meanwhile finds it in one table or the other.
        Locked lock;
        IrpEntry* e = find_irp(irp);
        if (e == nullptr) e = find_forwarded(irp, image); // the caller got it back from a lower driver
        forget_cancel_routine_locked(irp);
        if (e != nullptr) {
            entry = *e;
            *e = IrpEntry{};
            tracked = true;
            g_completed[g_completed_next++ % kMaxCompleted] = {irp, entry.image,
                                                               (IoGetCurrentIrpStackLocation(irp)->Control & SL_PENDING_RETURNED) != 0};
        } else if (find_completed(irp) != nullptr) {
            twice = true;
        }
    }
    if (tracked && race_point(entry, 1)) KeSetEvent(&g_race_removed, IO_NO_INCREMENT, FALSE);
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p", irp);
    if (twice) {
        // The IRP may already be freed: touch nothing of it, and do not forward.
        violation(image, "IRP_DOUBLE_COMPLETE", "IoCompleteRequest", args, site, "(completed before; this completion was dropped)");
        return;
    }
    if (tracked) {
        PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
        const NTSTATUS status = irp->IoStatus.Status;
        if ((entry.major == IRP_MJ_DEVICE_CONTROL || entry.major == IRP_MJ_INTERNAL_DEVICE_CONTROL) && entry.method != METHOD_NEITHER &&
            irp->IoStatus.Information > entry.out_len) {
            char detail[112];
            RtlStringCbPrintfA(detail, sizeof detail, "(Information=%lu > OutputBufferLength=%lu, METHOD_%s; clamped)",
                               static_cast<ULONG>(irp->IoStatus.Information), entry.out_len, method_name(entry.method));
            RtlStringCbPrintfA(args, sizeof args, "irp=%p, code=0x%08lx", irp, stack->Parameters.DeviceIoControl.IoControlCode);
            violation(entry.image, "IRP_INFORMATION_TOO_LARGE", "IoCompleteRequest", args, site, detail);
            irp->IoStatus.Information = entry.out_len;
        }
        if (entry.major == IRP_MJ_DEVICE_CONTROL && entry.method == METHOD_NEITHER && entry.user_mode && NT_SUCCESS(status)) {
            // A request that succeeded had the use of both raw buffers. The output must have been
            // probed whole (ProbeForWrite; parts add up) during its dispatch. So must the input once
            // the driver probed any of it (a probe of the wrong length); an input never probed at all
            // is a warning only: whether the driver read it cannot be seen from outside, and a
            // request may ignore its input (skeleton.sys's SAY_HELLO does).
            const struct { void* p; ULONG len; ULONG probed; const char* name; const char* probe; bool output; } buffers[] = {
                {entry.in, entry.in_len, entry.in_probed, "Type3InputBuffer", "ProbeForRead", false},
                {entry.out, entry.out_len, entry.out_probed, "UserBuffer", "ProbeForWrite", true}};
            for (const auto& b : buffers) {
                if (b.p == nullptr || b.len == 0 || b.probed >= b.len) continue;
                char detail[160];
                RtlStringCbPrintfA(detail, sizeof detail, "(UserMode METHOD_NEITHER %s %p, %lu bytes, %lu of them covered by %s; Information=%lu)",
                                   b.name, b.p, b.len, b.probed, b.probe, static_cast<ULONG>(irp->IoStatus.Information));
                RtlStringCbPrintfA(args, sizeof args, "irp=%p, code=0x%08lx", irp, stack->Parameters.DeviceIoControl.IoControlCode);
                if (b.output || b.probed != 0)
                    violation(entry.image, "UNPROBED_USER_BUFFER", "IoCompleteRequest", args, site, detail);
                else if (!is_prober_irp(irp)) // the prober's inputs are watched: a read of them is reported where it happens
                    warning(entry.image, "UNPROBED_INPUT", "IoCompleteRequest", site, detail);
            }
        }
        if (entry.injected != nullptr && NT_SUCCESS(status)) success_after_failed_call(entry, irp, site);
        if (race_point(entry, 1)) {
            LARGE_INTEGER wait;
            wait.QuadPart = kRaceWait;
            KeWaitForSingleObject(&g_race_judged, Executive, KernelMode, FALSE, &wait);
        }
    }
    IofCompleteRequest(irp, boost);
    if (tracked && race_point(entry, 2)) KeSetEvent(&g_race_completed, IO_NO_INCREMENT, FALSE);
}

VOID FASTCALL vf_IofCompleteRequest(PIRP irp, CCHAR boost)
{
    complete_request(irp, boost, RA);
}

// A driver handing an IRP it owns to another driver gives it away: it is no longer this
// driver's to complete.
NTSTATUS call_driver(PDEVICE_OBJECT device, PIRP irp, void* site)
{
    caller_image(site);
    {
        Locked lock;
        if (IrpEntry* e = find_irp(irp)) {
            e->forwarded = true;
            e->in_dispatch = false;
        }
    }
    return IofCallDriver(device, irp);
}

NTSTATUS FASTCALL vf_IofCallDriver(PDEVICE_OBJECT device, PIRP irp)
{
    return call_driver(device, irp, RA);
}

#if !defined(_WIN64)
// x86: IofCompleteRequest and IofCallDriver are fastcall (ECX, EDX), their Io* twins stdcall (the
// stack); on x64 there is one convention and one wrapper serves both names.
VOID NTAPI vf_IoCompleteRequest(PIRP irp, CCHAR boost)
{
    complete_request(irp, boost, RA);
}

NTSTATUS NTAPI vf_IoCallDriver(PDEVICE_OBJECT device, PIRP irp)
{
    return call_driver(device, irp, RA);
}
#else
#define vf_IoCompleteRequest vf_IofCompleteRequest
#define vf_IoCallDriver vf_IofCallDriver
#endif

} // namespace

NTSTATUS NTAPI vf_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    Image* image = image_of_driver(device->DriverObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    const UCHAR major = stack->MajorFunction;
    PDRIVER_DISPATCH real = image != nullptr && major <= IRP_MJ_MAXIMUM_FUNCTION ? image->real_major[major] : nullptr;
    if (real == nullptr) { // only slots with a real routine are redirected here: an unloaded image's device?
        const ULONG unmapped = static_cast<ULONG>(InterlockedIncrement(reinterpret_cast<LONG*>(&g_unmapped)));
        DbgPrint("kmdverify: UNMAPPED irp=%p major=0x%x device=%p driver_object=%p count=%lu (no verified driver owns it: "
                 "completed with STATUS_INVALID_DEVICE_REQUEST)\n", irp, major, device, device->DriverObject, unmapped);
        irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
        IofCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    IrpEntry e{};
    e.irp = irp;
    e.image = image;
    e.thread = PsGetCurrentThreadId();
    e.in_dispatch = true;
    e.user_mode = irp->RequestorMode != KernelMode;
    e.location = irp->CurrentLocation;
    e.major = major;
    if (major == IRP_MJ_DEVICE_CONTROL || major == IRP_MJ_INTERNAL_DEVICE_CONTROL) {
        const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
        e.code = code;
        e.method = METHOD_FROM_CTL_CODE(code);
        e.out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
        if (e.method == METHOD_NEITHER) {
            e.in = stack->Parameters.DeviceIoControl.Type3InputBuffer;
            e.in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
            e.out = irp->UserBuffer;
        }
    }
    // The front end counts these: a request it sent that no line shows never reached the driver.
    DbgPrint("kmdverify: IRP driver=%ws major=0x%x code=0x%08lx\n", image->name, major, e.code);
    const bool race = g_race_order != 0 && e.code == g_race_code && e.major == IRP_MJ_DEVICE_CONTROL;
    if (race) {
        KeClearEvent(&g_race_judged);
        KeClearEvent(&g_race_completed);
        KeClearEvent(&g_race_looked_up);
        KeClearEvent(&g_race_removed);
    }
    bool tracked = false;
    {
        Locked lock;
        ++image->c.irps;
        if (CompletedIrp* old = find_completed(irp)) *old = CompletedIrp{}; // the address is a new IRP now
        // Entries of an IRP at this address on this level or above are of an earlier IRP (one that
        // was forwarded and never given back); a forwarded one below us is this IRP, in flight.
        for (IrpEntry& stale : g_irps)
            if (stale.irp == irp && stale.location <= e.location) stale = IrpEntry{};
        e.order = ++g_order;
        if (IrpEntry* slot = find_irp(nullptr)) {
            *slot = e;
            tracked = true;
        }
    }
    NTSTATUS status;
    const IrqlState at_entry = irql_state();
    {
        RunningImage running(image);
        status = real(device, irp);
    }
    check_dispatch_return(image, reinterpret_cast<void*>(real), irp, major, at_entry);
    if (!tracked) return status;
    if (race && g_race_order == 1 && status == STATUS_PENDING) {
        LARGE_INTEGER wait;
        wait.QuadPart = kRaceWait;
        KeWaitForSingleObject(&g_race_removed, Executive, KernelMode, FALSE, &wait);
    }

    bool still_owned = false, forwarded = false, marked = true;
    {
        // Judged from what is read here, under the lock: once it is released, a completion on
        // another thread may run the real IoCompleteRequest, which clears the stack's Control.
        Locked lock;
        if (IrpEntry* mine = find_dispatch(irp, e.order)) {
            if (mine->forwarded) {
                forwarded = true;
                if (status != STATUS_PENDING) *mine = IrpEntry{}; // done with it: it will not come back to us
            } else {
                mine->in_dispatch = false;
                still_owned = true;
                marked = (stack->Control & SL_PENDING_RETURNED) != 0;
                // Still ours, so not completed (a completion takes it out under this lock first):
                // the cancel routine it set is entered through the verifier's (routines.cpp).
                arm_cancel_routine_locked(image, irp);
            }
        } else if (CompletedIrp* done = find_completed(irp)) {
            marked = done->marked_pending;
        }
    }
    if (race && g_race_order == 2 && status == STATUS_PENDING) {
        KeSetEvent(&g_race_looked_up, IO_NO_INCREMENT, FALSE);
        LARGE_INTEGER wait;
        wait.QuadPart = kRaceWait;
        KeWaitForSingleObject(&g_race_completed, Executive, KernelMode, FALSE, &wait);
    }
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, major);
    if (still_owned && status != STATUS_PENDING)
        violation(image, "IRP_NOT_COMPLETED", "DispatchRoutine", args, reinterpret_cast<void*>(real),
                  "(returned without completing, forwarding or pending the IRP)");
    // A forwarded IRP's STATUS_PENDING is the lower driver's (return IoCallDriver(...)).
    if (status == STATUS_PENDING && !forwarded && !marked)
        violation(image, "PENDING_WITHOUT_MARK", "DispatchRoutine", args, reinterpret_cast<void*>(real),
                  "(returned STATUS_PENDING without IoMarkIrpPending)");
    if (race) KeSetEvent(&g_race_judged, IO_NO_INCREMENT, FALSE);
    return status;
}

ULONG irp_leftovers(Image& image, const char* phase)
{
    ULONG found = 0;
    char args[96];
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.image == &image && e.forwarded) e = IrpEntry{}; // handed on, not the driver's
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.image == &image) {
            RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", e.irp, e.major);
            violation(&image, "IRP_PENDING_AT_UNLOAD", "DispatchRoutine", args, nullptr, phase);
            e = IrpEntry{};
            ++found;
        }
    return found;
}

void note_injected_fault(const char* call)
{
    Locked lock;
    if (IrpEntry* e = dispatching_here())
        if (e->injected == nullptr) e->injected = call;
}

void forget_irps_of(Image& image)
{
    Locked lock;
    for (CompletedIrp& e : g_completed)
        if (e.image == &image) e = CompletedIrp{};
}

void configure_irp_checks()
{
    g_race_code = read_param(L"RaceCode");
    g_race_order = read_param(L"RaceOrder");
}

void init_irp_checks()
{
    KeInitializeEvent(&g_race_judged, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_completed, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_looked_up, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_removed, NotificationEvent, FALSE);
}

namespace {
const Wrapper kWrappers[] = {
    {"IofCompleteRequest", reinterpret_cast<void*>(vf_IofCompleteRequest)},
    {"IoCompleteRequest", reinterpret_cast<void*>(vf_IoCompleteRequest)},
    {"IofCallDriver", reinterpret_cast<void*>(vf_IofCallDriver)},
    {"IoCallDriver", reinterpret_cast<void*>(vf_IoCallDriver)},
};
} // namespace
const WrapperList kIrpWrappers = list_of(kWrappers);

} // namespace kmdverify
