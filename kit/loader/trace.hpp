// trace.hpp - narration of Win32 calls for `kmdctl --trace`.
#pragma once

#include <windows.h>

#include <string>

namespace kmd {

// When on, every Win32 call made through the loader library prints one line to stdout, numbered
// with the seed's loader step it belongs to, whatever the verb:
//   "  -> (4/7) StartService = ok"  or  "  -> (4/7) StartService = error 2 (...)".
void set_trace(bool on);
bool trace_enabled();
void trace_call(const std::string& call, bool ok, DWORD error);

} // namespace kmd
