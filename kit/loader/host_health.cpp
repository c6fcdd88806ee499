// host_health.cpp - see host_health.hpp.
#include "host_health.hpp"

#include <cstdlib>
#include <cstring>

#include <tlhelp32.h>

#include "crash_symbols.hpp"
#include "nt5_compat.hpp"
#include "scm.hpp"
#include "trace.hpp"
#include "wine_host.hpp"

namespace kmd {

namespace {

constexpr wchar_t kAeDebugKey[] = L"Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug";

// The file a "... >>FILE 2>&1" (or ">FILE") debugger command line writes to; empty if none.
std::wstring report_file_of(const std::wstring& command)
{
    size_t at = command.find(L">>");
    if (at != std::wstring::npos) {
        at += 2;
    } else {
        at = command.find(L'>');
        if (at == std::wstring::npos || (at > 0 && command[at - 1] == L'2')) return {};
        at += 1;
    }
    while (at < command.size() && command[at] == L' ') ++at;
    size_t end = at;
    if (at < command.size() && command[at] == L'"') {
        end = command.find(L'"', ++at);
        if (end == std::wstring::npos) return {};
    } else {
        while (end < command.size() && command[end] != L' ') ++end;
    }
    return command.substr(at, end - at);
}

std::wstring aedebug_command()
{
    return read_registry_string(HKEY_LOCAL_MACHINE, kAeDebugKey, L"Debugger");
}

std::string read_text_file(const std::wstring& path)
{
    FileHandle file(CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                OPEN_EXISTING, 0, nullptr));
    if (!file) return {};
    std::string text;
    char chunk[65536];
    DWORD got = 0;
    while (ReadFile(file.get(), chunk, sizeof chunk, &got, nullptr) && got > 0) text.append(chunk, got);
    return text;
}

std::string line_at(const std::string& text, size_t at)
{
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

// The module's base from the "Modules:" table: "PE\t0000000180000000-0000000180012000\t...\tname".
unsigned long long module_base(const std::string& block, const std::string& module)
{
    size_t at = block.find("\nModules:");
    while (at != std::string::npos && !module.empty()) {
        at = block.find('\n', at + 1);
        if (at == std::string::npos) break;
        const std::string line = line_at(block, at + 1);
        if (line.rfind("PE", 0) != 0 && line.rfind("ELF", 0) != 0) {
            if (line.rfind("Module", 0) == 0) continue;
            break;
        }
        if (line.size() >= module.size() && line.compare(line.size() - module.size(), module.size(), module) == 0) {
            const size_t tab = line.find_first_of("\t ");
            return std::strtoull(line.c_str() + tab + 1, nullptr, 16);
        }
    }
    return 0;
}

// winedbg's "0000004c (D) C:\windows\system32\winedevice.exe" line: the process it was started for.
unsigned long crashed_pid(const std::string& block)
{
    const size_t d = block.find(" (D) ");
    return d != std::string::npos && d >= 8 ? std::strtoul(block.c_str() + d - 8, nullptr, 16) : 0;
}

std::string hex(unsigned long long v)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", v);
    return buffer;
}

} // namespace

bool hosted_state(DWORD state)
{
    return state == SERVICE_RUNNING || state == SERVICE_STOP_PENDING || state == SERVICE_START_PENDING ||
           state == SERVICE_PAUSED || state == SERVICE_CONTINUE_PENDING || state == SERVICE_PAUSE_PENDING;
}

HostState host_of(SC_HANDLE service, const SERVICE_STATUS_PROCESS& status)
{
    HostState h;
    if (!hosted_state(status.dwCurrentState)) return h;
    SERVICE_STATUS answer{};
    if (ControlService(service, SERVICE_CONTROL_INTERROGATE, &answer)) return h;
    h.error = GetLastError();
    // 232 ERROR_NO_DATA / 109 ERROR_BROKEN_PIPE / 233 ERROR_PIPE_NOT_CONNECTED: nobody at the other
    // end of the control pipe. (1061 is no sign: Wine's own winehid answers every INTERROGATE so.)
    h.dead = h.error == ERROR_NO_DATA || h.error == ERROR_BROKEN_PIPE || h.error == ERROR_PIPE_NOT_CONNECTED;
    return h;
}

