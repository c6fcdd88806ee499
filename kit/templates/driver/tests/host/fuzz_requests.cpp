// fuzz_requests.cpp - libFuzzer over @NAME@'s request core: any code, any lengths. Checks the rules
// the kit's glue relies on (kmd/request.hpp), not just "no crash".
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/requests.hpp"

#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::fprintf(stderr, "rule broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                     \
        }                                                                     \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 8) return 0;
    uint32_t selector, out_len;
    std::memcpy(&selector, data, 4);
    std::memcpy(&out_len, data + 4, 4);
    data += 8, size -= 8;
    const auto& table = @NAME@::core::table();
    const size_t rows = static_cast<size_t>(table.end - table.begin);
    const uint32_t code = (selector & 0x80000000u) ? selector : table.begin[selector % rows].code;
    out_len %= 8192;

    constexpr unsigned char kCanary = 0xA5;
    std::vector<unsigned char> in(data, data + size), out(out_len, kCanary);
    const std::vector<unsigned char> before = out;
    const kmd::Result r = @NAME@::core::handle(code, {in.empty() ? nullptr : in.data(), in.size()}, {out.empty() ? nullptr : out.data(), out.size()});

    FUZZ_CHECK(r.information <= out.size());
    if (r.status != kmd::status::success) FUZZ_CHECK(r.information == 0 && out == before);
    if (kmd::method_of(code) == kmd::kMethodInDirect) FUZZ_CHECK(out == before); // read-only data
    else
        for (size_t i = r.information; i < out.size(); ++i) FUZZ_CHECK(out[i] == kCanary);
    if (table.find(code) == nullptr) FUZZ_CHECK(r.status == kmd::status::not_implemented);
    return 0;
}
