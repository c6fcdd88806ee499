// kmdctl - install, start, talk to, stop and remove a legacy NT kernel-mode driver.
//
// `kmdctl run skeleton.sys` is the seed's loader: its seven steps in order, narrated, with every
// failure explained in words and undone. The other verbs are the same steps one at a time, as
// sc.exe offers them, plus IOCTL tools (hello, ioctl, decode, encode).
// Windows' own CTL_CODE first (WIN32_LEAN_AND_MEAN leaves winioctl.h out of windows.h), so the
// contract checks its codes against it.
#include <windows.h>
#include <winioctl.h>

#include <skeleton/ioctl.h>

#ifndef SKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE
#error "skeleton/ioctl.h must see winioctl.h's CTL_CODE: include it first"
#endif

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "device.hpp"
#include "pe_probe.hpp"
#include "scm.hpp"
#include "trace.hpp"
#include "win32.hpp"

namespace {

using kmd::Failure;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr DWORD kStopTimeoutMs = 15000;

// ---------------------------------------------------------------- command line

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options; // "--name" -> "skeleton"; flags map to ""
};

// Options that take a value; every other "--x" is a flag.
bool takes_value(const std::string& option)
{
    static const char* const kValued[] = {"--name", "--display", "--start", "--group", "--device", "--in", "--in-file", "--out-size", "--timeout"};
    for (const char* v : kValued)
        if (option == v) return true;
    return false;
}

bool parse_args(int argc, char** argv, int first, Args& args, std::string& error)
{
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0 && a.size() > 2) {
            if (takes_value(a)) {
                if (i + 1 >= argc) {
                    error = a + " needs a value";
                    return false;
                }
                args.options[a] = argv[++i];
            } else {
                args.options[a] = "";
            }
        } else {
            args.positional.push_back(a);
        }
    }
    return true;
}

bool has(const Args& a, const char* option) { return a.options.count(option) != 0; }
std::string option_or(const Args& a, const char* option, const std::string& fallback)
{
    auto it = a.options.find(option);
    return it == a.options.end() ? fallback : it->second;
}

int usage_error(const std::string& verb, const std::string& message)
{
    std::fprintf(stderr, "kmdctl %s: %s (see 'kmdctl %s --help')\n", verb.c_str(), message.c_str(), verb.c_str());
    return kExitUsage;
}

int report(const std::string& verb, const Failure& f)
{
    std::fprintf(stderr, "kmdctl %s: %s\n", verb.c_str(), f.describe().c_str());
    return kExitFailed;
}

// ---------------------------------------------------------------- help

struct Verb {
    const char* name;
    const char* synopsis;
    const char* help;
    int (*run)(const Args&);
};

int cmd_help(const Args&);

// ---------------------------------------------------------------- driver file checks

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

std::wstring service_name_of(const Args& a) { return kmd::widen(option_or(a, "--name", "skeleton")); }
std::wstring device_path_of(const Args& a) { return kmd::widen(option_or(a, "--device", "\\\\.\\skeleton")); }

// ---------------------------------------------------------------- run: the seed's seven steps