CrashReport crash_report_for(const std::string& image)
{
    CrashReport r;
    const std::wstring file = report_file_of(aedebug_command());
    if (file.empty()) return r;
    r.path = narrow(file);
    const std::string text = read_text_file(file);
    // Reports are appended one after another; the last one whose module list names the image wins.
    if (image.empty()) return r;
    size_t start = text.size();
    std::string block;
    while ((start = start == 0 ? std::string::npos : text.rfind("Unhandled exception:", start - 1)) != std::string::npos) {
        const size_t end = text.find("Unhandled exception:", start + 1);
        block = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const size_t modules = block.find("\nModules:");
        if (modules != std::string::npos && block.find("\t" + image, modules) != std::string::npos) break;
        if (modules != std::string::npos && block.find(" " + image + "\n", modules) != std::string::npos) break;
        block.clear();
    }
    if (block.empty()) return r;
    r.found = true;
    r.pid = crashed_pid(block);
    r.exception = line_at(block, std::strlen("Unhandled exception: "));
    const Frame f = parse_first_frame(block);
    r.frame = f.text;
    // winedbg names a module without its extension ("crashme" for crashme.sys): the image's own name then.
    const std::string module = f.module.find('.') == std::string::npos && image.size() > f.module.size() &&
                                       image.compare(0, f.module.size() + 1, f.module + ".") == 0 ? image : f.module;
    if (const unsigned long long base = module_base(block, f.module); base != 0 && f.address >= base)
        r.offset = f.address - base, r.has_offset = true;
    else if (f.has_offset)
        r.offset = f.offset, r.has_offset = true;
    if (r.has_offset)
        r.where = module + "+" + hex(r.offset);
    else if (f.address != 0)
        r.where = hex(f.address) + (f.module.empty() ? "" : " in " + f.module);
    r.module = module;
    return r;
}

namespace {

unsigned long long file_size(const std::wstring& path)
{
    WIN32_FILE_ATTRIBUTE_DATA data{};
    if (!GetFileAttributesExW(path.c_str(), GetFileExInfoStandard, &data)) return 0;
    return (static_cast<unsigned long long>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
}

// A process started by a winedevice.exe: a driver host has no child but the debugger it starts
// when it crashes. (Wine 8 reports no process id for a driver service, so every host is watched.)
bool a_driver_host_started_a_debugger()
{
    const HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snapshot == INVALID_HANDLE_VALUE) return false;
    std::vector<PROCESSENTRY32W> all;
    PROCESSENTRY32W entry{};
    entry.dwSize = sizeof entry;
    for (BOOL more = Process32FirstW(snapshot, &entry); more; more = Process32NextW(snapshot, &entry)) all.push_back(entry);
    CloseHandle(snapshot);
    const auto is_host = [&](DWORD pid) {
        for (const PROCESSENTRY32W& p : all)
            if (p.th32ProcessID == pid && _wcsicmp(p.szExeFile, L"winedevice.exe") == 0) return true;
        return false;
    };
    for (const PROCESSENTRY32W& p : all)
        if (p.th32ParentProcessID != 0 && p.th32ParentProcessID != p.th32ProcessID && is_host(p.th32ParentProcessID)) return true;
    return false;
}

// How long a crash report being written is waited for, once a crash is known.
constexpr DWORD kReportMs = 8000;

} // namespace

ReportMark mark_crash_reports(const std::wstring& service)
{
    forget_unload_verdict(service);
    ReportMark m;
    m.service = service;
    const std::wstring file = report_file_of(aedebug_command());
    m.configured = !file.empty();
    if (m.configured) m.size = file_size(file);
    return m;
}

