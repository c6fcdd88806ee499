// routines.cpp - the driver routines a kernel calls at DISPATCH_LEVEL, entered through trampolines
// of the verifier: DPCs (a timer's, KeSetTimer/KeSetTimerEx) and cancel routines. Under Wine both
// run at PASSIVE_LEVEL on an ordinary thread, so nothing there says that a DPC allocating paged
// pool or a cancel routine keeping the cancel spin lock is wrong. The trampoline raises the
// thread's IRQL model for the call (irql.cpp: enter_dispatch_level), so the DDIs the routine calls
// are judged at DISPATCH_LEVEL (IRQL_TOO_HIGH), and judges its return: SPIN_LOCK_HELD_ON_RETURN
// (a spin lock it took, or the cancel spin lock, still held), IRQL_NOT_RESTORED.
//
// How each gets in (read from Wine 8's dlls/ntoskrnl.exe and its exports):
// - DPC: KeInitializeDpc stores DeferredRoutine/DeferredContext in the KDPC, and a timer's
//   thread-pool callback calls dpc->DeferredRoutine(dpc, DeferredContext, ...) as it fires. The
//   wrapper of KeInitializeDpc puts the trampoline there and keeps the driver's routine in a table
//   keyed by the KDPC's address; KeSetTimer/KeSetTimerEx arm a KDPC the driver filled in itself.
//   (Wine 8's KeInsertQueueDpc is a stub that returns TRUE and never runs the DPC, and its
//   KeFlushQueuedDpcs does nothing: only timer DPCs run under Wine.)
// - Cancel routine: IoSetCancelRoutine is a macro (an InterlockedExchangePointer on
//   Irp->CancelRoutine, mingw-w64's wdm.h as the WDK's), and Wine's IoCancelIrp, called inside
//   ntoskrnl for a user's CancelIo, takes Irp->CancelRoutine and calls it holding the cancel spin
//   lock: no import to wrap. So when a verified driver's dispatch routine returns still owning the
//   IRP (pending it), a cancel routine of its image found in Irp->CancelRoutine is swapped for the
//   trampoline (compare-exchange: a driver clearing it meanwhile wins), and the driver's routine is
//   kept by IRP. The driver sees no difference: IoSetCancelRoutine(irp, NULL) hands back non-NULL
//   either way. A cancel routine set again later, outside a dispatch routine, runs unwrapped.
//
// A timer still set when the memory holding it goes - the device extension IoDeleteDevice frees,
// a pool block, the image at unload - is TIMER_STILL_SET (Windows' verifier bug-checks 0xC7,
// TIMER_OR_DPC_INVALID): under Wine its DPC then fires into freed memory or an unloaded image.
// A timer counts as set from KeSetTimer(Ex) with a DPC until KeCancelTimer, or until its DPC
// runs for a one-shot timer; the verifier cancels it when it reports it, so the host lives on.
#include "verifier.hpp"

