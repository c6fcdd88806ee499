// nt5_compat.cpp - see nt5_compat.hpp.
#include "nt5_compat.hpp"

#include <vector>

#include "win32.hpp"

namespace kmd {
namespace {

template <class Fn>
Fn kernel32_routine(const char* name)
{
    return reinterpret_cast<Fn>(reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"kernel32.dll"), name)));
}

using TickCount64Fn = ULONGLONG(WINAPI*)();
using CancelIoExFn = BOOL(WINAPI*)(HANDLE, LPOVERLAPPED);

std::wstring upper_invariant(const std::wstring& s)
{
    if (s.empty()) return s;
    std::wstring out(s.size(), L'\0');
    const int n = LCMapStringW(LOCALE_INVARIANT, LCMAP_UPPERCASE, s.c_str(), static_cast<int>(s.size()), out.data(),
                               static_cast<int>(out.size()));
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return n > 0 ? out : s;
}

} // namespace

ULONGLONG tick_ms()
{
    static const auto tick64 = kernel32_routine<TickCount64Fn>("GetTickCount64");
    if (tick64 != nullptr) return tick64();
    // GetTickCount wraps every 2^32 ms: count the wraps seen. Good enough for the timeouts the kit
    // measures (seconds to minutes), which is all it is used for.
    static volatile LONG high = 0;
    static volatile LONG last = 0;
    const DWORD now = GetTickCount();
    const DWORD before = static_cast<DWORD>(InterlockedExchange(&last, static_cast<LONG>(now)));
    if (now < before) InterlockedIncrement(&high);
    return (static_cast<ULONGLONG>(static_cast<DWORD>(high)) << 32) | now;
}

bool equal_ignoring_case(const std::wstring& a, const std::wstring& b)
{
    return a.size() == b.size() && upper_invariant(a) == upper_invariant(b);
}

bool has_cancel_io_ex()
{
    return kernel32_routine<CancelIoExFn>("CancelIoEx") != nullptr;
}

BOOL cancel_io_ex(HANDLE file, OVERLAPPED* overlapped)
{
    static const auto cancel = kernel32_routine<CancelIoExFn>("CancelIoEx");
    if (cancel == nullptr) {
        SetLastError(ERROR_CALL_NOT_IMPLEMENTED);
        return FALSE;
    }
    return cancel(file, overlapped);
}

std::wstring read_registry_string(HKEY root, const wchar_t* subkey, const wchar_t* value)
{
    HKEY raw = nullptr;
    if (RegOpenKeyExW(root, subkey, 0, KEY_QUERY_VALUE, &raw) != ERROR_SUCCESS) return {};
    const RegKey key(raw);
    std::vector<wchar_t> data(2048, L'\0');
    DWORD type = 0;
    DWORD size = static_cast<DWORD>((data.size() - 1) * sizeof(wchar_t)); // room for a terminator it may lack
    const LONG rc = RegQueryValueExW(key.get(), value, nullptr, &type, reinterpret_cast<BYTE*>(data.data()), &size);
    if (rc != ERROR_SUCCESS || (type != REG_SZ && type != REG_EXPAND_SZ)) return {};
    data[size / sizeof(wchar_t)] = L'\0';
    return data.data();
}

} // namespace kmd

// libwinpthread, which libstdc++'s posix thread model links into every program, calls
// GetTickCount64 through its import slot (Debian builds it for Vista). This program's own slot
// definition, here, takes precedence over the import library's, so that call comes through
// tick_ms() too and the program still starts on NT 5.x.
extern "C" ULONGLONG WINAPI kmd_get_tick_count64() { return kmd::tick_ms(); }
#if defined(__i386__)
asm(".data\n.globl __imp__GetTickCount64@0\n__imp__GetTickCount64@0:\n.long _kmd_get_tick_count64@0\n.text\n");
#else
asm(".data\n.globl __imp_GetTickCount64\n__imp_GetTickCount64:\n.quad kmd_get_tick_count64\n.text\n");
#endif
