// crash_symbols.hpp - where a crash happened, in words, for any driver: winedbg's first frame read
// whether or not it found a symbol, and the function named from the image's own data when winedbg
// had no debug information (exports, the COFF symbol table, .pdata function ranges). Pure C++ over
// bytes, so the host unit tests cover it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kmd {

// winedbg's first frame. With a symbol:
//   "=>0 0x0000000180001050 record_request(...) [C:\...\crash_on_ioctl.cpp:26] in crash_on_ioctl (0x...)"
// without one (a driver built without debug information):
//   "=>0 0x00000001800011d0 in crashme (+0x11d0) (0x000000000021fc40)"
struct Frame {
    unsigned long long address = 0;
    std::string module;      // as winedbg names it ("crashme", or "crashme.sys")
    std::string text;        // winedbg's symbol and source, empty when it had none
    bool has_offset = false; // winedbg gave the offset in the module itself: "(+0x11d0)"
    unsigned long long offset = 0;
};
Frame parse_first_frame(const std::string& block);

// The function holding `rva` in the PE image `data` (the whole file), from the image's own data:
//   "CrashDispatch+0x1d (COFF symbol)", "DriverEntry+0x40 (export)",
//   "function at 0x11a0+0x30 (.pdata: no name in the image)"; empty if none of them knows it.
std::string function_in_image(const unsigned char* data, size_t size, uint32_t rva);

} // namespace kmd
