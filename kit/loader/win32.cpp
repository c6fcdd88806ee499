#include "win32.hpp"

#include "trace.hpp"

namespace kmd {

void ServiceHandleTraits::close(SC_HANDLE h)
{
    const BOOL ok = CloseServiceHandle(h);
    trace_call("CloseServiceHandle", ok != FALSE, ok ? ERROR_SUCCESS : GetLastError());
}

std::string error_text(DWORD error)
{
    char* buffer = nullptr;
    const DWORD n = FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, error, 0, reinterpret_cast<char*>(&buffer), 0, nullptr);
    std::string text = n != 0 && buffer != nullptr ? std::string(buffer, n) : std::string();
    if (buffer != nullptr) LocalFree(buffer);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    // FORMAT_MESSAGE_IGNORE_INSERTS leaves "%1" in texts such as 193's; name what it stands for.
    for (size_t at = text.find("%1"); at != std::string::npos; at = text.find("%1", at)) text.replace(at, 2, "the file");
    if (text.empty()) text = "no description available for this error number";
    return text;
}

std::string Failure::describe() const
{
    return call + ": error " + std::to_string(error) + " (" + error_text(error) + ")";
}

std::wstring widen(const std::string& s)
{
    if (s.empty()) return {};
    const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring w(static_cast<size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
    return w;
}

std::string narrow(const std::wstring& w)
{
    if (w.empty()) return {};
    const int n = WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr, nullptr);
    std::string s(static_cast<size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr, nullptr);
    return s;
}

} // namespace kmd
