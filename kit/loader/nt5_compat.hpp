// nt5_compat.hpp - the few Vista-and-later calls the kit's user-mode programs make, resolved at run
// time so that the same binaries start on NT 5.x (Windows XP SP3, Server 2003, ReactOS), the seed's
// own platform. The programs are compiled with _WIN32_WINNT=0x0501 (kit/loader/CMakeLists.txt), so
// a direct call to anything newer does not compile: it has to come through here, and the loader
// never fails to snap an import ("Failed to snap KERNEL32.dll!CompareStringOrdinal" on NT 5.2).
#pragma once

#include <windows.h>

#include <string>

namespace kmd {

// Milliseconds since boot, 64 bits: GetTickCount64 where it exists (Vista+), else GetTickCount
// widened across its 49.7-day wrap.
ULONGLONG tick_ms();

// Case-insensitive ordinal equality (what CompareStringOrdinal(..., TRUE) gives on Vista+): both
// sides upper-cased with the invariant locale's table, then compared code unit by code unit.
bool equal_ignoring_case(const std::wstring& a, const std::wstring& b);

// CancelIoEx where the system has it (Vista+). Elsewhere returns FALSE with ERROR_CALL_NOT_IMPLEMENTED
// and cancels nothing: NT 5.x can cancel only the calling thread's requests (CancelIo).
bool has_cancel_io_ex();
BOOL cancel_io_ex(HANDLE file, OVERLAPPED* overlapped);

// A REG_SZ value (RegGetValueW is Vista+ on 32-bit Windows); empty when absent or of another type.
std::wstring read_registry_string(HKEY root, const wchar_t* subkey, const wchar_t* value);

} // namespace kmd
