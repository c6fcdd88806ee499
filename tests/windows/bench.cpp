// bench.cpp - skeleton_bench.exe: what one request costs through the real I/O manager, per
// transfer method. Prints figures; asserts nothing (`make bench`, not part of `make test`).
#include <skeleton/ioctl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "device.hpp"
#include "scm.hpp"

namespace {

struct Case {
    const char* name;
    DWORD code;
    std::vector<unsigned char> in;
    size_t out_size;
    int iterations;
};

} // namespace

int main()
{
    const char* driver = std::getenv("SKELETON_DRIVER");
    if (driver == nullptr) {
        std::fprintf(stderr, "set SKELETON_DRIVER to the Windows path of skeleton.sys\n");
        return 2;
    }
    kmd::ScHandle scm, service;
    if (kmd::Failure f = kmd::open_scm(scm)) return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    if (kmd::Failure f = kmd::create_kernel_service(scm.get(), L"skeleton_bench", L"skeleton_bench", kmd::widen(driver),
                                                    SERVICE_DEMAND_START, service))
        return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    int rc = 0;
    if (kmd::Failure f = kmd::start_service(service.get())) {
        std::fprintf(stderr, "%s\n", f.describe().c_str());
        rc = 1;
    } else {
        kmd::FileHandle device;
        if (kmd::Failure f = kmd::open_device(SKELETON_WIN32_DEVICE_PATH_W, device)) {
            std::fprintf(stderr, "%s\n", f.describe().c_str());
            rc = 1;
        } else {
            const size_t mib = SKELETON_MAX_TRANSFER;
            std::vector<unsigned char> seed(sizeof(skeleton_fill_request), 0);
            Case cases[] = {
                {"SAY_HELLO (NEITHER, 63 B out)", IOCTL_SKELETON_SAY_HELLO, {}, 256, 2000},
                {"REVERSE_BUFFERED 64 KiB", IOCTL_SKELETON_REVERSE_BUFFERED, std::vector<unsigned char>(64 * 1024, 7), 64 * 1024, 300},
                {"ECHO_NEITHER 1 MiB", IOCTL_SKELETON_ECHO_NEITHER, std::vector<unsigned char>(mib, 9), mib, 40},
                {"FILL_OUT_DIRECT 1 MiB", IOCTL_SKELETON_FILL_OUT_DIRECT, seed, mib, 40},
            };
            std::printf("%-32s %10s %14s %12s\n", "request", "count", "us/request", "MiB/s");
            for (Case& c : cases) {
                std::vector<unsigned char> out(c.out_size);
                const auto start = std::chrono::steady_clock::now();
                for (int i = 0; i < c.iterations; ++i) {
                    out.resize(c.out_size);
                    if (kmd::Failure f = kmd::device_io_control(device.get(), c.code, c.in, out)) {
                        std::fprintf(stderr, "%s: %s\n", c.name, f.describe().c_str());
                        rc = 1;
                        break;
                    }
                }
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                const double bytes = static_cast<double>(c.in.size() + c.out_size) * c.iterations;
                std::printf("%-32s %10d %14.1f %12.1f\n", c.name, c.iterations, seconds * 1e6 / c.iterations,
                            bytes / (1024.0 * 1024.0) / seconds);
            }
        }
        DWORD state = 0;
        kmd::stop_service(service.get(), 15000, state);
    }
    kmd::delete_service(service.get());
    return rc;
}
