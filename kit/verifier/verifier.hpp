// verifier.hpp - what every check family of kmdverify.sys shares: the tables of verified images,
// pool, IRPs, the lock over them, and the reporting and attribution helpers. One file per check
// family includes it (docs/verifier.md, "Source layout"):
//
//   kmdverify.cpp  the verifier driver itself (DriverEntry, unload)
//   state.cpp      the shared tables; which verified image a call comes from
//   report.cpp     VIOLATION / WARNING / SUMMARY lines
//   faults.cpp     fault injection (the k-th failable call)
//   images.cpp     getting in: the load notify, the import table, the entry stub, the registry
//   lifecycle.cpp  DriverEntry / DriverUnload under the verifier, leftovers after them
//   pool.cpp       pool: leaks, double frees, tags, executable pool
//   special_pool.cpp  guard pages against every block, freed blocks kept inaccessible
//   probes.cpp     ProbeForRead / ProbeForWrite and user buffers
//   irps.cpp       IRPs: completion, pending, forwarding, the dispatch wrapper
//   objects.cpp    devices, links, handles, object references
//   irql.cpp       the IRQL model (spin locks) and the IRQL rules
//   routines.cpp   DPC and cancel routines, entered through trampolines at DISPATCH_LEVEL
//   prober.cpp     the control device that sends bad and kernel pointers to a verified driver's device
#pragma once

#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset
#include <ntifs.h>
#include <ntimage.h>
// mingw-w64's ntstrsafe.h is inline-only: at -O0 (__NO_INLINE__: `make debug`) it would only
// declare its functions, which no kernel library provides. __CRT_STRSAFE_IMPL makes it define them,
// in one file only (report.cpp defines KMDVERIFY_DEFINES_STRSAFE), or they are defined twice.
#if defined(__NO_INLINE__) && defined(KMDVERIFY_DEFINES_STRSAFE)
#define __CRT_STRSAFE_IMPL
#endif
#include <ntstrsafe.h>

#include "../winehost/image_patch.hpp" // the entry stub and image writes, shared with kmdhost.sys
#include "../winehost/spin_lock_guard.hpp"

namespace kmdverify {

// Exported by Wine's (and Windows') ntoskrnl.exe, but neither declared by the mingw-w64 DDK
// headers nor in its import library: resolved at run time in DriverEntry.
extern kmd::winehost::ZwProtectVirtualMemoryFn ZwProtectVirtualMemory;
using RtlRaiseStatusFn = VOID(NTAPI*)(NTSTATUS status);
extern RtlRaiseStatusFn RtlRaiseStatus;

// ------------------------------------------------------------------ limits and state

constexpr unsigned kMaxImages = 16;
constexpr unsigned kMaxPool = 8192;     // live allocations of all verified images
constexpr unsigned kMaxFreed = 256;     // recently freed addresses, for double-free detection
constexpr unsigned kMaxIrps = 256;      // IRPs owned by a verified driver right now
constexpr unsigned kMaxCompleted = 256; // recently completed IRPs, for double completion
constexpr unsigned kMaxPerImage = 32;   // devices, links, handles, referenced objects
constexpr unsigned kMaxWarnSites = 32;
#if defined(_WIN64)
constexpr ULONG_PTR kUserProbeAddress = 0x7FFFFFFF0000ull; // x64 MmUserProbeAddress on Windows
#else
constexpr ULONG_PTR kUserProbeAddress = 0x7FFF0000ul; // x86 MmUserProbeAddress (2 GB user space)
#endif
constexpr kmd::winehost::EntryStub kStub{0xFE0, 0x5946564B /* 'KVFY' */}; // entry stub in the header page's tail
constexpr ULONG kNoneTag = 0x656E6F4E;   // "None": the tag Windows gives untagged ExAllocatePool blocks

// Special pool (special_pool.cpp): where a verified driver's blocks get their guard page.
enum class SpecialPool : ULONG { off = 0, overrun = 1, underrun = 2 };

struct Device { PDEVICE_OBJECT object; void* site; ULONG extension_size; };
struct Link { WCHAR name[96]; USHORT length; void* site; };
struct Handle { HANDLE handle; const char* call; void* site; };
struct Reference { PVOID object; LONG count; void* site; };

struct Counters {
    ULONG calls, failable, allocations, frees, probes, probes_rejected, irps, violations, warnings, special;
    ULONG failable_life, injected_life; // failable calls after DriverEntry (dispatch, unload, workers); faults injected there
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
    SpecialPool special_pool; // Parameters\SpecialPool at its load (absent: overrun)
    // Low-resources simulation after DriverEntry (faults.cpp), from Parameters at its load:
    ULONG life_fault_at;   // FaultAfterEntry: 0 none; k: fail the k-th failable call after DriverEntry returned
    ULONG seed;            // LowResourcesSeed: 0 none; else each failable call after DriverEntry fails with 1 in 4 chance
    ULONG64 random;        // the seeded generator's state
    Counters c;
    Device devices[kMaxPerImage];
    Link links[kMaxPerImage];
    Handle handles[kMaxPerImage];
    Reference refs[kMaxPerImage];
    struct { const char* kind; void* site; } warned[kMaxWarnSites];
};

struct PoolEntry {
    void* p;
    SIZE_T size;
    ULONG tag;
    POOL_TYPE type;
    void* site;
    Image* image;
    char* region;             // special pool: the block's own pages and its guard page; nullptr: Wine's pool
    SIZE_T region_size;
    SpecialPool special_mode;
};

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
    const char* injected; // a call made to fail (low resources) while its dispatch routine ran
};

