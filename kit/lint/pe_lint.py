#!/usr/bin/python3
"""pe_lint - checks that a .sys image is fit for the Windows kernel loader and for memory
integrity (HVCI). Prints one line per rule; exits 1 if any rule fails, 2 if the file is no PE.

Usage: pe_lint.py [--quiet] [--allow-import DLL ...] [--allow-exports] [--only RULE,...] IMAGE [IMAGE ...]
Runs under Debian's interpreter (/usr/bin/python3), which sees python3-pefile and python3-capstone.
"""
from __future__ import annotations

import argparse
import bisect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import capstone
import pefile

IMAGE_SUBSYSTEM_NATIVE = 1
IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE = 0x0040
IMAGE_DLLCHARACTERISTICS_NX_COMPAT = 0x0100
IMAGE_FILE_DLL = 0x2000
IMAGE_FILE_MACHINE_AMD64 = 0x8664
IMAGE_SCN_CNT_CODE = 0x00000020
IMAGE_SCN_MEM_EXECUTE = 0x20000000
IMAGE_SCN_MEM_WRITE = 0x80000000
IMAGE_DLLCHARACTERISTICS_NO_SEH = 0x0400
IMAGE_FILE_MACHINE_I386 = 0x014C
PAGE_SIZE = 0x1000
KERNEL_IMPORTS = {"ntoskrnl.exe", "hal.dll"}


@dataclass
class Rule:
    name: str
    source: str  # the rule it stands for
    check: Callable[[pefile.PE, "Options"], str | None]  # None: pass; else the reason


@dataclass
class Options:
    allowed_imports: set[str]
    allow_exports: bool = False


def _subsystem(pe, _):
    s = pe.OPTIONAL_HEADER.Subsystem
    return None if s == IMAGE_SUBSYSTEM_NATIVE else f"subsystem is {s} ({pefile.SUBSYSTEM_TYPE.get(s, '?')}), not 1 (NATIVE)"


def _imports(pe, opts):
    bad = []
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        dll = entry.dll.decode(errors="replace")
        if dll.lower() not in opts.allowed_imports:
            names = [i.name.decode(errors="replace") if i.name else f"#{i.ordinal}" for i in entry.imports]
            bad.append(f"{dll} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})")
    return None if not bad else "imports from " + "; ".join(bad) + f" - a driver may import only from {', '.join(sorted(opts.allowed_imports))}"


def _checksum(pe, _):
    stored, actual = pe.OPTIONAL_HEADER.CheckSum, pe.generate_checksum()
    return None if stored == actual else f"PE checksum is 0x{stored:08x}, the image's is 0x{actual:08x}"


def _relocations(pe, _):
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_BASERELOC"]]
    return None if d.VirtualAddress and d.Size else "no base relocation directory: the image cannot be loaded at another address"


def _no_wx(pe, _):
    bad = [s.Name.rstrip(b"\0").decode(errors="replace") for s in pe.sections
           if s.Characteristics & IMAGE_SCN_MEM_WRITE and s.Characteristics & IMAGE_SCN_MEM_EXECUTE]
    return None if not bad else f"section(s) both writable and executable: {', '.join(bad)}"


def _page_aligned(pe, _):
    if pe.OPTIONAL_HEADER.SectionAlignment % PAGE_SIZE:
        return f"SectionAlignment is 0x{pe.OPTIONAL_HEADER.SectionAlignment:x}, not a multiple of 0x{PAGE_SIZE:x}"
    bad = [s.Name.rstrip(b"\0").decode(errors="replace") for s in pe.sections if s.VirtualAddress % PAGE_SIZE]
    return None if not bad else f"section(s) not page-aligned: {', '.join(bad)}"


def _dll_characteristics(pe, _):
    dc = pe.OPTIONAL_HEADER.DllCharacteristics
    missing = [n for bit, n in ((IMAGE_DLLCHARACTERISTICS_NX_COMPAT, "NX_COMPAT"),
                                (IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE, "DYNAMIC_BASE")) if not dc & bit]
    return None if not missing else f"DllCharacteristics 0x{dc:04x} lacks {', '.join(missing)}"


def _no_tls(pe, _):
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_TLS"]]
    return None if not (d.VirtualAddress and d.Size) else "has a TLS directory: the kernel loader runs no TLS callbacks and gives drivers no TLS"


