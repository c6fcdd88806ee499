#include "scm.hpp"
#include "start_retry.hpp"

#include <algorithm>
#include <vector>

#include "nt5_compat.hpp"
#include "stop_wait.hpp"
#include "trace.hpp"
#include "wine_host.hpp"

namespace kmd {
namespace {

// Records one Win32 call: narrates it when tracing, and turns a failure into a Failure.
Failure checked(bool ok, const std::string& call)
{
    const DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    trace_call(call, ok, error);
    if (ok) return {};
    return Failure{call, error};
}

std::string quoted(const std::wstring& s) { return narrow(s); }

std::wstring strip_nt_prefix(const std::wstring& path)
{
    if (path.rfind(L"\\??\\", 0) == 0) return path.substr(4);
    return path;
}

struct AccessName {
    DWORD bit;
    const char* name;
};

template <size_t N>
std::string access_text(DWORD access, const AccessName (&names)[N], DWORD all, const char* all_name)
{
    if (access == all) return all_name;
    std::string text;
    for (const AccessName& a : names)
        if ((access & a.bit) == a.bit) text += (text.empty() ? "" : "|") + std::string(a.name);
    return text;
}

std::string scm_access_text(DWORD access)
{
    static const AccessName kNames[] = {{SC_MANAGER_CONNECT, "SC_MANAGER_CONNECT"},
                                        {SC_MANAGER_CREATE_SERVICE, "SC_MANAGER_CREATE_SERVICE"},
                                        {SC_MANAGER_ENUMERATE_SERVICE, "SC_MANAGER_ENUMERATE_SERVICE"}};
    return access_text(access, kNames, SC_MANAGER_ALL_ACCESS, "SC_MANAGER_ALL_ACCESS");
}

std::string service_access_text(DWORD access)
{
    static const AccessName kNames[] = {{SERVICE_QUERY_STATUS, "SERVICE_QUERY_STATUS"}, {SERVICE_QUERY_CONFIG, "SERVICE_QUERY_CONFIG"},
                                        {SERVICE_INTERROGATE, "SERVICE_INTERROGATE"},
                                        {SERVICE_CHANGE_CONFIG, "SERVICE_CHANGE_CONFIG"}, {SERVICE_START, "SERVICE_START"},
                                        {SERVICE_STOP, "SERVICE_STOP"},                   {DELETE, "DELETE"}};
    return access_text(access, kNames, SERVICE_ALL_ACCESS, "SERVICE_ALL_ACCESS");
}

} // namespace

Failure open_scm(ScHandle& scm, DWORD access)
{
    scm.reset(OpenSCManagerW(nullptr, nullptr, access));
    return checked(static_cast<bool>(scm), "OpenSCManager(" + scm_access_text(access) + ")");
}

Failure create_kernel_service(SC_HANDLE scm, const std::wstring& name, const std::wstring& display,
                              const std::wstring& image_path, DWORD start_type, ScHandle& service,
                              const std::wstring& load_order_group, DWORD access)
{
    // Under Wine a driver without a group would get a host of its own, without the kit's shim.
    const std::wstring group = service_group(load_order_group);
    service.reset(CreateServiceW(scm, name.c_str(), display.c_str(), access, SERVICE_KERNEL_DRIVER, start_type,
                                 SERVICE_ERROR_NORMAL, image_path.c_str(), group.empty() ? nullptr : group.c_str(), nullptr,
                                 nullptr, nullptr, nullptr));
    return checked(static_cast<bool>(service), "CreateService(" + quoted(name) + ", " + quoted(image_path) + ")");
}

Failure open_service(SC_HANDLE scm, const std::wstring& name, ScHandle& service, DWORD access)
{
    service.reset(OpenServiceW(scm, name.c_str(), access));
    return checked(static_cast<bool>(service), "OpenService(" + quoted(name) + ", " + service_access_text(access) + ")");
}

bool running_under_wine()
{
    const HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

Failure start_service(SC_HANDLE service, StartRetry* retry)
{
    // Under Wine only: the kit's host shim first, in the driver's host (wine_host.hpp).
    if (Failure f = prepare_wine_host(service, retry)) return f;
    return start_service_as_is(service, retry);
}

Failure start_service_as_is(SC_HANDLE service, StartRetry* retry)
{
    Failure last;
    start_with_retry(
        running_under_wine(),
        [&](int attempt) {
            last = checked(StartServiceW(service, 0, nullptr) != FALSE,
                           attempt == 1 ? "StartService" : "StartService (again, after error 1359)");
            return static_cast<uint32_t>(last.error);
        },
        [&](uint32_t) {
            if (retry != nullptr) *retry = {true, last};
        },
        [](uint32_t ms) { Sleep(ms); });
    return last;
}

Failure query_status(SC_HANDLE service, SERVICE_STATUS_PROCESS& status)
{
    DWORD needed = 0;
    const BOOL ok = QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status), sizeof status, &needed);
    return checked(ok != FALSE, "QueryServiceStatusEx");
}

