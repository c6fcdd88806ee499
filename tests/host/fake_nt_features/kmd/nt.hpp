// fake_nt_features/kmd/nt.hpp - host-side stand-in for the kit's DDK include, just big enough for
// kmd/kernel_features.hpp and kmd/log.hpp: a kernel whose version the test sets, and a DbgPrintEx
// that keeps what the driver logged (kernel_features_tests.cpp).
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

using ULONG = unsigned int;
using LONG = int;
using NTSTATUS = int32_t;
using WCHAR = wchar_t;
#define NTAPI
#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BB)
#define DPFLTR_IHVDRIVER_ID 77
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_INFO_LEVEL 3

struct RTL_OSVERSIONINFOW {
    ULONG dwOSVersionInfoSize, dwMajorVersion, dwMinorVersion, dwBuildNumber, dwPlatformId;
    WCHAR szCSDVersion[128];
};
using PRTL_OSVERSIONINFOW = RTL_OSVERSIONINFOW*;

enum POOL_TYPE { NonPagedPool = 0, NonPagedPoolNx = 512 };
enum MM_PAGE_PRIORITY { LowPagePriority = 0, NormalPagePriority = 16, HighPagePriority = 32 };
#define MdlMappingNoExecute 0x40000000
#define MdlMappingNoWrite 0x80000000

namespace fake_nt {
inline ULONG major = 10, minor = 0, build = 19045;
inline int version_calls = 0;
inline std::string log;
} // namespace fake_nt

inline NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW v)
{
    ++fake_nt::version_calls;
    v->dwMajorVersion = fake_nt::major;
    v->dwMinorVersion = fake_nt::minor;
    v->dwBuildNumber = fake_nt::build;
    return STATUS_SUCCESS;
}

inline ULONG DbgPrintEx(ULONG, ULONG, const char* format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    fake_nt::log += line;
    return 0;
}
