// guarded_x64.cpp - guarded_call on x64: compiler-made, table-based SEH (__try/__except).
// Built with -fasync-exceptions (kit/cmake, skeleton_seh_sources): without it clang assumes a
// plain load or store cannot fault and may drop the handler.
#include "guarded.hpp"

namespace skeleton::nt {
namespace {

// The exception code, taken in the __except *filter*: that is where GetExceptionCode() is
// defined to work (in the handler body clang/mingw yields 0).
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

} // namespace skeleton::nt