bool report_crash_since(std::FILE* out, const std::string& service, const ReportMark& before)
{
    if (!before.configured) return false;
    const std::wstring file = report_file_of(aedebug_command());
    // A crashed host starts its debugger (AeDebug's cmd.exe, its child) within milliseconds of the
    // fault; the report reaches the file 0.5-1 s later, or later still. So a debugger is watched
    // for, briefly, and once one is there its report is waited for. Outside Wine (no winedevice.exe
    // to watch) the file alone is watched, longer.
    const bool hosts_watched = running_under_wine();
    // What the shim saw at the unload: with nothing of the driver left to run, no later crash
    // can be the driver's, and only one already under way (its debugger started) is waited for.
    const std::wstring verdict = unload_verdict(before.service);
    const bool nothing_left = verdict == L"none";
    if (trace_enabled() && !verdict.empty())
        std::printf("      -> the host shim on %s's unload: %s\n", service.c_str(),
                    nothing_left ? "nothing of it can run any more (no wait for a late crash)"
                                 : ("it may still run: " + narrow(verdict) + " (watching for a late crash)").c_str());
    constexpr DWORD kNoticeMs = 500, kFileOnlyNoticeMs = 1500, kStepMs = 20;
    const DWORD notice = nothing_left ? 0 : hosts_watched ? kNoticeMs : kFileOnlyNoticeMs;
    DWORD waited = 0;
    bool debugger = false;
    while (file_size(file) == before.size) {
        debugger = debugger || (hosts_watched && a_driver_host_started_a_debugger());
        if (waited >= (debugger ? kReportMs : notice)) break;
        Sleep(kStepMs), waited += kStepMs;
    }
    if (file_size(file) == before.size && !debugger) return false;
    std::string block;
    for (waited = 0; waited < kReportMs; Sleep(kStepMs), waited += kStepMs) {
        const std::string text = read_text_file(file);
        if (text.size() <= before.size) continue;
        const std::string fresh = text.substr(before.size);
        const size_t start = fresh.find("Unhandled exception:");
        // Wait for the module list too: it comes after the backtrace.
        if (start != std::string::npos && fresh.find("\nThreads:", start) != std::string::npos) {
            block = fresh.substr(start);
            break;
        }
    }
    std::fprintf(out, "kmdctl: %s reported STOPPED, but a driver host crashed while it unloaded", service.c_str());
    if (block.empty() && file_size(file) == before.size) {
        std::fprintf(out, " (its crash debugger started, but wrote no report to %s in %lu s).\n", narrow(file).c_str(),
                     static_cast<unsigned long>(kReportMs / 1000));
    } else if (block.empty()) {
        std::fprintf(out, " (the crash debugger wrote to %s).\n", narrow(file).c_str());
    } else {
        const Frame f = parse_first_frame(block);
        std::fprintf(out, ":\n  exception : %s\n", line_at(block, std::strlen("Unhandled exception: ")).c_str());
        if (f.module.empty())
            std::fprintf(out, "  at        : 0x%llx, in no loaded module: the driver's image was already unloaded\n", f.address);
        else if (const unsigned long long base = module_base(block, f.module); base != 0 || f.has_offset)
            std::fprintf(out, "  at        : %s+%s%s%s\n", f.module.c_str(), hex(base != 0 ? f.address - base : f.offset).c_str(),
                         f.text.empty() ? "" : "  ", f.text.c_str());
        else
            std::fprintf(out, "  at        : 0x%llx in %s%s%s\n", f.address, f.module.c_str(), f.text.empty() ? "" : "  ", f.text.c_str());
        std::fprintf(out, "  full crash report: %s\n", narrow(file).c_str());
    }
    std::fprintf(out, "  A request still in flight reached the driver after DriverUnload: Wine 8 unloads a driver at once,\n"
                      "  even while programs hold its device open (docs/wine-unload-race.md). Every driver in that host\n"
                      "  died with it, and its device links stay behind: restart the session before loading it again.\n");
    return true;
}

