// stress.cpp - skeleton_stress.exe, the Windows half of the reliability suite
// (tests/reliability/reliability.py drives it under Wine).
//
//   hello                          one SAY_HELLO, checked
//   mixed THREADS REQUESTS SEED    THREADS workers x REQUESTS mixed IOCTLs, every reply checked byte
//                                  for byte, while one more thread opens and closes the device
//   fuzz COUNT SEED                COUNT fuzzed requests (codes, methods, access bits, sizes,
//                                  buffers ending at a guard page, read-only/write-only handles)
//   load SECONDS THREADS           requests in flight until the device goes away (stop/kill tests)
//   flood PAIRS                    PAIRS CreateFile/CloseHandle pairs, then how long SAY_HELLO waits
//   reload CYCLES SYS NAME         CYCLES x (create, start, hello, stop, delete) through the SCM
//   spawn COUNT                    COUNT x CreateProcess of this program (verb `exit`) with the flags
//                                  services.exe uses for winedevice.exe: how often Wine fails to
//                                  start a process at all (see docs/reliability.md, "error 1359")
//
// Replay: every request of `mixed` and `fuzz` draws from its own generator, seeded from
// (SEED, thread, index), so `--only T:I` (mixed) or `--only I` (fuzz) repeats one request alone.
// A failure line names the seed and the index to pass.
#include <windows.h>

#include <skeleton/ioctl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scm.hpp"
#include "win32.hpp"

namespace {

constexpr char kGreeting[] = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";
constexpr wchar_t kDevicePath[] = L"\\\\.\\skeleton";

std::mutex g_print;

template <typename... A>
void say(const char* format, A... args)
{
    std::lock_guard lock(g_print);
    std::printf(format, args...);
    std::fflush(stdout);
}

// splitmix64: tiny, good enough, and identical on every run for a given seed.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return n ? static_cast<uint32_t>(next() % n) : 0; }
};

uint64_t request_seed(uint64_t seed, uint64_t thread, uint64_t index)
{
    Rng r(seed ^ (thread * 0x100000001b3ull) ^ (index * 0x9e3779b97f4a7c15ull));
    r.next();
    return r.next();
}

kmd::FileHandle open_device(DWORD access = GENERIC_READ | GENERIC_WRITE)
{
    return kmd::FileHandle(CreateFileW(kDevicePath, access, 0, nullptr, OPEN_EXISTING, 0, nullptr));
}

// One DeviceIoControl: the Win32 error (0 on success) and the byte count.
struct Reply {
    DWORD error;
    DWORD returned;
};

Reply control(HANDLE device, DWORD code, const void* in, DWORD in_len, void* out, DWORD out_len)
{
    DWORD returned = 0;
    BOOL ok = DeviceIoControl(device, code, const_cast<void*>(in), in_len, out, out_len, &returned, nullptr);
    return {ok ? ERROR_SUCCESS : GetLastError(), returned};
}