// Undoes what `run` did, in reverse, on every way out: stop only a service we started, delete
// only a service we created (or that the user asked us to take over with --force).
class RunUndo {
public:
    explicit RunUndo(const std::wstring& name) : name_(name) {}
    RunUndo(const RunUndo&) = delete;
    RunUndo& operator=(const RunUndo&) = delete;
    ~RunUndo()
    {
        if (service_ == nullptr) return;
        if (!old_image_path_.empty() && !created_) {
            if (Failure f = kmd::change_image_path(service_, old_image_path_, old_start_type_))
                std::printf("      undo: could not restore the image path of %s: %s\n", kmd::narrow(name_).c_str(), f.describe().c_str());
            else
                std::printf("      undo: image path of %s restored to %s\n", kmd::narrow(name_).c_str(), kmd::narrow(old_image_path_).c_str());
        }
        if (started_) {
            DWORD state = 0;
            if (Failure f = kmd::stop_service(service_, kStopTimeoutMs, state))
                std::printf("      undo: could not stop %s: %s\n", kmd::narrow(name_).c_str(), f.describe().c_str());
            else
                std::printf("      undo: stopped %s\n", kmd::narrow(name_).c_str());
        }
        if (created_) {
            if (Failure f = kmd::delete_service(service_))
                std::printf("      undo: could not delete %s: %s\n", kmd::narrow(name_).c_str(), f.describe().c_str());
            else
                std::printf("      undo: deleted service %s\n", kmd::narrow(name_).c_str());
        }
    }
    void track(SC_HANDLE service) { service_ = service; }
    void created() { created_ = true; }
    void started() { started_ = true; }
    // The normal path did the stop/delete itself.
    void stopped() { started_ = false; }
    void deleted() { created_ = false; }
    bool has_started() const { return started_; }
    bool has_created() const { return created_; }
    // --force changed an existing service's image path: put it back if the run fails.
    void reconfigured(const std::wstring& old_image_path, DWORD old_start_type)
    {
        old_image_path_ = old_image_path;
        old_start_type_ = old_start_type;
    }
    // The run succeeded: a --force reconfiguration stays, as asked.
    void succeeded() { old_image_path_.clear(); }

private:
    std::wstring name_;
    SC_HANDLE service_ = nullptr;
    bool created_ = false;
    bool started_ = false;
    std::wstring old_image_path_;
    DWORD old_start_type_ = SERVICE_DEMAND_START;
};

void step(int n, const char* what) { std::printf("[%d/7] %s\n", n, what), std::fflush(stdout); }
int step_failed(int n, const Failure& f)
{
    std::printf("[%d/7] FAILED: %s\n", n, f.describe().c_str());
    std::fprintf(stderr, "kmdctl run: step %d failed: %s\n", n, f.describe().c_str());
    return kExitFailed;
}

