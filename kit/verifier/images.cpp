// images.cpp - how the verifier gets into a driver: the load-image notify routine rewrites the new
// image's import address table to the wrappers of every check family, redirects its entry point
// to verified_entry, and wraps MmGetSystemRoutineAddress; the Parameters key configures each load.
#include "verifier.hpp"

namespace kmdverify {

namespace {

PVOID NTAPI vf_MmGetSystemRoutineAddress(PUNICODE_STRING name);

const Wrapper kOwnWrappers[] = {
    {"MmGetSystemRoutineAddress", reinterpret_cast<void*>(vf_MmGetSystemRoutineAddress)},
};
const WrapperList kOwnList = list_of(kOwnWrappers);
// Pointers, not copies: a copy of another file's list would need a dynamic initializer, which
// nothing runs in a driver (no C runtime).
const WrapperList* const kFamilies[] = {&kPoolWrappers, &kProbeWrappers, &kIrpWrappers, &kObjectWrappers, &kIrqlWrappers, &kRoutineWrappers,
                                               &kOwnList};

void* wrapper_for(const char* name)
{
    for (const WrapperList* family : kFamilies)
        for (unsigned i = 0; i < family->count; ++i) {
            const char* a = family->items[i].name;
            const char* b = name;
            while (*a != 0 && *a == *b) ++a, ++b;
            if (*a == 0 && *b == 0) return family->items[i].wrapper;
        }
    return nullptr;
}

// Routines resolved at run time get the same wrappers as imported ones.
PVOID NTAPI vf_MmGetSystemRoutineAddress(PUNICODE_STRING name)
{
    caller_image(RA);
    PVOID real = MmGetSystemRoutineAddress(name);
    if (real == nullptr || name == nullptr) return real;
    char ascii[64];
    const USHORT n = name->Length / sizeof(WCHAR);
    if (n >= sizeof ascii) return real;
    for (USHORT i = 0; i < n; ++i) ascii[i] = static_cast<char>(name->Buffer[i]);
    ascii[n] = 0;
    void* w = wrapper_for(ascii);
    return w != nullptr ? w : real;
}

// Writes one pointer into the loaded image, whatever the page's protection (Wine maps the IAT
// read-only once imports are bound, as Windows does).
bool write_image(void* where, const void* what, SIZE_T bytes, ULONG protect)
{
    return kmd::winehost::write_image(ZwProtectVirtualMemory, where, what, bytes, protect);
}

// The image's own word size: IMAGE_NT_HEADERS, IMAGE_THUNK_DATA and IMAGE_SNAP_BY_ORDINAL are the
// 64-bit forms on x64 and the 32-bit ones (4-byte thunks) on x86; a verifier only sees images of
// its own architecture, as Windows loads only those.
IMAGE_NT_HEADERS* nt_headers(char* base)
{
    auto* dos = reinterpret_cast<IMAGE_DOS_HEADER*>(base);
    return reinterpret_cast<IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
}

ULONG patch_imports(Image& image, ULONG* total)
{
    IMAGE_NT_HEADERS* nt = nt_headers(image.base);
    if (nt->OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR_MAGIC) return 0; // not our word size: leave it alone
    const IMAGE_DATA_DIRECTORY& dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    ULONG patched = 0;
    *total = 0;
    if (dir.VirtualAddress == 0) return 0;
    for (auto* d = reinterpret_cast<IMAGE_IMPORT_DESCRIPTOR*>(image.base + dir.VirtualAddress); d->Name != 0; ++d) {
        if (d->OriginalFirstThunk == 0) continue; // names unknown once bound: nothing to match
        auto* names = reinterpret_cast<IMAGE_THUNK_DATA*>(image.base + d->OriginalFirstThunk);
        auto* slots = reinterpret_cast<IMAGE_THUNK_DATA*>(image.base + d->FirstThunk);
        for (; names->u1.AddressOfData != 0; ++names, ++slots) {
            ++*total;
            if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal)) continue;
            auto* by_name = reinterpret_cast<IMAGE_IMPORT_BY_NAME*>(image.base + names->u1.AddressOfData);
            void* w = wrapper_for(reinterpret_cast<const char*>(by_name->Name));
            if (w == nullptr) continue;
            const ULONG_PTR value = reinterpret_cast<ULONG_PTR>(w); // 8 bytes on x64, 4 on x86
            if (write_image(&slots->u1.Function, &value, sizeof value, PAGE_READWRITE)) ++patched;
        }
    }
    return patched;
}

