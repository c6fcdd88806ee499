// objects.cpp - devices, symbolic links, kernel handles and object references a driver holds,
// and the failable object calls.
#include "verifier.hpp"

namespace kmdverify {
namespace {

void add_handle(Image* image, HANDLE h, const char* call, void* site)
{
    if (image == nullptr || h == nullptr) return;
    Locked lock;
    if (Handle* slot = find_in(image->handles, [](const Handle& e) { return e.handle == nullptr; })) *slot = {h, call, site};
}

void add_reference(Image* image, PVOID object, void* site)
{
    if (image == nullptr || object == nullptr) return;
    Locked lock;
    if (Reference* r = find_in(image->refs, [&](const Reference& e) { return e.object == object && e.count > 0; })) {
        ++r->count;
        return;
    }
    if (Reference* r = find_in(image->refs, [](const Reference& e) { return e.count == 0; })) *r = {object, 1, site};
}

void drop_reference(Image* image, PVOID object)
{
    if (image == nullptr) return;
    Locked lock;
    if (Reference* r = find_in(image->refs, [&](const Reference& e) { return e.object == object && e.count > 0; })) --r->count;
}

NTSTATUS NTAPI vf_IoCreateDevice(PDRIVER_OBJECT driver, ULONG ext, PUNICODE_STRING name, DEVICE_TYPE type, ULONG chars, BOOLEAN excl,
                                 PDEVICE_OBJECT* out)
{
    Image* image = caller_image(RA);
    check_irql(image, "IoCreateDevice", PASSIVE_LEVEL, RA);
    if (inject(image, "IoCreateDevice")) {
        *out = nullptr;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS status = IoCreateDevice(driver, ext, name, type, chars, excl, out);
    if (NT_SUCCESS(status) && image != nullptr) {
        Locked lock;
        if (Device* d = find_in(image->devices, [](const Device& e) { return e.object == nullptr; })) *d = {*out, RA, ext};
    }
    return status;
}

VOID NTAPI vf_IoDeleteDevice(PDEVICE_OBJECT device)
{
    Image* image = caller_image(RA);
    check_irql(image, "IoDeleteDevice", PASSIVE_LEVEL, RA);
    ULONG extension_size = 0;
    if (image != nullptr) {
        Locked lock;
        if (Device* d = find_in(image->devices, [&](const Device& e) { return e.object == device && device != nullptr; })) {
            extension_size = d->extension_size;
            *d = Device{};
        }
    }
    if (device != nullptr)
        timers_in_freed_memory(image, device->DeviceExtension, extension_size,
                               "(in the device extension IoDeleteDevice frees: cancel it first, KeCancelTimer)");
    IoDeleteDevice(device);
}

void add_link(Image* image, PUNICODE_STRING link, void* site)
{
    if (image == nullptr || link == nullptr) return;
    Locked lock;
    if (Link* l = find_in(image->links, [](const Link& e) { return e.length == 0; })) {
        const USHORT n = link->Length < sizeof l->name ? link->Length : sizeof l->name;
        RtlCopyMemory(l->name, link->Buffer, n);
        l->length = n;
        l->site = site;
    }
}

NTSTATUS NTAPI vf_IoCreateSymbolicLink(PUNICODE_STRING link, PUNICODE_STRING target)
{
    Image* image = caller_image(RA);
    check_irql(image, "IoCreateSymbolicLink", PASSIVE_LEVEL, RA);
    if (inject(image, "IoCreateSymbolicLink")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCreateSymbolicLink(link, target);
    if (NT_SUCCESS(status)) add_link(image, link, RA);
    return status;
}

NTSTATUS NTAPI vf_IoCreateUnprotectedSymbolicLink(PUNICODE_STRING link, PUNICODE_STRING target)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoCreateUnprotectedSymbolicLink")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCreateUnprotectedSymbolicLink(link, target);
    if (NT_SUCCESS(status)) add_link(image, link, RA);
    return status;
}

NTSTATUS NTAPI vf_IoDeleteSymbolicLink(PUNICODE_STRING link)
{
    Image* image = caller_image(RA);
    check_irql(image, "IoDeleteSymbolicLink", PASSIVE_LEVEL, RA);
    NTSTATUS status = IoDeleteSymbolicLink(link);
    if (NT_SUCCESS(status) && image != nullptr && link != nullptr) {
        Locked lock;
        for (Link& l : image->links) {
            UNICODE_STRING mine{l.length, l.length, l.name};
            if (l.length != 0 && RtlEqualUnicodeString(&mine, link, TRUE)) {
                l = Link{};
                break;
            }
        }
    }
    return status;
}

NTSTATUS NTAPI vf_ZwClose(HANDLE h)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwClose", PASSIVE_LEVEL, RA);
    if (image != nullptr) {
        Locked lock;
        if (Handle* slot = find_in(image->handles, [&](const Handle& e) { return e.handle == h && h != nullptr; })) *slot = Handle{};
    }
    return ZwClose(h);
}

NTSTATUS NTAPI vf_ObOpenObjectByPointer(PVOID object, ULONG attributes, PACCESS_STATE state, ACCESS_MASK access, POBJECT_TYPE type,
                                        KPROCESSOR_MODE mode, PHANDLE out)
{
    Image* image = caller_image(RA);
    if (inject(image, "ObOpenObjectByPointer")) return STATUS_INSUFFICIENT_RESOURCES;
    // Without a type the object manager opens whatever the pointer points at: a driver that means
    // a device (or a file, a thread...) must say so, as Driver Verifier's handle checks expect.
    if (type == nullptr) violation(image, "OBJECT_TYPE_NOT_GIVEN", "ObOpenObjectByPointer", "type=NULL", RA,
                                   "(pass *IoDeviceObjectType, *IoFileObjectType, ... for the object meant)");
    NTSTATUS status = ObOpenObjectByPointer(object, attributes, state, access, type, mode, out);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ObOpenObjectByPointer", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwSetSecurityObject(HANDLE h, SECURITY_INFORMATION info, PSECURITY_DESCRIPTOR sd)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwSetSecurityObject", PASSIVE_LEVEL, RA);
    if (inject(image, "ZwSetSecurityObject")) return STATUS_INSUFFICIENT_RESOURCES;
    return ZwSetSecurityObject(h, info, sd);
}

NTSTATUS NTAPI vf_ZwOpenKey(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwOpenKey", PASSIVE_LEVEL, RA);
    if (inject(image, "ZwOpenKey")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwOpenKey(out, access, attributes);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwOpenKey", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwCreateKey(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, ULONG index, PUNICODE_STRING cls,
                              ULONG options, PULONG disposition)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwCreateKey", PASSIVE_LEVEL, RA);
    if (inject(image, "ZwCreateKey")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwCreateKey(out, access, attributes, index, cls, options, disposition);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwCreateKey", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwCreateFile(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, PIO_STATUS_BLOCK iosb,
                               PLARGE_INTEGER size, ULONG file_attributes, ULONG share, ULONG disposition, ULONG options, PVOID ea,
                               ULONG ea_length)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwCreateFile", PASSIVE_LEVEL, RA);
    if (inject(image, "ZwCreateFile")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwCreateFile(out, access, attributes, iosb, size, file_attributes, share, disposition, options, ea, ea_length);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwCreateFile", RA);
    return status;
}

NTSTATUS NTAPI vf_ZwOpenFile(PHANDLE out, ACCESS_MASK access, POBJECT_ATTRIBUTES attributes, PIO_STATUS_BLOCK iosb, ULONG share,
                             ULONG options)
{
    Image* image = caller_image(RA);
    check_irql(image, "ZwOpenFile", PASSIVE_LEVEL, RA);
    if (inject(image, "ZwOpenFile")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ZwOpenFile(out, access, attributes, iosb, share, options);
    if (NT_SUCCESS(status)) add_handle(image, *out, "ZwOpenFile", RA);
    return status;
}

NTSTATUS NTAPI vf_PsCreateSystemThread(PHANDLE out, ULONG access, POBJECT_ATTRIBUTES attributes, HANDLE process, PCLIENT_ID client,
                                       PKSTART_ROUTINE start, PVOID context)
{
    Image* image = caller_image(RA);
    check_irql(image, "PsCreateSystemThread", PASSIVE_LEVEL, RA);
    if (inject(image, "PsCreateSystemThread")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = PsCreateSystemThread(out, access, attributes, process, client, start, context);
    if (NT_SUCCESS(status)) add_handle(image, *out, "PsCreateSystemThread", RA);
    return status;
}

PMDL NTAPI vf_IoAllocateMdl(PVOID va, ULONG length, BOOLEAN secondary, BOOLEAN charge, PIRP irp)
{
    Image* image = caller_image(RA);
    if (inject(image, "IoAllocateMdl")) return nullptr;
    return IoAllocateMdl(va, length, secondary, charge, irp);
}

NTSTATUS NTAPI vf_ObReferenceObjectByHandle(HANDLE h, ACCESS_MASK access, POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID* object,
                                            POBJECT_HANDLE_INFORMATION info)
{
    Image* image = caller_image(RA);
    check_irql(image, "ObReferenceObjectByHandle", APC_LEVEL, RA);
    if (inject(image, "ObReferenceObjectByHandle")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ObReferenceObjectByHandle(h, access, type, mode, object, info);
    if (NT_SUCCESS(status)) add_reference(image, *object, RA);
    return status;
}

NTSTATUS NTAPI vf_ObReferenceObjectByName(PUNICODE_STRING name, ULONG attributes, PACCESS_STATE state, ACCESS_MASK access,
                                          POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID parse, PVOID* object)
{
    Image* image = caller_image(RA);
    if (inject(image, "ObReferenceObjectByName")) return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = ObReferenceObjectByName(name, attributes, state, access, type, mode, parse, object);
    if (NT_SUCCESS(status)) add_reference(image, *object, RA);
    return status;
}

LONG_PTR FASTCALL vf_ObfReferenceObject(PVOID object)
{
    add_reference(caller_image(RA), object, RA);
    return ObfReferenceObject(object);
}

LONG_PTR FASTCALL vf_ObfDereferenceObject(PVOID object)
{
    drop_reference(caller_image(RA), object);
    return ObfDereferenceObject(object);
}

VOID NTAPI vf_ObDereferenceObject(PVOID object)
{
    drop_reference(caller_image(RA), object);
    ObfDereferenceObject(object);
}

} // namespace

ULONG object_leftovers(Image& image, const char* phase)
{
    ULONG found = 0;
    char args[96];
    for (Link& l : image.links)
        if (l.length != 0) {
            UNICODE_STRING name{l.length, l.length, l.name};
            RtlStringCbPrintfA(args, sizeof args, "%.*ws", static_cast<int>(l.length / sizeof(WCHAR)), l.name);
            violation(&image, "LINK_LEAK", "IoCreateSymbolicLink", args, l.site, phase);
            IoDeleteSymbolicLink(&name);
            l = Link{};
            ++found;
        }
    for (Device& d : image.devices)
        if (d.object != nullptr) {
            RtlStringCbPrintfA(args, sizeof args, "device=%p", d.object);
            violation(&image, "DEVICE_LEAK", "IoCreateDevice", args, d.site, phase);
            IoDeleteDevice(d.object);
            d = Device{};
            ++found;
        }
    for (Handle& h : image.handles)
        if (h.handle != nullptr) {
            RtlStringCbPrintfA(args, sizeof args, "handle=%p", h.handle);
            violation(&image, "HANDLE_LEAK", h.call, args, h.site, phase);
            ZwClose(h.handle);
            h = Handle{};
            ++found;
        }
    for (Reference& r : image.refs)
        if (r.count > 0) {
            RtlStringCbPrintfA(args, sizeof args, "object=%p, count=%ld", r.object, r.count);
            violation(&image, "REFERENCE_LEAK", "ObReferenceObject*", args, r.site, phase);
            while (r.count-- > 0) ObfDereferenceObject(r.object);
            r = Reference{};
            ++found;
        }
    return found;
}

namespace {
// ObDereferenceObject is a macro in the DDK headers; its wrapper is taken through a cast.
const Wrapper kWrappers[] = {
    {"IoCreateDevice", reinterpret_cast<void*>(vf_IoCreateDevice)},
    {"IoDeleteDevice", reinterpret_cast<void*>(vf_IoDeleteDevice)},
    {"IoCreateSymbolicLink", reinterpret_cast<void*>(vf_IoCreateSymbolicLink)},
    {"IoCreateUnprotectedSymbolicLink", reinterpret_cast<void*>(vf_IoCreateUnprotectedSymbolicLink)},
    {"IoDeleteSymbolicLink", reinterpret_cast<void*>(vf_IoDeleteSymbolicLink)},
    {"ZwClose", reinterpret_cast<void*>(vf_ZwClose)},
    {"ObOpenObjectByPointer", reinterpret_cast<void*>(vf_ObOpenObjectByPointer)},
    {"ZwSetSecurityObject", reinterpret_cast<void*>(vf_ZwSetSecurityObject)},
    {"ZwOpenKey", reinterpret_cast<void*>(vf_ZwOpenKey)},
    {"ZwCreateKey", reinterpret_cast<void*>(vf_ZwCreateKey)},
    {"ZwCreateFile", reinterpret_cast<void*>(vf_ZwCreateFile)},
    {"ZwOpenFile", reinterpret_cast<void*>(vf_ZwOpenFile)},
    {"PsCreateSystemThread", reinterpret_cast<void*>(vf_PsCreateSystemThread)},
    {"IoAllocateMdl", reinterpret_cast<void*>(vf_IoAllocateMdl)},
    {"ObReferenceObjectByHandle", reinterpret_cast<void*>(vf_ObReferenceObjectByHandle)},
    {"ObReferenceObjectByName", reinterpret_cast<void*>(vf_ObReferenceObjectByName)},
    {"ObfReferenceObject", reinterpret_cast<void*>(vf_ObfReferenceObject)},
    {"ObfDereferenceObject", reinterpret_cast<void*>(vf_ObfDereferenceObject)},
    {"ObDereferenceObject", reinterpret_cast<void*>(vf_ObDereferenceObject)},
};
} // namespace
const WrapperList kObjectWrappers = list_of(kWrappers);

} // namespace kmdverify
