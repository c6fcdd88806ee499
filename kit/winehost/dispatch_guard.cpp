// dispatch_guard.cpp - see dispatch_guard.hpp.
#include "dispatch_guard.hpp"

namespace kmd {
namespace {

constexpr LONG kDown = 1; // state_ bit 0
constexpr LONG kOne = 2;  // one admitted request in state_

void sleep_ms(ULONG ms)
{
    LARGE_INTEGER delay;
    delay.QuadPart = -10000LL * ms; // relative, in 100 ns units
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

LONG load(volatile LONG* v) { return InterlockedCompareExchange(v, 0, 0); }

} // namespace

void DispatchGuard::initialize()
{
    KeInitializeEvent(&drained_, NotificationEvent, FALSE);
    InterlockedExchange(&state_, 0);
    InterlockedExchange(&inside_, 0);
}

DispatchGuard::Pass DispatchGuard::enter()
{
    // Counted before the admission check, so settle() also waits for requests that are refused.
    InterlockedIncrement(&inside_);
    InterlockedExchangePointer(const_cast<PVOID*>(&last_thread_), PsGetCurrentThreadId());
    for (;;) {
        const LONG seen = load(&state_);
        if (seen & kDown) return Pass(this, false);
        if (InterlockedCompareExchange(&state_, seen + kOne, seen) == seen) return Pass(this, true);
    }
}

void DispatchGuard::leave_admitted()
{
    // The last admitted request to leave after run_down() began wakes it.
    if (InterlockedExchangeAdd(&state_, -kOne) - kOne == kDown) KeSetEvent(&drained_, IO_NO_INCREMENT, FALSE);
}

DispatchGuard::Pass::~Pass()
{
    if (guard_ == nullptr) return;
    if (admitted_) guard_->leave_admitted();
    InterlockedDecrement(&guard_->inside_);
}

void DispatchGuard::run_down()
{
    LONG seen = load(&state_);
    while (InterlockedCompareExchange(&state_, seen | kDown, seen) != seen) seen = load(&state_);
    // From here enter() admits nothing; wait until every admitted request has left.
    if ((seen & ~kDown) != 0) KeWaitForSingleObject(&drained_, Executive, KernelMode, FALSE, nullptr);
}

void DispatchGuard::settle(ULONG grace_ms)
{
    sleep_ms(grace_ms);
    // A straggler that arrived during the grace period is refused at once; wait until it is out.
    wait_until_out();
}

void DispatchGuard::wait_until_out()
{
    for (ULONG waited = 0; load(&inside_) != 0 && waited < 5000; ++waited) sleep_ms(1);
}

bool DispatchGuard::last_dispatch_on_this_thread() const
{
    return InterlockedCompareExchangePointer(const_cast<PVOID*>(&last_thread_), nullptr, nullptr) == PsGetCurrentThreadId();
}

} // namespace kmd