// Points the image's entry at verified_entry (kit/winehost/image_patch.hpp says how).
bool redirect_entry(Image& image)
{
    image.real_entry = kmd::winehost::redirect_entry(ZwProtectVirtualMemory, image.base, kStub, verified_entry);
    return image.real_entry != nullptr;
}

} // namespace

ULONG wrapped_call_count()
{
    ULONG n = 0;
    for (const WrapperList* family : kFamilies) n += family->count;
    return n;
}

ULONG read_param(const WCHAR* name, ULONG absent)
{
    UNICODE_STRING key_name;
    RtlInitUnicodeString(&key_name, g_params_key);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &key_name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, nullptr, nullptr);
    HANDLE key = nullptr;
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_QUERY_VALUE, &oa))) return absent;
    UNICODE_STRING value_name;
    RtlInitUnicodeString(&value_name, name);
    union {
        KEY_VALUE_PARTIAL_INFORMATION info;
        UCHAR bytes[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 8];
    } buffer{};
    ULONG got = 0, value = absent;
    if (NT_SUCCESS(ZwQueryValueKey(key, &value_name, KeyValuePartialInformation, &buffer, sizeof buffer, &got)) &&
        buffer.info.Type == REG_DWORD && buffer.info.DataLength == sizeof(ULONG))
        RtlCopyMemory(&value, buffer.info.Data, sizeof value);
    ZwClose(key);
    return value;
}

VOID NTAPI on_image_load(PUNICODE_STRING full_name, HANDLE, PIMAGE_INFO info)
{
    char* base = static_cast<char*>(info->ImageBase);
    if (!info->SystemModeImage || base == g_self_base) return;
    Image* image = nullptr;
    {
        Locked lock;
        image = image_at(base);
        if (image == nullptr)
            for (Image& i : g_images)
                if (!i.used) {
                    image = &i;
                    break;
                }
        if (image == nullptr) {
            DbgPrint("kmdverify: ERROR more than %u verified images; %.*ws runs unverified\n", kMaxImages,
                     static_cast<int>(full_name->Length / sizeof(WCHAR)), full_name->Buffer);
            return;
        }
        RtlZeroMemory(image, sizeof *image); // no Image temporary: it is kilobytes, kernel stacks are small
        image->used = true;
        image->base = base;
        image->size = info->ImageSize;
    }
    // The file name of the image: what a report calls the driver.
    USHORT start = full_name->Length / sizeof(WCHAR);
    while (start > 0 && full_name->Buffer[start - 1] != L'\\' && full_name->Buffer[start - 1] != L'/') --start;
    USHORT n = full_name->Length / sizeof(WCHAR) - start;
    if (n >= ARRAYSIZE(image->name)) n = ARRAYSIZE(image->name) - 1;
    RtlCopyMemory(image->name, full_name->Buffer + start, n * sizeof(WCHAR));
    image->name[n] = 0;
    // The kit's Wine host shim (kit/winehost) is part of the host, not a driver under test: it
    // loads after the verifier and wraps the verified drivers from outside.
    if (_wcsicmp(image->name, L"kmdhost.sys") == 0) {
        Locked lock;
        image->used = false;
        return;
    }
    image->fault_at = read_param(L"FaultAt");
    image->life_fault_at = read_param(L"FaultAfterEntry");
    image->seed = read_param(L"LowResourcesSeed");
    image->random = image->seed;
    // Special pool is on unless the front end says otherwise (verify.py --special-pool).
    const ULONG special = read_param(L"SpecialPool", static_cast<ULONG>(SpecialPool::overrun));
    image->special_pool = special == 2 ? SpecialPool::underrun : special == 0 ? SpecialPool::off : SpecialPool::overrun;
    if (!special_pool_ready()) image->special_pool = SpecialPool::off;
    configure_irp_checks();

    ULONG imports = 0;
    const ULONG patched = patch_imports(*image, &imports);
    if (!redirect_entry(*image)) {
        DbgPrint("kmdverify: ERROR driver=%ws: no room for the entry stub; DriverEntry, dispatch and unload run unverified\n",
                 image->name);
        image->real_entry = nullptr;
    }
    static const char* const kSpecialNames[] = {"off", "overrun", "underrun"};
    DbgPrint("kmdverify: VERIFYING driver=%ws base=%p size=0x%lx imports=%lu wrapped=%lu fault_at=%lu special_pool=%s "
             "fault_after_entry=%lu seed=%lu\n", image->name, base,
             static_cast<ULONG>(image->size), imports, patched, image->fault_at, kSpecialNames[static_cast<ULONG>(image->special_pool)],
             image->life_fault_at, image->seed);
}

} // namespace kmdverify
