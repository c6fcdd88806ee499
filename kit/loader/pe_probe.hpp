// pe_probe.hpp - a first look at a driver file's headers, before anything is registered with the
// SCM: a text file or an image for the wrong machine gets a clear error and creates no service.
// Pure C++ over bytes, so the host unit tests cover it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kmd {

struct PeProbe {
    bool is_pe = false;
    uint16_t machine = 0;   // IMAGE_FILE_MACHINE_*: 0x8664 x64, 0x014c x86, 0xaa64 arm64
    uint16_t subsystem = 0; // 1 = native (drivers)
    std::string problem;    // why is_pe is false, in words
};

// `data` holds at least the first 4 KiB of the file (or all of it, if shorter).
PeProbe probe_pe(const unsigned char* data, size_t size);

const char* machine_name(uint16_t machine);

} // namespace kmd
