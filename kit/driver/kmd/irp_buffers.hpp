// irp_buffers.hpp - from an IRP_MJ_DEVICE_CONTROL to a driver's request table, per transfer method.
#pragma once

#include <kmd/nt.hpp>
#include <kmd/dispatch_rules.hpp>
#include <kmd/request.hpp>

namespace kmd {

// Finds the caller's buffers where the code's transfer method puts them, makes them safe to touch
// (mapping MDLs - read-only for METHOD_IN_DIRECT -, probing and capturing METHOD_NEITHER user
// memory under __try/__except), and runs the table's row for the code on them. Never touches a
// buffer for a code the table does not know.
_IRQL_requires_max_(APC_LEVEL) // METHOD_NEITHER touches the caller's memory
Result run_device_control(const RequestTable& table, PIRP irp, PIO_STACK_LOCATION stack);

// Completes the IRP exactly once with the result (Information unless it is an error: a failed
// request hands the caller no bytes, a warning such as STATUS_BUFFER_OVERFLOW keeps its partial
// data; dispatch_rules.hpp) and returns its status, as a dispatch routine must.
_IRQL_requires_max_(DISPATCH_LEVEL)
inline NTSTATUS complete_request(PIRP irp, Result result)
{
    const auto status = static_cast<NTSTATUS>(result.status);
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = reported_information(result.status, result.information);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

} // namespace kmd
