// bench.cpp - skeleton_bench.exe: what a request costs through the real I/O manager, skeleton.sys
// against baseline.sys (tests/drivers/baseline.c, the smallest correct C driver answering the same
// contract) in the same prefix, in the same run. Prints one table; asserts nothing
// (`make bench`, not part of `make test`). See docs/performance.md.
//
// Method: every row alternates batches A B B A (A = skeleton, B = baseline) for several rounds.
// Each round gives one paired ratio, sum(A)/sum(B), so slow drift of the machine (other
// processes, frequency) hits both sides alike; the row's ratio is the median of the paired
// ratios. Median and p99 are over single round trips (QueryPerformanceCounter).
#include <skeleton/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "nt5_compat.hpp"
#include "scm.hpp"

namespace {

const DWORD kUnknownCode = SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x8FF, SKELETON_METHOD_BUFFERED, 0);

double g_tick_us = 0; // microseconds per QueryPerformanceCounter tick

LONGLONG ticks()
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return t.QuadPart;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
}

// One driver, loaded as a demand-start kernel service, its device open.
struct Driver {
    const char* label;
    std::wstring service_name;
    std::wstring device_path;
    std::wstring image;
    kmd::ScHandle service;
    HANDLE device = INVALID_HANDLE_VALUE;

    bool install(SC_HANDLE scm)
    {
        if (kmd::Failure f = kmd::create_kernel_service(scm, service_name, service_name, image, SERVICE_DEMAND_START, service))
            return std::fprintf(stderr, "%s: %s\n", label, f.describe().c_str()), false;
        return true;
    }
    bool start()
    {
        if (kmd::Failure f = kmd::start_service(service.get())) return std::fprintf(stderr, "%s: %s\n", label, f.describe().c_str()), false;
        return true;
    }
    bool open(DWORD flags = 0)
    {
        device = CreateFileW(device_path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, flags, nullptr);
        if (device == INVALID_HANDLE_VALUE) return std::fprintf(stderr, "%s: CreateFile error %lu\n", label, GetLastError()), false;
        return true;
    }
    void close()
    {
        if (device != INVALID_HANDLE_VALUE) CloseHandle(device);
        device = INVALID_HANDLE_VALUE;
    }
    void stop()
    {
        close();
        DWORD state = 0;
        kmd::stop_service(service.get(), 15000, state);
    }
};

// One row: a code, its input, its output size, and the answer both drivers must give.
struct Case {
    const char* name;
    DWORD code;
    size_t size; // the transfer size the row is about
    std::vector<unsigned char> in;
    size_t out_size;
    bool expect_success;
    std::vector<unsigned char> out_init = {}; // IN_DIRECT: the data the driver reads
};

// CPU time, not wall time: the nanoseconds the box's request path spent *on a CPU* - every
// thread of this process, of the driver host(s) (winedevice.exe) and of the box's wineserver -
// read from Linux's per-thread /proc/PID/task/TID/schedstat (a Wine process is a Linux process,
// and Z: is /). Waiting for a CPU that other programs hold is not in it, so on a loaded machine
// it tracks the work a request costs far better than the round trip does.
class CpuProbe {
public:
    // Finds the processes of this Wine prefix and opens their threads' schedstat files.
    void open()
    {
        const std::string prefix = "WINEPREFIX=" + environ_value(read_text("Z:\\proc\\self\\environ"), "WINEPREFIX=");
        add_process("self");
        WIN32_FIND_DATAA found;
        HANDLE search = FindFirstFileA("Z:\\proc\\*", &found);
        if (search == INVALID_HANDLE_VALUE) return;
        do {
            const std::string pid = found.cFileName;
            if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
            const std::string cmdline = read_text("Z:\\proc\\" + pid + "\\cmdline");
            if (cmdline.find("winedevice.exe") == std::string::npos && cmdline.find("wineserver") == std::string::npos) continue;
            if (read_text("Z:\\proc\\" + pid + "\\environ").find(prefix + '\0') == std::string::npos) continue;
            add_process(pid);
            ++processes_;
        } while (FindNextFileA(search, &found));
        FindClose(search);
    }
    ~CpuProbe()
    {
        for (HANDLE h : files_) CloseHandle(h);
    }
    bool usable() const { return processes_ >= 2; } // a driver host and the wineserver found
    size_t threads() const { return files_.size(); }

