// host_health.hpp - is the process hosting a driver still alive, and if it died, why?
//
// Under Wine every kernel driver runs inside a winedevice.exe. When the driver faults, that
// process dies, but Wine's service manager is not told: the service still reads RUNNING, a stop
// fails with error 232 (the control pipe is gone), requests fail with error 5, and the dead
// host's \DosDevices link stays in the session, so the driver cannot start again (error 6). These
// helpers turn that into words: which driver, the exception and where, and the way out.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "win32.hpp"

namespace kmd {

struct HostState {
    bool dead = false;      // the SCM says the service runs, but its host no longer answers
    DWORD error = 0;        // what ControlService(INTERROGATE) said (232: the control pipe is gone)
};

// Wine 8 leaves SERVICE_STATUS_PROCESS.dwProcessId at 0 for drivers, so the host is asked
// instead: SERVICE_CONTROL_INTERROGATE goes through the host's control pipe, which dies with it.
// `service` needs SERVICE_INTERROGATE access.
HostState host_of(SC_HANDLE service, const SERVICE_STATUS_PROCESS& status);
// A state in which the service has a host process (RUNNING, the PENDING states, PAUSED).
bool hosted_state(DWORD state);

// What Wine's crash debugger wrote about one process: AeDebug\Debugger of the form
// "...winedbg.exe --auto %ld %ld >>FILE 2>&1" (tools/winebox.py sets it in every box).
struct CrashReport {
    std::string path;          // the report file (Windows path), empty when AeDebug names none
    bool found = false;        // a report naming this driver's image is in it
    unsigned long pid = 0;     // the crashed process, from the report
    std::string exception;     // "page fault on write access to 0x10 in 64-bit code (0x180001050)."
    std::string where;         // "crash_on_ioctl.sys+0x1050" (the raw address only when no module holds it)
    std::string module;        // "crash_on_ioctl.sys"
    bool has_offset = false;   // where is module+offset
    unsigned long long offset = 0;
    std::string frame;         // winedbg's first frame: "record_request(...) [...\crash_on_ioctl.cpp:26]"
};
// The last report whose crashed process had `image` ("crash_on_ioctl.sys") loaded.
CrashReport crash_report_for(const std::string& image);

// How a dead host ended, from what Wine still knows. Wine's services.exe keeps a handle to every
// winedevice.exe it started, so an ended host stays visible (OpenProcess) with its exit code:
// a driver's unhandled exception ends it with the exception code (0xc0000005) after the crash
// debugger wrote its report; a host killed from outside (SIGKILL, TerminateProcess) ends with 0
// and no report. Measured under Wine 8.0.
enum class HostEnd {
    unknown, // no ended host and no crash report that is this session's
    crashed, // an unhandled exception: `report` names it (found), or the exit code is an exception code
    killed,  // exit code 0 and no crash report: a signal (SIGKILL) or TerminateProcess, not the driver
    exited,  // another exit code and no crash report
};
struct HostDeath {
    HostEnd how = HostEnd::unknown;
    unsigned long pid = 0;  // the ended winedevice.exe (0: not found)
    DWORD exit_code = 0;    // its exit code, when pid != 0
    CrashReport report;     // how == crashed: the report, when one names the image (report.found)
    bool earlier_report = false; // a report names the image, but an earlier host's (not this session's)
};
HostDeath why_host_died(const std::string& image);
// "crashed", "killed", "exited", "unknown": the words `status --json` uses ("host_end").
const char* host_end_name(HostEnd how);
// The image file name ("skeleton.sys") of a service's image path.
std::string image_file_name(const std::wstring& image_path);

// Explains a dead host: which service, how it ended (why_host_died, or `death` when the caller
// has it already), the crash report, the stale device link, the way out.
// `image_path` is the service's driver file; `link` the \\.\NAME of its device if known.
void explain_dead_host(std::FILE* out, const std::string& service, const std::wstring& image_path, const HostState& host,
                       const std::wstring& link = {}, const HostDeath* death = nullptr);

// Taken right before `service` is stopped: the crash report file as it is now (AeDebug's report
// file; 0 when there is none), to tell a crash that happens later from the ones before; and under
// Wine the host shim's verdict on the service's last unload forgotten, so the next is this stop's.
struct ReportMark {
    unsigned long long size = 0;
    bool configured = false;
    std::wstring service;
};
ReportMark mark_crash_reports(const std::wstring& service);

// A stop said STOPPED: did a driver host crash meanwhile? Under Wine 8 a request still in flight
// can reach the unloaded image (docs/wine-unload-race.md). Waits briefly for the crash debugger
// (only when AeDebug writes a report file), prints the crash in words, returns true if one came.
// No wait when the host shim saw that nothing of the driver can run any more (wine_host.hpp,
// unload_verdict): a crash already on its way is still seen and reported.
bool report_crash_since(std::FILE* out, const std::string& service, const ReportMark& before);

// After a device request failed: every driver service whose host died. Prints each (the
// explanation above) and returns how many there were.
int report_dead_driver_hosts(std::FILE* out, const std::wstring& link = {});

// StartService failed: under Wine, error 6 from a driver whose DriverEntry met a name it creates
// already taken. Prints the hint with the cause it can see: the link `link` names (QueryDosDevice)
// and its target, left behind by a dead host whose device it points at, or held by another device;
// or no such link at all.
void explain_start_failure(std::FILE* out, const std::string& service, DWORD error, const std::wstring& link = {});

} // namespace kmd
