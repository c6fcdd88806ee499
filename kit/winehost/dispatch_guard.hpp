// dispatch_guard.hpp - keeps a driver's requests and its unload apart.
//
// An NT driver must not let DriverUnload return while one of its dispatch routines still runs:
// the kernel unmaps the image right after, and the running request would execute freed code.
// Windows keeps a legacy driver loaded while its devices are referenced, but not every host
// does: Wine 8 calls DriverUnload from the service-control thread while its request thread keeps
// dispatching, then FreeLibrary()s the image at once (docs/reliability.md has the source trail).
//
// DispatchGuard is the driver's half of the cure: rundown protection, as EX_RUNDOWN_REF does it.
// It keeps its own count (one interlocked word and an event) instead of calling
// Ex*RundownProtection because Wine 8 exports those names as unimplemented stubs: the first call
// aborts the driver host ("Unimplemented function ntoskrnl.exe.ExInitializeRundownProtection").
//
//   DriverEntry:      guard.initialize();                       before the first request
//   every dispatch:   auto pass = guard.enter();                first thing
//                     if (!pass) -> complete with kmd::refusal_status(device, major)
//   DriverUnload:     guard.run_down();                         refuse new work, wait for old
//                     IoDeleteSymbolicLink / IoDeleteDevice ...
//                     kmd::settle_unload(driver, guard, grace)  last thing (unload_barrier.hpp)
//
// Settling: after the device is deleted no new request can be queued for it, but a host may
// already have taken one off its queue and be about to call the dispatch routine (Wine's request
// thread does exactly that, outside any lock the driver could take). kmd::settle_unload() sends
// one request of its own through the host's queue behind any such straggler and waits for it:
// see unload_barrier.hpp. settle(grace_ms) below is the blunt fallback: it sleeps a grace period
// for stragglers to arrive, be refused and leave, which only narrows the window.
#pragma once

#include <kmd/nt.hpp>

namespace kmd {

class DispatchGuard {
public:
    // What a refused request completes with: "the device has been removed" (ERROR_DEVICE_REMOVED,
    // 1617), words a user understands, unlike STATUS_DELETE_PENDING's "Access denied".
    static constexpr NTSTATUS kRefusal = STATUS_DEVICE_REMOVED;

    // A request's right to run: admitted (true) until the guard runs down. Move-only; leaving
    // scope ends the request's stay inside the driver.
    class Pass {
    public:
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        Pass(Pass&& other) : guard_(other.guard_), admitted_(other.admitted_) { other.guard_ = nullptr; }
        Pass& operator=(Pass&&) = delete;
        ~Pass();
        explicit operator bool() const { return admitted_; }

    private:
        friend class DispatchGuard;
        Pass(DispatchGuard* guard, bool admitted) : guard_(guard), admitted_(admitted) {}
        DispatchGuard* guard_;
        bool admitted_;
    };

    void initialize();
    [[nodiscard]] Pass enter();
    void run_down();
    // Sleeps grace_ms, then waits until no dispatch call is inside.
    void settle(ULONG grace_ms);
    // Waits (up to 5 s) until no dispatch call, admitted or refused, is inside the driver.
    void wait_until_out();
    // True when the last dispatch call entered on the calling thread: a host that unloads on
    // the thread it dispatches on holds no request for us while it does (nothing to settle, and
    // a request sent through its queue from here would wait for this very thread).
    bool last_dispatch_on_this_thread() const;

private:
    void leave_admitted();

    // Bit 0: running down (no new admissions). Bits 1..31: admitted requests inside, times 2.
    volatile LONG state_ = 0;
    volatile LONG inside_ = 0; // every dispatch call inside the driver, admitted or refused
    PVOID volatile last_thread_ = nullptr; // PsGetCurrentThreadId() of the last dispatch call
    KEVENT drained_{};         // set by the last admitted request to leave once running down
};

} // namespace kmd
