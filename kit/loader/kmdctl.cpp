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

#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli_parse.hpp"
#include "device.hpp"
#include "error_hints.hpp"
#include "host_health.hpp"
#include "imports_check.hpp"
#include "nt5_compat.hpp"
#include "pe_probe.hpp"
#include "scm.hpp"
#include "sweep_call.hpp"
#include "trace.hpp"
#include "win32.hpp"

namespace {

using kmd::Failure;
using Args = kmd::ParsedArgs;

// Exit status. By default: 0 ok, 1 a Win32 call failed (the error is printed), 2 bad usage.
// With --win32-exit (sc.exe's convention, for scripts that branch on the error): the Win32
// error number itself, and ERROR_INVALID_COMMAND_LINE (1639) for bad usage.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr DWORD kStopTimeoutMs = 15000;
constexpr uint32_t kDefaultOutSize = 256;
constexpr uint32_t kMaxBuffer = 64u * 1024 * 1024;
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

// ---------------------------------------------------------------- help

// One row per verb: what it accepts (checked before anything runs) and the function that does
// it. Everything a verb does goes through this table, so behaviour common to several verbs (a
// check before or after, e.g. of the driver's host process) hooks in at one place, run_verb().
struct Verb {
    const char* name;
    const char* synopsis;
    const char* help;
    kmd::CommandSpec spec;
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

// ---------------------------------------------------------------- names and files

constexpr const char* kSkeletonName = "skeleton";
constexpr const char* kSkeletonDevice = "\\\\.\\skeleton";

// --name (default: the skeleton), checked against the rules of the SCM and the object manager
// before any call, so a bad name gets a clear message instead of "error 31 (General failure.)".
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

bool name_option(const char* verb, const Args& a, std::wstring& name, int& exit_code)
{
    return checked_name(verb, a.get("--name", kSkeletonName), name, exit_code);
}

// start/stop/status/remove take the name as their argument or as --name, not both.
bool name_argument(const char* verb, const Args& a, std::wstring& name, int& exit_code)
{
    if (!a.positional.empty() && a.has("--name")) {
        exit_code = usage_error(verb, "give the service name once, as an argument or with --name");
        return false;
    }
    return checked_name(verb, a.positional.empty() ? a.get("--name", kSkeletonName) : a.positional[0], name, exit_code);
}

// --device, else the link a driver of this name conventionally creates: \\.\<name>.
std::wstring device_path_of(const Args& a, const std::wstring& name)
{
    return a.has("--device") ? kmd::widen(a.get("--device")) : L"\\\\.\\" + name;
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

// ---------------------------------------------------------------- the request to send

struct Request {
    uint32_t code = 0;
    std::string code_name; // "IOCTL_SKELETON_SAY_HELLO", or empty when given as a number
    std::vector<unsigned char> in;
    uint32_t out_size = kDefaultOutSize;
};

// The IOCTLs of kmdctl's own contract (skeleton/ioctl.h), known by name without --header.
const std::pair<const char*, uint32_t> kSkeletonIoctls[] = {
    {"IOCTL_SKELETON_SAY_HELLO", IOCTL_SKELETON_SAY_HELLO},
    {"IOCTL_SKELETON_REVERSE_BUFFERED", IOCTL_SKELETON_REVERSE_BUFFERED},
    {"IOCTL_SKELETON_VERIFY_IN_DIRECT", IOCTL_SKELETON_VERIFY_IN_DIRECT},
    {"IOCTL_SKELETON_FILL_OUT_DIRECT", IOCTL_SKELETON_FILL_OUT_DIRECT},
    {"IOCTL_SKELETON_ECHO_NEITHER", IOCTL_SKELETON_ECHO_NEITHER},
    {"IOCTL_SKELETON_DELAY_PENDING", IOCTL_SKELETON_DELAY_PENDING},
};

// A code as a number, or a name: from --header, else the header the KMD_CONTRACT environment
// variable names, else the skeleton's contract built into kmdctl.
int resolve_code(const char* verb, const Args& a, const std::string& text, Request& r)
{
    if (const auto code = kmd::parse_u32(text)) {
        r.code = *code;
        return kExitOk;
    }
    const bool looks_like_name = !text.empty() && (std::isalpha(static_cast<unsigned char>(text[0])) != 0 || text[0] == '_');
    if (!looks_like_name) return usage_error(verb, "'" + text + "' is not an IOCTL code (decimal, hex with 0x, or a name)");

    std::wstring header = kmd::widen(a.get("--header"));
    std::string where = "--header";
    if (header.empty()) {
        wchar_t env[32768];
        const DWORD n = GetEnvironmentVariableW(L"KMD_CONTRACT", env, static_cast<DWORD>(std::size(env)));
        if (n != 0 && n < std::size(env)) {
            header.assign(env, n);
            where = "KMD_CONTRACT";
        }
    }
    std::vector<std::pair<std::string, uint32_t>> known;
    if (!header.empty()) {
        std::string text_of_header;
        if (Failure f = read_whole_file("contract header (" + where + ")", header, text_of_header)) return report(verb, f);
        known = kmd::ioctls_in_header(text_of_header);
        where = kmd::narrow(header);
    } else {
        for (const auto& [n, c] : kSkeletonIoctls) known.emplace_back(n, c);
        where = "skeleton/ioctl.h (built in; --header or KMD_CONTRACT name another contract)";
    }
    for (const auto& [n, c] : known)
        if (n == text) {
            r.code = c;
            r.code_name = n;
            return kExitOk;
        }
    std::string names;
    for (const auto& [n, c] : known) names += (names.empty() ? "" : ", ") + n;
    return usage_error(verb, "no IOCTL named '" + text + "' in " + where + (names.empty() ? " (it defines none)" : " (it defines " + names + ")"));
}

// --in HEX | --in-u32 LIST | --in-u64 LIST | --in-str TEXT | --in-file F, and --out-size N.
int request_buffers(const char* verb, const Args& a, Request& r)
{
    static const char* const kInputs[] = {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file"};
    const char* chosen = nullptr;
    for (const char* option : kInputs) {
        if (!a.has(option)) continue;
        if (chosen != nullptr) return usage_error(verb, std::string("give one input option, not ") + chosen + " and " + option);
        chosen = option;
    }
    const std::string value = chosen != nullptr ? a.get(chosen) : std::string();
    std::optional<std::vector<unsigned char>> bytes;
    if (chosen == nullptr) {
        bytes.emplace();
    } else if (std::strcmp(chosen, "--in") == 0) {
        if (!(bytes = kmd::parse_hex_bytes(value))) return usage_error(verb, "--in takes hex bytes, e.g. \"48 65 6c 6c 6f\"");
    } else if (std::strcmp(chosen, "--in-u32") == 0) {
        if (!(bytes = kmd::parse_u32_list(value))) return usage_error(verb, "--in-u32 takes numbers up to 0xFFFFFFFF separated by commas, e.g. 2,40");
    } else if (std::strcmp(chosen, "--in-u64") == 0) {
        if (!(bytes = kmd::parse_u64_list(value))) return usage_error(verb, "--in-u64 takes 64-bit numbers separated by commas");
    } else if (std::strcmp(chosen, "--in-str") == 0) {
        bytes.emplace(value.begin(), value.end()); // the UTF-8 bytes, no terminating NUL
    } else {
        std::string content;
        if (Failure f = read_whole_file("--in-file", kmd::widen(value), content)) return report(verb, f);
        bytes.emplace(content.begin(), content.end());
    }
    if (bytes->size() > kMaxBuffer) return usage_error(verb, "the input is larger than 64 MiB");
    r.in = std::move(*bytes);
    const auto out_size = kmd::parse_u32(a.get("--out-size", std::to_string(kDefaultOutSize)));
    if (!out_size || *out_size > kMaxBuffer) return usage_error(verb, "--out-size takes a byte count up to 64 MiB");
    r.out_size = *out_size;
    return kExitOk;
}

std::string request_label(const Request& r)
{
    char code[16];
    std::snprintf(code, sizeof code, "0x%08lx", static_cast<unsigned long>(r.code));
    return r.code_name.empty() ? std::string(code) : r.code_name + " = " + code;
}

// Sends the request; prints Information, the bytes and the status in words.
Failure send_request(HANDLE device, const Request& r, const char* indent)
{
    std::vector<unsigned char> out(r.out_size);
    Failure f = kmd::device_io_control(device, r.code, r.in, out);
    std::printf("%sInformation: %zu bytes\n", indent, out.size());
    std::string dump = kmd::hex_dump(out.data(), out.size());
    for (size_t at = 0; at < dump.size();) {
        const size_t nl = dump.find('\n', at);
        std::printf("%s%s\n", indent, dump.substr(at, nl - at).c_str());
        at = nl + 1;
    }
    if (f)
        std::printf("%sstatus: error %lu (%s)\n", indent, static_cast<unsigned long>(f.error), kmd::error_text(f.error).c_str());
    else
        std::printf("%sstatus: success\n", indent);
    return f;
}

// ---------------------------------------------------------------- run: the seed's seven steps

// Every access `run` needs on the service, and no more: it creates, configures (--force), starts,
// queries, stops and deletes.
constexpr DWORD kRunServiceAccess =
    SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG | SERVICE_START | SERVICE_STOP | DELETE;

// Undoes what `run` did, in reverse, on every way out: put back an image path that --force
// changed, stop only a service this run started, delete only a service this run created (or one
// that --cleanup took over after checking that it runs this very file).
class RunUndo {
public:
    explicit RunUndo(const std::wstring& name) : name_(kmd::narrow(name)) {}
    RunUndo(const RunUndo&) = delete;
    RunUndo& operator=(const RunUndo&) = delete;
    ~RunUndo()
    {
        if (service_ == nullptr) return;
        if (started_) {
            DWORD state = 0;
            if (Failure f = kmd::stop_service(service_, kStopTimeoutMs, state))
                std::printf("      undo: could not stop %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: stopped %s\n", name_.c_str());
        }
        if (!old_image_path_.empty()) {
            if (Failure f = kmd::change_config(service_, old_image_path_))
                std::printf("      undo: could not restore the image path of %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: image path of %s restored to %s\n", name_.c_str(), kmd::narrow(old_image_path_).c_str());
        }
        if (delete_) {
            if (Failure f = kmd::delete_service(service_))
                std::printf("      undo: could not delete %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: deleted service %s\n", name_.c_str());
        }
    }
    void track(SC_HANDLE service) { service_ = service; }
    void will_delete() { delete_ = true; }
    void started() { started_ = true; }
    // The normal path did the stop/delete/restore itself.
    void stopped() { started_ = false; }
    void deleted() { delete_ = false; }
    void restored() { old_image_path_.clear(); }
    bool has_started() const { return started_; }
    bool will_delete_service() const { return delete_; }
    const std::wstring& old_image_path() const { return old_image_path_; }
    // --force changed an existing service's image path: put it back if the run fails.
    void reconfigured(const std::wstring& old_image_path) { old_image_path_ = old_image_path; }
    // The run succeeded without --cleanup: a --force reconfiguration stays, as asked.
    void keep_configuration() { old_image_path_.clear(); }

private:
    std::string name_;
    SC_HANDLE service_ = nullptr;
    bool delete_ = false;
    bool started_ = false;
    std::wstring old_image_path_;
};

void step(int n, const std::string& what) { std::printf("[%d/7] %s\n", n, what.c_str()), std::fflush(stdout); }
int step_failed(int n, const Failure& f)
{
    std::printf("[%d/7] FAILED: %s\n", n, f.describe().c_str());
    std::fprintf(stderr, "kmdctl run: step %d failed: %s\n", n, f.describe().c_str());
    say_hint(f);
    return failed_exit(f.error);
}

// Step 5's request: --ioctl, --no-ioctl, or SAY_HELLO for the skeleton only (another driver
// would answer an IOCTL it does not know with an error, and the run would fail at step 5).
int run_request(const Args& a, const std::wstring& name, const std::wstring& device, std::optional<Request>& request)
{
    if (a.has("--no-ioctl")) {
        if (a.has("--ioctl")) return usage_error("run", "give --ioctl or --no-ioctl, not both");
        for (const char* option : {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file", "--out-size", "--header"})
            if (a.has(option)) return usage_error("run", std::string(option) + " describes the IOCTL to send; --no-ioctl sends none");
        return kExitOk;
    }
    Request r;
    if (a.has("--ioctl")) {
        if (int rc = resolve_code("run", a, a.get("--ioctl"), r); rc != kExitOk) return rc;
    } else {
        const bool skeleton = kmd::equal_ignoring_case(name, L"skeleton") || kmd::equal_ignoring_case(device, L"\\\\.\\skeleton");
        if (!skeleton)
            return usage_error("run", "which IOCTL should step 5 send to " + kmd::narrow(device) +
                                          "? Give --ioctl CODE [--in ...] [--out-size N], or --no-ioctl (SAY_HELLO is the "
                                          "default for the skeleton only)");
        for (const char* option : {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file", "--out-size", "--header"})
            if (a.has(option)) return usage_error("run", std::string(option) + " goes with --ioctl");
        r.code = IOCTL_SKELETON_SAY_HELLO;
        r.code_name = "IOCTL_SKELETON_SAY_HELLO";
        request = r;
        return kExitOk;
    }
    if (int rc = request_buffers("run", a, r); rc != kExitOk) return rc;
    request = r;
    return kExitOk;
}

// kmd::start_service retried a start that Wine's driver host failed (scm.hpp): say so, on
// stderr, so a log shows it happened even when the second start worked.
void say_retry(const kmd::StartRetry& retry)
{
    if (!retry.retried) return;
    std::fprintf(stderr,
                 "kmdctl: %s: Wine's driver host process (winedevice.exe) died while starting, before the driver "
                 "was loaded (DriverEntry never ran); started it once more\n",
                 retry.first.describe().c_str());
}

// A request or stop failed: if a driver host died meanwhile, say so (host_health) and stop undoing
// against a dead host; otherwise the failure stands as it was.
Failure host_crash_or(RunUndo& undo, const Failure& f, const std::wstring& link)
{
    if (kmd::report_dead_driver_hosts(stderr, link) == 0) return f;
    undo.stopped(); // ControlService would only fail with 232 against the dead host
    return Failure{f.call + " (the driver host died: see above)", f.error};
}

// Non-zero (and explained) when the service's host process is dead though the SCM says it runs:
// the error ControlService(INTERROGATE) met (232), which the verb exits with under --win32-exit.
// The check has a handle of its own with just the rights it needs, so each verb's handle keeps the
// least access for what the verb does.
DWORD host_died(SC_HANDLE scm, const std::wstring& name, const std::wstring& link = {})
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

int cmd_run(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_option("run", a, name, rc)) return rc;
    const std::wstring device_path = device_path_of(a, name);
    std::optional<Request> request;
    if (rc = run_request(a, name, device_path, request); rc != kExitOk) return rc;
    const bool cleanup = a.has("--cleanup"), force = a.has("--force");

    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("run", f);
    if (Failure f = check_driver_file(image)) return report("run", f);

    kmd::ScHandle scm, created, service;
    RunUndo undo(name); // declared after the handles it uses, so it runs before they close
    const std::string shown_name = kmd::narrow(name);

    step(1, "OpenSCManager(SC_MANAGER_CONNECT|SC_MANAGER_CREATE_SERVICE)");
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)) return step_failed(1, f);

    step(2, "CreateService(" + shown_name + ", SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, " + kmd::narrow(image) + ")");
    bool existed = false;
    if (Failure f = kmd::create_kernel_service(scm.get(), name, name, image, SERVICE_DEMAND_START, created, {}, kRunServiceAccess)) {
        if (f.error != ERROR_SERVICE_EXISTS) return step_failed(2, f);
        existed = true;
        std::printf("      the service already exists (error 1073): checking it at step 3 before using it\n");
    } else {
        undo.track(created.get());
        undo.will_delete();
    }

    step(3, "OpenService (a handle to the service; this does not load the driver yet)");
    if (Failure f = kmd::open_service(scm.get(), name, service, kRunServiceAccess)) return step_failed(3, f);
    undo.track(service.get());
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return step_failed(3, f);
    if (existed) {
        // Nothing is changed, started or deleted before this check passes: a service this run
        // refuses stays exactly as it was, --cleanup or not.
        if (config.type != SERVICE_KERNEL_DRIVER)
            return step_failed(3, Failure{"service " + shown_name + " is a " + kmd::type_name(config.type) +
                                              " service, not a kernel driver; kmdctl leaves it alone",
                                          ERROR_SERVICE_EXISTS});
        if (!kmd::same_image_path(config.image_path, image)) {
            if (!force)
                return step_failed(3, Failure{"service " + shown_name + " runs " + kmd::narrow(config.image_path) +
                                                  ", not this file; --force points it at this file for the run",
                                              ERROR_SERVICE_EXISTS});
            SERVICE_STATUS_PROCESS status{};
            if (Failure f = kmd::query_status(service.get(), status)) return step_failed(3, f);
            if (status.dwCurrentState != SERVICE_STOPPED)
                return step_failed(3, Failure{"service " + shown_name + " is " + kmd::state_name(status.dwCurrentState) +
                                                  " with its own image; stop it first (a new image path takes effect only "
                                                  "at the next start)",
                                              ERROR_SERVICE_ALREADY_RUNNING});
            if (Failure f = kmd::change_config(service.get(), image)) return step_failed(3, f);
            undo.reconfigured(config.image_path);
            std::printf("      --force: image path changed to %s (type, start type, error control unchanged)\n",
                        kmd::narrow(image).c_str());
        } else if (cleanup) {
            undo.will_delete();
            std::printf("      it runs this file: using it; --cleanup: deleting it afterwards\n");
        } else {
            std::printf("      it runs this file: using it; this command will not delete it\n");
        }
    }

    step(4, "StartService (the kernel loads the image and calls DriverEntry)");
    kmd::StartRetry retry;
    Failure started = kmd::start_service(service.get(), &retry);
    say_retry(retry);
    if (Failure f = started) {
        if (f.error != ERROR_SERVICE_ALREADY_RUNNING) {
            if (!kmd::explain_missing_imports(stderr, shown_name, image))
                kmd::explain_start_failure(stderr, shown_name, f.error, device_path);
            return step_failed(4, f);
        }
        if (cleanup && undo.will_delete_service()) {
            std::printf("      already running (error 1056): using it; --cleanup: stopping it afterwards\n");
            undo.started();
        } else {
            std::printf("      already running (error 1056): using it; this command will not stop it\n");
        }
    } else {
        undo.started();
        std::fflush(stdout);
        kmd::explain_missing_imports(stderr, shown_name, image, true);
    }

    if (request) {
        step(5, "CreateFile(" + kmd::narrow(device_path) + ") + DeviceIoControl(" + request_label(*request) + ")");
        kmd::FileHandle device;
        if (Failure f = kmd::open_device(device_path, device)) return step_failed(5, host_crash_or(undo, f, device_path));
        if (request->code == IOCTL_SKELETON_SAY_HELLO && request->code_name == "IOCTL_SKELETON_SAY_HELLO" && !a.has("--ioctl")) {
            std::string greeting;
            if (Failure f = kmd::say_hello(device.get(), greeting)) return step_failed(5, host_crash_or(undo, f, device_path));
            std::printf("      the driver says: \"%s\"\n", greeting.c_str());
        } else if (Failure f = send_request(device.get(), *request, "      ")) {
            return step_failed(5, host_crash_or(undo, f, device_path));
        }
    } else {
        step(5, "CreateFile(" + kmd::narrow(device_path) + ") (--no-ioctl: no request)");
        kmd::FileHandle device;
        if (Failure f = kmd::open_device(device_path, device)) return step_failed(5, f);
        std::printf("      the device opens\n");
    } // the device handle closes here: IRP_MJ_CLEANUP, IRP_MJ_CLOSE

    step(6, "ControlService(SERVICE_CONTROL_STOP) (the kernel calls DriverUnload)");
    if (undo.has_started()) {
        DWORD state = 0;
        const kmd::ReportMark reports = kmd::mark_crash_reports();
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return step_failed(6, host_crash_or(undo, f, device_path));
        if (kmd::report_crash_since(stderr, shown_name, reports)) {
            undo.stopped();
            return step_failed(6, Failure{"the driver host crashed during the stop", ERROR_PROCESS_ABORTED});
        }
        undo.stopped();
        std::printf("      state: %s\n", kmd::state_name(state));
    } else {
        // Say what is so now, not what was assumed: another program may have stopped it meanwhile.
        SERVICE_STATUS_PROCESS status{};
        if (Failure f = kmd::query_status(service.get(), status))
            std::printf("      skipped: the driver was running before this command (its state now: unknown, %s)\n",
                        f.describe().c_str());
        else
            std::printf("      skipped: the driver was running before this command, so this command does not stop it "
                        "(state now: %s)\n",
                        kmd::state_name(status.dwCurrentState));
    }

    if (!cleanup) undo.keep_configuration();
    step(7, "DeleteService + CloseServiceHandle");
    if (undo.will_delete_service()) {
        if (Failure f = kmd::delete_service(service.get())) return step_failed(7, f);
        undo.deleted();
        std::printf("      service %s deleted\n", shown_name.c_str());
    } else {
        if (!undo.old_image_path().empty()) {
            // --force with --cleanup: the service was someone else's; give it back as it was.
            if (Failure f = kmd::change_config(service.get(), undo.old_image_path())) return step_failed(7, f);
            std::printf("      --cleanup: image path of %s restored to %s\n", shown_name.c_str(),
                        kmd::narrow(undo.old_image_path()).c_str());
            undo.restored();
        }
        if (kmd::marked_for_delete(service.get()))
            std::printf("      skipped DeleteService: the service existed before this command; another program has deleted it "
                        "meanwhile (marked for deletion)\n");
        else
            std::printf("      skipped DeleteService: the service existed before this command, so this command does not "
                        "delete it\n");
    }
    return kExitOk; // the owners close every handle (CloseServiceHandle) on the way out
}

// ---------------------------------------------------------------- one step at a time

int cmd_install(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_option("install", a, name, rc)) return rc;
    const std::wstring display = a.has("--display") ? kmd::widen(a.get("--display")) : name;
    const auto start_type = parse_start_type(a.get("--start", "demand"));
    if (!start_type) return usage_error("install", "--start takes demand, system, auto, disabled or boot");
    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("install", f);
    if (Failure f = check_driver_file(image)) return report("install", f);

    kmd::ScHandle scm, service;
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)) return report("install", f);
    const std::wstring group = kmd::widen(a.get("--group"));
    Failure created = kmd::create_kernel_service(scm.get(), name, display, image, *start_type, service, group, SERVICE_QUERY_STATUS);
    const std::string shown = kmd::narrow(name);
    if (!created) {
        std::printf("installed %s -> %s\n", shown.c_str(), kmd::narrow(image).c_str());
        return kExitOk;
    }
    if (created.error != ERROR_SERVICE_EXISTS) return report("install", created);

    if (Failure f = kmd::open_service(scm.get(), name, service, SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG)) return report("install", f);
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return report("install", f);
    if (config.type != SERVICE_KERNEL_DRIVER)
        return report("install", Failure{"service " + shown + " exists and is a " + kmd::type_name(config.type) +
                                             " service, not a kernel driver; kmdctl leaves it alone",
                                         ERROR_SERVICE_EXISTS});
    if (kmd::same_image_path(config.image_path, image)) {
        std::printf("%s is already installed with this image path (%s)\n", shown.c_str(), kmd::narrow(config.image_path).c_str());
        return kExitOk;
    }
    if (!a.has("--force"))
        return report("install", Failure{"service " + shown + " already exists with another image path: " +
                                             kmd::narrow(config.image_path) + " (--force points it at " + kmd::narrow(image) + ")",
                                         ERROR_SERVICE_EXISTS});
    // Only the image path, and the start type when --start says so: the rest stays as it was.
    if (Failure f = kmd::change_config(service.get(), image, a.has("--start") ? *start_type : SERVICE_NO_CHANGE))
        return report("install", f);
    std::printf("reconfigured %s -> %s (was %s)\n", shown.c_str(), kmd::narrow(image).c_str(), kmd::narrow(config.image_path).c_str());
    return kExitOk;
}

// Opens the named service with `access` (and the manager with SC_MANAGER_CONNECT only).
Failure open_named(const std::wstring& name, DWORD access, kmd::ScHandle& scm, kmd::ScHandle& service)
{
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT)) return f;
    return kmd::open_service(scm.get(), name, service, access);
}