    // Sum of on-CPU time of every watched thread, in microseconds, and of the times a thread was
    // put on a CPU (schedstat's third field: every wake-up and hand-off counts one).
    struct Totals {
        double us = 0;
        double slices = 0;
    };
    Totals totals() const
    {
        unsigned long long ns = 0, slices = 0;
        for (HANDLE h : files_) {
            char buf[96];
            DWORD got = 0;
            SetFilePointer(h, 0, nullptr, FILE_BEGIN);
            if (ReadFile(h, buf, sizeof buf - 1, &got, nullptr) && got > 0) {
                buf[got] = 0;
                char* end = nullptr;
                ns += std::strtoull(buf, &end, 10);
                std::strtoull(end, &end, 10); // time spent waiting for a CPU: not ours to count
                slices += std::strtoull(end, nullptr, 10);
            }
        }
        return {static_cast<double>(ns) / 1000.0, static_cast<double>(slices)};
    }

private:
    static std::string read_text(const std::string& path)
    {
        std::string text;
        HANDLE h = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING, 0, nullptr);
        if (h == INVALID_HANDLE_VALUE) return text;
        char buf[4096];
        DWORD got = 0;
        while (ReadFile(h, buf, sizeof buf, &got, nullptr) && got > 0) text.append(buf, got);
        CloseHandle(h);
        return text;
    }
    static std::string environ_value(const std::string& env, const std::string& key)
    {
        size_t at = env.find(key);
        if (at == std::string::npos) return {};
        at += key.size();
        return env.substr(at, env.find('\0', at) - at);
    }
    void add_process(const std::string& pid)
    {
        WIN32_FIND_DATAA found;
        const std::string task = "Z:\\proc\\" + pid + "\\task\\";
        HANDLE search = FindFirstFileA((task + "*").c_str(), &found);
        if (search == INVALID_HANDLE_VALUE) return;
        do {
            if (found.cFileName[0] < '0' || found.cFileName[0] > '9') continue;
            HANDLE h = CreateFileA((task + found.cFileName + "\\schedstat").c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                   nullptr, OPEN_EXISTING, 0, nullptr);
            if (h != INVALID_HANDLE_VALUE) files_.push_back(h);
        } while (FindNextFileA(search, &found));
        FindClose(search);
    }

    std::vector<HANDLE> files_;
    int processes_ = 0;
};

CpuProbe g_cpu;

struct Side {
    std::vector<unsigned char> in, out;
    std::vector<double> samples; // us per call
    double cpu_us = 0;           // on-CPU time of the box during the measured batches
    double slices = 0;           // times a watched thread was put on a CPU, same batches
    long calls = 0;
};

// The quantile of a batch that enters the paired ratio: the lower quartile. On a shared machine
// (the bench host runs builds beside us) preemption only ever adds time, and it hits most calls
// of a busy second; the lower quartile tracks the request's own cost with far less noise than
// the mean or even the median, and both sides are measured the same way.
constexpr double kBatchQuantile = 0.25;

// n synchronous calls; false on an unexpected answer. `batch_median` is the batch's kBatchQuantile.
bool batch(HANDLE device, const Case& c, Side& side, int n, double& batch_median, double* batch_cpu = nullptr)
{
    const size_t first = side.samples.size();
    const auto before = g_cpu.totals();
    for (int i = 0; i < n; ++i) {
        DWORD returned = 0;
        const LONGLONG t0 = ticks();
        const BOOL ok = DeviceIoControl(device, c.code, side.in.empty() ? nullptr : side.in.data(), static_cast<DWORD>(side.in.size()),
                                        side.out.empty() ? nullptr : side.out.data(), static_cast<DWORD>(side.out.size()), &returned, nullptr);
        const double us = static_cast<double>(ticks() - t0) * g_tick_us;
        if ((ok != FALSE) != c.expect_success) {
            std::fprintf(stderr, "%s: unexpected answer (ok=%d, error %lu)\n", c.name, ok, GetLastError());
            return false;
        }
        side.samples.push_back(us);
    }
    const auto after = g_cpu.totals();
    const double cpu = after.us - before.us;
    side.cpu_us += cpu;
    side.slices += after.slices - before.slices;
    side.calls += n;
    if (batch_cpu != nullptr) *batch_cpu = cpu;
    batch_median = percentile(std::vector<double>(side.samples.begin() + static_cast<std::ptrdiff_t>(first), side.samples.end()), kBatchQuantile);
    return true;
}

