#!/usr/bin/python3
"""pe_lint - checks that a .sys image is fit for the Windows kernel loader and for memory
integrity (HVCI). Prints one line per rule; exits 1 if any rule fails, 2 if the file is no PE.

Usage: pe_lint.py [--allow-import DLL ...] IMAGE [IMAGE ...]
Runs under Debian's interpreter (/usr/bin/python3), which sees python3-pefile.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

import pefile

IMAGE_SUBSYSTEM_NATIVE = 1
IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE = 0x0040
IMAGE_DLLCHARACTERISTICS_NX_COMPAT = 0x0100
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


def _seh_usable(pe, _):
    # The METHOD_NEITHER guard is structured exception handling, found differently per machine.
    # x64: table-based - the exception directory (.pdata) is how the dispatcher finds a handler.
    # x86: frame-based - records on the stack, no .pdata; the one thing that disables it image-wide
    # is IMAGE_DLLCHARACTERISTICS_NO_SEH (the dispatcher then ignores every handler in the image).
    if pe.FILE_HEADER.Machine == IMAGE_FILE_MACHINE_I386:
        dc = pe.OPTIONAL_HEADER.DllCharacteristics
        return None if not dc & IMAGE_DLLCHARACTERISTICS_NO_SEH else f"DllCharacteristics 0x{dc:04x} has NO_SEH: the x86 guard's handler would never be called"
    d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
    return None if d.VirtualAddress and d.Size else "no exception directory (.pdata): no exception can be dispatched to a handler in it"


RULES = [
    Rule("native-subsystem", "PE format: kernel-mode images use IMAGE_SUBSYSTEM_NATIVE (link /DRIVER)", _subsystem),
    Rule("kernel-imports-only", "a kernel image can bind only to kernel-mode exports (ntoskrnl.exe, hal.dll)", _imports),
    Rule("checksum", "PE format, CheckSum: validated at load time for all drivers", _checksum),
    Rule("relocations", "kernel images are relocated (KASLR): a base relocation directory is required", _relocations),
    Rule("no-writable-executable", "HVCI: no section may be both writable and executable", _no_wx),
    Rule("page-aligned-sections", "HVCI: sections must be page-aligned so each page has one protection", _page_aligned),
    Rule("nx-and-dynamic-base", "HVCI readiness: IMAGE_DLLCHARACTERISTICS_NX_COMPAT and DYNAMIC_BASE set", _dll_characteristics),
    Rule("no-tls", "kernel loader: implicit TLS is not supported in drivers", _no_tls),
    Rule("seh-usable", "SEH: x64 needs the exception directory (.pdata); x86 must not be marked NO_SEH", _seh_usable),
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
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    opts = Options({d.lower() for d in KERNEL_IMPORTS | set(args.allow_import)})
    worst = 0
    for path in args.images:
        try:
            results = lint(path, opts)
        except (pefile.PEFormatError, OSError) as e:
            print(f"{path}: not a PE image: {e}")
            worst = max(worst, 2)
            continue
        for rule, reason in results:
            print(f"{path}: {'ok  ' if reason is None else 'FAIL'} {rule.name}" + ("" if reason is None else f": {reason} [{rule.source}]"))
        failed = sum(1 for _, r in results if r is not None)
        print(f"{path}: {len(results) - failed} passed, {failed} failed")
        if failed:
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
