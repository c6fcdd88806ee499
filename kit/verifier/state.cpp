// state.cpp - the tables every check family shares, and which verified image a call comes from.
#include "verifier.hpp"

namespace kmdverify {

kmd::winehost::ZwProtectVirtualMemoryFn ZwProtectVirtualMemory;
RtlRaiseStatusFn RtlRaiseStatus;

Image g_images[kMaxImages];
KSPIN_LOCK g_lock;
char* g_self_base;
SIZE_T g_self_size;
WCHAR g_params_key[256];
bool g_pool2_exists;
ULONG g_unmapped;

Image* image_at(const void* address)
{
    auto a = static_cast<const char*>(address);
    for (Image& i : g_images)
        if (i.used && a >= i.base && a < i.base + i.size) return &i;
    return nullptr;
}

// Which verified image each thread is running a routine of (DriverEntry, DriverUnload, a dispatch
// routine): a routine that ends in a tail call (jmp through the IAT) returns to *our* wrapper's
// caller, so its wrapper sees a return address inside kmdverify.sys, not inside the driver.
namespace {
ThreadImage g_running[64];
} // namespace

Image* running_image()
{
    const HANDLE thread = PsGetCurrentThreadId();
    for (const ThreadImage& t : g_running)
        if (t.thread == thread) return t.image;
    return nullptr;
}

RunningImage::RunningImage(Image* image)
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

RunningImage::~RunningImage()
{
    if (slot_ == nullptr) return;
    Locked lock;
    slot_->image = previous_;
    if (previous_ == nullptr) slot_->thread = nullptr;
}

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

Image* image_of_driver(PDRIVER_OBJECT driver)
{
    return driver != nullptr ? image_at(driver->DriverStart) : nullptr;
}

} // namespace kmdverify
