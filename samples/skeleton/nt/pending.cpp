// pending.cpp - IOCTL_SKELETON_DELAY_PENDING: a cancel-safe queue of in-flight requests and the
// worker thread that completes them when they are due.
//
// Ownership rule (the classic IoSetCancelRoutine protocol; Wine 8 exports IoCsqInitialize but
// stubs IoCsqInsertIrp/IoCsqRemoveIrp, so the cancel-safe queue routines are not an option):
// a queued IRP carries our cancel routine. Whoever takes that routine away with
// IoSetCancelRoutine(irp, nullptr) and gets it back non-null owns the IRP: the worker (due, or
// shutting down), cancel_file(), or queue() itself. If the I/O manager got there first
// (CancelIoEx), the cancel routine owns it. The list is only ever touched under the queue lock.
//
// Completion rule: only the worker completes a queued IRP. The cancel routine and cancel_file()
// move the IRP they own onto the worker's `taken` list and wake it. So the last driver code to run
// is the worker's, and it ends in PsTerminateSystemThread, which never returns into the image:
// stop() waits for the thread object, and nothing signalled after that still runs driver code (a
// cancel routine completing an IRP itself and then signalling "idle" kept running after the
// signal that let DriverUnload return: a stop 0xCE window).
#include "pending.hpp"

#include <skeleton/ioctl.h>

#include "../core/requests.hpp"
#include <kmd/kernel_raii.hpp>

