// kmdverify.sys - a Driver Verifier for Wine. Loaded first into a driver host (winedevice.exe:
// one per load-order group), it interposes itself between every driver image loaded after it and
// Wine's ntoskrnl, and reports each broken kernel rule as a DbgPrint line "kmdverify: ..." that
// kit/verifier/verify.py collects from the box's kernel log. See docs/verifier.md.
//
// How it gets in (read from Wine 8's dlls/ntoskrnl.exe/ntoskrnl.c, load_driver/init_driver):
// load_driver() maps the image with LoadLibraryExW (imports already bound), then calls the
// PsSetLoadImageNotifyRoutine callbacks with ImageBase = the module and ImageSize = SizeOfImage,
// and only then does init_driver() read AddressOfEntryPoint from the mapped headers and call it.
// So the callback below can (1) rewrite the image's import address table to point at the
// wrappers here, and (2) redirect the entry point to a jump stub in the header page, so that
// DriverEntry runs under the verifier, which then wraps DriverUnload and the dispatch routines.
// Calls resolved at run time are covered by wrapping MmGetSystemRoutineAddress.
//
// The wrappers forward to the real routines (this image's own imports are never patched) and
// check on the way. A driver never sees a difference except where Windows would differ from Wine:
// ProbeForRead/ProbeForWrite raise for kernel addresses as Windows does, a second completion of
// an IRP is reported and dropped instead of corrupting the host, and an oversized Information is
// reported and clamped so Wine's copy-back stays in the caller's buffer.
#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset
#include <ntifs.h>
#include <ntimage.h>
// mingw-w64's ntstrsafe.h is inline-only: at -O0 (__NO_INLINE__: `make debug`) it would only
// declare its functions, which no kernel library provides. __CRT_STRSAFE_IMPL makes it define them.
#if defined(__NO_INLINE__)
#define __CRT_STRSAFE_IMPL
#endif
#include <ntstrsafe.h>

#include "../winehost/image_patch.hpp" // the entry stub and image writes, shared with kmdhost.sys

#if !defined(__x86_64__)
#error "kmdverify.sys patches x64 import tables and jump stubs; there is no x86 build"
#endif

