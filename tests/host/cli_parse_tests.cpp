// cli_parse_tests.cpp - kmdctl's strict number, hex and IOCTL-name parsing.
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
    for (const char* bad : {"4", "4g", "zz", "123", "12 3"}) EXPECT_FALSE(kmd::parse_hex_bytes(bad).has_value()) << bad;
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
