// pool.cpp - the pool checks: leaks, double frees, tags, executable pool, deprecated calls.
#include "verifier.hpp"

namespace kmdverify {

PoolEntry g_pool[kMaxPool];
unsigned g_pool_count;
ULONG g_pool_untracked;

namespace {

void* g_freed[kMaxFreed];
unsigned g_freed_next;

// false: the table is full (the block is then not tracked; counted as untracked).
bool track(const PoolEntry& e)
{
    if (e.p == nullptr || e.image == nullptr) return false;
    Locked lock;
    for (void*& f : g_freed)
        if (f == e.p) f = nullptr; // the address is live again
    if (g_pool_count == kMaxPool) {
        ++g_pool_untracked;
        return false;
    }
    ++e.image->c.allocations;
    if (e.region != nullptr) ++e.image->c.special;
    g_pool[g_pool_count++] = e;
    return true;
}

// A block from special pool (special_pool.cpp) when the image has it on and the table has room
// for it, else from Wine's pool through `real`.
template <typename Real>
PVOID allocate(Image* image, POOL_TYPE type, SIZE_T size, ULONG tag, void* site, Real real)
{
    PoolEntry e{nullptr, size, tag, type, site, image, nullptr, 0, SpecialPool::off};
    if (image != nullptr && special_allocate(image->special_pool, size, e)) {
        if (track(e)) return e.p;
        special_release(e);
    }
    e = PoolEntry{real(), size, tag, type, site, image, nullptr, 0, SpecialPool::off};
    if (!track(e) && e.p != nullptr && image != nullptr) {
        Locked lock;
        ++image->c.allocations; // counted, as before, even when the table is full
    }
    return e.p;
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
    check_irql(image, "ExAllocatePoolWithTag", (type & 1) != 0 ? APC_LEVEL : DISPATCH_LEVEL, RA); // paged pool: <= APC_LEVEL
    if (g_pool2_exists) warning(image, "DEPRECATED_CALL", "ExAllocatePoolWithTag", RA, "(ExAllocatePool2 exists on this kernel)");
    if (inject(image, "ExAllocatePoolWithTag")) return nullptr;
    return allocate(image, type, size, tag, RA, [&] { return ExAllocatePoolWithTag(type, size, tag); });
}

PVOID NTAPI vf_ExAllocatePoolWithQuotaTag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    Image* image = caller_image(RA);
    check_pool_type(image, type, tag, size, "ExAllocatePoolWithQuotaTag", RA);
    check_irql(image, "ExAllocatePoolWithQuotaTag", (type & 1) != 0 ? APC_LEVEL : DISPATCH_LEVEL, RA);
    if (inject(image, "ExAllocatePoolWithQuotaTag")) return nullptr;
    return allocate(image, type, size, tag, RA, [&] { return ExAllocatePoolWithQuotaTag(type, size, tag); });
}

PVOID NTAPI vf_ExAllocatePool(POOL_TYPE type, SIZE_T size)
{
    Image* image = caller_image(RA);
    check_pool_type(image, type, kNoneTag, size, "ExAllocatePool", RA); // Windows tags these 'None'
    check_irql(image, "ExAllocatePool", (type & 1) != 0 ? APC_LEVEL : DISPATCH_LEVEL, RA);
    warning(image, "DEPRECATED_CALL", "ExAllocatePool", RA, "(untagged; use ExAllocatePoolWithTag or ExAllocatePool2)");
    if (inject(image, "ExAllocatePool")) return nullptr;
    return allocate(image, type, size, kNoneTag, RA, [&] { return ExAllocatePool(type, size); });
}

// true: free it (`freed` is its entry, or has no region when the block was not tracked). A second
// free of the same block is reported and dropped (forwarding it would corrupt Wine's heap and end
// the host).
bool untrack_free(Image* image, void* p, ULONG tag, bool tagged, const char* call, void* site, PoolEntry& freed)
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
                freed = g_pool[i];
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
    PoolEntry e{};
    if (!untrack_free(image, p, tag, true, "ExFreePoolWithTag", RA, e)) return;
    timers_in_freed_memory(image, e.p, e.size, "(in the pool block being freed: cancel it first, KeCancelTimer)");
    if (e.region != nullptr)
        special_free(e, RA);
    else
        ExFreePoolWithTag(p, tag);
}

VOID NTAPI vf_ExFreePool(PVOID p)
{
    Image* image = caller_image(RA);
    PoolEntry e{};
    if (!untrack_free(image, p, 0, false, "ExFreePool", RA, e)) return;
    timers_in_freed_memory(image, e.p, e.size, "(in the pool block being freed: cancel it first, KeCancelTimer)");
    if (e.region != nullptr)
        special_free(e, RA);
    else
        ExFreePool(p);
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
        if (e.region != nullptr)
            special_release(e);
        else
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
