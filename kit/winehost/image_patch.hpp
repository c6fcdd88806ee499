// image_patch.hpp - how the kit's host components (kmdhost.sys, kmdverify.sys) get between Wine and
// a driver image loaded after them, under Wine only: writes into the mapped image, and its entry
// point redirected through a stub. Header-only, one copy for both.
//
// From Wine 8's dlls/ntoskrnl.exe/ntoskrnl.c (load_driver/init_driver): the image is mapped with
// its imports bound, the PsSetLoadImageNotifyRoutine callbacks run, and only then is
// AddressOfEntryPoint read from the mapped headers and called. A callback can therefore point the
// entry at a stub in the unused tail of the header page (AddressOfEntryPoint is an RVA: the stub
// must lie inside the image), x64 `jmp [rip+0]; dq target`, x86 `push target; ret`, with the
// original RVA and a mark kept beside it.
#pragma once

#include <kmd/nt.hpp>

#include <ntimage.h>

namespace kmd::winehost {

using ZwProtectVirtualMemoryFn = NTSTATUS(NTAPI*)(HANDLE process, PVOID* base, PSIZE_T size, ULONG protect, PULONG old);

// Writes `bytes` into the loaded image whatever the page's protection: the page is made `during`
// for the write, then `after`, or what it was when `after` is 0.
inline bool write_image(ZwProtectVirtualMemoryFn protect, void* where, const void* what, SIZE_T bytes, ULONG during, ULONG after = 0)
{
    PVOID page = where;
    SIZE_T size = bytes;
    ULONG old = 0;
    if (!NT_SUCCESS(protect(NtCurrentProcess(), &page, &size, during, &old))) return false;
    RtlCopyMemory(where, what, bytes);
    page = where;
    size = bytes;
    protect(NtCurrentProcess(), &page, &size, after != 0 ? after : old, &old);
    return true;
}

// Where a component's stub lives in the header page, and the mark that says it is there. Each
// component has its own place, so two can wrap one image (the later one's stub calls the earlier
// one's): kmdhost 0xFC0, kmdverify 0xFE0, 32 bytes each.
struct EntryStub {
    ULONG offset;
    ULONG magic;
};

// Points the image's entry at `target` through `stub`; returns the entry it replaces (the driver's,
// or another component's stub), or nullptr when the header page has no room. When our stub is
// there already - Wine kept this mapping from an earlier start, as it does after a failed
// DriverEntry - we are in the entry chain, outermost or behind another component's stub:
// rewriting the entry then would make the chain a loop, so the entry we replaced then is returned.
inline PDRIVER_INITIALIZE redirect_entry(ZwProtectVirtualMemoryFn protect, char* base, EntryStub stub, PDRIVER_INITIALIZE target)
{
    auto* dos = reinterpret_cast<IMAGE_DOS_HEADER*>(base);
    auto* nt = reinterpret_cast<IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
    const ULONG entry_rva = nt->OptionalHeader.AddressOfEntryPoint;
    auto* tail = reinterpret_cast<ULONG*>(base + stub.offset + 24);
    if (tail[1] == stub.magic) return reinterpret_cast<PDRIVER_INITIALIZE>(base + tail[0]);
    const auto* sections = IMAGE_FIRST_SECTION(nt);
    const char* table_end = reinterpret_cast<const char*>(sections + nt->FileHeader.NumberOfSections);
    if (entry_rva == 0 || table_end > base + stub.offset || nt->OptionalHeader.SectionAlignment < PAGE_SIZE) return nullptr;
    for (unsigned i = 0; i < nt->FileHeader.NumberOfSections; ++i)
        if (sections[i].VirtualAddress < PAGE_SIZE) return nullptr;

    unsigned char code[32] = {};
    const auto address = reinterpret_cast<ULONG_PTR>(target);
#if defined(_WIN64)
    code[0] = 0xFF;
    code[1] = 0x25; // jmp qword [rip+0]
    RtlCopyMemory(code + 6, &address, sizeof address);
#else
    code[0] = 0x68; // push imm32
    RtlCopyMemory(code + 1, &address, sizeof address);
    code[5] = 0xC3; // ret
#endif
    const ULONG keep[2] = {entry_rva, stub.magic};
    RtlCopyMemory(code + 24, keep, sizeof keep);
    if (!write_image(protect, base + stub.offset, code, sizeof code, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_READ)) return nullptr;
    const ULONG new_rva = stub.offset;
    if (!write_image(protect, &nt->OptionalHeader.AddressOfEntryPoint, &new_rva, sizeof new_rva, PAGE_EXECUTE_READWRITE,
                     PAGE_EXECUTE_READ))
        return nullptr;
    return reinterpret_cast<PDRIVER_INITIALIZE>(base + entry_rva);
}

} // namespace kmd::winehost
