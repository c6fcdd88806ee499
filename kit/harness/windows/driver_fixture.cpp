#include "driver_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "device.hpp"
#include "nt5_compat.hpp"
#include "scm.hpp"

namespace kmd::test {
namespace {

// Installs and starts one driver for the whole run; stops and deletes it afterwards.
class DriverEnvironment : public ::testing::Environment {
public:
    DriverEnvironment(std::wstring service, std::wstring path) : service_(std::move(service)), path_(std::move(path)) {}

    void SetUp() override
    {
        ASSERT_FALSE(kmd::open_scm(scm_)) << "OpenSCManager";
        // One load order group: under Wine, drivers of one group share a host process, which is
        // what lets a test driver call the driver under test directly.
        Failure f = kmd::create_kernel_service(scm_.get(), service_, service_, path_, SERVICE_DEMAND_START, service_handle_,
                                               L"kmd-tests");
        ASSERT_FALSE(f) << f.describe();
        f = kmd::start_service(service_handle_.get());
        ASSERT_FALSE(f) << f.describe();
    }
    void TearDown() override
    {
        if (!service_handle_) return;
        DWORD state = 0;
        Failure f = kmd::stop_service(service_handle_.get(), 15000, state);
        EXPECT_FALSE(f) << kmd::narrow(service_) << ": " << f.describe();
        EXPECT_EQ(static_cast<DWORD>(SERVICE_STOPPED), state) << kmd::narrow(service_);
        f = kmd::delete_service(service_handle_.get());
        EXPECT_FALSE(f) << kmd::narrow(service_) << ": " << f.describe();
    }

private:
    using Failure = kmd::Failure;
    std::wstring service_, path_;
    kmd::ScHandle scm_, service_handle_;
};

struct EndCheck {
    const char* name;
    void (*check)();
};

std::vector<EndCheck>& end_checks()
{
    static std::vector<EndCheck> checks; // function-local: safe whatever the order of static initialisation
    return checks;
}

// Registered after the drivers' environments, so torn down before them: the drivers are loaded.
class EndChecks : public ::testing::Environment {
public:
    void TearDown() override
    {
        for (const EndCheck& c : end_checks()) {
            SCOPED_TRACE(c.name);
            c.check();
        }
    }
};

// Registers one environment per "service=path" in KMD_DRIVERS. GoogleTest sets environments up in
// registration order and tears them down in reverse: list a driver before the drivers that use it.
bool register_drivers()
{
    const char* list = std::getenv("KMD_DRIVERS");
    if (list == nullptr || *list == '\0') {
        std::fprintf(stderr, "driver_fixture: KMD_DRIVERS is not set; no driver is loaded\n");
        return false;
    }
    const std::wstring all = kmd::widen(list);
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find(L';', start);
        if (end == std::wstring::npos) end = all.size();
        const std::wstring item = all.substr(start, end - start);
        const size_t eq = item.find(L'=');
        if (eq != std::wstring::npos && eq > 0)
            ::testing::AddGlobalTestEnvironment(new DriverEnvironment(item.substr(0, eq), item.substr(eq + 1)));
        start = end + 1;
    }
    ::testing::AddGlobalTestEnvironment(new EndChecks);
    return true;
}

const bool g_registered = register_drivers();

} // namespace

void at_end(const char* name, void (*check)()) { end_checks().push_back({name, check}); }

Kernel kernel()
{
    static const Kernel k = [] {
        if (kmd::running_under_wine()) return Kernel::Wine;
        const std::wstring product = kmd::read_registry_string(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", L"ProductName");
        return product.find(L"ReactOS") != std::wstring::npos ? Kernel::ReactOS : Kernel::Windows;
    }();
    return k;
}

const char* kernel_name(Kernel k)
{
    switch (k) {
    case Kernel::Wine: return "Wine";
    case Kernel::ReactOS: return "ReactOS";
    case Kernel::Windows: return "Windows";
    }
    return "?";
}

kmd::FileHandle open_device(const wchar_t* win32_path)
{
    kmd::FileHandle device;
    kmd::Failure f = kmd::open_device(win32_path, device);
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

} // namespace kmd::test
