#include "scm.hpp"

#include <vector>

#include "trace.hpp"

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

} // namespace

Failure open_scm(ScHandle& scm, DWORD access)
{
    scm.reset(OpenSCManagerW(nullptr, nullptr, access));
    return checked(static_cast<bool>(scm), "OpenSCManager");
}

Failure create_kernel_service(SC_HANDLE scm, const std::wstring& name, const std::wstring& display,
                              const std::wstring& image_path, DWORD start_type, ScHandle& service,
                              const std::wstring& load_order_group)
{
    service.reset(CreateServiceW(scm, name.c_str(), display.c_str(), SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER, start_type,
                                 SERVICE_ERROR_NORMAL, image_path.c_str(),
                                 load_order_group.empty() ? nullptr : load_order_group.c_str(), nullptr, nullptr, nullptr, nullptr));
    return checked(static_cast<bool>(service), "CreateService(" + quoted(name) + ", " + quoted(image_path) + ")");
}

Failure open_service(SC_HANDLE scm, const std::wstring& name, ScHandle& service, DWORD access)
{
    service.reset(OpenServiceW(scm, name.c_str(), access));
    return checked(static_cast<bool>(service), "OpenService(" + quoted(name) + ")");
}

Failure start_service(SC_HANDLE service)
{
    return checked(StartServiceW(service, 0, nullptr) != FALSE, "StartService");
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

Failure change_image_path(SC_HANDLE service, const std::wstring& image_path, DWORD start_type)
{
    const BOOL ok = ChangeServiceConfigW(service, SERVICE_KERNEL_DRIVER, start_type, SERVICE_ERROR_NORMAL, image_path.c_str(),
                                         nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    return checked(ok != FALSE, "ChangeServiceConfig(" + quoted(image_path) + ")");
}

Failure stop_service(SC_HANDLE service, DWORD timeout_ms, DWORD& final_state)
{
    SERVICE_STATUS status{};
    const BOOL ok = ControlService(service, SERVICE_CONTROL_STOP, &status);
    final_state = status.dwCurrentState;
    if (Failure f = checked(ok != FALSE, "ControlService(SERVICE_CONTROL_STOP)")) return f;

    const ULONGLONG deadline = GetTickCount64() + timeout_ms;
    while (final_state != SERVICE_STOPPED) {
        if (GetTickCount64() >= deadline) return Failure{"waiting for SERVICE_STOPPED", ERROR_SERVICE_REQUEST_TIMEOUT};
        Sleep(50);
        SERVICE_STATUS_PROCESS sp{};
        if (Failure f = query_status(service, sp)) return f;
        final_state = sp.dwCurrentState;
    }
    return {};
}

Failure delete_service(SC_HANDLE service)
{
    return checked(DeleteService(service) != FALSE, "DeleteService");
}

Failure full_path(const std::wstring& path, std::wstring& full)
{
    wchar_t buffer[MAX_PATH * 4];
    const DWORD n = GetFullPathNameW(path.c_str(), static_cast<DWORD>(std::size(buffer)), buffer, nullptr);
    const bool ok = n != 0 && n < std::size(buffer);
    if (ok) full.assign(buffer, n);
    return checked(ok, "GetFullPathName(" + quoted(path) + ")");
}

bool same_image_path(const std::wstring& a, const std::wstring& b)
{
    const std::wstring x = strip_nt_prefix(a), y = strip_nt_prefix(b);
    return CompareStringOrdinal(x.c_str(), static_cast<int>(x.size()), y.c_str(), static_cast<int>(y.size()), TRUE) == CSTR_EQUAL;
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
