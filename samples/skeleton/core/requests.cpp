// requests.cpp - the IOCTL table and its handlers. No NT calls: see requests.hpp.
#include "requests.hpp"

#include <skeleton/ioctl.h>

namespace skeleton::core {
namespace {

constexpr char kGreeting[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

constexpr Result fail(uint32_t s) { return Result{s, 0}; }

// IOCTL_SKELETON_SAY_HELLO: the whole greeting or nothing.
Result say_hello(ConstBytes, MutableBytes out)
{
    if (out.data == nullptr || out.size < sizeof kGreeting) return fail(status::buffer_too_small);
    __builtin_memcpy(out.data, kGreeting, sizeof kGreeting);
    return Result{status::success, sizeof kGreeting};
}

// Shared length rules of the two transforms (REVERSE_BUFFERED, ECHO_NEITHER).
uint32_t check_transform_lengths(ConstBytes in, MutableBytes out)
{
    if (in.size > SKELETON_MAX_TRANSFER) return status::invalid_parameter;
    if (in.size > 0 && in.data == nullptr) return status::invalid_parameter;
    if (out.size < in.size || (in.size > 0 && out.data == nullptr)) return status::buffer_too_small;
    return status::success;
}

// IOCTL_SKELETON_REVERSE_BUFFERED. `in` and `out` may be the same system buffer: memmove takes
// all of the input first, then the bytes are reversed in place in the output.
Result reverse_buffered(ConstBytes in, MutableBytes out)
{
    if (uint32_t s = check_transform_lengths(in, out); s != status::success) return fail(s);
    if (in.size == 0) return Result{status::success, 0};
    __builtin_memmove(out.data, in.data, in.size);
    for (size_t lo = 0, hi = in.size - 1; lo < hi; ++lo, --hi) {
        unsigned char t = out.data[lo];
        out.data[lo] = out.data[hi];
        out.data[hi] = t;
    }
    return Result{status::success, in.size};
}

// IOCTL_SKELETON_VERIFY_IN_DIRECT: `data` is the caller's buffer, mapped through the MDL, read only.
Result verify_in_direct(ConstBytes in, ConstBytes data)
{
    if (in.data == nullptr || in.size < sizeof(skeleton_verify_request)) return fail(status::invalid_parameter);
    if (data.data == nullptr || data.size == 0 || data.size > SKELETON_MAX_TRANSFER) return fail(status::invalid_parameter);
    skeleton_verify_request request;
    __builtin_memcpy(&request, in.data, sizeof request);
    if (crc32(data.data, data.size) != request.expected_crc32) return fail(status::crc_error);
    return Result{status::success, data.size};
}

// IOCTL_SKELETON_FILL_OUT_DIRECT: every byte of `out` is written, so no stale memory leaves.
Result fill_out_direct(ConstBytes in, MutableBytes out)
{
    if (in.data == nullptr || in.size < sizeof(skeleton_fill_request)) return fail(status::invalid_parameter);
    if (out.data == nullptr || out.size == 0 || out.size > SKELETON_MAX_TRANSFER) return fail(status::invalid_parameter);
    skeleton_fill_request request;
    __builtin_memcpy(&request, in.data, sizeof request);
    for (size_t i = 0; i < out.size; ++i) out.data[i] = skeleton_pattern_byte(request.seed, static_cast<unsigned long>(i));
    return Result{status::success, out.size};
}

// IOCTL_SKELETON_ECHO_NEITHER: the glue hands us captured kernel copies, never user addresses.
Result echo_neither(ConstBytes in, MutableBytes out)
{
    if (uint32_t s = check_transform_lengths(in, out); s != status::success) return fail(s);
    if (in.size > 0) __builtin_memmove(out.data, in.data, in.size);
    return Result{status::success, in.size};
}

// max_in / max_out: what each handler can read and write at most (kmd/request.hpp). The glue
// refuses longer input before capturing it and sizes its METHOD_NEITHER capture by max_out, so
// SAY_HELLO into a 1 MiB buffer allocates 63 bytes, not 1 MiB. SAY_HELLO ignores its input (0).
constexpr RequestSpec kRequests[] = {
    {IOCTL_SKELETON_SAY_HELLO, "SAY_HELLO", 0, sizeof kGreeting, say_hello, nullptr},
    {IOCTL_SKELETON_REVERSE_BUFFERED, "REVERSE_BUFFERED", SKELETON_MAX_TRANSFER, SKELETON_MAX_TRANSFER, reverse_buffered, nullptr},
    {IOCTL_SKELETON_VERIFY_IN_DIRECT, "VERIFY_IN_DIRECT", sizeof(skeleton_verify_request), SKELETON_MAX_TRANSFER, nullptr,
     verify_in_direct},
    {IOCTL_SKELETON_FILL_OUT_DIRECT, "FILL_OUT_DIRECT", sizeof(skeleton_fill_request), SKELETON_MAX_TRANSFER, fill_out_direct,
     nullptr},
    {IOCTL_SKELETON_ECHO_NEITHER, "ECHO_NEITHER", SKELETON_MAX_TRANSFER, SKELETON_MAX_TRANSFER, echo_neither, nullptr},
};

constexpr kmd::RequestTable kTable = kmd::make_table(kRequests);

} // namespace

const kmd::RequestTable& table() { return kTable; }
const RequestSpec* requests_begin() { return kTable.begin; }
const RequestSpec* requests_end() { return kTable.end; }
const RequestSpec* find_request(uint32_t code) { return kTable.find(code); }

Result handle_device_control(uint32_t code, ConstBytes in, MutableBytes out)
{
    if (kmd::method_of(code) == kmd::kMethodInDirect) return kmd::dispatch_read(kTable, code, in, ConstBytes{out.data, out.size});
    return kmd::dispatch(kTable, code, in, out);
}

const char* greeting() { return kGreeting; }
size_t greeting_size() { return sizeof kGreeting; }

uint32_t crc32(const unsigned char* data, size_t size, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

} // namespace skeleton::core