def _x86_seh_enabled(pe, _):
    """x86: SEH is frame-based - records on the stack, no .pdata - and the kit's METHOD_NEITHER
    guard is such a record (kmd/guarded_x86.cpp). The one thing that turns it off image-wide is
    IMAGE_DLLCHARACTERISTICS_NO_SEH: the dispatcher then calls no handler of the image."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_I386:
        return None  # x64 SEH is table-based: x64-unwind-data checks it
    dc = pe.OPTIONAL_HEADER.DllCharacteristics
    return None if not dc & IMAGE_DLLCHARACTERISTICS_NO_SEH else f"DllCharacteristics 0x{dc:04x} has NO_SEH: the x86 guard's handler would never be called"


def _not_a_dll(pe, _):
    c = pe.FILE_HEADER.Characteristics
    return None if not c & IMAGE_FILE_DLL else (
        f"IMAGE_FILE_DLL is set (Characteristics 0x{c:04x}): a driver is linked as an image of its own (/DRIVER), "
        "not a DLL (in CMake: add_executable, not add_library(MODULE))")


def _no_exports(pe, opts):
    if opts.allow_exports:
        return None
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]]
    if not (d.VirtualAddress and d.Size):
        return None
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    names = [e.name.decode(errors="replace") if e.name else f"#{e.ordinal}"
             for e in getattr(getattr(pe, "DIRECTORY_ENTRY_EXPORT", None), "symbols", [])]
    return (f"exports {len(names)} symbol(s) ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}): any kernel "
            "module could call them past the I/O manager (declare exports on purpose with --allow-exports)")


def _runtime_functions(pe) -> list[tuple[int, int]]:
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
    if not (d.VirtualAddress and d.Size):
        return []
    data = pe.get_data(d.VirtualAddress, d.Size)
    ranges = []
    for off in range(0, len(data) - 11, 12):  # RUNTIME_FUNCTION: BeginAddress, EndAddress, UnwindData
        begin = int.from_bytes(data[off:off + 4], "little")
        end = int.from_bytes(data[off + 4:off + 8], "little")
        if begin or end:
            ranges.append((begin, end))
    return sorted(ranges)


def _unwind_coverage(pe, _):
    """x64: every instruction that makes a function non-leaf - a call, a push, an rsp adjustment -
    must lie inside a RUNTIME_FUNCTION range (.pdata). Found by disassembling every code section
    (a linear sweep that steps over any byte it cannot decode)."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_AMD64:
        return None  # x86 has no table-based unwinding: nothing to check
    ranges = _runtime_functions(pe)
    starts = [b for b, _ in ranges]


    def covered(rva: int) -> bool:
        i = bisect.bisect_right(starts, rva) - 1
        return i >= 0 and ranges[i][0] <= rva < ranges[i][1]

    uncovered = [f"{mnemonic} at RVA 0x{address:x}" for address, _size, mnemonic, op_str in _code_instructions(pe)
                 if (mnemonic in ("call", "push") or (mnemonic == "sub" and op_str.startswith("rsp,"))) and not covered(address)]
    if not uncovered:
        return None
    return (f"{len(uncovered)} instruction(s) of non-leaf functions have no unwind data ({', '.join(uncovered[:3])}"
            f"{', ...' if len(uncovered) > 3 else ''}): compile with -fasynchronous-unwind-tables")


USER_MEMORY_CALLS = {"ProbeForRead", "ProbeForWrite"}
COPY_CALLS = {"memcpy", "memmove", "RtlCopyMemory", "RtlMoveMemory"}
UNW_FLAG_EHANDLER, UNW_FLAG_UHANDLER, UNW_FLAG_CHAININFO = 1, 2, 4


