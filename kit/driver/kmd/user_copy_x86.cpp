// user_copy_x86.cpp - user_copy.hpp on x86. clang for i686-w64-windows-gnu does not lower
// __try/__except (it drops the handler without a word), so the same two functions run their
// accesses under guarded() (guarded.hpp, guarded_x86.cpp): a hand-made FS:[0] SEH record whose
// handler unwinds and jumps back. Like user_copy.cpp, no function here owns a C++ object with a
// destructor: the jump back skips whatever the guarded body had on its stack.
#include "user_copy.hpp"

#include "guarded.hpp"

namespace kmd {

NTSTATUS probe_and_capture(KPROCESSOR_MODE mode, const void* user_in, ULONG in_len, void* user_out, ULONG out_len, void* capture)
{
    return guarded([&] {
        if (mode != KernelMode) {
            // Alignment 1: the contract's buffers are byte arrays (see user_copy.cpp).
            if (in_len != 0) ProbeForRead(const_cast<void*>(user_in), in_len, 1);
            if (out_len != 0) ProbeForWrite(user_out, out_len, 1);
        }
        if (in_len != 0) RtlCopyMemory(capture, user_in, in_len);
    });
}

NTSTATUS copy_to_user(void* user_out, const void* from, SIZE_T bytes)
{
    return guarded([&] { RtlCopyMemory(user_out, from, bytes); });
}

} // namespace kmd