Failure query_config(SC_HANDLE service, ServiceConfig& config)
{
    DWORD needed = 0;
    QueryServiceConfigW(service, nullptr, 0, &needed); // asks for the size; fails by design
    std::vector<unsigned char> buffer(needed != 0 ? needed : sizeof(QUERY_SERVICE_CONFIGW));
    auto* qsc = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
    const BOOL ok = QueryServiceConfigW(service, qsc, static_cast<DWORD>(buffer.size()), &needed);
    if (Failure f = checked(ok != FALSE, "QueryServiceConfig")) return f;
    config.type = qsc->dwServiceType;
    config.start_type = qsc->dwStartType;
    config.error_control = qsc->dwErrorControl;
    config.image_path = qsc->lpBinaryPathName != nullptr ? qsc->lpBinaryPathName : L"";
    config.display_name = qsc->lpDisplayName != nullptr ? qsc->lpDisplayName : L"";
    config.load_order_group = qsc->lpLoadOrderGroup != nullptr ? qsc->lpLoadOrderGroup : L"";
    return {};
}

Failure change_config(SC_HANDLE service, const std::wstring& image_path, DWORD start_type)
{
    const BOOL ok = ChangeServiceConfigW(service, SERVICE_NO_CHANGE, start_type, SERVICE_NO_CHANGE,
                                         image_path.empty() ? nullptr : image_path.c_str(), nullptr, nullptr, nullptr, nullptr,
                                         nullptr, nullptr);
    std::string call = "ChangeServiceConfig(";
    if (!image_path.empty()) call += quoted(image_path);
    if (start_type != SERVICE_NO_CHANGE) call += std::string(image_path.empty() ? "" : ", ") + start_type_name(start_type);
    return checked(ok != FALSE, call + ")");
}

bool marked_for_delete(SC_HANDLE service)
{
    const BOOL ok = ChangeServiceConfigW(service, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, nullptr, nullptr, nullptr,
                                         nullptr, nullptr, nullptr, nullptr);
    return !ok && GetLastError() == ERROR_SERVICE_MARKED_FOR_DELETE;
}

Failure wait_while_starting(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state)
{
    const ULONGLONG deadline = kmd::tick_ms() + timeout_ms;
    for (uint32_t polls = 0;; ++polls) {
        SERVICE_STATUS_PROCESS sp{};
        if (Failure f = query_status(service, sp)) return f;
        final_state = sp.dwCurrentState;
        if (sp.dwCurrentState != SERVICE_START_PENDING) return {};
        const ULONGLONG now = kmd::tick_ms();
        if (now >= deadline) return Failure{"waiting for the service to finish starting", ERROR_SERVICE_REQUEST_TIMEOUT};
        // From 20 ms up to a tenth of the hint (Wine's winedevice reports 10 s while a driver loads).
        Sleep(static_cast<DWORD>(std::min<ULONGLONG>(poll_interval_ms(sp.dwWaitHint, polls), deadline - now)));
    }
}

