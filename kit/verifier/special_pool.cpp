// special_pool.cpp - special pool, as Driver Verifier's: every tracked allocation of a verified
// driver gets pages of its own with a guard page against it (after the block: overrun mode, the
// default; before it: underrun mode), and a freed block's pages stay inaccessible while it sits in
// a ring of recently freed blocks. So an overrun, an underrun or a use after free faults at the
// instruction that does it.
//
// Under Wine the driver runs in winedevice.exe, a user process: the pages come from
// ZwAllocateVirtualMemory, the guard is PAGE_NOACCESS, and the fault is an access violation that a
// vectored exception handler (ntdll's, found through ntoskrnl's own imports) sees first, before
// any __except of the driver's. It reports the violation with the faulting instruction and the
// block's allocation site, then opens the page and lets the instruction run again: the verifier
// reports and recovers, as it does for a double free, so one run reports everything (Windows
// bug-checks: 0xD6 DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, 0xD5 ..._IN_FREED_SPECIAL_POOL).
//
// A block is 16-byte aligned (MEMORY_ALLOCATION_ALIGNMENT), so in overrun mode up to 15 bytes lie
// between its end and the guard page; those, and the rest of its pages, are filled with a pattern
// that is checked when the block is freed (Windows does the same: bug check 0xC1).
#include "verifier.hpp"