int cmd_start(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_argument("start", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    // SERVICE_START, SERVICE_QUERY_STATUS to print the state the start led to, and SERVICE_QUERY_CONFIG:
    // under Wine the kit reads the service's group to load its host shim first (wine_host.hpp).
    if (Failure f = open_named(name, SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, scm, service))
        return report("start", f);
    kmd::StartRetry retry;
    Failure started = kmd::start_service(service.get(), &retry);
    say_retry(retry);
    if (Failure f = started) {
        if (f.error == ERROR_SERVICE_ALREADY_RUNNING)
            if (const DWORD dead = host_died(scm.get(), name)) return failed_exit(dead);
        kmd::ServiceConfig config;
        if (kmd::query_config(service.get(), config) || !kmd::explain_missing_imports(stderr, kmd::narrow(name), config.image_path))
            kmd::explain_start_failure(stderr, kmd::narrow(name), f.error,
                                       std::wstring(L"\\\\.\\") + name); // the usual link: \\.\NAME
        return report("start", f);
    }
    // The state the start settled in, not START_PENDING: RUNNING, or STOPPED if it went down again.
    DWORD state = 0;
    if (Failure f = kmd::wait_while_starting(service.get(), kStopTimeoutMs, state)) return report("start", f);
    std::printf("%s: %s\n", kmd::narrow(name).c_str(), kmd::state_name(state));
    std::fflush(stdout);
    if (state == SERVICE_RUNNING) {
        kmd::ServiceConfig config;
        if (!kmd::query_config(service.get(), config)) kmd::explain_missing_imports(stderr, kmd::narrow(name), config.image_path, true);
        return kExitOk;
    }
    return report("start", Failure{"StartService succeeded, but the service is " + std::string(kmd::state_name(state)) + " now",
                               ERROR_SERVICE_NOT_ACTIVE});
}

int cmd_stop(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_argument("stop", a, name, rc)) return rc;
    const auto timeout = kmd::parse_u32(a.get("--timeout", std::to_string(kStopTimeoutMs)));
    if (!timeout) return usage_error("stop", "--timeout takes milliseconds");
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_STOP | SERVICE_QUERY_STATUS, scm, service)) return report("stop", f);
    if (const DWORD dead = host_died(scm.get(), name)) return failed_exit(dead); // never "STOPPED" over a dead host
    DWORD state = 0;
    const kmd::ReportMark reports = kmd::mark_crash_reports();
    if (Failure f = kmd::stop_service(service.get(), *timeout, state)) {
        std::fprintf(stderr, "kmdctl stop: %s (state now %s)\n", f.describe().c_str(), kmd::state_name(state));
        host_died(scm.get(), name);
        return failed_exit(f.error);
    }
    if (kmd::report_crash_since(stderr, kmd::narrow(name), reports)) return failed_exit(ERROR_PROCESS_ABORTED);
    std::printf("%s: %s\n", kmd::narrow(name).c_str(), kmd::state_name(state));
    return kExitOk;
}

