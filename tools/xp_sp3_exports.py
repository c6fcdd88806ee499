#!/usr/bin/python3
"""xp_sp3_exports.py - derives the Windows XP SP3 export sets that kit/lint/pe_lint.py's
x86-xp-imports rule checks x86 binaries against (kit/lint/xp_sp3_exports/DLL.txt), from two
documented sources on this machine:

  1. what the DDK/SDK headers declare for NTDDI_VERSION = NTDDI_WINXPSP3 (0x05010300),
     _WIN32_WINNT = 0x0501: mingw-w64's headers carry Microsoft's version guards, so a function
     introduced in Vista or later (EtwRegister, IoConnectInterruptEx, CancelIoEx,
     CompareStringOrdinal) is not declared (clang's AST lists what is);
  2. what the DLL exports at all: mingw-w64's i686 import library for it (libntoskrnl.a, ...).

A name is in DLL.txt if both say so (plus SUPPLEMENT below: exports Microsoft's headers declare and
mingw-w64's do not, each with its reason). So "documented": an export XP has but no header declares is
missing (the rule then names it, to be checked by hand), and a function a header declares without
a version guard although newer (rare; the C runtime functions ntoskrnl exports have none) slips
through. Run it again after a mingw-w64 upgrade; the lists are committed.

  tools/xp_sp3_exports.py [--out kit/lint/xp_sp3_exports]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIPLE = "i686-w64-windows-gnu"
LIBS = Path("/usr/i686-w64-mingw32/lib")
XP_SP3 = ["-DNTDDI_VERSION=0x05010300", "-D_WIN32_WINNT=0x0501", "-DWINVER=0x0501"]
# (DLL, import library, headers, extra include directories)
SETS = [
    ("ntoskrnl.exe", "libntoskrnl.a", ["ntifs.h", "ntddk.h", "wdm.h", "string.h", "stdio.h", "stdlib.h", "wchar.h"], ["ddk"]),
    ("hal.dll", "libhal.a", ["ntifs.h", "ntddk.h", "wdm.h"], ["ddk"]),
    ("kernel32.dll", "libkernel32.a", ["windows.h", "winioctl.h", "tlhelp32.h"], []),
    ("advapi32.dll", "libadvapi32.a", ["windows.h", "winsvc.h", "aclapi.h", "sddl.h"], []),
    ("user32.dll", "libuser32.a", ["windows.h"], []),
]
# Functions, and the data a DLL exports (extern variables: IoFileObjectType, KeTickCount, ...).
FUNCTION_DECL = re.compile(r"^[|`]-(?:FunctionDecl|VarDecl) .*? (?:used |referenced )*([A-Za-z_][A-Za-z0-9_]*) '")
# Exports XP SP3 has that mingw-w64's headers do not declare (Microsoft's do), each with its source.
SUPPLEMENT = {
    "ntoskrnl.exe": {
        # x86 SEH: Microsoft's ntddk.h declares it for x86 drivers (the kit's guard unwinds with it,
        # kmd/guarded_x86.cpp); exported by the x86 kernel since NT 3.1.
        "RtlUnwind",
        # Microsoft's ntddk.h: extern POBJECT_TYPE *IoDriverObjectType (ObReferenceObjectByName's
        # type for driver objects), since Windows 2000; mingw-w64 lacks it (kmd/nt.hpp declares it).
        "IoDriverObjectType",
        # Microsoft's wdm.h: extern POBJECT_TYPE *IoDeviceObjectType (ObOpenObjectByPointer's type
        # for device objects, kmd/device_security.cpp), exported since NT 4.0; mingw-w64 lacks it.
        "IoDeviceObjectType",
    },
}


def declared(headers: list[str], include_dirs: list[str]) -> set[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write("".join(f"#include <{h}>\n" for h in headers))
    includes = [a for d in include_dirs for a in ("-isystem", f"/usr/share/mingw-w64/include/{d}")]
    out = subprocess.run(["clang", f"--target={TRIPLE}", "-x", "c", "-fsyntax-only", "-w", *includes, *XP_SP3,
                          "-Xclang", "-ast-dump", f.name], capture_output=True, text=True).stdout
    Path(f.name).unlink()
    # Not check=True: mingw-w64's wdm.h has one error at the XP level (SYSTEM_POWER_STATE_CONTEXT,
    # a Vista type used unguarded), which costs that one declaration; the AST holds all the others.
    names = {m.group(1) for m in map(FUNCTION_DECL.match, out.splitlines()) if m}
    if len(names) < 1000:
        raise SystemExit(f"xp_sp3_exports: only {len(names)} declarations from {headers}: the headers did not parse")
    return names


def exported(library: str) -> set[str]:
    """Import names of an i686 import library: __imp__Name@8, __imp_@Name@8 (fastcall), __imp__Name."""
    out = subprocess.run(["llvm-nm", str(LIBS / library)], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        symbol = line.split()[-1] if line.split() else ""
        if symbol.startswith("__imp_"):
            name = symbol[len("__imp_"):]
            name = name[1:] if name[:1] in ("_", "@") else name
            names.add(re.sub(r"@\d+$", "", name))
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xp_sp3_exports.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "kit" / "lint" / "xp_sp3_exports")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for dll, library, headers, include_dirs in SETS:
        names = sorted((declared(headers, include_dirs) | SUPPLEMENT.get(dll, set())) & exported(library))
        header = (f"# {dll}: Windows XP SP3 exports, as documented - declared by the DDK/SDK headers for\n"
                  f"# NTDDI_WINXPSP3 and exported by the import library {library} (mingw-w64).\n"
                  f"# Made by tools/xp_sp3_exports.py; {len(names)} names.\n")
        (args.out / f"{dll}.txt").write_text(header + "".join(n + "\n" for n in names))
        print(f"{dll}: {len(names)} names")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
