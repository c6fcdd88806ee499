// probes.cpp - ProbeForRead / ProbeForWrite as Windows does them (they raise for kernel memory;
// Wine's are no-ops), and which bytes of an IRP's METHOD_NEITHER buffers they covered.
#include "verifier.hpp"

namespace kmdverify {
namespace {

// The prober's pages that stand for kernel memory while one of its requests is in flight.
ULONG_PTR g_declared_start, g_declared_end;

// What a kernel address is here: beyond MmUserProbeAddress (as on Windows), or inside memory the
// verifier knows to be kernel memory in a real kernel: a tracked pool block or a verified image
// (its code, data, and read-only data), or this verifier itself.
bool touches_kernel(ULONG_PTR start, ULONG_PTR end, const char** what)
{
    if (end < start || end > kUserProbeAddress) {
        *what = "above MmUserProbeAddress";
        return true;
    }
    if (start < g_declared_end && g_declared_start < end) {
        *what = "kernel pool";
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
    check_irql(image, call, APC_LEVEL, site);
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

const Wrapper kWrappers[] = {
    {"ProbeForRead", reinterpret_cast<void*>(vf_ProbeForRead)},
    {"ProbeForWrite", reinterpret_cast<void*>(vf_ProbeForWrite)},
};
} // namespace
const WrapperList kProbeWrappers = list_of(kWrappers);

void declare_kernel(const void* p, SIZE_T size)
{
    Locked lock;
    g_declared_start = reinterpret_cast<ULONG_PTR>(p);
    g_declared_end = g_declared_start + size;
}

} // namespace kmdverify
