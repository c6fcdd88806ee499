// dispatch_rules_tests.cpp - kit/driver/kmd/dispatch_rules.hpp, natively.
#include <kmd/dispatch_rules.hpp>

#include <gtest/gtest.h>

namespace {

TEST(DispatchRules, ErrorsReportNoInformationWarningsAndSuccessKeepIt)
{
    EXPECT_EQ(63u, kmd::reported_information(0x00000000u, 63));  // STATUS_SUCCESS
    EXPECT_EQ(16u, kmd::reported_information(0x80000005u, 16));  // STATUS_BUFFER_OVERFLOW: the part that fits
    EXPECT_EQ(8u, kmd::reported_information(0x40000000u, 8));    // an informational status
    EXPECT_EQ(0u, kmd::reported_information(0xC0000023u, 63));   // STATUS_BUFFER_TOO_SMALL
    EXPECT_EQ(0u, kmd::reported_information(0xC000000Du, 1));    // STATUS_INVALID_PARAMETER
}

TEST(DispatchRules, PnpKeepsTheStatusItCameWithEverythingElseIsAnswered)
{
    EXPECT_TRUE(kmd::keeps_incoming_status(0x1b)); // IRP_MJ_PNP
    for (unsigned major = 0; major <= 0x1b; ++major)
        if (major != 0x1b) EXPECT_FALSE(kmd::keeps_incoming_status(static_cast<uint8_t>(major))) << major;
}

TEST(DispatchRules, CreateRefusesANameBelowTheDevice)
{
    EXPECT_TRUE(kmd::create_names_nothing_below_the_device(0));
    EXPECT_FALSE(kmd::create_names_nothing_below_the_device(2 * sizeof(char16_t))); // "\x"
}

} // namespace
