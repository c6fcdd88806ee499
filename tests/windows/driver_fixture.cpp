#include "driver_fixture.hpp"

#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cstdlib>

#include "device.hpp"
#include "scm.hpp"

namespace skeleton::test {
namespace {

// Installs and starts the driver before the first test; stops and deletes it after the last.
class DriverEnvironment : public ::testing::Environment {
public:
    void SetUp() override
    {
        ASSERT_FALSE(driver_path().empty()) << "set SKELETON_DRIVER to the Windows path of skeleton.sys";
        ASSERT_FALSE(kmd::open_scm(scm_)) << "OpenSCManager";
        Failure f = kmd::create_kernel_service(scm_.get(), SKELETON_SERVICE_NAME_W, SKELETON_SERVICE_NAME_W, driver_path(),
                                               SERVICE_DEMAND_START, service_);
        ASSERT_FALSE(f) << f.describe();
        f = kmd::start_service(service_.get());
        ASSERT_FALSE(f) << f.describe();
    }
    void TearDown() override
    {
        if (!service_) return;
        DWORD state = 0;
        Failure f = kmd::stop_service(service_.get(), 15000, state);
        EXPECT_FALSE(f) << f.describe();
        EXPECT_EQ(static_cast<DWORD>(SERVICE_STOPPED), state);
        f = kmd::delete_service(service_.get());
        EXPECT_FALSE(f) << f.describe();
    }

private:
    using Failure = kmd::Failure;
    kmd::ScHandle scm_, service_;
};

const auto* const g_environment = ::testing::AddGlobalTestEnvironment(new DriverEnvironment);

} // namespace

std::wstring driver_path()
{
    const char* path = std::getenv("SKELETON_DRIVER");
    return path != nullptr ? kmd::widen(path) : std::wstring();
}

kmd::FileHandle open_skeleton()
{
    kmd::FileHandle device;
    kmd::Failure f = kmd::open_device(SKELETON_WIN32_DEVICE_PATH_W, device);
    EXPECT_FALSE(f) << f.describe();
    return device;
}

DWORD ioctl_error(HANDLE device, DWORD code, const void* in, DWORD in_len, void* out, DWORD out_len, DWORD* returned)
{
    DWORD bytes = 0xDEADBEEF;
    SetLastError(ERROR_SUCCESS);
    const BOOL ok = DeviceIoControl(device, code, const_cast<void*>(in), in_len, out, out_len, &bytes, nullptr);
    if (returned != nullptr) *returned = bytes;
    return ok ? ERROR_SUCCESS : GetLastError();
}

} // namespace skeleton::test
