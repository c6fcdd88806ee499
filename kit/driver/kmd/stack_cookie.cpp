// stack_cookie.cpp - stack cookies in kernel mode: what clang's -fstack-protector-strong needs for
// the mingw targets (__stack_chk_guard, __stack_chk_fail), the kernel-safe way, and the image's
// entry point that seeds the cookie before any protected function runs.
//
// Every function with an array or an address-taken local (an RAII owner is one) stores the cookie
// below its locals on entry and compares it on return; a linear overrun of a stack buffer
// overwrites it first. This is the WDK's /GS (__security_cookie, GsDriverEntry, bug check 0xF7)
// with the GNU names clang uses for these targets.
//
// Compiled into each driver (kmd_add_driver adds it), not into the kit's library: the bug-check
// message then names the driver (KMD_DRIVER_NAME) and the offset of the failed check in its image.
#include "stack_cookie.hpp"

#include "nt.hpp"

#ifndef KMD_DRIVER_NAME
#define KMD_DRIVER_NAME "driver"
#endif

#ifndef DRIVER_OVERRAN_STACK_BUFFER
#define DRIVER_OVERRAN_STACK_BUFFER 0xF7
#endif

extern "C" {

// The cookie. Not zero before seeding (a check must still work, and zero is what an overrun of
// a zeroed buffer writes); replaced at load by kmd_seed_stack_cookie().
uintptr_t __stack_chk_guard = static_cast<uintptr_t>(kmd::kDefaultStackCookie);

// The driver's own entry point, declared by every driver (DriverEntry, NTAPI).
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

// A protected function found its cookie overwritten: its stack is corrupt, and returning would
// jump wherever the overrun pointed. Nothing of the driver may run on: bug check, as /GS does.
// Parameters as the WDK's DRIVER_OVERRAN_STACK_BUFFER, except the first: the address in the
// function whose buffer overran (where the check failed), since this call carries no cookie.
// The line names the failed check as image+offset, which the harness symbolizes (winebox.py's
// bug-check report): Wine's KeBugCheckEx ends the driver host without a crash report.
extern const char __ImageBase[]; // the linker's: the first byte of this image, where it is loaded

__attribute__((no_stack_protector, noreturn)) void __stack_chk_fail()
{
    const uintptr_t where = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL,
               KMD_DRIVER_NAME ": bug check 0x%08lX DRIVER_OVERRAN_STACK_BUFFER at " KMD_DRIVER_NAME ".sys+0x%lx: "
                               "the stack cookie of that function was overwritten (a stack buffer overran)\n",
               static_cast<ULONG>(DRIVER_OVERRAN_STACK_BUFFER),
               static_cast<ULONG>(where - reinterpret_cast<uintptr_t>(__ImageBase)));
    KeBugCheckEx(DRIVER_OVERRAN_STACK_BUFFER, where, __stack_chk_guard, ~__stack_chk_guard, 0);
}

// The image's entry point (kmd_add_driver links with --entry KmdDriverEntry): the cookie first,
// then the driver's DriverEntry, which may itself be protected. Unprotected itself, so that the
// cookie can change under it.
__attribute__((no_stack_protector)) NTSTATUS NTAPI KmdDriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    kmd_seed_stack_cookie();
    return DriverEntry(driver, registry_path);
}

} // extern "C"

namespace {

// splitmix64's finalizer: every input bit reaches every output bit.
constexpr uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace

// Entropy the kernel gives at load: the time-stamp counter, the performance counter, where the
// stack is and where the image was loaded (KASLR). Not cryptographic; what /GS seeds from too.
extern "C" __attribute__((no_stack_protector)) void kmd_seed_stack_cookie()
{
    volatile int on_the_stack = 0;
    uint64_t seed = __builtin_ia32_rdtsc();
    seed = mix(seed ^ static_cast<uint64_t>(KeQueryPerformanceCounter(nullptr).QuadPart));
    seed = mix(seed ^ reinterpret_cast<uintptr_t>(&on_the_stack));
    seed = mix(seed ^ reinterpret_cast<uintptr_t>(&__stack_chk_guard));
    __stack_chk_guard = kmd::finish_stack_cookie(seed);
}
