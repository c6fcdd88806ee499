// kmd::split_command_line (kit/loader/command_line.cpp) against CommandLineToArgvW itself, run
// under Wine by tests/e2e/test_kmdctl_cli.py: the lines of tests/host/command_line_tests.cpp,
// then every line of up to 6 characters over the alphabet that matters (a, blank, tab,
// backslash, quote) after a few program parts. Prints each line split differently; exit 1 if any.
#include <windows.h>

#include <shellapi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "command_line.hpp"

namespace {

std::vector<std::wstring> reference(const std::wstring& line)
{
    int argc = 0;
    wchar_t** argv = CommandLineToArgvW(line.c_str(), &argc);
    std::vector<std::wstring> words;
    for (int i = 0; argv != nullptr && i < argc; ++i) words.emplace_back(argv[i]);
    if (argv != nullptr) LocalFree(argv);
    return words;
}

std::string shown(const std::wstring& s)
{
    std::string out = "[";
    for (wchar_t c : s) out += c == L'\t' ? std::string("\\t") : std::string(1, static_cast<char>(c));
    return out + "]";
}

} // namespace

int main()
{
    std::vector<std::wstring> lines = {L"\"C:\\a b\\kmdctl.exe\" list", L"Z:\\bin\\kmdctl.exe", L"\"p\\\"x y", L"p\"q", L" a",
                                       L"p a\t b  \"c d\"  ", L"p \"\" x", L"p \"unclosed  rest", L"p \"abc\" d e",
                                       L"p a\\\\b d\"e f\"g h", L"p a\\\\\\\"b c d", L"p a\\\\\\\\\"b c\" d e",
                                       L"p \"C:\\dir\\\\\"", L"p a\"b\"\" c d", L"p \"\"\"", L"p \"\"\"\" x"};
    const wchar_t alphabet[] = {L'a', L' ', L'\t', L'\\', L'"'};
    for (const wchar_t* program : {L"p ", L"\"p q\" ", L"\"p", L"p\\\" "}) {
        std::vector<std::wstring> tails = {L""};
        for (size_t length = 1, from = 0; length <= 6; ++length) {
            const size_t to = tails.size();
            for (size_t i = from; i < to; ++i)
                for (wchar_t c : alphabet) tails.push_back(tails[i] + c);
            from = to;
        }
        for (const std::wstring& tail : tails) lines.push_back(program + tail);
    }

    size_t different = 0;
    for (const std::wstring& line : lines) {
        const auto ours = kmd::split_command_line(line);
        const auto theirs = reference(line);
        if (ours == theirs) continue;
        if (++different <= 10) {
            std::printf("line %s: ours", shown(line).c_str());
            for (const auto& w : ours) std::printf(" %s", shown(w).c_str());
            std::printf(", CommandLineToArgvW's");
            for (const auto& w : theirs) std::printf(" %s", shown(w).c_str());
            std::printf("\n");
        }
    }
    std::printf("%zu lines, %zu split differently\n", lines.size(), different);
    return different == 0 ? 0 : 1;
}
