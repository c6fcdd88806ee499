// requests.cpp - @NAME@'s IOCTL table and handlers. No NT calls: see requests.hpp. Each handler
// checks lengths before it touches a byte and never claims more output than it wrote.
#include "requests.hpp"

#include <@NAME@/ioctl.h>

namespace @NAME@::core {
namespace {

using kmd::ConstBytes;
using kmd::MutableBytes;
using kmd::Result;
namespace status = kmd::status;

uint32_t load_u32(const unsigned char* p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

void store_u32(unsigned char* p, uint32_t v) { __builtin_memcpy(p, &v, sizeof v); }

// IOCTL_@UPPER@_ADD (METHOD_BUFFERED: `in` and `out` are one buffer - read all input first).
Result add(ConstBytes in, MutableBytes out)
{
    if (in.data == nullptr || in.size < 8) return {status::invalid_parameter, 0};
    if (out.data == nullptr || out.size < 4) return {status::buffer_too_small, 0};
    const uint32_t sum = load_u32(in.data) + load_u32(in.data + 4);
    store_u32(out.data, sum);
    return {status::success, 4};
}

// IOCTL_@UPPER@_CHECK_SUM (METHOD_IN_DIRECT: `data` is the caller's buffer, read-only).
Result check_sum(ConstBytes in, ConstBytes data)
{
    if (in.data == nullptr || in.size < 4) return {status::invalid_parameter, 0};
    if (data.data == nullptr || data.size == 0) return {status::invalid_parameter, 0};
    uint32_t sum = 0;
    for (size_t i = 0; i < data.size; ++i) sum += data.data[i];
    if (sum != load_u32(in.data)) return {status::crc_error, 0};
    return {status::success, data.size};
}

// IOCTL_@UPPER@_FILL (METHOD_OUT_DIRECT: `out` is the caller's buffer, mapped for writing).
Result fill(ConstBytes in, MutableBytes out)
{
    if (in.data == nullptr || in.size < 4) return {status::invalid_parameter, 0};
    if (out.data == nullptr || out.size == 0) return {status::invalid_parameter, 0};
    const auto value = static_cast<unsigned char>(load_u32(in.data));
    for (size_t i = 0; i < out.size; ++i) out.data[i] = value;
    return {status::success, out.size};
}

// IOCTL_@UPPER@_VERSION (METHOD_NEITHER: the kit hands us a captured kernel copy, never a user address).
Result version(ConstBytes, MutableBytes out)
{
    if (out.data == nullptr || out.size < 4) return {status::buffer_too_small, 0};
    store_u32(out.data, @UPPER@_VERSION_NUMBER);
    return {status::success, 4};
}

// One row per IOCTL: code, name, how much input the handler reads at most (0: none), how much
// output it writes at most, and its handler (write: fills `out`; read: METHOD_IN_DIRECT only).
constexpr kmd::RequestSpec kRequests[] = {
    {IOCTL_@UPPER@_ADD, "ADD", 8, 4, add, nullptr},
    {IOCTL_@UPPER@_CHECK_SUM, "CHECK_SUM", 4, @UPPER@_MAX_TRANSFER, nullptr, check_sum},
    {IOCTL_@UPPER@_FILL, "FILL", 4, @UPPER@_MAX_TRANSFER, fill, nullptr},
    {IOCTL_@UPPER@_VERSION, "VERSION", 0, 4, version, nullptr},
};

constexpr kmd::RequestTable kTable = kmd::make_table(kRequests);

} // namespace

const kmd::RequestTable& table() { return kTable; }

kmd::Result handle(uint32_t code, kmd::ConstBytes in, kmd::MutableBytes out)
{
    if (kmd::method_of(code) == kmd::kMethodInDirect) return kmd::dispatch_read(kTable, code, in, {out.data, out.size});
    return kmd::dispatch(kTable, code, in, out);
}

} // namespace @NAME@::core