int cmd_remove(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_argument("remove", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, scm, service)) return report("remove", f);
    const std::string shown = kmd::narrow(name);
    SERVICE_STATUS_PROCESS status{};
    if (Failure f = kmd::query_status(service.get(), status)) return report("remove", f);
    const DWORD dead_host = host_died(scm.get(), name);
    bool crashed_on_stop = false;
    if (status.dwCurrentState != SERVICE_STOPPED && dead_host == 0) {
        DWORD state = 0;
        const kmd::ReportMark reports = kmd::mark_crash_reports();
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return report("remove", f);
        if (kmd::report_crash_since(stderr, shown, reports)) crashed_on_stop = true;
        else std::printf("%s: stopped\n", shown.c_str());
    }
    if (Failure f = kmd::delete_service(service.get())) return report("remove", f);
    service.reset();
    // DeleteService only marks the service; it goes once the last handle to it closes. Check.
    kmd::ScHandle again;
    if (!kmd::open_service(scm.get(), name, again, SERVICE_QUERY_STATUS))
        std::printf("%s: marked for deletion (another program still holds a handle to it; it goes when that closes)\n", shown.c_str());
    else
        std::printf("%s: removed\n", shown.c_str());
    if (dead_host != 0) return failed_exit(dead_host); // removed, but a dead host is not a success
    return crashed_on_stop ? failed_exit(ERROR_PROCESS_ABORTED) : kExitOk;
}

