#include "pe_probe.hpp"

#include <cstring>

namespace kmd {
namespace {

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) { return static_cast<uint32_t>(p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24)); }

} // namespace

PeProbe probe_pe(const unsigned char* data, size_t size)
{
    PeProbe r;
    if (size < 0x40 || data[0] != 'M' || data[1] != 'Z') {
        r.problem = "no MZ header: this is not an executable image";
        return r;
    }
    const uint32_t pe_offset = u32(data + 0x3c);
    // Signature (4) + COFF header (20) + the optional header up to Subsystem (0x44 + 2).
    if (pe_offset > size || size - pe_offset < 4 + 20 + 0x46) {
        r.problem = "the PE header lies outside the file's first 4 KiB or past its end";
        return r;
    }
    const unsigned char* pe = data + pe_offset;
    if (std::memcmp(pe, "PE\0\0", 4) != 0) {
        r.problem = "no PE signature: an MZ (DOS) program, not a Windows NT image";
        return r;
    }
    r.machine = u16(pe + 4);
    const unsigned char* optional = pe + 24;
    const uint16_t magic = u16(optional);
    if (magic != 0x10b && magic != 0x20b) {
        r.problem = "unknown optional header magic";
        return r;
    }
    r.subsystem = u16(optional + 0x44); // same offset in PE32 and PE32+
    r.is_pe = true;
    return r;
}

const char* machine_name(uint16_t machine)
{
    switch (machine) {
    case 0x8664: return "x64";
    case 0x014c: return "x86";
    case 0xaa64: return "ARM64";
    case 0x01c4: return "ARM";
    default: return "unknown machine";
    }
}

} // namespace kmd
