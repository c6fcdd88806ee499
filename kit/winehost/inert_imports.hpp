// inert_imports.hpp - the kernel routines that never keep a caller's code to run later.
//
// After DriverUnload a driver's code can still run only if something calls it: a thread it
// started, a timer, DPC, work item, APC, completion or cancel routine, a callback it registered, a
// function it exported, or an IRP it still holds. Each of those needs a routine that takes a code
// pointer (or an IRP left pending). A routine on this list takes none and keeps none: an image that
// imports only these (plus the few kmdhost.sys watches one by one: threads, IRP completion, routine
// lookups) can run again only through what kmdhost.sys counts. Anything not listed counts as a way
// back in. Pure C++, no NT calls: the host tests read the list too.
#pragma once

namespace kmd::winehost {

// `name` (an import by name from ntoskrnl.exe or hal.dll) neither runs nor keeps a code pointer the
// caller gives it. Case-sensitive, as the loader binds names.
bool inert_import(const char* name);

// The routines kmdhost.sys hooks in a wrapped image to count what of it may still run, in the
// order of image_watch.cpp's hooks.
inline constexpr const char* kWatchedImports[] = {"PsCreateSystemThread", "PsTerminateSystemThread", "IofCompleteRequest",
                                                  "MmGetSystemRoutineAddress"};
// Its index in kWatchedImports, or -1.
int watched_import(const char* name);

// The modules whose exports inert_import() describes (compared without case).
bool kernel_module(const char* dll_name);

} // namespace kmd::winehost
