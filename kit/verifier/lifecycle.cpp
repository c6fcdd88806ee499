// lifecycle.cpp - DriverEntry and DriverUnload under the verifier: the entry wraps the dispatch
// routines and the unload, and what is left after a failed DriverEntry or after unload is a leak.
#include "verifier.hpp"

namespace kmdverify {

namespace {

// Everything the driver still owns: reported (when `report`), then released by the verifier so
// that the host stays usable for the next start (Windows would keep the leak until reboot).
ULONG leftovers(Image& image, const char* phase)
{
    return timer_leftovers(image, phase) + pool_leftovers(image, phase) + object_leftovers(image, phase) + irp_leftovers(image, phase);
}

void release_image(Image& image)
{
    forget_irps_of(image);
    forget_routines_of(image);
    Locked lock;
    RtlZeroMemory(&image, sizeof image);
}

VOID NTAPI verified_unload(PDRIVER_OBJECT driver)
{
    Image* image = image_of_driver(driver);
    if (image == nullptr || image->real_unload == nullptr) return;
    {
        RunningImage running(image);
        image->real_unload(driver);
    }
    leftovers(*image, "(at unload)");
    summary(*image, "unload");
    release_image(*image);
}

} // namespace

NTSTATUS NTAPI verified_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    Image* image = image_of_driver(driver);
    if (image == nullptr || image->real_entry == nullptr) return STATUS_DRIVER_INTERNAL_ERROR;
    image->driver = driver;
    image->failable_seen = 0;
    image->injected = nullptr;
    image->in_entry = true;
    NTSTATUS status;
    {
        RunningImage running(image);
        status = image->real_entry(driver, registry_path);
    }
    image->in_entry = false;
    ULONG devices = 0;
    for (const Device& d : image->devices)
        if (d.object != nullptr) ++devices;
    DbgPrint("kmdverify: ENTRY driver=%ws status=0x%08lx failable=%lu fault_at=%lu injected=%s devices=%lu\n", image->name,
             static_cast<ULONG>(status), image->failable_seen, image->fault_at, image->injected ? image->injected : "-", devices);
    // The devices and links the driver made, so the front end finds them whatever they are named,
    // and sweeps the IOCTL codes of each device's type.
    if (NT_SUCCESS(status))
        for (const Device& d : image->devices)
            if (d.object != nullptr)
                DbgPrint("kmdverify: DEVICE driver=%ws type=0x%lx\n", image->name, static_cast<ULONG>(d.object->DeviceType));
    if (NT_SUCCESS(status))
        for (const Link& l : image->links)
            if (l.length != 0)
                DbgPrint("kmdverify: LINK driver=%ws name=%.*ws\n", image->name, static_cast<int>(l.length / sizeof(WCHAR)), l.name);
    if (!NT_SUCCESS(status)) {
        // Whatever is left now leaked on a failure path: Wine frees the driver object, nothing else.
        leftovers(*image, "(after DriverEntry failed)");
        summary(*image, "failed-entry");
        release_image(*image);
        return status;
    }
    // Only routines inside the image are wrapped: a slot still holding the I/O manager's default
    // is not the driver's code.
    for (unsigned i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) {
        PDRIVER_DISPATCH routine = driver->MajorFunction[i];
        if (routine == nullptr || image_at(reinterpret_cast<void*>(routine)) != image) continue;
        image->real_major[i] = routine;
        driver->MajorFunction[i] = vf_dispatch;
    }
    if (driver->DriverUnload != nullptr) {
        image->real_unload = driver->DriverUnload;
        driver->DriverUnload = verified_unload;
    }
    return status;
}

} // namespace kmdverify