namespace {

// Exported by Wine's (and Windows') ntoskrnl.exe, but neither declared by the mingw-w64 DDK
// headers nor in its import library: resolved at run time in DriverEntry.
kmd::winehost::ZwProtectVirtualMemoryFn ZwProtectVirtualMemory;
using RtlRaiseStatusFn = VOID(NTAPI*)(NTSTATUS status);
RtlRaiseStatusFn RtlRaiseStatus;

// ------------------------------------------------------------------ limits and state

constexpr unsigned kMaxImages = 16;
constexpr unsigned kMaxPool = 8192;     // live allocations of all verified images
constexpr unsigned kMaxFreed = 256;     // recently freed addresses, for double-free detection
constexpr unsigned kMaxIrps = 256;      // IRPs owned by a verified driver right now
constexpr unsigned kMaxCompleted = 256; // recently completed IRPs, for double completion
constexpr unsigned kMaxPerImage = 32;   // devices, links, handles, referenced objects
constexpr unsigned kMaxWarnSites = 32;
constexpr ULONG_PTR kUserProbeAddress = 0x7FFFFFFF0000ull; // x64 MmUserProbeAddress on Windows
constexpr kmd::winehost::EntryStub kStub{0xFE0, 0x5946564B /* 'KVFY' */}; // entry stub in the header page's tail
constexpr ULONG kNoneTag = 0x656E6F4E;   // "None": the tag Windows gives untagged ExAllocatePool blocks

struct Device { PDEVICE_OBJECT object; void* site; };
struct Link { WCHAR name[96]; USHORT length; void* site; };
struct Handle { HANDLE handle; const char* call; void* site; };
struct Reference { PVOID object; LONG count; void* site; };

struct Counters {
    ULONG calls, failable, allocations, frees, probes, probes_rejected, irps, violations, warnings;
};

struct Image {
    bool used;
    WCHAR name[64];
    char* base;
    SIZE_T size;
    PDRIVER_INITIALIZE real_entry;
    PDRIVER_UNLOAD real_unload;
    PDRIVER_DISPATCH real_major[IRP_MJ_MAXIMUM_FUNCTION + 1];
    PDRIVER_OBJECT driver;
    bool in_entry;
    ULONG fault_at;        // 0: none; k: fail the k-th failable call of DriverEntry
    ULONG failable_seen;   // failable calls made by the current DriverEntry
    const char* injected;  // the call that was made to fail, or nullptr
    Counters c;
    Device devices[kMaxPerImage];
    Link links[kMaxPerImage];
    Handle handles[kMaxPerImage];
    Reference refs[kMaxPerImage];
    struct { const char* kind; void* site; } warned[kMaxWarnSites];
};

struct PoolEntry { void* p; SIZE_T size; ULONG tag; POOL_TYPE type; void* site; Image* image; };

struct IrpEntry {
    PIRP irp;
    Image* image;
    HANDLE thread;     // the thread running the dispatch routine, while it runs
    ULONG64 order;     // innermost dispatch on a thread = highest order
    bool in_dispatch;
    bool forwarded;    // handed on with IoCallDriver: not this driver's to complete, unless it gets it back
                       // (its completion routine returned STATUS_MORE_PROCESSING_REQUIRED)
    CHAR location;     // irp->CurrentLocation when dispatched: a forwarded IRP goes down, a new one starts on top
    bool user_mode;
    UCHAR major;
    ULONG code;        // IOCTL code (DEVICE_CONTROL)
    ULONG method;
    void* in; ULONG in_len; ULONG in_probed;    // METHOD_NEITHER buffers, and how many of their bytes,
    void* out; ULONG out_len; ULONG out_probed; // from the start, some probe has covered
};

struct CompletedIrp { PIRP irp; Image* image; bool marked_pending; };

Image g_images[kMaxImages];
PoolEntry g_pool[kMaxPool];
unsigned g_pool_count;
ULONG g_pool_untracked;
void* g_freed[kMaxFreed];
unsigned g_freed_next;
IrpEntry g_irps[kMaxIrps];
CompletedIrp g_completed[kMaxCompleted];
unsigned g_completed_next;
ULONG64 g_order;
KSPIN_LOCK g_lock;
char* g_self_base;
SIZE_T g_self_size;
WCHAR g_params_key[256]; // <our service key>\Parameters: FaultAt (REG_DWORD)
bool g_pool2_exists;      // ExAllocatePool2 exported: the tagless/old calls are then deprecated
ULONG g_unmapped;         // IRPs vf_dispatch could not give to a verified driver (completed with an error)

// A test's fixed interleaving of one IOCTL's dispatch return and its completion on another thread
// (Parameters\RaceCode = the IOCTL code, RaceOrder = 1 or 2; 0: off), so a race in the IRP checks
// is shown every time instead of once in a while (tests/e2e/test_verifier.py):
//   1: the dispatch return waits until the completion has taken the IRP out of the owned table;
//      the completion then waits, before the real IoCompleteRequest, until that return is judged;
//   2: the completion waits until the dispatch return has looked the IRP up, and the dispatch
//      return, once it has, waits until the IRP was completed before judging it.
ULONG g_race_code, g_race_order;
KEVENT g_race_removed, g_race_judged, g_race_looked_up, g_race_completed;
constexpr LONGLONG kRaceWait = -50000000LL; // 5 s, relative: a race that cannot happen does not hang the host

// Every table above is touched under g_lock, and nothing that may call back into a wrapper runs
// while it is held (no real routine, no raise).
class Locked {
public:
    Locked() : irql_(KeAcquireSpinLockRaiseToDpc(&g_lock)) {}
    ~Locked() { KeReleaseSpinLock(&g_lock, irql_); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

private:
    KIRQL irql_;
};

// ------------------------------------------------------------------ reporting

Image* image_at(const void* address)
{
    auto a = static_cast<const char*>(address);
    for (Image& i : g_images)
        if (i.used && a >= i.base && a < i.base + i.size) return &i;
    return nullptr;
}

// "skeleton.sys+0x1a2b", or the raw address outside every verified image.
struct Site {
    char text[96];
};
bool in_self(const void* address);
Image* running_image();
Site site_text(const void* address)
{
    Site s{};
    if (in_self(address)) {
        const Image* i = running_image();
        RtlStringCbPrintfA(s.text, sizeof s.text, "%ws+tail-call", i ? i->name : L"?");
    } else if (const Image* i = image_at(address))
        RtlStringCbPrintfA(s.text, sizeof s.text, "%ws+0x%lx", i->name, static_cast<ULONG>(static_cast<const char*>(address) - i->base));
    else
        RtlStringCbPrintfA(s.text, sizeof s.text, "%p", address);
    return s;
}

// One line per finding, in a fixed shape the front end parses:
//   kmdverify: VIOLATION <KIND> driver=<image> call=<Call>(<args>) at=<image+offset> [detail]
void violation(Image* image, const char* kind, const char* call, const char* args, const void* site, const char* detail = "")
{
    if (image != nullptr) InterlockedIncrement(reinterpret_cast<LONG*>(&image->c.violations));
    DbgPrint("kmdverify: VIOLATION %s driver=%ws call=%s(%s) at=%s %s\n", kind, image ? image->name : L"?", call, args,
             site_text(site).text, detail);
}

// Warnings do not fail a run; each (kind, call site) is printed once.
void warning(Image* image, const char* kind, const char* call, const void* site, const char* detail)
{
    if (image == nullptr) return;
    {
        Locked lock;
        for (auto& w : image->warned)
            if (w.kind == kind && w.site == site) return;
        for (auto& w : image->warned)
            if (w.kind == nullptr) {
                w.kind = kind;
                w.site = const_cast<void*>(site);
                break;
            }
        ++image->c.warnings;
    }
    DbgPrint("kmdverify: WARNING %s driver=%ws call=%s at=%s %s\n", kind, image->name, call, site_text(site).text, detail);
}

// Which verified image each thread is running a routine of (DriverEntry, DriverUnload, a dispatch
// routine): a routine that ends in a tail call (jmp through the IAT) returns to *our* wrapper's
// caller, so its wrapper sees a return address inside kmdverify.sys, not inside the driver.
struct ThreadImage { HANDLE thread; Image* image; };
ThreadImage g_running[64];

Image* running_image()
{
    const HANDLE thread = PsGetCurrentThreadId();
    for (const ThreadImage& t : g_running)
        if (t.thread == thread) return t.image;
    return nullptr;
}

// Sets the thread's running image for one scope, restoring the previous one (routines nest: the
// prober's dispatch calls skeleton.sys's).
class RunningImage {
public:
    explicit RunningImage(Image* image)
    {
        const HANDLE thread = PsGetCurrentThreadId();
        Locked lock;
        for (ThreadImage& t : g_running)
            if (t.thread == thread) {
                slot_ = &t;
                break;
            }
        if (slot_ == nullptr)
            for (ThreadImage& t : g_running)
                if (t.thread == nullptr) {
                    slot_ = &t;
                    slot_->thread = thread;
                    break;
                }
        if (slot_ != nullptr) {
            previous_ = slot_->image;
            slot_->image = image;
        }
    }
    ~RunningImage()
    {
        if (slot_ == nullptr) return;
        Locked lock;
        slot_->image = previous_;
        if (previous_ == nullptr) slot_->thread = nullptr;
    }
    RunningImage(const RunningImage&) = delete;
    RunningImage& operator=(const RunningImage&) = delete;

private:
    ThreadImage* slot_ = nullptr;
    Image* previous_ = nullptr;
};

bool in_self(const void* address)
{
    auto a = static_cast<const char*>(address);
    return a >= g_self_base && a < g_self_base + g_self_size;
}

// The verified image calling a wrapper, counted as one checked call.
Image* caller_image(const void* return_address)
{
    Image* i = image_at(return_address);
    if (i == nullptr && in_self(return_address)) i = running_image();
    if (i != nullptr) InterlockedIncrement(reinterpret_cast<LONG*>(&i->c.calls));
    return i;
}

// Fault injection: the k-th failable call made by DriverEntry fails as the kernel would when out
// of resources. Only DriverEntry's calls count, so the sweep k = 1..N is the same for every run.
bool inject(Image* image, const char* call)
{
    if (image == nullptr || !image->in_entry) return false;
    ++image->c.failable;
    if (++image->failable_seen != image->fault_at) return false;
    image->injected = call;
    DbgPrint("kmdverify: FAULT driver=%ws call=%s point=%lu\n", image->name, call, image->failable_seen);
    return true;
}

#define RA __builtin_return_address(0)

// ------------------------------------------------------------------ per-image resource lists

template <typename T, typename Pred>
T* find_in(T (&list)[kMaxPerImage], Pred pred)
{
    for (T& e : list)
        if (pred(e)) return &e;
    return nullptr;
}

void add_handle(Image* image, HANDLE h, const char* call, void* site)
{
    if (image == nullptr || h == nullptr) return;
    Locked lock;
    if (Handle* slot = find_in(image->handles, [](const Handle& e) { return e.handle == nullptr; })) *slot = {h, call, site};
}

void add_reference(Image* image, PVOID object, void* site)
{
    if (image == nullptr || object == nullptr) return;
    Locked lock;
    if (Reference* r = find_in(image->refs, [&](const Reference& e) { return e.object == object && e.count > 0; })) {
        ++r->count;
        return;
    }
    if (Reference* r = find_in(image->refs, [](const Reference& e) { return e.count == 0; })) *r = {object, 1, site};
}

void drop_reference(Image* image, PVOID object)
{
    if (image == nullptr) return;
    Locked lock;
    if (Reference* r = find_in(image->refs, [&](const Reference& e) { return e.object == object && e.count > 0; })) --r->count;
}

// ------------------------------------------------------------------ pool

void track_allocation(Image* image, void* p, SIZE_T size, ULONG tag, POOL_TYPE type, void* site)
{
    if (p == nullptr || image == nullptr) return;
    Locked lock;
    ++image->c.allocations;
    for (void*& f : g_freed)
        if (f == p) f = nullptr; // the address is live again
    if (g_pool_count == kMaxPool) {
        ++g_pool_untracked;
        return;
    }
    g_pool[g_pool_count++] = {p, size, tag, type, site, image};
}

void check_pool_type(Image* image, POOL_TYPE type, ULONG tag, SIZE_T size, const char* call, void* site)
{
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "type=%d, size=%lu, tag=0x%08lx", static_cast<int>(type), static_cast<ULONG>(size), tag);
    // NonPagedPoolNx is 512; PagedPool and its variants (odd values) are no-execute from Windows 8
    // on. Anything else non-paged without the Nx bit is executable kernel memory.
    if ((type & 512) == 0 && (type & 1) == 0)
        violation(image, "POOL_EXECUTABLE", call, args, site, "(use NonPagedPoolNx)");
    if (tag == 0) violation(image, "POOL_TAG_ZERO", call, args, site, "(a pool tag names the owner in leak reports)");
}

PVOID NTAPI vf_ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    Image* image = caller_image(RA);
    check_pool_type(image, type, tag, size, "ExAllocatePoolWithTag", RA);
    if (g_pool2_exists) warning(image, "DEPRECATED_CALL", "ExAllocatePoolWithTag", RA, "(ExAllocatePool2 exists on this kernel)");
    if (inject(image, "ExAllocatePoolWithTag")) return nullptr;
    PVOID p = ExAllocatePoolWithTag(type, size, tag);
    track_allocation(image, p, size, tag, type, RA);
    return p;
}

