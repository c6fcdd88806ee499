// kmdctl's own split of its command line (kit/loader/command_line.cpp) against CommandLineToArgvW's
// rules; tests/windows/command_line_check.cpp compares the two under Wine on thousands of lines.
#include <gtest/gtest.h>

#include "command_line.hpp"

using kmd::split_command_line;
using Words = std::vector<std::wstring>;

TEST(CommandLine, ProgramNameKeepsItsBackslashesAndEndsAtItsQuote)
{
    EXPECT_EQ((Words{L"C:\\a b\\kmdctl.exe", L"list"}), split_command_line(L"\"C:\\a b\\kmdctl.exe\" list"));
    EXPECT_EQ((Words{L"Z:\\bin\\kmdctl.exe"}), split_command_line(L"Z:\\bin\\kmdctl.exe"));
    // The program's quote ends it even with letters straight after, which start the next word.
    EXPECT_EQ((Words{L"p\\", L"x", L"y"}), split_command_line(L"\"p\\\"x y"));
    EXPECT_EQ((Words{L"p\"q"}), split_command_line(L"p\"q"));
    EXPECT_EQ((Words{L""}), split_command_line(L""));
    EXPECT_EQ((Words{L"", L"a"}), split_command_line(L" a"));
}

TEST(CommandLine, BlanksSeparateWordsOutsideQuotes)
{
    EXPECT_EQ((Words{L"p", L"a", L"b", L"c d"}), split_command_line(L"p a\t b  \"c d\"  "));
    EXPECT_EQ((Words{L"p", L"", L"x"}), split_command_line(L"p \"\" x"));
    EXPECT_EQ((Words{L"p", L"unclosed  rest"}), split_command_line(L"p \"unclosed  rest"));
}

TEST(CommandLine, BackslashesCountOnlyBeforeAQuote)
{
    // The examples of Microsoft's "Parsing C command-line arguments", which CommandLineToArgvW shares.
    EXPECT_EQ((Words{L"p", L"abc", L"d", L"e"}), split_command_line(L"p \"abc\" d e"));
    EXPECT_EQ((Words{L"p", L"a\\\\b", L"de fg", L"h"}), split_command_line(L"p a\\\\b d\"e f\"g h"));
    EXPECT_EQ((Words{L"p", L"a\\\"b", L"c", L"d"}), split_command_line(L"p a\\\\\\\"b c d"));
    EXPECT_EQ((Words{L"p", L"a\\\\b c", L"d", L"e"}), split_command_line(L"p a\\\\\\\\\"b c\" d e"));
    EXPECT_EQ((Words{L"p", L"C:\\dir\\"}), split_command_line(L"p \"C:\\dir\\\\\""));
}

TEST(CommandLine, EveryThirdQuoteOfARunIsALiteralQuote)
{
    // Where shell32 and the 2008 C runtime part ways: `a"b"" c d` is three words here.
    EXPECT_EQ((Words{L"p", L"ab\"", L"c", L"d"}), split_command_line(L"p a\"b\"\" c d"));
    EXPECT_EQ((Words{L"p", L"\""}), split_command_line(L"p \"\"\""));
    EXPECT_EQ((Words{L"p", L"\" x"}), split_command_line(L"p \"\"\"\" x"));
}
