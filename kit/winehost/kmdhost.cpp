// kmdhost.sys - the kit's Wine host shim: what Wine's I/O manager gets wrong about unloading, fixed
// from outside the driver, for any driver (one built with this kit or not).
//
// Windows calls DriverUnload only once nothing references the driver's devices, so a request can
// never run in an unloaded image. Wine 8 calls DriverUnload on its service thread while its request
// thread keeps dispatching, then FreeLibrary()s the image at once (docs/wine-unload-race.md): a
// request already taken off the host's queue then runs freed code and the host dies. A driver
// should not have to carry a workaround for that, and one written for Windows does not.
//
// kmdhost.sys is loaded into a driver host (winedevice.exe: one per load-order group) before the
// drivers, by kmdctl and the harness, under Wine only (kit/loader/wine_host.cpp). Every driver image
// loaded after it is wrapped from outside, the way kmdverify.sys gets in (kit/verifier/kmdverify.cpp
// says how): its entry point is redirected through a stub in its header page to host_entry(), which
// calls the real DriverEntry and then wraps the dispatch routines and DriverUnload it installed.
//   dispatch: admitted through the image's DispatchGuard; once unloading has begun, refused
//             (STATUS_DEVICE_REMOVED; CLOSE and CLEANUP succeed, there is nothing to refuse);
//   unload:   run_down() (no new admissions, wait for admitted requests), the real DriverUnload,
//             then one request of the shim's own through the host's queue, on its own device, and
//             a wait for it: Wine's single request thread takes requests in order, so once it has
//             been answered every request taken before it has come, been refused and gone, and the
//             image can be unmapped.
// The shim's device lives as long as the shim: nothing is created or sent from an unload routine
// but that one request. It is never stopped (no DriverUnload): the drivers it wraps call through it.
//
// It also tells whether anything of an unloaded image can still run (image_watch.hpp): in the
// kernel log, and as the REG_SZ <service name> under its own key's volatile Unloads subkey, "none"
// or the reason, for kmdctl's stop (kit/loader/host_health.cpp) to skip its wait for a late crash.
#include <kmd/nt.hpp>

#include <ntimage.h>

#include "dispatch_guard.hpp"
#include "image_patch.hpp"
#include "image_watch.hpp"
#include "spin_lock_guard.hpp"

namespace {

kmd::winehost::ZwProtectVirtualMemoryFn ZwProtectVirtualMemory;

constexpr unsigned kMaxImages = 32;
// The entry stub's place in a wrapped image's header page (image_patch.hpp), below kmdverify's.
constexpr kmd::winehost::EntryStub kStub{0xFC0, 0x5453484B /* 'KHST' */};
constexpr ULONG kBarrierIoctl = CTL_CODE(FILE_DEVICE_UNKNOWN, 0xBFF, METHOD_BUFFERED, FILE_ANY_ACCESS);

struct Image {
    bool used;
    char* base;
    SIZE_T size;
    PDRIVER_INITIALIZE real_entry;
    PDRIVER_UNLOAD real_unload;
    PDRIVER_DISPATCH real_major[IRP_MJ_MAXIMUM_FUNCTION + 1];
    kmd::DispatchGuard guard;
    kmd::winehost::ImageWatch watch;
};

// "%.*ws" and these two arguments print a counted UNICODE_STRING (Wine's DbgPrint has no %wZ).
#define USTR(u) static_cast<int>((u)->Length / sizeof(WCHAR)), (u)->Buffer

Image g_images[kMaxImages];
KSPIN_LOCK g_lock;
char* g_self_base;
SIZE_T g_self_size;
WCHAR g_device_text[96];
UNICODE_STRING g_device_name; // \Device\<our service name>: one shim per host, one name each
ULONG g_generation;           // counts image loads: a watch's slot is used again by later images
HANDLE g_unloads_key;         // <our service key>\Unloads, volatile: the verdicts, by service name

class Locked : kmd::winehost::SpinLockGuard {
public:
    Locked() : SpinLockGuard(g_lock) {}
};

Image* image_at(const void* address)
{
    const char* p = static_cast<const char*>(address);
    Locked lock;
    for (Image& i : g_images)
        if (i.used && p >= i.base && p < i.base + i.size) return &i;
    return nullptr;
}

Image* image_of(PDRIVER_OBJECT driver) { return driver != nullptr ? image_at(driver->DriverStart) : nullptr; }

// The unload's verdict, where kmdctl reads it: "none" (nothing of the image can run any more), or
// the reason something may.
void publish_verdict(PDRIVER_OBJECT driver, const char* why)
{
    if (g_unloads_key == nullptr) return;
    UNICODE_STRING name = driver->DriverName; // \Driver\<service name>
    USHORT start = name.Length / sizeof(WCHAR);
    while (start > 0 && name.Buffer[start - 1] != L'\\') --start;
    name.Buffer += start;
    name.Length = static_cast<USHORT>(name.Length - start * sizeof(WCHAR));
    name.MaximumLength = name.Length;
    WCHAR text[96];
    const char* says = why != nullptr ? why : "none";
    ULONG n = 0;
    for (; says[n] != 0 && n + 1 < ARRAYSIZE(text); ++n) text[n] = static_cast<WCHAR>(says[n]);
    text[n] = 0;
    ZwSetValueKey(g_unloads_key, &name, 0, REG_SZ, text, (n + 1) * sizeof(WCHAR));
}

void release(Image& image)
{
    Locked lock;
    image.used = false;
}

LONGLONG now_100ns()
{
    LARGE_INTEGER t;
    KeQuerySystemTime(&t);
    return t.QuadPart;
}

// One request through the host's queue, behind anything Wine's request thread took before it.
// A synchronous handle: ZwDeviceIoControlFile returns once the request has been dispatched.
// (Wine 8 returns from the open as soon as the CREATE is queued: the IOCTL is what waits.)
bool pass_barrier()
{
    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, &g_device_name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, nullptr, nullptr);
    IO_STATUS_BLOCK io{};
    HANDLE handle = nullptr;
    if (!NT_SUCCESS(ZwCreateFile(&handle, GENERIC_READ | SYNCHRONIZE, &attributes, &io, nullptr, 0, 0, FILE_OPEN,
                                 FILE_SYNCHRONOUS_IO_NONALERT, nullptr, 0)))
        return false;
    ZwDeviceIoControlFile(handle, nullptr, nullptr, nullptr, &io, kBarrierIoctl, nullptr, 0, nullptr, 0);
    ZwClose(handle);
    return true;
}