namespace {

struct EndedProcess {
    unsigned long pid;
    DWORD exit_code;
};

bool is_winedevice(HANDLE process)
{
    // Looked up at run time: kmdctl also runs on Windows XP, which lacks it (Wine has it).
    using QueryImageName = BOOL(WINAPI*)(HANDLE, DWORD, LPWSTR, PDWORD);
    static const auto query = reinterpret_cast<QueryImageName>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "QueryFullProcessImageNameW")));
    if (query == nullptr) return false;
    wchar_t name[MAX_PATH] = {};
    DWORD size = MAX_PATH;
    if (!query(process, 0, name, &size)) return false;
    std::wstring base(name, size);
    if (const size_t slash = base.find_last_of(L"\\/"); slash != std::wstring::npos) base = base.substr(slash + 1);
    for (wchar_t& c : base) c = c >= L'A' && c <= L'Z' ? static_cast<wchar_t>(c - L'A' + L'a') : c;
    return base == L"winedevice.exe";
}

// The winedevice.exe processes of this Wine session that have ended. Wine hands out small process
// ids (multiples of 4) and reuses freed ones, so the scan stays short; it runs only under Wine,
// and only once a host is known to be dead.
std::vector<EndedProcess> ended_driver_hosts()
{
    std::vector<EndedProcess> ended;
    if (!running_under_wine()) return ended;
    constexpr unsigned long kLastPid = 0x4000;
    for (unsigned long pid = 4; pid < kLastPid; pid += 4) {
        const HANDLE process = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, pid);
        if (process == nullptr) continue;
        DWORD code = STILL_ACTIVE;
        if (GetExitCodeProcess(process, &code) && code != STILL_ACTIVE && is_winedevice(process)) ended.push_back({pid, code});
        CloseHandle(process);
    }
    return ended;
}

// Every process a report in the crash report file was written for.
std::vector<unsigned long> reported_pids()
{
    std::vector<unsigned long> pids;
    const std::wstring file = report_file_of(aedebug_command());
    if (file.empty()) return pids;
    const std::string text = read_text_file(file);
    for (size_t at = text.find("Unhandled exception:"); at != std::string::npos;) {
        const size_t next = text.find("Unhandled exception:", at + 1);
        if (const unsigned long pid = crashed_pid(text.substr(at, next == std::string::npos ? std::string::npos : next - at)))
            pids.push_back(pid);
        at = next;
    }
    return pids;
}

HostEnd end_by_exit_code(DWORD code)
{
    if (code == 0) return HostEnd::killed;
    return code >= 0xC0000000u ? HostEnd::crashed : HostEnd::exited; // an NTSTATUS error: an exception's code
}

} // namespace

std::string image_file_name(const std::wstring& image_path)
{
    const size_t slash = image_path.find_last_of(L"\\/");
    return narrow(slash == std::wstring::npos ? image_path : image_path.substr(slash + 1));
}

const char* host_end_name(HostEnd how)
{
    switch (how) {
    case HostEnd::crashed: return "crashed";
    case HostEnd::killed: return "killed";
    case HostEnd::exited: return "exited";
    default: return "unknown";
    }
}

namespace {

// A crashed host is seen dead as soon as winedbg ends it, and the report can reach its file after
// that (a debugger command that writes elsewhere first, a slow disk): wait for the report of every
// host that ended with an exception code, bounded, before calling it missing.
void wait_for_reports_of(const std::vector<EndedProcess>& ended)
{
    if (report_file_of(aedebug_command()).empty()) return; // no debugger writes reports: none will come
    constexpr DWORD kStepMs = 50;
    for (DWORD waited = 0;; Sleep(kStepMs), waited += kStepMs) {
        const std::vector<unsigned long> reported = reported_pids();
        bool missing = false;
        for (const EndedProcess& e : ended) {
            if (end_by_exit_code(e.exit_code) != HostEnd::crashed) continue;
            bool found = false;
            for (unsigned long pid : reported) found = found || pid == e.pid;
            missing = missing || !found;
        }
        if (!missing || waited >= kReportMs) return;
    }
}

} // namespace