int cmd_status(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_argument("status", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, scm, service)) return report("status", f);
    SERVICE_STATUS_PROCESS status{};
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_status(service.get(), status)) return report("status", f);
    if (Failure f = kmd::query_config(service.get(), config)) return report("status", f);
    const std::string n = kmd::narrow(name), image = kmd::narrow(config.image_path);
    kmd::HostState host;
    bool asked = false;
    if (kmd::ScHandle ask; !kmd::open_service(scm.get(), name, ask, SERVICE_INTERROGATE)) host = kmd::host_of(ask.get(), status), asked = true;
    // Over a dead host the state is HOST_DEAD, never the SCM's RUNNING (which Wine keeps saying):
    // "scm_state" keeps what the SCM said. docs/kmdctl.md lists the keys.
    const char* state = host.dead ? "HOST_DEAD" : kmd::state_name(status.dwCurrentState);
    const char* host_word = host.dead ? "dead" : !kmd::hosted_state(status.dwCurrentState) ? "none" : asked ? "answers" : "unknown";
    const DWORD dead_exit = host.error != ERROR_SUCCESS ? host.error : static_cast<DWORD>(ERROR_PROCESS_ABORTED);
    const kmd::HostDeath d = host.dead ? kmd::why_host_died(kmd::image_file_name(config.image_path)) : kmd::HostDeath{};
    if (a.has("--json")) {
        std::string death;
        if (host.dead) {
            death = ", \"host_error\": " + std::to_string(host.error) + ", \"host_end\": \"" + kmd::host_end_name(d.how) + "\"";
            if (d.pid != 0) death += ", \"host_pid\": " + std::to_string(d.pid) + ", \"host_exit_code\": " + std::to_string(d.exit_code);
            if (d.report.found) death += ", \"exception\": \"" + kmd::json_escape(d.report.exception) + "\"";
        }
        std::printf("{\"name\": \"%s\", \"state\": \"%s\", \"scm_state\": \"%s\", \"type\": \"%s\", \"start_type\": \"%s\", "
                    "\"image_path\": \"%s\", \"win32_exit_code\": %lu, \"host\": \"%s\"%s}\n",
                    kmd::json_escape(n).c_str(), state, kmd::state_name(status.dwCurrentState), kmd::type_name(status.dwServiceType),
                    kmd::start_type_name(config.start_type), kmd::json_escape(image).c_str(),
                    static_cast<unsigned long>(status.dwWin32ExitCode), host_word,
                    death.c_str());
        if (!host.dead) return kExitOk;
        std::fflush(stdout);
        kmd::explain_dead_host(stderr, n, config.image_path, host, {}, &d); // the words, as the text form gives them
        return failed_exit(dead_exit);
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
    if (!host.dead) return kExitOk;
    std::printf("        HOST               : DEAD (%s; see below)\n", kmd::host_end_name(d.how));
    std::fflush(stdout);
    kmd::explain_dead_host(stderr, n, config.image_path, host, {}, &d);
    return failed_exit(dead_exit);
}

