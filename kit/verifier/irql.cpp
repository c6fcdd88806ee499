// irql.cpp - IRQL rules, from a model of each thread's IRQL: Wine runs every driver routine at
// PASSIVE_LEVEL in a user process, so the verifier keeps the IRQL a real kernel would be at. The
// model is the spin locks (KeAcquireSpinLock*, KeAcquireInStackQueuedSpinLock, and their
// releases: a thread holding one runs at DISPATCH_LEVEL) and, where they are imports, the explicit
// raises and lowers (x86: hal's KfRaiseIrql/KfLowerIrql, and KeGetCurrentIrql answers from the
// model). With it, a DDI called above its documented maximum IRQL is IRQL_TOO_HIGH, a dispatch
// routine returning with a spin lock held is SPIN_LOCK_HELD_ON_RETURN, and one returning at another
// IRQL than it was entered at is IRQL_NOT_RESTORED. (On x64, KeRaiseIrql/KeLowerIrql/
// KeGetCurrentIrql are inline CR8 accesses, not imports: not seen there.) The cancel spin lock
// (IoAcquireCancelSpinLock/IoReleaseCancelSpinLock) is one of the spin locks; routines the kernel
// calls at DISPATCH_LEVEL (DPCs, cancel routines: routines.cpp) raise the model for their call
// (enter_dispatch_level) and are judged on their return (check_routine_return). Waits with a
// timeout that is NULL or nonzero are allowed up to APC_LEVEL only, a zero timeout up to DISPATCH_LEVEL.
#include "verifier.hpp"

namespace kmdverify {
namespace {

struct ThreadIrql {
    HANDLE thread;
    LONG locks;  // spin locks held: at least DISPATCH_LEVEL while > 0
    KIRQL level; // set by raises and lowers (KfRaiseIrql, KfLowerIrql, a spin lock's release)
    bool cancel_lock; // one of `locks` is the cancel spin lock
};
ThreadIrql g_threads[64];

ThreadIrql* slot_of(HANDLE thread, bool create)
{
    for (ThreadIrql& t : g_threads)
        if (t.thread == thread) return &t;
    if (!create) return nullptr;
    for (ThreadIrql& t : g_threads)
        if (t.thread == nullptr) {
            t.thread = thread;
            return &t;
        }
    return nullptr;
}

KIRQL level_of(const ThreadIrql* t)
{
    if (t == nullptr) return PASSIVE_LEVEL;
    return t->locks > 0 && t->level < DISPATCH_LEVEL ? DISPATCH_LEVEL : t->level;
}

void forget_if_passive(ThreadIrql* t)
{
    if (t->locks == 0 && t->level == PASSIVE_LEVEL) *t = ThreadIrql{};
}

// Returns the modelled IRQL before the lock: what KeAcquireSpinLock hands back as the old IRQL.
KIRQL lock_taken(bool cancel_lock = false)
{
    Locked lock;
    ThreadIrql* t = slot_of(PsGetCurrentThreadId(), true);
    const KIRQL old = level_of(t);
    if (t != nullptr) {
        ++t->locks;
        if (cancel_lock) t->cancel_lock = true;
    }
    return old;
}

// `restore`: the IRQL a KeReleaseSpinLock lowers to (its NewIrql); none for the *AtDpcLevel pair.
void lock_released(const KIRQL* restore = nullptr, bool cancel_lock = false)
{
    Locked lock;
    if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), restore != nullptr && *restore != PASSIVE_LEVEL)) {
        if (t->locks > 0) --t->locks;
        if (cancel_lock) t->cancel_lock = false;
        if (restore != nullptr) t->level = *restore;
        forget_if_passive(t);
    }
}

// What a routine left behind (its spin locks beyond those it was entered with, its raw IRQL, the
// cancel spin lock still held), read as the thread's model is put back to `at_entry`: reported
// once, the caller's own locks and level stay.
struct Leftover {
    LONG held;
    KIRQL level;
    bool cancel_lock;
};
Leftover restore_model(const IrqlState& at_entry)
{
    Locked lock;
    Leftover left{0, at_entry.level, false};
    if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false)) {
        if (t->locks > at_entry.locks) left.held = t->locks - at_entry.locks;
        left.level = t->level;
        left.cancel_lock = t->cancel_lock && !at_entry.cancel_lock;
        t->locks = at_entry.locks;
        t->level = at_entry.level;
        t->cancel_lock = at_entry.cancel_lock;
        forget_if_passive(t);
    }
    return left;
}