Failure stop_service(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state)
{
    SERVICE_STATUS status{};
    BOOL ok = ControlService(service, SERVICE_CONTROL_STOP, &status);
    Failure control = checked(ok != FALSE, "ControlService(SERVICE_CONTROL_STOP)");
    SERVICE_STATUS_PROCESS sp{};
    if (control && control.error == ERROR_SERVICE_CANNOT_ACCEPT_CTRL && query_status(service, sp).error == ERROR_SUCCESS &&
        sp.dwCurrentState == SERVICE_START_PENDING) {
        // Still starting (StartService can return before the driver's host reports RUNNING, and
        // a START_PENDING service accepts no control): let it finish, then ask again.
        if (Failure f = wait_while_starting(service, timeout_ms, final_state)) return f;
        if (final_state == SERVICE_STOPPED) return {}; // it did not come up at all
        ok = ControlService(service, SERVICE_CONTROL_STOP, &status);
        control = checked(ok != FALSE, "ControlService(SERVICE_CONTROL_STOP)");
    }
    if (control) {
        // 1061: the service cannot take a control now - one reason is that it is stopping
        // already (another program asked first). Then wait for it like for our own request.
        if (control.error != ERROR_SERVICE_CANNOT_ACCEPT_CTRL) return control;
        if (Failure f = query_status(service, sp)) return control;
        final_state = sp.dwCurrentState;
        if (sp.dwCurrentState != SERVICE_STOP_PENDING && sp.dwCurrentState != SERVICE_STOPPED) return control;
    } else {
        sp.dwCurrentState = status.dwCurrentState;
        sp.dwCheckPoint = status.dwCheckPoint;
        sp.dwWaitHint = status.dwWaitHint;
    }

    StopWait wait(kmd::tick_ms(), timeout_ms);
    while (true) {
        final_state = sp.dwCurrentState;
        const StopDecision d = wait.next(sp.dwCurrentState, sp.dwCheckPoint, sp.dwWaitHint, kmd::tick_ms());
        switch (d.verdict) {
        case StopVerdict::Stopped: return {};
        case StopVerdict::TimedOut: return Failure{"waiting for SERVICE_STOPPED", ERROR_SERVICE_REQUEST_TIMEOUT};
        case StopVerdict::Stalled:
            return Failure{"waiting for SERVICE_STOPPED (the service stopped making progress: its checkpoint stood still "
                           "longer than its own wait hint)",
                           ERROR_SERVICE_REQUEST_TIMEOUT};
        case StopVerdict::Wait: break;
        }
        Sleep(d.sleep_ms);
        if (Failure f = query_status(service, sp)) return f;
    }
}

Failure delete_service(SC_HANDLE service)
{
    return checked(DeleteService(service) != FALSE, "DeleteService");
}

Failure full_path(const std::wstring& path, std::wstring& full)
{
    // Asked for its size first: no fixed buffer, so a long path is resolved rather than
    // reported with whatever GetLastError() held before (a fixed buffer that was too small made
    // the call "fail" without setting an error, and a stale 14007 was printed).
    std::wstring buffer(GetFullPathNameW(path.c_str(), 0, nullptr, nullptr), L'\0');
    DWORD n = 0;
    if (!buffer.empty()) {
        SetLastError(ERROR_SUCCESS);
        n = GetFullPathNameW(path.c_str(), static_cast<DWORD>(buffer.size()), buffer.data(), nullptr);
    }
    const bool ok = n != 0 && n < buffer.size();
    DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && error == ERROR_SUCCESS) error = ERROR_BAD_PATHNAME; // failed without saying why: say the path is bad
    trace_call("GetFullPathName(" + quoted(path) + ")", ok, error);
    if (!ok) return Failure{"GetFullPathName(" + quoted(path) + ")", error};
    full.assign(buffer.data(), n);
    return {};
}

