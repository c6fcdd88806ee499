// core_tests.cpp - the driver's request core (driver/core), natively: every IOCTL, every length
// rule, including the cases Wine never lets reach the driver (NULL output with a length).
#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/requests.hpp"

namespace core = skeleton::core;

namespace {

using Bytes = std::vector<unsigned char>;

core::Result call(uint32_t code, const Bytes& in, Bytes& out)
{
    return core::handle_device_control(code, {in.empty() ? nullptr : in.data(), in.size()}, {out.empty() ? nullptr : out.data(), out.size()});
}

TEST(Core, GreetingIsNulTerminatedAscii)
{
    const std::string g = core::greeting();
    EXPECT_EQ(g.size() + 1, core::greeting_size());
    for (char c : g) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}

TEST(Core, SayHelloWritesTheWholeGreetingOrNothing)
{
    Bytes out(core::greeting_size(), 0xCC);
    auto r = call(IOCTL_SKELETON_SAY_HELLO, {}, out);
    EXPECT_EQ(core::status::success, r.status);
    EXPECT_EQ(core::greeting_size(), r.information);
    EXPECT_STREQ(core::greeting(), reinterpret_cast<const char*>(out.data()));

    Bytes small(core::greeting_size() - 1, 0xCC);
    r = call(IOCTL_SKELETON_SAY_HELLO, {}, small);
    EXPECT_EQ(core::status::buffer_too_small, r.status);
    EXPECT_EQ(0u, r.information);
    EXPECT_EQ(Bytes(small.size(), 0xCC), small);
}

TEST(Core, SayHelloWithNullOutputIsBufferTooSmall)
{
    // What a METHOD_NEITHER caller gets for a NULL UserBuffer with a length (the glue passes an
    // empty output) and for a NULL pointer with a length reaching the core directly.
    auto r = core::handle_device_control(IOCTL_SKELETON_SAY_HELLO, {nullptr, 0}, {nullptr, 0});
    EXPECT_EQ(core::status::buffer_too_small, r.status);
    r = core::handle_device_control(IOCTL_SKELETON_SAY_HELLO, {nullptr, 0}, {nullptr, 4096});
    EXPECT_EQ(core::status::buffer_too_small, r.status);
    EXPECT_EQ(0u, r.information);
}

TEST(Core, UnknownCodesAreNotImplemented)
{
    Bytes out(16);
    for (uint32_t code : {0u, 1u, 0x222003u, 0x222004u, 0x00222008u, 0xFFFFFFFFu}) {
        if (core::find_request(code) != nullptr) continue;
        auto r = call(code, {}, out);
        EXPECT_EQ(core::status::not_implemented, r.status) << std::hex << code;
        EXPECT_EQ(0u, r.information);
    }
}

TEST(Core, TableHasOneRowPerContractCodeAndEveryMethod)
{
    const uint32_t codes[] = {IOCTL_SKELETON_SAY_HELLO, IOCTL_SKELETON_REVERSE_BUFFERED, IOCTL_SKELETON_VERIFY_IN_DIRECT,
                              IOCTL_SKELETON_FILL_OUT_DIRECT, IOCTL_SKELETON_ECHO_NEITHER};
    EXPECT_EQ(std::size(codes), static_cast<size_t>(core::requests_end() - core::requests_begin()));
    bool method_seen[4] = {};
    for (uint32_t c : codes) {
        ASSERT_NE(nullptr, core::find_request(c));
        EXPECT_GE(skeleton::IoctlCode::decode(c).function, 0x800u) << "customer range";
        method_seen[c & 3] = true;
    }
    for (bool seen : method_seen) EXPECT_TRUE(seen);
}

TEST(Core, ReverseWorksInPlaceAsMethodBufferedRequires)
{
    Bytes buffer = {'a', 'b', 'c', 'd', 'e', 0, 0};
    auto r = core::handle_device_control(IOCTL_SKELETON_REVERSE_BUFFERED, {buffer.data(), 5}, {buffer.data(), buffer.size()});
    EXPECT_EQ(core::status::success, r.status);
    EXPECT_EQ(5u, r.information);
    EXPECT_EQ((Bytes{'e', 'd', 'c', 'b', 'a', 0, 0}), buffer);
}

TEST(Core, ReverseAndEchoLengthRules)
{
    for (uint32_t code : {IOCTL_SKELETON_REVERSE_BUFFERED, IOCTL_SKELETON_ECHO_NEITHER}) {
        Bytes in(10, 1), out(9), empty;
        EXPECT_EQ(core::status::buffer_too_small, call(code, in, out).status);
        Bytes big(SKELETON_MAX_TRANSFER + 1), big_out(big.size());
        EXPECT_EQ(core::status::invalid_parameter, call(code, big, big_out).status);
        auto r = call(code, empty, empty);
        EXPECT_EQ(core::status::success, r.status);
        EXPECT_EQ(0u, r.information);
        // A length without a pointer is refused, never dereferenced.
        EXPECT_EQ(core::status::invalid_parameter, core::handle_device_control(code, {nullptr, 4}, {out.data(), out.size()}).status);
        EXPECT_EQ(core::status::buffer_too_small, core::handle_device_control(code, {in.data(), 4}, {nullptr, 4}).status);
    }
}

TEST(Core, Crc32MatchesTheStandardCheckValue)
{
    const char* check = "123456789";
    EXPECT_EQ(0xCBF43926u, core::crc32(reinterpret_cast<const unsigned char*>(check), 9));
    EXPECT_EQ(0u, core::crc32(nullptr, 0));
}

TEST(Core, VerifyInDirect)
{
    Bytes data(1000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 31);
    skeleton_verify_request request{core::crc32(data.data(), data.size())};
    Bytes in(sizeof request);
    std::memcpy(in.data(), &request, sizeof request);
    auto r = call(IOCTL_SKELETON_VERIFY_IN_DIRECT, in, data);
    EXPECT_EQ(core::status::success, r.status);
    EXPECT_EQ(data.size(), r.information);
    data[0] ^= 0x80;
    EXPECT_EQ(core::status::crc_error, call(IOCTL_SKELETON_VERIFY_IN_DIRECT, in, data).status);
    Bytes short_in(sizeof request - 1), none;
    EXPECT_EQ(core::status::invalid_parameter, call(IOCTL_SKELETON_VERIFY_IN_DIRECT, short_in, data).status);
    EXPECT_EQ(core::status::invalid_parameter, call(IOCTL_SKELETON_VERIFY_IN_DIRECT, in, none).status);
}

TEST(Core, FillOutDirectWritesEveryByte)
{
    skeleton_fill_request request{0x1234};
    Bytes in(sizeof request);
    std::memcpy(in.data(), &request, sizeof request);
    Bytes out(70000, 0);
    auto r = call(IOCTL_SKELETON_FILL_OUT_DIRECT, in, out);
    EXPECT_EQ(core::status::success, r.status);
    EXPECT_EQ(out.size(), r.information);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(skeleton_pattern_byte(0x1234, static_cast<unsigned long>(i)), out[i]) << i;
    Bytes none;
    EXPECT_EQ(core::status::invalid_parameter, call(IOCTL_SKELETON_FILL_OUT_DIRECT, none, out).status);
    EXPECT_EQ(core::status::invalid_parameter, call(IOCTL_SKELETON_FILL_OUT_DIRECT, in, none).status);
}

TEST(Core, PatternDependsOnSeedAndPosition)
{
    int same_as_next = 0, same_other_seed = 0;
    for (unsigned long i = 0; i < 4096; ++i) {
        same_as_next += skeleton_pattern_byte(5, i) == skeleton_pattern_byte(5, i + 1);
        same_other_seed += skeleton_pattern_byte(5, i) == skeleton_pattern_byte(6, i);
    }
    EXPECT_LT(same_as_next, 64); // ~16 expected by chance
    EXPECT_LT(same_other_seed, 64);
}

} // namespace
