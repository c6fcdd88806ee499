// host_health.cpp - see host_health.hpp.
#include "host_health.hpp"

#include <cstdlib>
#include <cstring>

#include "nt5_compat.hpp"
#include "scm.hpp"

namespace kmd {

namespace {

constexpr wchar_t kAeDebugKey[] = L"Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug";

bool hosted_state(DWORD state)
{
    return state == SERVICE_RUNNING || state == SERVICE_STOP_PENDING || state == SERVICE_START_PENDING ||
           state == SERVICE_PAUSED || state == SERVICE_CONTINUE_PENDING || state == SERVICE_PAUSE_PENDING;
}

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

// winedbg's first frame, "=>0 0x00000180001050 record_request(...) [file:line] in mod.sys (0x...)":
// the address, the module name, and the text between them.
struct Frame {
    unsigned long long address = 0;
    std::string module;
    std::string text;
};

Frame parse_first_frame(const std::string& block)
{
    Frame f;
    const size_t at = block.find("=>0 0x");
    if (at == std::string::npos) return f;
    const std::string line = line_at(block, at);
    f.address = std::strtoull(line.c_str() + 4, nullptr, 16);
    const size_t sym = line.find(' ', 6);
    const size_t in = line.rfind(" in ");
    if (sym != std::string::npos && in != std::string::npos && in > sym) {
        f.text = line.substr(sym + 1, in - sym - 1);
        const size_t paren = line.find(" (", in + 4);
        f.module = line.substr(in + 4, paren == std::string::npos ? std::string::npos : paren - in - 4);
    }
    return f;
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

std::string hex(unsigned long long v)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", v);
    return buffer;
}

} // namespace

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
    if (const size_t d = block.find(" (D) "); d != std::string::npos && d >= 8) r.pid = std::strtoul(block.c_str() + d - 8, nullptr, 16);
    r.exception = line_at(block, std::strlen("Unhandled exception: "));
    const Frame f = parse_first_frame(block);
    r.frame = f.text;
    if (const unsigned long long base = module_base(block, f.module); base != 0 && f.address >= base)
        r.where = f.module + "+" + hex(f.address - base);
    else if (f.address != 0)
        r.where = hex(f.address) + (f.module.empty() ? "" : " in " + f.module);
    return r;
}

