// report.cpp - the lines kmdverify prints into the kernel log (VIOLATION, WARNING, SUMMARY), in
// the fixed shape kit/verifier/verify.py parses.
#define KMDVERIFY_DEFINES_STRSAFE // ntstrsafe.h's functions at -O0 (verifier.hpp)
#include "verifier.hpp"

namespace kmdverify {

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

void violation(Image* image, const char* kind, const char* call, const char* args, const void* site, const char* detail)
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

void summary(Image& image, const char* phase)
{
    const Counters& c = image.c;
    DbgPrint("kmdverify: SUMMARY driver=%ws phase=%s calls=%lu failable=%lu allocations=%lu frees=%lu probes=%lu rejected=%lu irps=%lu "
             "violations=%lu warnings=%lu untracked=%lu unmapped=%lu special=%lu failable_after_entry=%lu injected_after_entry=%lu\n",
             image.name, phase, c.calls, c.failable, c.allocations, c.frees, c.probes, c.probes_rejected, c.irps, c.violations,
             c.warnings, g_pool_untracked, g_unmapped, c.special, c.failable_life, c.injected_life);
}

} // namespace kmdverify
