// spin_lock_guard.hpp - a spin lock held for a scope, for the kit's host components (kmdhost.sys,
// kmdverify.sys): acquired at construction, released with the IRQL it found at destruction.
#pragma once

#include <kmd/nt.hpp>

namespace kmd::winehost {

class SpinLockGuard {
public:
    explicit SpinLockGuard(KSPIN_LOCK& lock) : lock_(lock) { KeAcquireSpinLock(&lock_, &irql_); } // x64 KeAcquireSpinLockRaiseToDpc, x86 hal's KfAcquireSpinLock
    ~SpinLockGuard() { KeReleaseSpinLock(&lock_, irql_); }
    SpinLockGuard(const SpinLockGuard&) = delete;
    SpinLockGuard& operator=(const SpinLockGuard&) = delete;

private:
    KSPIN_LOCK& lock_;
    KIRQL irql_ = PASSIVE_LEVEL;
};

} // namespace kmd::winehost