#if !defined(_WIN64)
// Sets the modelled IRQL (a raise or a lower); returns the one before. (x86: the raises are imports.)
KIRQL set_level(KIRQL level)
{
    Locked lock;
    ThreadIrql* t = slot_of(PsGetCurrentThreadId(), level != PASSIVE_LEVEL);
    const KIRQL old = level_of(t);
    if (t != nullptr) {
        t->level = level;
        forget_if_passive(t);
    }
    return old;
}
#endif

const char* irql_name(KIRQL irql)
{
    return irql == PASSIVE_LEVEL ? "PASSIVE_LEVEL" : irql == APC_LEVEL ? "APC_LEVEL" : irql == DISPATCH_LEVEL ? "DISPATCH_LEVEL" : "?";
}

#if defined(_WIN64)
KIRQL NTAPI vf_KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK spin_lock)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeAcquireSpinLock", DISPATCH_LEVEL, RA);
    KeAcquireSpinLockRaiseToDpc(spin_lock);
    return lock_taken();
}

VOID NTAPI vf_KeReleaseSpinLock(PKSPIN_LOCK spin_lock, KIRQL new_irql)
{
    caller_image(RA);
    lock_released(&new_irql);
    KeReleaseSpinLock(spin_lock, new_irql);
}
#else
// x86: KeAcquireSpinLock/KeReleaseSpinLock are hal's fastcall KfAcquireSpinLock/KfReleaseSpinLock,
// and the IRQL routines are hal imports too (wdm.h), so the raises and lowers are seen.
KIRQL FASTCALL vf_KfAcquireSpinLock(PKSPIN_LOCK spin_lock)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeAcquireSpinLock", DISPATCH_LEVEL, RA);
    KfAcquireSpinLock(spin_lock);
    return lock_taken();
}

VOID FASTCALL vf_KfReleaseSpinLock(PKSPIN_LOCK spin_lock, KIRQL new_irql)
{
    caller_image(RA);
    lock_released(&new_irql);
    KfReleaseSpinLock(spin_lock, new_irql);
}

KIRQL FASTCALL vf_KfRaiseIrql(KIRQL new_irql)
{
    caller_image(RA);
    KfRaiseIrql(new_irql);
    return set_level(new_irql);
}

VOID FASTCALL vf_KfLowerIrql(KIRQL new_irql)
{
    caller_image(RA);
    set_level(new_irql);
    KfLowerIrql(new_irql);
}

KIRQL NTAPI vf_KeGetCurrentIrql()
{
    caller_image(RA);
    return modelled_irql(); // what a kernel would answer; Wine's hal says PASSIVE_LEVEL
}
#endif

VOID FASTCALL_IF_X86 vf_KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK spin_lock)
{
    caller_image(RA);
    KeAcquireSpinLockAtDpcLevel(spin_lock);
    lock_taken();
}

VOID FASTCALL_IF_X86 vf_KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK spin_lock)
{
    caller_image(RA);
    lock_released();
    KeReleaseSpinLockFromDpcLevel(spin_lock);
}

VOID FASTCALL vf_KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK spin_lock, PKLOCK_QUEUE_HANDLE handle)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeAcquireInStackQueuedSpinLock", DISPATCH_LEVEL, RA);
    KeAcquireInStackQueuedSpinLock(spin_lock, handle);
    lock_taken();
}

VOID FASTCALL vf_KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE handle)
{
    caller_image(RA);
    lock_released();
    KeReleaseInStackQueuedSpinLock(handle);
}

// The cancel spin lock: one spin lock of the model, and the one a cancel routine is entered holding.
VOID NTAPI vf_IoAcquireCancelSpinLock(PKIRQL irql)
{
    Image* image = caller_image(RA);
    check_irql(image, "IoAcquireCancelSpinLock", DISPATCH_LEVEL, RA);
    IoAcquireCancelSpinLock(irql);
    *irql = lock_taken(true);
}