PVOID NTAPI vf_ExAllocatePoolWithQuotaTag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    Image* image = caller_image(RA);
    check_pool_type(image, type, tag, size, "ExAllocatePoolWithQuotaTag", RA);
    if (inject(image, "ExAllocatePoolWithQuotaTag")) return nullptr;
    PVOID p = ExAllocatePoolWithQuotaTag(type, size, tag);
    track_allocation(image, p, size, tag, type, RA);
    return p;
}

PVOID NTAPI vf_ExAllocatePool(POOL_TYPE type, SIZE_T size)
{
    Image* image = caller_image(RA);
    check_pool_type(image, type, kNoneTag, size, "ExAllocatePool", RA); // Windows tags these 'None'
    warning(image, "DEPRECATED_CALL", "ExAllocatePool", RA, "(untagged; use ExAllocatePoolWithTag or ExAllocatePool2)");
    if (inject(image, "ExAllocatePool")) return nullptr;
    PVOID p = ExAllocatePool(type, size);
    track_allocation(image, p, size, kNoneTag, type, RA);
    return p;
}

// true: forward the free. A second free of the same block is reported and dropped (forwarding it
// would corrupt Wine's heap and end the host).
bool untrack_free(Image* image, void* p, ULONG tag, bool tagged, const char* call, void* site)
{
    if (p == nullptr) {
        violation(image, "POOL_FREE_NULL", call, "NULL", site);
        return false;
    }
    bool double_free = false, wrong_tag = false;
    ULONG had_tag = 0;
    {
        Locked lock;
        for (unsigned i = 0; i < g_pool_count; ++i)
            if (g_pool[i].p == p) {
                had_tag = g_pool[i].tag;
                wrong_tag = tagged && had_tag != tag;
                if (g_pool[i].image != nullptr) ++g_pool[i].image->c.frees;
                g_pool[i] = g_pool[--g_pool_count];
                g_freed[g_freed_next++ % kMaxFreed] = p;
                goto done;
            }
        for (void* f : g_freed)
            if (f == p) double_free = true;
    done:;
    }
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "%p, tag=0x%08lx", p, tag);
    if (double_free) {
        violation(image, "POOL_DOUBLE_FREE", call, args, site, "(block already freed; this free was dropped)");
        return false;
    }
    if (wrong_tag) {
        char detail[48];
        RtlStringCbPrintfA(detail, sizeof detail, "(allocated with tag 0x%08lx)", had_tag);
        violation(image, "POOL_TAG_MISMATCH", call, args, site, detail);
    }
    return true;
}

VOID NTAPI vf_ExFreePoolWithTag(PVOID p, ULONG tag)
{
    Image* image = caller_image(RA);
    if (untrack_free(image, p, tag, true, "ExFreePoolWithTag", RA)) ExFreePoolWithTag(p, tag);
}

VOID NTAPI vf_ExFreePool(PVOID p)
{
    Image* image = caller_image(RA);
    if (untrack_free(image, p, 0, false, "ExFreePool", RA)) ExFreePool(p);
}

// ------------------------------------------------------------------ ProbeForRead / ProbeForWrite

// What a kernel address is here: beyond MmUserProbeAddress (as on Windows), or inside memory the
// verifier knows to be kernel memory in a real kernel: a tracked pool block or a verified image
// (its code, data, and read-only data), or this verifier itself.
bool touches_kernel(ULONG_PTR start, ULONG_PTR end, const char** what)
{
    if (end < start || end > kUserProbeAddress) {
        *what = "above MmUserProbeAddress";
        return true;
    }
    for (unsigned i = 0; i < g_pool_count; ++i) {
        auto p = reinterpret_cast<ULONG_PTR>(g_pool[i].p);
        if (start < p + g_pool[i].size && p < end) {
            *what = "kernel pool";
            return true;
        }
    }
    for (const Image& i : g_images) {
        auto b = reinterpret_cast<ULONG_PTR>(i.base);
        if (i.used && start < b + i.size && b < end) {
            *what = "a driver image";
            return true;
        }
    }
    auto self = reinterpret_cast<ULONG_PTR>(g_self_base);
    if (start < self + g_self_size && self < end) {
        *what = "a driver image";
        return true;
    }
    return false;
}

// Marks the innermost IRP this thread is dispatching as probed where the range covers its
// METHOD_NEITHER buffers.
void mark_probed(ULONG_PTR start, ULONG_PTR end)
{
    const HANDLE thread = PsGetCurrentThreadId();
    IrpEntry* innermost = nullptr;
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.in_dispatch && e.thread == thread && (innermost == nullptr || e.order > innermost->order))
            innermost = &e;
    if (innermost == nullptr) return;
    // Probes of a buffer's parts in turn add up, as long as they leave no gap from its start.
    auto cover = [&](void* p, ULONG length, ULONG& covered) {
        const auto b = reinterpret_cast<ULONG_PTR>(p);
        if (p == nullptr || start > b + covered || end <= b + covered) return;
        covered = end - b >= length ? length : static_cast<ULONG>(end - b);
    };
    cover(innermost->in, innermost->in_len, innermost->in_probed);
    cover(innermost->out, innermost->out_len, innermost->out_probed);
}

void probe(const char* call, const volatile void* address, SIZE_T length, ULONG alignment, void* site)
{
    Image* image = caller_image(site);
    if (image != nullptr) InterlockedIncrement(reinterpret_cast<LONG*>(&image->c.probes));
    if (length == 0) return; // Windows checks nothing for an empty range
    if (alignment == 0) alignment = 1;
    const auto start = reinterpret_cast<ULONG_PTR>(address);
    const ULONG_PTR end = start + length;
    NTSTATUS raise = STATUS_SUCCESS;
    const char* what = "misaligned";
    {
        Locked lock;
        if ((start & (alignment - 1)) != 0)
            raise = STATUS_DATATYPE_MISALIGNMENT;
        else if (touches_kernel(start, end, &what))
            raise = STATUS_ACCESS_VIOLATION;
        else
            mark_probed(start, end);
        if (raise != STATUS_SUCCESS && image != nullptr) ++image->c.probes_rejected;
    }
    if (raise == STATUS_SUCCESS) return;
    DbgPrint("kmdverify: PROBE driver=%ws call=%s(%p, %lu, %lu) at=%s raised 0x%08lx (%s)\n", image ? image->name : L"?", call,
             const_cast<void*>(address), static_cast<ULONG>(length), alignment, site_text(site).text, static_cast<ULONG>(raise), what);
    // Caught by the driver's __except, as on Windows. Not ExRaiseStatus: Wine 8 exports it as an
    // unimplemented stub, which raises 0x80000100 (EXCEPTION_WINE_STUB) instead of the status.
    RtlRaiseStatus(raise);
}

VOID NTAPI vf_ProbeForRead(const volatile VOID* address, SIZE_T length, ULONG alignment)
{
    probe("ProbeForRead", address, length, alignment, RA);
}

VOID NTAPI vf_ProbeForWrite(volatile VOID* address, SIZE_T length, ULONG alignment)
{
    probe("ProbeForWrite", address, length, alignment, RA);
}

// ------------------------------------------------------------------ IRPs

// The entry of the driver that owns `irp` now (dispatched and not handed on); nullptr finds a free slot.
IrpEntry* find_irp(PIRP irp)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && !e.forwarded) return &e;
    return nullptr;
}

// The entry of one dispatch call, by its order.
IrpEntry* find_dispatch(PIRP irp, ULONG64 order)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && e.order == order) return &e;
    return nullptr;
}

