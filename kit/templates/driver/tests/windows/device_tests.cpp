// device_tests.cpp - @NAME@.sys loaded for real (under Wine, or on a Windows test machine), every
// IOCTL through the I/O manager. The kit's fixture loads the driver before the first test.
#include <windows.h>
#include <winioctl.h>

#include <gtest/gtest.h>
#include <@NAME@/ioctl.h>

#include <cstring>
#include <vector>

#include "driver_fixture.hpp"

namespace {

using kmd::test::ioctl_error;

kmd::FileHandle open_driver() { return kmd::test::open_device(@UPPER@_WIN32_DEVICE_PATH_W); }

TEST(Contract, CodesAgreeWithCtlCode)
{
    EXPECT_EQ(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS), IOCTL_@UPPER@_ADD);
    EXPECT_EQ(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_IN_DIRECT, FILE_WRITE_DATA), IOCTL_@UPPER@_CHECK_SUM);
    EXPECT_EQ(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_OUT_DIRECT, FILE_READ_DATA), IOCTL_@UPPER@_FILL);
    EXPECT_EQ(CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_NEITHER, FILE_ANY_ACCESS), IOCTL_@UPPER@_VERSION);
}

TEST(Device, AddThroughTheSystemBuffer)
{
    auto device = open_driver();
    const uint32_t in[2] = {2, 40};
    uint32_t out = 0;
    DWORD returned = 0;
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_@UPPER@_ADD, in, sizeof in, &out, sizeof out, &returned));
    EXPECT_EQ(42u, out);
    EXPECT_EQ(4u, returned);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER), ioctl_error(device.get(), IOCTL_@UPPER@_ADD, in, 4, &out, sizeof out));
}

TEST(Device, CheckSumReadsTheCallersBufferInPlace)
{
    auto device = open_driver();
    std::vector<unsigned char> data(4096, 3);
    const uint32_t good = 3 * 4096, bad = good + 1;
    EXPECT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
              ioctl_error(device.get(), IOCTL_@UPPER@_CHECK_SUM, &good, sizeof good, data.data(), static_cast<DWORD>(data.size())));
    EXPECT_EQ(static_cast<DWORD>(ERROR_CRC),
              ioctl_error(device.get(), IOCTL_@UPPER@_CHECK_SUM, &bad, sizeof bad, data.data(), static_cast<DWORD>(data.size())));
}

TEST(Device, FillWritesTheCallersBufferInPlace)
{
    auto device = open_driver();
    const uint32_t value = 0x5A;
    std::vector<unsigned char> out(65536, 0);
    DWORD returned = 0;
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_@UPPER@_FILL, &value, sizeof value, out.data(),
                                                             static_cast<DWORD>(out.size()), &returned));
    EXPECT_EQ(out.size(), returned);
    EXPECT_EQ(std::vector<unsigned char>(out.size(), 0x5A), out);
}

TEST(Device, VersionThroughRawUserBuffers)
{
    auto device = open_driver();
    uint32_t version = 0;
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_@UPPER@_VERSION, nullptr, 0, &version, sizeof version));
    EXPECT_EQ(@UPPER@_VERSION_NUMBER, version);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER), ioctl_error(device.get(), IOCTL_@UPPER@_VERSION, nullptr, 0, &version, 2));
}

TEST(Device, UnknownCodesAreInvalidFunction)
{
    auto device = open_driver();
    char buffer[16] = {};
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), ioctl_error(device.get(), 0x00222FFF, buffer, sizeof buffer, buffer, sizeof buffer));
}

} // namespace