namespace kmdverify {

namespace {

constexpr unsigned kMaxDpcs = 64;
constexpr unsigned kMaxCancels = 64;

struct DpcEntry {
    PKDPC dpc;
    PKDEFERRED_ROUTINE routine;
    Image* image;
    bool announced; // its first call printed (a DPC line: the trampoline is in use)
};
struct CancelEntry {
    PIRP irp;
    PDRIVER_CANCEL routine;
    Image* image;
};

constexpr unsigned kMaxTimers = 64;

struct TimerEntry {
    PKTIMER timer;
    PKDPC dpc;
    LONG period; // 0: one-shot, done once its DPC runs
    Image* image;
    const void* site; // the KeSetTimer(Ex) call
};

DpcEntry g_dpcs[kMaxDpcs];
CancelEntry g_cancels[kMaxCancels];
TimerEntry g_timers[kMaxTimers];

// Set with a DPC: kept until cancelled, or until its DPC runs (one-shot). A full table keeps none.
void timer_set(Image* image, PKTIMER timer, PKDPC dpc, LONG period, const void* site)
{
    if (image == nullptr || timer == nullptr) return;
    Locked lock;
    TimerEntry* slot = nullptr;
    for (TimerEntry& e : g_timers)
        if (e.timer == timer) slot = &e; // set again: replaces its earlier setting
    if (slot == nullptr)
        for (TimerEntry& e : g_timers)
            if (e.timer == nullptr && slot == nullptr) slot = &e;
    if (slot == nullptr) return;
    if (dpc == nullptr)
        *slot = TimerEntry{}; // no DPC: nothing of the driver's runs when it fires
    else
        *slot = TimerEntry{timer, dpc, period, image, site};
}

void one_shot_ran(PKDPC dpc)
{
    Locked lock;
    for (TimerEntry& e : g_timers)
        if (e.timer != nullptr && e.dpc == dpc && e.period == 0) e = TimerEntry{};
}

// Every timer of `image` set inside [begin, begin + size) (all of them when begin is null):
// reported, then cancelled by the verifier.
ULONG timers_going(Image& image, const char* begin, SIZE_T size, const char* detail)
{
    ULONG found = 0;
    for (;;) {
        TimerEntry t{};
        {
            Locked lock;
            for (TimerEntry& e : g_timers) {
                const char* at = reinterpret_cast<const char*>(e.timer);
                if (e.timer != nullptr && e.image == &image && (begin == nullptr || (at >= begin && at < begin + size))) {
                    t = e;
                    e = TimerEntry{};
                    break;
                }
            }
        }
        if (t.timer == nullptr) return found;
        char args[96];
        RtlStringCbPrintfA(args, sizeof args, "timer=%p, dpc=%p, period=%ld", t.timer, t.dpc, t.period);
        violation(&image, "TIMER_STILL_SET", t.period != 0 ? "KeSetTimerEx" : "KeSetTimer", args, t.site, detail);
        KeCancelTimer(t.timer);
        ++found;
    }
}

VOID NTAPI dpc_trampoline(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2);
VOID NTAPI cancel_trampoline(PDEVICE_OBJECT device, PIRP irp);

// Keeps `routine` for `dpc` (g_lock held); false: the table is full, the routine runs unwrapped.
bool remember_dpc_locked(PKDPC dpc, PKDEFERRED_ROUTINE routine, Image* image)
{
    DpcEntry* slot = nullptr;
    for (DpcEntry& e : g_dpcs)
        if (e.dpc == dpc) {
            slot = &e; // initialized again: its routine may have changed
            break;
        }
    if (slot == nullptr)
        for (DpcEntry& e : g_dpcs)
            if (e.dpc == nullptr) {
                slot = &e;
                break;
            }
    if (slot == nullptr) return false;
    *slot = DpcEntry{dpc, routine, image, false};
    return true;
}

// A DeferredRoutine of a verified image is replaced by the trampoline; returns what goes in the KDPC.
PKDEFERRED_ROUTINE wrap_dpc_routine(PKDPC dpc, PKDEFERRED_ROUTINE routine)
{
    if (dpc == nullptr || routine == nullptr || routine == dpc_trampoline) return routine;
    Locked lock;
    Image* owner = image_at(reinterpret_cast<const void*>(routine));
    if (owner == nullptr || !remember_dpc_locked(dpc, routine, owner)) return routine;
    return dpc_trampoline;
}

VOID NTAPI dpc_trampoline(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    PKDEFERRED_ROUTINE routine = nullptr;
    Image* image = nullptr;
    bool first = false;
    {
        Locked lock;
        for (DpcEntry& e : g_dpcs)
            if (e.dpc == dpc) {
                routine = e.routine;
                image = e.image;
                first = !e.announced;
                e.announced = true;
                break;
            }
    }
    if (routine == nullptr) {
        // Its driver unloaded (the table is cleared then) with the timer still set: its code is
        // gone, and calling it would crash the host, as it does without the verifier.
        DbgPrint("kmdverify: ERROR a DPC ran after its driver unloaded (KDPC %p, timer still set): not called\n", dpc);
        return;
    }
    if (first)
        DbgPrint("kmdverify: DPC driver=%ws at=%s entered at DISPATCH_LEVEL\n", image->name,
                 site_text(static_cast<const char*>(reinterpret_cast<const void*>(routine)) + 1).text);
    one_shot_ran(dpc); // before the call: the routine may set its timer again
    IrqlState at_entry{};
    const bool modelled = enter_dispatch_level(false, &at_entry);
    {
        RunningImage running(image);
        routine(dpc, context, argument1, argument2);
    }
    if (!modelled) return;
    char args[48];
    RtlStringCbPrintfA(args, sizeof args, "dpc=%p", dpc);
    check_routine_return(image, "DeferredRoutine", args, reinterpret_cast<const void*>(routine), at_entry, DISPATCH_LEVEL);
}

CancelEntry* find_cancel(PIRP irp)
{
    for (CancelEntry& e : g_cancels)
        if (e.irp == irp) return &e;
    return nullptr;
}

VOID NTAPI cancel_trampoline(PDEVICE_OBJECT device, PIRP irp)
{
    PDRIVER_CANCEL routine = nullptr;
    Image* image = nullptr;
    {
        Locked lock;
        if (CancelEntry* e = find_cancel(irp)) {
            routine = e->routine;
            image = e->image;
            *e = CancelEntry{}; // a cancel routine runs once
        }
    }
    if (routine == nullptr) { // not armed by us (cannot happen: the trampoline is only set with its entry)
        DbgPrint("kmdverify: ERROR cancel routine of irp=%p unknown: cancel spin lock released, not called\n", irp);
        IoReleaseCancelSpinLock(irp->CancelIrql);
        return;
    }
    // What IoAcquireCancelSpinLock returned to the canceller, in the model (Wine's is always 0).
    const KIRQL cancel_irql = modelled_irql();
    irp->CancelIrql = cancel_irql;
    DbgPrint("kmdverify: CANCEL driver=%ws irp=%p at=%s entered at DISPATCH_LEVEL holding the cancel spin lock\n", image->name,
             irp, site_text(static_cast<const char*>(reinterpret_cast<const void*>(routine)) + 1).text);
    IrqlState at_entry{};
    const bool modelled = enter_dispatch_level(true, &at_entry);
    {
        RunningImage running(image);
        routine(device, irp); // usually completes the IRP: not touched after this
    }
    if (!modelled) return;
    char args[48];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p", irp);
    if (check_routine_return(image, "CancelRoutine", args, reinterpret_cast<const void*>(routine), at_entry, cancel_irql))
        IoReleaseCancelSpinLock(cancel_irql); // reported; released so that the next cancel does not spin forever
}

VOID NTAPI vf_KeInitializeDpc(PRKDPC dpc, PKDEFERRED_ROUTINE routine, PVOID context)
{
    caller_image(RA);
    KeInitializeDpc(dpc, wrap_dpc_routine(dpc, routine), context);
}

// A KDPC the driver filled in without KeInitializeDpc gets the trampoline when its timer is set.
void arm_timer_dpc(PKDPC dpc)
{
    if (dpc != nullptr) dpc->DeferredRoutine = wrap_dpc_routine(dpc, dpc->DeferredRoutine);
}

BOOLEAN NTAPI vf_KeSetTimer(PKTIMER timer, LARGE_INTEGER due, PKDPC dpc)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeSetTimer", DISPATCH_LEVEL, RA);
    arm_timer_dpc(dpc);
    timer_set(image, timer, dpc, 0, RA);
    return KeSetTimer(timer, due, dpc);
}

BOOLEAN NTAPI vf_KeSetTimerEx(PKTIMER timer, LARGE_INTEGER due, LONG period, PKDPC dpc)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeSetTimerEx", DISPATCH_LEVEL, RA);
    arm_timer_dpc(dpc);
    timer_set(image, timer, dpc, period, RA);
    return KeSetTimerEx(timer, due, period, dpc);
}

