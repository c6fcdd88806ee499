// log.hpp - driver messages for the kernel debugger (DbgView, WinDbg; under Wine the `debugstr`
// channel, which winebox collects into the box's kernel log).
#pragma once

#include <kmd/nt.hpp>

// KMD_DRIVER_NAME is the driver's name, defined by kmd_add_driver(); every line starts with it.
#ifndef KMD_DRIVER_NAME
#define KMD_DRIVER_NAME "driver"
#endif

// INFO level: on Windows Vista and later it shows once the "Debug Print Filter" key enables it.
#define KMD_LOG(...) DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, KMD_DRIVER_NAME ": " __VA_ARGS__)

// "%.*ws" with these two arguments prints a counted UNICODE_STRING. (%wZ would be shorter, but
// Wine's DbgPrint does not know it, and a UNICODE_STRING need not be NUL-terminated.)
#define KMD_USTR_ARGS(u) static_cast<int>((u)->Length / sizeof(WCHAR)), (u)->Buffer

namespace kmd {

// IRP_MJ_xxx by name, for logs.
constexpr const char* major_name(UCHAR major)
{
    switch (major) {
    case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
    case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
    case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
    case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
    case IRP_MJ_READ: return "IRP_MJ_READ";
    case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
    default: return "IRP_MJ_(other)";
    }
}

} // namespace kmd
