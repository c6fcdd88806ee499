// requests.hpp - what @NAME@.sys answers, as plain C++ with no NT calls: compiled into the driver
// and, natively on Linux, into the unit tests and the fuzzer. The kit's glue
// (kit/driver/kmd/irp_buffers.cpp) finds and guards the caller's buffers and runs a row of table().
#pragma once

#include <kmd/request.hpp>

namespace @NAME@::core {

const kmd::RequestTable& table();

// Runs one request as the glue would (for tests): for METHOD_IN_DIRECT, `out` is only read.
kmd::Result handle(uint32_t code, kmd::ConstBytes in, kmd::MutableBytes out);

} // namespace @NAME@::core
