// fake_nt_guard/kmd/nt.hpp - host-side stand-in for the kit's DDK include, just big enough for
// kmd/dispatch_guard.cpp: interlocked calls on the compiler's atomics, a KEVENT on a condition
// variable, KeDelayExecutionThread on a real sleep (dispatch_guard_tests.cpp runs real threads).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

using LONG = int32_t; // 32 bits, as on Windows
using ULONG = uint32_t;
using NTSTATUS = int32_t;
using BOOLEAN = unsigned char;
using PVOID = void*;
#define FALSE 0
#define STATUS_DEVICE_REMOVED ((NTSTATUS)0xC00002B6L)
#define IO_NO_INCREMENT 0
union LARGE_INTEGER {
    int64_t QuadPart;
};
enum EVENT_TYPE { NotificationEvent };
enum KWAIT_REASON { Executive };
enum KPROCESSOR_MODE { KernelMode };

struct KEVENT {
    std::mutex m;
    std::condition_variable cv;
    bool signaled = false;
};

inline LONG InterlockedIncrement(volatile LONG* p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }
inline LONG InterlockedDecrement(volatile LONG* p) { return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST); }
inline LONG InterlockedExchange(volatile LONG* p, LONG v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline LONG InterlockedExchangeAdd(volatile LONG* p, LONG v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline LONG InterlockedCompareExchange(volatile LONG* p, LONG exchange, LONG comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand; // the value seen, as the Windows call returns it
}

inline PVOID InterlockedExchangePointer(PVOID volatile* p, PVOID v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline PVOID InterlockedCompareExchangePointer(PVOID volatile* p, PVOID exchange, PVOID comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
}
// A thread's id as the kernel hands it out: any value unique per live thread will do.
inline PVOID PsGetCurrentThreadId()
{
    thread_local char here;
    return &here;
}

inline void KeInitializeEvent(KEVENT* e, EVENT_TYPE, BOOLEAN state)
{
    std::lock_guard lock(e->m);
    e->signaled = state != 0;
}
inline LONG KeSetEvent(KEVENT* e, int, BOOLEAN)
{
    std::lock_guard lock(e->m);
    e->signaled = true;
    e->cv.notify_all();
    return 0;
}
inline NTSTATUS KeWaitForSingleObject(KEVENT* e, KWAIT_REASON, KPROCESSOR_MODE, BOOLEAN, LARGE_INTEGER*)
{
    std::unique_lock lock(e->m);
    e->cv.wait(lock, [e] { return e->signaled; });
    return 0;
}
inline NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE, BOOLEAN, LARGE_INTEGER* delay)
{
    std::this_thread::sleep_for(std::chrono::microseconds(-delay->QuadPart / 10)); // relative 100 ns units
    return 0;
}
