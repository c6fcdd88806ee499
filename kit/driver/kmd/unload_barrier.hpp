// unload_barrier.hpp - DriverUnload's last step: return only once no request the host had
// already taken off its queue can still reach the driver's image.
//
// Wine 8 calls DriverUnload on its service-control thread while its request thread keeps
// serving the driver host's one queue, strictly one request at a time, and FreeLibrary()s the
// image as soon as DriverUnload returns (docs/wine-unload-race.md). Deleting the device makes the
// wineserver fail every request still queued for it, but one the request thread has already
// dequeued is still on its way into the dispatch routine. The DispatchGuard refuses it; the image
// just has to stay mapped until it has come and gone.
//
// settle_unload() makes that certain instead of hoping a grace period is long enough: it creates
// a private device, opens it and sends it one IOCTL, then deletes it. The IOCTL is a request
// through the same queue, behind any straggler, and on a synchronous handle ZwDeviceIoControlFile
// returns only once the request thread has dispatched it - so every request it had taken before
// has come and gone. (Under Wine 8 the open alone would not do: CreateFile returns as soon as the
// CREATE is queued.) Those requests reach the driver's dispatch routine while it is running down;
// refusal_status() answers them with success, and is_unload_barrier() tells the driver not to log
// them.
// Skipped when the host dispatches on the unloading thread itself (nothing can be in flight, and
// the open would wait for this very thread). On Windows the I/O manager unloads a legacy driver
// only when nothing references its devices; the open is refused or answered at once there.
// If the private device cannot be made, it falls back to DispatchGuard::settle(fallback_grace_ms).
#pragma once

#include <kmd/dispatch_guard.hpp>

namespace kmd {

// Call last in DriverUnload, after guard.run_down() and after deleting the driver's devices.
// Returns how long it took, in microseconds.
ULONG settle_unload(PDRIVER_OBJECT driver, DispatchGuard& guard, ULONG fallback_grace_ms);

// True for the private device settle_unload() opens (its requests need not be logged).
bool is_unload_barrier(PDEVICE_OBJECT device);

// What a dispatch routine completes a request the guard refused with: success for CLOSE, CLEANUP
// (nothing to refuse) and settle_unload()'s own requests; DispatchGuard::kRefusal otherwise.
NTSTATUS refusal_status(PDEVICE_OBJECT device, UCHAR major);

} // namespace kmd
