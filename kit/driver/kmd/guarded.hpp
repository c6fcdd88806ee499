// guarded.hpp - the one seam between driver code and structured exception handling.
//
// guarded(body) runs body() and turns any exception raised inside it - an access violation on a
// caller's METHOD_NEITHER pointer, ProbeForRead's misalignment or range error - into its code, so
// code such as irp_buffers.cpp reads the same on every architecture:
//
//     NTSTATUS fault = guarded([&] { ProbeForRead(user_in, len, 1); RtlCopyMemory(kernel, user_in, len); });
//
// x86 only: clang for i686-w64-windows-gnu does not lower __try/__except (it drops the handler
// silently), so guarded_x86.cpp makes the guard by hand: a frame-based SEH record on FS:[0] whose
// handler unwinds (RtlUnwind) and jumps back (__builtin_longjmp). body runs behind a function
// pointer, in its own frame, so the guard covers exactly body's instructions and the calls it makes.
// The kit's user-memory seam is user_copy.hpp: on x64 it is plain __try/__except (user_copy.cpp),
// whose scope tables the lint can check in the image; on x86 it is this (user_copy_x86.cpp).
#pragma once

#include "nt.hpp"

namespace kmd {

using GuardedBody = void (*)(void* context);

// Runs body(context). Returns STATUS_SUCCESS if it returned normally, else the code of the
// exception that ended it (never a success code: an exception code of 0 becomes
// STATUS_UNSUCCESSFUL). Must be called at IRQL <= APC_LEVEL when body touches user memory.
NTSTATUS guarded_call(GuardedBody body, void* context);

template <class Body>
NTSTATUS guarded(const Body& body)
{
    return guarded_call([](void* context) { (*static_cast<const Body*>(context))(); },
                        const_cast<void*>(static_cast<const void*>(&body)));
}

} // namespace kmd