extern Image g_images[kMaxImages];
extern PoolEntry g_pool[kMaxPool]; // pool.cpp's, read by probes.cpp (a tracked block is kernel memory)
extern unsigned g_pool_count;
extern ULONG g_pool_untracked;
extern IrpEntry g_irps[kMaxIrps]; // irps.cpp's, marked by probes.cpp
extern KSPIN_LOCK g_lock;
extern char* g_self_base;
extern SIZE_T g_self_size;
extern WCHAR g_params_key[256]; // <our service key>\Parameters: FaultAt, RaceCode, RaceOrder (REG_DWORD)
extern bool g_pool2_exists;      // ExAllocatePool2 exported: the tagless/old calls are then deprecated
extern ULONG g_unmapped;         // IRPs vf_dispatch could not give to a verified driver (completed with an error)

// Every table above is touched under g_lock, and nothing that may call back into a wrapper runs
// while it is held (no real routine, no raise).
class Locked : kmd::winehost::SpinLockGuard {
public:
    Locked() : SpinLockGuard(g_lock) {}
};

// ------------------------------------------------------------------ attribution (state.cpp)

Image* image_at(const void* address);
Image* image_of_driver(PDRIVER_OBJECT driver);
bool in_self(const void* address);
// Which verified image the current thread is running a routine of (see RunningImage).
Image* running_image();
// The verified image calling a wrapper, counted as one checked call.
Image* caller_image(const void* return_address);

// Sets the thread's running image for one scope, restoring the previous one (routines nest: the
// prober's dispatch calls skeleton.sys's).
struct ThreadImage { HANDLE thread; Image* image; };
class RunningImage {
public:
    explicit RunningImage(Image* image);
    ~RunningImage();
    RunningImage(const RunningImage&) = delete;
    RunningImage& operator=(const RunningImage&) = delete;

private:
    ThreadImage* slot_ = nullptr;
    Image* previous_ = nullptr;
};

#define RA __builtin_return_address(0)

// A routine fastcall on x86 and plain on x64 (there, one convention): KeAcquireSpinLockAtDpcLevel
// is x86's KefAcquireSpinLockAtDpcLevel.
#if defined(_WIN64)
#define FASTCALL_IF_X86
#else
#define FASTCALL_IF_X86 FASTCALL
#endif

template <typename T, typename Pred>
T* find_in(T (&list)[kMaxPerImage], Pred pred)
{
    for (T& e : list)
        if (pred(e)) return &e;
    return nullptr;
}

// ------------------------------------------------------------------ reporting (report.cpp)

// "skeleton.sys+0x1a2b", or the raw address outside every verified image.
struct Site {
    char text[96];
};
Site site_text(const void* address);
// One line per finding, in a fixed shape the front end parses:
//   kmdverify: VIOLATION <KIND> driver=<image> call=<Call>(<args>) at=<image+offset> [detail]
void violation(Image* image, const char* kind, const char* call, const char* args, const void* site, const char* detail = "");
// Warnings do not fail a run; each (kind, call site) is printed once.
void warning(Image* image, const char* kind, const char* call, const void* site, const char* detail);
void summary(Image& image, const char* phase);

// ------------------------------------------------------------------ the check families

// faults.cpp: true when this failable call is the one to fail.
bool inject(Image* image, const char* call);

// special_pool.cpp
bool init_special_pool();  // false: no vectored exception handler, special pool off
bool special_pool_ready();
void shutdown_special_pool(); // the verifier's unload: the handler removed, the quarantine released
bool special_allocate(SpecialPool mode, SIZE_T size, PoolEntry& e); // fills p, size, region; false: use Wine's pool
void special_free(const PoolEntry& e, void* free_site);             // checks the slack, keeps the pages inaccessible a while
void special_release(const PoolEntry& e);                           // gives the pages back at once (leftovers)