DRIVER_DISPATCH host_dispatch;
DRIVER_UNLOAD host_unload;
DRIVER_INITIALIZE host_entry;
DRIVER_DISPATCH ShimDispatch;

_Use_decl_annotations_
NTSTATUS NTAPI host_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    const UCHAR major = IoGetCurrentIrpStackLocation(irp)->MajorFunction;
    Image* image = image_of(device->DriverObject);
    PDRIVER_DISPATCH real = image != nullptr && major <= IRP_MJ_MAXIMUM_FUNCTION ? image->real_major[major] : nullptr;
    if (real != nullptr) {
        const auto pass = image->guard.enter();
        if (pass) {
            kmd::winehost::irp_dispatched(image->watch, irp);
            return real(device, irp);
        }
    }
    // Unloading (or already gone): the driver's code must not run again.
    const NTSTATUS status = major == IRP_MJ_CLOSE || major == IRP_MJ_CLEANUP ? STATUS_SUCCESS : kmd::DispatchGuard::kRefusal;
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

_Use_decl_annotations_
VOID NTAPI host_unload(PDRIVER_OBJECT driver)
{
    Image* image = image_of(driver);
    if (image == nullptr || image->real_unload == nullptr) return;
    const LONGLONG start = now_100ns();
    image->guard.run_down();
    image->real_unload(driver);
    // A host that unloads on the thread it dispatches on holds no request now, and a request sent
    // through its queue from here would wait for this very thread.
    bool barrier = false;
    if (!image->guard.last_dispatch_on_this_thread()) barrier = pass_barrier();
    image->guard.wait_until_out();
    const LONGLONG elapsed = now_100ns() - start;
    // 32-bit division: a 64-bit one would call libgcc on x86, which no kernel exports.
    const ULONG us = elapsed > 0 && elapsed < 0x7FFFFFFF ? static_cast<ULONG>(elapsed) / 10 : 0;
    const char* why = kmd::winehost::what_may_still_run(image->watch, driver);
    DbgPrint("kmdhost: %.*ws unloaded; its requests settled in %lu us%s; %s%s\n", USTR(&driver->DriverName), us,
             barrier ? "" : " (no barrier: unloaded on the dispatch thread)", why == nullptr ? "nothing of it can run any more" : "it may still run: ",
             why == nullptr ? "" : why);
    publish_verdict(driver, why);
    release(*image);
}

_Use_decl_annotations_
NTSTATUS NTAPI host_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    Image* image = image_of(driver);
    if (image == nullptr || image->real_entry == nullptr) return STATUS_DRIVER_INTERNAL_ERROR;
    // What the I/O manager put in the table: whatever DriverEntry changes is the driver's (or a
    // verifier's wrapper around it), and only that is wrapped.
    PDRIVER_DISPATCH before[IRP_MJ_MAXIMUM_FUNCTION + 1];
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) before[i] = driver->MajorFunction[i];
    image->guard.initialize();
    kmd::winehost::watch_image(image->watch, image->base, image->size, ZwProtectVirtualMemory);
    const NTSTATUS status = image->real_entry(driver, registry_path);
    if (!NT_SUCCESS(status)) {
        kmd::winehost::unwatch_image(image->watch, ZwProtectVirtualMemory); // Wine keeps this mapping for the next start
        release(*image);
        return status;
    }
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) {
        PDRIVER_DISPATCH routine = driver->MajorFunction[i];
        if (routine == nullptr || routine == before[i]) continue;
        image->real_major[i] = routine;
        driver->MajorFunction[i] = host_dispatch;
    }
    if (driver->DriverUnload != nullptr) {
        image->real_unload = driver->DriverUnload;
        driver->DriverUnload = host_unload;
    }
    return status;
}

