#!/usr/bin/python3
"""pe_lint - checks that a .sys image is fit for the Windows kernel loader and for memory
integrity (HVCI). Prints one line per rule; exits 1 if any rule fails, 2 if the file is no PE.

Usage: pe_lint.py [--quiet] [--allow-import DLL ...] [--allow-exports] IMAGE [IMAGE ...]
Runs under Debian's interpreter (/usr/bin/python3), which sees python3-pefile and python3-capstone.
"""
from __future__ import annotations

import argparse
import bisect
import sys
from dataclasses import dataclass
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

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    uncovered: list[str] = []
    for section in pe.sections:
        if not section.Characteristics & IMAGE_SCN_CNT_CODE:
            continue
        code = section.get_data()[:section.Misc_VirtualSize]
        offset = 0
        while offset < len(code):
            # capstone stops at a byte it cannot decode (data, odd padding): step over it, go on.
            for address, size, mnemonic, op_str in md.disasm_lite(code[offset:], section.VirtualAddress + offset):
                offset += size
                non_leaf = mnemonic in ("call", "push") or (mnemonic == "sub" and op_str.startswith("rsp,"))
                if non_leaf and not covered(address):
                    uncovered.append(f"{mnemonic} at RVA 0x{address:x}")
            else:
                offset += 1
    if not uncovered:
        return None
    return (f"{len(uncovered)} instruction(s) of non-leaf functions have no unwind data ({', '.join(uncovered[:3])}"
            f"{', ...' if len(uncovered) > 3 else ''}): compile with -fasynchronous-unwind-tables")


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
    Rule("x86-seh-enabled", "x86 SEH: frame-based handlers run only if the image is not marked IMAGE_DLLCHARACTERISTICS_NO_SEH", _x86_seh_enabled),
]


def lint(path: str, opts: Options) -> list[tuple[Rule, str | None]]:
    pe = pefile.PE(path)
    try:
        return [(rule, rule.check(pe, opts)) for rule in RULES]
    finally:
        pe.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pe_lint.py", description="kernel-loader and HVCI checks for a driver image")
    parser.add_argument("--allow-import", action="append", default=[], help="another DLL a test image may import")
    parser.add_argument("--allow-exports", action="store_true", help="the driver exports symbols on purpose")
    parser.add_argument("--quiet", action="store_true", help="print only failures (for a post-link check)")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    opts = Options({d.lower() for d in KERNEL_IMPORTS | set(args.allow_import)}, args.allow_exports)
    worst = 0
    for path in args.images:
        try:
            results = lint(path, opts)
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
