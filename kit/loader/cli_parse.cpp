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

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

template <typename T>
std::optional<std::vector<unsigned char>> parse_number_list(std::string_view text)
{
    std::vector<unsigned char> bytes;
    while (true) {
        const size_t comma = text.find(',');
        const auto value = parse_u64(trim(text.substr(0, comma)));
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

// ---------------------------------------------------------------- contract headers

namespace {

// The header with comments removed and continuation lines joined, one logical line per entry.
std::vector<std::string> logical_lines(std::string_view text)
{
    std::vector<std::string> lines;
    std::string line;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            const size_t end = text.find("*/", i + 2);
            i = end == std::string_view::npos ? text.size() : end + 1;
            line += ' ';
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
        } else if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r')) {
            i += text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n' ? 2 : 1; // joined
        } else if (c == '\n') {
            lines.push_back(std::move(line));
            line.clear();
        } else {
            line += c;
        }
    }
    lines.push_back(std::move(line));
    return lines;
}

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

struct Macro {
    bool function_like = false;
    std::vector<std::string> params;
    std::string body;
};
using Macros = std::map<std::string, Macro, std::less<>>;

// `body` with each parameter (a whole identifier) replaced by its argument in parentheses.
std::string substitute(const Macro& macro, const std::vector<std::string>& args)
{
    std::string out;
    const std::string& body = macro.body;
    for (size_t i = 0; i < body.size();) {
        if (!is_ident_char(body[i])) {
            out += body[i++];
            continue;
        }
        size_t end = i;
        while (end < body.size() && is_ident_char(body[end])) ++end;
        const std::string word = body.substr(i, end - i);
        size_t p = 0;
        while (p < macro.params.size() && macro.params[p] != word) ++p;
        out += p < macro.params.size() ? "(" + args[p] + ")" : word;
        i = end;
    }
    return out;
}

// Evaluates the constant expressions IOCTL definitions are made of: numbers (with U/L suffixes),
// names (#defines of this header, or the usual FILE_DEVICE_/METHOD_/FILE_*_ACCESS ones), casts to
// integer types, the operators * + - << >> & ^ | with C's precedence, parentheses, and calls of
// the header's function-like macros (expanded) or of CTL_CODE itself. Anything else makes the
// definition unknown (nullopt) rather than guessed.
class Evaluator {
public:
    explicit Evaluator(const Macros& macros) : macros_(macros) {}

    std::optional<uint64_t> evaluate(std::string_view text, int depth = 0)
    {
        if (depth > 32) return std::nullopt; // a #define loop
        Cursor cur{text, 0, depth};
        auto value = binary(cur, 0);
        skip_space(cur);
        if (!value || cur.at != text.size()) return std::nullopt;
        return value;
    }

private:
    struct Cursor {
        std::string_view text;
        size_t at;
        int depth;
    };
    const Macros& macros_;

    static void skip_space(Cursor& c)
    {
        while (c.at < c.text.size() && std::isspace(static_cast<unsigned char>(c.text[c.at])) != 0) ++c.at;
    }
    static bool take(Cursor& c, std::string_view token)
    {
        skip_space(c);
        if (c.text.substr(c.at, token.size()) != token) return false;
        c.at += token.size();
        return true;
    }
    static std::string_view identifier(Cursor& c)
    {
        skip_space(c);
        const size_t start = c.at;
        while (c.at < c.text.size() && is_ident_char(c.text[c.at])) ++c.at;
        return c.text.substr(start, c.at - start);
    }

    // Precedence levels, loosest first: | ^ & (<< >>) (+ -) *
    std::optional<uint64_t> binary(Cursor& c, int level)
    {
        static constexpr std::string_view kOps[][2] = {{"|", ""}, {"^", ""}, {"&", ""}, {"<<", ">>"}, {"+", "-"}, {"*", ""}};
        if (level == 6) return unary(c);
        auto value = binary(c, level + 1);
        while (value) {
            skip_space(c);
            // "|" must not take the first half of "||" (nor "&" of "&&"): not constant-expression fare here.
            std::string_view op;
            for (std::string_view candidate : kOps[level])
                if (!candidate.empty() && c.text.substr(c.at, candidate.size()) == candidate &&
                    c.text.substr(c.at + candidate.size(), 1) != candidate.substr(0, 1))
                    op = candidate;
            if (op.empty()) break;
            c.at += op.size();
            const auto rhs = binary(c, level + 1);
            if (!rhs) return std::nullopt;
            if (op == "|") *value |= *rhs;
            else if (op == "^") *value ^= *rhs;
            else if (op == "&") *value &= *rhs;
            else if (op == "<<") *value = *rhs < 64 ? *value << *rhs : 0;
            else if (op == ">>") *value = *rhs < 64 ? *value >> *rhs : 0;
            else if (op == "+") *value += *rhs;
            else if (op == "-") *value -= *rhs;
            else *value *= *rhs;
        }
        return value;
    }

    // "(unsigned long)", "(ULONG)": a cast to an integer type, which changes nothing here.
    static bool skip_cast(Cursor& c)
    {
        static constexpr std::string_view kTypeWords[] = {"unsigned", "signed", "long", "int", "short", "char", "ULONG", "DWORD",
                                                          "UINT", "UINT32", "uint32_t", "uint64_t", "ULONG_PTR", "size_t"};
        Cursor probe = c;
        if (!take(probe, "(")) return false;
        bool any = false;
        while (true) {
            const std::string_view word = identifier(probe);
            if (word.empty()) break;
            bool known = false;
            for (std::string_view t : kTypeWords) known = known || word == t;
            if (!known) return false;
            any = true;
        }
        if (!any || !take(probe, ")")) return false;
        c = probe;
        return true;
    }

