// requests.hpp - what skeleton.sys answers, as plain C++ with no NT calls.
//
// The NT glue (driver/nt) unpacks an IRP into a control code and two byte ranges, calls
// handle_device_control(), and completes the IRP with the Result. Everything that decides an
// answer - which codes exist, which lengths are acceptable, what bytes go out - lives here, so
// the same object code's source is compiled into the driver and, natively on Linux, into the unit
// tests and the libFuzzer target (tests/host).
//
// Rules every handler keeps (the glue relies on them):
//   * lengths are checked before a single byte is read or written;
//   * Result::information never exceeds out.size, and every byte it counts was written;
//   * for METHOD_BUFFERED `in` and `out` are the same memory: read all input before writing.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace skeleton::core {

// NTSTATUS values the request logic answers with (from ntstatus.h; the driver build checks them
// against the DDK's definitions, see driver/nt/skeleton.cpp).
namespace status {
inline constexpr uint32_t success = 0x00000000u;
inline constexpr uint32_t not_implemented = 0xC0000002u;   // ERROR_INVALID_FUNCTION (1)
inline constexpr uint32_t invalid_parameter = 0xC000000Du; // ERROR_INVALID_PARAMETER (87)
inline constexpr uint32_t buffer_too_small = 0xC0000023u;  // ERROR_INSUFFICIENT_BUFFER (122)
inline constexpr uint32_t crc_error = 0xC000003Fu;         // ERROR_CRC (23)
inline constexpr uint32_t insufficient_resources = 0xC000009Au; // ERROR_NO_SYSTEM_RESOURCES (1450)
inline constexpr uint32_t cancelled = 0xC0000120u;              // ERROR_OPERATION_ABORTED (995)
} // namespace status

struct ConstBytes {
    const unsigned char* data;
    size_t size;
};

struct MutableBytes {
    unsigned char* data;
    size_t size;
};

struct Result {
    uint32_t status;
    size_t information; // bytes written to (or, for IN_DIRECT, read from) the output buffer
};

// One row of the IOCTL table.
struct RequestSpec {
    uint32_t code;
    const char* name;
    Result (*handle)(ConstBytes in, MutableBytes out);
};

// The table row for `code`, or nullptr: the glue asks before it touches any buffer, so an
// unknown code is refused without probing, mapping or allocating anything.
const RequestSpec* find_request(uint32_t code);

// All rows, for documentation and tests.
const RequestSpec* requests_begin();
const RequestSpec* requests_end();

// Dispatch one IRP_MJ_DEVICE_CONTROL whose buffers the glue has already made safe to touch.
Result handle_device_control(uint32_t code, ConstBytes in, MutableBytes out);

// IOCTL_SKELETON_DELAY_PENDING is not in the table: the NT glue keeps it in flight (driver/nt/
// pending.cpp). Its input rules live here: success and the delay, or the status to fail with.
uint32_t check_delay_request(ConstBytes in, uint32_t& delay_ms);

// The SAY_HELLO greeting, NUL-terminated, and its size including the NUL.
const char* greeting();
size_t greeting_size();

// CRC-32 (IEEE 802.3, reflected, as zlib's crc32() and ntdll's RtlComputeCrc32(crc, data, size))
// - IOCTL_SKELETON_VERIFY_IN_DIRECT. Slicing-by-8, eight bytes per step.
uint32_t crc32(const unsigned char* data, size_t size, uint32_t crc = 0);

// The same CRC one bit at a time: the definition, kept as the reference the tests compare against.
uint32_t crc32_bitwise(const unsigned char* data, size_t size, uint32_t crc = 0);

// The FILL_OUT_DIRECT pattern: data[i] = skeleton_pattern_byte(seed, i) for every i < size.
void fill_pattern(unsigned char* data, size_t size, uint32_t seed);

} // namespace skeleton::core
