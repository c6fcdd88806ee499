#include "image_watch.hpp"

#include <ntimage.h>

#include "inert_imports.hpp"
#include "spin_lock_guard.hpp"

namespace kmd::winehost {
namespace {

enum Hook { kCreateThread, kTerminateThread, kComplete, kLookup, kHooks };

using CreateThreadFn = NTSTATUS(NTAPI*)(PHANDLE, ULONG, POBJECT_ATTRIBUTES, HANDLE, PCLIENT_ID, PKSTART_ROUTINE, PVOID);
using TerminateThreadFn = NTSTATUS(NTAPI*)(NTSTATUS);
using CompleteFn = VOID(FASTCALL*)(PIRP, CCHAR);
using LookupFn = PVOID(NTAPI*)(PUNICODE_STRING);

// The kernel's own routines: what a hook calls when it cannot tell whose call it is (an image that
// jumps to the routine instead of calling it leaves no return address of its own).
void* g_kernel[kHooks];


// out = a + b, cut to fit.
template <size_t N>
void say(char (&out)[N], const char* a, const char* b)
{
    size_t at = 0;
    for (; *a != 0 && at + 1 < N; ++a) out[at++] = *a;
    for (; *b != 0 && at + 1 < N; ++b) out[at++] = *b;
    out[at] = 0;
}

void* next_of(const ImageWatch* w, Hook h) { return w != nullptr && w->next[h] != nullptr ? w->next[h] : g_kernel[h]; }

bool forget_thread(ImageWatch& w, HANDLE id)
{
    SpinLockGuard lock(w.lock);
    for (HANDLE& t : w.thread_ids)
        if (t == id) {
            t = nullptr;
            InterlockedDecrement(&w.live_threads);
            return true;
        }
    return false;
}

bool holds_thread(ImageWatch& w, const void* id)
{
    SpinLockGuard lock(w.lock);
    for (HANDLE t : w.thread_ids)
        if (t == id) return true;
    return false;
}

bool take_irp(ImageWatch& w, const void* irp)
{
    SpinLockGuard lock(w.lock);
    for (ULONG i = 0; i < w.irp_count; ++i)
        if (w.irps[i] == irp) {
            w.irps[i] = w.irps[--w.irp_count];
            return true;
        }
    return false;
}

struct ThreadStart {
    PKSTART_ROUTINE start;
    PVOID context;
    ImageWatch* watch;
    ULONG generation;
};

// Every thread a watched image starts begins here: it counts until the image's routine returns
// (or the thread ends itself through PsTerminateSystemThread, hooked below).
VOID NTAPI thread_start(PVOID p)
{
    const ThreadStart s = *static_cast<ThreadStart*>(p);
    ExFreePoolWithTag(p, 'tWHK');
    const HANDLE id = PsGetCurrentThreadId();
    bool registered = false;
    if (s.watch->generation == s.generation) {
        SpinLockGuard lock(s.watch->lock);
        for (HANDLE& t : s.watch->thread_ids)
            if (t == nullptr) {
                t = id;
                registered = true;
                break;
            }
        if (!registered) s.watch->lost_track = true; // more threads than slots: the count stays up
    }
    s.start(s.context);
    if (registered && s.watch->generation == s.generation) forget_thread(*s.watch, id);
}

// Only images have these hooks in their import tables, so a call no image can be named for came
// from one that jumped to the routine instead of calling it: every watched image is in doubt.
bool doubt(ImageWatch& w, const void* why)
{
    if (w.dynamic_why[0] == 0) say(w.dynamic_why, static_cast<const char*>(why), "");
    return false; // visit them all
}

NTSTATUS NTAPI hook_create_thread(PHANDLE handle, ULONG access, POBJECT_ATTRIBUTES attributes, HANDLE process, PCLIENT_ID client,
                                  PKSTART_ROUTINE start, PVOID context)
{
    // The image whose code the thread runs, else the caller's (the two differ only for odd code).
    ImageWatch* w = watch_at(reinterpret_cast<const void*>(start));
    if (w == nullptr) w = watch_at(__builtin_return_address(0));
    if (w == nullptr) find_watch(doubt, "a thread was started that no image could be named for");
    const auto next = reinterpret_cast<CreateThreadFn>(next_of(w, kCreateThread));
    auto* s = w != nullptr ? static_cast<ThreadStart*>(ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(ThreadStart), 'tWHK')) : nullptr;
    if (s == nullptr) {
        if (w != nullptr) w->lost_track = true;
        return next(handle, access, attributes, process, client, start, context);
    }
    *s = ThreadStart{start, context, w, w->generation};
    InterlockedIncrement(&w->live_threads); // before the thread can start and end
    const NTSTATUS status = next(handle, access, attributes, process, client, thread_start, s);
    if (!NT_SUCCESS(status)) {
        InterlockedDecrement(&w->live_threads);
        ExFreePoolWithTag(s, 'tWHK');
    }
    return status;
}

NTSTATUS NTAPI hook_terminate_thread(NTSTATUS status)
{
    const HANDLE id = PsGetCurrentThreadId();
    ImageWatch* w = find_watch(holds_thread, id);
    if (w != nullptr) {
        forget_thread(*w, id);
    } else if (ImageWatch* caller = watch_at(__builtin_return_address(0))) {
        caller->lost_track = true; // it ends a thread it did not start through the watch
        w = caller;
    }
    return reinterpret_cast<TerminateThreadFn>(next_of(w, kTerminateThread))(status);
}

// Taken out of the image's set before the completion: once completed the IRP may be freed and
// dispatched again as another request at once.
VOID FASTCALL hook_complete(PIRP irp, CCHAR boost)
{
    ImageWatch* w = watch_at(__builtin_return_address(0));
    if (w != nullptr) {
        if (!take_irp(*w, irp)) w->lost_track = true; // not one dispatched to it (a double completion?)
    } else {
        w = find_watch(take_irp, irp);
    }
    reinterpret_cast<CompleteFn>(next_of(w, kComplete))(irp, boost);
}

PVOID NTAPI hook_lookup(PUNICODE_STRING name)
{
    ImageWatch* w = watch_at(__builtin_return_address(0));
    if (w == nullptr) find_watch(doubt, "a routine was looked up that no image could be named for");
    if (w != nullptr && name != nullptr && name->Buffer != nullptr && w->dynamic_why[0] == 0) {
        char ascii[40] = {};
        const USHORT n = name->Length / sizeof(WCHAR);
        bool fits = n < sizeof ascii;
        for (USHORT i = 0; fits && i < n; ++i) {
            if (name->Buffer[i] == 0 || name->Buffer[i] > 0x7E) fits = false;
            ascii[i] = static_cast<char>(name->Buffer[i]);
        }
        if (!fits || !inert_import(ascii)) say(w->dynamic_why, "it looked up ", fits ? ascii : "a routine of an unusual name");
    }
    return reinterpret_cast<LookupFn>(next_of(w, kLookup))(name);
}

void* const kHookOf[kHooks] = {reinterpret_cast<void*>(hook_create_thread), reinterpret_cast<void*>(hook_terminate_thread),
                               reinterpret_cast<void*>(hook_complete), reinterpret_cast<void*>(hook_lookup)};
static_assert(ARRAYSIZE(kWatchedImports) == kHooks);

bool in_image(const ImageWatch& w, const void* p)
{
    const char* c = static_cast<const char*>(p);
    return c >= w.base && c < w.base + w.size;
}

bool write_slot(ZwProtectVirtualMemoryFn protect, void** slot, void* value)
{
    return write_image(protect, slot, &value, sizeof value, PAGE_READWRITE);
}

} // namespace

