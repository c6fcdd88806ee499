// sweep_call.cpp - see sweep_call.hpp.
#include "sweep_call.hpp"

#include <cstdio>
#include <cstring>

#include "cli_parse.hpp"
#include "win32.hpp"

namespace kmd {

namespace {

constexpr DWORD kPage = 4096;
constexpr DWORD kMaxSize = 1u << 20;

#if defined(_WIN64)
const uintptr_t kKernelIn = 0xFFFF800000002000ull, kKernelOut = 0xFFFF800000001000ull;
#else
const uintptr_t kKernelIn = 0x80002000u, kKernelOut = 0x80001000u;
#endif
const uintptr_t kBadIn = 0x10, kBadOut = 0x20;

std::vector<unsigned char>& seeded()
{
    static std::vector<unsigned char> bytes(kMaxSize);
    return bytes;
}

// Pages of which the last is PAGE_NOACCESS: tail(n) is n bytes ending right before it.
class GuardedPages {
public:
    // usable 0: nothing is allocated (a call without a guarded buffer, most of a sweep).
    explicit GuardedPages(DWORD usable) : size_((usable + kPage - 1) / kPage * kPage + kPage)
    {
        if (usable == 0) return;
        base_ = static_cast<unsigned char*>(VirtualAlloc(nullptr, size_, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
        DWORD old = 0;
        if (base_ != nullptr && !VirtualProtect(base_ + size_ - kPage, kPage, PAGE_NOACCESS, &old)) {
            VirtualFree(base_, 0, MEM_RELEASE);
            base_ = nullptr;
        }
    }
    GuardedPages(const GuardedPages&) = delete;
    GuardedPages& operator=(const GuardedPages&) = delete;
    ~GuardedPages()
    {
        if (base_ != nullptr) VirtualFree(base_, 0, MEM_RELEASE);
    }
    // A request the driver never completed may still write here: the pages stay, for good.
    void abandon() { base_ = nullptr; }
    unsigned char* tail(DWORD n) const { return base_ == nullptr ? nullptr : base_ + size_ - kPage - n; }

private:
    unsigned char* base_ = nullptr;
    SIZE_T size_ = 0;
};

// Output of an ordinary call: one buffer for the process's life, so an uncompleted request can
// never write into freed memory.
unsigned char* plain_output()
{
    static std::vector<unsigned char> bytes(kMaxSize);
    return bytes.data();
}

void* place(BufferPlace where, DWORD size, bool input, GuardedPages& guard)
{
    if (size == 0 && where == BufferPlace::seeded) return nullptr;
    switch (where) {
    case BufferPlace::bad: return reinterpret_cast<void*>(input ? kBadIn : kBadOut);
    case BufferPlace::kernel: return reinterpret_cast<void*>(input ? kKernelIn : kKernelOut);
    case BufferPlace::guard: {
        unsigned char* p = guard.tail(size);
        if (p != nullptr && input) std::memcpy(p, seeded().data(), size);
        return p;
    }
    case BufferPlace::seeded: break;
    }
    return input ? seeded().data() : plain_output();
}

const char* place_name(BufferPlace p, bool input)
{
    switch (p) {
    case BufferPlace::guard: return "guard";
    case BufferPlace::bad: return input ? "bad-in" : "bad-out";
    case BufferPlace::kernel: return input ? "kernel-in" : "kernel-out";
    case BufferPlace::seeded: break;
    }
    return "";
}

} // namespace

void seed_input(uint32_t seed)
{
    uint32_t state = seed;
    for (unsigned char& b : seeded()) b = static_cast<unsigned char>((state = state * 1103515245u + 12345u) >> 24);
}

std::optional<CallSpec> parse_call_spec(const std::string& text)
{
    CallSpec spec;
    size_t start = 0;
    bool first = true;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (first) {
            const auto code = parse_u32(part);
            if (!code) return std::nullopt;
            spec.code = *code;
            first = false;
        } else if (part.rfind("in=", 0) == 0 || part.rfind("out=", 0) == 0) {
            const auto size = parse_u32(part.substr(part.find('=') + 1));
            if (!size || *size > kMaxSize) return std::nullopt;
            (part[0] == 'i' ? spec.in_size : spec.out_size) = *size;
        } else if (part == "guard") {
            spec.in_place = spec.out_place = BufferPlace::guard;
        } else if (part == "bad-in") {
            spec.in_place = BufferPlace::bad;
        } else if (part == "bad-out") {
            spec.out_place = BufferPlace::bad;
        } else if (part == "kernel-in") {
            spec.in_place = BufferPlace::kernel;
        } else if (part == "kernel-out") {
            spec.out_place = BufferPlace::kernel;
        } else {
            return std::nullopt;
        }
    }
    return first ? std::nullopt : std::optional<CallSpec>(spec);
}

std::string call_spec_text(const CallSpec& spec)
{
    char text[128];
    std::snprintf(text, sizeof text, "0x%08lx,in=%lu,out=%lu", static_cast<unsigned long>(spec.code), static_cast<unsigned long>(spec.in_size),
                  static_cast<unsigned long>(spec.out_size));
    std::string s = text;
    if (spec.in_place == BufferPlace::guard && spec.out_place == BufferPlace::guard) return s + ",guard";
    if (spec.in_place != BufferPlace::seeded) s += std::string(",") + place_name(spec.in_place, true);
    if (spec.out_place != BufferPlace::seeded) s += std::string(",") + place_name(spec.out_place, false);
    return s;
}

std::vector<CallSpec> exercise_calls(const std::vector<uint32_t>& codes)
{
    static const DWORD sizes[] = {0, 16, kPage, kMaxSize};
    std::vector<CallSpec> calls;
    for (const uint32_t code : codes) {
        for (const DWORD in : sizes)
            for (const DWORD out : sizes) calls.push_back({code, in, out});
        calls.push_back({code, 16, 16, BufferPlace::guard, BufferPlace::guard});
        calls.push_back({code, kPage, kPage, BufferPlace::guard, BufferPlace::guard});
    }
    // Last, so that the requests before them are numbered the same whether or not these arrive.
    for (const uint32_t code : codes) {
        calls.push_back({code, 16, 16, BufferPlace::bad, BufferPlace::seeded});
        calls.push_back({code, 16, 16, BufferPlace::seeded, BufferPlace::bad});
        calls.push_back({code, 16, 16, BufferPlace::kernel, BufferPlace::seeded});
        calls.push_back({code, 16, 16, BufferPlace::seeded, BufferPlace::kernel});
    }
    return calls;
}

CallResult send_call(HANDLE device, const CallSpec& spec, DWORD pend_ms, DWORD cancel_ms)
{
    GuardedPages in_guard(spec.in_place == BufferPlace::guard ? spec.in_size : 0);
    GuardedPages out_guard(spec.out_place == BufferPlace::guard ? spec.out_size : 0);
    void* in = place(spec.in_place, spec.in_size, true, in_guard);
    void* out = place(spec.out_place, spec.out_size, false, out_guard);
    CallResult r;
    // One event for every call of the process (the sweep is one thread; starting a request resets
    // its event, on Windows and in Wine's server), never closed: a request that never completed
    // may still signal it. One per call cost two more server round trips per request.
    static const HANDLE done = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (done == nullptr) {
        r.error = GetLastError();
        return r;
    }
    OVERLAPPED ov{};
    ov.hEvent = done;
    DWORD returned = 0;
    if (DeviceIoControl(device, spec.code, in, spec.in_size, out, spec.out_size, &returned, &ov)) {
        r.returned = returned;
    } else if ((r.error = GetLastError()) == ERROR_IO_PENDING) {
        if (WaitForSingleObject(done, pend_ms) != WAIT_OBJECT_0) {
            r.pended = true;
            CancelIo(device); // the sweep is one thread: CancelIo reaches this request (NT 5.x has no CancelIoEx)
            if (WaitForSingleObject(done, cancel_ms) != WAIT_OBJECT_0) {
                r.stuck = true; // the driver ignores the cancel: what the request may still touch must stay
                in_guard.abandon();
                out_guard.abandon();
                return r;
            }
        }
        r.error = GetOverlappedResult(device, &ov, &returned, FALSE) ? 0 : GetLastError();
        r.returned = returned;
    }
    return r;
}

} // namespace kmd
