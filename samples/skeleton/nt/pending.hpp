// pending.hpp - IOCTL_SKELETON_DELAY_PENDING: requests the driver keeps in flight and completes
// later from its own worker thread, cancel-safe.
#pragma once

#include <kmd/nt.hpp>

namespace skeleton::nt::pending {

// Starts the worker thread (DriverEntry, before the device can be opened).
_IRQL_requires_max_(PASSIVE_LEVEL) // creates the worker thread
NTSTATUS start();

// Cancels every queued request, stops the worker and returns once no request is left in the
// driver, not even one in the middle of its cancel routine (DriverUnload, and DriverEntry undoing
// a later failure). Safe to call when start() failed or was never called.
_IRQL_requires_max_(PASSIVE_LEVEL) // waits for the worker
void stop();

// IRP_MJ_DEVICE_CONTROL with IOCTL_SKELETON_DELAY_PENDING: validates the request, then either
// completes it at once (bad input, already cancelled, shutting down) or marks it pending and
// queues it. Returns what the dispatch routine must return (STATUS_PENDING when queued).
_IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS queue(PIRP irp, PIO_STACK_LOCATION stack);

// The caller closed its handle (IRP_MJ_CLEANUP on Windows; Wine sends only IRP_MJ_CLOSE): every
// request still queued for that file object is completed with STATUS_CANCELLED.
_IRQL_requires_max_(DISPATCH_LEVEL)
void cancel_file(PFILE_OBJECT file);

} // namespace skeleton::nt::pending
