// dispatch_guard_tests.cpp - kmd::DispatchGuard's promises, with real threads against a fake
// kernel (fake_nt_guard): DriverUnload's run_down() waits for admitted requests, nothing is
// admitted after it, and settle() waits for refused requests still inside the driver.
#include <kmd/dispatch_guard.hpp>

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
        auto pass = guard.enter(IRP_MJ_DEVICE_CONTROL);
        EXPECT_TRUE(static_cast<bool>(pass));
    }
    guard.run_down(); // nothing inside: returns at once
    auto late = guard.enter(IRP_MJ_DEVICE_CONTROL);
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
            auto pass = guard.enter(IRP_MJ_DEVICE_CONTROL);
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
    EXPECT_FALSE(static_cast<bool>(guard.enter(IRP_MJ_DEVICE_CONTROL))) << "a request was admitted while running down";
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
        auto pass = guard.enter(IRP_MJ_DEVICE_CONTROL); // refused, but inside the driver until it returns
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

TEST(DispatchGuard, SettleWaitsTheGracePeriodWhileAHandleIsOpen)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    { auto create = guard.enter(IRP_MJ_CREATE); }
    { auto create = guard.enter(IRP_MJ_CREATE); }
    { auto close = guard.enter(IRP_MJ_CLOSE); }
    EXPECT_EQ(1, guard.open_handles());
    guard.run_down();
    const auto start = Clock::now();
    EXPECT_EQ(30u, guard.settle(30));
    EXPECT_GE(Clock::now() - start, milliseconds(30));
}

// The usual unload: every client has closed its handle. Before the open-handle count, settle()
// slept the whole grace here, which put 100 ms on every unload of the skeleton (make bench:
// load -> unload cycle 141 ms against the baseline's 38 ms).
TEST(DispatchGuard, SettleSkipsTheGracePeriodWhenEveryHandleIsClosed)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    { auto create = guard.enter(IRP_MJ_CREATE); }
    { auto ioctl = guard.enter(IRP_MJ_DEVICE_CONTROL); }
    { auto close = guard.enter(IRP_MJ_CLOSE); }
    EXPECT_EQ(0, guard.open_handles());
    guard.run_down();
    const auto start = Clock::now();
    EXPECT_EQ(0u, guard.settle(1000));
    EXPECT_LT(Clock::now() - start, milliseconds(500));
}

// A CREATE refused while running down made no handle; a CLOSE refused still ends one.
TEST(DispatchGuard, RefusedCreateMakesNoHandleRefusedCloseEndsOne)
{
    kmd::DispatchGuard guard;
    guard.initialize();
    { auto create = guard.enter(IRP_MJ_CREATE); }
    guard.run_down();
    {
        auto late = guard.enter(IRP_MJ_CREATE);
        EXPECT_FALSE(static_cast<bool>(late));
    }
    EXPECT_EQ(1, guard.open_handles());
    {
        auto close = guard.enter(IRP_MJ_CLOSE);
        EXPECT_FALSE(static_cast<bool>(close));
    }
    EXPECT_EQ(0, guard.open_handles());
}

} // namespace
