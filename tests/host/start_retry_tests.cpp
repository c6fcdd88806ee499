// start_retry_tests.cpp - which failed StartService kmd::start_service tries again
// (kit/loader/start_retry.hpp), and that it gives up after one retry.
#include <gtest/gtest.h>

#include "start_retry.hpp"

namespace {

constexpr uint32_t kFileNotFound = 2;
constexpr uint32_t kRequestTimeout = 1053; // ERROR_SERVICE_REQUEST_TIMEOUT

// kmd::start_with_retry (the loop of scm.cpp's start_service) over scripted StartService results.
struct Script {
    const uint32_t* results;
    int count;
    int calls = 0;
    int retries = 0;
    uint32_t paused_ms = 0;
};

uint32_t start_like_the_kit(Script& script, bool under_wine)
{
    return kmd::start_with_retry(
        under_wine, [&](int attempt) {
            EXPECT_EQ(script.calls + 1, attempt);
            const uint32_t r = script.results[script.calls < script.count ? script.calls : script.count - 1];
            ++script.calls;
            return r;
        },
        [&](uint32_t error) {
            EXPECT_EQ(kmd::kErrorInternalError, error);
            ++script.retries;
        },
        [&](uint32_t ms) { script.paused_ms += ms; });
}

TEST(StartRetry, WineHostThatDiedWhileStartingIsStartedOnceMore)
{
    const uint32_t results[] = {kmd::kErrorInternalError, 0};
    Script script{results, 2};
    EXPECT_EQ(0u, start_like_the_kit(script, true));
    EXPECT_EQ(2, script.calls);
    EXPECT_EQ(1, script.retries);
    EXPECT_EQ(kmd::kStartRetryPauseMs, script.paused_ms);
}

TEST(StartRetry, OnlyOnceThenTheErrorIsReported)
{
    const uint32_t results[] = {kmd::kErrorInternalError, kmd::kErrorInternalError, 0};
    Script script{results, 3};
    EXPECT_EQ(kmd::kErrorInternalError, start_like_the_kit(script, true));
    EXPECT_EQ(2, script.calls);
}

TEST(StartRetry, NeverOnWindowsWhereDriverEntryGaveThatStatus)
{
    const uint32_t results[] = {kmd::kErrorInternalError, 0};
    Script script{results, 2};
    EXPECT_EQ(kmd::kErrorInternalError, start_like_the_kit(script, false));
    EXPECT_EQ(1, script.calls);
}

TEST(StartRetry, NoOtherErrorIsRetried)
{
    for (uint32_t error : {kFileNotFound, kRequestTimeout, 1056u /* already running */, 577u /* bad signature */}) {
        const uint32_t results[] = {error, 0};
        Script script{results, 2};
        EXPECT_EQ(error, start_like_the_kit(script, true)) << error;
        EXPECT_EQ(1, script.calls) << error;
    }
}

} // namespace