namespace {

unsigned long long file_size(const std::wstring& path)
{
    WIN32_FILE_ATTRIBUTE_DATA data{};
    if (!GetFileAttributesExW(path.c_str(), GetFileExInfoStandard, &data)) return 0;
    return (static_cast<unsigned long long>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
}

} // namespace

ReportMark mark_crash_reports()
{
    ReportMark m;
    const std::wstring file = report_file_of(aedebug_command());
    m.configured = !file.empty();
    if (m.configured) m.size = file_size(file);
    return m;
}

bool report_crash_since(std::FILE* out, const std::string& service, const ReportMark& before)
{
    if (!before.configured) return false;
    const std::wstring file = report_file_of(aedebug_command());
    // The faulting process starts the debugger (cmd.exe, which creates or extends the file) within
    // a few hundred milliseconds of the fault; winedbg then writes the report itself.
    constexpr DWORD kNoticeMs = 1500, kReportMs = 8000, kStepMs = 50; // measured: the file appears 0.5-1 s after the fault
    DWORD waited = 0;
    while (file_size(file) == before.size && waited < kNoticeMs) Sleep(kStepMs), waited += kStepMs;
    if (file_size(file) == before.size) return false;
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
    if (block.empty()) {
        std::fprintf(out, " (the crash debugger wrote to %s).\n", narrow(file).c_str());
    } else {
        const Frame f = parse_first_frame(block);
        std::fprintf(out, ":\n  exception : %s\n", line_at(block, std::strlen("Unhandled exception: ")).c_str());
        if (f.module.empty())
            std::fprintf(out, "  at        : 0x%llx, in no loaded module: the driver's image was already unloaded\n", f.address);
        else
            std::fprintf(out, "  at        : %s\n", f.text.c_str());
        std::fprintf(out, "  full crash report: %s\n", narrow(file).c_str());
    }
    std::fprintf(out, "  A request still in flight reached the driver after DriverUnload: Wine 8 unloads a driver at once,\n"
                      "  even while programs hold its device open (docs/wine-unload-race.md). Every driver in that host\n"
                      "  died with it, and its device links stay behind: restart the session before loading it again.\n");
    return true;
}

void explain_dead_host(std::FILE* out, const std::string& service, const std::wstring& image_path, const HostState& host,
                       const std::wstring& link)
{
    const size_t slash = image_path.find_last_of(L"\\/");
    const std::string image = narrow(slash == std::wstring::npos ? image_path : image_path.substr(slash + 1));
    const CrashReport r = crash_report_for(image);
    std::fprintf(out, "kmdctl: the driver host of %s (the winedevice.exe running %s", service.c_str(), image.c_str());
    if (r.found && r.pid != 0) std::fprintf(out, ", pid %lu", r.pid);
    std::fprintf(out, ") has died: the driver crashed (ControlService(INTERROGATE): error %lu, %s).\n",
                 static_cast<unsigned long>(host.error), error_text(host.error).c_str());
    if (r.found) {
        std::fprintf(out, "  exception : %s\n", r.exception.c_str());
        if (!r.where.empty()) std::fprintf(out, "  at        : %s\n", r.where.c_str());
        if (!r.frame.empty()) std::fprintf(out, "  in        : %s\n", r.frame.c_str());
        std::fprintf(out, "  full crash report (registers, backtrace, modules): %s\n", r.path.c_str());
    } else if (!r.path.empty()) {
        std::fprintf(out, "  no crash report naming %s in %s\n", image.c_str(), r.path.c_str());
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

int report_dead_driver_hosts(std::FILE* out, const std::wstring& link)
{
    ScHandle scm;
    if (open_scm(scm, SC_MANAGER_ENUMERATE_SERVICE)) return 0;
    DWORD needed = 0, count = 0, resume = 0;
    EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_ACTIVE, nullptr, 0, &needed, &count, &resume,
                          nullptr);
    std::vector<unsigned char> buffer(needed + 4096);
    resume = 0;
    if (!EnumServicesStatusExW(scm.get(), SC_ENUM_PROCESS_INFO, SERVICE_DRIVER, SERVICE_ACTIVE, buffer.data(),
                               static_cast<DWORD>(buffer.size()), &needed, &count, &resume, nullptr))
        return 0;
    const auto* entries = reinterpret_cast<const ENUM_SERVICE_STATUS_PROCESSW*>(buffer.data());
    int dead = 0;
    for (DWORD i = 0; i < count; ++i) {
        ScHandle service;
        if (open_service(scm.get(), entries[i].lpServiceName, service, SERVICE_INTERROGATE | SERVICE_QUERY_CONFIG)) continue;
        const HostState host = host_of(service.get(), entries[i].ServiceStatusProcess);
        if (!host.dead) continue;
        ServiceConfig config;
        query_config(service.get(), config);
        explain_dead_host(out, narrow(entries[i].lpServiceName), config.image_path, host, link);
        ++dead;
    }
    return dead;
}

void explain_start_failure(std::FILE* out, const std::string& service, DWORD error, const std::wstring& link)
{
    if (error != ERROR_INVALID_HANDLE) return;
    std::fprintf(out, "kmdctl: under Wine, error 6 from StartService usually means DriverEntry could not create its\n"
                      "  device link (IoCreateSymbolicLink fails, 0xc0000024): a link %s creates still exists, left\n"
                      "  behind by a driver host that crashed earlier in this session.",
                 service.c_str());
    if (!link.empty()) {
        wchar_t target[512] = {};
        std::wstring dos = link;
        if (dos.rfind(L"\\\\.\\", 0) == 0) dos = dos.substr(4);
        if (QueryDosDeviceW(dos.c_str(), target, 511) != 0)
            std::fprintf(out, " %s still points at %s.", narrow(dos).c_str(), narrow(target).c_str());
    }
    std::fprintf(out, "\n  The way out: end the session and start a new one (`wineserver -k` for this prefix).\n");
}

} // namespace kmd
