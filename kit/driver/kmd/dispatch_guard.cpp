// dispatch_guard.cpp - see dispatch_guard.hpp.
#include <kmd/dispatch_guard.hpp>

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
LONG load(const volatile LONG* v) { return load(const_cast<volatile LONG*>(v)); }

} // namespace

void DispatchGuard::initialize()
{
    KeInitializeEvent(&drained_, NotificationEvent, FALSE);
    InterlockedExchange(&state_, 0);
    InterlockedExchange(&inside_, 0);
    InterlockedExchange(&open_, 0);
}

LONG DispatchGuard::open_handles() const { return load(&open_); }

DispatchGuard::Pass DispatchGuard::enter(UCHAR major)
{
    // Counted before the admission check, so settle() also waits for requests that are refused.
    InterlockedIncrement(&inside_);
    // A CLOSE ends a handle whether or not it is admitted; a refused CREATE never made one.
    if (major == IRP_MJ_CLOSE) InterlockedDecrement(&open_);
    for (;;) {
        const LONG seen = load(&state_);
        if (seen & kDown) return Pass(this, false);
        if (InterlockedCompareExchange(&state_, seen + kOne, seen) == seen) {
            if (major == IRP_MJ_CREATE) InterlockedIncrement(&open_);
            return Pass(this, true);
        }
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

ULONG DispatchGuard::settle(ULONG grace_ms)
{
    // With no handle open, the host holds no dequeued request for us (header: the one exception).
    ULONG waited = 0;
    if (load(&open_) > 0) {
        sleep_ms(grace_ms);
        waited = grace_ms;
    }
    // A straggler that arrived during the grace period is refused at once; wait until it is out.
    for (ULONG extra = 0; load(&inside_) != 0 && extra < 5000; ++extra, ++waited) sleep_ms(1);
    return waited;
}

} // namespace kmd