struct RowResult {
    double a_med, a_p99, b_med, b_p99, ratio;
    double a_cpu, b_cpu, cpu_ratio; // on-CPU us per request, and the paired ratio of them
    double a_sw, b_sw;              // threads put on a CPU per request (wake-ups and hand-offs)
};

// ABBA rounds until `budget_ms` of calls (at least 5 rounds). Each round's paired ratio is
// (q(A1) + q(A2)) / (q(B1) + q(B2)) with q the batch's lower quartile, not its sum: on a shared
// machine a single preempted call (p99 is often 20x the median) would otherwise decide it.
// Batches are short (~2 ms) so that A and B see the same machine.
bool measure(const Case& c, Driver& a, Driver& b, double budget_ms, RowResult& r)
{
    Side sa{c.in, c.out_init.empty() ? std::vector<unsigned char>(c.out_size) : c.out_init, {}};
    Side sb{c.in, c.out_init.empty() ? std::vector<unsigned char>(c.out_size) : c.out_init, {}};
    double warm = 0;
    if (!batch(a.device, c, sa, 3, warm) || !batch(b.device, c, sb, 3, warm)) return false;
    if (c.expect_success && sa.out != sb.out) {
        std::fprintf(stderr, "%s: skeleton and baseline answered different bytes\n", c.name);
        return false;
    }
    // Batch size from the warm-up: ~2 ms per batch, at least 4 calls.
    const double per_call = std::max(1.0, percentile(sa.samples, 0.5));
    const int n = std::max(4, static_cast<int>(2000.0 / per_call));
    sa.samples.clear();
    sb.samples.clear();
    sa.cpu_us = sb.cpu_us = 0;
    sa.slices = sb.slices = 0;
    sa.calls = sb.calls = 0;
    std::vector<double> ratios, cpu_ratios;
    const LONGLONG start = ticks();
    for (int round = 0; round < 2000 && (round < 5 || static_cast<double>(ticks() - start) * g_tick_us < budget_ms * 1000); ++round) {
        double a1, b1, b2, a2, ca1, cb1, cb2, ca2;
        if (!batch(a.device, c, sa, n, a1, &ca1) || !batch(b.device, c, sb, n, b1, &cb1) || !batch(b.device, c, sb, n, b2, &cb2) ||
            !batch(a.device, c, sa, n, a2, &ca2))
            return false;
        ratios.push_back((a1 + a2) / (b1 + b2));
        if (cb1 + cb2 > 0) cpu_ratios.push_back((ca1 + ca2) / (cb1 + cb2));
    }
    r = {percentile(sa.samples, 0.5), percentile(sa.samples, 0.99), percentile(sb.samples, 0.5), percentile(sb.samples, 0.99),
         percentile(ratios, 0.5), sa.cpu_us / static_cast<double>(sa.calls), sb.cpu_us / static_cast<double>(sb.calls),
         percentile(cpu_ratios, 0.5), sa.slices / static_cast<double>(sa.calls), sb.slices / static_cast<double>(sb.calls)};
    return true;
}

std::string size_text(size_t size)
{
    char buf[32];
    if (size >= 1024 * 1024) std::snprintf(buf, sizeof buf, "%zu MiB", size / (1024 * 1024));
    else if (size >= 1024) std::snprintf(buf, sizeof buf, "%zu KiB", size / 1024);
    else std::snprintf(buf, sizeof buf, "%zu B", size);
    return buf;
}

