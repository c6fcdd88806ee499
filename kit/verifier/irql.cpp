// irql.cpp - IRQL rules, from a model of each thread's IRQL: Wine runs every driver routine at
// PASSIVE_LEVEL in a user process, so the verifier keeps the IRQL a real kernel would be at. The
// model is the spin locks (KeAcquireSpinLock*, KeAcquireInStackQueuedSpinLock, and their
// releases: a thread holding one runs at DISPATCH_LEVEL) and, where they are imports, the explicit
// raises and lowers (x86: hal's KfRaiseIrql/KfLowerIrql, and KeGetCurrentIrql answers from the
// model). With it, a DDI called above its documented maximum IRQL is IRQL_TOO_HIGH, a dispatch
// routine returning with a spin lock held is SPIN_LOCK_HELD_ON_RETURN, and one returning at another
// IRQL than it was entered at is IRQL_NOT_RESTORED. (On x64, KeRaiseIrql/KeLowerIrql/
// KeGetCurrentIrql are inline CR8 accesses, not imports: not seen there.)
#include "verifier.hpp"

namespace kmdverify {
namespace {

struct ThreadIrql {
    HANDLE thread;
    LONG locks;  // spin locks held: at least DISPATCH_LEVEL while > 0
    KIRQL level; // set by raises and lowers (KfRaiseIrql, KfLowerIrql, a spin lock's release)
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
KIRQL lock_taken()
{
    Locked lock;
    ThreadIrql* t = slot_of(PsGetCurrentThreadId(), true);
    const KIRQL old = level_of(t);
    if (t != nullptr) ++t->locks;
    return old;
}

// `restore`: the IRQL a KeReleaseSpinLock lowers to (its NewIrql); none for the *AtDpcLevel pair.
void lock_released(const KIRQL* restore = nullptr)
{
    Locked lock;
    if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), restore != nullptr && *restore != PASSIVE_LEVEL)) {
        if (t->locks > 0) --t->locks;
        if (restore != nullptr) t->level = *restore;
        forget_if_passive(t);
    }
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
};

} // namespace

const WrapperList kIrqlWrappers = list_of(kWrappers);

KIRQL modelled_irql()
{
    Locked lock;
    return level_of(slot_of(PsGetCurrentThreadId(), false));
}

void check_irql(Image* image, const char* call, KIRQL maximum, const void* site)
{
    const KIRQL irql = modelled_irql();
    if (image == nullptr || irql <= maximum) return;
    char detail[112];
    RtlStringCbPrintfA(detail, sizeof detail, "(called at %s%s; its documented maximum is %s)", irql_name(irql),
                       locks_held() > 0 ? " with a spin lock held" : "", irql_name(maximum));
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
    return t != nullptr ? IrqlState{t->locks, t->level} : IrqlState{};
}

void check_dispatch_return(Image* image, const void* routine, PIRP irp, UCHAR major, IrqlState at_entry)
{
    LONG held = 0;
    KIRQL left_at = at_entry.level;
    {
        Locked lock;
        if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false)) {
            if (t->locks > at_entry.locks) held = t->locks - at_entry.locks;
            left_at = t->level;
            // Reported once; the caller's own locks and level stay.
            t->locks = at_entry.locks;
            t->level = at_entry.level;
            forget_if_passive(t);
        }
    }
    if (held == 0 && left_at == at_entry.level) return;
    char args[64], detail[112];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, major);
    // `routine` is a function's address, not a return address: +1, so that the report's
    // return-address adjustment (the byte before) lands on the routine's first byte.
    const void* site = static_cast<const char*>(routine) + 1;
    if (held != 0) {
        RtlStringCbPrintfA(detail, sizeof detail, "(returned holding %ld spin lock(s): at DISPATCH_LEVEL)", held);
        violation(image, "SPIN_LOCK_HELD_ON_RETURN", "DispatchRoutine", args, site, detail);
    } else {
        RtlStringCbPrintfA(detail, sizeof detail, "(entered at %s, returned at %s: a KeRaiseIrql without its KeLowerIrql)",
                           irql_name(at_entry.level), irql_name(left_at));
        violation(image, "IRQL_NOT_RESTORED", "DispatchRoutine", args, site, detail);
    }
}

} // namespace kmdverify