// Every driver service and its state; over a dead host HOST_DEAD, never the SCM's RUNNING, with
// one line on stderr for each (`status NAME` tells the rest). Listing worked: exit 0 all the same.
int cmd_list(const Args&)
{
    kmd::ScHandle scm;
    // ENUMERATE_SERVICE for the list, CONNECT for the OpenService(SERVICE_INTERROGATE) of each running one.
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE)) return report("list", f);
    std::vector<kmd::ServiceEntry> services;
    if (Failure f = kmd::list_driver_services(scm.get(), services)) return report("list", f);
    std::vector<std::string> dead;
    std::printf("%-24s %-14s %s\n", "NAME", "STATE", "DISPLAY NAME");
    for (const kmd::ServiceEntry& s : services) {
        kmd::HostState host;
        if (kmd::hosted_state(s.state)) {
            SERVICE_STATUS_PROCESS status{};
            status.dwCurrentState = s.state;
            if (kmd::ScHandle ask; !kmd::open_service(scm.get(), s.name, ask, SERVICE_INTERROGATE)) host = kmd::host_of(ask.get(), status);
        }
        if (host.dead) dead.push_back(kmd::narrow(s.name));
        std::printf("%-24s %-14s %s\n", kmd::narrow(s.name).c_str(), host.dead ? "HOST_DEAD" : kmd::state_name(s.state),
                    kmd::narrow(s.display_name).c_str());
    }
    std::fflush(stdout);
    for (const std::string& name : dead)
        std::fprintf(stderr, "kmdctl list: %s: HOST_DEAD: the SCM says RUNNING, but its driver host (winedevice.exe) has died; "
                             "`kmdctl status %s` says how\n",
                     name.c_str(), name.c_str());
    return kExitOk;
}

