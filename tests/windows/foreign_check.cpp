// foreign_check.exe - the user-mode half of the foreign corpus' behaviour checks
// (tests/e2e/test_foreign_drivers.py): what a driver's caller sees, which kmdctl's one-request
// verbs cannot show.
//   foreign_check bell      notifier.sys signals the program's own event from its timer DPC
//   foreign_check callback  inverted.sys completes a parked request when an event is fired, and
//                           cancels one on CancelIo and one on closing the handle
// Prints one "ok ..." or "FAIL ..." line per check; exit code 0 only when every check passed.
#include <windows.h>

#include <cstdio>
#include <cstring>
#include <cwchar>

namespace {

constexpr DWORD kNotifyRegister = 0x00222080, kNotifyArm = 0x00222084, kNotifyUnregister = 0x00222088;
constexpr DWORD kInvertedWait = 0x002220c0, kInvertedFire = 0x002220c4;

int g_failures = 0;

void check(bool ok, const char* what, DWORD detail = 0)
{
    std::printf("%s %s (%lu)\n", ok ? "ok" : "FAIL", what, static_cast<unsigned long>(detail));
    std::fflush(stdout);
    if (!ok) ++g_failures;
}

class Handle {
public:
    explicit Handle(HANDLE h = nullptr) : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { close(); }
    void close()
    {
        if (h_ != nullptr) CloseHandle(h_);
        h_ = nullptr;
    }
    HANDLE get() const { return h_; }
    explicit operator bool() const { return h_ != nullptr; }

private:
    HANDLE h_;
};

HANDLE open(const wchar_t* path, DWORD flags = 0)
{
    return CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, flags, nullptr);
}

bool control(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out = nullptr, DWORD out_size = 0)
{
    DWORD returned = 0;
    return DeviceIoControl(device, code, const_cast<void*>(in), in_size, out, out_size, &returned, nullptr) != FALSE;
}

void bell()
{
    Handle device(open(L"\\\\.\\Bell"));
    check(static_cast<bool>(device), "open \\\\.\\Bell", device ? 0 : GetLastError());
    if (!device) return;
    Handle event(CreateEventW(nullptr, FALSE, FALSE, nullptr));
    HANDLE handle = event.get();
    const bool registered = control(device.get(), kNotifyRegister, &handle, sizeof handle);
    check(registered, "register the event", GetLastError());
    if (!registered) {
        const DWORD ms = 50;
        check(!control(device.get(), kNotifyArm, &ms, sizeof ms), "arm without an event is refused", GetLastError());
        return;
    }
    const DWORD ms = 50;
    check(control(device.get(), kNotifyArm, &ms, sizeof ms), "arm the 50 ms timer", GetLastError());
    const DWORD waited = WaitForSingleObject(event.get(), 5000);
    check(waited == WAIT_OBJECT_0, "the driver signalled the event from its DPC", waited);
    // Not signalled again without a new arm, and unregistering leaves nothing to signal.
    check(WaitForSingleObject(event.get(), 200) == WAIT_TIMEOUT, "signalled once per arm");
    check(control(device.get(), kNotifyUnregister, nullptr, 0), "unregister", GetLastError());
    check(!control(device.get(), kNotifyArm, &ms, sizeof ms), "arm without an event is refused", GetLastError());
}

// One parked IOCTL_INVERTED_WAIT, overlapped.
struct Parked {
    OVERLAPPED ov{};
    DWORD value = 0;
    Handle done{CreateEventW(nullptr, TRUE, FALSE, nullptr)};
    bool send(HANDLE device)
    {
        ov.hEvent = done.get();
        DWORD returned = 0;
        return !DeviceIoControl(device, kInvertedWait, nullptr, 0, &value, sizeof value, &returned, &ov) && GetLastError() == ERROR_IO_PENDING;
    }
    DWORD finish(HANDLE device, DWORD& returned)
    {
        if (WaitForSingleObject(done.get(), 5000) != WAIT_OBJECT_0) return WAIT_TIMEOUT;
        return GetOverlappedResult(device, &ov, &returned, FALSE) ? 0 : GetLastError();
    }
};

void callback()
{
    Handle device(open(L"\\\\.\\Callback", FILE_FLAG_OVERLAPPED));
    check(static_cast<bool>(device), "open \\\\.\\Callback", device ? 0 : GetLastError());
    if (!device) return;
    Handle other(open(L"\\\\.\\Callback"));
    DWORD returned = 0;
    {
        Parked p;
        check(p.send(device.get()), "a wait is parked (pending)", GetLastError());
        check(WaitForSingleObject(p.done.get(), 100) == WAIT_TIMEOUT, "it stays parked while nothing happens");
        const DWORD event = 0x5eed;
        check(control(other.get(), kInvertedFire, &event, sizeof event), "fire an event from another handle", GetLastError());
        const DWORD error = p.finish(device.get(), returned);
        check(error == 0 && returned == sizeof(DWORD) && p.value == event, "the parked wait completed with the event's value", error);
    }
    {
        Parked p;
        check(p.send(device.get()), "a second wait is parked", GetLastError());
        CancelIo(device.get());
        const DWORD error = p.finish(device.get(), returned);
        check(error == ERROR_OPERATION_ABORTED, "CancelIo completes it as cancelled", error);
    }
    {
        Parked p;
        check(p.send(device.get()), "a third wait is parked", GetLastError());
        device.close(); // IRP_MJ_CLEANUP on Windows; under Wine the close
        const DWORD waited = WaitForSingleObject(p.done.get(), 5000);
        check(waited == WAIT_OBJECT_0 && p.ov.Internal == static_cast<ULONG_PTR>(0xC0000120L) /* STATUS_CANCELLED */,
              "closing the handle cancels it", static_cast<DWORD>(p.ov.Internal));
    }
    const DWORD event = 1;
    check(!control(other.get(), kInvertedFire, &event, sizeof event) && GetLastError() == ERROR_NO_MORE_ITEMS,
          "nobody is left waiting", GetLastError());
}

} // namespace

int wmain(int argc, wchar_t** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: foreign_check bell|callback\n");
        return 2;
    }
    if (std::wcscmp(argv[1], L"bell") == 0) bell();
    else if (std::wcscmp(argv[1], L"callback") == 0) callback();
    else return 2;
    return g_failures == 0 ? 0 : 1;
}
