// fake_nt/kmd/nt.hpp - host-side stand-in for the kit's DDK include, just big enough for
// kmd/kernel_raii.hpp: the kernel calls its owners make, as counters (kernel_raii_tests.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

using USHORT = unsigned short;
using ULONG = unsigned int;
using SIZE_T = size_t;
using NTSTATUS = int32_t;
using WCHAR = wchar_t;
using PWCH = wchar_t*;
using HANDLE = void*;
using PHANDLE = HANDLE*;
using DEVICE_TYPE = ULONG;
using BOOLEAN = unsigned char;
#define FALSE 0
#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)

struct UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWCH Buffer;
};
using PUNICODE_STRING = UNICODE_STRING*;
struct DRIVER_OBJECT {};
struct DEVICE_OBJECT {};
using PDRIVER_OBJECT = DRIVER_OBJECT*;
using PDEVICE_OBJECT = DEVICE_OBJECT*;

namespace fake_nt {
// What the fake kernel holds now; tests check every count is back to 0.
inline int devices = 0, links = 0, handles = 0, pool_blocks = 0;
inline DEVICE_OBJECT device_storage[16];
} // namespace fake_nt

inline NTSTATUS IoCreateDevice(PDRIVER_OBJECT, ULONG, PUNICODE_STRING, DEVICE_TYPE, ULONG, BOOLEAN, PDEVICE_OBJECT* out)
{
    *out = &fake_nt::device_storage[fake_nt::devices++ % 16];
    return 0;
}
inline void IoDeleteDevice(PDEVICE_OBJECT) { --fake_nt::devices; }
inline NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING, PUNICODE_STRING)
{
    ++fake_nt::links;
    return 0;
}
inline NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING)
{
    --fake_nt::links;
    return 0;
}
inline NTSTATUS ZwClose(HANDLE)
{
    --fake_nt::handles;
    return 0;
}