// ---------------------------------------------------------------- talking to the device

int cmd_hello(const Args& a)
{
    kmd::FileHandle device;
    const std::wstring path = a.has("--device") ? kmd::widen(a.get("--device")) : kmd::widen(kSkeletonDevice);
    if (Failure f = kmd::open_device(path, device)) {
        kmd::report_dead_driver_hosts(stderr, path); // a dead host's device no longer opens
        return report("hello", f);
    }
    std::string greeting;
    if (Failure f = kmd::say_hello(device.get(), greeting)) {
        kmd::report_dead_driver_hosts(stderr, path);
        return report("hello", f);
    }
    std::printf("%s\n", greeting.c_str());
    std::fflush(stdout);
    if (a.has("--gui")) MessageBoxW(nullptr, kmd::widen(greeting).c_str(), L"Skeleton KMD says", MB_OK | MB_ICONINFORMATION);
    return kExitOk;
}

int cmd_ioctl(const Args& a)
{
    Request r;
    if (int rc = resolve_code("ioctl", a, a.positional[0], r); rc != kExitOk) return rc;
    if (int rc = request_buffers("ioctl", a, r); rc != kExitOk) return rc;
    kmd::FileHandle device;
    const std::wstring path = a.has("--device") ? kmd::widen(a.get("--device")) : kmd::widen(kSkeletonDevice);
    if (Failure f = kmd::open_device(path, device)) {
        kmd::report_dead_driver_hosts(stderr, path); // a dead host's device no longer opens
        return report("ioctl", f);
    }
    if (!r.code_name.empty()) std::printf("%s\n", request_label(r).c_str());
    if (Failure f = send_request(device.get(), r, "")) {
        std::fflush(stdout);
        kmd::report_dead_driver_hosts(stderr, path);
        return failed_exit(f.error);
    }
    return kExitOk;
}

// ---------------------------------------------------------------- imports

// What of the driver's imports this system runs: implemented, stub (Wine's spec says so: a call
// raises EXCEPTION_WINE_STUB), missing (the driver does not load). Exit 1 if any is missing.
int cmd_imports(const Args& a)
{
    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("imports", f);
    const kmd::ImportsReport r = kmd::check_imports(image);
    if (!r.ok) return report("imports", Failure{kmd::narrow(image) + ": " + r.problem, ERROR_BAD_EXE_FORMAT});
    std::printf("%s: %zu imports, checked against %s\n", kmd::narrow(image).c_str(), r.imports.size(), r.runtime.c_str());
    for (const kmd::CheckedImport& c : r.imports) {
        const std::string what = c.import.name.empty() ? "#" + std::to_string(c.import.ordinal) : c.import.name;
        std::printf("  %-12s %s!%s%s%s%s\n", kmd::import_state_name(c.state), c.import.module.c_str(), what.c_str(),
                    c.why.empty() ? "" : " (", c.why.c_str(), c.why.empty() ? "" : ")");
    }
    std::printf("%zu implemented, %zu stub, %zu missing%s\n", r.count(kmd::ImportState::implemented), r.count(kmd::ImportState::stub),
                r.count(kmd::ImportState::missing),
                r.count(kmd::ImportState::missing) ? ": a missing module fails the load; a missing export fails it on Windows, and under "
                                                     "Wine the first call to it raises EXCEPTION_WINE_STUB"
                : r.count(kmd::ImportState::stub) ? ": it loads; a call to a stub raises EXCEPTION_WINE_STUB (0x80000100)" : "");
    std::fflush(stdout);
    return r.count(kmd::ImportState::missing) ? kExitFailed : kExitOk;
}

// ---------------------------------------------------------------- sweep

// Finds the IOCTL codes a device answers: every function of --functions (default the customer
// range 0x800-0xfff) x the four methods x the four access values, for the device type --type
// (default FILE_DEVICE_UNKNOWN), sent with no buffers; a code answered with anything but "invalid
// function" (STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_IMPLEMENTED) or "not supported" is live.
// Each live code is then sent the exercise set (sweep_call.hpp): input and output of 0, 16, 4096
// and 1 MiB bytes (the input filled from --seed), buffers ending at a guard page, bad and kernel
// pointers. Requests go out overlapped: one still pending after --pend-ms (default 100) is
// cancelled and must then complete. One line per live code and per call, each call with the
// --call spec that replays it alone; a dead host or a request the driver never completes ends it.
namespace {

// "call CODE in=N out=M error=E returned=R [pended=cancelled] spec=SPEC"; false: stop the sweep.
bool sweep_one(HANDLE device, const std::wstring& path, const kmd::CallSpec& spec, DWORD pend_ms)
{
    const kmd::CallResult r = kmd::send_call(device, spec, pend_ms);
    const std::string text = kmd::call_spec_text(spec);
    std::printf("call 0x%08lx in=%lu out=%lu error=%lu returned=%lu%s spec=%s\n", static_cast<unsigned long>(spec.code),
                static_cast<unsigned long>(spec.in_size), static_cast<unsigned long>(spec.out_size), static_cast<unsigned long>(r.error),
                static_cast<unsigned long>(r.returned), r.pended ? " pended=cancelled" : "", text.c_str());
    std::fflush(stdout);
    if (r.stuck) {
        std::printf("stuck at %s (pending %lu ms, then not completed 2 s after CancelIo)\n", text.c_str(), static_cast<unsigned long>(pend_ms));
        return false;
    }
    if (r.error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
        std::printf("host died at %s\n", text.c_str());
        return false;
    }
    return true;
}

} // namespace

