#include "cli.hpp"

#include <cstdio>

#include "error_hints.hpp"
#include "host_health.hpp"
#include "pe_probe.hpp"

namespace kmdctl {

bool g_win32_exit = false;

int failed_exit(DWORD error)
{
    if (!g_win32_exit) return kExitFailed;
    return error != ERROR_SUCCESS ? static_cast<int>(error) : kExitFailed;
}

int usage_error(const std::string& verb, const std::string& message)
{
    std::fprintf(stderr, "kmdctl %s: %s (see 'kmdctl %s --help')\n", verb.c_str(), message.c_str(), verb.c_str());
    return g_win32_exit ? static_cast<int>(ERROR_INVALID_COMMAND_LINE) : kExitUsage;
}

// The likely cause and what to do, under the error, for the errors beginners meet (error_hints.hpp).
void say_hint(const Failure& f)
{
    if (const char* hint = kmd::error_hint(f.error, kmd::step_of_call(f.call.c_str())))
        std::fprintf(stderr, "  hint: %s\n", hint);
}

int report(const std::string& verb, const Failure& f)
{
    std::fprintf(stderr, "kmdctl %s: %s\n", verb.c_str(), f.describe().c_str());
    say_hint(f);
    return failed_exit(f.error);
}

#ifndef ERROR_DIRECTORY_NOT_SUPPORTED
#define ERROR_DIRECTORY_NOT_SUPPORTED 336L // winerror.h; missing from mingw-w64's
#endif

// The machine whose drivers this Windows can load: the kernel's, not this process's.
uint16_t kernel_machine()
{
#if defined(_WIN64)
    return 0x8664;
#else
    BOOL wow64 = FALSE;
    return IsWow64Process(GetCurrentProcess(), &wow64) && wow64 ? 0x8664 : 0x014c;
#endif
}

// Refuses what cannot be a driver for this machine before the SCM is touched, so a typo or a
// wrong file creates no service: missing, a directory, not a PE image, another machine, not native.
Failure check_driver_file(const std::wstring& path)
{
    const std::string shown = kmd::narrow(path);
    const DWORD attributes = GetFileAttributesW(path.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return Failure{"GetFileAttributes(" + shown + ")", GetLastError()};
    if (attributes & FILE_ATTRIBUTE_DIRECTORY)
        return Failure{"checking " + shown + " (it is a directory, not a driver image)", ERROR_DIRECTORY_NOT_SUPPORTED};

    kmd::FileHandle file(CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, 0, nullptr));
    if (!file) return Failure{"CreateFile(" + shown + ")", GetLastError()};
    unsigned char head[4096];
    DWORD got = 0;
    if (!ReadFile(file.get(), head, sizeof head, &got, nullptr)) return Failure{"ReadFile(" + shown + ")", GetLastError()};

    const kmd::PeProbe pe = kmd::probe_pe(head, got);
    if (!pe.is_pe) return Failure{"checking " + shown + ": " + pe.problem, ERROR_BAD_EXE_FORMAT};
    if (pe.machine != kernel_machine())
        return Failure{"checking " + shown + ": an " + kmd::machine_name(pe.machine) + " image; this Windows loads " +
                           kmd::machine_name(kernel_machine()) + " drivers",
                       ERROR_EXE_MACHINE_TYPE_MISMATCH};
    if (pe.subsystem != 1 /* IMAGE_SUBSYSTEM_NATIVE */)
        return Failure{"checking " + shown + ": subsystem " + std::to_string(pe.subsystem) +
                           ", not native (1): a user-mode program, not a driver",
                       ERROR_BAD_EXE_FORMAT};
    return {};
}

std::optional<DWORD> parse_start_type(const std::string& s)
{
    if (s == "demand") return SERVICE_DEMAND_START;
    if (s == "system") return SERVICE_SYSTEM_START;
    if (s == "auto") return SERVICE_AUTO_START;
    if (s == "disabled") return SERVICE_DISABLED;
    if (s == "boot") return SERVICE_BOOT_START;
    return std::nullopt;
}

bool checked_name(const char* verb, const std::string& name, std::wstring& out, int& exit_code)
{
    if (auto problem = kmd::service_name_problem(name)) {
        // Escaped (a newline shows as \n) and cut short: the message must stay one readable line.
        std::string shown = kmd::json_escape(name);
        if (shown.size() > 40) shown.replace(32, std::string::npos, "...");
        exit_code = usage_error(verb, "bad service name '" + shown + "': " + *problem);
        return false;
    }
    out = kmd::widen(name);
    return true;
}

// A whole (small) file: a contract header or --in-file bytes. A directory is named as such.
Failure read_whole_file(const std::string& what, const std::wstring& path, std::string& bytes)
{
    const std::string shown = what + " " + kmd::narrow(path);
    const DWORD attributes = GetFileAttributesW(path.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return Failure{"reading " + shown, GetLastError()};
    if (attributes & FILE_ATTRIBUTE_DIRECTORY) return Failure{"reading " + shown + " (it is a directory, not a file)", ERROR_DIRECTORY_NOT_SUPPORTED};
    kmd::FileHandle file(CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, 0, nullptr));
    if (!file) return Failure{"opening " + shown, GetLastError()};
    LARGE_INTEGER size{};
    if (!GetFileSizeEx(file.get(), &size)) return Failure{"sizing " + shown, GetLastError()};
    if (size.QuadPart > kMaxBuffer) return Failure{"reading " + shown + " (larger than 64 MiB)", ERROR_FILE_TOO_LARGE};
    bytes.resize(static_cast<size_t>(size.QuadPart));
    DWORD got = 0;
    if (!bytes.empty() && !ReadFile(file.get(), bytes.data(), static_cast<DWORD>(bytes.size()), &got, nullptr))
        return Failure{"reading " + shown, GetLastError()};
    bytes.resize(got);
    return {};
}

// stderr, so a log shows it happened even when the second start worked.
void say_retry(const kmd::StartRetry& retry)
{
    if (!retry.retried) return;
    std::fprintf(stderr,
                 "kmdctl: %s: Wine's driver host process (winedevice.exe) died while starting, before the driver "
                 "was loaded (DriverEntry never ran); started it once more\n",
                 retry.first.describe().c_str());
}


// Non-zero (and explained) when the service's host process is dead though the SCM says it runs:
// the error ControlService(INTERROGATE) met (232), which the verb exits with under --win32-exit.
// The check has a handle of its own with just the rights it needs, so each verb's handle keeps the
// least access for what the verb does.
DWORD host_died(SC_HANDLE scm, const std::wstring& name, const std::wstring& link)
{
    kmd::ScHandle service;
    if (kmd::open_service(scm, name, service, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG | SERVICE_INTERROGATE)) return 0;
    SERVICE_STATUS_PROCESS status{};
    kmd::ServiceConfig config;
    if (kmd::query_status(service.get(), status) || kmd::query_config(service.get(), config)) return 0;
    const kmd::HostState host = kmd::host_of(service.get(), status);
    if (!host.dead) return 0;
    kmd::explain_dead_host(stderr, kmd::narrow(name), config.image_path, host, link);
    return host.error != ERROR_SUCCESS ? host.error : static_cast<DWORD>(ERROR_PROCESS_ABORTED);
}

// Opens the named service with `access` (and the manager with SC_MANAGER_CONNECT only).
Failure open_named(const std::wstring& name, DWORD access, kmd::ScHandle& scm, kmd::ScHandle& service)
{
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT)) return f;
    return kmd::open_service(scm.get(), name, service, access);
}

void say_debug_print_hint()
{
    // RtlGetVersion, not GetVersionEx: that one says 6.2 to any program without a manifest on 8.1+.
    using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
    OSVERSIONINFOW version{};
    version.dwOSVersionInfoSize = sizeof version;
    const HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    const auto rtl_get_version = ntdll ? reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void*>(GetProcAddress(ntdll, "RtlGetVersion"))) : nullptr;
    if (rtl_get_version == nullptr || rtl_get_version(&version) != 0) return;
    const bool filters = kmd::kernel_filters_debug_print(kmd::running_under_wine(), version.dwMajorVersion);
    if (!filters) return;
    HKEY raw = nullptr;
    bool mask_present = false;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Debug Print Filter", 0,
                      KEY_QUERY_VALUE, &raw) == ERROR_SUCCESS) {
        const kmd::RegKey key(raw);
        mask_present = RegQueryValueExW(key.get(), L"IHVDRIVER", nullptr, nullptr, nullptr, nullptr) == ERROR_SUCCESS;
    }
    if (const char* hint = kmd::debug_print_hint(filters, mask_present)) std::fprintf(stderr, "  hint: %s\n", hint);
}

} // namespace kmdctl
