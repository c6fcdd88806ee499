#include "trace.hpp"

#include <cstdio>

#include "win32.hpp"

namespace kmd {
namespace {
bool g_trace = false;
}

void set_trace(bool on) { g_trace = on; }
bool trace_enabled() { return g_trace; }

// Which of the seed's seven loader steps a Win32 call belongs to (0: none of them).
int seed_step(const std::string& call)
{
    static const struct {
        const char* prefix;
        int step;
    } kSteps[] = {{"OpenSCManager", 1}, {"GetFullPathName", 2}, {"CreateService", 2}, {"OpenService", 3},
                  {"StartService", 4}, {"CreateFile", 5},      {"DeviceIoControl", 5}, {"ControlService", 6},
                  {"DeleteService", 7}, {"CloseServiceHandle", 7}};
    for (const auto& s : kSteps)
        if (call.rfind(s.prefix, 0) == 0) return s.step;
    return 0;
}

void trace_call(const std::string& call, bool ok, DWORD error)
{
    if (!g_trace) return;
    const int step = seed_step(call);
    char label[16] = "      ";
    if (step != 0) std::snprintf(label, sizeof label, "(%d/7) ", step);
    if (ok)
        std::printf("      -> %s%s = ok\n", label, call.c_str());
    else
        std::printf("      -> %s%s = error %lu (%s)\n", label, call.c_str(), static_cast<unsigned long>(error),
                    error_text(error).c_str());
    std::fflush(stdout);
}

} // namespace kmd