uint32_t crc32(const unsigned char* p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

bool hello_ok(HANDLE device)
{
    char out[128] = {};
    Reply r = control(device, IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out);
    return r.error == ERROR_SUCCESS && r.returned == sizeof kGreeting && std::memcmp(out, kGreeting, sizeof kGreeting) == 0;
}

// ------------------------------------------------------------------------------------ mixed

// One checked request of the `mixed` workload; "" when the reply was right, else what was wrong.
std::string mixed_request(HANDLE device, Rng& rng)
{
    char why[160];
    const uint32_t size = rng.below(16) == 0 ? rng.below(SKELETON_MAX_TRANSFER) + 1 : rng.below(4096) + 1;
    std::vector<unsigned char> in(size), out(size);
    for (auto& b : in) b = static_cast<unsigned char>(rng.next());
    switch (rng.below(5)) {
    case 0:
        return hello_ok(device) ? "" : "SAY_HELLO: wrong greeting or error";
    case 1: {
        Reply r = control(device, IOCTL_SKELETON_REVERSE_BUFFERED, in.data(), size, out.data(), size);
        for (uint32_t i = 0; r.error == 0 && i < size; ++i)
            if (out[i] != in[size - 1 - i]) return "REVERSE_BUFFERED: byte " + std::to_string(i) + " differs";
        if (r.error || r.returned != size) std::snprintf(why, sizeof why, "REVERSE_BUFFERED %u: error %lu returned %lu", size, r.error, r.returned);
        return r.error || r.returned != size ? why : "";
    }
    case 2: {
        Reply r = control(device, IOCTL_SKELETON_ECHO_NEITHER, in.data(), size, out.data(), size);
        if (r.error || r.returned != size) {
            std::snprintf(why, sizeof why, "ECHO_NEITHER %u: error %lu returned %lu", size, r.error, r.returned);
            return why;
        }
        return std::memcmp(in.data(), out.data(), size) == 0 ? "" : "ECHO_NEITHER: bytes differ";
    }
    case 3: {
        skeleton_fill_request request{static_cast<unsigned int>(rng.next())};
        Reply r = control(device, IOCTL_SKELETON_FILL_OUT_DIRECT, &request, sizeof request, out.data(), size);
        if (r.error || r.returned != size) {
            std::snprintf(why, sizeof why, "FILL_OUT_DIRECT %u: error %lu returned %lu", size, r.error, r.returned);
            return why;
        }
        for (uint32_t i = 0; i < size; ++i)
            if (out[i] != skeleton_pattern_byte(request.seed, i)) return "FILL_OUT_DIRECT: byte " + std::to_string(i) + " differs";
        return "";
    }
    default: {
        const bool good = rng.below(2) == 0;
        skeleton_verify_request request{crc32(in.data(), size) ^ (good ? 0u : 1u)};
        Reply r = control(device, IOCTL_SKELETON_VERIFY_IN_DIRECT, &request, sizeof request, in.data(), size);
        const DWORD want = good ? ERROR_SUCCESS : ERROR_CRC;
        if (r.error != want) {
            std::snprintf(why, sizeof why, "VERIFY_IN_DIRECT %u (%s crc): error %lu, want %lu", size, good ? "right" : "wrong", r.error, want);
            return why;
        }
        return "";
    }
    }
}

int run_mixed(int threads, int requests, uint64_t seed, int only_thread, int only_index)
{
    std::atomic<long> failures{0}, done{0}, opens{0};
    std::atomic<bool> stop_opener{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        if (only_thread >= 0 && t != only_thread) continue;
        pool.emplace_back([&, t] {
            auto device = open_device();
            if (!device) {
                say("thread %d: CreateFile failed: %lu\n", t, GetLastError());
                failures += requests;
                return;
            }
            for (int i = 0; i < requests; ++i) {
                if (only_index >= 0 && i != only_index) continue;
                Rng rng(request_seed(seed, t, i));
                std::string why = mixed_request(device.get(), rng);
                ++done;
                if (!why.empty()) {
                    ++failures;
                    say("FAIL mixed seed=%llu request=%d:%d: %s  (replay: mixed %d %d %llu --only %d:%d)\n",
                        static_cast<unsigned long long>(seed), t, i, why.c_str(), threads, requests,
                        static_cast<unsigned long long>(seed), t, i);
                }
            }
        });
    }
    // Concurrent opens and closes of their own handles, while the workers run. Each open also
    // asks SAY_HELLO before it closes: Wine answers CreateFile/CloseHandle at once but queues the
    // driver's CREATE/CLOSE, so an unpaced loop floods the queue and starves the workers (the
    // `flood` case measures that); the synchronous request paces the opener to the driver.
    std::thread opener([&] {
        while (!stop_opener) {
            auto h = open_device();
            if (!h) continue;
            ++opens;
            if (!hello_ok(h.get())) {
                ++failures;
                say("FAIL mixed seed=%llu: SAY_HELLO on a freshly opened handle was wrong\n", static_cast<unsigned long long>(seed));
            }
        }
    });
    for (auto& th : pool) th.join();
    stop_opener = true;
    opener.join();
    say("mixed: %ld requests, %ld failures, %ld concurrent opens, seed %llu\n", done.load(), failures.load(), opens.load(),
        static_cast<unsigned long long>(seed));
    return failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------------- fuzz

// Two regions, each followed by a PAGE_NOACCESS page: a buffer placed at `end - size` ends
// exactly at the guard, so a driver (or copy) one byte too far faults instead of reading junk.
struct GuardedBuffer {
    static constexpr SIZE_T kSpan = 2 * 1024 * 1024 + 4096;
    unsigned char* base = nullptr;
    explicit GuardedBuffer()
    {
        base = static_cast<unsigned char*>(VirtualAlloc(nullptr, kSpan + 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
        DWORD old;
        if (base) VirtualProtect(base + kSpan, 4096, PAGE_NOACCESS, &old);
    }
    ~GuardedBuffer()
    {
        if (base) VirtualFree(base, 0, MEM_RELEASE);
    }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;
    unsigned char* ending_at_guard(SIZE_T size) { return base + kSpan - size; }
};

uint32_t fuzz_size(Rng& rng, uint32_t exact)
{
    static const uint32_t edges[] = {0, 1, 2, 4095, 4096, 4097, 8191, 8192, 65536, SKELETON_MAX_TRANSFER - 1,
                                     SKELETON_MAX_TRANSFER, SKELETON_MAX_TRANSFER + 1, 2 * 1024 * 1024};
    // Sizes above 64 KiB cost Wine two copies through the wineserver each: they are kept to
    // about 1 request in 100, so the edges are all reached without the run being all copying.
    constexpr size_t kSmallEdges = 9; // edges[0..8] are at most 64 KiB
    if (rng.below(100) == 0) {
        return rng.below(2) ? edges[kSmallEdges + rng.below(sizeof edges / sizeof edges[0] - kSmallEdges)]
                            : rng.below(2 * 1024 * 1024 + 1);
    }
    switch (rng.below(4)) {
    case 0: return exact == 0 ? 0 : exact - 1 + rng.below(3); // exact-1, exact, exact+1
    case 1: return edges[rng.below(kSmallEdges)];
    case 2: return rng.below(256);
    default: return rng.below(70000);
    }
}

const DWORD kKnown[] = {IOCTL_SKELETON_SAY_HELLO, IOCTL_SKELETON_REVERSE_BUFFERED, IOCTL_SKELETON_VERIFY_IN_DIRECT,
                        IOCTL_SKELETON_FILL_OUT_DIRECT, IOCTL_SKELETON_ECHO_NEITHER};

bool is_known(DWORD code)
{
    for (DWORD k : kKnown)
        if (k == code) return true;
    return false;
}

// The contract's input-length rule (skeleton/ioctl.h, "input length:"): the input lengths a request
// of a known code may succeed with. A struct takes exactly its size, bytes up to the maximum, and
// SAY_HELLO ignores its input.
bool input_length_allowed(DWORD code, uint32_t in_len)
{
    switch (code) {
    case IOCTL_SKELETON_VERIFY_IN_DIRECT: return in_len == sizeof(skeleton_verify_request);
    case IOCTL_SKELETON_FILL_OUT_DIRECT: return in_len == sizeof(skeleton_fill_request);
    case IOCTL_SKELETON_REVERSE_BUFFERED:
    case IOCTL_SKELETON_ECHO_NEITHER: return in_len <= SKELETON_MAX_TRANSFER;
    default: return true;
    }
}

// Errors a fuzzed request may legitimately end with: the driver's own refusals and the I/O
// manager's (missing access right, unusable user buffer).
bool expected_error(DWORD e)
{
    switch (e) {
    case ERROR_INVALID_FUNCTION:
    case ERROR_ACCESS_DENIED:
    case ERROR_INVALID_PARAMETER:
    case ERROR_INSUFFICIENT_BUFFER:
    case ERROR_CRC:
    case ERROR_NOACCESS:
    case ERROR_INVALID_USER_BUFFER:
    case ERROR_NOT_ENOUGH_MEMORY:
        return true;
    default:
        return false;
    }
}

// One fuzzed request; "" when its outcome was acceptable.
std::string fuzz_request(HANDLE handles[3], GuardedBuffer& inbuf, GuardedBuffer& outbuf, Rng& rng, DWORD& error)
{
    DWORD code;
    switch (rng.below(4)) {
    case 0: code = kKnown[rng.below(5)]; break;
    case 1: code = kKnown[rng.below(5)] ^ (1u << rng.below(16)); break;                   // method, function, access bits
    case 2: code = (kKnown[rng.below(5)] & 0xffffu) | (rng.below(0x10000) << 16); break;  // other device types
    default: code = static_cast<DWORD>(rng.next()); break;
    }
    const int which = rng.below(3); // read+write, read-only, write-only
    HANDLE device = handles[which];
    const uint32_t exact_in = code == IOCTL_SKELETON_VERIFY_IN_DIRECT ? sizeof(skeleton_verify_request)
                              : code == IOCTL_SKELETON_FILL_OUT_DIRECT ? sizeof(skeleton_fill_request)
                                                                       : 16;
    const uint32_t in_len = fuzz_size(rng, exact_in);
    const uint32_t out_len = fuzz_size(rng, code == IOCTL_SKELETON_SAY_HELLO ? sizeof kGreeting : in_len);
    unsigned char* in = in_len ? inbuf.ending_at_guard(in_len) : (rng.below(2) ? nullptr : inbuf.ending_at_guard(0));
    unsigned char* out = out_len ? outbuf.ending_at_guard(out_len) : (rng.below(2) ? nullptr : outbuf.ending_at_guard(0));
    const uint64_t fill = rng.next();
    for (uint32_t i = 0; i < in_len; i += 4096) in[i] = static_cast<unsigned char>(fill >> (i % 56));
    if (in_len >= 4) std::memcpy(in, &fill, 4);
    std::vector<unsigned char> in_copy(in, in + in_len);

    Reply r = control(device, code, in, in_len, out, out_len);
    error = r.error;
    char why[200];
    std::snprintf(why, sizeof why, "code=0x%08lx handle=%s in=%u out=%u -> error %lu returned %lu", code,
                  which == 0 ? "rw" : which == 1 ? "r" : "w", in_len, out_len, r.error, r.returned);
    if (r.error != ERROR_SUCCESS) return expected_error(r.error) ? "" : std::string("unexpected error: ") + why;
    if (!is_known(code)) return std::string("an unknown code succeeded: ") + why;
    if (!input_length_allowed(code, in_len)) return std::string("a success with an input length the contract refuses: ") + why;
    // A success must be the contract's answer, byte for byte.
    if (code == IOCTL_SKELETON_SAY_HELLO) {
        if (r.returned != sizeof kGreeting || std::memcmp(out, kGreeting, sizeof kGreeting) != 0) return std::string("wrong greeting: ") + why;
    } else if (code == IOCTL_SKELETON_REVERSE_BUFFERED) {
        if (r.returned != in_len) return std::string("wrong length: ") + why;
        for (uint32_t i = 0; i < in_len; ++i)
            if (out[i] != in_copy[in_len - 1 - i]) return std::string("wrong bytes: ") + why;
    } else if (code == IOCTL_SKELETON_ECHO_NEITHER) {
        if (r.returned != in_len || (in_len && std::memcmp(out, in_copy.data(), in_len) != 0)) return std::string("wrong echo: ") + why;
    } else if (code == IOCTL_SKELETON_FILL_OUT_DIRECT) {
        skeleton_fill_request request;
        std::memcpy(&request, in_copy.data(), sizeof request);
        if (r.returned != out_len) return std::string("wrong length: ") + why;
        for (uint32_t i = 0; i < out_len; ++i)
            if (out[i] != skeleton_pattern_byte(request.seed, i)) return std::string("wrong fill: ") + why;
    } else if (code == IOCTL_SKELETON_VERIFY_IN_DIRECT) {
        skeleton_verify_request request;
        std::memcpy(&request, in_copy.data(), sizeof request);
        if (crc32(out, out_len) != request.expected_crc32) return std::string("a wrong CRC was accepted: ") + why;
    }
    return "";
}

int run_fuzz(long count, uint64_t seed, long only)
{
    GuardedBuffer inbuf, outbuf;
    kmd::FileHandle rw = open_device(), ro = open_device(GENERIC_READ), wo = open_device(GENERIC_WRITE);
    if (!inbuf.base || !outbuf.base || !rw || !ro || !wo) {
        say("fuzz: set-up failed (buffers or CreateFile): %lu\n", GetLastError());
        return 1;
    }
    HANDLE handles[3] = {rw.get(), ro.get(), wo.get()};
    std::map<DWORD, long> outcomes;
    long failures = 0, sent = 0;
    for (long i = 0; i < count; ++i) {
        if (only >= 0 && i != only) continue;
        Rng rng(request_seed(seed, 0, static_cast<uint64_t>(i)));
        DWORD error = 0;
        std::string why = fuzz_request(handles, inbuf, outbuf, rng, error);
        ++outcomes[error];
        ++sent;
        if (!why.empty()) {
            ++failures;
            say("FAIL fuzz seed=%llu request=%ld: %s  (replay: fuzz %ld %llu --only %ld)\n", static_cast<unsigned long long>(seed), i,
                why.c_str(), count, static_cast<unsigned long long>(seed), i);
        }
    }
    const bool hello = hello_ok(rw.get());
    std::string histogram;
    for (auto [e, n] : outcomes) histogram += " " + std::to_string(e) + ":" + std::to_string(n);
    say("fuzz: outcomes by Win32 error (0 = success):%s\n", histogram.c_str());
    say("fuzz: %ld requests, %ld failures, seed %llu; SAY_HELLO afterwards: %s\n", sent, failures, static_cast<unsigned long long>(seed),
        hello ? "correct" : "WRONG");
    return failures == 0 && hello ? 0 : 1;
}

// ------------------------------------------------------------------------------------- load

// Requests in flight from THREADS threads until the device stops answering (or SECONDS pass).
// Prints how the requests ended, by Win32 error: what a client sees while a driver goes away.
int run_load(int seconds, int threads)
{
    std::mutex m;
    std::map<DWORD, long> ends;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::vector<std::thread> pool;
    std::atomic<int> ready{0};
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            std::map<DWORD, long> mine;
            std::vector<unsigned char> in(SKELETON_MAX_TRANSFER), out(SKELETON_MAX_TRANSFER);
            Rng rng(t + 1);
            auto device = open_device();
            ++ready;
            int dead_streak = 0;
            while (std::chrono::steady_clock::now() < deadline && dead_streak < 200) {
                if (!device) {
                    device = open_device();
                    if (!device) {
                        ++mine[GetLastError() | 0x80000000u]; // an open that failed
                        ++dead_streak;
                        Sleep(1);
                        continue;
                    }
                }
                const uint32_t size = rng.below(static_cast<uint32_t>(in.size())) + 1;
                Reply r = rng.below(2) ? control(device.get(), IOCTL_SKELETON_ECHO_NEITHER, in.data(), size, out.data(), size)
                                       : control(device.get(), IOCTL_SKELETON_REVERSE_BUFFERED, in.data(), size, out.data(), size);
                ++mine[r.error];
                if (r.error) {
                    ++dead_streak;
                    device.reset();
                } else {
                    dead_streak = 0;
                }
            }
            std::lock_guard lock(m);
            for (auto [k, v] : mine) ends[k] += v;
        });
    while (ready < threads) Sleep(1);
    say("load: started %d threads\n", threads);
    for (auto& th : pool) th.join();
    for (auto [k, v] : ends)
        say("load: %s %lu: %ld\n", (k & 0x80000000u) ? "open error" : "request error", k & 0x7fffffffu, v);
    return 0;
}

// ------------------------------------------------------------------------------------ flood

int run_flood(long pairs)
{
    const auto t0 = std::chrono::steady_clock::now();
    long failed = 0;
    for (long i = 0; i < pairs; ++i) {
        HANDLE h = CreateFileW(kDevicePath, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr);
        if (h == INVALID_HANDLE_VALUE) ++failed;
        else CloseHandle(h);
    }
    const auto t1 = std::chrono::steady_clock::now();
    auto device = open_device();
    const bool hello = device && hello_ok(device.get());
    const auto t2 = std::chrono::steady_clock::now();
    using ms = std::chrono::duration<double, std::milli>;
    say("flood: %ld open/close pairs in %.1f ms (%.1f us per pair), %ld opens failed; next open+SAY_HELLO took %.1f ms: %s\n",
        pairs, ms(t1 - t0).count(), ms(t1 - t0).count() * 1000.0 / (pairs ? pairs : 1), failed, ms(t2 - t1).count(),
        hello ? "correct" : "WRONG");
    return hello && failed == 0 ? 0 : 1;
}

// ----------------------------------------------------------------------------------- reload

int run_reload(long cycles, const std::wstring& sys, const std::wstring& name)
{
    kmd::ScHandle scm;
    if (auto f = kmd::open_scm(scm)) {
        say("reload: %s\n", f.describe().c_str());
        return 1;
    }
    long failures = 0, retried = 0;
    for (long i = 0; i < cycles; ++i) {
        std::string why;
        {
            kmd::ScHandle service;
            DWORD state = 0;
            kmd::StartRetry retry; // kmd::start_service retries Wine's failed host start once, as kmdctl does
            if (auto f = kmd::create_kernel_service(scm.get(), name, name, sys, SERVICE_DEMAND_START, service)) {
                why = f.describe();
            } else if (auto f2 = kmd::start_service(service.get(), &retry)) {
                why = retry.retried ? retry.first.describe() + ", then " + f2.describe() : f2.describe();
            } else {
                if (retry.retried) {
                    ++retried;
                    say("RETRIED reload cycle %ld: %s; the second start worked\n", i, retry.first.describe().c_str());
                }
                auto device = open_device();
                if (!device || !hello_ok(device.get())) why = "SAY_HELLO failed after start";
            }
            if (service) {
                if (auto f3 = kmd::stop_service(service.get(), 10000, state); f3 && why.empty()) why = f3.describe();
                if (auto f4 = kmd::delete_service(service.get()); f4 && why.empty()) why = f4.describe();
            }
        }
        // After the stop the device must be gone: opening it must fail with "not found".
        if (why.empty()) {
            HANDLE h = CreateFileW(kDevicePath, GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr);
            if (h != INVALID_HANDLE_VALUE) {
                CloseHandle(h);
                why = "the device still opens after the stop";
            } else if (GetLastError() != ERROR_FILE_NOT_FOUND) {
                why = "opening the stopped device failed with " + std::to_string(GetLastError()) + ", not 2";
            }
        }
        if (!why.empty()) {
            ++failures;
            say("FAIL reload cycle %ld: %s\n", i, why.c_str());
            if (failures > 3) break;
        }
    }
    say("reload: %ld cycles, %ld failures, %ld starts retried after Wine's host failed to start (error 1359)\n", cycles,
        failures, retried);
    return failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------------ spawn

// services.exe starts each driver host with CreateProcessW(DETACHED_PROCESS |
// CREATE_UNICODE_ENVIRONMENT). When Wine cannot bring a new process up, CreateProcess fails with
// 1359 (ntdll maps "the new process died before it finished starting, exit code 0" to
// STATUS_INTERNAL_ERROR), and StartService passes that code on. This counts how often it happens.
int run_spawn(long count)
{
    wchar_t self[MAX_PATH];
    if (!GetModuleFileNameW(nullptr, self, MAX_PATH)) return 1;
    std::wstring command = L"\"" + std::wstring(self) + L"\" exit";
    std::map<DWORD, long> errors;
    long failed = 0, bad_exit = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        STARTUPINFOW si{};
        si.cb = sizeof si;
        PROCESS_INFORMATION pi{};
        std::vector<wchar_t> line(command.begin(), command.end());
        line.push_back(L'\0');
        if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, DETACHED_PROCESS | CREATE_UNICODE_ENVIRONMENT,
                            nullptr, nullptr, &si, &pi)) {
            const DWORD e = GetLastError();
            ++errors[e];
            ++failed;
            say("spawn %ld: CreateProcess failed with %lu\n", i, e);
            continue;
        }
        WaitForSingleObject(pi.hProcess, 30000);
        DWORD code = 1;
        GetExitCodeProcess(pi.hProcess, &code);
        if (code != 0) {
            ++bad_exit;
            say("spawn %ld: the child exited with %lu\n", i, code);
        }
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string by_error;
    for (auto [e, n] : errors) by_error += " " + std::to_string(e) + ":" + std::to_string(n);
    say("spawn: %ld processes, %ld CreateProcess failures (by error:%s), %ld bad exits, %.1f s (%.1f ms each)\n", count, failed,
        by_error.empty() ? " none" : by_error.c_str(), bad_exit, s, count ? s * 1000.0 / count : 0.0);
    return failed == 0 && bad_exit == 0 ? 0 : 1;
}

int usage()
{
    std::fprintf(stderr, "usage: skeleton_stress hello | mixed THREADS REQUESTS SEED [--only T:I] | fuzz COUNT SEED [--only I]\n"
                         "       | load SECONDS THREADS | flood PAIRS | reload CYCLES SYS NAME | spawn COUNT\n");
    return 2;
}

} // namespace

