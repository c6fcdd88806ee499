// pe_reader.hpp - bounds-checked reads of a PE file's headers, sections and data directories, for
// the kit's own parsers (crash_symbols.cpp, pe_imports.cpp). Pure C++ over bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kmd::pe_reader {

// Bounds-checked little-endian reads of the file.
struct Bytes {
    const unsigned char* data;
    size_t size;
    bool has(size_t at, size_t n) const { return at <= size && n <= size - at; }
    uint32_t u32(size_t at) const { return has(at, 4) ? data[at] | data[at + 1] << 8 | data[at + 2] << 16 | uint32_t(data[at + 3]) << 24 : 0; }
    uint64_t u64(size_t at) const { return has(at, 8) ? u32(at) | uint64_t(u32(at + 4)) << 32 : 0; }
    uint16_t u16(size_t at) const { return has(at, 2) ? uint16_t(data[at] | data[at + 1] << 8) : 0; }
    std::string cstr(size_t at, size_t max) const
    {
        std::string s;
        while (has(at, 1) && s.size() < max && data[at] != 0) s += char(data[at++]);
        return s;
    }
};

struct Section { uint32_t va, vsize, raw, rawsize; };

struct Pe {
    Bytes b;
    bool ok = false;
    bool pe32plus = false;
    std::vector<Section> sections;
    size_t opt = 0;          // optional header
    uint32_t symbols = 0, nsymbols = 0;

    explicit Pe(Bytes bytes) : b(bytes)
    {
        if (!b.has(0, 0x40) || b.u16(0) != 0x5a4d) return;
        const uint32_t pe = b.u32(0x3c);
        if (!b.has(pe, 24) || b.u32(pe) != 0x4550) return;
        const uint16_t count = b.u16(pe + 6), optsize = b.u16(pe + 20);
        symbols = b.u32(pe + 12);
        nsymbols = b.u32(pe + 16);
        opt = pe + 24;
        pe32plus = b.u16(opt) == 0x20b;
        const size_t first = opt + optsize;
        for (uint16_t i = 0; i < count; ++i) {
            const size_t s = first + size_t(i) * 40;
            if (!b.has(s, 40)) return;
            sections.push_back({b.u32(s + 12), b.u32(s + 8), b.u32(s + 20), b.u32(s + 16)});
        }
        ok = true;
    }
    // File offset of an RVA, or SIZE_MAX.
    size_t at(uint32_t rva) const
    {
        for (const Section& s : sections)
            if (rva >= s.va && rva - s.va < (s.vsize ? s.vsize : s.rawsize) && rva - s.va < s.rawsize) return s.raw + (rva - s.va);
        return SIZE_MAX;
    }
    // Data directory `i`: {rva, size}.
    std::pair<uint32_t, uint32_t> dir(unsigned i) const
    {
        const size_t base = opt + (pe32plus ? 112 : 96);
        const uint32_t n = b.u32(opt + (pe32plus ? 108 : 92));
        if (i >= n) return {0, 0};
        return {b.u32(base + i * 8), b.u32(base + i * 8 + 4)};
    }
};


} // namespace kmd::pe_reader
