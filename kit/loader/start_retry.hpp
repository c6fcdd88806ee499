// start_retry.hpp - which failed StartService is worth one more try. Pure C++ (no Win32), so the
// host unit tests drive it; kit/loader/scm.cpp's start_service() follows it.
//
// Under Wine, services.exe starts a new winedevice.exe for the first driver of a load-order group
// (Wine 8's programs/services/services.c, service_start_process -> CreateProcessW). When that new
// process dies before it has finished starting (its Unix process gone before it told wineserver
// "init done", exit code 0), ntdll's NtCreateUserProcess returns STATUS_INTERNAL_ERROR, so
// CreateProcess - and StartService with it - fails with ERROR_INTERNAL_ERROR (1359). The driver
// image was never mapped and DriverEntry never ran, so starting again is safe, and it works
// (docs/reliability.md, "error 1359 from StartService").
//
// Nothing else is retried: every other error is the driver's or the caller's to see, and on
// Windows a 1359 comes from DriverEntry itself (a status such as STATUS_INTERNAL_ERROR), so it is
// reported, not repeated.
#pragma once

#include <cstdint>

namespace kmd {

inline constexpr uint32_t kErrorInternalError = 1359; // ERROR_INTERNAL_ERROR
inline constexpr int kStartAttemptsUnderWine = 2;     // the first start and one retry
inline constexpr uint32_t kStartRetryPauseMs = 100;   // lets services.exe see the dead process

// After attempt number `attempt` (1 = the first StartService) failed with `error`: try again?
constexpr bool retry_start(uint32_t error, bool under_wine, int attempt)
{
    return under_wine && error == kErrorInternalError && attempt < kStartAttemptsUnderWine;
}

// Calls start(attempt) - 0 or a Win32 error - until it succeeds or retry_start() says no. Before
// each retry: on_retry(error), then pause(kStartRetryPauseMs). Returns the last error (0: started).
template <class Start, class OnRetry, class Pause>
uint32_t start_with_retry(bool under_wine, Start&& start, OnRetry&& on_retry, Pause&& pause)
{
    for (int attempt = 1;; ++attempt) {
        const uint32_t error = start(attempt);
        if (error == 0 || !retry_start(error, under_wine, attempt)) return error;
        on_retry(error);
        pause(kStartRetryPauseMs);
    }
}

} // namespace kmd