def _code_instructions(pe):
    """(address, size, mnemonic, op_str) of every instruction in the code sections (linear sweep)."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32 if pe.FILE_HEADER.Machine == IMAGE_FILE_MACHINE_I386 else capstone.CS_MODE_64)
    for section in pe.sections:
        if not section.Characteristics & IMAGE_SCN_CNT_CODE:
            continue
        code = section.get_data()[:section.Misc_VirtualSize]
        offset = 0
        while offset < len(code):
            for insn in md.disasm_lite(code[offset:], section.VirtualAddress + offset):
                offset += insn[1]
                yield insn
            else:
                offset += 1


def _rip_target(address: int, size: int, op_str: str) -> int | None:
    """The RVA a `[rip + 0x..]` operand points at."""
    if "rip" not in op_str:
        return None
    try:
        disp = op_str.split("rip", 1)[1].strip(" ]")
        value = int(disp.replace(" ", "").lstrip("+"), 16) if disp else 0
    except ValueError:
        return None
    return address + size + value


def _called_imports(pe, instructions):
    """[(address, import name)] of every call that reaches an import, directly through the IAT or
    through the linker's `jmp [rip+IAT]` thunk."""
    base = pe.OPTIONAL_HEADER.ImageBase
    iat = {imp.address - base: imp.name.decode() for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []) for imp in entry.imports
           if imp.name}
    thunks, calls = {}, []
    for address, size, mnemonic, op_str in instructions:
        if mnemonic == "jmp" and op_str.startswith("qword ptr [rip"):
            slot = _rip_target(address, size, op_str)
            if slot in iat:
                thunks[address] = iat[slot]
        elif mnemonic == "call":
            calls.append((address, size, op_str))
    named = []
    for address, size, op_str in calls:
        if op_str.startswith("qword ptr [rip"):
            name = iat.get(_rip_target(address, size, op_str))
        else:
            try:
                name = thunks.get(int(op_str, 16))
            except ValueError:
                name = None
        if name:
            named.append((address, name))
    return named, thunks, iat


def _except_scopes(pe, handler_names: set[str], thunks, iat) -> list[tuple[int, int]]:
    """[begin, end) ranges of every __try whose __except belongs to a __C_specific_handler scope table."""
    scopes = []
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
    if not (d.VirtualAddress and d.Size):
        return scopes
    table = pe.get_data(d.VirtualAddress, d.Size)
    for off in range(0, len(table) - 11, 12):
        unwind = int.from_bytes(table[off + 8:off + 12], "little")
        if not unwind:
            continue
        head = pe.get_data(unwind, 4)
        flags, count = head[0] >> 3, head[2]
        if not flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER) or flags & UNW_FLAG_CHAININFO:
            continue
        after_codes = unwind + 4 + 2 * (count + (count & 1))
        handler = int.from_bytes(pe.get_data(after_codes, 4), "little")
        name = thunks.get(handler) or iat.get(handler)
        if name not in handler_names:
            continue
        entries = int.from_bytes(pe.get_data(after_codes + 4, 4), "little")
        for i in range(min(entries, 1024)):
            b, e, _filter, target = (int.from_bytes(pe.get_data(after_codes + 8 + 16 * i + 4 * k, 4), "little") for k in range(4))
            if target:  # __except (a __finally has no jump target)
                scopes.append((b, e))
    return scopes


def _probes_inside_try(pe, _):
    """x64: every ProbeForRead/ProbeForWrite call lies inside a __try whose __except catches it, and
    so does every copy (memcpy, memmove, ...) in a function that probes: those are the user-memory
    accesses of METHOD_NEITHER, and one outside a __try is a crash (or worse) on a bad pointer."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_AMD64:
        return None  # x86 SEH is frame-based: no static scope table to check
    named, thunks, iat = _called_imports(pe, list(_code_instructions(pe)))
    if not any(name in USER_MEMORY_CALLS for _, name in named):
        return None  # the image never touches user memory through probes
    scopes = _except_scopes(pe, {"__C_specific_handler"}, thunks, iat)
    functions = _runtime_functions(pe)

    def function_of(rva):
        return next(((b, e) for b, e in functions if b <= rva < e), None)

    probing = {function_of(a) for a, n in named if n in USER_MEMORY_CALLS}
    bad = [f"{n} at RVA 0x{a:x}" for a, n in named
           if (n in USER_MEMORY_CALLS or (n in COPY_CALLS and function_of(a) in probing))
           and not any(b <= a < e for b, e in scopes)]
    return None if not bad else (f"user-memory access outside any __try/__except: {', '.join(bad[:4])}"
                                 f"{', ...' if len(bad) > 4 else ''}")


IMAGE_DEBUG_TYPE_CODEVIEW = 2
IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS = 20
IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT = 0x01
DRIVER_OVERRAN_STACK_BUFFER = 0xF7


def _debug_entries(pe) -> list:
    if not hasattr(pe, "DIRECTORY_ENTRY_DEBUG"):
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]])
    return list(getattr(pe, "DIRECTORY_ENTRY_DEBUG", []))


def _pdb_debug_directory(pe, _):
    """A CodeView (RSDS) debug directory entry naming the PDB by its bare file name: WinDbg, a
    crash dump's analysis and llvm-symbolizer find the symbols by it (beside the image or on a
    symbol path); a build machine's absolute path would be useless elsewhere, and leaks it."""
    for entry in _debug_entries(pe):
        if entry.struct.Type != IMAGE_DEBUG_TYPE_CODEVIEW:
            continue
        data = pe.get_data(entry.struct.AddressOfRawData, entry.struct.SizeOfData) if entry.struct.AddressOfRawData else b""
        if data[:4] != b"RSDS" or len(data) < 25:
            return f"CodeView debug entry is not RSDS (PDB 7.0): {data[:4]!r}"
        name = data[24:].split(b"\0", 1)[0].decode(errors="replace")
        if not name.lower().endswith(".pdb"):
            return f"CodeView debug entry names {name!r}, not a .pdb"
        if "/" in name or "\\" in name:
            return f"CodeView debug entry names the PDB by a path ({name}): link with /pdbaltpath:%_PDB%"
        return None
    return "no CodeView debug directory entry: no PDB for WinDbg or a crash dump to find (link with /DEBUG /PDB)"