BOOLEAN NTAPI vf_KeCancelTimer(PKTIMER timer)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeCancelTimer", DISPATCH_LEVEL, RA);
    timer_set(image, timer, nullptr, 0, RA); // no longer set
    return KeCancelTimer(timer);
}

const Wrapper kWrappers[] = {
    {"KeInitializeDpc", reinterpret_cast<void*>(vf_KeInitializeDpc)},
    {"KeSetTimer", reinterpret_cast<void*>(vf_KeSetTimer)},
    {"KeSetTimerEx", reinterpret_cast<void*>(vf_KeSetTimerEx)},
    {"KeCancelTimer", reinterpret_cast<void*>(vf_KeCancelTimer)},
};

} // namespace

const WrapperList kRoutineWrappers = list_of(kWrappers);

void arm_cancel_routine_locked(Image* image, PIRP irp)
{
    PDRIVER_CANCEL routine = irp->CancelRoutine;
    if (routine == nullptr || routine == cancel_trampoline || image_at(reinterpret_cast<const void*>(routine)) != image) return;
    CancelEntry* slot = find_cancel(irp); // an earlier IRP at this address, or this one re-armed
    if (slot == nullptr) slot = find_cancel(nullptr);
    if (slot == nullptr) return; // full: this one runs unwrapped
    *slot = CancelEntry{irp, routine, image};
    if (InterlockedCompareExchangePointer(reinterpret_cast<PVOID volatile*>(&irp->CancelRoutine),
                                          reinterpret_cast<PVOID>(cancel_trampoline), reinterpret_cast<PVOID>(routine)) !=
        reinterpret_cast<PVOID>(routine))
        *slot = CancelEntry{}; // the driver took it back meanwhile
}

void forget_cancel_routine_locked(PIRP irp)
{
    CancelEntry* e = find_cancel(irp);
    if (e == nullptr) return;
    // Completed with our trampoline still set: the driver's own routine goes back, as it left it.
    InterlockedCompareExchangePointer(reinterpret_cast<PVOID volatile*>(&irp->CancelRoutine), reinterpret_cast<PVOID>(e->routine),
                                      reinterpret_cast<PVOID>(cancel_trampoline));
    *e = CancelEntry{};
}

void timers_in_freed_memory(Image* image, const void* begin, SIZE_T size, const char* detail)
{
    if (image != nullptr && begin != nullptr) timers_going(*image, static_cast<const char*>(begin), size, detail);
}

ULONG timer_leftovers(Image& image, const char* phase)
{
    return timers_going(image, nullptr, 0, phase);
}

void forget_routines_of(Image& image)
{
    Locked lock;
    for (DpcEntry& e : g_dpcs)
        if (e.image == &image) e = DpcEntry{};
    for (CancelEntry& e : g_cancels)
        if (e.image == &image) e = CancelEntry{};
    for (TimerEntry& e : g_timers)
        if (e.image == &image) e = TimerEntry{};
}

} // namespace kmdverify
