// guarded_x64.cpp - guarded_call on x64: compiler-made, table-based SEH (__try/__except).
// Built with -fasync-exceptions (kit/cmake/KmdDriver.cmake): without it clang assumes a
// plain load or store cannot fault and may drop the handler.
#include "guarded.hpp"

namespace kmd {
namespace {

// The exception code, taken in the __except *filter*. Under Wine the __except body sees 0 from
// GetExceptionCode(): Wine's __C_specific_handler unwinds (RtlUnwindEx) without passing the
// exception record on, so only the filter, which runs before the unwind, reliably has it. An
// exception code is never a success status, but a failed request must never be reported as one,
// so 0 becomes a plain failure.
LONG take_exception_code(ULONG code, NTSTATUS& out)
{
    out = code != 0 ? static_cast<NTSTATUS>(code) : STATUS_UNSUCCESSFUL;
    return EXCEPTION_EXECUTE_HANDLER;
}

} // namespace

NTSTATUS guarded_call(GuardedBody body, void* context)
{
    NTSTATUS fault = STATUS_SUCCESS;
    __try {
        body(context);
    } __except (take_exception_code(GetExceptionCode(), fault)) {
        return fault;
    }
    return STATUS_SUCCESS;
}

} // namespace kmd
