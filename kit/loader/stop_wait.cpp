#include "stop_wait.hpp"

#include <algorithm>

namespace kmd {

uint32_t poll_interval_ms(uint32_t wait_hint_ms, uint32_t polls)
{
    const uint32_t cap = std::clamp<uint32_t>(wait_hint_ms / 10, 50, 1000);
    return std::min<uint32_t>(cap, 20u << std::min<uint32_t>(polls, 6));
}

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
    // Soon at first, then backing off to a tenth of the hint; never past the deadline.
    const uint32_t step = poll_interval_ms(wait_hint_ms, polls_++);
    const uint64_t left = deadline_ms_ - now_ms;
    return {StopVerdict::Wait, static_cast<uint32_t>(std::min<uint64_t>(step, left))};
}

} // namespace kmd