namespace kmdverify {
namespace {

constexpr SIZE_T kPage = PAGE_SIZE;
constexpr SIZE_T kAlign = MEMORY_ALLOCATION_ALIGNMENT;
constexpr UCHAR kPattern = 0xA5;
constexpr unsigned kMaxQuarantine = 128; // freed blocks kept inaccessible; the oldest is released

struct Freed {
    char* region;
    SIZE_T region_size;
    char* p;
    SIZE_T size;
    ULONG tag;
    void* site;      // where it was allocated
    void* free_site; // where it was freed
};

Freed g_quarantine[kMaxQuarantine];
unsigned g_quarantine_next;

SIZE_T round_up(SIZE_T n, SIZE_T to) { return (n + to - 1) / to * to; }

bool same_name(const char* a, const char* b, bool any_case)
{
    auto lower = [&](char c) { return any_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    while (*a != 0 && lower(*a) == lower(*b)) ++a, ++b;
    return *a == 0 && *b == 0;
}

void release_region(char* region)
{
    PVOID base = region;
    SIZE_T size = 0;
    ZwFreeVirtualMemory(NtCurrentProcess(), &base, &size, MEM_RELEASE);
}

bool protect(char* where, SIZE_T size, ULONG protection)
{
    PVOID base = where;
    ULONG old = 0;
    return NT_SUCCESS(ZwProtectVirtualMemory(NtCurrentProcess(), &base, &size, protection, &old));
}

// The bytes of the block's pages that are not the block: [region, p) and [p + size, data end).
struct Slack {
    char* before;
    SIZE_T before_size;
    char* after;
    SIZE_T after_size;
};

Slack slack_of(const PoolEntry& e)
{
    char* data = e.special_mode == SpecialPool::overrun ? e.region : e.region + kPage;
    const SIZE_T data_size = e.region_size - kPage;
    return {data, static_cast<SIZE_T>(static_cast<char*>(e.p) - data), static_cast<char*>(e.p) + e.size,
            static_cast<SIZE_T>(data + data_size - (static_cast<char*>(e.p) + e.size))};
}

void tag_text(ULONG tag, char (&text)[5])
{
    RtlCopyMemory(text, &tag, 4);
    text[4] = 0;
    for (char& ch : text)
        if (ch != 0 && (ch < 0x20 || ch > 0x7e)) ch = '.';
}

// The reports, each in a frame of its own (at -O0 every buffer and Site keeps its own stack slot).
void report_freed(Image* image, const Freed& freed, char* address, bool write, void* instruction)
{
    char args[64], detail[200], tag[5];
    RtlStringCbPrintfA(args, sizeof args, "address=%p", address);
    tag_text(freed.tag, tag);
    RtlStringCbPrintfA(detail, sizeof detail, "(%s %lu bytes into a freed block %p, %lu bytes, tag='%s', allocated=%s, freed=%s)",
                       write ? "write" : "read", static_cast<ULONG>(address - freed.p), freed.p, static_cast<ULONG>(freed.size), tag,
                       site_text(freed.site).text, site_text(freed.free_site).text);
    violation(image, "USE_AFTER_FREE", write ? "write" : "read", args, instruction, detail);
}

void report_live(Image* image, const char* kind, const PoolEntry& live, char* address, bool write, void* instruction)
{
    char args[64], detail[200], tag[5];
    RtlStringCbPrintfA(args, sizeof args, "address=%p", address);
    tag_text(live.tag, tag);
    char* p = static_cast<char*>(live.p);
    const ULONG distance = static_cast<ULONG>(address >= p ? address - (p + live.size) : p - address);
    RtlStringCbPrintfA(detail, sizeof detail, "(%s %lu byte(s) %s block %p, %lu bytes, tag='%s', allocated=%s)", write ? "write" : "read",
                       distance + (address >= p ? 1 : 0), address >= p ? "past the end of" : "before", p, static_cast<ULONG>(live.size),
                       tag, site_text(live.site).text);
    violation(image, kind, write ? "write" : "read", args, instruction, detail);
}

// An exception handler: it runs for every exception in the host, and acts only on an access to
// one of our guard or freed pages.
using VectoredHandler = LONG(NTAPI*)(PEXCEPTION_POINTERS);
using RtlAddVectoredExceptionHandlerFn = PVOID(NTAPI*)(ULONG first, VectoredHandler handler);
PVOID g_handler;

LONG NTAPI on_exception(PEXCEPTION_POINTERS info)
{
    const EXCEPTION_RECORD* r = info->ExceptionRecord;
    if (r->ExceptionCode != STATUS_ACCESS_VIOLATION || r->NumberParameters < 2) return EXCEPTION_CONTINUE_SEARCH;
    const bool write = r->ExceptionInformation[0] == 1;
    char* address = reinterpret_cast<char*>(r->ExceptionInformation[1]);
    if (const LONG prober = prober_fault(address, write, r->ExceptionAddress, info->ContextRecord); prober != 0) return prober; // prober.cpp's pages
    const char* kind = nullptr;
    PoolEntry live{};
    Freed freed{};
    {
        Locked lock;
        for (unsigned i = 0; i < g_pool_count && kind == nullptr; ++i) {
            const PoolEntry& e = g_pool[i];
            if (e.region == nullptr || address < e.region || address >= e.region + e.region_size) continue;
            live = e;
            kind = address >= static_cast<char*>(e.p) ? "SPECIAL_POOL_OVERRUN" : "SPECIAL_POOL_UNDERRUN";
        }
        for (const Freed& f : g_quarantine)
            if (kind == nullptr && f.region != nullptr && address >= f.region && address < f.region + f.region_size) {
                freed = f;
                kind = "USE_AFTER_FREE";
            }
    }
    if (kind == nullptr) return EXCEPTION_CONTINUE_SEARCH;
    Image* image = image_at(r->ExceptionAddress);
    if (image == nullptr) image = live.image;
    if (freed.region != nullptr)
        report_freed(image, freed, address, write, r->ExceptionAddress);
    else
        report_live(image, kind, live, address, write, r->ExceptionAddress);
    // Recover: the page is ours; open it and let the instruction run again.
    char* page = reinterpret_cast<char*>(reinterpret_cast<ULONG_PTR>(address) & ~(kPage - 1));
    if (!protect(freed.region != nullptr ? freed.region : page, freed.region != nullptr ? freed.region_size : kPage, PAGE_READWRITE))
        return EXCEPTION_CONTINUE_SEARCH;
    return EXCEPTION_CONTINUE_EXECUTION;
}

// Finds ntdll's RtlAddVectoredExceptionHandler: MmGetSystemRoutineAddress resolves ntoskrnl's and
// hal's exports only, but Wine's ntoskrnl.exe imports from ntdll.dll, so one of its bound import
// slots points into ntdll, whose export table names the routine.
// RtlPcToFileHeader is exported by ntoskrnl but declared by no DDK header, and the i686 mingw-w64
// import libraries list it for kernel32 only: resolved at run time, on both architectures.
using RtlPcToFileHeaderFn = PVOID(NTAPI*)(PVOID pc, PVOID* base);

void* ntdll_export(const char* wanted)
{
    UNICODE_STRING routine;
    RtlInitUnicodeString(&routine, L"RtlPcToFileHeader");
    auto RtlPcToFileHeader = reinterpret_cast<RtlPcToFileHeaderFn>(MmGetSystemRoutineAddress(&routine));
    if (RtlPcToFileHeader == nullptr) return nullptr;
    PVOID self = nullptr;
    RtlPcToFileHeader(reinterpret_cast<PVOID>(RtlPcToFileHeader), &self);
    if (self == nullptr) return nullptr;
    auto* kernel = static_cast<char*>(self);
    auto nt = [](char* base) { return reinterpret_cast<IMAGE_NT_HEADERS*>(base + reinterpret_cast<IMAGE_DOS_HEADER*>(base)->e_lfanew); };
    const IMAGE_DATA_DIRECTORY& imports = nt(kernel)->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (imports.VirtualAddress == 0) return nullptr;
    char* ntdll = nullptr;
    for (auto* d = reinterpret_cast<IMAGE_IMPORT_DESCRIPTOR*>(kernel + imports.VirtualAddress); d->Name != 0 && ntdll == nullptr; ++d)
        if (same_name(kernel + d->Name, "ntdll.dll", true)) {
            PVOID base = nullptr;
            RtlPcToFileHeader(*reinterpret_cast<PVOID*>(kernel + d->FirstThunk), &base);
            ntdll = static_cast<char*>(base);
        }
    if (ntdll == nullptr) return nullptr;
    const IMAGE_DATA_DIRECTORY& exports = nt(ntdll)->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
    auto* dir = reinterpret_cast<IMAGE_EXPORT_DIRECTORY*>(ntdll + exports.VirtualAddress);
    auto* names = reinterpret_cast<ULONG*>(ntdll + dir->AddressOfNames);
    auto* ordinals = reinterpret_cast<USHORT*>(ntdll + dir->AddressOfNameOrdinals);
    auto* functions = reinterpret_cast<ULONG*>(ntdll + dir->AddressOfFunctions);
    for (ULONG i = 0; i < dir->NumberOfNames; ++i)
        if (same_name(ntdll + names[i], wanted, false)) return ntdll + functions[ordinals[i]];
    return nullptr;
}

} // namespace

bool init_special_pool()
{
    auto add = reinterpret_cast<RtlAddVectoredExceptionHandlerFn>(ntdll_export("RtlAddVectoredExceptionHandler"));
    if (add == nullptr) return false;
    g_handler = add(TRUE, on_exception);
    return g_handler != nullptr;
}

// At the verifier's unload: the handler must not outlive the image it lives in (the host would
// call into unmapped code at its next exception), and the quarantined pages go back.
void shutdown_special_pool()
{
    using RtlRemoveVectoredExceptionHandlerFn = ULONG(NTAPI*)(PVOID handle);
    auto remove = reinterpret_cast<RtlRemoveVectoredExceptionHandlerFn>(ntdll_export("RtlRemoveVectoredExceptionHandler"));
    if (g_handler != nullptr && remove != nullptr) remove(g_handler);
    g_handler = nullptr;
    for (Freed& f : g_quarantine)
        if (f.region != nullptr) {
            release_region(f.region);
            f = Freed{};
        }
}

bool special_pool_ready() { return g_handler != nullptr; }

bool special_allocate(SpecialPool mode, SIZE_T size, PoolEntry& e)
{
    if (mode == SpecialPool::off || !special_pool_ready()) return false;
    const SIZE_T data_size = round_up(size == 0 ? 1 : size, kPage);
    PVOID base = nullptr;
    SIZE_T region_size = data_size + kPage;
    if (!NT_SUCCESS(ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &region_size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)))
        return false;
    char* region = static_cast<char*>(base);
    char* data = mode == SpecialPool::overrun ? region : region + kPage;
    char* guard = mode == SpecialPool::overrun ? region + data_size : region;
    if (!protect(guard, kPage, PAGE_NOACCESS)) {
        release_region(region);
        return false;
    }
    RtlFillMemory(data, data_size, kPattern);
    e.region = region;
    e.region_size = data_size + kPage;
    e.special_mode = mode;
    e.p = mode == SpecialPool::overrun ? data + data_size - round_up(size, kAlign) : data;
    e.size = size;
    return true;
}

void special_free(const PoolEntry& e, void* free_site)
{
    // Bytes of its pages outside the block, written while it lived: an overrun or underrun that
    // stayed short of the guard page (within the alignment slack, or on the far side).
    const Slack s = slack_of(e);
    SIZE_T first_bad_after = s.after_size, last_bad_before = s.before_size;
    for (SIZE_T i = 0; i < s.after_size; ++i)
        if (static_cast<UCHAR>(s.after[i]) != kPattern) {
            first_bad_after = i;
            break;
        }
    for (SIZE_T i = s.before_size; i > 0; --i)
        if (static_cast<UCHAR>(s.before[i - 1]) != kPattern) {
            last_bad_before = i - 1;
            break;
        }
    char args[64], detail[160], tag[5];
    tag_text(e.tag, tag);
    RtlStringCbPrintfA(args, sizeof args, "%p, tag=0x%08lx", e.p, e.tag);
    if (first_bad_after != s.after_size) {
        RtlStringCbPrintfA(detail, sizeof detail, "(seen at free: byte %lu past the end of the %lu-byte block was written; tag='%s', allocated=%s)",
                           static_cast<ULONG>(first_bad_after), static_cast<ULONG>(e.size), tag, site_text(e.site).text);
        violation(e.image, "SPECIAL_POOL_OVERRUN", "ExFreePool*", args, free_site, detail);
    }
    if (last_bad_before != s.before_size) {
        RtlStringCbPrintfA(detail, sizeof detail, "(seen at free: byte %lu before the %lu-byte block was written; tag='%s', allocated=%s)",
                           static_cast<ULONG>(s.before_size - last_bad_before), static_cast<ULONG>(e.size), tag, site_text(e.site).text);
        violation(e.image, "SPECIAL_POOL_UNDERRUN", "ExFreePool*", args, free_site, detail);
    }
    protect(e.region, e.region_size, PAGE_NOACCESS);
    const Freed f{e.region, e.region_size, static_cast<char*>(e.p), e.size, e.tag, e.site, free_site};
    char* evicted = nullptr;
    {
        Locked lock;
        Freed& slot = g_quarantine[g_quarantine_next++ % kMaxQuarantine];
        evicted = slot.region;
        slot = f;
    }
    if (evicted != nullptr) release_region(evicted);
}

void special_release(const PoolEntry& e)
{
    release_region(e.region);
}

} // namespace kmdverify
