// user_copy.hpp - the seam for touching a METHOD_NEITHER caller's memory (for irp_buffers.cpp):
// probing and copying under an exception guard. x64: user_copy.cpp, the kit's only __try/__except;
// x86: user_copy_x86.cpp, the hand-made frame-based guard of guarded.hpp.
// In a file of its own, and in functions that own no C++ object with a destructor, on purpose: where a function has both a __try and such an object, clang
// (-fasync-exceptions) runs the object's destructor while unwinding to the __except *and* again on
// the way out. kmdverify.sys caught that as a double ExFreePoolWithTag of run_neither's capture
// buffer after every caught fault (Wine's heap let it pass silently); MSVC refuses the mix outright
// (error C2712).
#pragma once

#include <kmd/nt.hpp>

namespace kmd {

// For a request from user mode (`mode` != KernelMode): ProbeForRead the input, ProbeForWrite the
// output (alignment 1: byte arrays). Then copies in_len bytes of the input into `capture`.
// STATUS_SUCCESS, or the exception code of the fault.
_IRQL_requires_max_(APC_LEVEL) // user memory: the caller's address space, pageable
NTSTATUS probe_and_capture(KPROCESSOR_MODE mode, const void* user_in, ULONG in_len, void* user_out, ULONG out_len, void* capture);

// Copies `bytes` bytes to the (probed) user output buffer. STATUS_SUCCESS, or the exception code.
_IRQL_requires_max_(APC_LEVEL)
NTSTATUS copy_to_user(void* user_out, const void* from, SIZE_T bytes);

} // namespace kmd
