#pragma once
// A Windows command line split into words by CommandLineToArgvW's rules, in plain C++ (tested
// natively: tests/host/command_line_tests.cpp). kmdctl splits its own line with it instead of
// calling CommandLineToArgvW, whose shell32.dll brings user32.dll and the font set-up with it:
// up to half of a short kmdctl run under Wine (docs/performance.md).
//
// The rules (shell32's, as Wine implements and tests them):
//  - word 0, the program, ends at the next double quote if it starts with one, else at the
//    first blank (space or tab); no backslash or quote inside it means anything;
//  - the other words are separated by blanks outside double quotes;
//  - 2n backslashes before a double quote are n backslashes and the quote opens or closes a
//    quoted part; 2n+1 backslashes before one are n backslashes and a literal quote;
//  - backslashes before anything else are themselves;
//  - in a run of double quotes, every third one is a literal quote.

#include <string>
#include <string_view>
#include <vector>

namespace kmd {

std::vector<std::wstring> split_command_line(std::wstring_view line);

} // namespace kmd
