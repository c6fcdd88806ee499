// pe_imports.cpp - see pe_imports.hpp.
#include "pe_imports.hpp"

#include "pe_reader.hpp"

namespace kmd {

ImportList read_imports(const unsigned char* data, size_t size)
{
    ImportList r;
    const pe_reader::Pe pe(pe_reader::Bytes{data, size});
    if (!pe.ok) {
        r.problem = "not a PE image";
        return r;
    }
    r.ok = true;
    const auto dir = pe.dir(1);
    if (dir.first == 0) return r; // imports nothing
    const size_t thunk_size = pe.pe32plus ? 8 : 4;
    const uint64_t by_ordinal = pe.pe32plus ? 1ULL << 63 : 1ULL << 31;
    for (size_t d = pe.at(dir.first); d != SIZE_MAX && pe.b.has(d, 20); d += 20) {
        const uint32_t names = pe.b.u32(d), module_rva = pe.b.u32(d + 12), bound = pe.b.u32(d + 16);
        if (names == 0 && module_rva == 0 && bound == 0) break; // the terminating entry
        const size_t module_at = pe.at(module_rva);
        const std::string module = module_at == SIZE_MAX ? std::string("?") : pe.b.cstr(module_at, 256);
        size_t t = pe.at(names != 0 ? names : bound); // OriginalFirstThunk, else the IAT as the file has it
        for (unsigned n = 0; t != SIZE_MAX && pe.b.has(t, thunk_size) && n < 65536; ++n, t += thunk_size) {
            const uint64_t thunk = pe.pe32plus ? pe.b.u64(t) : pe.b.u32(t);
            if (thunk == 0) break;
            Import i;
            i.module = module;
            if (thunk & by_ordinal) {
                i.ordinal = static_cast<uint16_t>(thunk & 0xffff);
            } else {
                const size_t hint = pe.at(static_cast<uint32_t>(thunk & 0x7fffffff));
                if (hint == SIZE_MAX) continue;
                i.name = pe.b.cstr(hint + 2, 512);
            }
            r.imports.push_back(std::move(i));
        }
    }
    return r;
}

} // namespace kmd
