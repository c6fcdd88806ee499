// scm.hpp - the service control manager calls a driver loader needs, one function per call,
// each returning a Failure (empty on success) that names the call and carries GetLastError().
#pragma once

#include <string>
#include <vector>

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

// Every open names the access it asks for, and each verb asks for the least it needs, as sc.exe
// does (status: SC_MANAGER_CONNECT + SERVICE_QUERY_STATUS|SERVICE_QUERY_CONFIG, ...): a user
// who may query but not control a service can still query it, and the handle cannot do more
// than the verb meant. The access shows in --trace and in error messages ("OpenService(x,
// SERVICE_STOP|SERVICE_QUERY_STATUS): error 5"), so a denial says what was asked.
// (The defaults serve the test programs, which install and remove drivers; kmdctl passes each.)
Failure open_scm(ScHandle& scm, DWORD access = SC_MANAGER_ALL_ACCESS);

// CreateService for a kernel driver. Fails with ERROR_SERVICE_EXISTS when the name is taken.
// `load_order_group` (empty: none) also decides, under Wine, which drivers share one
// winedevice.exe host process - drivers that call each other directly must share one.
Failure create_kernel_service(SC_HANDLE scm, const std::wstring& name, const std::wstring& display,
                              const std::wstring& image_path, DWORD start_type, ScHandle& service,
                              const std::wstring& load_order_group = {}, DWORD access = SERVICE_ALL_ACCESS);
Failure open_service(SC_HANDLE scm, const std::wstring& name, ScHandle& service, DWORD access = SERVICE_ALL_ACCESS);

// StartService. Under Wine, a start that failed because Wine's driver host process died while
// starting (error 1359, DriverEntry never ran) is tried once more: start_retry.hpp says why and
// when. `retry` (optional) tells whether that happened and what the first failure was.
struct StartRetry {
    bool retried = false;
    Failure first;
};
Failure start_service(SC_HANDLE service, StartRetry* retry = nullptr);
// The same without preparing the host (under Wine: loading the kit's shim first, wine_host.hpp).
Failure start_service_as_is(SC_HANDLE service, StartRetry* retry = nullptr);
bool running_under_wine(); // ntdll exports wine_get_version
Failure query_status(SC_HANDLE service, SERVICE_STATUS_PROCESS& status);
Failure query_config(SC_HANDLE service, ServiceConfig& config);

// ChangeServiceConfig of the image path and/or the start type only (empty path or
// SERVICE_NO_CHANGE: left as it is). Type, error control, group, account: never touched, so
// putting the old path back restores the service exactly.
Failure change_config(SC_HANDLE service, const std::wstring& image_path, DWORD start_type = SERVICE_NO_CHANGE);

// True when DeleteService was called on the service and a handle still keeps it: a
// ChangeServiceConfig that changes nothing answers ERROR_SERVICE_MARKED_FOR_DELETE then.
// Needs SERVICE_CHANGE_CONFIG.
bool marked_for_delete(SC_HANDLE service);

// ControlService(SERVICE_CONTROL_STOP), then waits while the service reports STOP_PENDING, as
// its dwWaitHint and dwCheckPoint ask (stop_wait.hpp), for at most timeout_ms. A service already
// STOP_PENDING (ControlService fails with 1061) is waited for the same way. `final_state` is the
// last state seen (SERVICE_STOPPED on success).
// A service still START_PENDING (which accepts no control) is first waited out.
Failure stop_service(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state);

// Waits while the service reports START_PENDING (StartService may return before the driver's
// host says RUNNING), for at most timeout_ms; `final_state` is the state it settled in.
Failure wait_while_starting(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state);
Failure delete_service(SC_HANDLE service);

struct ServiceEntry {
    std::wstring name;
    std::wstring display_name;
    DWORD state = 0;
};
// EnumServicesStatusEx over every kernel/file-system driver, however many answers it takes
// (ERROR_MORE_DATA and the resume handle).
Failure list_driver_services(SC_HANDLE scm, std::vector<ServiceEntry>& services);

// "RUNNING", "STOPPED", ... as sc.exe prints them; "KERNEL_DRIVER", "DEMAND_START", ...
const char* state_name(DWORD state);
const char* type_name(DWORD type);
const char* start_type_name(DWORD start_type);

// GetFullPathName: the seed's step before CreateService.
Failure full_path(const std::wstring& path, std::wstring& full);

// True when two image paths name the same file as the SCM stores them ("\??\C:\x.sys",
// "C:\x.sys", case differences).
bool same_image_path(const std::wstring& a, const std::wstring& b);
// The file a service's ImagePath names: "\\??\\C:\\x.sys", "C:\\x.sys", or "system32\\drivers\\x.sys"
// (relative to the Windows directory, as the kernel reads it).
std::wstring image_file(const std::wstring& image_path);

} // namespace kmd
