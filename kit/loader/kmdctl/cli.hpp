// cli.hpp - what every kmdctl verb shares: exit status, usage errors, failures reported with a
// hint, service names checked before any call, the driver file checked before the SCM is touched.
#pragma once

#include <windows.h>

#include <cstdint>
#include <optional>
#include <string>

#include "cli_parse.hpp"
#include "scm.hpp"
#include "start_retry.hpp"
#include "win32.hpp"

namespace kmdctl {

using kmd::Failure;
using Args = kmd::ParsedArgs;

// Exit status. By default: 0 ok, 1 a Win32 call failed (the error is printed), 2 bad usage.
// With --win32-exit (sc.exe's convention, for scripts that branch on the error): the Win32
// error number itself, and ERROR_INVALID_COMMAND_LINE (1639) for bad usage.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr DWORD kStopTimeoutMs = 15000;
constexpr uint32_t kMaxBuffer = 64u * 1024 * 1024;
extern bool g_win32_exit;

int failed_exit(DWORD error);
int usage_error(const std::string& verb, const std::string& message);
// The likely cause and what to do, under the error, for the errors beginners meet (error_hints.hpp).
void say_hint(const Failure& f);
int report(const std::string& verb, const Failure& f);

// Refuses what cannot be a driver for this machine before the SCM is touched, so a typo or a
// wrong file creates no service: missing, a directory, not a PE image, another machine, not native.
Failure check_driver_file(const std::wstring& path);
std::optional<DWORD> parse_start_type(const std::string& s);

// A name checked against the rules of the SCM and the object manager before any call, so a bad
// name gets a clear message instead of "error 31 (General failure.)".
bool checked_name(const char* verb, const std::string& name, std::wstring& out, int& exit_code);

// A whole (small) file: a contract header or --in-file bytes. A directory is named as such.
Failure read_whole_file(const std::string& what, const std::wstring& path, std::string& bytes);

// kmd::start_service retried a start that Wine's driver host failed (scm.hpp): say so.
void say_retry(const kmd::StartRetry& retry);

// Non-zero (and explained) when the service's host process is dead though the SCM says it runs.
DWORD host_died(SC_HANDLE scm, const std::wstring& name, const std::wstring& link = {});

// Opens the named service with `access` (and the manager with SC_MANAGER_CONNECT only).
Failure open_named(const std::wstring& name, DWORD access, kmd::ScHandle& scm, kmd::ScHandle& service);

// After a driver started on a kernel that filters DbgPrintEx (Vista and later) and no Debug Print
// Filter lets the IHVDRIVER component through: one line on stderr on how to see its output.
void say_debug_print_hint();

} // namespace kmdctl
