#!/usr/bin/python3
"""inf_lint - checks the INF of a legacy (non-PnP, "primitive") kernel driver package for syntax
and consistency: every section it references exists, the .sys it installs is the one built (and
lies beside it), the service is the driver's, the architecture decoration matches the image.
Prints one line per rule like pe_lint.py; exits 1 if any rule fails, 2 if the INF cannot be read.

Usage: inf_lint.py [--quiet] [--service NAME] [--sys IMAGE.sys] FILE.inf [FILE.inf ...]
  --sys: the built image the package must hold (default: the .sys named in the INF, beside it)
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MACHINE_DECORATION = {0x8664: "ntamd64", 0x014C: "ntx86", 0xAA64: "ntarm64"}
GUID = re.compile(r"^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$")
DRIVER_VER = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/\d{4}\s*,\s*\d+\.\d+\.\d+\.\d+$")
STRING_TOKEN = re.compile(r"%([^%]*)%")


@dataclass
class Inf:
    path: Path
    sections: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)  # lower name -> [(key, value)]
    names: dict[str, str] = field(default_factory=dict)  # lower name -> as written
    problems: list[str] = field(default_factory=list)  # syntax

    def section(self, name: str) -> list[tuple[str | None, str]] | None:
        return self.sections.get(name.lower())

    def value(self, section: str, key: str) -> str | None:
        for k, v in self.section(section) or []:
            if k is not None and k.lower() == key.lower():
                return v
        return None

    def values(self, section: str, key: str) -> list[str]:
        return [v for k, v in self.section(section) or [] if k is not None and k.lower() == key.lower()]


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            break
        out.append(ch)
    return "".join(out).strip()


def parse(path: Path) -> Inf:
    inf = Inf(path)
    current = None
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                inf.problems.append(f"line {number}: malformed section header {raw.strip()!r}")
                current = None
                continue
            name = line[1:-1].strip()
            if name.lower() in inf.sections:
                inf.problems.append(f"line {number}: section [{name}] appears twice")
            current = inf.sections.setdefault(name.lower(), [])
            inf.names[name.lower()] = name
            continue
        if current is None:
            inf.problems.append(f"line {number}: {raw.strip()!r} is outside any section")
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            current.append((key.strip(), value.strip()))
        else:
            current.append((None, line))
    return inf


def _unquote(v: str | None) -> str | None:
    return v[1:-1] if v and len(v) >= 2 and v[0] == v[-1] == '"' else v


@dataclass
class Context:
    inf: Inf
    image: Path | None  # the built .sys the package must hold
    service: str | None  # the expected service name
    machine: int | None  # the image's PE machine


@dataclass
class Rule:
    name: str
    source: str
    check: Callable[[Context], str | None]


def _syntax(c: Context):
    return "; ".join(c.inf.problems) or None


def _version(c: Context):
    v = "Version"
    if c.inf.section(v) is None:
        return "no [Version] section"
    bad = []
    if (_unquote(c.inf.value(v, "Signature")) or "").lower() != "$windows nt$":
        bad.append(f'Signature is {c.inf.value(v, "Signature")!r}, not "$WINDOWS NT$"')
    for key in ("Class", "Provider", "CatalogFile"):
        if not c.inf.value(v, key):
            bad.append(f"no {key}")
    if not GUID.match(c.inf.value(v, "ClassGuid") or ""):
        bad.append(f"ClassGuid {c.inf.value(v, 'ClassGuid')!r} is not a {{GUID}}")
    if not DRIVER_VER.match(c.inf.value(v, "DriverVer") or ""):
        bad.append(f"DriverVer {c.inf.value(v, 'DriverVer')!r} is not MM/DD/YYYY,w.x.y.z")
    if c.inf.value(v, "PnpLockdown") != "1":
        bad.append("PnpLockdown is not 1 (the installed files must be protected from change)")
    return "; ".join(bad) or None


def _install_sections(inf: Inf) -> list[str]:
    return [inf.names[n] for n in inf.sections if n.startswith("defaultinstall") and not n.endswith(".services")]


def _arch_decoration(c: Context):
    installs = _install_sections(c.inf)
    if not installs:
        return "no [DefaultInstall.NT<arch>] section: not a primitive driver package"
    undecorated = [s for s in installs if s.lower() in ("defaultinstall", "defaultinstall.nt")]
    if undecorated:
        return f"[{undecorated[0]}] has no architecture decoration (primitive drivers need [DefaultInstall.NT<arch>])"
    if c.machine is not None:
        want = MACHINE_DECORATION.get(c.machine)
        wrong = [s for s in installs if s.lower() != f"defaultinstall.{want}"]
        if wrong:
            return f"[{wrong[0]}] does not match the image's architecture (expected [DefaultInstall.{want[:2].upper()}{want[2:]}])"
    missing = [s for s in installs if c.inf.section(s + ".Services") is None]
    return f"[{missing[0]}.Services] is missing: no service would be added" if missing else None


def _referenced_sections(c: Context):
    bad = []
    for install in _install_sections(c.inf):
        for value in c.inf.values(install, "CopyFiles"):
            for ref in (r.strip() for r in value.split(",")):
                if ref and not ref.startswith("@") and c.inf.section(ref) is None:
                    bad.append(f"[{install}] CopyFiles names [{ref}], which does not exist")
        for value in c.inf.values(install + ".Services", "AddService"):
            fields = [f.strip() for f in value.split(",")]
            if len(fields) < 3 or not fields[2]:
                bad.append(f"AddService = {value}: no service-install section")
            elif c.inf.section(fields[2]) is None:
                bad.append(f"AddService names [{fields[2]}], which does not exist")
    if c.inf.section("SourceDisksNames") is None or c.inf.section("SourceDisksFiles") is None:
        bad.append("no [SourceDisksNames]/[SourceDisksFiles]")
    if c.inf.section("DestinationDirs") is None:
        bad.append("no [DestinationDirs]")
    return "; ".join(bad) or None


def _copied_files(c: Context) -> list[str]:
    files = []
    for install in _install_sections(c.inf):
        for value in c.inf.values(install, "CopyFiles"):
            for ref in (r.strip() for r in value.split(",")):
                if ref.startswith("@"):
                    files.append(ref[1:])
                else:
                    files += [(k if k is not None else v).split(",")[0].strip() for k, v in c.inf.section(ref) or []]
    return files


def _service(c: Context):
    bad = []
    for install in _install_sections(c.inf):
        for value in c.inf.values(install + ".Services", "AddService"):
            fields = [f.strip() for f in value.split(",")]
            name, section = fields[0], fields[2] if len(fields) > 2 else ""
            if c.service and name.lower() != c.service.lower():
                bad.append(f"AddService adds {name!r}, not the driver's service {c.service!r}")
            if c.inf.section(section) is None:
                continue
            for key, want in (("ServiceType", "1"), ("StartType", None), ("ErrorControl", None)):
                got = c.inf.value(section, key)
                if got is None:
                    bad.append(f"[{section}] has no {key}")
                elif want and got != want:
                    bad.append(f"[{section}] {key} = {got}, not {want} (SERVICE_KERNEL_DRIVER)")
                elif key == "StartType" and got not in ("0", "1", "2", "3", "4"):
                    bad.append(f"[{section}] StartType = {got} is not 0-4")
                elif key == "ErrorControl" and got not in ("0", "1", "2", "3"):
                    bad.append(f"[{section}] ErrorControl = {got} is not 0-3")
            binary = c.inf.value(section, "ServiceBinary") or ""
            m = re.fullmatch(r"%(\d+)%\\([^\\]+)", binary)
            dest = c.inf.value("DestinationDirs", "DefaultDestDir")
            if not m:
                bad.append(f"[{section}] ServiceBinary {binary!r} is not %DIRID%\\file.sys")
            else:
                if dest is not None and m.group(1) != dest.split(",")[0].strip():
                    bad.append(f"ServiceBinary is in DIRID {m.group(1)}, but the files are copied to DIRID {dest}")
                if m.group(2).lower() not in (f.lower() for f in _copied_files(c)):
                    bad.append(f"ServiceBinary {m.group(2)} is not among the files the INF copies")
    return "; ".join(bad) or None


def _the_built_sys(c: Context):
    copied = _copied_files(c)
    sys_files = [f for f in copied if f.lower().endswith(".sys")]
    if not sys_files:
        return "the INF copies no .sys"
    bad = []
    if c.image is not None and c.image.name.lower() not in (f.lower() for f in sys_files):
        bad.append(f"the INF installs {', '.join(sys_files)}, not the built {c.image.name}")
    listed = {(k or v).split("=")[0].strip().lower() for k, v in c.inf.section("SourceDisksFiles") or []}
    bad += [f"{f} is not in [SourceDisksFiles]" for f in copied if f.lower() not in listed]
    disks = {(k or "").strip() for k, _ in c.inf.section("SourceDisksNames") or []}
    for k, v in c.inf.section("SourceDisksFiles") or []:
        disk = v.split(",")[0].strip() if k is not None else ""
        if disk and disk not in disks:
            bad.append(f"[SourceDisksFiles] {k} is on disk {disk}, which [SourceDisksNames] does not name")
    beside = [f for f in sys_files if not (c.inf.path.parent / f).is_file()]
    bad += [f"{f} is not beside the INF in {c.inf.path.parent}" for f in beside]
    return "; ".join(bad) or None


def _strings(c: Context):
    defined = {(k or "").lower() for k, _ in c.inf.section("Strings") or []}
    undefined = set()
    for name, entries in c.inf.sections.items():
        if name == "strings":
            continue
        for k, v in entries:
            for token in STRING_TOKEN.findall(f"{k or ''}={v}"):
                if token and not token.isdigit() and token.lower() not in defined:
                    undefined.add(token)
    return f"%{'%, %'.join(sorted(undefined))}% not defined in [Strings]" if undefined else None


RULES = [
    Rule("inf-syntax", "INF syntax: every line inside a [section], no section twice", _syntax),
    Rule("inf-version", "INF [Version]: Signature \"$WINDOWS NT$\", Class, ClassGuid, Provider, DriverVer, CatalogFile, "
         "PnpLockdown=1", _version),
    Rule("inf-arch-decoration", "primitive driver: [DefaultInstall.NT<arch>] (+ .Services) for the image's architecture",
         _arch_decoration),
    Rule("inf-sections-exist", "INF: every section a directive names exists", _referenced_sections),
    Rule("inf-service", "AddService: the driver's service, ServiceType=1 (kernel driver), ServiceBinary among the copied "
         "files, in the destination directory", _service),
    Rule("inf-installs-the-built-sys", "the package holds the .sys the INF installs: the one built, listed in "
         "[SourceDisksFiles], beside the INF", _the_built_sys),
    Rule("inf-strings-defined", "INF: every %token% is defined in [Strings]", _strings),
]


def _machine(image: Path) -> int | None:
    try:
        data = image.read_bytes()[:4096]
        pe = int.from_bytes(data[0x3C:0x40], "little")
        return int.from_bytes(data[pe + 4:pe + 6], "little") if data[pe:pe + 4] == b"PE\0\0" else None
    except (OSError, IndexError):
        return None


def lint(path: Path, image: Path | None, service: str | None) -> list[tuple[Rule, str | None]]:
    inf = parse(path)
    if image is None:  # the .sys the INF names, beside it
        named = [f for f in _copied_files(Context(inf, None, None, None)) if f.lower().endswith(".sys")]
        image = path.parent / named[0] if named and (path.parent / named[0]).is_file() else None
    c = Context(inf, image, service, _machine(image) if image else None)
    return [(rule, rule.check(c)) for rule in RULES]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="inf_lint.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--service")
    parser.add_argument("--sys", type=Path)
    parser.add_argument("infs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    worst = 0
    for path in args.infs:
        try:
            results = lint(path, args.sys, args.service)
        except OSError as e:
            print(f"{path}: cannot read: {e}")
            worst = 2
            continue
        for rule, reason in results:
            if reason is not None or not args.quiet:
                print(f"{path}: {'ok  ' if reason is None else 'FAIL'} {rule.name}" + ("" if reason is None else f": {reason} [{rule.source}]"))
        failed = sum(1 for _, r in results if r is not None)
        if failed or not args.quiet:
            print(f"{path}: {len(results) - failed} passed, {failed} failed")
        worst = max(worst, 1 if failed else 0)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