VOID NTAPI vf_IoReleaseCancelSpinLock(KIRQL irql)
{
    caller_image(RA);
    lock_released(&irql, true);
    IoReleaseCancelSpinLock(irql);
}

// A wait that may block needs IRQL <= APC_LEVEL; only a zero timeout (a test of the object's
// state) is allowed at DISPATCH_LEVEL (learn.microsoft.com: KeWaitForSingleObject, the
// IrqlKeWaitForMultipleObjects rule).
void check_wait(Image* image, const char* call, const LARGE_INTEGER* timeout, const void* site)
{
    if (timeout != nullptr && timeout->QuadPart == 0)
        check_irql(image, call, DISPATCH_LEVEL, site, " with a zero timeout");
    else
        check_irql(image, call, APC_LEVEL, site, timeout == nullptr ? " with a NULL timeout" : " with a nonzero timeout");
}

NTSTATUS NTAPI vf_KeWaitForSingleObject(PVOID object, KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                        PLARGE_INTEGER timeout)
{
    Image* image = caller_image(RA);
    check_wait(image, "KeWaitForSingleObject", timeout, RA);
    return KeWaitForSingleObject(object, reason, mode, alertable, timeout);
}

NTSTATUS NTAPI vf_KeWaitForMultipleObjects(ULONG count, PVOID objects[], WAIT_TYPE type, KWAIT_REASON reason,
                                           KPROCESSOR_MODE mode, BOOLEAN alertable, PLARGE_INTEGER timeout,
                                           PKWAIT_BLOCK blocks)
{
    Image* image = caller_image(RA);
    check_wait(image, "KeWaitForMultipleObjects", timeout, RA);
    return KeWaitForMultipleObjects(count, objects, type, reason, mode, alertable, timeout, blocks);
}

const Wrapper kWrappers[] = {
#if defined(_WIN64)
    {"KeAcquireSpinLockRaiseToDpc", reinterpret_cast<void*>(vf_KeAcquireSpinLockRaiseToDpc)},
    {"KeReleaseSpinLock", reinterpret_cast<void*>(vf_KeReleaseSpinLock)},
    {"KeAcquireSpinLockAtDpcLevel", reinterpret_cast<void*>(vf_KeAcquireSpinLockAtDpcLevel)},
    {"KeReleaseSpinLockFromDpcLevel", reinterpret_cast<void*>(vf_KeReleaseSpinLockFromDpcLevel)},
#else
    {"KfAcquireSpinLock", reinterpret_cast<void*>(vf_KfAcquireSpinLock)},
    {"KfReleaseSpinLock", reinterpret_cast<void*>(vf_KfReleaseSpinLock)},
    {"KefAcquireSpinLockAtDpcLevel", reinterpret_cast<void*>(vf_KeAcquireSpinLockAtDpcLevel)},
    {"KefReleaseSpinLockFromDpcLevel", reinterpret_cast<void*>(vf_KeReleaseSpinLockFromDpcLevel)},
    {"KfRaiseIrql", reinterpret_cast<void*>(vf_KfRaiseIrql)},
    {"KfLowerIrql", reinterpret_cast<void*>(vf_KfLowerIrql)},
    {"KeGetCurrentIrql", reinterpret_cast<void*>(vf_KeGetCurrentIrql)},
#endif
    {"KeAcquireInStackQueuedSpinLock", reinterpret_cast<void*>(vf_KeAcquireInStackQueuedSpinLock)},
    {"KeReleaseInStackQueuedSpinLock", reinterpret_cast<void*>(vf_KeReleaseInStackQueuedSpinLock)},
    {"IoAcquireCancelSpinLock", reinterpret_cast<void*>(vf_IoAcquireCancelSpinLock)},
    {"IoReleaseCancelSpinLock", reinterpret_cast<void*>(vf_IoReleaseCancelSpinLock)},
    {"KeWaitForSingleObject", reinterpret_cast<void*>(vf_KeWaitForSingleObject)},
    {"KeWaitForMultipleObjects", reinterpret_cast<void*>(vf_KeWaitForMultipleObjects)},
};

} // namespace

const WrapperList kIrqlWrappers = list_of(kWrappers);

