// device.hpp - talking to a device object from user mode: CreateFile + DeviceIoControl.
#pragma once

#include <string>
#include <vector>

#include "win32.hpp"

namespace kmd {

Failure open_device(const std::wstring& path, FileHandle& device);

// DeviceIoControl with byte vectors. On return `out` is resized to what the driver reported in
// IoStatus.Information (lpBytesReturned), even on failure.
Failure device_io_control(HANDLE device, DWORD code, const std::vector<unsigned char>& in, std::vector<unsigned char>& out);

} // namespace kmd