HostDeath why_host_died(const std::string& image)
{
    HostDeath d;
    const std::vector<EndedProcess> ended = ended_driver_hosts();
    wait_for_reports_of(ended);
    d.report = crash_report_for(image);
    // A report is this host's only if its process is an ended host of this session that ended with
    // an exception code: a report from an earlier session names a pid that is gone or reused.
    if (d.report.found) {
        for (const EndedProcess& e : ended)
            if (e.pid == d.report.pid && e.exit_code != 0) {
                d.how = HostEnd::crashed, d.pid = e.pid, d.exit_code = e.exit_code;
                return d;
            }
        d.report.found = false; // an earlier host's crash, not this one's
        d.earlier_report = true;
    }
    // The ended hosts no crash report accounts for: one of them is this one.
    const std::vector<unsigned long> reported = reported_pids();
    std::vector<EndedProcess> unexplained;
    for (const EndedProcess& e : ended) {
        bool explained = false;
        for (unsigned long pid : reported) explained = explained || (pid == e.pid && e.exit_code != 0);
        if (!explained) unexplained.push_back(e);
    }
    if (unexplained.empty()) return d;
    d.how = end_by_exit_code(unexplained[0].exit_code);
    for (const EndedProcess& e : unexplained)
        if (end_by_exit_code(e.exit_code) != d.how) d.how = HostEnd::unknown; // several, ending differently: cannot tell
    if (unexplained.size() == 1) d.pid = unexplained[0].pid, d.exit_code = unexplained[0].exit_code;
    else if (d.how != HostEnd::unknown) d.exit_code = unexplained[0].exit_code; // all alike
    return d;
}

namespace {

// The function at the crash from the image's own data (exports, COFF symbols, .pdata), for a
// driver winedbg found no debug information for.
std::string function_of(const std::wstring& image_path, const CrashReport& r)
{
    // Only for a crash in this service's own image: a neighbour in the same host (the shim) shares the report.
    const auto lower = [](std::string t) {
        for (char& c : t) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        return t;
    };
    if (!r.has_offset || r.offset > 0xffffffffULL || lower(r.module) != lower(image_file_name(image_path))) return {};
    const std::string bytes = read_text_file(image_file(image_path));
    return function_in_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), static_cast<uint32_t>(r.offset));
}

} // namespace

