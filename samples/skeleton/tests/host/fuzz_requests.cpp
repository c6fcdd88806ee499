// fuzz_requests.cpp - libFuzzer over the request core: any code, any lengths, aliased or separate
// buffers. Checks the rules the NT glue relies on (requests.hpp), not just "no crash".
#include <skeleton/ioctl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/requests.hpp"

namespace core = skeleton::core;

#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 8) return 0;
    uint32_t selector, out_len;
    std::memcpy(&selector, data, 4);
    std::memcpy(&out_len, data + 4, 4);
    data += 8, size -= 8;

    // Mostly real codes (the interesting paths), sometimes arbitrary ones.
    const size_t rows = static_cast<size_t>(core::requests_end() - core::requests_begin());
    const uint32_t code = (selector & 0x80000000u) ? selector : core::requests_begin()[selector % rows].code;
    const bool aliased = (selector & 0x40000000u) != 0; // METHOD_BUFFERED shares one buffer
    out_len %= 8192;

    constexpr unsigned char kCanary = 0xA5;
    std::vector<unsigned char> in(data, data + size);
    std::vector<unsigned char> out(aliased ? std::max<size_t>(size, out_len) : out_len, kCanary);
    if (aliased) std::copy(in.begin(), in.end(), out.begin());
    const std::vector<unsigned char> before = out;

    const core::ConstBytes in_bytes{aliased ? out.data() : (in.empty() ? nullptr : in.data()), in.size()};
    const core::MutableBytes out_bytes{out.empty() ? nullptr : out.data(), aliased ? out.size() : out_len};
    const core::Result r = core::handle_device_control(code, in_bytes, out_bytes);

    FUZZ_CHECK(r.information <= out_bytes.size);
    if (r.status != core::status::success) {
        FUZZ_CHECK(r.information == 0);
        if (!aliased) FUZZ_CHECK(out == before); // a failed request writes nothing
    }
    if (core::find_request(code) == nullptr) FUZZ_CHECK(r.status == core::status::not_implemented);
    if (!aliased && kmd::method_of(code) == kmd::kMethodInDirect) {
        // METHOD_IN_DIRECT: the second buffer is the caller's data, locked for *read*: not one
        // byte of it may change, whatever the request answers.
        FUZZ_CHECK(out == before);
    } else if (!aliased) {
        // Nothing past Information is touched.
        for (size_t i = r.information; i < out.size(); ++i) FUZZ_CHECK(out[i] == kCanary);
    }
    if (r.status == core::status::success && code == IOCTL_SKELETON_SAY_HELLO)
        FUZZ_CHECK(r.information == core::greeting_size() && std::memcmp(out.data(), core::greeting(), r.information) == 0);
    if (r.status == core::status::success && code == IOCTL_SKELETON_REVERSE_BUFFERED)
        for (size_t i = 0; i < in.size(); ++i) FUZZ_CHECK(out[i] == in[in.size() - 1 - i]);
    if (r.status == core::status::success && code == IOCTL_SKELETON_ECHO_NEITHER)
        FUZZ_CHECK(in.empty() || std::memcmp(out.data(), in.data(), in.size()) == 0);
    return 0;
}
