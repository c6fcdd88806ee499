// kmd/kernel_features.hpp against a fake kernel whose version each test sets: the MDL mapping
// flags and the pool type follow the running kernel, on every architecture.
#include <gtest/gtest.h>

#include <kmd/kernel_features.hpp>

namespace {

void run_on(ULONG major, ULONG minor)
{
    fake_nt::major = major;
    fake_nt::minor = minor;
    fake_nt::log.clear();
    kmd::forget_kernel_version();
}

constexpr ULONG kNormal = NormalPagePriority;

TEST(KernelFeatures, Windows7MapsWithNeitherNoWriteNorNoExecute)
{
    run_on(6, 1); // both flags exist only from Windows 8: an older kernel must not see them
    EXPECT_EQ(kNormal, static_cast<ULONG>(kmd::mdl_mapping_priority(true)));
    EXPECT_EQ(kNormal, static_cast<ULONG>(kmd::mdl_mapping_priority(false)));
    EXPECT_EQ(NonPagedPool, kmd::nonpaged_pool());
}

TEST(KernelFeatures, WindowsXpMapsWithNeitherFlag)
{
    run_on(5, 1);
    EXPECT_EQ(kNormal, static_cast<ULONG>(kmd::mdl_mapping_priority(true)));
    EXPECT_EQ(NonPagedPool, kmd::nonpaged_pool());
}

TEST(KernelFeatures, Windows8MapsReadOnlyBuffersNoWriteAndEverythingNoExecute)
{
    run_on(6, 2);
    EXPECT_EQ(kNormal | MdlMappingNoExecute | MdlMappingNoWrite, static_cast<ULONG>(kmd::mdl_mapping_priority(true)));
    EXPECT_EQ(kNormal | MdlMappingNoExecute, static_cast<ULONG>(kmd::mdl_mapping_priority(false)));
    EXPECT_EQ(NonPagedPoolNx, kmd::nonpaged_pool());
}

TEST(KernelFeatures, Windows10IsWindows8OrLater)
{
    run_on(10, 0);
    EXPECT_EQ(kNormal | MdlMappingNoExecute | MdlMappingNoWrite, static_cast<ULONG>(kmd::mdl_mapping_priority(true)));
}

TEST(KernelFeatures, TheVersionIsAskedOnce)
{
    run_on(10, 0);
    const int before = fake_nt::version_calls;
    kmd::mdl_mapping_priority(true);
    kmd::nonpaged_pool();
    kmd::mdl_mapping_priority(false);
    EXPECT_EQ(before + 1, fake_nt::version_calls);
}

} // namespace

namespace {

// The host is 64-bit: require_supported_kernel takes the x64 image's rule (Windows 8 or later).
TEST(KernelFeatures, AnX64ImageRefusesWindows7WithTheReasonLogged)
{
    static_assert(sizeof(void*) == 8);
    run_on(6, 1);
    EXPECT_EQ(STATUS_NOT_SUPPORTED, kmd::require_supported_kernel());
    EXPECT_NE(std::string::npos, fake_nt::log.find("refused: this x64 image needs Windows 8 (NT 6.2) or later; the kernel is NT 6.1"))
        << fake_nt::log;
}

TEST(KernelFeatures, AnX64ImageAcceptsWindows8AndLaterSilently)
{
    for (auto [major, minor] : {std::pair{6u, 2u}, {6u, 3u}, {10u, 0u}}) {
        run_on(major, minor);
        EXPECT_EQ(STATUS_SUCCESS, kmd::require_supported_kernel()) << major << "." << minor;
        EXPECT_EQ("", fake_nt::log);
    }
}

} // namespace
