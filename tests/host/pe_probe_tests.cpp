// pe_probe_tests.cpp - kmdctl's first look at a driver file.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pe_probe.hpp"

namespace {

std::vector<unsigned char> minimal_pe(uint16_t machine, uint16_t magic, uint16_t subsystem)
{
    std::vector<unsigned char> image(512, 0);
    image[0] = 'M', image[1] = 'Z';
    image[0x3c] = 0x80;
    std::memcpy(&image[0x80], "PE\0\0", 4);
    image[0x84] = static_cast<unsigned char>(machine), image[0x85] = static_cast<unsigned char>(machine >> 8);
    image[0x98] = static_cast<unsigned char>(magic), image[0x99] = static_cast<unsigned char>(magic >> 8);
    image[0x98 + 0x44] = static_cast<unsigned char>(subsystem);
    return image;
}

TEST(PeProbe, ReadsMachineAndSubsystem)
{
    auto image = minimal_pe(0x8664, 0x20b, 1);
    auto p = kmd::probe_pe(image.data(), image.size());
    EXPECT_TRUE(p.is_pe) << p.problem;
    EXPECT_EQ(0x8664, p.machine);
    EXPECT_EQ(1, p.subsystem);
    image = minimal_pe(0x14c, 0x10b, 3);
    p = kmd::probe_pe(image.data(), image.size());
    EXPECT_TRUE(p.is_pe);
    EXPECT_EQ(0x14c, p.machine);
    EXPECT_EQ(3, p.subsystem);
    EXPECT_STREQ("x86", kmd::machine_name(p.machine));
}

TEST(PeProbe, RejectsWhatIsNotAnNtImage)
{
    const char text[] = "this is a text file, not a driver, however it is named";
    EXPECT_FALSE(kmd::probe_pe(reinterpret_cast<const unsigned char*>(text), sizeof text).is_pe);
    EXPECT_FALSE(kmd::probe_pe(nullptr, 0).is_pe);
    auto image = minimal_pe(0x8664, 0x20b, 1);
    image[0x81] = 'X'; // broken PE signature
    EXPECT_FALSE(kmd::probe_pe(image.data(), image.size()).is_pe);
    image = minimal_pe(0x8664, 0x20b, 1);
    image[0x3c] = 0xF0, image[0x3d] = 0xFF; // e_lfanew far past the end
    EXPECT_FALSE(kmd::probe_pe(image.data(), image.size()).is_pe);
    image = minimal_pe(0x8664, 0x20b, 1);
    EXPECT_FALSE(kmd::probe_pe(image.data(), 0x90).is_pe) << "truncated header";
    image = minimal_pe(0x8664, 0x999, 1);
    EXPECT_FALSE(kmd::probe_pe(image.data(), image.size()).is_pe) << "bad magic";
}

} // namespace
