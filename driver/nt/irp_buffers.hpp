// irp_buffers.hpp - from an IRP_MJ_DEVICE_CONTROL to the request core, per transfer method.
#pragma once

#include "../core/requests.hpp"
#include "nt.hpp"

namespace skeleton::nt {

// Finds the caller's buffers where the code's transfer method puts them, makes them safe to touch
// (mapping MDLs, probing and capturing METHOD_NEITHER user memory under __try/__except), and runs
// the request core on them. Never touches a buffer for a code the core does not know.
core::Result run_device_control(PIRP irp, PIO_STACK_LOCATION stack);

} // namespace skeleton::nt
