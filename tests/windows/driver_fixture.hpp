// driver_fixture.hpp - loads skeleton.sys (SKELETON_DRIVER) and the test-only neither_prober.sys
// (SKELETON_PROBER_DRIVER) for a whole GoogleTest run, and unloads both afterwards.
#pragma once

#include <string>

#include "win32.hpp"

namespace skeleton::test {

// Opens \\.\skeleton for one test.
kmd::FileHandle open_skeleton();

// The last Win32 error of a DeviceIoControl that was expected to fail (ERROR_SUCCESS if it did not).
DWORD ioctl_error(HANDLE device, DWORD code, const void* in, DWORD in_len, void* out, DWORD out_len, DWORD* returned = nullptr);

} // namespace skeleton::test
