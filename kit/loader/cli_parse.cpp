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

bool equals_ignore_case(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

std::optional<uint64_t> parse_u64(std::string_view text)
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
        const auto digit = static_cast<uint64_t>(d);
        if (value > (UINT64_MAX - digit) / static_cast<uint64_t>(base)) return std::nullopt; // would wrap
        value = value * static_cast<uint64_t>(base) + digit;
    }
    return value;
}

std::optional<uint32_t> parse_u32(std::string_view text)
{
    const auto value = parse_u64(text);
    if (!value || *value > 0xFFFFFFFFull) return std::nullopt;
    return static_cast<uint32_t>(*value);
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
            // A prefix announces digits: "0x" alone or "0x0x" is a typo, not zero bytes.
            i += 2;
            if (i >= text.size() || hex_digit(text[i]) < 0) return std::nullopt;
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

std::string_view trim_blanks(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

namespace {

template <typename T>
std::optional<std::vector<unsigned char>> parse_number_list(std::string_view text)
{
    std::vector<unsigned char> bytes;
    while (true) {
        const size_t comma = text.find(',');
        const auto value = parse_u64(trim_blanks(text.substr(0, comma)));
        if (!value || *value > static_cast<uint64_t>(static_cast<T>(-1))) return std::nullopt;
        for (size_t b = 0; b < sizeof(T); ++b) bytes.push_back(static_cast<unsigned char>(*value >> (8 * b))); // little-endian
        if (comma == std::string_view::npos) return bytes;
        text.remove_prefix(comma + 1);
    }
}

} // namespace

std::optional<std::vector<unsigned char>> parse_u32_list(std::string_view text) { return parse_number_list<uint32_t>(text); }
std::optional<std::vector<unsigned char>> parse_u64_list(std::string_view text) { return parse_number_list<uint64_t>(text); }

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

// ---------------------------------------------------------------- options per verb

std::string ParsedArgs::get(std::string_view option, std::string_view fallback) const
{
    const auto it = options.find(option);
    return std::string(it == options.end() ? fallback : std::string_view(it->second));
}

std::optional<std::string> parse_command_args(const std::vector<std::string>& words, const CommandSpec& spec, ParsedArgs& out)
{
    out = ParsedArgs{};
    bool options_ended = false;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        const bool looks_like_option = !options_ended && word.size() > 1 && word[0] == '-';
        if (!looks_like_option) {
            if (out.positional.size() == spec.max_positional) {
                if (spec.max_positional == 0) return "takes no arguments, but got '" + word + "'";
                return "unexpected extra argument '" + word + "'";
            }
            out.positional.push_back(word);
            continue;
        }
        if (word == "--") {
            options_ended = true;
            continue;
        }
        const size_t equals = word.find('=');
        const std::string name = word.substr(0, equals);
        const OptionSpec* option = nullptr;
        for (const OptionSpec& o : spec.options)
            if (o.name == name) option = &o;
        if (option == nullptr) return "unknown option '" + name + "'";
        if (out.has(name)) return "option " + name + " given twice";
        if (!option->takes_value) {
            if (equals != std::string::npos) return "option " + name + " takes no value";
            out.options[name] = "";
        } else if (equals != std::string::npos) {
            out.options[name] = word.substr(equals + 1);
        } else {
            if (i + 1 >= words.size()) return "option " + name + " needs a value";
            out.options[name] = words[++i];
        }
    }
    if (out.positional.size() < spec.min_positional) return "missing argument";
    return std::nullopt;
}

// ---------------------------------------------------------------- names

namespace {

// UTF-16 length of valid UTF-8 (kmdctl's text comes from UTF-16, so it is valid), or nullopt.
std::optional<size_t> utf16_length(std::string_view s)
{
    size_t units = 0;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size()) return std::nullopt;
        for (size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return std::nullopt;
        units += len == 4 ? 2 : 1; // beyond the BMP: a surrogate pair
        i += len;
    }
    return units;
}

} // namespace

std::optional<std::string> service_name_problem(std::string_view name)
{
    constexpr size_t kMaxServiceName = 256; // the SCM's limit (CreateService documentation)
    if (name.empty()) return "a service name cannot be empty";
    const auto length = utf16_length(name);
    if (!length) return "the service name is not valid UTF-8";
    if (*length > kMaxServiceName)
        return "a service name has at most " + std::to_string(kMaxServiceName) + " characters; this one has " +
               std::to_string(*length);
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return "a service name cannot contain control characters (a newline, a tab, ...)";
        if (c == '/' || c == '\\') return "a service name cannot contain '/' or '\\' (the SCM refuses them)";
        if (c == '*' || c == '?') return "a service name cannot contain the wildcards '*' or '?'";
    }
    if (name == "." || name == "..") return "'" + std::string(name) + "' cannot be a service name (it means a directory)";
    // Reserved DOS device names, with or without an extension ("CON", "nul.sys"): as the file part
    // of \\.\<name> they open the console or a port, never the driver's device.
    const std::string_view stem = name.substr(0, name.find('.'));
    static constexpr std::string_view kReserved[] = {"CON", "PRN", "AUX", "NUL"};
    bool reserved = false;
    for (std::string_view r : kReserved) reserved = reserved || equals_ignore_case(stem, r);
    if (stem.size() == 4 && (equals_ignore_case(stem.substr(0, 3), "COM") || equals_ignore_case(stem.substr(0, 3), "LPT")) &&
        stem[3] >= '1' && stem[3] <= '9')
        reserved = true;
    if (reserved) return "'" + std::string(stem) + "' is a reserved DOS device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";
    return std::nullopt;
}

std::string json_escape(std::string_view text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += escaped;
            } else {
                out += c; // UTF-8 passes through: JSON text is UTF-8
            }
        }
    }
    return out;
}

} // namespace kmd
