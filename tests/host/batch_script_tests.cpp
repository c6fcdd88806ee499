// What `kmdctl batch FILE` reads: every line a step or the whole file refused, before anything runs.
#include <gtest/gtest.h>

#include "batch_script.hpp"

using kmd::BatchStep;
using kmd::parse_batch_script;

TEST(BatchScript, KmdctlStepsKeepTheirWordsAndAnyPathToKmdctl)
{
    const auto s = parse_batch_script("Z:\\work\\bin\\kmdctl.exe install \"C:\\my drivers\\a.sys\" --name a\r\n"
                                      "\n"
                                      "# a comment\n"
                                      "- kmdctl stop a\n"
                                      "/opt/kit/KMDCTL.EXE --trace start a");
    ASSERT_EQ("", s.error);
    ASSERT_EQ(3u, s.steps.size());
    EXPECT_EQ(BatchStep::Kind::kmdctl, s.steps[0].kind);
    EXPECT_EQ((std::vector<std::string>{"install", "C:\\my drivers\\a.sys", "--name", "a"}), s.steps[0].words);
    EXPECT_FALSE(s.steps[0].may_fail);
    EXPECT_EQ(1u, s.steps[0].line);
    EXPECT_TRUE(s.steps[1].may_fail);
    EXPECT_EQ("kmdctl stop a", s.steps[1].text);
    EXPECT_EQ(4u, s.steps[1].line);
    EXPECT_EQ((std::vector<std::string>{"--trace", "start", "a"}), s.steps[2].words);
}

TEST(BatchScript, RegAddOfADwordOrATextInRegsOwnForm)
{
    const auto s = parse_batch_script("reg add HKLM\\System\\CurrentControlSet\\Services\\kmdverify\\Parameters /v FaultAt /t REG_DWORD /d 0x10 /f\n"
                                      "REG.EXE ADD HKEY_CURRENT_USER\\Software\\X /f /d 7 /t reg_dword /v \"A B\"\n"
                                      "reg add HKLM\\X /v Dir /t REG_SZ /d \\??\\C:\\windows\\temp /f\n"
                                      "reg add HKLM\\X /v Empty /t REG_SZ /d \"\" /f\n");
    ASSERT_EQ("", s.error);
    ASSERT_EQ(4u, s.steps.size());
    EXPECT_EQ(BatchStep::Kind::reg_value, s.steps[0].kind);
    EXPECT_FALSE(s.steps[0].is_text);
    EXPECT_EQ("HKLM", s.steps[0].root);
    EXPECT_EQ("System\\CurrentControlSet\\Services\\kmdverify\\Parameters", s.steps[0].key);
    EXPECT_EQ("FaultAt", s.steps[0].value_name);
    EXPECT_EQ(16u, s.steps[0].number);
    EXPECT_EQ("HKCU", s.steps[1].root);
    EXPECT_EQ("A B", s.steps[1].value_name);
    EXPECT_EQ(7u, s.steps[1].number);
    EXPECT_TRUE(s.steps[2].is_text);
    EXPECT_EQ("\\??\\C:\\windows\\temp", s.steps[2].text_data);
    EXPECT_TRUE(s.steps[3].is_text);
    EXPECT_EQ("", s.steps[3].text_data);
}

TEST(BatchScript, OneBadLineRefusesTheWholeFileAndNamesTheLine)
{
    const struct {
        const char* text;
        const char* error;
    } cases[] = {
        {"kmdctl start a\nsc.exe stop a\n", "line 2: 'sc.exe' is neither kmdctl nor reg add"},
        {"kmdctl start \"a\n", "line 1: a double quote must open and close a whole word"},
        {"kmdctl start a\"b\n", "line 1: a double quote"},
        {"kmdctl\n", "line 1: kmdctl and no verb"},
        {"-\n", "line 1: '-' and no command"},
        {"reg query HKLM\\X\n", "line 1: reg: only 'reg add"},
        {"reg add HKLM\\X /v A /t REG_MULTI_SZ /d x /f\n", "line 1: reg add: only /t REG_DWORD or REG_SZ"},
        {"reg add HKLM\\X /v A /t REG_DWORD /d 4294967296 /f\n", "line 1: reg add: /d 4294967296 is not a 32-bit number"},
        {"reg add HKLM\\X /v A /t REG_DWORD /d 1\n", "line 1: reg add: give /f"},
        {"reg add HKCR\\X /v A /t REG_DWORD /d 1 /f\n", "line 1: reg add: the key must start with HKLM\\ or HKCU\\"},
        {"reg add HKLM /v A /t REG_DWORD /d 1 /f\n", "line 1: reg add: no key below HKLM"},
        {"reg add HKLM\\X /v A /t REG_DWORD /d\n", "line 1: reg add: /d needs a value"},
        {"reg add HKLM\\X /t REG_DWORD /d 1 /f\n", "line 1: reg add: give /v NAME"},
    };
    for (const auto& c : cases) {
        const auto s = parse_batch_script(c.text);
        EXPECT_EQ(0u, s.steps.size()) << c.text;
        EXPECT_EQ(0u, s.error.rfind(c.error, 0)) << c.text << " gave: " << s.error;
    }
}

TEST(BatchScript, WordsRoundTripThroughTheirWrittenForm)
{
    const std::vector<std::string> words = {"C:\\a b\\c.sys", "", "--name", "x", "\\\\.\\dev"};
    std::string line;
    for (const std::string& w : words) line += kmd::batch_word(w) + " ";
    std::vector<std::string> back;
    ASSERT_TRUE(kmd::split_batch_words(line, back));
    EXPECT_EQ(words, back);
    EXPECT_TRUE(kmd::names_kmdctl("C:/kit/kmdctl"));
    EXPECT_FALSE(kmd::names_kmdctl("kmdctl2.exe"));
}
