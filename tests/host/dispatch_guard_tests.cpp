// dispatch_guard_tests.cpp - kmd::DispatchGuard's promises, with real threads against a fake
// kernel (fake_nt_guard): DriverUnload's run_down() waits for admitted requests, nothing is
// admitted after it, and settle() waits for refused requests still inside the driver.
#include "dispatch_guard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(DispatchGuard, AdmitsUntilRunDownThenRefuses)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    {
        auto pass = guard.enter();
        EXPECT_TRUE(static_cast<bool>(pass));
    }
    guard.run_down(); // nothing inside: returns at once
    auto late = guard.enter();
    EXPECT_FALSE(static_cast<bool>(late));
    EXPECT_EQ(STATUS_DEVICE_REMOVED, kmd::DispatchGuard::kRefusal);
}

TEST(DispatchGuard, RunDownWaitsForEveryAdmittedRequest)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    std::atomic<int> inside{0};
    std::atomic<bool> released{false};
    std::thread requests[3];
    for (auto& t : requests)
        t = std::thread([&] {
            auto pass = guard.enter();
            ASSERT_TRUE(static_cast<bool>(pass));
            ++inside;
            while (!released) std::this_thread::sleep_for(milliseconds(1));
            std::this_thread::sleep_for(milliseconds(20));
            --inside; // leaves just before the pass does
        });
    while (inside < 3) std::this_thread::sleep_for(milliseconds(1));

    std::atomic<bool> unloaded{false};
    std::thread unload([&] {
        guard.run_down();
        unloaded = true;
        EXPECT_EQ(0, inside.load()) << "run_down returned while a request was inside";
    });
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_FALSE(unloaded.load()) << "run_down did not wait";
    EXPECT_FALSE(static_cast<bool>(guard.enter())) << "a request was admitted while running down";
    released = true;
    for (auto& t : requests) t.join();
    unload.join();
    EXPECT_TRUE(unloaded.load());
}

TEST(DispatchGuard, SettleWaitsForARefusedRequestStillInside)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    guard.run_down();
    std::atomic<bool> entered{false};
    std::thread straggler([&] {
        auto pass = guard.enter(); // refused, but inside the driver until it returns
        EXPECT_FALSE(static_cast<bool>(pass));
        entered = true;
        std::this_thread::sleep_for(milliseconds(150));
    });
    while (!entered) std::this_thread::sleep_for(milliseconds(1));
    const auto start = Clock::now();
    guard.settle(10);
    const auto settled = Clock::now() - start; // before the join, which would wait anyway
    straggler.join();
    EXPECT_GE(settled, milliseconds(100)) << "settle returned while a refused request was inside";
}

TEST(DispatchGuard, SettleWaitsTheGracePeriodEvenWhenIdle)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    guard.run_down();
    const auto start = Clock::now();
    guard.settle(30);
    EXPECT_GE(Clock::now() - start, milliseconds(30));
}

// kmdhost.sys's unload barrier (kit/winehost/kmdhost.cpp) must not send its request through the host's queue from
// the thread that dispatches: it would wait for itself. The guard tells which thread that was.
TEST(DispatchGuard, KnowsWhetherTheLastDispatchRanOnThisThread)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    EXPECT_FALSE(guard.last_dispatch_on_this_thread()) << "no dispatch yet";
    { auto pass = guard.enter(); }
    EXPECT_TRUE(guard.last_dispatch_on_this_thread());
    std::thread other([&] { auto pass = guard.enter(); });
    other.join();
    EXPECT_FALSE(guard.last_dispatch_on_this_thread()) << "the request thread was another one";
}

} // namespace