int cmd_sweep(const Args& a)
{
    const std::wstring path = kmd::widen(a.positional[0]);
    const auto type = kmd::parse_u32(a.get("--type", "0x22"));
    const std::string range = a.get("--functions", "0x800-0xfff");
    const size_t dash = range.find('-');
    const auto first = kmd::parse_u32(range.substr(0, dash));
    const auto last = dash == std::string::npos ? first : kmd::parse_u32(range.substr(dash + 1));
    const auto seed = kmd::parse_u32(a.get("--seed", "1"));
    const auto pend_ms = kmd::parse_u32(a.get("--pend-ms", "100"));
    const std::optional<kmd::CallSpec> only = a.has("--call") ? kmd::parse_call_spec(a.get("--call")) : std::nullopt;
    if (!type || *type > 0xffff) return usage_error("sweep", "--type takes a device type, 0-0xffff");
    if (!first || !last || *first > *last || *last > 0xfff) return usage_error("sweep", "--functions takes A-B, within 0-0xfff");
    if (!seed) return usage_error("sweep", "--seed takes a number");
    if (!pend_ms) return usage_error("sweep", "--pend-ms takes milliseconds");
    if (a.has("--call") && !only)
        return usage_error("sweep", "--call takes CODE[,in=N][,out=N][,guard|,bad-in|,bad-out|,kernel-in|,kernel-out]");
    kmd::FileHandle device(CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr));
    if (!device) {
        const DWORD error = GetLastError();
        kmd::report_dead_driver_hosts(stderr, path);
        return report("sweep", Failure{"CreateFile(" + kmd::narrow(path) + ")", error});
    }
    kmd::seed_input(*seed);
    if (only) return sweep_one(device.get(), path, *only, *pend_ms) ? kExitOk : kExitFailed;
    std::vector<uint32_t> live;
    unsigned long sent = 0;
    for (uint32_t function = *first; function <= *last; ++function)
        for (uint32_t method = 0; method < 4; ++method)
            for (uint32_t access = 0; access < 4; ++access) {
                const uint32_t code = (*type << 16) | (access << 14) | (function << 2) | method;
                ++sent;
                const kmd::CallResult r = kmd::send_call(device.get(), kmd::CallSpec{code}, *pend_ms);
                if (r.stuck) {
                    std::printf("stuck at 0x%08lx,in=0,out=0 (pending %lu ms, then not completed 2 s after CancelIo)\n",
                                static_cast<unsigned long>(code), static_cast<unsigned long>(*pend_ms));
                    return kExitFailed;
                }
                if (r.error == ERROR_INVALID_FUNCTION || r.error == ERROR_NOT_SUPPORTED) continue;
                std::printf("live 0x%08lx error=%lu%s\n", static_cast<unsigned long>(code), static_cast<unsigned long>(r.error),
                            r.pended ? " pended=cancelled" : "");
                live.push_back(code);
                if (r.error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
                    std::printf("host died at 0x%08lx,in=0,out=0\n", static_cast<unsigned long>(code));
                    return kExitFailed;
                }
            }
    std::printf("swept %lu codes, %zu live\n", sent, live.size());
    for (const kmd::CallSpec& spec : kmd::exercise_calls(live))
        if (!sweep_one(device.get(), path, spec, *pend_ms)) return kExitFailed;
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
    Request r;
    if (int rc = resolve_code("decode", a, a.positional[0], r); rc != kExitOk) return rc;
    if (!r.code_name.empty()) std::printf("name        : %s\n", r.code_name.c_str());
    print_decoded(r.code);
    return kExitOk;
}

int cmd_encode(const Args& a)
{
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

// --help and --trace work after any verb too.
#define KMD_COMMON_OPTIONS {"--help", false}, {"--trace", false}
#define KMD_REQUEST_OPTIONS                                                                                                  \
    {"--in", true}, {"--in-u32", true}, {"--in-u64", true}, {"--in-str", true}, {"--in-file", true}, {"--out-size", true}, \
        {"--header", true}

constexpr kmd::OptionSpec kRunOptions[] = {KMD_COMMON_OPTIONS, {"--name", true},     {"--device", true}, {"--force", false},
                                           {"--cleanup", false}, {"--ioctl", true}, {"--no-ioctl", false}, KMD_REQUEST_OPTIONS};
constexpr kmd::OptionSpec kInstallOptions[] = {KMD_COMMON_OPTIONS, {"--name", true},  {"--display", true},
                                               {"--start", true},  {"--group", true}, {"--force", false}};
constexpr kmd::OptionSpec kNamedOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}};
constexpr kmd::OptionSpec kStopOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}, {"--timeout", true}};
constexpr kmd::OptionSpec kStatusOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}, {"--json", false}};
constexpr kmd::OptionSpec kCommonOptions[] = {KMD_COMMON_OPTIONS};
constexpr kmd::OptionSpec kHelloOptions[] = {KMD_COMMON_OPTIONS, {"--device", true}, {"--gui", false}};
constexpr kmd::OptionSpec kIoctlOptions[] = {KMD_COMMON_OPTIONS, {"--device", true}, KMD_REQUEST_OPTIONS};
constexpr kmd::OptionSpec kDecodeOptions[] = {KMD_COMMON_OPTIONS, {"--header", true}};
constexpr kmd::OptionSpec kSweepOptions[] = {KMD_COMMON_OPTIONS, {"--type", true}, {"--functions", true}, {"--seed", true},
                                              {"--pend-ms", true}, {"--call", true}};

