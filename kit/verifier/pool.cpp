// pool.cpp - the pool checks: leaks, double frees, tags, executable pool, deprecated calls.
#include "verifier.hpp"

namespace kmdverify {

PoolEntry g_pool[kMaxPool];
unsigned g_pool_count;
ULONG g_pool_untracked;

namespace {

void* g_freed[kMaxFreed];
unsigned g_freed_next;

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

} // namespace

ULONG pool_leftovers(Image& image, const char* phase)
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
    return found;
}

namespace {
const Wrapper kWrappers[] = {
    {"ExAllocatePool", reinterpret_cast<void*>(vf_ExAllocatePool)},
    {"ExAllocatePoolWithTag", reinterpret_cast<void*>(vf_ExAllocatePoolWithTag)},
    {"ExAllocatePoolWithQuotaTag", reinterpret_cast<void*>(vf_ExAllocatePoolWithQuotaTag)},
    {"ExFreePool", reinterpret_cast<void*>(vf_ExFreePool)},
    {"ExFreePoolWithTag", reinterpret_cast<void*>(vf_ExFreePoolWithTag)},
};
} // namespace
const WrapperList kPoolWrappers = list_of(kWrappers);

} // namespace kmdverify