int cmd_run(const Args& a)
{
    if (a.positional.size() != 1) return usage_error("run", "expects exactly one driver file");
    const std::wstring name = service_name_of(a);
    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("run", f);
    if (Failure f = check_driver_file(image)) return report("run", f);

    kmd::ScHandle scm, created, service;
    RunUndo undo(name); // declared after the handles it uses, so it runs before they close

    step(1, "OpenSCManager(SC_MANAGER_ALL_ACCESS)");
    if (Failure f = kmd::open_scm(scm)) return step_failed(1, f);

    std::printf("[2/7] CreateService(%s, SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, %s)\n", kmd::narrow(name).c_str(),
                kmd::narrow(image).c_str());
    if (Failure f = kmd::create_kernel_service(scm.get(), name, name, image, SERVICE_DEMAND_START, created)) {
        if (f.error != ERROR_SERVICE_EXISTS) return step_failed(2, f);
        if (has(a, "--cleanup")) {
            std::printf("      the service already exists (error 1073): using it; --cleanup: deleting it afterwards\n");
            undo.created();
        } else {
            std::printf("      the service already exists (error 1073): using it, and leaving it installed afterwards\n");
        }
    } else {
        undo.track(created.get());
        undo.created();
    }

    step(3, "OpenService (a handle to the service; this does not load the driver yet)");
    if (Failure f = kmd::open_service(scm.get(), name, service)) return step_failed(3, f);
    undo.track(service.get());
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return step_failed(3, f);
    if (!kmd::same_image_path(config.image_path, image)) {
        if (!has(a, "--force"))
            return step_failed(3, Failure{"service " + kmd::narrow(name) + " runs " + kmd::narrow(config.image_path) +
                                              ", not this file; --force reconfigures it",
                                          ERROR_SERVICE_EXISTS});
        if (Failure f = kmd::change_image_path(service.get(), image, SERVICE_DEMAND_START)) return step_failed(3, f);
        undo.reconfigured(config.image_path, config.start_type);
        std::printf("      --force: image path changed to %s\n", kmd::narrow(image).c_str());
    }

    step(4, "StartService (the kernel loads the image and calls DriverEntry)");
    if (Failure f = kmd::start_service(service.get())) {
        if (f.error != ERROR_SERVICE_ALREADY_RUNNING) return step_failed(4, f);
        if (has(a, "--cleanup")) {
            std::printf("      already running (error 1056): using it; --cleanup: stopping it afterwards\n");
            undo.started();
        } else {
            std::printf("      already running (error 1056): using it, and leaving it running afterwards\n");
        }
    } else {
        undo.started();
    }

    std::printf("[5/7] CreateFile(%s) + DeviceIoControl(IOCTL_SKELETON_SAY_HELLO = 0x%08lx)\n",
                kmd::narrow(device_path_of(a)).c_str(), static_cast<unsigned long>(IOCTL_SKELETON_SAY_HELLO));
    {
        kmd::FileHandle device;
        if (Failure f = kmd::open_device(device_path_of(a), device)) return step_failed(5, f);
        std::string greeting;
        if (Failure f = kmd::say_hello(device.get(), greeting)) return step_failed(5, f);
        std::printf("      the driver says: \"%s\"\n", greeting.c_str());
    } // the device handle closes here: IRP_MJ_CLEANUP, IRP_MJ_CLOSE

    step(6, "ControlService(SERVICE_CONTROL_STOP) (the kernel calls DriverUnload)");
    if (undo.has_started()) {
        DWORD state = 0;
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return step_failed(6, f);
        undo.stopped();
        std::printf("      state: %s\n", kmd::state_name(state));
    } else {
        std::printf("      skipped: the driver was running before this command, so it stays running\n");
    }

    step(7, "DeleteService + CloseServiceHandle");
    if (undo.has_created()) {
        if (Failure f = kmd::delete_service(service.get())) return step_failed(7, f);
        undo.deleted();
        std::printf("      service %s deleted\n", kmd::narrow(name).c_str());
    } else {
        std::printf("      skipped DeleteService: the service existed before this command, so it stays installed\n");
    }
    undo.succeeded();
    return kExitOk; // the owners close every handle (CloseServiceHandle) on the way out
}

// ---------------------------------------------------------------- one step at a time

int cmd_install(const Args& a)
{
    if (a.positional.size() != 1) return usage_error("install", "expects exactly one driver file");
    const std::wstring name = service_name_of(a);
    const std::wstring display = kmd::widen(option_or(a, "--display", kmd::narrow(name)));
    const auto start_type = parse_start_type(option_or(a, "--start", "demand"));
    if (!start_type) return usage_error("install", "--start takes demand, system, auto, disabled or boot");
    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("install", f);
    if (Failure f = check_driver_file(image)) return report("install", f);

    kmd::ScHandle scm, service;
    if (Failure f = kmd::open_scm(scm)) return report("install", f);
    const std::wstring group = kmd::widen(option_or(a, "--group", ""));
    Failure created = kmd::create_kernel_service(scm.get(), name, display, image, *start_type, service, group);
    if (!created) {
        std::printf("installed %s -> %s\n", kmd::narrow(name).c_str(), kmd::narrow(image).c_str());
        return kExitOk;
    }
    if (created.error != ERROR_SERVICE_EXISTS) return report("install", created);

    if (Failure f = kmd::open_service(scm.get(), name, service)) return report("install", f);
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return report("install", f);
    if (kmd::same_image_path(config.image_path, image)) {
        std::printf("%s is already installed with this image path (%s)\n", kmd::narrow(name).c_str(),
                    kmd::narrow(config.image_path).c_str());
        return kExitOk;
    }
    if (!has(a, "--force")) {
        std::fprintf(stderr,
                     "kmdctl install: service %s already exists with another image path: %s (use --force to point it at %s)\n",
                     kmd::narrow(name).c_str(), kmd::narrow(config.image_path).c_str(), kmd::narrow(image).c_str());
        return kExitFailed;
    }
    if (Failure f = kmd::change_image_path(service.get(), image, *start_type)) return report("install", f);
    std::printf("reconfigured %s -> %s (was %s)\n", kmd::narrow(name).c_str(), kmd::narrow(image).c_str(),
                kmd::narrow(config.image_path).c_str());
    return kExitOk;
}

