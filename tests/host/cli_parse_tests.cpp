// cli_parse_tests.cpp - kmdctl's strict number, hex, option and name parsing.
#include <gtest/gtest.h>

#include "cli_parse.hpp"

namespace {

TEST(CliParse, U32AcceptsDecimalAndHexOnly)
{
    EXPECT_EQ(0x222007u, kmd::parse_u32("0x222007"));
    EXPECT_EQ(0x222007u, kmd::parse_u32("0X222007"));
    EXPECT_EQ(2236423u, kmd::parse_u32("2236423"));
    EXPECT_EQ(0xFFFFFFFFu, kmd::parse_u32("0xffffffff"));
    for (const char* bad : {"", "0x", "12ab", "0x1g", "-1", " 1", "1 ", "0x100000000", "4294967296", "1.5"})
        EXPECT_FALSE(kmd::parse_u32(bad).has_value()) << bad;
}

TEST(CliParse, HexBytes)
{
    EXPECT_EQ((std::vector<unsigned char>{0x48, 0x65, 0x6c}), kmd::parse_hex_bytes("48 65 6c"));
    EXPECT_EQ((std::vector<unsigned char>{0x48, 0x65, 0x6c}), kmd::parse_hex_bytes("48656C"));
    EXPECT_EQ((std::vector<unsigned char>{0x01, 0xff}), kmd::parse_hex_bytes("0x01,0xFF"));
    EXPECT_EQ(std::vector<unsigned char>{}, kmd::parse_hex_bytes(""));
    EXPECT_EQ((std::vector<unsigned char>{0x12, 0x34}), kmd::parse_hex_bytes("0x1234"));
    // A 0x that announces no digits is a typo, not zero bytes (issue 10: "--in 0x" sent nothing).
    for (const char* bad : {"4", "4g", "zz", "123", "12 3", "0x", "0x0x0x", "0x 12", "12 0x", "0X"})
        EXPECT_FALSE(kmd::parse_hex_bytes(bad).has_value()) << bad;
}

TEST(CliParse, U64)
{
    EXPECT_EQ(0xFFFFFFFFFFFFFFFFull, kmd::parse_u64("0xffffffffffffffff"));
    EXPECT_EQ(18446744073709551615ull, kmd::parse_u64("18446744073709551615"));
    for (const char* bad : {"", "0x", "18446744073709551616", "0x10000000000000000", "1,2"})
        EXPECT_FALSE(kmd::parse_u64(bad).has_value()) << bad;
}

TEST(CliParse, TypedInputIsLittleEndianFields)
{
    EXPECT_EQ((std::vector<unsigned char>{2, 0, 0, 0, 40, 0, 0, 0}), kmd::parse_u32_list("2,40"));
    EXPECT_EQ((std::vector<unsigned char>{0x78, 0x56, 0x34, 0x12}), kmd::parse_u32_list(" 0x12345678 "));
    EXPECT_EQ((std::vector<unsigned char>{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
              kmd::parse_u64_list("1, 0xffffffffffffffff"));
    for (const char* bad : {"", "1,", ",1", "1,,2", "0x100000000", "x", "1 2", "-1"})
        EXPECT_FALSE(kmd::parse_u32_list(bad).has_value()) << bad;
    EXPECT_FALSE(kmd::parse_u64_list("0x10000000000000000").has_value());
}

constexpr kmd::OptionSpec kTestOptions[] = {{"--name", true}, {"--force", false}, {"--in", true}};

std::optional<std::string> parse(std::vector<std::string> words, kmd::ParsedArgs& out, size_t min_pos = 0, size_t max_pos = 1)
{
    return kmd::parse_command_args(words, kmd::CommandSpec{kTestOptions, min_pos, max_pos}, out);
}

TEST(CliParse, OptionsPerVerb)
{
    kmd::ParsedArgs a;
    EXPECT_EQ(std::nullopt, parse({"x.sys", "--name", "mydrv", "--force"}, a));
    EXPECT_EQ(std::vector<std::string>{"x.sys"}, a.positional);
    EXPECT_EQ("mydrv", a.get("--name"));
    EXPECT_TRUE(a.has("--force"));
    EXPECT_FALSE(a.has("--in"));
    EXPECT_EQ("dflt", a.get("--in", "dflt"));

    EXPECT_EQ(std::nullopt, parse({"--in=48 65", "--", "-odd-file.sys"}, a));
    EXPECT_EQ("48 65", a.get("--in"));
    EXPECT_EQ(std::vector<std::string>{"-odd-file.sys"}, a.positional);

    // Issue 9/10: "remove --clenaup skeleton extra args" ran; "list --bogus" exited 0.
    EXPECT_EQ("unknown option '--clenaup'", parse({"--clenaup", "skeleton"}, a));
    EXPECT_EQ("unknown option '--bogus'", parse({"--bogus"}, a, 0, 0));
    EXPECT_EQ("unknown option '-f'", parse({"-f"}, a));
    EXPECT_EQ("unexpected extra argument 'extra'", parse({"skeleton", "extra", "args"}, a));
    EXPECT_EQ("takes no arguments, but got 'x'", parse({"x"}, a, 0, 0));
    EXPECT_EQ("option --name needs a value", parse({"--name"}, a));
    EXPECT_EQ("option --force takes no value", parse({"--force=yes"}, a));
    EXPECT_EQ("option --name given twice", parse({"--name", "a", "--name", "b"}, a));
    EXPECT_EQ("missing argument", parse({}, a, 1, 1));
}

TEST(CliParse, ServiceNames)
{
    for (const char* good : {"skeleton", "my_drv-2", "ñame", "日本", "a.b", "CONSOLE", "COM0", "com10", "Lpt", "x y"})
        EXPECT_EQ(std::nullopt, kmd::service_name_problem(good)) << good;
    EXPECT_EQ(std::nullopt, kmd::service_name_problem(std::string(256, 'a')));
    // Issue 10: a 300-character name gave "error 31 (General failure.)"; these were accepted.
    EXPECT_NE(std::nullopt, kmd::service_name_problem(std::string(257, 'a')));
    std::string long_unicode;
    for (int i = 0; i < 129; ++i) long_unicode += "\xF0\x9F\x98\x80"; // 129 emoji = 258 UTF-16 units
    EXPECT_NE(std::nullopt, kmd::service_name_problem(long_unicode));
    for (const char* bad : {"", "a/b", "a\\b", "line\nbreak", "tab\there", "del\x7f", ".", "..", "*", "a?", "CON", "con",
                            "nul.sys", "AUX", "PRN", "COM1", "lpt9", "\xff\xfe"})
        EXPECT_NE(std::nullopt, kmd::service_name_problem(bad)) << bad;
    EXPECT_EQ("a service name has at most 256 characters; this one has 300", kmd::service_name_problem(std::string(300, 'n')));
}

TEST(CliParse, JsonEscapesControlCharacters)
{
    EXPECT_EQ("plain ñ", kmd::json_escape("plain ñ"));
    EXPECT_EQ("a\\\"b\\\\c", kmd::json_escape("a\"b\\c"));
    EXPECT_EQ("\\n\\r\\t\\b\\f\\u0001\\u001f", kmd::json_escape("\n\r\t\b\f\x01\x1f"));
}

TEST(CliParse, HexDumpLayout)
{
    const unsigned char hello[] = {'H', 'i', 0};
    EXPECT_EQ("00000000  48 69 00                                         |Hi.|\n", kmd::hex_dump(hello, 3));
    EXPECT_EQ("", kmd::hex_dump(hello, 0));
}

TEST(CliParse, IoctlNames)
{
    EXPECT_EQ(0x22u, kmd::parse_device_type("FILE_DEVICE_UNKNOWN"));
    EXPECT_EQ(0x22u, kmd::parse_device_type("unknown"));
    EXPECT_EQ(0x8001u, kmd::parse_device_type("0x8001"));
    EXPECT_FALSE(kmd::parse_device_type("0x10000").has_value());
    EXPECT_EQ(3u, kmd::parse_method("METHOD_NEITHER"));
    EXPECT_EQ(1u, kmd::parse_method("in_direct"));
    EXPECT_FALSE(kmd::parse_method("4").has_value());
    EXPECT_EQ(3u, kmd::parse_access("READ_WRITE_ACCESS"));
    EXPECT_EQ(0u, kmd::parse_access("FILE_ANY_ACCESS"));
    EXPECT_STREQ("METHOD_OUT_DIRECT", kmd::method_name(2));
    EXPECT_STREQ("FILE_DEVICE_UNKNOWN", kmd::device_type_name(0x22));
    EXPECT_EQ(nullptr, kmd::device_type_name(0x8123));
}

} // namespace