VOID NTAPI on_image_load(PUNICODE_STRING full_name, HANDLE, PIMAGE_INFO info)
{
    char* base = static_cast<char*>(info->ImageBase);
    if (!info->SystemModeImage || base == g_self_base) return;
    Image* image = nullptr;
    {
        Locked lock;
        for (Image& i : g_images)
            if (i.used && i.base == base) image = &i;
        if (image == nullptr)
            for (Image& i : g_images)
                if (!i.used) {
                    image = &i;
                    break;
                }
        if (image != nullptr) {
            image->used = true;
            image->base = base;
            image->size = info->ImageSize;
            image->real_entry = nullptr;
            image->real_unload = nullptr;
            image->watch.generation = ++g_generation;
            for (PDRIVER_DISPATCH& r : image->real_major) r = nullptr;
        }
    }
    if (image == nullptr) {
        DbgPrint("kmdhost: ERROR more than %u drivers in this host; %.*ws runs without the unload shim\n", kMaxImages, USTR(full_name));
        return;
    }
    image->real_entry = kmd::winehost::redirect_entry(ZwProtectVirtualMemory, base, kStub, host_entry);
    if (image->real_entry == nullptr) {
        DbgPrint("kmdhost: ERROR cannot redirect the entry point of %.*ws; it runs without the unload shim\n", USTR(full_name));
        release(*image);
    }
}

// The shim's own device: the unload barrier's requests land here, and succeed.
_Use_decl_annotations_
NTSTATUS NTAPI ShimDispatch(PDEVICE_OBJECT, PIRP irp)
{
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

// <our service key>\Unloads, made volatile: the verdicts live as long as the session.
HANDLE open_unloads_key(PUNICODE_STRING registry_path)
{
    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, registry_path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, nullptr, nullptr);
    HANDLE service = nullptr;
    if (!NT_SUCCESS(ZwOpenKey(&service, KEY_CREATE_SUB_KEY, &attributes))) return nullptr;
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"Unloads");
    InitializeObjectAttributes(&attributes, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, service, nullptr);
    HANDLE unloads = nullptr;
    if (!NT_SUCCESS(ZwCreateKey(&unloads, KEY_SET_VALUE, &attributes, 0, nullptr, REG_OPTION_VOLATILE, nullptr))) unloads = nullptr;
    ZwClose(service);
    return unloads;
}

} // namespace

namespace kmd::winehost {

ImageWatch* watch_at(const void* address)
{
    Image* image = image_at(address);
    return image != nullptr ? &image->watch : nullptr;
}

ImageWatch* find_watch(bool (*visit)(ImageWatch& w, const void* what), const void* what)
{
    for (Image& i : g_images) {
        bool used;
        {
            Locked lock;
            used = i.used;
        }
        if (used && visit(i.watch, what)) return &i.watch;
    }
    return nullptr;
}

} // namespace kmd::winehost

extern "C" DRIVER_INITIALIZE DriverEntry;

_Use_decl_annotations_
extern "C" NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    KeInitializeSpinLock(&g_lock);
    g_self_base = static_cast<char*>(driver->DriverStart);
    g_self_size = driver->DriverSize;
    UNICODE_STRING protect;
    RtlInitUnicodeString(&protect, L"ZwProtectVirtualMemory");
    ZwProtectVirtualMemory = reinterpret_cast<kmd::winehost::ZwProtectVirtualMemoryFn>(MmGetSystemRoutineAddress(&protect));
    if (ZwProtectVirtualMemory == nullptr) return STATUS_PROCEDURE_NOT_FOUND;
    kmd::winehost::initialize_image_watches();
    g_unloads_key = open_unloads_key(registry_path); // none: no verdicts, and every stop waits as before

    // \Device\ + the last component of our service key.
    USHORT start = registry_path->Length / sizeof(WCHAR);
    while (start > 0 && registry_path->Buffer[start - 1] != L'\\') --start;
    static constexpr WCHAR prefix[] = L"\\Device\\";
    USHORT n = 0;
    for (; prefix[n] != 0; ++n) g_device_text[n] = prefix[n];
    for (USHORT i = start; i < registry_path->Length / sizeof(WCHAR) && n + 1 < ARRAYSIZE(g_device_text); ++i)
        g_device_text[n++] = registry_path->Buffer[i];
    g_device_text[n] = 0;
    RtlInitUnicodeString(&g_device_name, g_device_text);

    PDEVICE_OBJECT device = nullptr;
    NTSTATUS status = IoCreateDevice(driver, 0, &g_device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) return status;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    for (PDRIVER_DISPATCH& slot : driver->MajorFunction) slot = ShimDispatch;

    status = PsSetLoadImageNotifyRoutine(on_image_load);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DbgPrint("kmdhost: ready (%.*ws); drivers loaded into this host from now on are unloaded safely\n", USTR(&g_device_name));
    return STATUS_SUCCESS;
}
