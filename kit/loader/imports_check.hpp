// imports_check.hpp - what of a driver's imports the Wine in use (or Windows) can run, before a start
// fails on it: each import is looked up in the module it names, mapped into this process without
// running it (LoadLibraryEx, DONT_RESOLVE_DLL_REFERENCES), with GetProcAddress:
//   implemented  an export with code behind it;
//   stub         an export Wine's spec file declares "stub": winebuild's thunk, which only calls
//                __wine_spec_unimplemented_stub(module, name) and so raises EXCEPTION_WINE_STUB
//                (0x80000100). Recognized by its code: on x64 "sub rsp,28h; lea rcx,[module];
//                lea rdx,[name]; call", on x86 "sub esp,0Ch; mov [esp+4],name; mov [esp],module;
//                call", and the name it passes must be the import's own;
//   missing      no such export, or no such module. A missing module fails the load. A missing export
//                fails it on Windows; Wine's loader binds it to a thunk of its own that raises
//                EXCEPTION_WINE_STUB when called, so the driver loads and dies at the first call.
// A routine Wine implements as a FIXME that does nothing useful (IoGetDeviceObjectPointer returns a
// fake device in Wine 8) is an export with code: it shows as implemented. See docs/debugging.md.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "pe_imports.hpp"

namespace kmd {

enum class ImportState { implemented, stub, missing };

struct CheckedImport {
    Import import;
    ImportState state = ImportState::missing;
    std::string why; // for missing: "no such export", "module not found"
};

struct ImportsReport {
    bool ok = false;       // the file was read and is an image
    std::string problem;
    std::string runtime;   // "Wine 8.0" or "Windows"
    std::vector<CheckedImport> imports;
    size_t count(ImportState s) const;
};

// `path`: the driver file. A module it imports from is looked for on the system's search path, in
// system32\drivers and in the driver's own directory.
ImportsReport check_imports(const std::wstring& path);

const char* import_state_name(ImportState s);

// If the driver imports routines this system lacks, says which (one line each) and returns true:
// after a failed start (`loaded` false) as the reason, after one that worked as a warning.
bool explain_missing_imports(std::FILE* out, const std::string& service, const std::wstring& image_path, bool loaded = false);

} // namespace kmd
