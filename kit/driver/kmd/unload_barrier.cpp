// unload_barrier.cpp - see unload_barrier.hpp.
#include <kmd/unload_barrier.hpp>

namespace kmd {
namespace {

// Marks the barrier device's extension, so is_unload_barrier() needs no global state.
constexpr ULONG kBarrierMark = 0x6B6D6442; // "Bdmk"
constexpr ULONG kBarrierIoctl = CTL_CODE(FILE_DEVICE_UNKNOWN, 0xBFF, METHOD_BUFFERED, FILE_ANY_ACCESS);

// "\Device\kmd_unload_barrier_" + the driver object's address in hex: unique per loaded driver.
struct BarrierName {
    wchar_t text[64];
    UNICODE_STRING name;

    explicit BarrierName(PDRIVER_OBJECT driver)
    {
        static constexpr wchar_t prefix[] = L"\\Device\\kmd_unload_barrier_";
        USHORT n = 0;
        for (; prefix[n] != 0; ++n) text[n] = prefix[n];
        auto value = reinterpret_cast<ULONG_PTR>(driver);
        for (int shift = static_cast<int>(sizeof value * 8) - 4; shift >= 0; shift -= 4)
            text[n++] = L"0123456789abcdef"[(value >> shift) & 0xF];
        text[n] = 0;
        name.Buffer = text;
        name.Length = static_cast<USHORT>(n * sizeof(wchar_t));
        name.MaximumLength = static_cast<USHORT>(name.Length + sizeof(wchar_t));
    }
};

LONGLONG now_100ns()
{
    LARGE_INTEGER t;
    KeQuerySystemTime(&t);
    return t.QuadPart;
}

// Sends the barrier request (unload_barrier.hpp) and returns once the host has dispatched it;
// false when the private device could not be made or opened (nothing was proven).
bool pass_barrier(PDRIVER_OBJECT driver)
{
    BarrierName barrier(driver);
    PDEVICE_OBJECT device = nullptr;
    if (!NT_SUCCESS(IoCreateDevice(driver, sizeof(ULONG), &barrier.name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device))) return false;
    *static_cast<ULONG*>(device->DeviceExtension) = kBarrierMark;
    device->Flags &= ~DO_DEVICE_INITIALIZING;

    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, &barrier.name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, nullptr, nullptr);
    IO_STATUS_BLOCK io{};
    HANDLE handle = nullptr;
    // Wine 8 returns from an open as soon as the CREATE is queued, so the open alone proves
    // nothing; the IOCTL after it does: on a synchronous handle the caller waits for its
    // completion, which the request thread reports only after it has dispatched everything
    // queued before it (the CREATE, and any straggler).
    const bool opened = NT_SUCCESS(ZwCreateFile(&handle, GENERIC_READ | SYNCHRONIZE, &attributes, &io, nullptr, 0, 0, FILE_OPEN,
                                                FILE_SYNCHRONOUS_IO_NONALERT, nullptr, 0));
    if (opened) ZwDeviceIoControlFile(handle, nullptr, nullptr, nullptr, &io, kBarrierIoctl, nullptr, 0, nullptr, 0);
    // The device goes before the handle: a host then sends no close request for it (Wine's
    // device_file_close_handle needs a live device; Windows sends it now, here).
    IoDeleteDevice(device);
    if (opened) ZwClose(handle);
    return opened;
}

} // namespace

bool is_unload_barrier(PDEVICE_OBJECT device)
{
    return device != nullptr && device->DeviceExtension != nullptr && *static_cast<ULONG*>(device->DeviceExtension) == kBarrierMark;
}

NTSTATUS refusal_status(PDEVICE_OBJECT device, UCHAR major)
{
    if (major == IRP_MJ_CLOSE || major == IRP_MJ_CLEANUP || is_unload_barrier(device)) return STATUS_SUCCESS;
    return DispatchGuard::kRefusal;
}

ULONG settle_unload(PDRIVER_OBJECT driver, DispatchGuard& guard, ULONG fallback_grace_ms)
{
    const LONGLONG start = now_100ns();
    if (!guard.last_dispatch_on_this_thread() && !pass_barrier(driver)) guard.settle(fallback_grace_ms);
    guard.wait_until_out();
    const LONGLONG elapsed = now_100ns() - start;
    // 32-bit division: a 64-bit one would call libgcc on x86, which no kernel exports.
    return elapsed > 0 && elapsed < 0x7FFFFFFF ? static_cast<ULONG>(elapsed) / 10 : 0;
}

} // namespace kmd
