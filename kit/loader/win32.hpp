// win32.hpp - owners for Win32 handles and the words for Win32 error numbers.
#pragma once

#include <windows.h>

#include <string>
#include <utility>
#include <vector>

namespace kmd {

// One owner template for every kind of handle: Traits says what "none" is and how to close.
template <typename Traits>
class UniqueHandle {
public:
    using handle_type = typename Traits::handle_type;

    UniqueHandle() = default;
    explicit UniqueHandle(handle_type h) : h_(h) {}
    UniqueHandle(const UniqueHandle&) = delete;
    UniqueHandle& operator=(const UniqueHandle&) = delete;
    UniqueHandle(UniqueHandle&& other) noexcept : h_(std::exchange(other.h_, Traits::invalid())) {}
    UniqueHandle& operator=(UniqueHandle&& other) noexcept
    {
        if (this != &other) reset(std::exchange(other.h_, Traits::invalid()));
        return *this;
    }
    ~UniqueHandle() { reset(); }

    void reset(handle_type h = Traits::invalid())
    {
        if (h_ != Traits::invalid()) Traits::close(h_);
        h_ = h;
    }
    handle_type get() const { return h_; }
    explicit operator bool() const { return h_ != Traits::invalid(); }

private:
    handle_type h_ = Traits::invalid();
};

struct ServiceHandleTraits {
    using handle_type = SC_HANDLE;
    static SC_HANDLE invalid() { return nullptr; }
    static void close(SC_HANDLE h); // CloseServiceHandle, narrated under --trace (the seed's step 7)
};

struct FileHandleTraits {
    using handle_type = HANDLE;
    static HANDLE invalid() { return INVALID_HANDLE_VALUE; }
    static void close(HANDLE h) { CloseHandle(h); }
};

struct RegKeyTraits {
    using handle_type = HKEY;
    static HKEY invalid() { return nullptr; }
    static void close(HKEY h) { RegCloseKey(h); }
};

struct ModuleTraits {
    using handle_type = HMODULE;
    static HMODULE invalid() { return nullptr; }
    static void close(HMODULE h) { FreeLibrary(h); }
};

using ScHandle = UniqueHandle<ServiceHandleTraits>;
using FileHandle = UniqueHandle<FileHandleTraits>;
using RegKey = UniqueHandle<RegKeyTraits>;
using Module = UniqueHandle<ModuleTraits>; // a LoadLibrary of our own

// "The system cannot find the file specified." for 2, without the trailing newline.
std::string error_text(DWORD error);

// A failed Win32 call: which call, and GetLastError() right after it.
struct Failure {
    std::string call;
    DWORD error = ERROR_SUCCESS;

    explicit operator bool() const { return !call.empty(); }
    std::string describe() const; // "StartService: error 2 (The system cannot find the file specified.)"
};

// Wide/UTF-8 conversions for paths and names at the command-line boundary.
std::wstring widen(const std::string& s);
std::string narrow(const std::wstring& s);

// The program's arguments, argv[0] included, from the UTF-16 command line (GetCommandLineW, split
// by CommandLineToArgvW's rules: command_line.hpp) converted to UTF-8: main()'s char** argv is in
// the ANSI code page and loses every character outside it ("C:\drvé", "ñame", "日本").
std::vector<std::string> command_line_arguments();

// MessageBoxW, with user32.dll loaded for it alone (kmdctl hello --gui).
void show_message_box(const std::wstring& text, const std::wstring& caption, UINT type);

// While alive, the console (if output goes to one) shows UTF-8, which is what kmdctl prints;
// the old code page comes back on destruction.
class Utf8Console {
public:
    Utf8Console();
    ~Utf8Console();
    Utf8Console(const Utf8Console&) = delete;
    Utf8Console& operator=(const Utf8Console&) = delete;

private:
    UINT old_output_cp_;
};

} // namespace kmd