// `image`'s entry for an IRP it handed on and may complete again once its completion routine has
// stopped the completion (STATUS_MORE_PROCESSING_REQUIRED).
IrpEntry* find_forwarded(PIRP irp, const Image* image)
{
    for (IrpEntry& e : g_irps)
        if (e.irp == irp && e.forwarded && e.image == image) return &e;
    return nullptr;
}

CompletedIrp* find_completed(PIRP irp)
{
    for (CompletedIrp& e : g_completed)
        if (e.irp == irp) return &e;
    return nullptr;
}

const char* method_name(ULONG m)
{
    static const char* const names[] = {"BUFFERED", "IN_DIRECT", "OUT_DIRECT", "NEITHER"};
    return names[m & 3];
}

// The test interleaving's point in a completion (see g_race_order): only on another thread than
// the dispatch routine's, which would otherwise wait for itself.
bool race_point(const IrpEntry& entry, ULONG order)
{
    return g_race_order == order && entry.major == IRP_MJ_DEVICE_CONTROL && entry.code == g_race_code &&
           entry.thread != PsGetCurrentThreadId();
}

VOID FASTCALL vf_IofCompleteRequest(PIRP irp, CCHAR boost)
{
    void* site = RA;
    Image* image = caller_image(site);
    IrpEntry entry{};
    bool tracked = false, twice = false;
    {
        IrpEntry peek{};
        {
            Locked lock;
            if (IrpEntry* e = find_irp(irp)) peek = *e;
        }
        if (race_point(peek, 2)) {
            LARGE_INTEGER wait;
            wait.QuadPart = kRaceWait;
            KeWaitForSingleObject(&g_race_looked_up, Executive, KernelMode, FALSE, &wait);
        }
    }
    {
        // One critical section takes the IRP out of the owned table and records it completed, with
        // the IoMarkIrpPending flag as it is now, before the real IoCompleteRequest (which clears the
        // stack's Control): a dispatch return judging it meanwhile finds it in one table or the other.
        Locked lock;
        IrpEntry* e = find_irp(irp);
        if (e == nullptr) e = find_forwarded(irp, image); // the caller got it back from a lower driver
        if (e != nullptr) {
            entry = *e;
            *e = IrpEntry{};
            tracked = true;
            g_completed[g_completed_next++ % kMaxCompleted] = {irp, entry.image,
                                                               (IoGetCurrentIrpStackLocation(irp)->Control & SL_PENDING_RETURNED) != 0};
        } else if (find_completed(irp) != nullptr) {
            twice = true;
        }
    }
    if (tracked && race_point(entry, 1)) KeSetEvent(&g_race_removed, IO_NO_INCREMENT, FALSE);
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p", irp);
    if (twice) {
        // The IRP may already be freed: touch nothing of it, and do not forward.
        violation(image, "IRP_DOUBLE_COMPLETE", "IoCompleteRequest", args, site, "(completed before; this completion was dropped)");
        return;
    }
    if (tracked) {
        PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
        const NTSTATUS status = irp->IoStatus.Status;
        if ((entry.major == IRP_MJ_DEVICE_CONTROL || entry.major == IRP_MJ_INTERNAL_DEVICE_CONTROL) && entry.method != METHOD_NEITHER &&
            irp->IoStatus.Information > entry.out_len) {
            char detail[112];
            RtlStringCbPrintfA(detail, sizeof detail, "(Information=%lu > OutputBufferLength=%lu, METHOD_%s; clamped)",
                               static_cast<ULONG>(irp->IoStatus.Information), entry.out_len, method_name(entry.method));
            RtlStringCbPrintfA(args, sizeof args, "irp=%p, code=0x%08lx", irp, stack->Parameters.DeviceIoControl.IoControlCode);
            violation(entry.image, "IRP_INFORMATION_TOO_LARGE", "IoCompleteRequest", args, site, detail);
            irp->IoStatus.Information = entry.out_len;
        }
        if (entry.major == IRP_MJ_DEVICE_CONTROL && entry.method == METHOD_NEITHER && entry.user_mode && NT_SUCCESS(status)) {
            // A request that succeeded had the use of both raw buffers. The output must have been
            // probed whole (ProbeForWrite; parts add up) during its dispatch. So must the input once
            // the driver probed any of it (a probe of the wrong length); an input never probed at all
            // is a warning only: whether the driver read it cannot be seen from outside, and a
            // request may ignore its input (skeleton.sys's SAY_HELLO does).
            const struct { void* p; ULONG len; ULONG probed; const char* name; const char* probe; bool output; } buffers[] = {
                {entry.in, entry.in_len, entry.in_probed, "Type3InputBuffer", "ProbeForRead", false},
                {entry.out, entry.out_len, entry.out_probed, "UserBuffer", "ProbeForWrite", true}};
            for (const auto& b : buffers) {
                if (b.p == nullptr || b.len == 0 || b.probed >= b.len) continue;
                char detail[160];
                RtlStringCbPrintfA(detail, sizeof detail, "(UserMode METHOD_NEITHER %s %p, %lu bytes, %lu of them covered by %s; Information=%lu)",
                                   b.name, b.p, b.len, b.probed, b.probe, static_cast<ULONG>(irp->IoStatus.Information));
                RtlStringCbPrintfA(args, sizeof args, "irp=%p, code=0x%08lx", irp, stack->Parameters.DeviceIoControl.IoControlCode);
                if (b.output || b.probed != 0)
                    violation(entry.image, "UNPROBED_USER_BUFFER", "IoCompleteRequest", args, site, detail);
                else
                    warning(entry.image, "UNPROBED_INPUT", "IoCompleteRequest", site, detail);
            }
        }
        if (race_point(entry, 1)) {
            LARGE_INTEGER wait;
            wait.QuadPart = kRaceWait;
            KeWaitForSingleObject(&g_race_judged, Executive, KernelMode, FALSE, &wait);
        }
    }
    IofCompleteRequest(irp, boost);
    if (tracked && race_point(entry, 2)) KeSetEvent(&g_race_completed, IO_NO_INCREMENT, FALSE);
}

// A driver handing an IRP it owns to another driver gives it away: it is no longer this
// driver's to complete.
NTSTATUS FASTCALL vf_IofCallDriver(PDEVICE_OBJECT device, PIRP irp)
{
    caller_image(RA);
    {
        Locked lock;
        if (IrpEntry* e = find_irp(irp)) {
            e->forwarded = true;
            e->in_dispatch = false;
        }
    }
    return IofCallDriver(device, irp);
}

Image* image_of_driver(PDRIVER_OBJECT driver)
{
    return driver != nullptr ? image_at(driver->DriverStart) : nullptr;
}

