// error_hints.hpp - one line of likely cause and what to do, for the Win32 errors people meet first
// when loading a driver (Windows and Wine alike). Plain C++ with no Win32 calls: the host tests
// check every row (tests/host/error_hints_tests.cpp); kmdctl prints the line under the error.
#pragma once

#include <cstdint>

namespace kmd {

// Where the error came from: the same number means different things at different steps.
enum class Step { ServiceManager, CreateService, OpenService, StartService, StopService, OpenDevice, Other };

// The step a failed call belongs to, from the call's text as kmd::Failure names it
// ("StartService", "CreateFile(\\.\skeleton)", "OpenSCManager(...)").
Step step_of_call(const char* call);

// The hint for `error` at `step`, or nullptr where the error's own words say enough. (Error 6 at
// StartService under Wine has its own, longer explanation: host_health.hpp's explain_start_failure.)
const char* error_hint(uint32_t error, Step step);

// For a driver's DbgPrintEx lines on Windows Vista and later: they are filtered out unless the
// Debug Print Filter lets the component's level through. The one line kmdctl prints when the
// filter value is missing (`ihvdriver_mask_present` false) on a kernel that filters, else nullptr.
// Which kernels filter: NT 6.0 and later, not Wine (its DbgPrint goes to the log whatever the
// level) and not NT 5.x.
bool kernel_filters_debug_print(bool under_wine, uint32_t nt_major_version);
const char* debug_print_hint(bool kernel_filters, bool ihvdriver_mask_present);

} // namespace kmd
