// stop_wait.hpp - when to look again, and when to give up, while a service stops.
// Pure C++ (no Win32), so the host unit tests drive it through every case with a fake clock.
//
// A service that cannot stop at once reports SERVICE_STOP_PENDING with a dwWaitHint (how long,
// in ms, until its next report) and a dwCheckPoint it increments as it makes progress. Microsoft's
// "Stopping a Service" sample waits a tenth of the hint between queries and gives up only when
// the checkpoint has not moved for a whole hint; an overall deadline (kmdctl stop --timeout)
// bounds the wait as well.
#pragma once

#include <cstdint>

namespace kmd {

// The SERVICE_* state numbers of winsvc.h, restated so this file needs no Windows header.
inline constexpr uint32_t kServiceStopped = 1;
inline constexpr uint32_t kServiceStopPending = 3;

// How long to wait before asking the SCM again, the `polls`-th time in a row (0 first): from
// 20 ms, doubling, up to a tenth of the service's hint as Microsoft's sample waits (50 ms..1 s).
// Wine's driver host reports a 10 s hint and a driver stops or starts within a few tens of ms, so
// a first wait of a whole tenth (1 s) was most of what `kmdctl stop` took.
uint32_t poll_interval_ms(uint32_t wait_hint_ms, uint32_t polls);

enum class StopVerdict {
    Stopped,  // done
    Wait,     // query again after `sleep_ms`
    TimedOut, // the overall deadline passed
    Stalled,  // STOP_PENDING, but the checkpoint did not move for longer than the service's own hint
};

struct StopDecision {
    StopVerdict verdict;
    uint32_t sleep_ms = 0;
};

class StopWait {
public:
    StopWait(uint64_t now_ms, uint32_t timeout_ms) : deadline_ms_(now_ms + timeout_ms), progress_ms_(now_ms) {}

    // Called with each status the SCM reports (the one ControlService returned first).
    StopDecision next(uint32_t state, uint32_t checkpoint, uint32_t wait_hint_ms, uint64_t now_ms);

private:
    uint64_t deadline_ms_;
    uint64_t progress_ms_; // when the checkpoint last moved
    uint32_t checkpoint_ = 0;
    bool seen_ = false;
    uint32_t polls_ = 0;
};

} // namespace kmd