void initialize_image_watches()
{
    for (int h = 0; h < kHooks; ++h) {
        ANSI_STRING a;
        RtlInitAnsiString(&a, kWatchedImports[h]);
        WCHAR buffer[40];
        UNICODE_STRING u{0, sizeof buffer, buffer};
        for (USHORT i = 0; i < a.Length; ++i) buffer[i] = static_cast<WCHAR>(a.Buffer[i]);
        u.Length = static_cast<USHORT>(a.Length * sizeof(WCHAR));
        g_kernel[h] = MmGetSystemRoutineAddress(&u);
    }
}

void watch_image(ImageWatch& w, char* base, SIZE_T size, ZwProtectVirtualMemoryFn protect)
{
    const ULONG generation = w.generation;
    RtlZeroMemory(&w, sizeof w);
    w.generation = generation;
    w.base = base;
    w.size = size;
    KeInitializeSpinLock(&w.lock);
    auto* dos = reinterpret_cast<IMAGE_DOS_HEADER*>(base);
    auto* nt = reinterpret_cast<IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
    if (nt->OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR_MAGIC) {
        w.static_why = "an image of another word size";
        return;
    }
    const IMAGE_DATA_DIRECTORY& exports = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
    if (exports.VirtualAddress != 0 && exports.Size != 0 &&
        reinterpret_cast<IMAGE_EXPORT_DIRECTORY*>(base + exports.VirtualAddress)->NumberOfFunctions != 0)
        w.static_why = "it exports routines other images may call";
    const IMAGE_DATA_DIRECTORY& dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (dir.VirtualAddress == 0) return;
    for (auto* d = reinterpret_cast<IMAGE_IMPORT_DESCRIPTOR*>(base + dir.VirtualAddress); d->Name != 0; ++d) {
        if (!kernel_module(base + d->Name) && w.static_why == nullptr) w.static_why = "it imports from a module other than the kernel's";
        if (d->OriginalFirstThunk == 0) {
            if (w.static_why == nullptr) w.static_why = "its imports have no names to judge";
            continue;
        }
        auto* names = reinterpret_cast<IMAGE_THUNK_DATA*>(base + d->OriginalFirstThunk);
        auto* slots = reinterpret_cast<IMAGE_THUNK_DATA*>(base + d->FirstThunk);
        for (; names->u1.AddressOfData != 0; ++names, ++slots) {
            if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal)) {
                if (w.static_why == nullptr) w.static_why = "it imports by ordinal";
                continue;
            }
            const char* name = reinterpret_cast<const char*>(reinterpret_cast<IMAGE_IMPORT_BY_NAME*>(base + names->u1.AddressOfData)->Name);
            const int h = kernel_module(base + d->Name) ? watched_import(name) : -1;
            if (h < 0) {
                if (!inert_import(name) && w.import_why[0] == 0) say(w.import_why, "it imports ", name);
                continue;
            }
            auto** slot = reinterpret_cast<void**>(&slots->u1.Function);
            void* held = *slot;
            if (held == kHookOf[h] || w.slot_count >= ARRAYSIZE(w.slots) || !write_slot(protect, slot, kHookOf[h])) {
                if (w.static_why == nullptr) w.static_why = "a watched import could not be hooked";
                continue;
            }
            w.next[h] = held;
            w.slots[w.slot_count] = slot;
            w.held[w.slot_count++] = held;
        }
    }
}