Failure list_driver_services(SC_HANDLE scm, std::vector<ServiceEntry>& services)
{
    services.clear();
    // A small first buffer on purpose: every listing goes through the ERROR_MORE_DATA path (a
    // fresh Wine prefix already has more than 256 bytes of driver entries), so that path is the one
    // the tests exercise, not a branch that only a crowded machine would reach.
    std::vector<unsigned char> buffer(256);
    DWORD resume = 0;
    while (true) {
        DWORD needed = 0, count = 0;
        const BOOL ok = EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_STATE_ALL, buffer.data(),
                                              static_cast<DWORD>(buffer.size()), &needed, &count, &resume, nullptr);
        const DWORD error = ok ? ERROR_SUCCESS : GetLastError();
        trace_call("EnumServicesStatusEx", ok != FALSE, error); // 234 (ERROR_MORE_DATA) shows as such
        if (!ok && error != ERROR_MORE_DATA) return Failure{"EnumServicesStatusEx", error};
        // With ERROR_MORE_DATA the buffer holds the first `count` entries and `resume` says where
        // the next call goes on; a list that grew between calls is followed the same way.
        const auto* entries = reinterpret_cast<const ENUM_SERVICE_STATUS_PROCESSW*>(buffer.data());
        for (DWORD i = 0; i < count; ++i)
            services.push_back({entries[i].lpServiceName, entries[i].lpDisplayName != nullptr ? entries[i].lpDisplayName : L"",
                                entries[i].ServiceStatusProcess.dwCurrentState});
        if (ok) return {};
        if (needed > buffer.size()) buffer.resize(needed);
        else if (count == 0) return Failure{"EnumServicesStatusEx (no progress with a buffer of the size it asked for)", error};
    }
}

std::wstring image_file(const std::wstring& image_path)
{
    std::wstring p = strip_nt_prefix(image_path);
    if (p.rfind(L"\\SystemRoot\\", 0) == 0) p = p.substr(12);
    if (p.find(L':') == std::wstring::npos) {
        wchar_t root[MAX_PATH] = {};
        const UINT n = GetWindowsDirectoryW(root, MAX_PATH);
        p = std::wstring(root, n) + L"\\" + p;
    }
    return p;
}

bool same_image_path(const std::wstring& a, const std::wstring& b)
{
    const std::wstring x = strip_nt_prefix(a), y = strip_nt_prefix(b);
    return equal_ignoring_case(x, y);
}

const char* state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED: return "STOPPED";
    case SERVICE_START_PENDING: return "START_PENDING";
    case SERVICE_STOP_PENDING: return "STOP_PENDING";
    case SERVICE_RUNNING: return "RUNNING";
    case SERVICE_CONTINUE_PENDING: return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING: return "PAUSE_PENDING";
    case SERVICE_PAUSED: return "PAUSED";
    default: return "UNKNOWN";
    }
}

const char* type_name(DWORD type)
{
    switch (type) {
    case SERVICE_KERNEL_DRIVER: return "KERNEL_DRIVER";
    case SERVICE_FILE_SYSTEM_DRIVER: return "FILE_SYSTEM_DRIVER";
    case SERVICE_WIN32_OWN_PROCESS: return "WIN32_OWN_PROCESS";
    case SERVICE_WIN32_SHARE_PROCESS: return "WIN32_SHARE_PROCESS";
    default: return "OTHER";
    }
}

const char* start_type_name(DWORD start_type)
{
    switch (start_type) {
    case SERVICE_BOOT_START: return "BOOT_START";
    case SERVICE_SYSTEM_START: return "SYSTEM_START";
    case SERVICE_AUTO_START: return "AUTO_START";
    case SERVICE_DEMAND_START: return "DEMAND_START";
    case SERVICE_DISABLED: return "DISABLED";
    default: return "UNKNOWN";
    }
}

} // namespace kmd
