// imports_check.cpp - see imports_check.hpp.
#include "imports_check.hpp"

#include <windows.h>

#include <cstring>
#include <map>

#include "scm.hpp"
#include "win32.hpp"

namespace kmd {

namespace {

std::string read_file(const std::wstring& path)
{
    FileHandle file(CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                0, nullptr));
    if (!file) return {};
    std::string bytes;
    char chunk[65536];
    DWORD got = 0;
    while (ReadFile(file.get(), chunk, sizeof chunk, &got, nullptr) && got > 0) bytes.append(chunk, got);
    return bytes;
}

std::string runtime_name()
{
    using WineGetVersion = const char*(CDECL*)();
    const auto get = reinterpret_cast<WineGetVersion>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version")));
    return get != nullptr ? std::string("Wine ") + get() : std::string("Windows");
}

// Does `code` (an export's address in a module mapped in this process) hold winebuild's stub thunk
// passing `name`? Only bytes of the mapped image are read: the thunk and the string it points at.
bool is_wine_stub(const unsigned char* code, const std::string& name)
{
    const char* passed = nullptr;
#if defined(_WIN64)
    // 48 83 ec 28 | 48 8d 0d <rel32: module> | 48 8d 15 <rel32: name> | e8 <rel32>
    static const unsigned char head[] = {0x48, 0x83, 0xec, 0x28, 0x48, 0x8d, 0x0d};
    if (std::memcmp(code, head, sizeof head) != 0 || code[11] != 0x48 || code[12] != 0x8d || code[13] != 0x15 || code[18] != 0xe8)
        return false;
    int32_t rel = 0;
    std::memcpy(&rel, code + 14, sizeof rel);
    passed = reinterpret_cast<const char*>(code + 18 + rel);
#else
    // (nop padding) 83 ec 0c | c7 44 24 04 <name> | c7 04 24 <module> | e8 <rel32>
    unsigned skip = 0;
    while (skip < 16 && code[skip] == 0x90) ++skip;
    const unsigned char* c = code + skip;
    static const unsigned char head[] = {0x83, 0xec, 0x0c, 0xc7, 0x44, 0x24, 0x04};
    if (std::memcmp(c, head, sizeof head) != 0 || c[11] != 0xc7 || c[12] != 0x04 || c[13] != 0x24 || c[18] != 0xe8) return false;
    uint32_t address = 0;
    std::memcpy(&address, c + 7, sizeof address);
    passed = reinterpret_cast<const char*>(static_cast<uintptr_t>(address));
#endif
    // The string lies in the same mapped image as the thunk; compare no further than the name.
    MEMORY_BASIC_INFORMATION thunk{}, text{};
    if (!VirtualQuery(code, &thunk, sizeof thunk) || !VirtualQuery(passed, &text, sizeof text) ||
        thunk.AllocationBase != text.AllocationBase)
        return false;
    return std::strncmp(passed, name.c_str(), name.size() + 1) == 0;
}

HMODULE map_module(const std::string& module, const std::wstring& driver_dir)
{
    const std::wstring name = widen(module);
    const DWORD flags = DONT_RESOLVE_DLL_REFERENCES;
    if (HMODULE m = LoadLibraryExW(name.c_str(), nullptr, flags)) return m;
    wchar_t system[MAX_PATH] = {};
    const UINT n = GetSystemDirectoryW(system, MAX_PATH);
    if (HMODULE m = LoadLibraryExW((std::wstring(system, n) + L"\\drivers\\" + name).c_str(), nullptr, flags)) return m;
    if (!driver_dir.empty())
        if (HMODULE m = LoadLibraryExW((driver_dir + L"\\" + name).c_str(), nullptr, flags)) return m;
    return nullptr;
}

} // namespace

size_t ImportsReport::count(ImportState s) const
{
    size_t n = 0;
    for (const CheckedImport& i : imports) n += i.state == s;
    return n;
}

const char* import_state_name(ImportState s)
{
    switch (s) {
    case ImportState::implemented: return "implemented";
    case ImportState::stub: return "stub";
    default: return "missing";
    }
}

ImportsReport check_imports(const std::wstring& path)
{
    ImportsReport r;
    r.runtime = runtime_name();
    const std::string bytes = read_file(path);
    if (bytes.empty()) {
        r.problem = "cannot read the file";
        return r;
    }
    const ImportList list = read_imports(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    if (!list.ok) {
        r.problem = list.problem;
        return r;
    }
    r.ok = true;
    const size_t slash = path.find_last_of(L"\\/");
    const std::wstring dir = slash == std::wstring::npos ? std::wstring() : path.substr(0, slash);
    std::map<std::string, HMODULE> modules;
    for (const Import& i : list.imports) {
        CheckedImport c;
        c.import = i;
        auto [at, added] = modules.try_emplace(i.module, nullptr);
        if (added) at->second = map_module(i.module, dir);
        if (at->second == nullptr) {
            c.why = "module not found";
        } else {
            const char* which = i.name.empty() ? MAKEINTRESOURCEA(i.ordinal) : i.name.c_str();
            const auto address = reinterpret_cast<const unsigned char*>(reinterpret_cast<void*>(GetProcAddress(at->second, which)));
            if (address == nullptr)
                c.why = "no such export";
            else
                c.state = !i.name.empty() && is_wine_stub(address, i.name) ? ImportState::stub : ImportState::implemented;
        }
        r.imports.push_back(std::move(c));
    }
    for (auto& [name, module] : modules)
        if (module != nullptr) FreeLibrary(module);
    return r;
}

bool explain_missing_imports(std::FILE* out, const std::string& service, const std::wstring& image_path, bool loaded)
{
    const ImportsReport r = check_imports(image_file(image_path));
    if (!r.ok || r.count(ImportState::missing) == 0) return false;
    if (loaded)
        std::fprintf(out, "kmdctl: %s loaded, but it imports %zu routine(s) %s does not have: the loader bound each to a\n"
                          "  thunk that raises EXCEPTION_WINE_STUB (0x80000100) when called, which ends the driver host:\n",
                     service.c_str(), r.count(ImportState::missing), r.runtime.c_str());
    else
        std::fprintf(out, "kmdctl: %s cannot load: it imports %zu routine(s) %s does not have:\n", service.c_str(),
                     r.count(ImportState::missing), r.runtime.c_str());
    for (const CheckedImport& c : r.imports)
        if (c.state == ImportState::missing) {
            if (c.import.name.empty())
                std::fprintf(out, "  %s!#%u (%s)\n", c.import.module.c_str(), c.import.ordinal, c.why.c_str());
            else
                std::fprintf(out, "  %s!%s (%s)\n", c.import.module.c_str(), c.import.name.c_str(), c.why.c_str());
        }
    std::fprintf(out, "  (`kmdctl imports %s` lists every import: implemented, stub or missing.)\n", narrow(image_path).c_str());
    return true;
}

} // namespace kmd