void explain_dead_host(std::FILE* out, const std::string& service, const std::wstring& image_path, const HostState& host,
                       const std::wstring& link, const HostDeath* known)
{
    const std::string image = image_file_name(image_path);
    const HostDeath death = known != nullptr ? *known : why_host_died(image);
    const CrashReport& r = death.report;
    std::fprintf(out, "kmdctl: the driver host of %s (the winedevice.exe running %s", service.c_str(), image.c_str());
    if (death.pid != 0) std::fprintf(out, ", pid %lu", death.pid);
    std::fprintf(out, ") has died: ");
    switch (death.how) {
    case HostEnd::crashed:
        if (r.found)
            std::fprintf(out, "the driver crashed (exception code 0x%08lx", static_cast<unsigned long>(death.exit_code));
        else
            std::fprintf(out, "it ended with exception code 0x%08lx, an unhandled exception, but no crash report names %s (",
                         static_cast<unsigned long>(death.exit_code), image.c_str());
        break;
    case HostEnd::killed:
        std::fprintf(out, "it was killed (by a signal such as SIGKILL, or TerminateProcess): exit code 0 and no crash "
                          "report, so the driver did not crash (");
        break;
    case HostEnd::exited:
        std::fprintf(out, "it exited with code %lu and no crash report, not by an exception (",
                     static_cast<unsigned long>(death.exit_code));
        break;
    default:
        std::fprintf(out, "why is unknown: no crash report of this session names %s and Wine shows no ended driver host (",
                     image.c_str());
        break;
    }
    std::fprintf(out, "%sControlService(INTERROGATE): error %lu, %s).\n", death.how == HostEnd::crashed && r.found ? "; " : "",
                 static_cast<unsigned long>(host.error), error_text(host.error).c_str());
    if (r.found) {
        std::fprintf(out, "  exception : %s\n", r.exception.c_str());
        if (!r.where.empty()) std::fprintf(out, "  at        : %s\n", r.where.c_str());
        if (!r.frame.empty())
            std::fprintf(out, "  in        : %s\n", r.frame.c_str());
        else if (const std::string function = function_of(image_path, r); !function.empty())
            std::fprintf(out, "  in        : %s\n", function.c_str()); // no debug information: the image's own names
        std::fprintf(out, "  full crash report (registers, backtrace, modules): %s\n", r.path.c_str());
    } else if (!r.path.empty()) {
        std::fprintf(out, "  %s crash report naming %s in %s\n", death.earlier_report ? "only an earlier host's" : "no",
                     image.c_str(), r.path.c_str());
    } else {
        std::fprintf(out, "  no crash report: set HKLM\\%ls\\Debugger to\n"
                          "  C:\\windows\\system32\\cmd.exe /c C:\\windows\\system32\\winedbg.exe --auto %%ld %%ld >>C:\\windows\\crash-report.txt 2>&1\n",
                     kAeDebugKey);
    }
    std::fprintf(out, "  Wine still lists %s as RUNNING and keeps the device link the dead host created", service.c_str());
    if (!link.empty()) std::fprintf(out, " (%s)", narrow(link).c_str());
    std::fprintf(out, ",\n  so the driver cannot start again in this Wine session (StartService: error 6).\n"
                      "  The way out: end the session and start a new one (`wineserver -k` for this prefix;\n"
                      "  kit/harness/winebox.py sessions restart by themselves).\n");
}

namespace {

struct DeadService {
    std::wstring name;
    std::wstring image_path;
    HostState host;
};

// Every driver service the SCM says runs whose host process no longer answers.
std::vector<DeadService> dead_driver_services()
{
    std::vector<DeadService> dead;
    ScHandle scm;
    if (open_scm(scm, SC_MANAGER_ENUMERATE_SERVICE)) return dead;
    DWORD needed = 0, count = 0, resume = 0;
    EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_ACTIVE, nullptr, 0, &needed, &count, &resume,
                          nullptr);
    std::vector<unsigned char> buffer(needed + 4096);
    resume = 0;
    if (!EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_ACTIVE, buffer.data(),
                               static_cast<DWORD>(buffer.size()), &needed, &count, &resume, nullptr))
        return dead;
    const auto* entries = reinterpret_cast<const ENUM_SERVICE_STATUS_PROCESSW*>(buffer.data());
    for (DWORD i = 0; i < count; ++i) {
        ScHandle service;
        if (open_service(scm.get(), entries[i].lpServiceName, service, SERVICE_INTERROGATE | SERVICE_QUERY_CONFIG)) continue;
        const HostState host = host_of(service.get(), entries[i].ServiceStatusProcess);
        if (!host.dead) continue;
        ServiceConfig config;
        query_config(service.get(), config);
        dead.push_back({entries[i].lpServiceName, config.image_path, host});
    }
    return dead;
}