int wmain(int argc, wchar_t** argv)
{
    if (argc < 2) return usage();
    const std::wstring verb = argv[1];
    auto num = [&](int i) { return i < argc ? std::wcstoll(argv[i], nullptr, 0) : -1; };
    auto only = [&](int i) -> std::wstring { return (i + 1 < argc && std::wstring(argv[i]) == L"--only") ? argv[i + 1] : L""; };
    if (verb == L"hello") {
        auto device = open_device();
        const bool ok = device && hello_ok(device.get());
        say("hello: %s\n", ok ? "correct" : "FAILED");
        return ok ? 0 : 1;
    }
    if (verb == L"mixed" && argc >= 5) {
        int t = -1, i = -1;
        if (std::wstring o = only(5); !o.empty() && std::swscanf(o.c_str(), L"%d:%d", &t, &i) != 2) return usage();
        return run_mixed(static_cast<int>(num(2)), static_cast<int>(num(3)), static_cast<uint64_t>(num(4)), t, i);
    }
    if (verb == L"fuzz" && argc >= 4) {
        std::wstring o = only(4);
        return run_fuzz(static_cast<long>(num(2)), static_cast<uint64_t>(num(3)), o.empty() ? -1 : std::wcstol(o.c_str(), nullptr, 0));
    }
    if (verb == L"load" && argc >= 4) return run_load(static_cast<int>(num(2)), static_cast<int>(num(3)));
    if (verb == L"flood" && argc >= 3) return run_flood(static_cast<long>(num(2)));
    if (verb == L"exit") return 0;
    if (verb == L"spawn" && argc >= 3) return run_spawn(static_cast<long>(num(2)));
    if (verb == L"reload" && argc >= 5) return run_reload(static_cast<long>(num(2)), argv[3], argv[4]);
    return usage();
}
