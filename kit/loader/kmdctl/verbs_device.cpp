// Talking to a device: hello (the contract's greeting), ioctl (any request), sweep (which codes
// a device answers, then the exercise set to each, sweep_call.hpp).
#include "verbs.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "contract.hpp"
#include "device.hpp"
#include "host_health.hpp"
#include "request.hpp"
#include "sweep_call.hpp"

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
    if (a.has("--gui")) kmd::show_message_box(kmd::widen(greeting), L"kmdctl hello", MB_OK | MB_ICONINFORMATION);
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
// Each live code is then sent the exercise set (sweep_call.hpp): input and output of 0, 16, 4096
// and 1 MiB bytes (the input filled from --seed), buffers ending at a guard page, bad and kernel
// pointers. Requests go out overlapped: one still pending after --pend-ms (default 100) is
// cancelled and must then complete. One line per live code and per call, each call with the
// --call spec that replays it alone; a dead host or a request the driver never completes ends it.
namespace {

// "call CODE in=N out=M error=E returned=R [pended=cancelled] spec=SPEC"; false: stop the sweep.
bool sweep_one(HANDLE device, const std::wstring& path, const kmd::CallSpec& spec, DWORD pend_ms)
{
    const kmd::CallResult r = kmd::send_call(device, spec, pend_ms);
    const std::string text = kmd::call_spec_text(spec);
    std::printf("call 0x%08lx in=%lu out=%lu error=%lu returned=%lu%s spec=%s\n", static_cast<unsigned long>(spec.code),
                static_cast<unsigned long>(spec.in_size), static_cast<unsigned long>(spec.out_size), static_cast<unsigned long>(r.error),
                static_cast<unsigned long>(r.returned), r.pended ? " pended=cancelled" : "", text.c_str());
    std::fflush(stdout);
    if (r.stuck) {
        std::printf("stuck at %s (pending %lu ms, then not completed 2 s after CancelIo)\n", text.c_str(), static_cast<unsigned long>(pend_ms));
        return false;
    }
    if (r.error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
        std::printf("host died at %s\n", text.c_str());
        return false;
    }
    return true;
}

} // namespace

int cmd_sweep(const Args& a)
{
    const std::wstring path = kmd::widen(a.positional[0]);
    const auto type = kmd::parse_u32(a.get("--type", "0x22"));
    const std::string range = a.get("--functions", "0x800-0xfff");
    const size_t dash = range.find('-');
    const auto first = kmd::parse_u32(range.substr(0, dash));
    const auto last = dash == std::string::npos ? first : kmd::parse_u32(range.substr(dash + 1));
    const auto seed = kmd::parse_u32(a.get("--seed", "1"));
    const auto pend_ms = kmd::parse_u32(a.get("--pend-ms", "100"));
    const std::optional<kmd::CallSpec> only = a.has("--call") ? kmd::parse_call_spec(a.get("--call")) : std::nullopt;
    if (!type || *type > 0xffff) return usage_error("sweep", "--type takes a device type, 0-0xffff");
    if (!first || !last || *first > *last || *last > 0xfff) return usage_error("sweep", "--functions takes A-B, within 0-0xfff");
    if (!seed) return usage_error("sweep", "--seed takes a number");
    if (!pend_ms) return usage_error("sweep", "--pend-ms takes milliseconds");
    if (a.has("--call") && !only)
        return usage_error("sweep", "--call takes CODE[,in=N][,out=N][,guard|,bad-in|,bad-out|,kernel-in|,kernel-out]");
    kmd::FileHandle device(CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr));
    if (!device) {
        const DWORD error = GetLastError();
        kmd::report_dead_driver_hosts(stderr, path);
        return report("sweep", Failure{"CreateFile(" + kmd::narrow(path) + ")", error});
    }
    kmd::seed_input(*seed);
    if (only) return sweep_one(device.get(), path, *only, *pend_ms) ? kExitOk : kExitFailed;
    std::vector<uint32_t> live;
    unsigned long sent = 0;
    for (uint32_t function = *first; function <= *last; ++function)
        for (uint32_t method = 0; method < 4; ++method)
            for (uint32_t access = 0; access < 4; ++access) {
                const uint32_t code = (*type << 16) | (access << 14) | (function << 2) | method;
                ++sent;
                const kmd::CallResult r = kmd::send_call(device.get(), kmd::CallSpec{code}, *pend_ms);
                if (r.stuck) {
                    std::printf("stuck at 0x%08lx,in=0,out=0 (pending %lu ms, then not completed 2 s after CancelIo)\n",
                                static_cast<unsigned long>(code), static_cast<unsigned long>(*pend_ms));
                    return kExitFailed;
                }
                if (r.error == ERROR_INVALID_FUNCTION || r.error == ERROR_NOT_SUPPORTED) continue;
                std::printf("live 0x%08lx error=%lu%s\n", static_cast<unsigned long>(code), static_cast<unsigned long>(r.error),
                            r.pended ? " pended=cancelled" : "");
                live.push_back(code);
                if (r.error == ERROR_ACCESS_DENIED && kmd::report_dead_driver_hosts(stderr, path) != 0) {
                    std::printf("host died at 0x%08lx,in=0,out=0\n", static_cast<unsigned long>(code));
                    return kExitFailed;
                }
            }
    std::printf("swept %lu codes, %zu live\n", sent, live.size());
    for (const kmd::CallSpec& spec : kmd::exercise_calls(live))
        if (!sweep_one(device.get(), path, spec, *pend_ms)) return kExitFailed;
    return kExitOk;
}

} // namespace kmdctl