namespace skeleton::nt::pending {
namespace {

struct Queue {
    KSPIN_LOCK lock;
    LIST_ENTRY irps;     // queued IRPs, linked through Irp->Tail.Overlay.ListEntry
    LIST_ENTRY taken;    // IRPs a cancel took off `irps`, for the worker to complete (same link)
    ULONG count;         // IRPs the driver holds and has not completed (either list): under `lock`
    bool stopping;       // under `lock`: no new IRP is queued once set
    KEVENT wake;         // synchronization: something was queued or taken, or stop() was called
    HANDLE thread;       // the worker, nullptr when not running
    LONGLONG frequency;  // KeQueryPerformanceCounter ticks per second
};

// Zero-initialised static storage: the driver has no C runtime to run constructors. The spin
// lock, list and events are initialised in start(); until then `thread` is nullptr.
Queue g_queue;

// a / b for the non-negative values here, by shift-and-subtract: a 64-bit `/` on x86 becomes a
// call to libgcc's __divdi3, which no kernel exports (the kit links no C runtime).
LONGLONG divide(LONGLONG a, LONGLONG b)
{
    ULONGLONG n = static_cast<ULONGLONG>(a), q = 0, r = 0;
    const ULONGLONG d = static_cast<ULONGLONG>(b);
    for (int bit = 63; bit >= 0; --bit) {
        r = (r << 1) | ((n >> bit) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ull << bit;
        }
    }
    return static_cast<LONGLONG>(q);
}

LONGLONG now_ticks()
{
    return KeQueryPerformanceCounter(nullptr).QuadPart;
}

// The due time lives in the IRP itself (DriverContext: four pointers the owner of an IRP may
// use while it holds it), so queueing allocates nothing.
void set_due(PIRP irp, LONGLONG due)
{
    static_assert(sizeof irp->Tail.Overlay.DriverContext >= sizeof due);
    RtlCopyMemory(irp->Tail.Overlay.DriverContext, &due, sizeof due);
}

LONGLONG due_of(PIRP irp)
{
    LONGLONG due;
    RtlCopyMemory(&due, irp->Tail.Overlay.DriverContext, sizeof due);
    return due;
}

PIRP irp_of(PLIST_ENTRY entry)
{
    return CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
}

void complete(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

// The I/O manager cancels a queued IRP (CancelIoEx, thread exit). It holds the cancel spin lock
// when it calls us, and has already taken our routine away, so the IRP is ours: handed to the
// worker, which completes it.
DRIVER_CANCEL cancel_routine;

_Use_decl_annotations_
VOID NTAPI cancel_routine(PDEVICE_OBJECT, PIRP irp) // at DISPATCH_LEVEL, holding the cancel spin lock
{
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KIRQL irql;
    KeAcquireSpinLock(&g_queue.lock, &irql);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    irp->IoStatus.Status = STATUS_CANCELLED;
    InsertTailList(&g_queue.taken, &irp->Tail.Overlay.ListEntry);
    KeSetEvent(&g_queue.wake, IO_NO_INCREMENT, FALSE); // under the lock: the worker cannot take it before we let go
    KeReleaseSpinLock(&g_queue.lock, irql);
}

// Under the lock: takes `irp` off the queue onto `done` with `status`, unless its cancel routine
// is already running (then that routine completes it).
void take(PIRP irp, NTSTATUS status, PLIST_ENTRY done)
{
    if (IoSetCancelRoutine(irp, nullptr) == nullptr) return;
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    irp->IoStatus.Status = status;
    InsertTailList(done, &irp->Tail.Overlay.ListEntry);
}

// The worker: completes due IRPs, then sleeps until the next one is due or something is queued.
KSTART_ROUTINE worker;

// The worker: completes due and taken IRPs, then sleeps until the next one is due or something
// happens. The only code that completes a queued IRP, and the last driver code to run at stop.
_Use_decl_annotations_
VOID NTAPI worker(PVOID) // a system thread, at PASSIVE_LEVEL
{
    for (;;) {
        LIST_ENTRY done;
        InitializeListHead(&done);
        LONGLONG next_due = MAXLONGLONG;
        KIRQL irql;
        KeAcquireSpinLock(&g_queue.lock, &irql);
        const LONGLONG now = now_ticks();
        const bool stopping = g_queue.stopping;
        while (!IsListEmpty(&g_queue.taken)) InsertTailList(&done, RemoveHeadList(&g_queue.taken));
        for (PLIST_ENTRY e = g_queue.irps.Flink; e != &g_queue.irps;) {
            PIRP irp = irp_of(e);
            e = e->Flink; // take() may unlink irp
            const LONGLONG due = due_of(irp);
            if (stopping || due <= now)
                take(irp, stopping ? STATUS_CANCELLED : STATUS_SUCCESS, &done);
            else if (due < next_due)
                next_due = due;
        }
        KeReleaseSpinLock(&g_queue.lock, irql);

        ULONG completed = 0;
        while (!IsListEmpty(&done)) {
            PIRP irp = irp_of(RemoveHeadList(&done));
            complete(irp, irp->IoStatus.Status);
            ++completed;
        }
        KeAcquireSpinLock(&g_queue.lock, &irql);
        g_queue.count -= completed;
        // Stopping, and every IRP held is completed: done. (One still listed is in its cancel
        // routine, which hands it over and wakes us.)
        const bool last_round = g_queue.stopping && g_queue.count == 0;
        KeReleaseSpinLock(&g_queue.lock, irql);
        if (last_round) break;

        LARGE_INTEGER timeout; // relative, in 100 ns units
        PLARGE_INTEGER wait_for = nullptr;
        if (!stopping && next_due != MAXLONGLONG) {
            const LONGLONG ticks = next_due - now;
            timeout.QuadPart = -(divide(ticks * 10000000, g_queue.frequency) + 1);
            wait_for = &timeout;
        }
        KeWaitForSingleObject(&g_queue.wake, Executive, KernelMode, FALSE, wait_for);
    }
    PsTerminateSystemThread(STATUS_SUCCESS); // never returns into this image
}

} // namespace

_Use_decl_annotations_
NTSTATUS start()
{
    PAGED_CODE();
    KeInitializeSpinLock(&g_queue.lock);
    InitializeListHead(&g_queue.irps);
    InitializeListHead(&g_queue.taken);
    KeInitializeEvent(&g_queue.wake, SynchronizationEvent, FALSE);
    g_queue.count = 0;
    g_queue.stopping = false;
    LARGE_INTEGER frequency;
    KeQueryPerformanceCounter(&frequency);
    g_queue.frequency = frequency.QuadPart > 0 ? frequency.QuadPart : 1;

    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, nullptr, OBJ_KERNEL_HANDLE, nullptr, nullptr);
    HANDLE thread = nullptr; // closed by stop(), after the worker has ended
    const NTSTATUS status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, &attributes, nullptr, nullptr, worker, nullptr);
    if (NT_SUCCESS(status)) g_queue.thread = thread;
    return status;
}

