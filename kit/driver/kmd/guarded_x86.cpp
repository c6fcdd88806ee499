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
//  - RtlUnwind "returns" through ZwContinue with a context it captured itself, and on an NT
//    kernel (ReactOS's RtlpCaptureContext; x86 Windows alike) that context has EAX..EDI zeroed:
//    only ESP and EBP survive the call. Wine's RtlUnwind keeps every register, which is why
//    32-bit Wine never showed it and a real kernel double-faulted (bug check 0x7F). So the call
//    goes through unwind_to() below, which keeps EBX/ESI/EDI/EBP on the stack around it, as
//    MSVC's _global_unwind2 does;
//  - a fault inside the handler itself (a nested exception) must not unwind to us again: the
//    guard remembers it is already unwinding and lets such a fault pass to the outer handlers;
//  - then control goes back into the guarded function by __builtin_longjmp, which restores its
//    EBP/ESP; there it unlinks its own record and returns the code.
// The image must not claim IMAGE_DLLCHARACTERISTICS_NO_SEH (kit/lint checks x86 images for it),
// and carries no SafeSEH table, so the loader's handler validation accepts this handler as it
// does for any image built without /SAFESEH.
#include "guarded.hpp"

// RtlUnwind(frame, nullptr, record, nullptr) with every callee-saved register kept on the stack
// across it (see above): the only thing the code after it may rely on is ESP. Reached through the
// import slot __imp__RtlUnwind@16, as a dllimport call would be.
extern "C" void __stdcall kmd_unwind_to(void* frame, PEXCEPTION_RECORD record);
asm(R"(
    .text
    .globl _kmd_unwind_to@8
_kmd_unwind_to@8:
    pushl %ebp
    movl  %esp, %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    pushl %ebp
    pushl $0                  # ReturnValue
    pushl 12(%ebp)            # ExceptionRecord
    pushl $0                  # TargetIp
    pushl 8(%ebp)             # TargetFrame
    call  *__imp__RtlUnwind@16
    popl  %ebp                # ESP-relative from here on: nothing else is trusted
    popl  %edi
    popl  %esi
    popl  %ebx
    popl  %ebp
    ret   $8
)");

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
    volatile bool unwinding; // the handler has taken an exception: a nested one is not ours
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
    // A fault while we unwind to this guard would bring us here again and again until the stack is
    // gone (a double fault on a real kernel): leave it to the handlers outside ours.
    if (guard->unwinding) return ExceptionContinueSearch;
    guard->unwinding = true;
    guard->code = record->ExceptionCode != 0 ? static_cast<NTSTATUS>(record->ExceptionCode) : STATUS_UNSUCCESSFUL;
    kmd_unwind_to(frame, record); // unlinks every record above ours; registers kept by the thunk
    __builtin_longjmp(guard->jump, 1);
}

// noinline: __builtin_setjmp's buffer holds this function's own EBP and ESP.
__attribute__((noinline)) NTSTATUS guarded_call(GuardedBody body, void* context)
{
    GuardFrame guard;
    guard.next = exception_list();
    guard.handler = kmd_guard_handler;
    guard.code = STATUS_SUCCESS;
    guard.unwinding = false;
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
