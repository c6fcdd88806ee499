// kernel_raii_tests.cpp - the kit's kernel owners (kit/driver/kmd/kernel_raii.hpp), natively,
// against the counting fake in fake_nt/: every object they take is given back exactly once,
// including when create()/allocate()/out() is called on an owner that already holds one.
#include <gtest/gtest.h>

#include <kmd/kernel_raii.hpp>

namespace {

struct FakeKernel : ::testing::Test {
    void TearDown() override
    {
        EXPECT_EQ(0, fake_nt::devices);
        EXPECT_EQ(0, fake_nt::links);
        EXPECT_EQ(0, fake_nt::handles);
        EXPECT_EQ(0, fake_nt::pool_blocks);
    }
};

UNICODE_STRING g_name = kmd::literal_ustring(L"\\Device\\x");
UNICODE_STRING g_link = kmd::literal_ustring(L"\\DosDevices\\x");

TEST_F(FakeKernel, LiteralUstringCountsBytesAndTheNul)
{
    EXPECT_EQ(9 * sizeof(wchar_t), g_name.Length);
    EXPECT_EQ(10 * sizeof(wchar_t), g_name.MaximumLength);
}

TEST_F(FakeKernel, DeviceOwnerDeletesUnlessReleased)
{
    {
        kmd::DeviceObjectOwner d;
        ASSERT_TRUE(NT_SUCCESS(d.create(nullptr, &g_name, 0, 0)));
        EXPECT_EQ(1, fake_nt::devices);
    }
    EXPECT_EQ(0, fake_nt::devices);
    kmd::DeviceObjectOwner kept;
    ASSERT_TRUE(NT_SUCCESS(kept.create(nullptr, &g_name, 0, 0)));
    PDEVICE_OBJECT raw = kept.release();
    EXPECT_NE(nullptr, raw);
    EXPECT_EQ(1, fake_nt::devices);
    IoDeleteDevice(raw);
}

TEST_F(FakeKernel, CreatingTwiceDoesNotLeakTheFirstObject)
{
    kmd::DeviceObjectOwner d;
    ASSERT_TRUE(NT_SUCCESS(d.create(nullptr, &g_name, 0, 0)));
    ASSERT_TRUE(NT_SUCCESS(d.create(nullptr, &g_name, 0, 0)));
    EXPECT_EQ(1, fake_nt::devices);
    kmd::SymbolicLinkOwner l;
    ASSERT_TRUE(NT_SUCCESS(l.create(&g_link, &g_name)));
    ASSERT_TRUE(NT_SUCCESS(l.create(&g_link, &g_name)));
    EXPECT_EQ(1, fake_nt::links);
}

TEST_F(FakeKernel, KernelHandleClosesAHandleStillHeldBeforeLendingTheSlot)
{
    kmd::KernelHandle h;
    *h.out() = reinterpret_cast<HANDLE>(0x10);
    ++fake_nt::handles; // the "kernel" opened it
    *h.out() = reinterpret_cast<HANDLE>(0x20);
    ++fake_nt::handles;
    EXPECT_EQ(1, fake_nt::handles);
}

TEST_F(FakeKernel, PoolBufferAllocatingTwiceFreesTheFirstBlock)
{
    kmd::PoolBuffer b;
    ASSERT_TRUE(b.allocate(64));
    ASSERT_TRUE(b.allocate(128));
    EXPECT_EQ(1, fake_nt::pool_blocks);
    EXPECT_EQ(128u, b.size());
    for (SIZE_T i = 0; i < b.size(); ++i) ASSERT_EQ(0, b.data()[i]) << "pool is handed out zeroed";
    ASSERT_TRUE(b.allocate(0));
    EXPECT_EQ(0, fake_nt::pool_blocks);
    EXPECT_EQ(nullptr, b.data());
}

} // namespace
