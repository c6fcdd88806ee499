// error_hints.cpp - see error_hints.hpp. The numbers are winerror.h's, written out so that this
// file needs no Windows header and builds on the host for its tests.
#include "error_hints.hpp"

#include <cstring>

namespace kmd {

Step step_of_call(const char* call)
{
    const auto starts = [call](const char* prefix) { return std::strncmp(call, prefix, std::strlen(prefix)) == 0; };
    if (starts("OpenSCManager")) return Step::ServiceManager;
    if (starts("CreateService")) return Step::CreateService;
    if (starts("OpenService")) return Step::OpenService;
    if (starts("StartService")) return Step::StartService;
    if (starts("ControlService")) return Step::StopService;
    if (starts("CreateFile")) return Step::OpenDevice;
    return Step::Other;
}

const char* error_hint(uint32_t error, Step step)
{
    switch (error) {
    case 2: // ERROR_FILE_NOT_FOUND
    case 3: // ERROR_PATH_NOT_FOUND
        if (step == Step::StartService)
            return "the service's image path names a file that is not there (moved, or built elsewhere): "
                   "'kmdctl install <file.sys> --force' points the service at the file you have";
        if (step == Step::OpenDevice)
            return "no such device: is the driver started ('kmdctl status'), and is the name the one its DriverEntry "
                   "links (\\DosDevices\\NAME is opened as \\\\.\\NAME)?";
        return "check the path: a relative path is taken from the current directory; give the full path (under Wine a "
               "Linux path works too, as Z:\\...)";
    case 5: // ERROR_ACCESS_DENIED
        if (step == Step::OpenDevice)
            return "the device's security refuses this caller: the kit's drivers admit only SYSTEM and Administrators "
                   "(run from an elevated prompt)";
        return "loading a driver needs an Administrator: run from an elevated command prompt (Run as administrator)";
    case 193: // ERROR_BAD_EXE_FORMAT
        return "not a driver image: a driver is a PE file with the native subsystem (a .sys built as a kernel driver), "
               "not a program, a DLL or another kind of file";
    case 216: // ERROR_EXE_MACHINE_TYPE_MISMATCH
        return "an image for the other architecture: 64-bit Windows loads x64 drivers only (build/bin/), 32-bit "
               "Windows x86 drivers only (build/bin/x86/), with the kmdctl.exe of the same architecture";
    case 577: // ERROR_INVALID_IMAGE_HASH
        return "Windows refused the driver's signature: a test-signed driver loads only with test signing on "
               "('bcdedit /set testsigning on', reboot, Secure Boot off) and its certificate trusted (docs/windows.md, "
               "'Test signing'); a driver for other people's machines needs a real signature";
    case 1058: // ERROR_SERVICE_DISABLED
        return "the service's start type is 'disabled': 'kmdctl install <file.sys> --start demand --force' makes it "
               "startable";
    case 1060: // ERROR_SERVICE_DOES_NOT_EXIST
        return "no service of that name: install it first ('kmdctl install <file.sys>'), or see the names with "
               "'kmdctl list'";
    case 1072: // ERROR_SERVICE_MARKED_FOR_DELETE
        return "the service is marked for deletion and goes once every handle to it is closed: close other "
               "programs that have it open (another kmdctl, sc.exe, services.msc), then try again";
    case 1073: // ERROR_SERVICE_EXISTS
        return "a service of that name exists already: 'kmdctl run' uses it as it is, 'kmdctl install --force' points "
               "it at this image, or choose another name with --name";
    case 1275: // ERROR_DRIVER_BLOCKED
        return "Windows blocked this driver by policy: the vulnerable-driver blocklist, memory integrity (HVCI: the "
               "image must follow its rules, 'pe_lint.py' checks them), or an image of the wrong architecture";
    default: return nullptr;
    }
}

bool kernel_filters_debug_print(bool under_wine, uint32_t nt_major_version) { return !under_wine && nt_major_version >= 6; }

const char* debug_print_hint(bool kernel_filters, bool ihvdriver_mask_present)
{
    if (!kernel_filters || ihvdriver_mask_present) return nullptr;
    return "the driver's DbgPrintEx lines (DPFLTR_IHVDRIVER_ID, INFO level) are filtered out by Windows Vista and later "
           "unless the Debug Print Filter lets them through: reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session "
           "Manager\\Debug Print Filter\" /v IHVDRIVER /t REG_DWORD /d 0xf, reboot, and watch with a kernel debugger "
           "or DebugView (every line must end with \\n)";
}

} // namespace kmd
