// crash_symbols.cpp - see crash_symbols.hpp.
#include "crash_symbols.hpp"
#include "pe_reader.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace kmd {

namespace {

using pe_reader::Bytes;
using pe_reader::Pe;

std::string line_from(const std::string& text, size_t at)
{
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

std::string hex(unsigned long long v)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", v);
    return buffer;
}

struct Named { uint32_t rva = 0; std::string name; bool found = false; };

void consider(Named& best, uint32_t start, uint32_t rva, std::string name)
{
    if (start <= rva && (!best.found || start > best.rva)) best = {start, std::move(name), true};
}

// The nearest COFF function symbol at or below rva (lld keeps the table unless told to strip it).
Named coff_symbol(const Pe& pe, uint32_t rva)
{
    Named best;
    if (pe.symbols == 0 || pe.nsymbols == 0) return best;
    const size_t strings = size_t(pe.symbols) + size_t(pe.nsymbols) * 18;
    for (uint32_t i = 0; i < pe.nsymbols; ++i) {
        const size_t s = size_t(pe.symbols) + size_t(i) * 18;
        if (!pe.b.has(s, 18)) break;
        const uint32_t value = pe.b.u32(s + 8);
        const int16_t section = int16_t(pe.b.u16(s + 12));
        const uint16_t type = pe.b.u16(s + 14);
        const unsigned char storage = pe.b.data[s + 16], aux = pe.b.data[s + 17];
        i += aux;
        if (section <= 0 || size_t(section) > pe.sections.size() || (storage != 2 && storage != 3)) continue; // external, static
        if ((type >> 4) != 2 && storage == 3) continue; // a static that is not a function (section symbols, data)
        std::string name = pe.b.u32(s) == 0 ? pe.b.cstr(strings + pe.b.u32(s + 4), 256) : pe.b.cstr(s, 8);
        if (name.empty() || name[0] == '.' || name[0] == '$') continue;
        consider(best, pe.sections[size_t(section) - 1].va + value, rva, name);
    }
    return best;
}

Named export_below(const Pe& pe, uint32_t rva)
{
    Named best;
    const auto [dir, dirsize] = pe.dir(0);
    const size_t e = dir ? pe.at(dir) : SIZE_MAX;
    if (e == SIZE_MAX || !pe.b.has(e, 40)) return best;
    const uint32_t nfuncs = pe.b.u32(e + 20), nnames = pe.b.u32(e + 24);
    const size_t funcs = pe.at(pe.b.u32(e + 28)), names = pe.at(pe.b.u32(e + 32)), ords = pe.at(pe.b.u32(e + 36));
    if (funcs == SIZE_MAX) return best;
    for (uint32_t i = 0; i < nnames && names != SIZE_MAX && ords != SIZE_MAX; ++i) {
        const uint16_t ord = pe.b.u16(ords + size_t(i) * 2);
        if (ord >= nfuncs) continue;
        const uint32_t f = pe.b.u32(funcs + size_t(ord) * 4);
        if (f >= dir && f < dir + dirsize) continue; // a forwarder
        const size_t name = pe.at(pe.b.u32(names + size_t(i) * 4));
        if (name != SIZE_MAX) consider(best, f, rva, pe.b.cstr(name, 256));
    }
    // The entry point is a function the export table never names (a driver's DriverEntry).
    const uint32_t entry = pe.b.u32(pe.opt + 16);
    if (entry != 0) consider(best, entry, rva, "entry point");
    return best;
}

// The .pdata (x64 RUNTIME_FUNCTION) range holding rva: {begin, end}, or {0, 0}.
std::pair<uint32_t, uint32_t> pdata_range(const Pe& pe, uint32_t rva)
{
    const auto [dir, dirsize] = pe.dir(3);
    const size_t p = dir ? pe.at(dir) : SIZE_MAX;
    if (p == SIZE_MAX || !pe.pe32plus) return {0, 0};
    for (uint32_t i = 0; i + 12 <= dirsize; i += 12) {
        const uint32_t begin = pe.b.u32(p + i), end = pe.b.u32(p + i + 4);
        if (begin <= rva && rva < end) return {begin, end};
    }
    return {0, 0};
}

} // namespace

Frame parse_first_frame(const std::string& block)
{
    Frame f;
    const size_t at = block.find("=>0 0x");
    if (at == std::string::npos) return f;
    const std::string line = line_from(block, at);
    f.address = std::strtoull(line.c_str() + 4, nullptr, 16);
    const size_t sym = line.find(' ', 6); // the space after the address
    if (sym == std::string::npos) return f;
    // " in MODULE" ends the frame; a symbol's arguments may hold " in " too, so the last one counts.
    // Without a symbol it follows the address at once: "0x... in crashme (+0x11d0) (0x...)".
    const size_t in = line.rfind(" in ");
    if (in == std::string::npos || in < sym) return f;
    if (in > sym) f.text = line.substr(sym + 1, in - sym - 1);
    const size_t paren = line.find(" (", in + 4);
    f.module = line.substr(in + 4, paren == std::string::npos ? std::string::npos : paren - in - 4);
    if (paren != std::string::npos && line.compare(paren, 5, " (+0x") == 0) {
        f.has_offset = true;
        f.offset = std::strtoull(line.c_str() + paren + 3, nullptr, 16);
    }
    return f;
}

std::string function_in_image(const unsigned char* data, size_t size, uint32_t rva)
{
    const Pe pe(Bytes{data, size});
    if (!pe.ok) return {};
    const std::pair<uint32_t, uint32_t> range = pdata_range(pe, rva);
    const uint32_t begin = range.first, end = range.second;
    const auto named = [&](const Named& n, const char* source) -> std::string {
        // A name is trusted only inside the function .pdata says holds rva, when there is .pdata.
        if (!n.found || (end != 0 && n.rva < begin)) return {};
        return n.name + "+" + hex(rva - n.rva) + " (" + source + ")";
    };
    if (std::string s = named(coff_symbol(pe, rva), "COFF symbol"); !s.empty()) return s;
    if (std::string s = named(export_below(pe, rva), "export"); !s.empty()) return s;
    if (end != 0) return "function at " + hex(begin) + "+" + hex(rva - begin) + " (.pdata; the image names no function there)";
    return {};
}

} // namespace kmd
