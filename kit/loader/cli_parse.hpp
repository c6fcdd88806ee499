// cli_parse.hpp - strict parsing of what users type on kmdctl's command line: options per verb,
// numbers, bytes, service names (contract headers: contract_header.hpp).
// Pure C++ (no Win32), so the host unit tests cover it too. Text is UTF-8 throughout: kmdctl
// takes its arguments as UTF-16 (GetCommandLineW) and converts them once, losslessly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kmd {

// Text without its leading and trailing blanks (spaces, tabs).
std::string_view trim_blanks(std::string_view s);

// ASCII letters compared without case ("REG_DWORD" and "reg_dword"), as Windows tools read words.
bool equals_ignore_case(std::string_view a, std::string_view b);

// "0x222007", "2236423", "0X1f": the whole string must be a number that fits 32 bits.
std::optional<uint32_t> parse_u32(std::string_view text);

// 64 bits, same rules.
std::optional<uint64_t> parse_u64(std::string_view text);

// "48 65 6c 6c 6f", "48656c6c6f", "0x48,0x65": pairs of hex digits; spaces, commas, colons and
// one 0x prefix before a group of digits are allowed. Empty input is zero bytes; a 0x with no
// digits after it ("0x", "0x0x0x") is an error, not zero bytes.
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

// "2,40" -> 8 bytes: each number little-endian in 4 (or 8) bytes, as a C struct of uint32_t
// (uint64_t) fields lays them out on x86. Numbers are decimal or 0x hex, separated by commas
// (spaces around them allowed). Empty or a trailing comma: an error.
std::optional<std::vector<unsigned char>> parse_u32_list(std::string_view text);
std::optional<std::vector<unsigned char>> parse_u64_list(std::string_view text);

// ---------------------------------------------------------------- options per verb

struct OptionSpec {
    std::string_view name; // "--name"
    bool takes_value;
};

// What one verb accepts. Anything else on its command line is an error, so a typo
// ("--clenaup") never runs silently as something else.
struct CommandSpec {
    std::span<const OptionSpec> options;
    size_t min_positional = 0;
    size_t max_positional = 0;
};

struct ParsedArgs {
    std::vector<std::string> positional;
    std::map<std::string, std::string, std::less<>> options; // "--name" -> "skeleton"; flags map to ""
    bool has(std::string_view option) const { return options.find(option) != options.end(); }
    std::string get(std::string_view option, std::string_view fallback = {}) const;
};

// Parses `words` (the arguments after the verb) against `spec`. "--opt value" and "--opt=value"
// both work; "--" ends the options. On error returns the reason in words ("unknown option
// '--clenaup'"), and `out` is not to be used.
std::optional<std::string> parse_command_args(const std::vector<std::string>& words, const CommandSpec& spec, ParsedArgs& out);

// ---------------------------------------------------------------- names

// Why `name` (UTF-8) cannot be a service name, or nullopt when it can. The rules are those of the
// SCM and of the object manager that later holds \Driver\<name>: 1..256 UTF-16 units, no '/'
// or '\', no control characters (newline included), no wildcards, not "." or "..", and not a
// reserved DOS device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9), which Win32 would turn into
// the console or a port when the name is used as the device's file name.
std::optional<std::string> service_name_problem(std::string_view name);

// JSON string contents: quotes, backslashes and every control character escaped.
std::string json_escape(std::string_view text);

} // namespace kmd
