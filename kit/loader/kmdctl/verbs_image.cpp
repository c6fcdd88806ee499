// The driver image without loading it: kmdctl imports.
#include "verbs.hpp"

#include <cstdio>
#include <string>

#include "imports_check.hpp"

namespace kmdctl {

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

} // namespace kmdctl