std::string first_line_with(const char* path, const char* key)
{
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) return "?";
    char line[512];
    std::string found = "?";
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, key, std::strlen(key)) == 0) {
            const char* v = std::strchr(line, ':');
            found = v ? v + 1 : line;
            found.erase(0, found.find_first_not_of(" \t"));
            found.erase(found.find_last_not_of("\r\n ") + 1);
            break;
        }
    }
    std::fclose(f);
    return found;
}

void print_machine_facts()
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    using wine_get_version_t = const char*(CDECL*)();
    auto wine_version = reinterpret_cast<wine_get_version_t>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version")));
    // A Wine process is a Linux process: its own /proc entry tells the CPUs it may run on.
    std::string load = "?";
    if (FILE* f = std::fopen("Z:\\proc\\loadavg", "r")) {
        char buf[64] = "";
        if (std::fgets(buf, sizeof buf, f) != nullptr) load = std::string(buf).substr(0, std::string(buf).find(' '));
        std::fclose(f);
    }
    std::printf("machine: %lu cores (%s), load average %s; Wine %s; this process may run on CPUs %s%s\n", si.dwNumberOfProcessors,
                first_line_with("Z:\\proc\\cpuinfo", "model name").c_str(), load.c_str(), wine_version ? wine_version() : "(not Wine)",
                first_line_with("Z:\\proc\\self\\status", "Cpus_allowed_list").c_str(),
                std::getenv("SKELETON_BENCH_PINNED") ? " (pinned: make bench PIN=...)" : " (not pinned)");
}

// A bare wineserver round trip for scale: SetEvent + WaitForSingleObject on a signalled event
// (two server requests, no other process), and a ping-pong between two threads (two server
// requests and two thread hand-offs per trip, like a request to winedevice and back).
void wineserver_scale()
{
    HANDLE e = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    std::vector<double> samples;
    for (int i = 0; i < 20000; ++i) {
        const LONGLONG t0 = ticks();
        SetEvent(e);
        WaitForSingleObject(e, INFINITE);
        samples.push_back(static_cast<double>(ticks() - t0) * g_tick_us);
    }
    std::printf("%-34s %8s %9.1f %9.1f\n", "SetEvent+WaitForSingleObject", "-", percentile(samples, 0.5), percentile(samples, 0.99));

    HANDLE ping = CreateEventW(nullptr, FALSE, FALSE, nullptr), pong = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    const int trips = 5000;
    std::thread peer([&] {
        for (int i = 0; i < trips; ++i) {
            WaitForSingleObject(ping, INFINITE);
            SetEvent(pong);
        }
    });
    samples.clear();
    for (int i = 0; i < trips; ++i) {
        const LONGLONG t0 = ticks();
        SetEvent(ping);
        WaitForSingleObject(pong, INFINITE);
        samples.push_back(static_cast<double>(ticks() - t0) * g_tick_us);
    }
    peer.join();
    std::printf("%-34s %8s %9.1f %9.1f\n", "event ping-pong, two threads", "-", percentile(samples, 0.5), percentile(samples, 0.99));
    CloseHandle(ping);
    CloseHandle(pong);
    CloseHandle(e);
}

// Requests per second with `threads` threads each sending SAY_HELLO for `ms` on one handle.
double throughput(HANDLE device, int threads, int ms)
{
    std::atomic<bool> go{false}, stop{false};
    std::atomic<long> done{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            char out[128];
            while (!go) std::this_thread::yield();
            long n = 0;
            while (!stop) {
                DWORD returned = 0;
                if (!DeviceIoControl(device, IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out, &returned, nullptr)) break;
                ++n;
            }
            done += n;
        });
    const LONGLONG t0 = ticks();
    go = true;
    Sleep(static_cast<DWORD>(ms));
    stop = true;
    for (auto& t : pool) t.join();
    return static_cast<double>(done) / (static_cast<double>(ticks() - t0) * g_tick_us / 1e6);
}

