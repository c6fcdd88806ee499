// user_copy.cpp - see user_copy.hpp. The one kit file built with -fasync-exceptions, so the guard
// covers plain loads and stores and inlined copies too, not only calls.
#include "user_copy.hpp"

namespace kmd {
namespace {

// The exception code, taken in the __except *filter*. Under Wine the __except body sees 0 from
// GetExceptionCode(): on x64 the body reads it from RAX, set by the unwind to RtlUnwindEx's
// ReturnValue, which Wine 8's __C_specific_handler passes as 0 where Windows passes the code. The
// filter runs before the unwind and has the exception record on both. An
// exception code is never a success status, but a failed request must never be reported as one,
// so 0 becomes a plain failure.
LONG take_exception_code(ULONG code, NTSTATUS& out)
{
    out = code != 0 ? static_cast<NTSTATUS>(code) : STATUS_UNSUCCESSFUL;
    return EXCEPTION_EXECUTE_HANDLER;
}

} // namespace

NTSTATUS probe_and_capture(KPROCESSOR_MODE mode, const void* user_in, ULONG in_len, void* user_out, ULONG out_len, void* capture)
{
    NTSTATUS fault = STATUS_SUCCESS;
    __try {
        if (mode != KernelMode) {
            // Alignment 1: the contract's buffers are byte arrays. A driver whose input is a
            // structure would probe with its alignment (TYPE_ALIGNMENT), which can then raise
            // STATUS_DATATYPE_MISALIGNMENT.
            if (in_len != 0) ProbeForRead(const_cast<void*>(user_in), in_len, 1);
            if (out_len != 0) ProbeForWrite(user_out, out_len, 1);
        }
        if (in_len != 0) RtlCopyMemory(capture, user_in, in_len);
    } __except (take_exception_code(GetExceptionCode(), fault)) {
        return fault;
    }
    return STATUS_SUCCESS;
}

NTSTATUS copy_to_user(void* user_out, const void* from, SIZE_T bytes)
{
    NTSTATUS fault = STATUS_SUCCESS;
    __try {
        RtlCopyMemory(user_out, from, bytes);
    } __except (take_exception_code(GetExceptionCode(), fault)) {
        return fault;
    }
    return STATUS_SUCCESS;
}

} // namespace kmd
