// sweep_call.hpp - one request of `kmdctl sweep`: sent overlapped, so a driver that pends it (an
// inverted call) is not waited on forever but cancelled, and the buffer shapes the sweep sends
// (seeded sizes, buffers ending at a guard page, bad and kernel pointers), each one replayable by
// itself with `kmdctl sweep DEVICE --call SPEC`.
#pragma once

#include <windows.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kmd {

// Where a call's buffer lies.
enum class BufferPlace {
    seeded,  // an ordinary buffer (input filled from the seed)
    guard,   // its last byte is the last byte before a PAGE_NOACCESS page: an over-read or over-write faults
    bad,     // an unmapped user address (0x10 for input, 0x20 for output)
    kernel,  // an address in the kernel half (x64 0xFFFF800000002000, x86 0x80002000)
};

struct CallSpec {
    uint32_t code = 0;
    DWORD in_size = 0, out_size = 0;
    BufferPlace in_place = BufferPlace::seeded, out_place = BufferPlace::seeded;
};

// "0x222400,in=16,out=4096,guard" ("guard" puts both buffers at a guard page; "bad-in",
// "bad-out", "kernel-in", "kernel-out" one each). std::nullopt on a malformed spec.
std::optional<CallSpec> parse_call_spec(const std::string& text);
// The spec back, as --call takes it.
std::string call_spec_text(const CallSpec& spec);

// What became of one request.
struct CallResult {
    DWORD error = 0;      // 0: success, else the Win32 error it completed with
    DWORD returned = 0;
    bool pended = false;  // still pending after the pend limit: cancelled (CancelIo)
    bool stuck = false;   // ...and not completed even after the cancel
};

// Sends `spec` on `device` (opened with FILE_FLAG_OVERLAPPED). A request still pending after
// `pend_ms` is cancelled and must then complete within `cancel_ms`.
CallResult send_call(HANDLE device, const CallSpec& spec, DWORD pend_ms, DWORD cancel_ms = 2000);

// The sweep's set for the live codes: per code sizes 0/16/4096/1 MiB in x out and two buffers
// ending at a guard page; then, for every code, bad and kernel pointers (last: a caller's side may
// refuse them before they reach the driver, as Wine's does, and the numbering of the others stays).
std::vector<CallSpec> exercise_calls(const std::vector<uint32_t>& codes);

// The input bytes every seeded call sends (the same for a replay with the same seed).
void seed_input(uint32_t seed);

} // namespace kmd
