// trace.hpp - narration of Win32 calls for `kmdctl --trace`.
#pragma once

#include <windows.h>

#include <string>

namespace kmd {

// When on, every Win32 call made through the loader library prints one line to stdout:
//   "  -> StartService(skeleton) = ok"  or  "  -> StartService(skeleton) = error 2 (...)".
void set_trace(bool on);
bool trace_enabled();
void trace_call(const std::string& call, bool ok, DWORD error);

} // namespace kmd
