#include "cli_parse.hpp"

#include <cctype>
#include <cstdio>

namespace kmd {
namespace {

int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool equals_ignore_case(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

struct Named {
    const char* name;
    uint32_t value;
};

constexpr Named kDeviceTypes[] = {
    {"FILE_DEVICE_BEEP", 0x01},     {"FILE_DEVICE_CD_ROM", 0x02}, {"FILE_DEVICE_DISK", 0x07},
    {"FILE_DEVICE_KEYBOARD", 0x0b}, {"FILE_DEVICE_MOUSE", 0x0f},  {"FILE_DEVICE_NETWORK", 0x12},
    {"FILE_DEVICE_NULL", 0x15},     {"FILE_DEVICE_UNKNOWN", 0x22}, {"FILE_DEVICE_FILE_SYSTEM", 0x09},
    {"FILE_DEVICE_MASS_STORAGE", 0x2d}, {"FILE_DEVICE_KS", 0x2f}, {"FILE_DEVICE_ACPI", 0x32},
};
constexpr Named kMethods[] = {
    {"METHOD_BUFFERED", 0}, {"METHOD_IN_DIRECT", 1}, {"METHOD_OUT_DIRECT", 2}, {"METHOD_NEITHER", 3}};
constexpr Named kAccess[] = {
    {"FILE_ANY_ACCESS", 0}, {"FILE_READ_ACCESS", 1}, {"FILE_WRITE_ACCESS", 2}, {"FILE_READ_WRITE_ACCESS", 3}};

template <size_t N>
std::optional<uint32_t> parse_named(std::string_view text, const Named (&table)[N], std::string_view short_prefix, uint32_t max)
{
    for (const Named& n : table) {
        const std::string_view full = n.name;
        if (equals_ignore_case(text, full)) return n.value;
        // Also accept the name without its prefix: "unknown", "neither", "read_write".
        if (full.size() > short_prefix.size() && equals_ignore_case(text, full.substr(short_prefix.size()))) return n.value;
    }
    auto value = parse_u32(text);
    if (value && *value <= max) return value;
    return std::nullopt;
}

template <size_t N>
const char* name_of(uint32_t value, const Named (&table)[N])
{
    for (const Named& n : table)
        if (n.value == value) return n.name;
    return nullptr;
}

} // namespace

std::optional<uint32_t> parse_u32(std::string_view text)
{
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        const int d = hex_digit(c);
        if (d < 0 || d >= base) return std::nullopt;
        value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
        if (value > 0xFFFFFFFFull) return std::nullopt;
    }
    return static_cast<uint32_t>(value);
}

std::optional<std::vector<unsigned char>> parse_hex_bytes(std::string_view text)
{
    std::vector<unsigned char> bytes;
    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == ' ' || c == ',' || c == ':' || c == '\t') {
            ++i;
            continue;
        }
        if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
            i += 2;
            continue;
        }
        if (i + 1 >= text.size()) return std::nullopt; // an odd, lone digit
        const int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        bytes.push_back(static_cast<unsigned char>(hi * 16 + lo));
        i += 2;
    }
    return bytes;
}

std::string hex_dump(const unsigned char* data, size_t size)
{
    std::string out;
    char line[100];
    for (size_t offset = 0; offset < size; offset += 16) {
        int n = std::snprintf(line, sizeof line, "%08zx  ", offset);
        out.append(line, static_cast<size_t>(n));
        for (size_t i = 0; i < 16; ++i) {
            if (offset + i < size)
                n = std::snprintf(line, sizeof line, "%02x ", data[offset + i]);
            else
                n = std::snprintf(line, sizeof line, "   ");
            out.append(line, static_cast<size_t>(n));
        }
        out += " |";
        for (size_t i = 0; i < 16 && offset + i < size; ++i) {
            const unsigned char c = data[offset + i];
            out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
        }
        out += "|\n";
    }
    return out;
}

std::optional<uint32_t> parse_device_type(std::string_view text) { return parse_named(text, kDeviceTypes, "FILE_DEVICE_", 0xFFFF); }
std::optional<uint32_t> parse_method(std::string_view text) { return parse_named(text, kMethods, "METHOD_", 3); }
std::optional<uint32_t> parse_access(std::string_view text) { return parse_named(text, kAccess, "FILE_", 3); }
const char* device_type_name(uint32_t device_type) { return name_of(device_type, kDeviceTypes); }
const char* method_name(uint32_t method) { return name_of(method & 3u, kMethods); }
const char* access_name(uint32_t access) { return name_of(access & 3u, kAccess); }

} // namespace kmd
