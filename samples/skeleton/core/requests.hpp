// requests.hpp - what skeleton.sys answers, as plain C++ with no NT calls.
//
// The kit's NT glue (kit/driver/kmd/irp_buffers.cpp) unpacks an IRP into a control code and two
// byte ranges and runs the matching row of table(). Everything that decides an answer - which
// codes exist, which lengths are acceptable, what bytes go out - lives here, so the same source is
// compiled into the driver and, natively on Linux, into the unit tests and the libFuzzer target
// (tests/host). The rules every handler keeps are in kmd/request.hpp.
#pragma once

#include <kmd/request.hpp>

namespace skeleton::core {

using kmd::ConstBytes;
using kmd::MutableBytes;
using kmd::RequestSpec;
using kmd::Result;
namespace status = kmd::status;

// The IOCTL table, as the kit's glue takes it.
const kmd::RequestTable& table();

// The table row for `code`, or nullptr: the glue asks before it touches any buffer, so an
// unknown code is refused without probing, mapping or allocating anything.
const RequestSpec* find_request(uint32_t code);

// All rows, for documentation and tests.
const RequestSpec* requests_begin();
const RequestSpec* requests_end();

// Runs one IRP_MJ_DEVICE_CONTROL whose buffers are safe to touch, as the glue does: for the
// METHOD_IN_DIRECT code `out` is the caller's data and is only read (kmd::dispatch_read).
Result handle_device_control(uint32_t code, ConstBytes in, MutableBytes out);

// The SAY_HELLO greeting, NUL-terminated, and its size including the NUL.
const char* greeting();
size_t greeting_size();

// CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) - IOCTL_SKELETON_VERIFY_IN_DIRECT.
uint32_t crc32(const unsigned char* data, size_t size, uint32_t crc = 0);

} // namespace skeleton::core
