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

// One test binary serves every kernel it runs on. Where an expectation holds on one kernel only,
// the test says so with these, the way Wine's own tests mark todo_wine and broken(): the
// difference is named in the test and in its output, never dropped in silence.
enum class Kernel { Wine, ReactOS, Windows };
Kernel kernel(); // Wine: ntdll exports wine_get_version; ReactOS: its ProductName; else Windows
const char* kernel_name(Kernel k);
// GTEST_SKIP()s a test whose premise only one kind of kernel has, with the reason.
#define KMD_ONLY_UNDER_WINE(why)                                                                      \
    if (kmd::test::kernel() != kmd::test::Kernel::Wine)                                                  \
    GTEST_SKIP() << "known difference, holds under Wine only (" << kmd::test::kernel_name(kmd::test::kernel()) << " here): " << why

// Registers a check to run after the last test, while the drivers are still loaded (e.g. "the
// driver still serves after everything the tests threw at it"). Unlike a test named to sort last,
// it runs last whatever the order, --gtest_shuffle included. Call during static initialisation.
void at_end(const char* name, void (*check)());

} // namespace kmd::test