    std::optional<uint64_t> unary(Cursor& c)
    {
        if (skip_cast(c)) return unary(c);
        if (take(c, "(")) {
            auto value = binary(c, 0);
            if (!value || !take(c, ")")) return std::nullopt;
            return value;
        }
        if (take(c, "~")) {
            auto value = unary(c);
            if (value) *value = ~*value & 0xFFFFFFFFull;
            return value;
        }
        std::string_view word = identifier(c);
        if (word.empty()) return std::nullopt;
        if (std::isdigit(static_cast<unsigned char>(word[0])) != 0) {
            // Integer suffixes (0x22u, 1UL); none of u/U/l/L is a hex digit, so this is safe for hex.
            while (!word.empty() && (word.back() == 'u' || word.back() == 'U' || word.back() == 'l' || word.back() == 'L'))
                word.remove_suffix(1);
            return parse_u64(word);
        }
        const auto macro = macros_.find(word);
        if (macro != macros_.end() && macro->second.function_like) return call(c, macro->second);
        if (macro != macros_.end()) return evaluate(macro->second.body, c.depth + 1);
        if (word == "CTL_CODE") return ctl_code(c);
        return well_known(word);
    }

    // The arguments of a call, split at top-level commas.
    static std::optional<std::vector<std::string>> arguments(Cursor& c)
    {
        if (!take(c, "(")) return std::nullopt;
        std::vector<std::string> args(1);
        int nesting = 0;
        for (; c.at < c.text.size(); ++c.at) {
            const char ch = c.text[c.at];
            if (ch == '(') ++nesting;
            if (ch == ')' && nesting-- == 0) {
                ++c.at;
                return args;
            }
            if (ch == ',' && nesting == 0) args.emplace_back();
            else args.back() += ch;
        }
        return std::nullopt;
    }

    std::optional<uint64_t> call(Cursor& c, const Macro& macro)
    {
        const auto args = arguments(c);
        if (!args || args->size() != macro.params.size()) return std::nullopt;
        return evaluate(substitute(macro, *args), c.depth + 1);
    }

    // winioctl.h's CTL_CODE(DeviceType, Function, Method, Access), with its fields' ranges.
    std::optional<uint64_t> ctl_code(Cursor& c)
    {
        const auto args = arguments(c);
        if (!args || args->size() != 4) return std::nullopt;
        uint64_t v[4];
        for (size_t i = 0; i < 4; ++i) {
            const auto value = evaluate((*args)[i], c.depth + 1);
            if (!value) return std::nullopt;
            v[i] = *value;
        }
        if (v[0] > 0xFFFF || v[1] > 0xFFF || v[2] > 3 || v[3] > 3) return std::nullopt;
        return (v[0] << 16) | (v[3] << 14) | (v[1] << 2) | v[2];
    }

    static std::optional<uint64_t> well_known(std::string_view word)
    {
        if (word.substr(0, 12) == "FILE_DEVICE_") return parse_device_type(word);
        if (word.substr(0, 7) == "METHOD_") return parse_method(word);
        if (word == "FILE_READ_DATA") return 1;
        if (word == "FILE_WRITE_DATA") return 2;
        if (word == "FILE_SPECIAL_ACCESS") return 0;
        if (word.substr(0, 5) == "FILE_") return parse_access(word);
        return std::nullopt;
    }
};

} // namespace

std::vector<std::pair<std::string, uint32_t>> ioctls_in_header(std::string_view header_text)
{
    Macros macros;
    std::vector<std::string> order;
    for (const std::string& raw : logical_lines(header_text)) {
        std::string_view line = trim(raw);
        if (line.empty() || line[0] != '#') continue;
        line = trim(line.substr(1));
        if (line.substr(0, 6) != "define" || line.size() == 6 || !std::isspace(static_cast<unsigned char>(line[6]))) continue;
        line = trim(line.substr(6));
        size_t end = 0;
        while (end < line.size() && is_ident_char(line[end])) ++end;
        if (end == 0) continue;
        const std::string name(line.substr(0, end));
        Macro macro;
        line.remove_prefix(end);
        if (!line.empty() && line[0] == '(') { // function-like: "NAME(a, b) body", no space before '('
            const size_t close = line.find(')');
            if (close == std::string_view::npos) continue;
            std::string_view params = line.substr(1, close - 1);
            while (!params.empty()) {
                const size_t comma = params.find(',');
                macro.params.emplace_back(trim(params.substr(0, comma)));
                params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
            }
            macro.function_like = true;
            line.remove_prefix(close + 1);
        }
        macro.body = std::string(trim(line));
        macros[name] = std::move(macro);
        order.push_back(name);
    }
    std::vector<std::pair<std::string, uint32_t>> found;
    Evaluator evaluator(macros);
    for (const std::string& name : order) {
        const Macro& macro = macros[name];
        // IOCTL definitions: values made with CTL_CODE or a look-alike (SKELETON_CTL_CODE, ...).
        if (macro.function_like || macro.body.find("CTL_CODE") == std::string::npos) continue;
        if (const auto value = evaluator.evaluate(macro.body); value && *value <= 0xFFFFFFFFull)
            found.emplace_back(name, static_cast<uint32_t>(*value));
    }
    return found;
}

} // namespace kmd