// DELAY_PENDING: `total` requests of `delay_ms`, keeping `depth` in flight on an overlapped handle.
// Returns requests per second, or -1 when a request did not pend or failed.
double pending_rate(HANDLE device, int depth, int total, unsigned delay_ms, int& pended)
{
    struct Slot {
        OVERLAPPED ov;
        skeleton_delay_request request;
        bool busy;
    };
    std::vector<Slot> slots(static_cast<size_t>(depth));
    for (auto& s : slots) {
        std::memset(&s.ov, 0, sizeof s.ov);
        s.ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
        s.request.delay_ms = delay_ms;
        s.busy = false;
    }
    int issued = 0, completed = 0;
    pended = 0;
    bool failed = false;
    const LONGLONG t0 = ticks();
    auto issue = [&](Slot& s) {
        ResetEvent(s.ov.hEvent);
        if (DeviceIoControl(device, IOCTL_SKELETON_DELAY_PENDING, &s.request, sizeof s.request, nullptr, 0, nullptr, &s.ov)) {
            ++completed; // completed at once (never expected: the driver always pends)
        } else if (GetLastError() == ERROR_IO_PENDING) {
            ++pended;
            s.busy = true;
        } else {
            failed = true;
        }
        ++issued;
    };
    for (auto& s : slots)
        if (issued < total) issue(s);
    std::vector<HANDLE> events;
    while (completed < total && !failed) {
        events.clear();
        std::vector<Slot*> owners;
        for (auto& s : slots)
            if (s.busy) events.push_back(s.ov.hEvent), owners.push_back(&s);
        if (events.empty()) break;
        const DWORD w = WaitForMultipleObjects(static_cast<DWORD>(std::min<size_t>(events.size(), MAXIMUM_WAIT_OBJECTS)), events.data(),
                                               FALSE, 30000);
        if (w >= WAIT_OBJECT_0 + events.size()) {
            failed = true;
            break;
        }
        Slot& s = *owners[w - WAIT_OBJECT_0];
        DWORD returned = 0;
        if (!GetOverlappedResult(device, &s.ov, &returned, FALSE)) failed = true;
        s.busy = false;
        ++completed;
        if (issued < total) issue(s);
    }
    const double seconds = static_cast<double>(ticks() - t0) * g_tick_us / 1e6;
    for (auto& s : slots) {
        if (s.busy) {
            kmd::cancel_io_ex(device, &s.ov);
            DWORD returned = 0;
            GetOverlappedResult(device, &s.ov, &returned, TRUE);
        }
        CloseHandle(s.ov.hEvent);
    }
    return failed ? -1 : total / seconds;
}

// `skeleton_bench.exe --hold N`, driven by tools/bench_profile.py: loads skeleton.sys, opens it,
// prints "ready", and on each "go" line from stdin sends N SAY_HELLO requests and prints
// "done <us per request>"; "quit" (or end of input) unloads. The profiler watches the box's
// processes (perf, strace) exactly around the N requests.
int hold(const char* image, int n)
{
    kmd::ScHandle scm;
    if (kmd::Failure f = kmd::open_scm(scm)) return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    Driver d{"skeleton", L"skeleton_bench", SKELETON_WIN32_DEVICE_PATH_W, kmd::widen(image), {}, INVALID_HANDLE_VALUE};
    if (!d.install(scm.get())) return 1;
    int rc = 1;
    if (d.start() && d.open()) {
        rc = 0;
        std::printf("ready\n");
        std::fflush(stdout);
        char line[64];
        while (std::fgets(line, sizeof line, stdin) != nullptr && std::strncmp(line, "go", 2) == 0) {
            char out[128];
            const LONGLONG t0 = ticks();
            for (int i = 0; i < n; ++i) {
                DWORD returned = 0;
                if (!DeviceIoControl(d.device, IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out, &returned, nullptr)) rc = 1;
            }
            std::printf("done %.1f\n", static_cast<double>(ticks() - t0) * g_tick_us / n);
            std::fflush(stdout);
        }
    }
    d.stop();
    kmd::delete_service(d.service.get());
    return rc;
}

} // namespace

