#include "trace.hpp"

#include <cstdio>

#include "win32.hpp"

namespace kmd {
namespace {
bool g_trace = false;
}

void set_trace(bool on) { g_trace = on; }
bool trace_enabled() { return g_trace; }

void trace_call(const std::string& call, bool ok, DWORD error)
{
    if (!g_trace) return;
    if (ok)
        std::printf("      -> %s = ok\n", call.c_str());
    else
        std::printf("      -> %s = error %lu (%s)\n", call.c_str(), static_cast<unsigned long>(error), error_text(error).c_str());
    std::fflush(stdout);
}

} // namespace kmd
