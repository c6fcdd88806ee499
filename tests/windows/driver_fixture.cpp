#include "driver_fixture.hpp"

#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cstdlib>

#include "device.hpp"
#include "scm.hpp"

namespace skeleton::test {
namespace {

// Installs and starts one driver for the whole run; stops and deletes it afterwards.
class DriverEnvironment : public ::testing::Environment {
public:
    DriverEnvironment(const wchar_t* service, const char* path_variable) : service_name_(service), path_variable_(path_variable) {}

    void SetUp() override
    {
        const std::wstring path = path_from(path_variable_);
        ASSERT_FALSE(path.empty()) << "set " << path_variable_ << " to the Windows path of the driver";
        ASSERT_FALSE(kmd::open_scm(scm_)) << "OpenSCManager";
        // One load order group: under Wine the prober must share skeleton.sys's host process to
        // call it directly.
        Failure f = kmd::create_kernel_service(scm_.get(), service_name_, service_name_, path, SERVICE_DEMAND_START, service_,
                                               L"skeleton-tests");
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
    static std::wstring path_from(const char* variable)
    {
        const char* path = std::getenv(variable);
        return path != nullptr ? kmd::widen(path) : std::wstring();
    }
    std::wstring service_name_;
    const char* path_variable_;
    kmd::ScHandle scm_, service_;
};

// Environments set up in this order and tear down in reverse: the prober (which opens
// \Device\skeleton) goes before skeleton.sys.
const auto* const g_skeleton = ::testing::AddGlobalTestEnvironment(new DriverEnvironment(SKELETON_SERVICE_NAME_W, "SKELETON_DRIVER"));
const auto* const g_prober = ::testing::AddGlobalTestEnvironment(new DriverEnvironment(L"skeleton_prober", "SKELETON_PROBER_DRIVER"));

} // namespace

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
