// image_watch.hpp - what of a wrapped driver image could still run once it is unloaded.
//
// A stop that reports STOPPED under Wine cannot know by itself whether code the driver left
// behind (a thread, a timer, an IRP it still holds) will run in the unmapped image a moment later
// and kill the host: kmdctl waits 0.5 s for a crash debugger after every stop for that reason.
// kmdhost.sys can know it, for an image that gives the kernel no code of its own to call back
// except in ways the shim counts: it imports only inert routines (inert_imports.hpp) and the
// watched ones, hooked in its import table here:
//   PsCreateSystemThread / PsTerminateSystemThread  each thread it starts, counted until it ends;
//   IofCompleteRequest                              each IRP dispatched to it, until it completes it;
//   MmGetSystemRoutineAddress                       a routine it looks up must be inert too.
// After DriverUnload has returned and its requests have settled, what_may_still_run() says nothing
// can (nullptr), or the first reason something might. The verdict only ever skips a wait: any
// doubt keeps it. Each hook calls on to what the slot held (a verifier's wrapper or the kernel's).
#pragma once

#include <kmd/nt.hpp>

#include "image_patch.hpp"

namespace kmd::winehost {

struct ImageWatch {
    static constexpr unsigned kMaxIrps = 64, kMaxThreads = 16;
    char* base;
    SIZE_T size;
    ULONG generation;            // which load of the slot: a thread outliving its image counts nowhere
    const char* static_why;      // its imports or exports already say something may run (or nullptr)
    char import_why[64];         // the first import that can call it back ("" if none)
    char dynamic_why[64];        // a routine it looked up that is not inert ("" if none)
    bool lost_track;             // an IRP or a thread it ended that the watch never saw
    LONG live_threads;
    HANDLE thread_ids[kMaxThreads];
    PIRP irps[kMaxIrps];
    ULONG irp_count;
    bool irps_overflowed;
    KSPIN_LOCK lock;
    // What each watched routine's slot held before the hook (a verifier's wrapper or the kernel's
    // routine): what the hook calls on. Indexed by the hook (image_watch.cpp).
    void* next[4];
    // The slots hooked, to put back what they held (unwatch_image).
    void** slots[8];
    void* held[8];
    ULONG slot_count;
};

void initialize_image_watches(); // once, in the shim's DriverEntry
// At the image's entry, before its DriverEntry: judges its imports and exports, hooks the watched imports.
void watch_image(ImageWatch& w, char* base, SIZE_T size, ZwProtectVirtualMemoryFn protect);
// A failed DriverEntry: Wine keeps the mapping for the next start, so the slots get back what they held.
void unwatch_image(ImageWatch& w, ZwProtectVirtualMemoryFn protect);
// host_dispatch, before the image's dispatch routine: the IRP is the image's until it completes it.
void irp_dispatched(ImageWatch& w, PIRP irp);
// After the real DriverUnload and the settling of its requests: nullptr when nothing of the image
// can run any more, else why it might (static text, or the watch's own buffer).
const char* what_may_still_run(ImageWatch& w, PDRIVER_OBJECT driver);

// kmdhost.cpp: the watch of the wrapped image holding `address` (a hook's return address), or
// nullptr; and each watch in use, until `visit` returns true (that one is returned).
ImageWatch* watch_at(const void* address);
ImageWatch* find_watch(bool (*visit)(ImageWatch& w, const void* what), const void* what);

} // namespace kmd::winehost