const Verb kVerbs[] = {
    {"run",
     "run <file.sys> [--name N] [--device D] [--ioctl CODE [--in ...] [--out-size N] | --no-ioctl] [--force] [--cleanup]",
     "The seed's loader: OpenSCManager, CreateService, OpenService, StartService, CreateFile +\n"
     "DeviceIoControl, ControlService(STOP), DeleteService + CloseServiceHandle.\n"
     "--name N     the service (default skeleton); --device D the device to open (default \\\\.\\N).\n"
     "--ioctl CODE the request of step 5 (a number or a name, see 'ioctl'), with the input options of\n"
     "             'ioctl' and --out-size N (default 256). --no-ioctl: step 5 only opens the device.\n"
     "             Without either, step 5 sends IOCTL_SKELETON_SAY_HELLO - for the skeleton only.\n"
     "A service that already exists is used only if it is a kernel driver running this file, and is\n"
     "left installed (and running, if it was); --cleanup stops and deletes it anyway.\n"
     "--force points an existing kernel-driver service with another image path at this file: only the\n"
     "image path changes, and it is put back if the run fails (or, with --cleanup, when it ends).\n"
     "On any failure, what this command did is undone; a service it refused is never touched.",
     {kRunOptions, 1, 1}, cmd_run},
    {"install", "install <file.sys> [--name N] [--display D] [--start demand|system|auto|disabled|boot] [--group G] [--force]",
     "CreateService for a kernel driver with the file's full path. Same path already installed: success.\n"
     "--group sets the load order group (under Wine, drivers of one group share one host process).\n"
     "Another path: an error, unless --force points the service at this file (ChangeServiceConfig of the\n"
     "image path, and of the start type if --start is given; nothing else). Services that are not kernel\n"
     "drivers are refused.",
     {kInstallOptions, 1, 1}, cmd_install},
    {"start", "start [N]", "StartService: the kernel loads the driver and calls DriverEntry.", {kNamedOptions, 0, 1}, cmd_start},
    {"stop", "stop [N] [--timeout MS]",
     "ControlService(STOP), then waits through STOP_PENDING as the service's wait hint and checkpoint\n"
     "ask (also when it was stopping already), for at most --timeout ms (default 15000); prints the state.",
     {kStopOptions, 0, 1}, cmd_stop},
    {"remove", "remove [N]", "Stops the service if it runs, then DeleteService.", {kNamedOptions, 0, 1}, cmd_remove},
    {"status", "status [N] [--json]", "State, type, start type and image path, laid out like sc query.", {kStatusOptions, 0, 1},
     cmd_status},
    {"list", "list", "Every driver service the SCM knows.", {kCommonOptions, 0, 0}, cmd_list},
    {"hello", "hello [--device D] [--gui]", "IOCTL_SKELETON_SAY_HELLO; prints the greeting (--gui: in a message box).",
     {kHelloOptions, 0, 0}, cmd_hello},
    {"ioctl",
     "ioctl <code> [--device D] [--header H] [--in HEX | --in-u32 L | --in-u64 L | --in-str S | --in-file F] [--out-size N]",
     "Sends any IOCTL to --device (default \\\\.\\skeleton); prints Information, the returned bytes and the\n"
     "status in words.\n"
     "<code>       a number (0x222007) or a name: from the contract header --header H (or the file the\n"
     "             KMD_CONTRACT environment variable names), read for '#define NAME CTL_CODE(...)' and\n"
     "             look-alikes such as SKELETON_CTL_CODE; without one, the skeleton's IOCTL_SKELETON_*.\n"
     "--in HEX     bytes in hex: \"48 65 6c 6c 6f\", 48656c6c6f, 0x48,0x65\n"
     "--in-u32 L   32-bit numbers, little-endian, e.g. 2,40 (8 bytes); --in-u64 L: 64-bit ones\n"
     "--in-str S   the text's UTF-8 bytes, without a terminating NUL\n"
     "--in-file F  the file's bytes\n"
     "--out-size N the output buffer in bytes (default 256, at most 64 MiB)",
     {kIoctlOptions, 1, 1}, cmd_ioctl},
    {"imports", "imports <file.sys>",
     "Each routine the driver imports, looked up in the system in use (under Wine: Wine's own ntoskrnl.exe,\n"
     "hal.dll, ...), without loading the driver: implemented; stub (Wine's spec declares it a stub: the\n"
     "call raises EXCEPTION_WINE_STUB 0x80000100); missing (no such module: the load fails; no such export:\n"
     "the load fails on Windows, and under Wine the first call raises EXCEPTION_WINE_STUB). A routine Wine\n"
     "implements as a do-nothing FIXME shows as implemented. Exit 1 if any is missing. start and run name\n"
     "missing imports too.",
     {kCommonOptions, 1, 1}, cmd_imports},
    {"sweep", "sweep <device> [--type T] [--functions A-B] [--seed N] [--pend-ms MS] [--call SPEC]",
     "Finds the IOCTL codes <device> (\\\\.\\NAME) answers: functions A-B (default 0x800-0xfff) x the four\n"
     "methods x the four access values of device type T (default 0x22, FILE_DEVICE_UNKNOWN), sent without\n"
     "buffers; a code answered with anything but 'invalid function' or 'not supported' is live. Then sends\n"
     "each live code input and output buffers of 0, 16, 4096 and 1 MiB bytes (input from --seed, default 1),\n"
     "buffers ending at a guard page, bad (unmapped) and kernel pointers. A request still pending after\n"
     "--pend-ms (default 100) is cancelled and must complete. Prints 'live CODE error=E' and 'call CODE in=N\n"
     "out=M error=E returned=R spec=SPEC' lines; stops if the host dies or a cancelled request never\n"
     "completes. --call SPEC (CODE[,in=N][,out=N][,guard|bad-in|bad-out|kernel-in|kernel-out]) sends only\n"
     "that one request, as the sweep did: the replay of one finding.",
     {kSweepOptions, 1, 1}, cmd_sweep},
    {"decode", "decode <code> [--header H]", "Takes an IOCTL code (a number or a name) apart: device type, function, method, access.",
     {kDecodeOptions, 1, 1}, cmd_decode},
    {"encode", "encode <devtype> <function> <method> <access>", "Builds an IOCTL code, as CTL_CODE does.", {kCommonOptions, 4, 4},
     cmd_encode},
    {"help", "help [verb]", "This text.", {kCommonOptions, 0, 1}, cmd_help},
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
    std::printf("kmdctl - load, talk to and unload a legacy NT kernel-mode driver\n\n"
                "usage: kmdctl [--trace] [--win32-exit] <verb> [args]\n\n");
    for (const Verb& v : kVerbs) std::printf("  %s\n", v.synopsis);
    std::printf("\n--trace narrates every Win32 call and its result.\n"
                "Exit status: 0 ok, 1 a Win32 call failed (the error is printed), 2 bad usage; with --win32-exit,\n"
                "as sc.exe: the Win32 error number itself, 1639 (ERROR_INVALID_COMMAND_LINE) for bad usage.\n");
    return kExitOk;
}

// Parses the verb's arguments and runs it: the one place every verb passes through.
int run_verb(const Verb& verb, const std::vector<std::string>& words)
{
    for (const std::string& w : words)
        if (w == "--help") {
            print_verb_help(verb);
            return kExitOk;
        }
    Args args;
    if (auto error = kmd::parse_command_args(words, verb.spec, args)) return usage_error(verb.name, *error);
    if (args.has("--trace")) kmd::set_trace(true);
    const int rc = verb.run(args);
    std::fflush(stdout);
    return rc;
}

} // namespace

// Not wmain: the arguments are taken as UTF-16 from GetCommandLineW, which works the same with
// every mingw-w64 and MSVC setup (no -municode needed).
int main()
{
    const kmd::Utf8Console console;
    const std::vector<std::string> argv = kmd::command_line_arguments();
    size_t first = 1;
    for (; first < argv.size(); ++first) {
        if (argv[first] == "--trace")
            kmd::set_trace(true);
        else if (argv[first] == "--win32-exit")
            g_win32_exit = true;
        else
            break;
    }
    if (first >= argv.size()) {
        cmd_help(Args{});
        return g_win32_exit ? static_cast<int>(ERROR_INVALID_COMMAND_LINE) : kExitUsage;
    }
    const Verb* verb = find_verb(argv[first]);
    if (verb == nullptr) {
        std::fprintf(stderr, "kmdctl: unknown verb '%s' (see 'kmdctl help')\n", argv[first].c_str());
        return g_win32_exit ? static_cast<int>(ERROR_INVALID_COMMAND_LINE) : kExitUsage;
    }
    return run_verb(*verb, std::vector<std::string>(argv.begin() + static_cast<std::ptrdiff_t>(first) + 1, argv.end()));
}