void unwatch_image(ImageWatch& w, ZwProtectVirtualMemoryFn protect)
{
    for (ULONG i = 0; i < w.slot_count; ++i) write_slot(protect, w.slots[i], w.held[i]);
    w.slot_count = 0;
}

void irp_dispatched(ImageWatch& w, PIRP irp)
{
    SpinLockGuard lock(w.lock);
    if (w.irp_count < ImageWatch::kMaxIrps)
        w.irps[w.irp_count++] = irp;
    else
        w.irps_overflowed = true;
}

const char* what_may_still_run(ImageWatch& w, PDRIVER_OBJECT driver)
{
    if (w.static_why != nullptr) return w.static_why;
    if (w.import_why[0] != 0) return w.import_why;
    if (w.dynamic_why[0] != 0) return w.dynamic_why;
    if (w.lost_track) return "the watch lost track of a thread or an IRP of it";
    if (w.live_threads != 0) return "a thread it started still runs";
    if (w.irps_overflowed) return "it held more IRPs than the watch counts";
    if (w.irp_count != 0) return "an IRP dispatched to it is not completed";
    if (driver->FastIoDispatch != nullptr) return "it has fast I/O routines";
    if (driver->DriverStartIo != nullptr && in_image(w, reinterpret_cast<void*>(driver->DriverStartIo))) return "it has a StartIo routine";
    if (driver->DriverExtension != nullptr && driver->DriverExtension->AddDevice != nullptr &&
        in_image(w, reinterpret_cast<void*>(driver->DriverExtension->AddDevice)))
        return "it has an AddDevice routine";
    for (PDRIVER_DISPATCH routine : driver->MajorFunction)
        if (in_image(w, reinterpret_cast<void*>(routine))) return "a dispatch routine of it is not wrapped";
    return nullptr;
}

} // namespace kmd::winehost