// Opens the service named by the one positional argument (or --name).
Failure open_named(const Args& a, kmd::ScHandle& scm, kmd::ScHandle& service, std::wstring& name)
{
    name = a.positional.empty() ? service_name_of(a) : kmd::widen(a.positional[0]);
    if (Failure f = kmd::open_scm(scm)) return f;
    return kmd::open_service(scm.get(), name, service);
}

int cmd_start(const Args& a)
{
    kmd::ScHandle scm, service;
    std::wstring name;
    if (Failure f = open_named(a, scm, service, name)) return report("start", f);
    if (Failure f = kmd::start_service(service.get())) return report("start", f);
    std::printf("%s: RUNNING\n", kmd::narrow(name).c_str());
    return kExitOk;
}

int cmd_stop(const Args& a)
{
    const auto timeout = kmd::parse_u32(option_or(a, "--timeout", "15000"));
    if (!timeout) return usage_error("stop", "--timeout takes milliseconds");
    kmd::ScHandle scm, service;
    std::wstring name;
    if (Failure f = open_named(a, scm, service, name)) return report("stop", f);
    DWORD state = 0;
    Failure f = kmd::stop_service(service.get(), *timeout, state);
    if (f) {
        std::fprintf(stderr, "kmdctl stop: %s (state now %s)\n", f.describe().c_str(), kmd::state_name(state));
        return kExitFailed;
    }
    std::printf("%s: %s\n", kmd::narrow(name).c_str(), kmd::state_name(state));
    return kExitOk;
}

int cmd_remove(const Args& a)
{
    kmd::ScHandle scm, service;
    std::wstring name;
    if (Failure f = open_named(a, scm, service, name)) return report("remove", f);
    SERVICE_STATUS_PROCESS status{};
    if (Failure f = kmd::query_status(service.get(), status)) return report("remove", f);
    if (status.dwCurrentState != SERVICE_STOPPED) {
        DWORD state = 0;
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return report("remove", f);
        std::printf("%s: stopped\n", kmd::narrow(name).c_str());
    }
    if (Failure f = kmd::delete_service(service.get())) return report("remove", f);
    service.reset();
    // DeleteService only marks the service; it goes once the last handle to it closes. Check.
    kmd::ScHandle again;
    Failure gone = kmd::open_service(scm.get(), name, again, SERVICE_QUERY_STATUS);
    if (!gone)
        std::printf("%s: marked for deletion (another program still holds a handle to it; it goes when that closes)\n",
                    kmd::narrow(name).c_str());
    else
        std::printf("%s: removed\n", kmd::narrow(name).c_str());
    return kExitOk;
}

std::string json_escape(const std::string& s)
{
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out += '\\';
        out += c;
    }
    return out;
}

