// faults.cpp - fault injection: a failable call fails as the kernel would when out of resources.
//   In DriverEntry: the k-th failable call (Parameters\FaultAt = k), one point per start, so the
//   sweep k = 1..N is the same for every run.
//   After it (low-resources simulation, through dispatch, workers and DriverUnload): the k-th
//   failable call after DriverEntry returned (FaultAfterEntry = k), and/or each one with a 1 in 4
//   chance from a seeded generator (LowResourcesSeed), so a failing run can be replayed.
#include "verifier.hpp"

namespace kmdverify {
namespace {

// A 64-bit LCG (Knuth's MMIX constants): the high bits are good enough to pick faults.
ULONG next_random(Image& image)
{
    image.random = image.random * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<ULONG>(image.random >> 33);
}

} // namespace

bool inject(Image* image, const char* call)
{
    if (image == nullptr) return false;
    if (image->in_entry) {
        ++image->c.failable;
        if (++image->failable_seen != image->fault_at) return false;
        image->injected = call;
        DbgPrint("kmdverify: FAULT driver=%ws call=%s point=%lu\n", image->name, call, image->failable_seen);
        return true;
    }
    ULONG point = 0;
    bool fail = false;
    {
        Locked lock;
        point = ++image->c.failable_life;
        fail = point == image->life_fault_at || (image->seed != 0 && next_random(*image) % 4 == 0);
        if (fail) ++image->c.injected_life;
    }
    if (!fail) return false;
    DbgPrint("kmdverify: FAULT driver=%ws call=%s point=%lu phase=after-entry\n", image->name, call, point);
    note_injected_fault(call);
    return true;
}

} // namespace kmdverify
