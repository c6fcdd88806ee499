// scm.hpp - the service control manager calls a driver loader needs, one function per call,
// each returning a Failure (empty on success) that names the call and carries GetLastError().
#pragma once

#include <string>

#include "win32.hpp"

namespace kmd {

struct ServiceConfig {
    DWORD type = 0;
    DWORD start_type = 0;
    DWORD error_control = 0;
    std::wstring image_path;
    std::wstring display_name;
    std::wstring load_order_group;
};

Failure open_scm(ScHandle& scm, DWORD access = SC_MANAGER_ALL_ACCESS);

// CreateService for a kernel driver. Fails with ERROR_SERVICE_EXISTS when the name is taken.
// `load_order_group` (empty: none) also decides, under Wine, which drivers share one
// winedevice.exe host process - drivers that call each other directly must share one.
Failure create_kernel_service(SC_HANDLE scm, const std::wstring& name, const std::wstring& display,
                              const std::wstring& image_path, DWORD start_type, ScHandle& service,
                              const std::wstring& load_order_group = {});
Failure open_service(SC_HANDLE scm, const std::wstring& name, ScHandle& service, DWORD access = SERVICE_ALL_ACCESS);
Failure start_service(SC_HANDLE service);
Failure query_status(SC_HANDLE service, SERVICE_STATUS_PROCESS& status);
Failure query_config(SC_HANDLE service, ServiceConfig& config);
Failure change_image_path(SC_HANDLE service, const std::wstring& image_path, DWORD start_type);

// ControlService(SERVICE_CONTROL_STOP), then waits while the service reports STOP_PENDING, for at
// most timeout_ms. `final_state` is the last state seen (SERVICE_STOPPED on success).
Failure stop_service(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state);
Failure delete_service(SC_HANDLE service);

// "RUNNING", "STOPPED", ... as sc.exe prints them; "KERNEL_DRIVER", "DEMAND_START", ...
const char* state_name(DWORD state);
const char* type_name(DWORD type);
const char* start_type_name(DWORD start_type);

// GetFullPathName: the seed's step before CreateService.
Failure full_path(const std::wstring& path, std::wstring& full);

// True when two image paths name the same file as the SCM stores them ("\??\C:\x.sys",
// "C:\x.sys", case differences).
bool same_image_path(const std::wstring& a, const std::wstring& b);

} // namespace kmd