NTSTATUS NTAPI vf_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    Image* image = image_of_driver(device->DriverObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    const UCHAR major = stack->MajorFunction;
    PDRIVER_DISPATCH real = image != nullptr && major <= IRP_MJ_MAXIMUM_FUNCTION ? image->real_major[major] : nullptr;
    if (real == nullptr) { // only slots with a real routine are redirected here: an unloaded image's device?
        const ULONG unmapped = static_cast<ULONG>(InterlockedIncrement(reinterpret_cast<LONG*>(&g_unmapped)));
        DbgPrint("kmdverify: UNMAPPED irp=%p major=0x%x device=%p driver_object=%p count=%lu (no verified driver owns it: "
                 "completed with STATUS_INVALID_DEVICE_REQUEST)\n", irp, major, device, device->DriverObject, unmapped);
        irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
        IofCompleteRequest(irp, IO_NO_INCREMENT);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    IrpEntry e{};
    e.irp = irp;
    e.image = image;
    e.thread = PsGetCurrentThreadId();
    e.in_dispatch = true;
    e.user_mode = irp->RequestorMode != KernelMode;
    e.location = irp->CurrentLocation;
    e.major = major;
    if (major == IRP_MJ_DEVICE_CONTROL || major == IRP_MJ_INTERNAL_DEVICE_CONTROL) {
        const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
        e.code = code;
        e.method = METHOD_FROM_CTL_CODE(code);
        e.out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
        if (e.method == METHOD_NEITHER) {
            e.in = stack->Parameters.DeviceIoControl.Type3InputBuffer;
            e.in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
            e.out = irp->UserBuffer;
        }
    }
    // The front end counts these: a request it sent that no line shows never reached the driver.
    DbgPrint("kmdverify: IRP driver=%ws major=0x%x code=0x%08lx\n", image->name, major, e.code);
    const bool race = g_race_order != 0 && e.code == g_race_code && e.major == IRP_MJ_DEVICE_CONTROL;
    if (race) {
        KeClearEvent(&g_race_judged);
        KeClearEvent(&g_race_completed);
        KeClearEvent(&g_race_looked_up);
        KeClearEvent(&g_race_removed);
    }
    bool tracked = false;
    {
        Locked lock;
        ++image->c.irps;
        if (CompletedIrp* old = find_completed(irp)) *old = CompletedIrp{}; // the address is a new IRP now
        // Entries of an IRP at this address on this level or above are of an earlier IRP (one that
        // was forwarded and never given back); a forwarded one below us is this IRP, in flight.
        for (IrpEntry& stale : g_irps)
            if (stale.irp == irp && stale.location <= e.location) stale = IrpEntry{};
        e.order = ++g_order;
        if (IrpEntry* slot = find_irp(nullptr)) {
            *slot = e;
            tracked = true;
        }
    }
    NTSTATUS status;
    {
        RunningImage running(image);
        status = real(device, irp);
    }
    if (!tracked) return status;
    if (race && g_race_order == 1 && status == STATUS_PENDING) {
        LARGE_INTEGER wait;
        wait.QuadPart = kRaceWait;
        KeWaitForSingleObject(&g_race_removed, Executive, KernelMode, FALSE, &wait);
    }

    bool still_owned = false, forwarded = false, marked = true;
    {
        // Judged from what is read here, under the lock: once it is released, a completion on
        // another thread may run the real IoCompleteRequest, which clears the stack's Control.
        Locked lock;
        if (IrpEntry* mine = find_dispatch(irp, e.order)) {
            if (mine->forwarded) {
                forwarded = true;
                if (status != STATUS_PENDING) *mine = IrpEntry{}; // done with it: it will not come back to us
            } else {
                mine->in_dispatch = false;
                still_owned = true;
                marked = (stack->Control & SL_PENDING_RETURNED) != 0;
            }
        } else if (CompletedIrp* done = find_completed(irp)) {
            marked = done->marked_pending;
        }
    }
    if (race && g_race_order == 2 && status == STATUS_PENDING) {
        KeSetEvent(&g_race_looked_up, IO_NO_INCREMENT, FALSE);
        LARGE_INTEGER wait;
        wait.QuadPart = kRaceWait;
        KeWaitForSingleObject(&g_race_completed, Executive, KernelMode, FALSE, &wait);
    }
    char args[64];
    RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", irp, major);
    if (still_owned && status != STATUS_PENDING)
        violation(image, "IRP_NOT_COMPLETED", "DispatchRoutine", args, reinterpret_cast<void*>(real),
                  "(returned without completing, forwarding or pending the IRP)");
    // A forwarded IRP's STATUS_PENDING is the lower driver's (return IoCallDriver(...)).
    if (status == STATUS_PENDING && !forwarded && !marked)
        violation(image, "PENDING_WITHOUT_MARK", "DispatchRoutine", args, reinterpret_cast<void*>(real),
                  "(returned STATUS_PENDING without IoMarkIrpPending)");
    if (race) KeSetEvent(&g_race_judged, IO_NO_INCREMENT, FALSE);
    return status;
}

// ------------------------------------------------------------------ devices, links, handles, references

NTSTATUS NTAPI vf_IoCreateDevice(PDRIVER_OBJECT driver, ULONG ext, PUNICODE_STRING name, DEVICE_TYPE type, ULONG chars, BOOLEAN excl,
                                 PDEVICE_OBJECT* out)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoCreateDevice")) {
        *out = nullptr;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS status = IoCreateDevice(driver, ext, name, type, chars, excl, out);
    if (NT_SUCCESS(status) && image != nullptr) {
        Locked lock;
        if (Device* d = find_in(image->devices, [](const Device& e) { return e.object == nullptr; })) *d = {*out, RA};
    }
    return status;
}

VOID NTAPI vf_IoDeleteDevice(PDEVICE_OBJECT device)
{
    Image* image = caller_image(RA);
    if (image != nullptr) {
        Locked lock;
        if (Device* d = find_in(image->devices, [&](const Device& e) { return e.object == device && device != nullptr; })) *d = Device{};
    }
    IoDeleteDevice(device);
}

void add_link(Image* image, PUNICODE_STRING link, void* site)
{
    if (image == nullptr || link == nullptr) return;
    Locked lock;
    if (Link* l = find_in(image->links, [](const Link& e) { return e.length == 0; })) {
        const USHORT n = link->Length < sizeof l->name ? link->Length : sizeof l->name;
        RtlCopyMemory(l->name, link->Buffer, n);
        l->length = n;
        l->site = site;
    }
}

NTSTATUS NTAPI vf_IoCreateSymbolicLink(PUNICODE_STRING link, PUNICODE_STRING target)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoCreateSymbolicLink")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCreateSymbolicLink(link, target);
    if (NT_SUCCESS(status)) add_link(image, link, RA);
    return status;
}

NTSTATUS NTAPI vf_IoCreateUnprotectedSymbolicLink(PUNICODE_STRING link, PUNICODE_STRING target)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoCreateUnprotectedSymbolicLink")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCreateUnprotectedSymbolicLink(link, target);
    if (NT_SUCCESS(status)) add_link(image, link, RA);
    return status;
}

NTSTATUS NTAPI vf_IoDeleteSymbolicLink(PUNICODE_STRING link)
{
    Image* image = caller_image(RA);
    NTSTATUS status = IoDeleteSymbolicLink(link);
    if (NT_SUCCESS(status) && image != nullptr && link != nullptr) {
        Locked lock;
        for (Link& l : image->links) {
            UNICODE_STRING mine{l.length, l.length, l.name};
            if (l.length != 0 && RtlEqualUnicodeString(&mine, link, TRUE)) {
                l = Link{};
                break;
            }
        }
    }
    return status;
}

NTSTATUS NTAPI vf_ZwClose(HANDLE h)
{
    Image* image = caller_image(RA);
    if (image != nullptr) {
        Locked lock;
        if (Handle* slot = find_in(image->handles, [&](const Handle& e) { return e.handle == h && h != nullptr; })) *slot = Handle{};
    }
    return ZwClose(h);
}

