// Talking to a device: hello (the contract's greeting), ioctl (any request), sweep (which codes
// a device answers, then seeded buffers to each).
#include "verbs.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "contract.hpp"
#include "device.hpp"
#include "host_health.hpp"
#include "request.hpp"

namespace kmdctl {

int cmd_hello(const Args& a)
{
    int rc = kExitOk;
    std::wstring path;
    if (!device_path("hello", a, path, rc)) return rc;
    Request r;
    if (rc = hello_request("hello", a, r); rc != kExitOk) return rc;
    kmd::FileHandle device;
    if (Failure f = kmd::open_device(path, device)) {
        kmd::report_dead_driver_hosts(stderr, path); // a dead host's device no longer opens
        return report("hello", f);
    }
    std::vector<unsigned char> out(r.out_size);
    if (Failure f = kmd::device_io_control(device.get(), r.code, {}, out)) {
        kmd::report_dead_driver_hosts(stderr, path);
        return report("hello", f);
    }
    std::string greeting(out.begin(), out.end());
    while (!greeting.empty() && greeting.back() == '\0') greeting.pop_back();
    std::printf("%s\n", greeting.c_str());
    std::fflush(stdout);
    if (a.has("--gui")) MessageBoxW(nullptr, kmd::widen(greeting).c_str(), L"kmdctl hello", MB_OK | MB_ICONINFORMATION);
    return kExitOk;
}

int cmd_ioctl(const Args& a)
{
    int rc = kExitOk;
    std::wstring path;
    Request r;
    if (rc = resolve_code("ioctl", a, a.positional[0], r); rc != kExitOk) return rc;
    if (rc = request_buffers("ioctl", a, r); rc != kExitOk) return rc;
    if (!device_path("ioctl", a, path, rc)) return rc;
    kmd::FileHandle device;
    if (Failure f = kmd::open_device(path, device)) {
        kmd::report_dead_driver_hosts(stderr, path); // a dead host's device no longer opens
        return report("ioctl", f);
    }
    if (!r.code_name.empty()) std::printf("%s\n", request_label(r).c_str());
    if (Failure f = send_request(device.get(), r, "")) {
        std::fflush(stdout);
        kmd::report_dead_driver_hosts(stderr, path);
        return failed_exit(f.error);
    }
    return kExitOk;
}

// Finds the IOCTL codes a device answers: every function of --functions (default the customer
// range 0x800-0xfff) x the four methods x the four access values, for the device type --type
// (default FILE_DEVICE_UNKNOWN), sent with no buffers; a code answered with anything but "invalid
// function" (STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_IMPLEMENTED) or "not supported" is live.
// Each live code is then sent a seeded set of buffers: input and output of 0, 16, 4096 and 1 MiB
// bytes (the input filled from --seed). One line per live code and per call; a dead host ends it.
int cmd_sweep(const Args& a)
{
    const std::wstring path = kmd::widen(a.positional[0]);
    const auto type = kmd::parse_u32(a.get("--type", "0x22"));
    const std::string range = a.get("--functions", "0x800-0xfff");
    const size_t dash = range.find('-');
    const auto first = kmd::parse_u32(range.substr(0, dash));
    const auto last = dash == std::string::npos ? first : kmd::parse_u32(range.substr(dash + 1));
    const auto seed = kmd::parse_u32(a.get("--seed", "1"));
    if (!type || *type > 0xffff) return usage_error("sweep", "--type takes a device type, 0-0xffff");
    if (!first || !last || *first > *last || *last > 0xfff) return usage_error("sweep", "--functions takes A-B, within 0-0xfff");
    if (!seed) return usage_error("sweep", "--seed takes a number");
    kmd::FileHandle device;
    if (Failure f = kmd::open_device(path, device)) {
        kmd::report_dead_driver_hosts(stderr, path);
        return report("sweep", f);
    }
    std::vector<uint32_t> live;
    unsigned long sent = 0;
    for (uint32_t function = *first; function <= *last; ++function)
        for (uint32_t method = 0; method < 4; ++method)
            for (uint32_t access = 0; access < 4; ++access) {
                const uint32_t code = (*type << 16) | (access << 14) | (function << 2) | method;
                DWORD returned = 0;
                ++sent;
                const DWORD error = DeviceIoControl(device.get(), code, nullptr, 0, nullptr, 0, &returned, nullptr) ? 0 : GetLastError();
                if (error == ERROR_INVALID_FUNCTION || error == ERROR_NOT_SUPPORTED) continue;
                std::printf("live 0x%08lx error=%lu\n", static_cast<unsigned long>(code), static_cast<unsigned long>(error));
                live.push_back(code);
                if (error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
                    std::printf("host died at 0x%08lx (no buffers)\n", static_cast<unsigned long>(code));
                    return kExitFailed;
                }
            }
    std::printf("swept %lu codes, %zu live\n", sent, live.size());
    static const DWORD sizes[] = {0, 16, 4096, 1u << 20};
    std::vector<unsigned char> in(1u << 20), out(1u << 20);
    uint32_t state = *seed;
    for (unsigned char& b : in) b = static_cast<unsigned char>((state = state * 1103515245u + 12345u) >> 24);
    for (const uint32_t code : live)
        for (const DWORD in_size : sizes)
            for (const DWORD out_size : sizes) {
                DWORD returned = 0;
                const DWORD error = DeviceIoControl(device.get(), code, in_size ? in.data() : nullptr, in_size, out_size ? out.data() : nullptr,
                                                    out_size, &returned, nullptr) ? 0 : GetLastError();
                std::printf("call 0x%08lx in=%lu out=%lu error=%lu returned=%lu\n", static_cast<unsigned long>(code),
                            static_cast<unsigned long>(in_size), static_cast<unsigned long>(out_size), static_cast<unsigned long>(error),
                            static_cast<unsigned long>(returned));
                std::fflush(stdout);
                if (error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
                    std::printf("host died at 0x%08lx in=%lu out=%lu\n", static_cast<unsigned long>(code), static_cast<unsigned long>(in_size),
                                static_cast<unsigned long>(out_size));
                    return kExitFailed;
                }
            }
    return kExitOk;
}

} // namespace kmdctl