KIRQL modelled_irql()
{
    Locked lock;
    return level_of(slot_of(PsGetCurrentThreadId(), false));
}

void check_irql(Image* image, const char* call, KIRQL maximum, const void* site, const char* when)
{
    const KIRQL irql = modelled_irql();
    if (image == nullptr || irql <= maximum) return;
    char detail[160];
    RtlStringCbPrintfA(detail, sizeof detail, "(called at %s%s; its documented maximum is %s%s)", irql_name(irql),
                       locks_held() > 0 ? " with a spin lock held" : "", irql_name(maximum), when);
    violation(image, "IRQL_TOO_HIGH", call, "", site, detail);
}

LONG locks_held()
{
    Locked lock;
    const ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false);
    return t != nullptr ? t->locks : 0;
}

IrqlState irql_state()
{
    Locked lock;
    const ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false);
    return t != nullptr ? IrqlState{t->locks, t->level, t->cancel_lock} : IrqlState{};
}

void check_dispatch_return(Image* image, const void* routine, PIRP irp, UCHAR major, IrqlState at_entry)
{
    const Leftover left = restore_model(at_entry);
    if (left.held == 0 && left.level == at_entry.level) return;
    char args[64], detail[112];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, major);
    // `routine` is a function's address, not a return address: +1, so that the report's
    // return-address adjustment (the byte before) lands on the routine's first byte.
    const void* site = static_cast<const char*>(routine) + 1;
    if (left.held != 0) {
        RtlStringCbPrintfA(detail, sizeof detail, "(returned holding %ld spin lock(s): at DISPATCH_LEVEL)", left.held);
        violation(image, "SPIN_LOCK_HELD_ON_RETURN", "DispatchRoutine", args, site, detail);
    } else {
        RtlStringCbPrintfA(detail, sizeof detail, "(entered at %s, returned at %s: a KeRaiseIrql without its KeLowerIrql)",
                           irql_name(at_entry.level), irql_name(left.level));
        violation(image, "IRQL_NOT_RESTORED", "DispatchRoutine", args, site, detail);
    }
}

bool enter_dispatch_level(bool holding_cancel_lock, IrqlState* at_entry)
{
    Locked lock;
    ThreadIrql* t = slot_of(PsGetCurrentThreadId(), true);
    if (t == nullptr) return false; // every slot taken: this call is not modelled
    *at_entry = IrqlState{t->locks, t->level, t->cancel_lock};
    if (holding_cancel_lock) {
        ++t->locks; // the I/O manager's IoAcquireCancelSpinLock: DISPATCH_LEVEL while held
        t->cancel_lock = true;
    } else if (t->level < DISPATCH_LEVEL) {
        t->level = DISPATCH_LEVEL; // a DPC: the kernel's dispatcher runs it at DISPATCH_LEVEL
    }
    return true;
}

bool check_routine_return(Image* image, const char* call, const char* args, const void* routine, IrqlState at_entry, KIRQL leave_at)
{
    const Leftover left = restore_model(at_entry);
    const LONG own = left.held - (left.cancel_lock ? 1 : 0); // spin locks the routine took itself
    const void* site = static_cast<const char*>(routine) + 1;     // as check_dispatch_return's
    char detail[160];
    if (left.cancel_lock)
        violation(image, "SPIN_LOCK_HELD_ON_RETURN", call, args, site,
                  "(returned holding the cancel spin lock: a cancel routine releases it, IoReleaseCancelSpinLock(Irp->CancelIrql); "
                  "released by the verifier)");
    if (own > 0) {
        RtlStringCbPrintfA(detail, sizeof detail, "(returned holding %ld spin lock(s) it acquired: at DISPATCH_LEVEL)", own);
        violation(image, "SPIN_LOCK_HELD_ON_RETURN", call, args, site, detail);
    } else if (!left.cancel_lock && left.level != leave_at) {
        RtlStringCbPrintfA(detail, sizeof detail, "(must return at %s, returned at %s)", irql_name(leave_at), irql_name(left.level));
        violation(image, "IRQL_NOT_RESTORED", call, args, site, detail);
    }
    return left.cancel_lock;
}

} // namespace kmdverify
