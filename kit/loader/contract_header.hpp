// contract_header.hpp - what kmdctl reads from a driver's contract header (the header shared by the
// driver and its programs): its IOCTL codes by name, and the defaults kmdctl takes from it instead
// of knowing any driver itself (docs/kmdctl.md, "Contracts"). Pure C++ (no Win32): host-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kmd {

struct ContractHeader {
    std::vector<std::pair<std::string, uint32_t>> ioctls; // in the header's order
    std::string service; // #define KMD_CONTRACT_SERVICE_W L"name": start/stop/status/remove without a name
    std::string device;  // #define KMD_CONTRACT_DEVICE_W L"\\.\name": hello/ioctl without --device
    std::string hello;   // #define KMD_CONTRACT_HELLO IOCTL_X: what run and hello send unasked (no input, text out)
};

// The IOCTL codes a contract header defines: every `#define NAME <expression>` whose expression
// uses CTL_CODE or a look-alike macro of the header (SKELETON_CTL_CODE(dev, fn, method, access),
// MYDRV_CTL_CODE(fn, method, access), ...), in the header's order. Function-like macros of the
// header are expanded; names resolve to its other #defines or to the usual FILE_DEVICE_*,
// METHOD_* and FILE_*_ACCESS/FILE_*_DATA values; casts to integer types, | ^ & << >> + - * and
// parentheses are understood, as are comments and line continuations. A definition beyond that
// (or a CTL_CODE field out of range) is left out, never guessed.
std::vector<std::pair<std::string, uint32_t>> ioctls_in_header(std::string_view header_text);


// The IOCTLs, as above, and the KMD_CONTRACT_* defaults. A default's macro may name another macro
// of the header (`#define KMD_CONTRACT_DEVICE_W SKELETON_WIN32_DEVICE_PATH_W`); one that is not a
// plain string literal (or, for KMD_CONTRACT_HELLO, an IOCTL of the header) is left empty.
ContractHeader parse_contract_header(std::string_view header_text);

} // namespace kmd
