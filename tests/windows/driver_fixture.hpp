// driver_fixture.hpp - loads skeleton.sys for a whole GoogleTest run and unloads it afterwards.
#pragma once

#include <string>

#include "win32.hpp"

namespace skeleton::test {

// The driver image to load: the SKELETON_DRIVER environment variable (a Windows path).
std::wstring driver_path();

// Opens \\.\skeleton for one test.
kmd::FileHandle open_skeleton();

// The last Win32 error of a DeviceIoControl that was expected to fail (ERROR_SUCCESS if it did not).
DWORD ioctl_error(HANDLE device, DWORD code, const void* in, DWORD in_len, void* out, DWORD out_len, DWORD* returned = nullptr);

} // namespace skeleton::test