int cmd_status(const Args& a)
{
    kmd::ScHandle scm, service;
    std::wstring name;
    if (Failure f = open_named(a, scm, service, name)) return report("status", f);
    SERVICE_STATUS_PROCESS status{};
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_status(service.get(), status)) return report("status", f);
    if (Failure f = kmd::query_config(service.get(), config)) return report("status", f);
    const std::string n = kmd::narrow(name), image = kmd::narrow(config.image_path);
    if (has(a, "--json")) {
        std::printf("{\"name\": \"%s\", \"state\": \"%s\", \"type\": \"%s\", \"start_type\": \"%s\", \"image_path\": \"%s\", "
                    "\"win32_exit_code\": %lu}\n",
                    json_escape(n).c_str(), kmd::state_name(status.dwCurrentState), kmd::type_name(status.dwServiceType),
                    kmd::start_type_name(config.start_type), json_escape(image).c_str(),
                    static_cast<unsigned long>(status.dwWin32ExitCode));
        return kExitOk;
    }
    std::printf("SERVICE_NAME: %s\n", n.c_str());
    std::printf("        TYPE               : %-4lx %s\n", static_cast<unsigned long>(status.dwServiceType),
                kmd::type_name(status.dwServiceType));
    std::printf("        STATE              : %-4lu %s\n", static_cast<unsigned long>(status.dwCurrentState),
                kmd::state_name(status.dwCurrentState));
    std::printf("        START_TYPE         : %-4lu %s\n", static_cast<unsigned long>(config.start_type),
                kmd::start_type_name(config.start_type));
    std::printf("        WIN32_EXIT_CODE    : %lu\n", static_cast<unsigned long>(status.dwWin32ExitCode));
    std::printf("        BINARY_PATH_NAME   : %s\n", image.c_str());
    return kExitOk;
}

int cmd_list(const Args&)
{
    kmd::ScHandle scm;
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_ENUMERATE_SERVICE)) return report("list", f);
    DWORD needed = 0, count = 0, resume = 0;
    EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_STATE_ALL, nullptr, 0, &needed, &count, &resume,
                          nullptr);
    std::vector<unsigned char> buffer(needed + 1024);
    resume = 0;
    if (!EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_STATE_ALL, buffer.data(),
                               static_cast<DWORD>(buffer.size()), &needed, &count, &resume, nullptr))
        return report("list", Failure{"EnumServicesStatusEx", GetLastError()});
    const auto* entries = reinterpret_cast<const ENUM_SERVICE_STATUS_PROCESSW*>(buffer.data());
    std::printf("%-24s %-14s %s\n", "NAME", "STATE", "DISPLAY NAME");
    for (DWORD i = 0; i < count; ++i)
        std::printf("%-24s %-14s %s\n", kmd::narrow(entries[i].lpServiceName).c_str(),
                    kmd::state_name(entries[i].ServiceStatusProcess.dwCurrentState),
                    kmd::narrow(entries[i].lpDisplayName).c_str());
    return kExitOk;
}

// ---------------------------------------------------------------- talking to the device

int cmd_hello(const Args& a)
{
    kmd::FileHandle device;
    if (Failure f = kmd::open_device(device_path_of(a), device)) return report("hello", f);
    std::string greeting;
    if (Failure f = kmd::say_hello(device.get(), greeting)) return report("hello", f);
    std::printf("%s\n", greeting.c_str());
    std::fflush(stdout);
    if (has(a, "--gui")) MessageBoxA(nullptr, greeting.c_str(), "Skeleton KMD says", MB_OK | MB_ICONINFORMATION);
    return kExitOk;
}