NTSTATUS NTAPI vf_ObOpenObjectByPointer(PVOID object, ULONG attributes, PACCESS_STATE state, ACCESS_MASK access, POBJECT_TYPE type,
                                        KPROCESSOR_MODE mode, PHANDLE out)
{
    Image* image = caller_image(RA);
    if (inject(image, "ObOpenObjectByPointer")) return STATUS_INSUFFICIENT_RESOURCES;
    // Without a type the object manager opens whatever the pointer points at: a driver that means
    // a device (or a file, a thread...) must say so, as Driver Verifier's handle checks expect.
    if (type == nullptr) violation(image, "OBJECT_TYPE_NOT_GIVEN", "ObOpenObjectByPointer", "type=NULL", RA,
                                   "(pass *IoDeviceObjectType, *IoFileObjectType, ... for the object meant)");
    NTSTATUS status = ObOpenObjectByPointer(object, attributes, state, access, type, mode, out);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ObOpenObjectByPointer", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwSetSecurityObject(HANDLE h, SECURITY_INFORMATION info, PSECURITY_DESCRIPTOR sd)
{
    Image* image = caller_image(RA);
    if (inject(image, "ZwSetSecurityObject")) return STATUS_INSUFFICIENT_RESOURCES;
    return ZwSetSecurityObject(h, info, sd);
}

NTSTATUS NTAPI vf_ZwOpenKey(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes)
{
    Image* image = caller_image(RA);
    if (inject(image, "ZwOpenKey")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwOpenKey(out, access, attributes);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwOpenKey", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwCreateKey(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, ULONG index, PUNICODE_STRING cls,
                              ULONG options, PULONG disposition)
{
    Image* image = caller_image(RA);
    if (inject(image, "ZwCreateKey")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwCreateKey(out, access, attributes, index, cls, options, disposition);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwCreateKey", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwCreateFile(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, PIO_STATUS_BLOCK iosb,
                               PLARGE_INTEGER size, ULONG file_attributes, ULONG share, ULONG disposition, ULONG options, PVOID ea,
                               ULONG ea_length)
{
    Image* image = caller_image(RA);
    if (inject(image, "ZwCreateFile")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwCreateFile(out, access, attributes, iosb, size, file_attributes, share, disposition, options, ea, ea_length);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwCreateFile", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwOpenFile(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, PIO_STATUS_BLOCK iosb, ULONG share,
                             ULONG options)
{
    Image* image = caller_image(RA);
    if (inject(image, "ZwOpenFile")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwOpenFile(out, access, attributes, iosb, share, options);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwOpenFile", RA);
    return status;
}

NTSTATUS NTAPI vf_PsCreateSystemThread(PHANDLE out, ULONG access, POBJECT_ATTRIBUTES attributes, HANDLE process, PCLIENT_ID client,
                                       PKSTART_ROUTINE start, PVOID context)
{
    Image* image = caller_image(RA);
    if (inject(image, "PsCreateSystemThread")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = PsCreateSystemThread(out, access, attributes, process, client, start, context);
    if (NT_SUCCESS(status)) add_handle(image, *out, "PsCreateSystemThread", RA);
    return status;
}

PMDL NTAPI vf_IoAllocateMdl(PVOID va, ULONG length, BOOLEAN secondary, BOOLEAN charge, PIRP irp)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoAllocateMdl")) return nullptr;
    return IoAllocateMdl(va, length, secondary, charge, irp);
}

NTSTATUS NTAPI vf_ObReferenceObjectByHandle(HANDLE h, ACCESS_MASK access, POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID* object,
                                            POBJECT_HANDLE_INFORMATION info)
{
    Image* image = caller_image(RA);
    if (inject(image, "ObReferenceObjectByHandle")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ObReferenceObjectByHandle(h, access, type, mode, object, info);
    if (NT_SUCCESS(status)) add_reference(image, *object, RA);
    return status;
}

NTSTATUS NTAPI vf_ObReferenceObjectByName(PUNICODE_STRING name, ULONG attributes, PACCESS_STATE state, ACCESS_MASK access,
                                          POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID parse, PVOID* object)
{
    Image* image = caller_image(RA);
    if (inject(image, "ObReferenceObjectByName")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ObReferenceObjectByName(name, attributes, state, access, type, mode, parse, object);
    if (NT_SUCCESS(status)) add_reference(image, *object, RA);
    return status;
}

LONG_PTR FASTCALL vf_ObfReferenceObject(PVOID object)
{
    add_reference(caller_image(RA), object, RA);
    return ObfReferenceObject(object);
}

LONG_PTR FASTCALL vf_ObfDereferenceObject(PVOID object)
{
    drop_reference(caller_image(RA), object);
    return ObfDereferenceObject(object);
}

VOID NTAPI vf_ObDereferenceObject(PVOID object)
{
    drop_reference(caller_image(RA), object);
    ObfDereferenceObject(object);
}

// ------------------------------------------------------------------ the import table

PVOID NTAPI vf_MmGetSystemRoutineAddress(PUNICODE_STRING name);

struct Wrapper {
    const char* name;
    void* wrapper;
};

// ObDereferenceObject is a macro in the DDK headers; its wrapper is taken through a cast.
const Wrapper kWrappers[] = {
    {"ExAllocatePool", reinterpret_cast<void*>(vf_ExAllocatePool)},
    {"ExAllocatePoolWithTag", reinterpret_cast<void*>(vf_ExAllocatePoolWithTag)},
    {"ExAllocatePoolWithQuotaTag", reinterpret_cast<void*>(vf_ExAllocatePoolWithQuotaTag)},
    {"ExFreePool", reinterpret_cast<void*>(vf_ExFreePool)},
    {"ExFreePoolWithTag", reinterpret_cast<void*>(vf_ExFreePoolWithTag)},
    {"ProbeForRead", reinterpret_cast<void*>(vf_ProbeForRead)},
    {"ProbeForWrite", reinterpret_cast<void*>(vf_ProbeForWrite)},
    {"IofCompleteRequest", reinterpret_cast<void*>(vf_IofCompleteRequest)},
    {"IoCompleteRequest", reinterpret_cast<void*>(vf_IofCompleteRequest)},
    {"IofCallDriver", reinterpret_cast<void*>(vf_IofCallDriver)},
    {"IoCallDriver", reinterpret_cast<void*>(vf_IofCallDriver)},
    {"IoCreateDevice", reinterpret_cast<void*>(vf_IoCreateDevice)},
    {"IoDeleteDevice", reinterpret_cast<void*>(vf_IoDeleteDevice)},
    {"IoCreateSymbolicLink", reinterpret_cast<void*>(vf_IoCreateSymbolicLink)},
    {"IoCreateUnprotectedSymbolicLink", reinterpret_cast<void*>(vf_IoCreateUnprotectedSymbolicLink)},
    {"IoDeleteSymbolicLink", reinterpret_cast<void*>(vf_IoDeleteSymbolicLink)},
    {"ZwClose", reinterpret_cast<void*>(vf_ZwClose)},
    {"ObOpenObjectByPointer", reinterpret_cast<void*>(vf_ObOpenObjectByPointer)},
    {"ZwSetSecurityObject", reinterpret_cast<void*>(vf_ZwSetSecurityObject)},
    {"ZwOpenKey", reinterpret_cast<void*>(vf_ZwOpenKey)},
    {"ZwCreateKey", reinterpret_cast<void*>(vf_ZwCreateKey)},
    {"ZwCreateFile", reinterpret_cast<void*>(vf_ZwCreateFile)},
    {"ZwOpenFile", reinterpret_cast<void*>(vf_ZwOpenFile)},
    {"PsCreateSystemThread", reinterpret_cast<void*>(vf_PsCreateSystemThread)},
    {"IoAllocateMdl", reinterpret_cast<void*>(vf_IoAllocateMdl)},
    {"ObReferenceObjectByHandle", reinterpret_cast<void*>(vf_ObReferenceObjectByHandle)},
    {"ObReferenceObjectByName", reinterpret_cast<void*>(vf_ObReferenceObjectByName)},
    {"ObfReferenceObject", reinterpret_cast<void*>(vf_ObfReferenceObject)},
    {"ObfDereferenceObject", reinterpret_cast<void*>(vf_ObfDereferenceObject)},
    {"ObDereferenceObject", reinterpret_cast<void*>(vf_ObDereferenceObject)},
    {"MmGetSystemRoutineAddress", reinterpret_cast<void*>(vf_MmGetSystemRoutineAddress)},
};

void* wrapper_for(const char* name)
{
    for (const Wrapper& w : kWrappers) {
        const char* a = w.name;
        const char* b = name;
        while (*a != 0 && *a == *b) ++a, ++b;
        if (*a == 0 && *b == 0) return w.wrapper;
    }
    return nullptr;
}

// Routines resolved at run time get the same wrappers as imported ones.
PVOID NTAPI vf_MmGetSystemRoutineAddress(PUNICODE_STRING name)
{
    caller_image(RA);
    PVOID real = MmGetSystemRoutineAddress(name);
    if (real == nullptr || name == nullptr) return real;
    char ascii[64];
    const USHORT n = name->Length / sizeof(WCHAR);
    if (n >= sizeof ascii) return real;
    for (USHORT i = 0; i < n; ++i) ascii[i] = static_cast<char>(name->Buffer[i]);
    ascii[n] = 0;
    void* w = wrapper_for(ascii);
    return w != nullptr ? w : real;
}

// Writes one pointer into the loaded image, whatever the page's protection (Wine maps the IAT
// read-only once imports are bound, as Windows does).
bool write_image(void* where, const void* what, SIZE_T bytes, ULONG protect)
{
    return kmd::winehost::write_image(ZwProtectVirtualMemory, where, what, bytes, protect);
}

IMAGE_NT_HEADERS64* nt_headers(char* base)
{
    auto* dos = reinterpret_cast<IMAGE_DOS_HEADER*>(base);
    return reinterpret_cast<IMAGE_NT_HEADERS64*>(base + dos->e_lfanew);
}

ULONG patch_imports(Image& image, ULONG* total)
{
    IMAGE_NT_HEADERS64* nt = nt_headers(image.base);
    const IMAGE_DATA_DIRECTORY& dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    ULONG patched = 0;
    *total = 0;
    if (dir.VirtualAddress == 0) return 0;
    for (auto* d = reinterpret_cast<IMAGE_IMPORT_DESCRIPTOR*>(image.base + dir.VirtualAddress); d->Name != 0; ++d) {
        if (d->OriginalFirstThunk == 0) continue; // names unknown once bound: nothing to match
        auto* names = reinterpret_cast<IMAGE_THUNK_DATA64*>(image.base + d->OriginalFirstThunk);
        auto* slots = reinterpret_cast<IMAGE_THUNK_DATA64*>(image.base + d->FirstThunk);
        for (; names->u1.AddressOfData != 0; ++names, ++slots) {
            ++*total;
            if (IMAGE_SNAP_BY_ORDINAL64(names->u1.Ordinal)) continue;
            auto* by_name = reinterpret_cast<IMAGE_IMPORT_BY_NAME*>(image.base + names->u1.AddressOfData);
            void* w = wrapper_for(reinterpret_cast<const char*>(by_name->Name));
            if (w == nullptr) continue;
            const ULONGLONG value = reinterpret_cast<ULONGLONG>(w);
            if (write_image(&slots->u1.Function, &value, sizeof value, PAGE_READWRITE)) ++patched;
        }
    }
    return patched;
}

NTSTATUS NTAPI verified_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

// Points the image's entry at verified_entry (kit/winehost/image_patch.hpp says how).
bool redirect_entry(Image& image)
{
    image.real_entry = kmd::winehost::redirect_entry(ZwProtectVirtualMemory, image.base, kStub, verified_entry);
    return image.real_entry != nullptr;
}

ULONG read_param(const WCHAR* name)
{
    UNICODE_STRING key_name;
    RtlInitUnicodeString(&key_name, g_params_key);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &key_name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, nullptr, nullptr);
    HANDLE key = nullptr;
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_QUERY_VALUE, &oa))) return 0;
    UNICODE_STRING value_name;
    RtlInitUnicodeString(&value_name, name);
    union {
        KEY_VALUE_PARTIAL_INFORMATION info;
        UCHAR bytes[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 8];
    } buffer{};
    ULONG got = 0, fault_at = 0;
    if (NT_SUCCESS(ZwQueryValueKey(key, &value_name, KeyValuePartialInformation, &buffer, sizeof buffer, &got)) &&
        buffer.info.Type == REG_DWORD && buffer.info.DataLength == sizeof(ULONG))
        RtlCopyMemory(&fault_at, buffer.info.Data, sizeof fault_at);
    ZwClose(key);
    return fault_at;
}

VOID NTAPI on_image_load(PUNICODE_STRING full_name, HANDLE, PIMAGE_INFO info)
{
    char* base = static_cast<char*>(info->ImageBase);
    if (!info->SystemModeImage || base == g_self_base) return;
    Image* image = nullptr;
    {
        Locked lock;
        image = image_at(base);
        if (image == nullptr)
            for (Image& i : g_images)
                if (!i.used) {
                    image = &i;
                    break;
                }
        if (image == nullptr) {
            DbgPrint("kmdverify: ERROR more than %u verified images; %.*ws runs unverified\n", kMaxImages,
                     static_cast<int>(full_name->Length / sizeof(WCHAR)), full_name->Buffer);
            return;
        }
        RtlZeroMemory(image, sizeof *image); // no Image temporary: it is kilobytes, kernel stacks are small
        image->used = true;
        image->base = base;
        image->size = info->ImageSize;
    }
    // The file name of the image: what a report calls the driver.
    USHORT start = full_name->Length / sizeof(WCHAR);
    while (start > 0 && full_name->Buffer[start - 1] != L'\\' && full_name->Buffer[start - 1] != L'/') --start;
    USHORT n = full_name->Length / sizeof(WCHAR) - start;
    if (n >= ARRAYSIZE(image->name)) n = ARRAYSIZE(image->name) - 1;
    RtlCopyMemory(image->name, full_name->Buffer + start, n * sizeof(WCHAR));
    image->name[n] = 0;
    // The kit's Wine host shim (kit/winehost) is part of the host, not a driver under test: it
    // loads after the verifier and wraps the verified drivers from outside.
    if (_wcsicmp(image->name, L"kmdhost.sys") == 0) {
        Locked lock;
        image->used = false;
        return;
    }
    image->fault_at = read_param(L"FaultAt");
    g_race_code = read_param(L"RaceCode");
    g_race_order = read_param(L"RaceOrder");

    ULONG imports = 0;
    const ULONG patched = patch_imports(*image, &imports);
    if (!redirect_entry(*image)) {
        DbgPrint("kmdverify: ERROR driver=%ws: no room for the entry stub; DriverEntry, dispatch and unload run unverified\n",
                 image->name);
        image->real_entry = nullptr;
    }
    DbgPrint("kmdverify: VERIFYING driver=%ws base=%p size=0x%lx imports=%lu wrapped=%lu fault_at=%lu\n", image->name, base,
             static_cast<ULONG>(image->size), imports, patched, image->fault_at);
}

// ------------------------------------------------------------------ entry, unload, leftovers

// Everything the driver still owns: reported (when `report`), then released by the verifier so
// that the host stays usable for the next start (Windows would keep the leak until reboot).
ULONG leftovers(Image& image, const char* phase)
{
    ULONG found = 0;
    char args[96];
    // Single-threaded here: DriverEntry has returned, or DriverUnload has, and the driver has no
    // request in flight that could allocate.
    for (unsigned i = 0; i < g_pool_count;) {
        PoolEntry e = g_pool[i];
        if (e.image != &image) {
            ++i;
            continue;
        }
        char tag[5] = {};
        RtlCopyMemory(tag, &e.tag, 4);
        for (char& ch : tag)
            if (ch != 0 && (ch < 0x20 || ch > 0x7e)) ch = '.';
        RtlStringCbPrintfA(args, sizeof args, "tag='%s' (0x%08lx), size=%lu, type=%d", tag, e.tag, static_cast<ULONG>(e.size),
                           static_cast<int>(e.type));
        violation(&image, "POOL_LEAK", "ExAllocatePool*", args, e.site, phase);
        g_pool[i] = g_pool[--g_pool_count];
        ExFreePool(e.p);
        ++found;
    }
    for (Link& l : image.links)
        if (l.length != 0) {
            UNICODE_STRING name{l.length, l.length, l.name};
            RtlStringCbPrintfA(args, sizeof args, "%.*ws", static_cast<int>(l.length / sizeof(WCHAR)), l.name);
            violation(&image, "LINK_LEAK", "IoCreateSymbolicLink", args, l.site, phase);
            IoDeleteSymbolicLink(&name);
            l = Link{};
            ++found;
        }
    for (Device& d : image.devices)
        if (d.object != nullptr) {
            RtlStringCbPrintfA(args, sizeof args, "device=%p", d.object);
            violation(&image, "DEVICE_LEAK", "IoCreateDevice", args, d.site, phase);
            IoDeleteDevice(d.object);
            d = Device{};
            ++found;
        }
    for (Handle& h : image.handles)
        if (h.handle != nullptr) {
            RtlStringCbPrintfA(args, sizeof args, "handle=%p", h.handle);
            violation(&image, "HANDLE_LEAK", h.call, args, h.site, phase);
            ZwClose(h.handle);
            h = Handle{};
            ++found;
        }
    for (Reference& r : image.refs)
        if (r.count > 0) {
            RtlStringCbPrintfA(args, sizeof args, "object=%p, count=%ld", r.object, r.count);
            violation(&image, "REFERENCE_LEAK", "ObReferenceObject*", args, r.site, phase);
            while (r.count-- > 0) ObfDereferenceObject(r.object);
            r = Reference{};
            ++found;
        }
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.image == &image && e.forwarded) e = IrpEntry{}; // handed on, not the driver's
    for (IrpEntry& e : g_irps)
        if (e.irp != nullptr && e.image == &image) {
            RtlStringCbPrintfA(args, sizeof args, "irp=%p, major=0x%x", e.irp, e.major);
            violation(&image, "IRP_PENDING_AT_UNLOAD", "DispatchRoutine", args, nullptr, phase);
            e = IrpEntry{};
            ++found;
        }
    return found;
}

void summary(Image& image, const char* phase)
{
    const Counters& c = image.c;
    DbgPrint("kmdverify: SUMMARY driver=%ws phase=%s calls=%lu failable=%lu allocations=%lu frees=%lu probes=%lu rejected=%lu irps=%lu "
             "violations=%lu warnings=%lu untracked=%lu unmapped=%lu\n",
             image.name, phase, c.calls, c.failable, c.allocations, c.frees, c.probes, c.probes_rejected, c.irps, c.violations,
             c.warnings, g_pool_untracked, g_unmapped);
}

void release_image(Image& image)
{
    Locked lock;
    for (CompletedIrp& e : g_completed)
        if (e.image == &image) e = CompletedIrp{};
    RtlZeroMemory(&image, sizeof image);
}

VOID NTAPI verified_unload(PDRIVER_OBJECT driver)
{
    Image* image = image_of_driver(driver);
    if (image == nullptr || image->real_unload == nullptr) return;
    {
        RunningImage running(image);
        image->real_unload(driver);
    }
    leftovers(*image, "(at unload)");
    summary(*image, "unload");
    release_image(*image);
}

NTSTATUS NTAPI verified_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    Image* image = image_of_driver(driver);
    if (image == nullptr || image->real_entry == nullptr) return STATUS_DRIVER_INTERNAL_ERROR;
    image->driver = driver;
    image->failable_seen = 0;
    image->injected = nullptr;
    image->in_entry = true;
    NTSTATUS status;
    {
        RunningImage running(image);
        status = image->real_entry(driver, registry_path);
    }
    image->in_entry = false;
    ULONG devices = 0;
    for (const Device& d : image->devices)
        if (d.object != nullptr) ++devices;
    DbgPrint("kmdverify: ENTRY driver=%ws status=0x%08lx failable=%lu fault_at=%lu injected=%s devices=%lu\n", image->name,
             static_cast<ULONG>(status), image->failable_seen, image->fault_at, image->injected ? image->injected : "-", devices);
    // The devices and links the driver made, so the front end finds them whatever they are named,
    // and sweeps the IOCTL codes of each device's type.
    if (NT_SUCCESS(status))
        for (const Device& d : image->devices)
            if (d.object != nullptr)
                DbgPrint("kmdverify: DEVICE driver=%ws type=0x%lx\n", image->name, static_cast<ULONG>(d.object->DeviceType));
    if (NT_SUCCESS(status))
        for (const Link& l : image->links)
            if (l.length != 0)
                DbgPrint("kmdverify: LINK driver=%ws name=%.*ws\n", image->name, static_cast<int>(l.length / sizeof(WCHAR)), l.name);
    if (!NT_SUCCESS(status)) {
        // Whatever is left now leaked on a failure path: Wine frees the driver object, nothing else.
        leftovers(*image, "(after DriverEntry failed)");
        summary(*image, "failed-entry");
        release_image(*image);
        return status;
    }
    // Only routines inside the image are wrapped: a slot still holding the I/O manager's default
    // is not the driver's code.
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) {
        PDRIVER_DISPATCH routine = driver->MajorFunction[i];
        if (routine == nullptr || image_at(reinterpret_cast<void*>(routine)) != image) continue;
        image->real_major[i] = routine;
        driver->MajorFunction[i] = vf_dispatch;
    }
    if (driver->DriverUnload != nullptr) {
        image->real_unload = driver->DriverUnload;
        driver->DriverUnload = verified_unload;
    }
    return status;
}

} // namespace