// irql.cpp: the modelled IRQL of this thread (DISPATCH_LEVEL while it holds a spin lock)
KIRQL modelled_irql();
// IRQL_TOO_HIGH; `when` qualifies the maximum (" with a nonzero timeout").
void check_irql(Image* image, const char* call, KIRQL maximum, const void* site, const char* when = "");
LONG locks_held();
// A thread's spin locks (one of them perhaps the cancel spin lock) and raised IRQL, at a routine's entry.
struct IrqlState { LONG locks; KIRQL level; bool cancel_lock; };
IrqlState irql_state();
// SPIN_LOCK_HELD_ON_RETURN, IRQL_NOT_RESTORED; puts the model back to `at_entry`.
void check_dispatch_return(Image* image, const void* routine, PIRP irp, UCHAR major, IrqlState at_entry);
// A routine the kernel calls at DISPATCH_LEVEL (routines.cpp): the thread's model raised for its
// call (a DPC's to DISPATCH_LEVEL; a cancel routine's by the cancel spin lock it is entered
// holding); `at_entry` gets the state to put back. false: not modelled (no thread slot left), do not judge.
bool enter_dispatch_level(bool holding_cancel_lock, IrqlState* at_entry);
// Judges what the routine left (SPIN_LOCK_HELD_ON_RETURN, IRQL_NOT_RESTORED: it must return at
// `leave_at`) and puts the model back to `at_entry`; true: it kept the cancel spin lock.
bool check_routine_return(Image* image, const char* call, const char* args, const void* routine, IrqlState at_entry, KIRQL leave_at);

// routines.cpp: a cancel routine a verified driver set on an IRP it owns is entered through the
// verifier's (armed when its dispatch routine returns, g_lock held); forgotten at completion.
void arm_cancel_routine_locked(Image* image, PIRP irp);
void forget_cancel_routine_locked(PIRP irp);
void forget_routines_of(Image& image); // its DPCs and cancel routines, when it unloads
// A timer of `image` still set inside memory being freed: TIMER_STILL_SET, and cancelled.
void timers_in_freed_memory(Image* image, const void* begin, SIZE_T size, const char* detail);

// images.cpp
ULONG read_param(const WCHAR* name, ULONG absent = 0); // a REG_DWORD of the Parameters key
VOID NTAPI on_image_load(PUNICODE_STRING full_name, HANDLE, PIMAGE_INFO info);
ULONG wrapped_call_count();

// lifecycle.cpp
NTSTATUS NTAPI verified_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

// probes.cpp: pages the prober hands a driver as kernel memory (nullptr, 0: none), which
// ProbeForRead/ProbeForWrite then raise for, as for pool.
void declare_kernel(const void* p, SIZE_T size);

// prober.cpp: \Device\kmdverify, its link, and its fault hook for special_pool.cpp's handler.
NTSTATUS create_prober(PDRIVER_OBJECT self);
void delete_prober();
LONG prober_fault(const void* address, bool write, void* instruction, const CONTEXT* context);
bool is_prober_irp(PIRP irp); // one of the prober's requests, in flight

// irps.cpp
NTSTATUS NTAPI vf_dispatch(PDEVICE_OBJECT device, PIRP irp);
void note_injected_fault(const char* call); // charges it to the IRP this thread is dispatching
void init_irp_checks();
void configure_irp_checks(); // the test interleaving (Parameters\\RaceCode, RaceOrder), read at each image load

// What each family leaves behind for an image at unload or after a failed DriverEntry: reported
// (as `phase`) and released, so the host stays usable; each returns how many it found.
ULONG pool_leftovers(Image& image, const char* phase);    // pool.cpp
ULONG object_leftovers(Image& image, const char* phase);  // objects.cpp: links, devices, handles, references
ULONG irp_leftovers(Image& image, const char* phase);     // irps.cpp
ULONG timer_leftovers(Image& image, const char* phase);   // routines.cpp: timers still set
void forget_irps_of(Image& image);                        // irps.cpp: its completed-IRP records

// Each family's wrappers, by the name of the routine they stand for (images.cpp patches imports
// and MmGetSystemRoutineAddress results through them).
struct Wrapper {
    const char* name;
    void* wrapper;
};
struct WrapperList {
    const Wrapper* items;
    unsigned count;
};
template <unsigned N>
constexpr WrapperList list_of(const Wrapper (&w)[N])
{
    return {w, N};
}
extern const WrapperList kPoolWrappers, kProbeWrappers, kIrpWrappers, kObjectWrappers, kIrqlWrappers, kRoutineWrappers;

} // namespace kmdverify