int cmd_ioctl(const Args& a)
{
    if (a.positional.size() != 1) return usage_error("ioctl", "expects one IOCTL code");
    const auto code = kmd::parse_u32(a.positional[0]);
    if (!code) return usage_error("ioctl", "'" + a.positional[0] + "' is not a number (decimal, or hex with 0x)");
    std::vector<unsigned char> in;
    if (has(a, "--in") && has(a, "--in-file")) return usage_error("ioctl", "give --in or --in-file, not both");
    if (has(a, "--in")) {
        auto bytes = kmd::parse_hex_bytes(option_or(a, "--in", ""));
        if (!bytes) return usage_error("ioctl", "--in takes hex bytes, e.g. \"48 65 6c 6c 6f\"");
        in = std::move(*bytes);
    } else if (has(a, "--in-file")) {
        std::ifstream file(option_or(a, "--in-file", ""), std::ios::binary);
        if (!file) return report("ioctl", Failure{"opening " + option_or(a, "--in-file", ""), ERROR_FILE_NOT_FOUND});
        in.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    const auto out_size = kmd::parse_u32(option_or(a, "--out-size", "256"));
    if (!out_size || *out_size > 64u * 1024 * 1024) return usage_error("ioctl", "--out-size takes a byte count up to 64 MiB");

    kmd::FileHandle device;
    if (Failure f = kmd::open_device(device_path_of(a), device)) return report("ioctl", f);
    std::vector<unsigned char> out(*out_size);
    Failure f = kmd::device_io_control(device.get(), *code, in, out);
    std::printf("Information: %zu bytes\n", out.size());
    std::fputs(kmd::hex_dump(out.data(), out.size()).c_str(), stdout);
    if (f) {
        std::printf("status: error %lu (%s)\n", static_cast<unsigned long>(f.error), kmd::error_text(f.error).c_str());
        return kExitFailed;
    }
    std::printf("status: success\n");
    return kExitOk;
}

// ---------------------------------------------------------------- IOCTL arithmetic

void print_decoded(uint32_t code)
{
    const auto c = skeleton::IoctlCode::decode(code);
    const char* device = kmd::device_type_name(c.device_type);
    std::printf("code        : 0x%08lx\n", static_cast<unsigned long>(code));
    std::printf("device type : 0x%04x %s%s(%s)\n", c.device_type, device != nullptr ? device : "", device != nullptr ? " " : "",
                c.is_custom_device() ? "customer range" : "Microsoft range");
    std::printf("function    : 0x%03x (%s)\n", c.function, c.is_custom_function() ? "customer range" : "Microsoft range");
    std::printf("method      : %u %s\n", static_cast<unsigned>(c.method), kmd::method_name(static_cast<uint32_t>(c.method)));
    std::printf("access      : %u %s\n", c.access, kmd::access_name(c.access));
    std::printf("CTL_CODE(0x%04x, 0x%03x, %s, %s)\n", c.device_type, c.function, kmd::method_name(static_cast<uint32_t>(c.method)),
                kmd::access_name(c.access));
}

int cmd_decode(const Args& a)
{
    if (a.positional.size() != 1) return usage_error("decode", "expects one IOCTL code");
    const auto code = kmd::parse_u32(a.positional[0]);
    if (!code) return usage_error("decode", "'" + a.positional[0] + "' is not a number (decimal, or hex with 0x)");
    print_decoded(*code);
    return kExitOk;
}

int cmd_encode(const Args& a)
{
    if (a.positional.size() != 4) return usage_error("encode", "expects <devtype> <function> <method> <access>");
    const auto device = kmd::parse_device_type(a.positional[0]);
    const auto function = kmd::parse_u32(a.positional[1]);
    const auto method = kmd::parse_method(a.positional[2]);
    const auto access = kmd::parse_access(a.positional[3]);
    if (!device) return usage_error("encode", "device type: a FILE_DEVICE_* name or a number up to 0xFFFF");
    if (!function || *function > 0xFFF) return usage_error("encode", "function: a number up to 0xFFF");
    if (!method) return usage_error("encode", "method: BUFFERED, IN_DIRECT, OUT_DIRECT, NEITHER or 0..3");
    if (!access) return usage_error("encode", "access: ANY_ACCESS, READ_ACCESS, WRITE_ACCESS, READ_WRITE_ACCESS or 0..3");
    const skeleton::IoctlCode c{*device, *access, *function, static_cast<skeleton::TransferMethod>(*method)};
    print_decoded(static_cast<uint32_t>(c.value()));
    return kExitOk;
}

// ---------------------------------------------------------------- verb table

const Verb kVerbs[] = {
    {"run", "run <file.sys> [--name N] [--device D] [--force] [--cleanup]",
     "The seed's loader: OpenSCManager, CreateService, OpenService, StartService, CreateFile +\n"
     "DeviceIoControl(SAY_HELLO), ControlService(STOP), DeleteService + CloseServiceHandle.\n"
     "A service that already exists is used and left installed; one already running is left running;\n"
     "--cleanup stops and deletes it anyway. On any failure, what this command did is undone.\n"
     "--force points an existing service with another image path at this file.",
     cmd_run},
    {"install", "install <file.sys> [--name N] [--display D] [--start demand|system|auto|disabled] [--group G] [--force]",
     "CreateService for a kernel driver with the file's full path. Same path already installed: success.\n"
     "--group sets the load order group (under Wine, drivers of one group share one host process).\n"
     "Another path: an error, unless --force reconfigures the service (ChangeServiceConfig).",
     cmd_install},
    {"start", "start [N]", "StartService: the kernel loads the driver and calls DriverEntry.", cmd_start},
    {"stop", "stop [N] [--timeout MS]", "ControlService(STOP), waiting through STOP_PENDING; prints the final state.", cmd_stop},
    {"remove", "remove [N]", "Stops the service if it runs, then DeleteService.", cmd_remove},
    {"status", "status [N] [--json]", "State, type, start type and image path, laid out like sc query.", cmd_status},
    {"list", "list", "Every kernel-driver service the SCM knows.", cmd_list},
    {"hello", "hello [--device D] [--gui]", "IOCTL_SKELETON_SAY_HELLO; prints the greeting (--gui: in a message box).", cmd_hello},
    {"ioctl", "ioctl <code> [--device D] [--in HEX | --in-file F] [--out-size N]",
     "Sends any IOCTL; prints the returned bytes, Information and the status in words.", cmd_ioctl},
    {"decode", "decode <code>", "Takes an IOCTL code apart: device type, function, method, access.", cmd_decode},
    {"encode", "encode <devtype> <function> <method> <access>", "Builds an IOCTL code, as CTL_CODE does.", cmd_encode},
    {"help", "help [verb]", "This text.", cmd_help},
};

const Verb* find_verb(const std::string& name)
{
    for (const Verb& v : kVerbs)
        if (name == v.name) return &v;
    return nullptr;
}

void print_verb_help(const Verb& v) { std::printf("usage: kmdctl %s\n\n%s\n", v.synopsis, v.help); }

int cmd_help(const Args& a)
{
    if (!a.positional.empty()) {
        if (const Verb* v = find_verb(a.positional[0])) {
            print_verb_help(*v);
            return kExitOk;
        }
        return usage_error("help", "no verb '" + a.positional[0] + "'");
    }
    std::printf("kmdctl - load, talk to and unload a legacy NT kernel-mode driver\n\nusage: kmdctl [--trace] <verb> [args]\n\n");
    for (const Verb& v : kVerbs) std::printf("  %s\n", v.synopsis);
    std::printf("\n--trace narrates every Win32 call and its result. Exit status: 0 ok, 1 failed, 2 bad usage.\n");
    return kExitOk;
}

} // namespace

int main(int argc, char** argv)
{
    int first = 1;
    while (first < argc && std::strcmp(argv[first], "--trace") == 0) {
        kmd::set_trace(true);
        ++first;
    }
    if (first >= argc) {
        cmd_help(Args{});
        return kExitUsage;
    }
    const Verb* verb = find_verb(argv[first]);
    if (verb == nullptr) {
        std::fprintf(stderr, "kmdctl: unknown verb '%s' (see 'kmdctl help')\n", argv[first]);
        return kExitUsage;
    }
    Args args;
    std::string error;
    if (!parse_args(argc, argv, first + 1, args, error)) return usage_error(verb->name, error);
    if (has(args, "--trace")) kmd::set_trace(true);
    if (has(args, "--help")) {
        print_verb_help(*verb);
        return kExitOk;
    }
    const int rc = verb->run(args);
    std::fflush(stdout);
    return rc;
}
