// driver_fixture.hpp - the kit's GoogleTest fixture for device tests under Wine (or Windows).
//
// Before the first test it installs and starts, in order, every driver named in the environment
// variable KMD_DRIVERS ("service=C:\path\a.sys;other=C:\path\b.sys", set by
// kit/harness/run_gtest.py), all in one load order group so that under Wine they share one
// host process and can call each other; after the last test it stops and deletes them in reverse
// order, and fails the run if any does not stop cleanly.
#pragma once

#include <string>

#include "win32.hpp"

namespace kmd::test {

// Opens a device (e.g. L"\\\\.\\skeleton") for one test; a failure is a test failure.
kmd::FileHandle open_device(const wchar_t* win32_path);

// The last Win32 error of a DeviceIoControl that was expected to fail (ERROR_SUCCESS if it did not).
DWORD ioctl_error(HANDLE device, DWORD code, const void* in, DWORD in_len, void* out, DWORD out_len, DWORD* returned = nullptr);

// Registers a check to run after the last test, while the drivers are still loaded (e.g. "the
// driver still serves after everything the tests threw at it"). Unlike a test named to sort last,
// it runs last whatever the order, --gtest_shuffle included. Call during static initialisation.
void at_end(const char* name, void (*check)());

} // namespace kmd::test
