// IOCTL arithmetic: decode takes a code apart, encode builds one, as CTL_CODE does.
#include "verbs.hpp"

#include <cstdint>
#include <cstdio>

#include "request.hpp"

namespace kmdctl {

namespace {

void print_decoded(uint32_t code)
{
    // CTL_CODE's fields (winioctl.h): device type 31-16, access 15-14, function 13-2, method 1-0.
    const uint32_t device_type = code >> 16, access = (code >> 14) & 3u, function = (code >> 2) & 0xFFFu, method = code & 3u;
    const char* device = kmd::device_type_name(device_type);
    // Bit 31 (device type >= 0x8000) and bit 13 (function >= 0x800) mark customer-defined values.
    const bool custom_device = (device_type & 0x8000u) != 0, custom_function = (function & 0x800u) != 0;
    std::printf("code        : 0x%08lx\n", static_cast<unsigned long>(code));
    std::printf("device type : 0x%04x %s%s(%s)\n", device_type, device != nullptr ? device : "", device != nullptr ? " " : "",
                custom_device ? "customer range" : "Microsoft range");
    std::printf("function    : 0x%03x (%s)\n", function, custom_function ? "customer range" : "Microsoft range");
    std::printf("method      : %u %s\n", method, kmd::method_name(method));
    std::printf("access      : %u %s\n", access, kmd::access_name(access));
    std::printf("CTL_CODE(0x%04x, 0x%03x, %s, %s)\n", device_type, function, kmd::method_name(method), kmd::access_name(access));
}

} // namespace

int cmd_decode(const Args& a)
{
    Request r;
    if (int rc = resolve_code("decode", a, a.positional[0], r); rc != kExitOk) return rc;
    if (!r.code_name.empty()) std::printf("name        : %s\n", r.code_name.c_str());
    print_decoded(r.code);
    return kExitOk;
}

int cmd_encode(const Args& a)
{
    const auto device = kmd::parse_device_type(a.positional[0]);
    const auto function = kmd::parse_u32(a.positional[1]);
    const auto method = kmd::parse_method(a.positional[2]);
    const auto access = kmd::parse_access(a.positional[3]);
    if (!device) return usage_error("encode", "device type: a FILE_DEVICE_* name or a number up to 0xFFFF");
    if (!function || *function > 0xFFF) return usage_error("encode", "function: a number up to 0xFFF");
    if (!method) return usage_error("encode", "method: BUFFERED, IN_DIRECT, OUT_DIRECT, NEITHER or 0..3");
    if (!access) return usage_error("encode", "access: ANY_ACCESS, READ_ACCESS, WRITE_ACCESS, READ_WRITE_ACCESS or 0..3");
    print_decoded((*device << 16) | (*access << 14) | (*function << 2) | *method);
    return kExitOk;
}

} // namespace kmdctl
