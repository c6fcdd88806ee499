#include "command_line.hpp"

namespace kmd {

namespace {

bool blank(wchar_t c) { return c == L' ' || c == L'\t'; }

} // namespace

std::vector<std::wstring> split_command_line(std::wstring_view line)
{
    std::vector<std::wstring> words;
    size_t at = 0;

    std::wstring program;
    if (at < line.size() && line[at] == L'"') {
        for (++at; at < line.size() && line[at] != L'"'; ++at) program += line[at];
        if (at < line.size()) ++at; // its closing quote
    } else {
        for (; at < line.size() && !blank(line[at]); ++at) program += line[at];
    }
    words.push_back(std::move(program));

    int quotes = 0; // quotes seen in the current run, modulo the rules above; odd = inside a quoted part
    for (;;) {
        while (at < line.size() && blank(line[at])) ++at;
        if (at == line.size()) break;
        std::wstring word;
        size_t backslashes = 0;
        while (at < line.size() && !(blank(line[at]) && quotes == 0)) {
            const wchar_t c = line[at++];
            if (c == L'\\') {
                word += c;
                ++backslashes;
                continue;
            }
            if (c != L'"') {
                word += c;
                backslashes = 0;
                continue;
            }
            word.resize(word.size() - backslashes / 2);
            if (backslashes % 2 == 0) {
                ++quotes;
            } else {
                word.back() = L'"'; // the odd backslash left is the quote's escape
            }
            backslashes = 0;
            for (; at < line.size() && line[at] == L'"'; ++at) {
                if (++quotes == 3) {
                    word += L'"';
                    quotes = 0;
                }
            }
            if (quotes == 2) quotes = 0;
        }
        words.push_back(std::move(word));
    }
    return words;
}

} // namespace kmd
