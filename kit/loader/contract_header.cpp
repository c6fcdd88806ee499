#include "contract_header.hpp"

#include <cctype>
#include <map>

#include "cli_parse.hpp"

namespace kmd {
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

namespace {

// Every object-like and function-like #define of the header, and the names in the header's order.
void read_macros(std::string_view header_text, Macros& macros, std::vector<std::string>& order)
{
    for (const std::string& raw : logical_lines(header_text)) {
        std::string_view line = trim_blanks(raw);
        if (line.empty() || line[0] != '#') continue;
        line = trim_blanks(line.substr(1));
        if (line.substr(0, 6) != "define" || line.size() == 6 || !std::isspace(static_cast<unsigned char>(line[6]))) continue;
        line = trim_blanks(line.substr(6));
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
                macro.params.emplace_back(trim_blanks(params.substr(0, comma)));
                params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
            }
            macro.function_like = true;
            line.remove_prefix(close + 1);
        }
        macro.body = std::string(trim_blanks(line));
        macros[name] = std::move(macro);
        order.push_back(name);
    }
}

// An object-like macro followed through aliases (`#define A B`, `#define B C`) to its final body.
std::string final_body(const Macros& macros, std::string_view name)
{
    std::string body(name);
    for (int depth = 0; depth < 16; ++depth) {
        const auto found = macros.find(body);
        if (found == macros.end() || found->second.function_like) return depth == 0 ? std::string() : body;
        body = found->second.body;
    }
    return {};
}

// L"\\\\.\\skeleton" or "\\\\.\\skeleton" -> \\.\skeleton; nullopt unless one plain string literal.
std::optional<std::string> string_literal(std::string_view text)
{
    if (!text.empty() && text[0] == 'L') text.remove_prefix(1);
    if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
    text = text.substr(1, text.size() - 2);
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '"') return std::nullopt; // two literals, or an unescaped quote
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (++i == text.size() || (text[i] != '\\' && text[i] != '"')) return std::nullopt; // only \\ and \" are names' fare
        out += text[i];
    }
    return out;
}

} // namespace

ContractHeader parse_contract_header(std::string_view header_text)
{
    Macros macros;
    std::vector<std::string> order;
    read_macros(header_text, macros, order);
    ContractHeader contract;
    Evaluator evaluator(macros);
    for (const std::string& name : order) {
        const Macro& macro = macros[name];
        // IOCTL definitions: values made with CTL_CODE or a look-alike (SKELETON_CTL_CODE, ...).
        if (macro.function_like || macro.body.find("CTL_CODE") == std::string::npos) continue;
        if (const auto value = evaluator.evaluate(macro.body); value && *value <= 0xFFFFFFFFull)
            contract.ioctls.emplace_back(name, static_cast<uint32_t>(*value));
    }
    if (auto service = string_literal(final_body(macros, "KMD_CONTRACT_SERVICE_W"))) contract.service = *service;
    if (auto device = string_literal(final_body(macros, "KMD_CONTRACT_DEVICE_W"))) contract.device = *device;
    // The default request by name: the IOCTL macro KMD_CONTRACT_HELLO names (directly or through aliases).
    if (const auto hello = macros.find("KMD_CONTRACT_HELLO"); hello != macros.end() && !hello->second.function_like) {
        std::string name = hello->second.body;
        for (int depth = 0; depth < 16; ++depth) {
            bool is_ioctl = false;
            for (const auto& [n, code] : contract.ioctls) is_ioctl = is_ioctl || n == name;
            if (is_ioctl) {
                contract.hello = name;
                break;
            }
            const auto next = macros.find(name);
            if (next == macros.end() || next->second.function_like) break;
            name = next->second.body;
        }
    }
    return contract;
}

std::vector<std::pair<std::string, uint32_t>> ioctls_in_header(std::string_view header_text)
{
    return parse_contract_header(header_text).ioctls;
}

} // namespace kmd
