// stop_wait_tests.cpp - kmdctl stop's waiting rules, with a fake clock.
#include <gtest/gtest.h>

#include "stop_wait.hpp"

namespace {

using kmd::StopVerdict;
using kmd::StopWait;
constexpr uint32_t kRunning = 4;

TEST(StopWait, StoppedEndsTheWait)
{
    StopWait wait(1000, 15000);
    EXPECT_EQ(StopVerdict::Stopped, wait.next(kmd::kServiceStopped, 0, 0, 1000).verdict);
}

TEST(StopWait, PollsATenthOfTheHintWithinLimits)
{
    // After the back-off (below): a tenth of the hint, at least 50 ms, at most 1 s.
    EXPECT_EQ(50u, kmd::poll_interval_ms(0, 10));      // no hint: 50 ms
    EXPECT_EQ(300u, kmd::poll_interval_ms(3000, 10));  // 3 s hint: 300 ms
    EXPECT_EQ(1000u, kmd::poll_interval_ms(30000, 10)); // capped at 1 s
}

TEST(StopWait, AsksSoonFirstThenBacksOff)
{
    // Wine's host reports a 10 s hint while a driver stops in a few tens of ms: the first look
    // comes after 20 ms, not after a whole tenth of the hint (1 s, most of what `kmdctl stop` took).
    StopWait wait(0, 60000);
    const uint32_t expected[] = {20, 40, 80, 160, 320, 640, 1000, 1000};
    uint64_t now = 0;
    for (uint32_t want : expected) {
        const auto d = wait.next(kmd::kServiceStopPending, 1, 10000, now);
        EXPECT_EQ(want, d.sleep_ms) << now;
        now += d.sleep_ms;
    }
    EXPECT_EQ(50u, kmd::poll_interval_ms(0, 2)); // no hint: 20, 40, then 50 ms
}

TEST(StopWait, ACheckpointThatMovesKeepsTheWaitAlive)
{
    // Hint 2 s; the service moves its checkpoint every 1.5 s for 9 s: never stalled.
    StopWait wait(0, 60000);
    uint32_t checkpoint = 0;
    for (uint64_t t = 0; t <= 9000; t += 1500)
        EXPECT_EQ(StopVerdict::Wait, wait.next(kmd::kServiceStopPending, ++checkpoint, 2000, t).verdict) << t;
}

TEST(StopWait, ACheckpointThatStandsStillForAWholeHintIsStalled)
{
    StopWait wait(0, 60000);
    EXPECT_EQ(StopVerdict::Wait, wait.next(kmd::kServiceStopPending, 7, 2000, 0).verdict);
    EXPECT_EQ(StopVerdict::Wait, wait.next(kmd::kServiceStopPending, 7, 2000, 2000).verdict);
    EXPECT_EQ(StopVerdict::Stalled, wait.next(kmd::kServiceStopPending, 7, 2000, 2001).verdict);
}

TEST(StopWait, TheDeadlineBoundsEverything)
{
    StopWait wait(100, 1000);
    const auto d = wait.next(kmd::kServiceStopPending, 1, 0, 1080);
    EXPECT_EQ(StopVerdict::Wait, d.verdict);
    EXPECT_EQ(20u, d.sleep_ms); // never sleeps past the deadline
    EXPECT_EQ(StopVerdict::TimedOut, wait.next(kmd::kServiceStopPending, 2, 0, 1100).verdict);
    // A service still RUNNING after the stop request (it has not reacted yet) times out the same way.
    StopWait running(0, 500);
    EXPECT_EQ(StopVerdict::Wait, running.next(kRunning, 0, 0, 0).verdict);
    EXPECT_EQ(StopVerdict::TimedOut, running.next(kRunning, 0, 0, 500).verdict);
}

} // namespace
