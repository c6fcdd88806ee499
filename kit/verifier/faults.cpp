// faults.cpp - fault injection: the k-th failable call fails as the kernel would when out of resources.
#include "verifier.hpp"

namespace kmdverify {

// Only DriverEntry's calls count, so the sweep k = 1..N is the same for every run.
bool inject(Image* image, const char* call)
{
    if (image == nullptr || !image->in_entry) return false;
    ++image->c.failable;
    if (++image->failable_seen != image->fault_at) return false;
    image->injected = call;
    DbgPrint("kmdverify: FAULT driver=%ws call=%s point=%lu\n", image->name, call, image->failable_seen);
    return true;
}

} // namespace kmdverify
