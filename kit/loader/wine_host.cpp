// wine_host.cpp - see wine_host.hpp.
#include "wine_host.hpp"

#include <cstdio>
#include <cstdlib>

#include "nt5_compat.hpp"
#include "win32.hpp"

namespace kmd {
namespace {

std::wstring file_name_of(const std::wstring& path)
{
    const size_t slash = path.find_last_of(L"\\/");
    return slash == std::wstring::npos ? path : path.substr(slash + 1);
}

bool is_host_component(const std::wstring& image_path)
{
    const std::wstring name = file_name_of(image_path);
    return equal_ignoring_case(name, L"kmdhost.sys") || equal_ignoring_case(name, L"kmdverify.sys");
}

// KMD_WINE_HOST, or kmdhost.sys beside this program; empty when switched off.
std::wstring shim_path()
{
    const char* setting = std::getenv("KMD_WINE_HOST");
    if (setting != nullptr && std::string(setting) == "0") return {};
    if (setting != nullptr && *setting != '\0') return widen(setting);
    wchar_t self[MAX_PATH] = {};
    const DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return {};
    std::wstring dir(self, n);
    dir.resize(dir.find_last_of(L"\\/") + 1);
    return dir + L"kmdhost.sys";
}

// Says why the driver runs without the shim; nothing failed for the driver's start.
Failure warn(const std::string& what)
{
    std::fprintf(stderr, "kmdctl: under Wine, %s; the driver runs without the kit's host shim (stopping it while requests "
                         "are in flight can crash its host: docs/wine-unload-race.md)\n",
                 what.c_str());
    return {};
}

} // namespace

std::wstring service_group(const std::wstring& requested)
{
    return requested.empty() && running_under_wine() ? kWineDefaultGroup : requested;
}

Failure prepare_wine_host(SC_HANDLE service, StartRetry* retry)
{
    if (!running_under_wine()) return {};
    ServiceConfig config;
    if (Failure f = query_config(service, config)) return warn("the driver's group is unknown: " + f.describe());
    if (is_host_component(config.image_path) || config.load_order_group.empty()) return {};
    const std::wstring path = shim_path();
    if (path.empty()) return {}; // KMD_WINE_HOST=0: on purpose, nothing to say
    if (GetFileAttributesW(path.c_str()) == INVALID_FILE_ATTRIBUTES) return warn("there is no " + narrow(path));

    ScHandle scm;
    if (Failure f = open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE))
        return warn("the shim could not be installed: " + f.describe());
    constexpr DWORD kAccess = SERVICE_QUERY_STATUS | SERVICE_START; // the least it needs
    // One shim per group, named after it; it stays installed and running for the prefix's life
    // (the drivers it wraps call through it), like any other part of the box.
    const std::wstring name = L"kmdhost_" + config.load_order_group;
    ScHandle shim;
    Failure f = create_kernel_service(scm.get(), name, L"Skeleton KMD host shim (" + config.load_order_group + L")", path,
                                      SERVICE_DEMAND_START, shim, config.load_order_group, kAccess);
    if (f && f.error == ERROR_SERVICE_EXISTS) f = open_service(scm.get(), name, shim, kAccess);
    if (f) return warn("the shim could not be installed: " + f.describe());
    SERVICE_STATUS_PROCESS status{};
    if (Failure q = query_status(shim.get(), status)) return warn("the shim's state is unknown: " + q.describe());
    if (status.dwCurrentState == SERVICE_RUNNING) return {};
    f = status.dwCurrentState == SERVICE_STOPPED ? start_service_as_is(shim.get(), retry) : Failure{};
    // Another program may be starting it at this moment: wait for that start like for ours.
    if (f && f.error != ERROR_SERVICE_ALREADY_RUNNING) {
        std::fprintf(stderr, "kmdctl: under Wine, the kit's host shim (%s) did not start in the driver's host process; "
                             "the driver was not started\n",
                     narrow(name).c_str());
        return f;
    }
    DWORD state = 0;
    if (Failure w = wait_while_starting(shim.get(), 15000, state)) return warn("the shim did not start: " + w.describe());
    if (state != SERVICE_RUNNING) return warn("the shim did not start (state " + std::string(state_name(state)) + ")");
    return {};
}

namespace {

// The Unloads key of the shim in `service`'s group: "" when the service has no group.
std::wstring unloads_key_of(const std::wstring& service)
{
    const std::wstring key = L"System\\CurrentControlSet\\Services\\" + service;
    const std::wstring group = read_registry_string(HKEY_LOCAL_MACHINE, key.c_str(), L"Group");
    if (group.empty()) return {};
    return L"System\\CurrentControlSet\\Services\\kmdhost_" + group + L"\\Unloads";
}

} // namespace

void forget_unload_verdict(const std::wstring& service)
{
    if (!running_under_wine()) return;
    const std::wstring key = unloads_key_of(service);
    HKEY h = nullptr;
    if (key.empty() || RegOpenKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0, KEY_SET_VALUE, &h) != ERROR_SUCCESS) return;
    const RegKey unloads(h);
    RegDeleteValueW(unloads.get(), service.c_str());
}

std::wstring unload_verdict(const std::wstring& service)
{
    if (!running_under_wine()) return {};
    const std::wstring key = unloads_key_of(service);
    return key.empty() ? std::wstring{} : read_registry_string(HKEY_LOCAL_MACHINE, key.c_str(), service.c_str());
}

} // namespace kmd
