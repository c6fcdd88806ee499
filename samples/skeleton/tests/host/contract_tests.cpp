// contract_tests.cpp - skeleton/ioctl.h: the codes are what the seed and the documentation say.
#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

namespace {

TEST(Contract, SayHelloIsTheSeedsCode)
{
    EXPECT_EQ(0x00222007ul, IOCTL_SKELETON_SAY_HELLO);
    const auto c = skeleton::IoctlCode::decode(IOCTL_SKELETON_SAY_HELLO);
    EXPECT_EQ(0x22u, c.device_type);
    EXPECT_EQ(0x801u, c.function);
    EXPECT_EQ(skeleton::TransferMethod::Neither, c.method);
    EXPECT_EQ(0u, c.access);
    EXPECT_TRUE(c.is_custom_function());
    EXPECT_FALSE(c.is_custom_device());
}

TEST(Contract, EncodeDecodeRoundTripsEveryFieldCombination)
{
    for (unsigned dev : {0u, 0x22u, 0x8000u, 0xFFFFu})
        for (unsigned fn : {0u, 0x7FFu, 0x800u, 0xFFFu})
            for (unsigned m = 0; m < 4; ++m)
                for (unsigned acc = 0; acc < 4; ++acc) {
                    const skeleton::IoctlCode c{dev, acc, fn, static_cast<skeleton::TransferMethod>(m)};
                    ASSERT_TRUE(c.fits());
                    const auto d = skeleton::IoctlCode::decode(c.value());
                    EXPECT_EQ(dev, d.device_type);
                    EXPECT_EQ(fn, d.function);
                    EXPECT_EQ(m, static_cast<unsigned>(d.method));
                    EXPECT_EQ(acc, d.access);
                }
}

TEST(Contract, KnownValuesFromTheDocumentation)
{
    // IOCTL_DISK_GET_DRIVE_GEOMETRY = CTL_CODE(FILE_DEVICE_DISK, 0, METHOD_BUFFERED, FILE_ANY_ACCESS)
    EXPECT_EQ(0x00070000ul, (skeleton::IoctlCode{0x07, 0, 0, skeleton::TransferMethod::Buffered}.value()));
    // FSCTL_GET_RETRIEVAL_POINTERS = CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 28, METHOD_NEITHER, FILE_ANY_ACCESS)
    EXPECT_EQ(0x00090073ul, (skeleton::IoctlCode{0x09, 0, 28, skeleton::TransferMethod::Neither}.value()));
}

TEST(Contract, NamesAreTheSeeds)
{
    EXPECT_EQ(std::wstring(L"\\Device\\skeleton"), SKELETON_DEVICE_NAME_W);
    EXPECT_EQ(std::wstring(L"\\DosDevices\\skeleton"), SKELETON_DOS_DEVICE_NAME_W);
    EXPECT_EQ(std::wstring(L"\\\\.\\skeleton"), SKELETON_WIN32_DEVICE_PATH_W);
    EXPECT_EQ(std::wstring(L"skeleton"), SKELETON_SERVICE_NAME_W);
}

} // namespace
