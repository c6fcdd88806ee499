#include "device.hpp"

#include <cstdio>

#include "trace.hpp"

namespace kmd {

Failure open_device(const std::wstring& path, FileHandle& device)
{
    device.reset(CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
    const DWORD error = device ? ERROR_SUCCESS : GetLastError();
    const std::string call = "CreateFile(" + narrow(path) + ")";
    trace_call(call, static_cast<bool>(device), error);
    if (device) return {};
    return Failure{call, error};
}

Failure device_io_control(HANDLE device, DWORD code, const std::vector<unsigned char>& in, std::vector<unsigned char>& out)
{
    DWORD returned = 0;
    const BOOL ok = DeviceIoControl(device, code, in.empty() ? nullptr : const_cast<unsigned char*>(in.data()),
                                    static_cast<DWORD>(in.size()), out.empty() ? nullptr : out.data(),
                                    static_cast<DWORD>(out.size()), &returned, nullptr);
    const DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    char call[96];
    std::snprintf(call, sizeof call, "DeviceIoControl(0x%08lx, in=%zu, out=%zu)", static_cast<unsigned long>(code), in.size(),
                  out.size());
    trace_call(call, ok != FALSE, error);
    out.resize(returned <= out.size() ? returned : out.size());
    if (ok) return {};
    return Failure{call, error};
}

} // namespace kmd
