// guarded_x86.cpp - guarded_call on x86: a hand-made frame-based SEH guard.
//
// Why by hand: x86 SEH is frame-based - a chain of EXCEPTION_REGISTRATION_RECORDs on the stack,
// headed by FS:[0] (NT_TIB.ExceptionList) - and clang for i686-w64-windows-gnu accepts __try but
// emits no record, so the handler silently never runs (kit/x86/seh_lowering_probe.sh shows it).
// The other route, clang --target=i686-pc-windows-msvc for this file (_except_handler3), would
// mix two C++ ABIs and two sets of headers in one driver; this file is thirty lines on the
// documented x86 SEH contract instead, and only this file knows about it.
//
// The contract used (Windows x86, and Wine's i386 ntdll/ntoskrnl which follow it):
//  - the dispatcher walks FS:[0] and calls each record's handler(record, frame, context, dispatcher)
//    with the record's own address as `frame`; records must lie on the current stack, 4-aligned;
//  - a handler that takes the exception calls RtlUnwind(frame, ...): every record *above* ours
//    gets its unwind call and is unlinked, so FS:[0] is ours again when RtlUnwind returns;
//  - then control goes back into the guarded function by __builtin_longjmp, which restores its
//    EBP/ESP; there it unlinks its own record and returns the code.
// The image must not claim IMAGE_DLLCHARACTERISTICS_NO_SEH (kit/lint checks x86 images for it),
// and carries no SafeSEH table, so the loader's handler validation accepts this handler as it
// does for any image built without /SAFESEH.
#include "guarded.hpp"

extern "C" NTSYSAPI VOID NTAPI RtlUnwind(PVOID target_frame, PVOID target_ip, PEXCEPTION_RECORD record, PVOID return_value);

namespace kmd {
namespace {

// ExceptionFlags of a handler call made by an unwind, not a dispatch (winnt.h's
// EXCEPTION_UNWINDING and EXCEPTION_EXIT_UNWIND, which the DDK headers do not carry).
constexpr ULONG kUnwindFlags = 0x2 | 0x4;

struct GuardFrame;
extern "C" EXCEPTION_DISPOSITION __cdecl kmd_guard_handler(PEXCEPTION_RECORD, void*, PCONTEXT, void*);

// The registration record must come first: the dispatcher hands the handler the record's address.
struct GuardFrame {
    GuardFrame* next;
    EXCEPTION_DISPOSITION(__cdecl* handler)(PEXCEPTION_RECORD, void*, PCONTEXT, void*);
    void* jump[5];           // __builtin_setjmp's buffer: EBP, the resume address, ESP
    volatile NTSTATUS code;  // written by the handler, read after the jump back
};

GuardFrame* exception_list()
{
    GuardFrame* head;
    asm volatile("movl %%fs:0, %0" : "=r"(head));
    return head;
}

void set_exception_list(GuardFrame* head)
{
    asm volatile("movl %0, %%fs:0" : : "r"(head) : "memory");
}

} // namespace

extern "C" EXCEPTION_DISPOSITION __cdecl kmd_guard_handler(PEXCEPTION_RECORD record, void* frame, PCONTEXT, void*)
{
    // Called again during an unwind that passes through us (a record below ours took the
    // exception): nothing to clean up here, let it pass.
    if (record->ExceptionFlags & kUnwindFlags) return ExceptionContinueSearch;
    auto* guard = static_cast<GuardFrame*>(frame);
    guard->code = record->ExceptionCode != 0 ? static_cast<NTSTATUS>(record->ExceptionCode) : STATUS_UNSUCCESSFUL;
    RtlUnwind(frame, nullptr, record, nullptr);  // unlinks every record above ours
    __builtin_longjmp(guard->jump, 1);
}

// noinline: __builtin_setjmp's buffer holds this function's own EBP and ESP.
__attribute__((noinline)) NTSTATUS guarded_call(GuardedBody body, void* context)
{
    GuardFrame guard;
    guard.next = exception_list();
    guard.handler = kmd_guard_handler;
    guard.code = STATUS_SUCCESS;
    if (__builtin_setjmp(guard.jump) != 0) {
        // Back from the handler: RtlUnwind left our record at the head of the chain.
        set_exception_list(guard.next);
        return guard.code;
    }
    set_exception_list(&guard);
    body(context);
    set_exception_list(guard.next);
    return STATUS_SUCCESS;
}

} // namespace kmd
