// kmd::parse_first_frame on winedbg's frame lines, with and without a symbol (kit/loader/crash_symbols.cpp).
#include <gtest/gtest.h>

#include "crash_symbols.hpp"

namespace {

TEST(CrashFrame, WithASymbolTheModuleFollowsIt)
{
    const kmd::Frame f = kmd::parse_first_frame(
        "Backtrace:\n=>0 0x0000000180001050 record_request(counters=<optimized>) [Z:\\x\\crash_on_ioctl.cpp:26] in crash_on_ioctl "
        "(0x000000000021fc40)\n  1 0x...\n");
    EXPECT_EQ(0x180001050ULL, f.address);
    EXPECT_EQ("crash_on_ioctl", f.module);
    EXPECT_EQ("record_request(counters=<optimized>) [Z:\\x\\crash_on_ioctl.cpp:26]", f.text);
    EXPECT_FALSE(f.has_offset);
}

// A driver without debug information: winedbg names no function, only the module and the offset.
// The old parser wanted a symbol before " in " and found no module at all.
TEST(CrashFrame, WithoutASymbolTheModuleAndOffsetAreStillRead)
{
    const kmd::Frame f = kmd::parse_first_frame("Backtrace:\n=>0 0x00000001800011d0 in crashme (+0x11d0) (0x000000000021fc40)\n");
    EXPECT_EQ(0x1800011d0ULL, f.address);
    EXPECT_EQ("crashme", f.module);
    EXPECT_EQ("", f.text);
    EXPECT_TRUE(f.has_offset);
    EXPECT_EQ(0x11d0ULL, f.offset);
}

TEST(CrashFrame, AnArgumentHoldingInDoesNotEndTheSymbol)
{
    const kmd::Frame f = kmd::parse_first_frame("=>0 0x0000000180001050 f(s=\"a in b\") in drv.sys (0x1)\n");
    EXPECT_EQ("drv.sys", f.module);
    EXPECT_EQ("f(s=\"a in b\")", f.text);
}

TEST(CrashFrame, NoFrameNoModule)
{
    const kmd::Frame f = kmd::parse_first_frame("=>0 0x0000000180001100 (0x000000000021fc40)\n");
    EXPECT_EQ(0x180001100ULL, f.address);
    EXPECT_EQ("", f.module);
}

TEST(ImageFunction, NotAnImageKnowsNothing)
{
    const unsigned char text[] = "not a PE file at all, just text";
    EXPECT_EQ("", kmd::function_in_image(text, sizeof text, 0x10));
}

} // namespace