// ------------------------------------------------------------------ the verifier driver itself

extern "C" VOID NTAPI VerifierUnload(PDRIVER_OBJECT)
{
    PsRemoveLoadImageNotifyRoutine(on_image_load);
    for (const Image& i : g_images)
        if (i.used) DbgPrint("kmdverify: ERROR unloaded while %ws is still loaded: stop verified drivers first\n", i.name);
}

extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    KeInitializeSpinLock(&g_lock);
    KeInitializeEvent(&g_race_judged, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_completed, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_looked_up, NotificationEvent, FALSE);
    KeInitializeEvent(&g_race_removed, NotificationEvent, FALSE);
    g_self_base = static_cast<char*>(driver->DriverStart);
    g_self_size = driver->DriverSize;
    if (!NT_SUCCESS(RtlStringCbPrintfW(g_params_key, sizeof g_params_key, L"%.*ws\\Parameters",
                                         static_cast<int>(registry_path->Length / sizeof(WCHAR)), registry_path->Buffer)))
        return STATUS_NAME_TOO_LONG;
    UNICODE_STRING protect;
    RtlInitUnicodeString(&protect, L"ZwProtectVirtualMemory");
    ZwProtectVirtualMemory = reinterpret_cast<kmd::winehost::ZwProtectVirtualMemoryFn>(MmGetSystemRoutineAddress(&protect));
    UNICODE_STRING raise;
    RtlInitUnicodeString(&raise, L"RtlRaiseStatus");
    RtlRaiseStatus = reinterpret_cast<RtlRaiseStatusFn>(MmGetSystemRoutineAddress(&raise));
    if (ZwProtectVirtualMemory == nullptr || RtlRaiseStatus == nullptr) return STATUS_PROCEDURE_NOT_FOUND;
    UNICODE_STRING pool2;
    RtlInitUnicodeString(&pool2, L"ExAllocatePool2");
    g_pool2_exists = MmGetSystemRoutineAddress(&pool2) != nullptr;
    const NTSTATUS status = PsSetLoadImageNotifyRoutine(on_image_load);
    if (!NT_SUCCESS(status)) return status;
    driver->DriverUnload = VerifierUnload;
    DbgPrint("kmdverify: ready (%lu wrapped calls); drivers loaded into this host from now on are verified\n",
             static_cast<ULONG>(ARRAYSIZE(kWrappers)));
    return STATUS_SUCCESS;
}
