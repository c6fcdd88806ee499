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
//   every dispatch:   auto pass = guard.enter(stack->MajorFunction);   first thing
//                     if (!pass) -> complete with DispatchGuard::kRefusal (unloading)
//   DriverUnload:     guard.run_down();                         refuse new work, wait for old
//                     IoDeleteSymbolicLink / IoDeleteDevice ...
//                     guard.settle(grace_ms);                   last thing (see below)
//
// settle(): after the device is deleted no new request can be queued for it, but a host may
// already have taken one off its queue and be about to call the dispatch routine (Wine's request
// thread does exactly that, outside any lock the driver could take). settle() waits a grace
// period for such stragglers to arrive, be refused and leave. It narrows that window; only the
// host can close it (it must stop dispatching to a driver before it calls DriverUnload).
//
// The grace period is spent only while a handle is open (CREATEs admitted minus CLOSEs seen):
// a request other than a CREATE can only come on an open handle, and a closed handle's CLOSE
// has already been seen. So the usual unload (every client gone) costs nothing, and an unload
// with clients still holding handles waits. Not covered: a CREATE the host had dequeued before
// the device was deleted while no handle was open (a client opening the device at the very
// moment it is stopped); before this rule it was covered only if it arrived within the grace.
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
    // `major` is the request's IRP_MJ_* code: CREATE and CLOSE keep the count of open handles.
    [[nodiscard]] Pass enter(UCHAR major);
    void run_down();
    // Returns how long it waited for stragglers, in ms (0 when no handle was open and none was inside).
    ULONG settle(ULONG grace_ms);
    LONG open_handles() const;

private:
    void leave_admitted();

    // Bit 0: running down (no new admissions). Bits 1..31: admitted requests inside, times 2.
    volatile LONG state_ = 0;
    volatile LONG inside_ = 0; // every dispatch call inside the driver, admitted or refused
    volatile LONG open_ = 0;   // CREATEs admitted minus CLOSEs seen
    KEVENT drained_{};         // set by the last admitted request to leave once running down
};

} // namespace kmd
