// irql.cpp - IRQL rules, from a model of each thread's IRQL: Wine runs every driver routine at
// PASSIVE_LEVEL in a user process, so the verifier keeps the IRQL a real kernel would be at. The
// model so far is the spin locks (KeAcquireSpinLock*, KeAcquireInStackQueuedSpinLock, and their
// releases): a thread holding one runs at DISPATCH_LEVEL. With it, a DDI called above its
// documented maximum IRQL is IRQL_TOO_HIGH, and a dispatch routine returning with a spin lock held
// is SPIN_LOCK_HELD_ON_RETURN. (On x64, KeRaiseIrql/KeLowerIrql are inline CR8 accesses, not
// imports: not seen. DPC, timer and cancel routines entered at DISPATCH_LEVEL are not modelled yet.)
#include "verifier.hpp"

namespace kmdverify {
namespace {

struct ThreadIrql {
    HANDLE thread;
    LONG locks; // spin locks held: DISPATCH_LEVEL while > 0
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

void lock_taken()
{
    Locked lock;
    if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), true)) ++t->locks;
}

void lock_released()
{
    Locked lock;
    if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false)) {
        if (t->locks > 0) --t->locks;
        if (t->locks == 0) *t = ThreadIrql{};
    }
}

const char* irql_name(KIRQL irql)
{
    return irql == PASSIVE_LEVEL ? "PASSIVE_LEVEL" : irql == APC_LEVEL ? "APC_LEVEL" : irql == DISPATCH_LEVEL ? "DISPATCH_LEVEL" : "?";
}

KIRQL NTAPI vf_KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK spin_lock)
{
    Image* image = caller_image(RA);
    check_irql(image, "KeAcquireSpinLock", DISPATCH_LEVEL, RA);
    const KIRQL old = KeAcquireSpinLockRaiseToDpc(spin_lock);
    lock_taken();
    return old;
}

VOID NTAPI vf_KeReleaseSpinLock(PKSPIN_LOCK spin_lock, KIRQL new_irql)
{
    caller_image(RA);
    lock_released();
    KeReleaseSpinLock(spin_lock, new_irql);
}

VOID NTAPI vf_KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK spin_lock)
{
    caller_image(RA);
    KeAcquireSpinLockAtDpcLevel(spin_lock);
    lock_taken();
}

VOID NTAPI vf_KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK spin_lock)
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
    {"KeAcquireSpinLockRaiseToDpc", reinterpret_cast<void*>(vf_KeAcquireSpinLockRaiseToDpc)},
    {"KeReleaseSpinLock", reinterpret_cast<void*>(vf_KeReleaseSpinLock)},
    {"KeAcquireSpinLockAtDpcLevel", reinterpret_cast<void*>(vf_KeAcquireSpinLockAtDpcLevel)},
    {"KeReleaseSpinLockFromDpcLevel", reinterpret_cast<void*>(vf_KeReleaseSpinLockFromDpcLevel)},
    {"KeAcquireInStackQueuedSpinLock", reinterpret_cast<void*>(vf_KeAcquireInStackQueuedSpinLock)},
    {"KeReleaseInStackQueuedSpinLock", reinterpret_cast<void*>(vf_KeReleaseInStackQueuedSpinLock)},
};

} // namespace

const WrapperList kIrqlWrappers = list_of(kWrappers);

KIRQL modelled_irql()
{
    Locked lock;
    const ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false);
    return t != nullptr && t->locks > 0 ? DISPATCH_LEVEL : PASSIVE_LEVEL;
}

void check_irql(Image* image, const char* call, KIRQL maximum, const void* site)
{
    const KIRQL irql = modelled_irql();
    if (image == nullptr || irql <= maximum) return;
    char detail[112];
    RtlStringCbPrintfA(detail, sizeof detail, "(called at %s with a spin lock held; its documented maximum is %s)", irql_name(irql),
                       irql_name(maximum));
    violation(image, "IRQL_TOO_HIGH", call, "", site, detail);
}

LONG locks_held()
{
    Locked lock;
    const ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false);
    return t != nullptr ? t->locks : 0;
}

void check_dispatch_return(Image* image, const void* routine, PIRP irp, UCHAR major, LONG locks_at_entry)
{
    LONG held = 0;
    {
        Locked lock;
        if (ThreadIrql* t = slot_of(PsGetCurrentThreadId(), false); t != nullptr && t->locks > locks_at_entry) {
            held = t->locks - locks_at_entry;
            t->locks = locks_at_entry; // reported once; the caller's own locks stay
            if (t->locks == 0) *t = ThreadIrql{};
        }
    }
    if (held == 0) return;
    char args[64], detail[96];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, major);
    RtlStringCbPrintfA(detail, sizeof detail, "(returned holding %ld spin lock(s): at DISPATCH_LEVEL)", held);
    // `routine` is a function's address, not a return address: +1, so that the report's
    // return-address adjustment (the byte before) lands on the routine's first byte.
    violation(image, "SPIN_LOCK_HELD_ON_RETURN", "DispatchRoutine", args, static_cast<const char*>(routine) + 1, detail);
}

} // namespace kmdverify