int main(int argc, char** argv)
{
    LARGE_INTEGER frequency;
    QueryPerformanceFrequency(&frequency);
    g_tick_us = 1e6 / static_cast<double>(frequency.QuadPart);
    const char* skeleton_image = std::getenv("SKELETON_DRIVER");
    const char* baseline_image = std::getenv("BASELINE_DRIVER");
    if (skeleton_image == nullptr || (baseline_image == nullptr && argc == 1)) {
        std::fprintf(stderr, "set SKELETON_DRIVER and BASELINE_DRIVER to the Windows paths of skeleton.sys and baseline.sys\n");
        return 2;
    }
    if (argc == 3 && std::strcmp(argv[1], "--hold") == 0) return hold(skeleton_image ? skeleton_image : "", std::atoi(argv[2]));
    const double budget_ms = std::getenv("SKELETON_BENCH_ROW_MS") ? std::atof(std::getenv("SKELETON_BENCH_ROW_MS")) : 1500.0;

    print_machine_facts();
    kmd::ScHandle scm;
    if (kmd::Failure f = kmd::open_scm(scm)) return std::fprintf(stderr, "%s\n", f.describe().c_str()), 1;
    Driver a{"skeleton", L"skeleton_bench", SKELETON_WIN32_DEVICE_PATH_W, kmd::widen(skeleton_image), {}, INVALID_HANDLE_VALUE};
    Driver b{"baseline", L"skeleton_baseline", L"\\\\.\\skeleton_baseline", kmd::widen(baseline_image), {}, INVALID_HANDLE_VALUE};
    if (!a.install(scm.get()) || !b.install(scm.get())) return 1;
    int rc = 0;
    if (!a.start() || !b.start() || !a.open() || !b.open()) rc = 1;

    if (rc == 0) {
        g_cpu.open();
        std::printf("CPU time watched: %zu threads of this process, the driver host and the wineserver%s\n", g_cpu.threads(),
                    g_cpu.usable() ? "" : " (NOT FOUND: cpu columns are this process only)");
        std::printf("\nper request: round trip in us (median, p99), wall ratio = skeleton/baseline (median of paired ABBA rounds\n"
                    "of batch lower quartiles); cpu = on-CPU us of client + driver host + wineserver, cpu ratio paired the same way;\n"
                    "sw = times those threads were put on a CPU per request (wake-ups, hand-offs between processes)\n");
        std::printf("%-20s %7s %8s %8s %8s %8s %6s %6s %6s %6s %5s %5s %6s %7s\n", "request", "size", "skel med", "skel p99", "base med",
                    "base p99", "wall", "s.cpu", "b.cpu", "cpu", "s.sw", "b.sw", "MiB/s", "");
        std::printf("%-20s %7s %8s %8s %8s %8s %6s %6s %6s %6s %5s %5s %6s %7s\n", "", "", "", "", "", "", "ratio", "", "", "ratio", "", "",
                    "", "");
        std::vector<Case> cases;
        cases.push_back({"unknown code (floor)", kUnknownCode, 0, {}, 0, false});
        cases.push_back({"SAY_HELLO (NEITHER)", IOCTL_SKELETON_SAY_HELLO, 64, {}, 64, true});
        const size_t sizes[] = {64, 4096, 64 * 1024, SKELETON_MAX_TRANSFER};
        for (size_t size : sizes) {
            std::vector<unsigned char> data(size);
            for (size_t i = 0; i < size; ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
            cases.push_back({"REVERSE_BUFFERED", IOCTL_SKELETON_REVERSE_BUFFERED, size, data, size, true});
            cases.push_back({"ECHO_NEITHER", IOCTL_SKELETON_ECHO_NEITHER, size, data, size, true});
            std::vector<unsigned char> seed(sizeof(skeleton_fill_request), 0x5A);
            cases.push_back({"FILL_OUT_DIRECT", IOCTL_SKELETON_FILL_OUT_DIRECT, size, seed, size, true});
        }
        // VERIFY_IN_DIRECT: the expected CRC comes from ntdll's RtlComputeCrc32 (a third
        // implementation), so both drivers must also agree with it.
        using crc_t = DWORD(WINAPI*)(DWORD, const BYTE*, INT);
        auto crc = reinterpret_cast<crc_t>(reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlComputeCrc32")));
        for (size_t size : sizes) {
            std::vector<unsigned char> data(size);
            for (size_t i = 0; i < size; ++i) data[i] = static_cast<unsigned char>(i * 13 + 1);
            skeleton_verify_request request{crc ? crc(0, data.data(), static_cast<INT>(size)) : 0};
            std::vector<unsigned char> in(sizeof request);
            std::memcpy(in.data(), &request, sizeof request);
            cases.push_back({"VERIFY_IN_DIRECT", IOCTL_SKELETON_VERIFY_IN_DIRECT, size, in, size, true, data});
        }
        std::sort(cases.begin() + 2, cases.end(), [](const Case& x, const Case& y) {
            return std::strcmp(x.name, y.name) != 0 ? std::strcmp(x.name, y.name) < 0 : x.size < y.size;
        });
        // Warm both paths (winedevice's first IRPs, page faults in the client) before any row.
        Case hello{"warm-up", IOCTL_SKELETON_SAY_HELLO, 64, {}, 64, true};
        Side wa{{}, std::vector<unsigned char>(64), {}}, wb{{}, std::vector<unsigned char>(64), {}};
        double ignored;
        if (!batch(a.device, hello, wa, 300, ignored) || !batch(b.device, hello, wb, 300, ignored)) rc = 1;
        int flagged = 0;
        for (const Case& c : cases) {
            RowResult r{};
            if (!measure(c, a, b, budget_ms, r)) {
                rc = 1;
                continue;
            }
            const bool large = c.size >= 64 * 1024;
            char mibs[32] = "";
            if (large) std::snprintf(mibs, sizeof mibs, "%.0f", static_cast<double>(c.size) / (1024.0 * 1024.0) / (r.a_med / 1e6));
            // A row is flagged when either ratio is above 1.05: printed as such, never hidden.
            const bool flag = r.ratio > 1.05 || r.cpu_ratio > 1.05;
            flagged += flag;
            std::printf("%-20s %7s %8.1f %8.1f %8.1f %8.1f %6.3f %6.1f %6.1f %6.3f %5.1f %5.1f %6s %7s\n", c.name, size_text(c.size).c_str(),
                        r.a_med, r.a_p99, r.b_med, r.b_p99, r.ratio, r.a_cpu, r.b_cpu, r.cpu_ratio, r.a_sw, r.b_sw, mibs,
                        r.cpu_ratio > 1.05 ? "> 1.05!" : r.ratio > 1.05 ? "wall>1.05" : "");
            std::fflush(stdout);
        }
        std::printf("rows flagged (a ratio above 1.05): %d\n", flagged);

        // A/A control: the baseline against itself, the same way. Identical work on both sides,
        // so how far these ratios stray from 1.000 is this run's measurement noise: a row above
        // is only a finding where it exceeds this.
        std::printf("A/A control (baseline vs baseline, same method):\n");
        for (const Case* c : {&cases[0], &cases[2]}) {
            RowResult r{};
            if (!measure(*c, b, b, budget_ms, r)) {
                rc = 1;
                continue;
            }
            std::printf("%-20s %7s %8.1f %8.1f %8.1f %8.1f %6.3f %6.1f %6.1f %6.3f %5.1f %5.1f\n", c->name, size_text(c->size).c_str(),
                        r.a_med, r.a_p99, r.b_med, r.b_p99, r.ratio, r.a_cpu, r.b_cpu, r.cpu_ratio, r.a_sw, r.b_sw);
        }

        std::printf("\nfor scale (us, median, p99)\n");
        wineserver_scale();

        std::printf("\nthroughput, SAY_HELLO from N threads on one handle (requests/s)\n");
        std::printf("%-10s %12s %12s %7s\n", "threads", "skeleton", "baseline", "ratio"); // ratio: baseline rate / skeleton rate = cost ratio
        for (int threads : {1, 2, 4, 8}) {
            const double ta1 = throughput(a.device, threads, 300), tb1 = throughput(b.device, threads, 300);
            const double tb2 = throughput(b.device, threads, 300), ta2 = throughput(a.device, threads, 300);
            std::printf("%-10d %12.0f %12.0f %7.3f\n", threads, (ta1 + ta2) / 2, (tb1 + tb2) / 2, (tb1 + tb2) / (ta1 + ta2));
        }

        std::printf("\nin flight: DELAY_PENDING on an overlapped handle (skeleton only; the baseline has no such request)\n");
        std::printf("%-10s %9s %10s %14s %12s\n", "delay", "in flight", "requests", "requests/s", "pended");
        Driver overlapped{"skeleton", L"", SKELETON_WIN32_DEVICE_PATH_W, L"", {}, INVALID_HANDLE_VALUE};
        if (overlapped.open(FILE_FLAG_OVERLAPPED)) {
            const struct {
                unsigned delay_ms;
                int depth, total;
            } runs[] = {{0, 1, 2000}, {0, 8, 4000}, {0, 64, 4000}, {10, 1, 50}, {10, 8, 400}, {10, 64, 3000}};
            for (const auto& run : runs) {
                int pended = 0;
                const double rate = pending_rate(overlapped.device, run.depth, run.total, run.delay_ms, pended);
                if (rate < 0) rc = 1;
                std::printf("%-10s %9d %10d %14.0f %12d\n", (std::to_string(run.delay_ms) + " ms").c_str(), run.depth, run.total, rate,
                            pended);
                std::fflush(stdout);
            }
            overlapped.close();
        } else {
            rc = 1;
        }
    }
    a.stop();
    b.stop();

    // load -> open -> SAY_HELLO -> close -> unload, one driver at a time (the other stopped, so
    // each cycle starts its own winedevice.exe, as a developer's reload does), ABBA.
    if (rc == 0) {
        std::printf("\nload -> open -> SAY_HELLO -> close -> unload cycle, ms (median of 8, alternating), and its parts\n");
        struct Phases {
            std::vector<double> total, start, hello, stop;
        } pa, pb;
        auto ms = [](LONGLONG from, LONGLONG to) { return static_cast<double>(to - from) * g_tick_us / 1000.0; };
        auto cycle = [&](Driver& d, Phases& out) {
            const LONGLONG t0 = ticks();
            if (!d.start()) return false;
            const LONGLONG t1 = ticks();
            if (!d.open()) return false;
            char hello[128];
            DWORD returned = 0;
            const BOOL ok = DeviceIoControl(d.device, IOCTL_SKELETON_SAY_HELLO, nullptr, 0, hello, sizeof hello, &returned, nullptr);
            d.close();
            const LONGLONG t2 = ticks();
            d.stop();
            const LONGLONG t3 = ticks();
            out.total.push_back(ms(t0, t3));
            out.start.push_back(ms(t0, t1));
            out.hello.push_back(ms(t1, t2));
            out.stop.push_back(ms(t2, t3));
            return ok != FALSE;
        };
        for (int i = 0; i < 4 && rc == 0; ++i)
            if (!cycle(a, pa) || !cycle(b, pb) || !cycle(b, pb) || !cycle(a, pa)) rc = 1;
        std::printf("%-12s %8s %8s %12s %8s\n", "", "cycle", "start", "open+hello", "stop");
        for (auto [name, p] : {std::pair<const char*, Phases*>{"skeleton", &pa}, {"baseline", &pb}})
            std::printf("%-12s %8.1f %8.1f %12.1f %8.1f\n", name, percentile(p->total, 0.5), percentile(p->start, 0.5), percentile(p->hello, 0.5),
                        percentile(p->stop, 0.5));
        std::printf("%-12s %8.3f %8.3f %12.3f %8.3f\n", "ratio", percentile(pa.total, 0.5) / percentile(pb.total, 0.5),
                    percentile(pa.start, 0.5) / percentile(pb.start, 0.5), percentile(pa.hello, 0.5) / percentile(pb.hello, 0.5),
                    percentile(pa.stop, 0.5) / percentile(pb.stop, 0.5));
    }
    kmd::delete_service(a.service.get());
    kmd::delete_service(b.service.get());
    return rc;
}
