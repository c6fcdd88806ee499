// pe_imports.hpp - the routines a driver file imports, read from its import directory. Pure C++ over
// bytes, so the host unit tests cover it; imports_check.hpp looks each one up in the Wine in use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kmd {

struct Import {
    std::string module;    // "ntoskrnl.exe", as the image names it
    std::string name;      // "IoCreateDevice"; empty for an import by ordinal
    uint16_t ordinal = 0;  // for an import by ordinal
};

struct ImportList {
    bool ok = false;
    std::string problem;   // why ok is false, in words
    std::vector<Import> imports;
};

// `data` is the whole file.
ImportList read_imports(const unsigned char* data, size_t size);

} // namespace kmd