_Use_decl_annotations_
void stop()
{
    PAGED_CODE();
    if (g_queue.thread == nullptr) return;
    KIRQL irql;
    KeAcquireSpinLock(&g_queue.lock, &irql);
    g_queue.stopping = true;
    KeReleaseSpinLock(&g_queue.lock, irql);
    KeSetEvent(&g_queue.wake, IO_NO_INCREMENT, FALSE);
    // The worker cancels what is queued, completes everything it holds and ends: when its thread
    // object is signalled, no IRP of ours is left and no code of ours runs.
    kmd::KernelHandle thread;
    *thread.out() = g_queue.thread;
    g_queue.thread = nullptr;
    ZwWaitForSingleObject(thread.get(), FALSE, nullptr);
}

NTSTATUS queue(PIRP irp, PIO_STACK_LOCATION stack)
{
    const auto* system = static_cast<const unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    const ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    uint32_t delay_ms = 0;
    const auto checked = static_cast<NTSTATUS>(core::check_delay_request({system, system ? in_len : 0}, delay_ms));
    if (!NT_SUCCESS(checked)) {
        complete(irp, checked);
        return checked;
    }

    // Queue-then-signal in a critical region (as Microsoft's cancel sample does): a suspend APC
    // delivered to this thread between the two would leave the worker asleep with work queued.
    KeEnterCriticalRegion();
    KIRQL irql;
    KeAcquireSpinLock(&g_queue.lock, &irql);
    NTSTATUS refused = STATUS_SUCCESS;
    if (g_queue.stopping || g_queue.thread == nullptr)
        refused = STATUS_DELETE_PENDING;
    else if (g_queue.count >= SKELETON_MAX_PENDING)
        refused = STATUS_INSUFFICIENT_RESOURCES;
    if (!NT_SUCCESS(refused)) {
        KeReleaseSpinLock(&g_queue.lock, irql);
        KeLeaveCriticalRegion();
        complete(irp, refused);
        return refused;
    }

    IoSetCancelRoutine(irp, cancel_routine);
    if (irp->Cancel && IoSetCancelRoutine(irp, nullptr) != nullptr) {
        // Cancelled before we queued it, and the routine never ran: ours to complete.
        KeReleaseSpinLock(&g_queue.lock, irql);
        KeLeaveCriticalRegion();
        complete(irp, STATUS_CANCELLED);
        return STATUS_CANCELLED;
    }
    // Queued (if it was cancelled meanwhile, the cancel routine is waiting for our lock and
    // unlinks it right after we let go).
    set_due(irp, now_ticks() + divide(static_cast<LONGLONG>(delay_ms) * g_queue.frequency, 1000));
    IoMarkIrpPending(irp);
    InsertTailList(&g_queue.irps, &irp->Tail.Overlay.ListEntry);
    ++g_queue.count;
    KeReleaseSpinLock(&g_queue.lock, irql);
    KeSetEvent(&g_queue.wake, IO_NO_INCREMENT, FALSE);
    KeLeaveCriticalRegion();
    return STATUS_PENDING;
}

void cancel_file(PFILE_OBJECT file)
{
    if (g_queue.thread == nullptr) return;
    KIRQL irql;
    KeAcquireSpinLock(&g_queue.lock, &irql);
    bool any = false;
    for (PLIST_ENTRY e = g_queue.irps.Flink; e != &g_queue.irps;) {
        PIRP irp = irp_of(e);
        e = e->Flink;
        if (IoGetCurrentIrpStackLocation(irp)->FileObject == file) {
            take(irp, STATUS_CANCELLED, &g_queue.taken); // the worker completes it
            any = true;
        }
    }
    if (any) KeSetEvent(&g_queue.wake, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&g_queue.lock, irql);
}

} // namespace skeleton::nt::pending