def _cet_compatible(pe, _):
    """x64: IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT in an extended-DLL-characteristics debug entry
    (type 20): kernel-mode hardware-enforced stack protection (Windows 11) loads only such drivers."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_AMD64:
        return None  # CET shadow stacks protect x64 kernels only
    for entry in _debug_entries(pe):
        if entry.struct.Type == IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS and entry.struct.SizeOfData >= 4:
            flags = int.from_bytes(pe.get_data(entry.struct.AddressOfRawData, 4), "little")
            if flags & IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT:
                return None
            return f"extended DLL characteristics 0x{flags:x} lack CET_COMPAT"
    return "no extended DLL characteristics debug entry with CET_COMPAT (link with /CETCOMPAT)"


def _direct_target(op_str: str) -> int | None:
    try:
        return int(op_str, 16)
    except ValueError:
        return None


def _import_slots(pe) -> dict[int, str]:
    """RVA of each IAT slot -> the imported name."""
    base = pe.OPTIONAL_HEADER.ImageBase
    return {imp.address - base: imp.name.decode() for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []) for imp in entry.imports
            if imp.name}


def _slot_of(pe, address: int, size: int, op_str: str) -> int | None:
    """The IAT slot RVA an indirect `call/jmp [..]` reads: rip-relative on x64, absolute on x86."""
    if "rip" in op_str:
        return _rip_target(address, size, op_str)
    if op_str.startswith("dword ptr [0x") and op_str.endswith("]"):
        try:
            return int(op_str[len("dword ptr ["):-1], 16) - pe.OPTIONAL_HEADER.ImageBase
        except ValueError:
            return None
    return None


def _calls_to_import(pe, instructions, wanted: str) -> list[int]:
    """Indexes (into instructions) of the calls that reach import `wanted`, directly through its
    IAT slot or through a linker thunk `jmp [slot]`."""
    slots = _import_slots(pe)
    thunks = {a for a, sz, m, op in instructions if m == "jmp" and slots.get(_slot_of(pe, a, sz, op)) == wanted}
    out = []
    for i, (a, sz, m, op) in enumerate(instructions):
        if m != "call":
            continue
        if slots.get(_slot_of(pe, a, sz, op)) == wanted or _direct_target(op) in thunks:
            out.append(i)
    return out


def _stack_cookie_handler(pe, instructions) -> int | None:
    """RVA of the function that ends in KeBugCheckEx(DRIVER_OVERRAN_STACK_BUFFER, ...): the kit's
    __stack_chk_fail (kmd/stack_cookie.cpp)."""
    functions = _runtime_functions(pe)
    for i in _calls_to_import(pe, instructions, "KeBugCheckEx"):
        window = instructions[max(0, i - 16):i]
        if not any(op in ("ecx, 0xf7", "0xf7", "dword ptr [esp], 0xf7") and m in ("mov", "push") for _, _, m, op in window):
            continue
        site = instructions[i][0]
        begin = next((b for b, e in functions if b <= site < e), None)
        if begin is None:  # x86: no .pdata. Straight-line code up to the call: back to the end of
            j = i - 1      # the function before it (its ret or jmp, or the padding after it, or its
            # cookie-failure call when it lands right on this function, which then has no padding).
            while j >= 0 and instructions[j][2] not in ("ret", "jmp", "int3", "nop", "ud2") and not (
                    instructions[j][2] == "call" and _direct_target(instructions[j][3]) == instructions[j + 1][0]):
                j -= 1
            begin = instructions[j + 1][0]
        return begin
    return None


def _stack_cookies(pe, _):
    """-fstack-protector-strong with the kit's guard: functions with stack buffers call the
    DRIVER_OVERRAN_STACK_BUFFER handler when their cookie was overwritten, and the entry point
    seeds the cookie (rdtsc) before any of them runs."""
    instructions = list(_code_instructions(pe))
    handler = _stack_cookie_handler(pe, instructions)
    if handler is None:
        return ("no stack cookie failure handler (no KeBugCheckEx(DRIVER_OVERRAN_STACK_BUFFER, ...)): compile with "
                "-fstack-protector-strong and link the kit's kmd/stack_cookie.cpp")
    checks = sum(1 for _, _, m, op in instructions if m in ("call", "jmp") and _direct_target(op) == handler)
    if checks == 0:
        # A tiny driver may have nothing to guard: no frame holds more than spilled registers (x64:
        # the 32-byte home area too). Frames with room for a buffer and no check anywhere: unguarded.
        sp, least = ("esp, 0x", 0x40) if pe.FILE_HEADER.Machine == IMAGE_FILE_MACHINE_I386 else ("rsp, 0x", 0x60)
        big = [int(op[len(sp) - 2:], 16) for _, _, m, op in instructions if m == "sub" and op.startswith(sp)]
        big = [f for f in big if f >= least]
        if big:
            return (f"no function checks a stack cookie, though {len(big)} reserve {least} bytes of stack or more "
                    f"(up to {max(big)}): compile with -fstack-protector-strong")
    # The seed: the entry point, or a function it calls directly, reads the time-stamp counter.
    entry = pe.OPTIONAL_HEADER.AddressOfEntryPoint
    starts = [a for a, *_ in instructions]
    at = bisect.bisect_left(starts, entry)
    callees, seeded = [], False
    for a, _sz, m, op in instructions[at:at + 64]:
        if m == "rdtsc":
            seeded = True
            break
        if m == "call" and (t := _direct_target(op)) is not None:
            callees.append(t)
        if m in ("ret", "jmp"):
            break
    for t in callees:
        j = bisect.bisect_left(starts, t)
        seeded = seeded or any(m == "rdtsc" for _, _, m, _ in instructions[j:j + 96])
    if not seeded:
        return (f"{checks} cookie check(s), but the entry point (RVA 0x{entry:x}) does not seed the cookie: "
                "link with the kit's entry point, KmdDriverEntry")
    return None


def _x86_subsystem_version(pe, _):
    """x86 images load from Windows XP on: the loader refuses an image whose subsystem version is
    newer than the running system (lld's default, 6.0, is Vista)."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_I386:
        return None
    v = (pe.OPTIONAL_HEADER.MajorSubsystemVersion, pe.OPTIONAL_HEADER.MinorSubsystemVersion)
    return None if v <= (5, 1) else f"subsystem version {v[0]}.{v[1]:02d}: Windows XP (5.01) would refuse to load it"


XP_EXPORTS_DIR = Path(__file__).resolve().parent / "xp_sp3_exports"


def _xp_export_set(dll: str) -> set[str] | None:
    path = XP_EXPORTS_DIR / f"{dll.lower()}.txt"
    if not path.is_file():
        return None
    return {l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")}


def _x86_xp_imports(pe, _):
    """x86: every import exists in Windows XP SP3's export set of its DLL (kit/lint/xp_sp3_exports):
    an import XP lacks fails the whole load ("Failed to snap", or StartService error 127)."""
    if pe.FILE_HEADER.Machine != IMAGE_FILE_MACHINE_I386:
        return None
    missing, unknown = [], []
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        dll = entry.dll.decode(errors="replace")
        known = _xp_export_set(dll)
        if known is None:
            unknown.append(dll)
            continue
        missing += [f"{dll}!{i.name.decode()}" for i in entry.imports if i.name and i.name.decode() not in known]
    if missing:
        return f"{len(missing)} import(s) missing from Windows XP SP3: {', '.join(missing)}"
    if unknown:
        return f"no XP SP3 export list for {', '.join(unknown)} (kit/lint/xp_sp3_exports)"
    return None


RULES = [
    Rule("native-subsystem", "PE format: kernel-mode images use IMAGE_SUBSYSTEM_NATIVE (link /DRIVER)", _subsystem),
    Rule("kernel-imports-only", "a kernel image can bind only to kernel-mode exports (ntoskrnl.exe, hal.dll)", _imports),
    Rule("checksum", "PE format, CheckSum: validated at load time for all drivers", _checksum),
    Rule("relocations", "kernel images are relocated (KASLR): a base relocation directory is required", _relocations),
    Rule("no-writable-executable", "HVCI: no section may be both writable and executable", _no_wx),
    Rule("page-aligned-sections", "HVCI: sections must be page-aligned so each page has one protection", _page_aligned),
    Rule("nx-and-dynamic-base", "HVCI readiness: IMAGE_DLLCHARACTERISTICS_NX_COMPAT and DYNAMIC_BASE set", _dll_characteristics),
    Rule("no-tls", "kernel loader: implicit TLS is not supported in drivers", _no_tls),
    Rule("not-a-dll", "link /DRIVER: a driver image does not carry IMAGE_FILE_DLL", _not_a_dll),
    Rule("no-exports", "a driver exports nothing unless it declares exports on purpose (kernel-mode export drivers)", _no_exports),
    Rule("x64-unwind-data", "x64 ABI: every non-leaf function has a RUNTIME_FUNCTION entry in .pdata (debuggers, dumps, SEH)",
         _unwind_coverage),
    Rule("probes-inside-try", "METHOD_NEITHER: user buffers are probed and copied only inside __try/__except "
         "(learn.microsoft.com: Using Neither Buffered nor Direct I/O)", _probes_inside_try),
    Rule("x86-seh-enabled", "x86 SEH: frame-based handlers run only if the image is not marked IMAGE_DLLCHARACTERISTICS_NO_SEH", _x86_seh_enabled),
    Rule("pdb-debug-directory", "WDK: drivers ship with a PDB (/DEBUG /PDB); the CodeView debug entry names it", _pdb_debug_directory),
    Rule("stack-cookies", "WDK /GS: stack buffers guarded by a cookie seeded at load; overrun -> bug check 0xF7 "
         "DRIVER_OVERRAN_STACK_BUFFER", _stack_cookies),
    Rule("cet-compatible", "Windows 11 kernel-mode hardware-enforced stack protection: /CETCOMPAT "
         "(IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT)", _cet_compatible),
    Rule("x86-subsystem-version", "PE loader: an image's subsystem version must not be newer than the OS (XP: 5.01)",
         _x86_subsystem_version),
    Rule("x86-xp-imports", "x86 images load on Windows XP SP3: every import in its documented export set", _x86_xp_imports),
]


def lint(path: str, opts: Options, only: set[str] | None = None) -> list[tuple[Rule, str | None]]:
    pe = pefile.PE(path)
    try:
        return [(rule, rule.check(pe, opts)) for rule in RULES if only is None or rule.name in only]
    finally:
        pe.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pe_lint.py", description="kernel-loader and HVCI checks for a driver image")
    parser.add_argument("--allow-import", action="append", default=[], help="another DLL a test image may import")
    parser.add_argument("--allow-exports", action="store_true", help="the driver exports symbols on purpose")
    parser.add_argument("--quiet", action="store_true", help="print only failures (for a post-link check)")
    parser.add_argument("--only", metavar="RULE[,RULE...]",
                        help="run only these rules (e.g. x86-xp-imports over user-mode programs)")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    if only and only - {r.name for r in RULES}:
        parser.error(f"no such rule(s): {', '.join(sorted(only - {r.name for r in RULES}))}")
    opts = Options({d.lower() for d in KERNEL_IMPORTS | set(args.allow_import)}, args.allow_exports)
    worst = 0
    for path in args.images:
        try:
            results = lint(path, opts, only)
        except (pefile.PEFormatError, OSError) as e:
            print(f"{path}: not a PE image: {e}")
            worst = max(worst, 2)
            continue
        for rule, reason in results:
            if reason is not None or not args.quiet:
                print(f"{path}: {'ok  ' if reason is None else 'FAIL'} {rule.name}" + ("" if reason is None else f": {reason} [{rule.source}]"))
        failed = sum(1 for _, r in results if r is not None)
        if failed or not args.quiet:
            print(f"{path}: {len(results) - failed} passed, {failed} failed")
        if failed:
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