bool same_name(const std::wstring& a, const std::wstring& b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const wchar_t x = a[i] >= L'A' && a[i] <= L'Z' ? static_cast<wchar_t>(a[i] - L'A' + L'a') : a[i];
        const wchar_t y = b[i] >= L'A' && b[i] <= L'Z' ? static_cast<wchar_t>(b[i] - L'A' + L'a') : b[i];
        if (x != y) return false;
    }
    return true;
}

} // namespace

int report_dead_driver_hosts(std::FILE* out, const std::wstring& link)
{
    const std::vector<DeadService> dead = dead_driver_services();
    for (const DeadService& d : dead) explain_dead_host(out, narrow(d.name), d.image_path, d.host, link);
    return static_cast<int>(dead.size());
}

namespace {

std::wstring image_path_of(const std::string& service)
{
    ScHandle scm, handle;
    ServiceConfig config;
    if (open_scm(scm, SC_MANAGER_CONNECT) || open_service(scm.get(), widen(service), handle, SERVICE_QUERY_CONFIG) ||
        query_config(handle.get(), config))
        return {};
    return config.image_path;
}

} // namespace

void explain_start_failure(std::FILE* out, const std::string& service, DWORD error, const std::wstring& link)
{
    if (error != ERROR_INVALID_HANDLE) return;
    std::fprintf(out, "kmdctl: under Wine, error 6 from StartService usually means DriverEntry found a name it creates\n"
                      "  already taken (IoCreateSymbolicLink fails with 0xc0000024 when its device link exists).\n");
    std::wstring dos = link;
    if (dos.rfind(L"\\\\.\\", 0) == 0) dos = dos.substr(4);
    wchar_t target_buffer[512] = {};
    const bool linked = !dos.empty() && QueryDosDeviceW(dos.c_str(), target_buffer, 511) != 0;
    const std::wstring target = target_buffer; // the first (only) target of the link
    const std::vector<DeadService> dead = dead_driver_services();
    const std::wstring image = image_path_of(service);
    // A dead host's names outlive it in the session: its link points at \Device\NAME of the dead
    // driver (this kit's convention), or the dead driver is this very image, which creates the same names.
    for (const DeadService& d : dead) {
        const bool its_device = linked && same_name(target, L"\\Device\\" + d.name);
        const bool same_image = !image.empty() && same_image_path(image, d.image_path);
        if (!its_device && !same_image) continue;
        if (its_device)
            std::fprintf(out, "  \\DosDevices\\%s still points at %s, the device of %s, whose driver host has died\n",
                         narrow(dos).c_str(), narrow(target).c_str(), narrow(d.name).c_str());
        else
            std::fprintf(out, "  %s runs the same image as %s, whose driver host has died: the names that host's DriverEntry\n"
                              "  created (its device, its link) outlive it in this session, and this DriverEntry finds them taken\n",
                         service.c_str(), narrow(d.name).c_str());
        std::fprintf(out, "  (`kmdctl status %s` says how it ended): the dead host left %s behind.\n"
                          "  The way out: end the session and start a new one (`wineserver -k` for this prefix).\n",
                     narrow(d.name).c_str(), its_device ? "it" : "them");
        return;
    }
    if (linked) {
        std::fprintf(out, "  \\DosDevices\\%s is held by another device: it points at %s, no device of a dead driver host.\n"
                          "  Another driver (or program) created it and holds it: no dead host left it. The way out: stop\n"
                          "  what created it (`kmdctl list` shows the drivers that run), or give %s another link name.\n",
                     narrow(dos).c_str(), narrow(target).c_str(), service.c_str());
    } else if (!dos.empty()) {
        std::fprintf(out, "  No \\DosDevices\\%s exists, so if a link is what failed, it is one of another name: the driver's\n"
                          "  own DbgPrint lines say which name or call failed.\n",
                     narrow(dos).c_str());
    }
    for (const DeadService& d : dead)
        std::fprintf(out, "  (The driver host of %s has died in this session; the names its driver created outlive it.)\n",
                     narrow(d.name).c_str());
}

} // namespace kmd
