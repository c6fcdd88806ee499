#include "win32.hpp"

#include "command_line.hpp"
#include "trace.hpp"

namespace kmd {

void ServiceHandleTraits::close(SC_HANDLE h)
{
    const BOOL ok = CloseServiceHandle(h);
    trace_call("CloseServiceHandle", ok != FALSE, ok ? ERROR_SUCCESS : GetLastError());
}

std::string error_text(DWORD error)
{
    // The wide call, converted to UTF-8 like everything else kmdctl prints: FormatMessageA would
    // hand back the ANSI code page's bytes, mixed into UTF-8 output (issue 8, finding 13).
    wchar_t* buffer = nullptr;
    const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, error, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
    std::string text = n != 0 && buffer != nullptr ? narrow(std::wstring(buffer, n)) : std::string();
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

namespace kmd {

std::vector<std::string> command_line_arguments()
{
    std::vector<std::string> args;
    for (const std::wstring& word : split_command_line(GetCommandLineW())) args.push_back(narrow(word));
    return args;
}

void show_message_box(const std::wstring& text, const std::wstring& caption, UINT type)
{
    // user32 only when a box is asked for: imported, it comes with gdi32 and the font set-up in
    // every start (up to half of a short kmdctl run under Wine, docs/performance.md).
    using MessageBoxWFn = int(WINAPI*)(HWND, LPCWSTR, LPCWSTR, UINT);
    const Module user32(LoadLibraryW(L"user32.dll"));
    if (!user32) return;
    const auto message_box = reinterpret_cast<MessageBoxWFn>(reinterpret_cast<void*>(GetProcAddress(user32.get(), "MessageBoxW")));
    if (message_box != nullptr) message_box(nullptr, text.c_str(), caption.c_str(), type);
}

Utf8Console::Utf8Console() : old_output_cp_(GetConsoleOutputCP())
{
    // Only a real console has a code page to set; output to a pipe or file is bytes as written.
    if (old_output_cp_ != 0) SetConsoleOutputCP(CP_UTF8);
}

Utf8Console::~Utf8Console()
{
    if (old_output_cp_ != 0) SetConsoleOutputCP(old_output_cp_);
}

} // namespace kmd
