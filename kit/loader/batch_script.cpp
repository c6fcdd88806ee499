#include "batch_script.hpp"

#include <algorithm>

#include "cli_parse.hpp"

namespace kmd {
namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

// reg add KEY /v NAME /t REG_DWORD|REG_SZ /d DATA /f, the options in any order, as reg.exe takes them.
std::string parse_reg_add(const std::vector<std::string>& w, BatchStep& step)
{
    if (w.size() < 3 || !equals_ignore_case(w[1], "add")) return "reg: only 'reg add KEY /v NAME /t REG_DWORD|REG_SZ /d DATA /f' runs in a batch";
    const std::string& key = w[2];
    const size_t slash = key.find('\\');
    const std::string_view root = std::string_view(key).substr(0, slash);
    if (equals_ignore_case(root, "HKLM") || equals_ignore_case(root, "HKEY_LOCAL_MACHINE"))
        step.root = "HKLM";
    else if (equals_ignore_case(root, "HKCU") || equals_ignore_case(root, "HKEY_CURRENT_USER"))
        step.root = "HKCU";
    else
        return "reg add: the key must start with HKLM\\ or HKCU\\, not '" + key + "'";
    if (slash == std::string::npos || slash + 1 >= key.size()) return "reg add: no key below " + step.root;
    step.key = key.substr(slash + 1);
    bool have_name = false, have_type = false, have_data = false, force = false;
    std::string data;
    for (size_t i = 3; i < w.size(); ++i) {
        const std::string& option = w[i];
        const bool last = i + 1 >= w.size();
        if (equals_ignore_case(option, "/f")) {
            force = true;
        } else if ((equals_ignore_case(option, "/v") || equals_ignore_case(option, "/t") || equals_ignore_case(option, "/d")) && last) {
            return "reg add: " + option + " needs a value";
        } else if (equals_ignore_case(option, "/v")) {
            step.value_name = w[++i], have_name = true;
        } else if (equals_ignore_case(option, "/t")) {
            const std::string& type = w[++i];
            if (!equals_ignore_case(type, "REG_DWORD") && !equals_ignore_case(type, "REG_SZ"))
                return "reg add: only /t REG_DWORD or REG_SZ runs in a batch, not " + type;
            step.is_text = equals_ignore_case(type, "REG_SZ"), have_type = true;
        } else if (equals_ignore_case(option, "/d")) {
            data = w[++i], have_data = true;
        } else {
            return "reg add: unknown option '" + option + "'";
        }
    }
    if (!have_name || !have_type || !have_data) return "reg add: give /v NAME /t REG_DWORD|REG_SZ /d DATA";
    if (step.is_text) {
        step.text_data = data;
    } else {
        const std::optional<uint32_t> number = parse_u32(data);
        if (!number) return "reg add: /d " + data + " is not a 32-bit number";
        step.number = *number;
    }
    // Without /f reg.exe asks before it overwrites; a batch has no one to ask.
    if (!force) return "reg add: give /f (a batch cannot answer reg's overwrite question)";
    return {};
}

} // namespace

bool split_batch_words(std::string_view line, std::vector<std::string>& words)
{
    words.clear();
    size_t i = 0;
    while (true) {
        while (i < line.size() && blank(line[i])) ++i;
        if (i >= line.size()) return true;
        std::string word;
        if (line[i] == '"') {
            const size_t end = line.find('"', i + 1);
            if (end == std::string_view::npos) return false;
            word.assign(line.substr(i + 1, end - i - 1));
            i = end + 1;
            if (i < line.size() && !blank(line[i])) return false; // "a"b: no word glued to a quote
        } else {
            const size_t start = i;
            while (i < line.size() && !blank(line[i])) {
                if (line[i] == '"') return false; // a"b: a quote only around a whole word
                ++i;
            }
            word.assign(line.substr(start, i - start));
        }
        words.push_back(std::move(word));
    }
}

bool names_kmdctl(std::string_view word)
{
    const size_t slash = word.find_last_of("\\/");
    const std::string_view file = slash == std::string_view::npos ? word : word.substr(slash + 1);
    return equals_ignore_case(file, "kmdctl") || equals_ignore_case(file, "kmdctl.exe");
}

std::string batch_word(std::string_view word)
{
    const bool quote = word.empty() || std::any_of(word.begin(), word.end(), blank);
    return quote ? "\"" + std::string(word) + "\"" : std::string(word);
}

BatchScript parse_batch_script(std::string_view text)
{
    BatchScript script;
    size_t number = 0;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = trim_blanks(line);
        if (line.empty() || line.front() == '#') continue;
        BatchStep step;
        step.line = number;
        if (line.front() == '-' && (line.size() == 1 || blank(line[1]))) {
            step.may_fail = true;
            line = trim_blanks(line.substr(1));
        }
        step.text = std::string(line);
        const auto fail = [&](const std::string& why) {
            script.error = "line " + std::to_string(number) + ": " + why;
            script.steps.clear();
            return script;
        };
        std::vector<std::string> words;
        if (!split_batch_words(line, words)) return fail("a double quote must open and close a whole word");
        if (words.empty()) return fail("'-' and no command");
        if (names_kmdctl(words[0])) {
            step.kind = BatchStep::Kind::kmdctl;
            step.words.assign(words.begin() + 1, words.end());
            if (step.words.empty()) return fail("kmdctl and no verb");
        } else if (equals_ignore_case(words[0], "reg") || equals_ignore_case(words[0], "reg.exe")) {
            step.kind = BatchStep::Kind::reg_value;
            if (std::string why = parse_reg_add(words, step); !why.empty()) return fail(why);
        } else {
            return fail("'" + words[0] + "' is neither kmdctl nor reg add: a batch runs only those, in its own process");
        }
        script.steps.push_back(std::move(step));
    }
    return script;
}

} // namespace kmd
