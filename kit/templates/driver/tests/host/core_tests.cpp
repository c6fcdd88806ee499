// core_tests.cpp - @NAME@'s request core, natively on Linux (under ASan/UBSan): every IOCTL,
// its lengths, and unknown codes.
#include <gtest/gtest.h>
#include <@NAME@/ioctl.h>

#include <cstring>
#include <vector>

#include "core/requests.hpp"

namespace {

using Bytes = std::vector<unsigned char>;

kmd::Result call(uint32_t code, const Bytes& in, Bytes& out)
{
    return @NAME@::core::handle(code, {in.empty() ? nullptr : in.data(), in.size()}, {out.empty() ? nullptr : out.data(), out.size()});
}

Bytes u32s(std::initializer_list<uint32_t> values)
{
    Bytes b(values.size() * 4);
    size_t i = 0;
    for (uint32_t v : values) std::memcpy(b.data() + 4 * i++, &v, 4);
    return b;
}

TEST(Add, SumsTwoNumbers)
{
    Bytes out(4);
    const auto r = call(IOCTL_@UPPER@_ADD, u32s({2, 40}), out);
    ASSERT_EQ(kmd::status::success, r.status);
    EXPECT_EQ(4u, r.information);
    EXPECT_EQ(u32s({42}), out);
}

TEST(Add, ChecksLengths)
{
    Bytes out(4), small(3);
    EXPECT_EQ(kmd::status::invalid_parameter, call(IOCTL_@UPPER@_ADD, u32s({2}), out).status);
    EXPECT_EQ(kmd::status::buffer_too_small, call(IOCTL_@UPPER@_ADD, u32s({2, 40}), small).status);
}

TEST(CheckSum, ReadsTheDataAndNeverWritesIt)
{
    Bytes data = {1, 2, 3, 250};
    const Bytes before = data;
    EXPECT_EQ(kmd::status::success, call(IOCTL_@UPPER@_CHECK_SUM, u32s({256}), data).status);
    EXPECT_EQ(kmd::status::crc_error, call(IOCTL_@UPPER@_CHECK_SUM, u32s({255}), data).status);
    EXPECT_EQ(before, data);
}

TEST(Fill, WritesEveryByte)
{
    Bytes out(100, 0);
    const auto r = call(IOCTL_@UPPER@_FILL, u32s({0x7F}), out);
    ASSERT_EQ(kmd::status::success, r.status);
    EXPECT_EQ(100u, r.information);
    EXPECT_EQ(Bytes(100, 0x7F), out);
}

TEST(Version, AnswersItsNumber)
{
    Bytes out(4);
    ASSERT_EQ(kmd::status::success, call(IOCTL_@UPPER@_VERSION, {}, out).status);
    EXPECT_EQ(u32s({@UPPER@_VERSION_NUMBER}), out);
}

TEST(Table, UnknownCodesAreNotImplemented)
{
    Bytes out(8);
    EXPECT_EQ(kmd::status::not_implemented, call(0x00222FFF, {}, out).status);
}

} // namespace
