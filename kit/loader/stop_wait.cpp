#include "stop_wait.hpp"

#include <algorithm>

namespace kmd {

StopDecision StopWait::next(uint32_t state, uint32_t checkpoint, uint32_t wait_hint_ms, uint64_t now_ms)
{
    if (state == kServiceStopped) return {StopVerdict::Stopped};
    if (!seen_ || checkpoint != checkpoint_) {
        seen_ = true;
        checkpoint_ = checkpoint;
        progress_ms_ = now_ms;
    } else if (state == kServiceStopPending && wait_hint_ms != 0 && now_ms - progress_ms_ > wait_hint_ms) {
        return {StopVerdict::Stalled};
    }
    if (now_ms >= deadline_ms_) return {StopVerdict::TimedOut};
    // A tenth of the hint, as Microsoft's sample does, but at least 50 ms (drivers under Wine stop
    // within one query and report no hint) and at most 1 s, and never past the deadline.
    const uint32_t step = std::clamp<uint32_t>(wait_hint_ms / 10, 50, 1000);
    const uint64_t left = deadline_ms_ - now_ms;
    return {StopVerdict::Wait, static_cast<uint32_t>(std::min<uint64_t>(step, left))};
}

} // namespace kmd
