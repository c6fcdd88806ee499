// cli_parse.hpp - strict parsing of the numbers and bytes users type on kmdctl's command line.
// Pure C++ (no Win32), so the host unit tests cover it too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kmd {

// "0x222007", "2236423", "0X1f": the whole string must be a number that fits 32 bits.
std::optional<uint32_t> parse_u32(std::string_view text);

// "48 65 6c 6c 6f", "48656c6c6f", "0x48,0x65": pairs of hex digits; spaces, commas, colons and
// 0x prefixes between bytes are allowed. Empty input is zero bytes.
std::optional<std::vector<unsigned char>> parse_hex_bytes(std::string_view text);

// Classic 16-bytes-a-line dump: "00000000  48 65 6c 6c 6f                                   |Hello|".
std::string hex_dump(const unsigned char* data, size_t size);

// IOCTL names for decode/encode: FILE_DEVICE_* (a few well-known ones), METHOD_*, FILE_*_ACCESS.
std::optional<uint32_t> parse_device_type(std::string_view text);
std::optional<uint32_t> parse_method(std::string_view text);
std::optional<uint32_t> parse_access(std::string_view text);
const char* device_type_name(uint32_t device_type); // nullptr when unknown
const char* method_name(uint32_t method);
const char* access_name(uint32_t access);

} // namespace kmd
