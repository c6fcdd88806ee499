// fuzz_requests.cpp - libFuzzer over the request core: any code, any lengths, aliased or separate
// buffers. Checks the rules the NT glue relies on (requests.hpp), not just "no crash".
#include <skeleton/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/requests.hpp"

namespace core = skeleton::core;

namespace {

// The request the current input makes, for the message when a rule breaks.
struct Current {
    uint32_t code;
    size_t in_len;
    size_t out_len;
    bool aliased;
};
Current g_current{};

// A broken rule is named, with the request that broke it, before libFuzzer saves the input
// (crash-<sha1>; replay it alone with `fuzz_requests crash-<sha1>`).
[[noreturn]] void rule_broken(const char* rule, const char* check, int line)
{
    std::fprintf(stderr,
                 "\nfuzz_requests: RULE BROKEN: %s\n  check     : %s (fuzz_requests.cpp:%d)\n"
                 "  request   : code 0x%08x, in %zu bytes, out %zu bytes, %s buffers\n",
                 rule, check, line, static_cast<unsigned>(g_current.code), g_current.in_len, g_current.out_len,
                 g_current.aliased ? "one shared (METHOD_BUFFERED)" : "separate");
    __builtin_trap();
}

} // namespace

#define FUZZ_RULE(rule, cond)                               \
    do {                                                    \
        if (!(cond)) rule_broken(rule, #cond, __LINE__);    \
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
    g_current = {code, in.size(), out_bytes.size, aliased};
#ifdef FUZZ_SELFTEST_BREAK_INFORMATION
    core::Result r = core::handle_device_control(code, in_bytes, out_bytes);
    if (r.status == core::status::success) r.information = out_bytes.size + 1; // the planted bug
#else
    const core::Result r = core::handle_device_control(code, in_bytes, out_bytes);
#endif

    FUZZ_RULE("Information never exceeds the output buffer", r.information <= out_bytes.size);
    if (r.status != core::status::success) {
        FUZZ_RULE("a failed request reports Information 0", r.information == 0);
        if (!aliased) FUZZ_RULE("a failed request writes nothing", out == before);
    }
    if (core::find_request(code) == nullptr)
        FUZZ_RULE("an unknown code gets STATUS_NOT_IMPLEMENTED", r.status == core::status::not_implemented);
    if (!aliased && kmd::method_of(code) == kmd::kMethodInDirect) {
        // METHOD_IN_DIRECT: the second buffer is the caller's data, locked for *read*: not one
        // byte of it may change, whatever the request answers.
        FUZZ_RULE("an IN_DIRECT request never writes the caller's data buffer", out == before);
    } else if (!aliased) {
        for (size_t i = r.information; i < out.size(); ++i)
            FUZZ_RULE("nothing past Information is touched", out[i] == kCanary);
    }
    if (r.status == core::status::success && code == IOCTL_SKELETON_SAY_HELLO)
        FUZZ_RULE("SAY_HELLO returns exactly the greeting",
                  r.information == core::greeting_size() && std::memcmp(out.data(), core::greeting(), r.information) == 0);
    if (r.status == core::status::success && code == IOCTL_SKELETON_REVERSE_BUFFERED)
        for (size_t i = 0; i < in.size(); ++i)
            FUZZ_RULE("REVERSE_BUFFERED returns the input reversed", out[i] == in[in.size() - 1 - i]);
    if (r.status == core::status::success && code == IOCTL_SKELETON_ECHO_NEITHER)
        FUZZ_RULE("ECHO_NEITHER returns the input", in.empty() || std::memcmp(out.data(), in.data(), in.size()) == 0);
    return 0;
}
