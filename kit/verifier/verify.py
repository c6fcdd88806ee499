#!/usr/bin/python3
"""verify.py - run any kernel driver (.sys) under kmdverify.sys, the Driver Verifier for Wine.

In a throw-away Wine box it loads kmdverify.sys first, then the driver into the same driver host
(one load-order group), exercises it (IOCTLs given with --ioctl, or a program given after --),
unloads it, then runs the fault-injection sweep over DriverEntry: for k = 1..N it makes the k-th
failable call fail, and after each failed start checks that nothing was left behind and that the
next, unfaulted start succeeds. It prints a report and exits 1 on any violation (2: bad usage or
the verifier could not attach). See docs/verifier.md.

  verify.py DRIVER.sys [--device NAME] [--ioctl 'CODE[,in=HEX][,out=N]']... [--no-sweep]
  verify.py --group G [--expect skeleton.sys,...] -- PROGRAM [ARGS...]   (verify what PROGRAM loads)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for harness in (ROOT / "kit" / "harness", ROOT / "tools"):  # winebox.py, before and after the kit/ layout
    if (harness / "winebox.py").exists():
        sys.path.insert(0, str(harness))
        break
from winebox import Box, dbgprint_lines, windows_path  # noqa: E402

BIN_DIR = Path(os.environ.get("KMD_BIN_DIR", os.environ.get("SKELETON_BIN_DIR", ROOT / "build" / "bin")))
VERIFIER_SERVICE = "kmdverify"
PARAMS_KEY = rf"HKLM\System\CurrentControlSet\Services\{VERIFIER_SERVICE}\Parameters"
LINE = re.compile(r"kmdverify: (?P<what>[A-Z]+) (?P<rest>.*)")
FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass
class Finding:
    what: str   # VIOLATION, WARNING, PROBE, FAULT, ENTRY, SUMMARY, VERIFYING, ERROR
    kind: str   # POOL_LEAK, ... for VIOLATION/WARNING
    driver: str
    fields: dict[str, str]
    text: str


def parse(lines: list[str]) -> list[Finding]:
    out = []
    for line in lines:
        m = LINE.search(line)
        if not m:
            continue
        rest = m.group("rest")
        kind = rest.split(" ", 1)[0] if m.group("what") in ("VIOLATION", "WARNING") else ""
        fields = dict(FIELD.findall(rest))
        out.append(Finding(m.group("what"), kind, fields.get("driver", "").lower(), fields, line.strip()))
    return out


class Symbols:
    """module+offset -> function and file:line: llvm-symbolizer, which reads the PDB beside the image
    (the kit writes one for every driver) or its DWARF; else function+offset from the image's COFF
    symbol table, which lld keeps only when it writes no PDB."""

    def __init__(self, image: Path | None):
        self.image = image if image is not None and image.is_file() else None
        self.functions: list[tuple[int, str]] = []
        self.cache: dict[int, str | None] = {}
        if self.image is None or not shutil.which("llvm-nm"):
            return
        data = self.image.read_bytes()
        pe = struct.unpack_from("<I", data, 0x3C)[0]
        magic = struct.unpack_from("<H", data, pe + 24)[0]
        base = struct.unpack_from("<Q", data, pe + 48)[0] if magic == 0x20B else struct.unpack_from("<I", data, pe + 52)[0]
        out = subprocess.run(["llvm-nm", "--defined-only", "-C", str(self.image)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in "tT" and not parts[2].startswith("."):
                self.functions.append((int(parts[0], 16) - base, parts[2]))
        self.functions.sort()

    def _symbolizer(self, offset: int) -> str | None:
        if self.image is None or not shutil.which("llvm-symbolizer"):
            return None
        # A return address: the call is the byte before it.
        try:
            lines = subprocess.run(["llvm-symbolizer", f"--obj={self.image}", "--relative-address", f"0x{max(offset - 1, 0):x}"],
                                   capture_output=True, text=True, timeout=30).stdout.split("\n")
        except subprocess.TimeoutExpired:
            return None
        if len(lines) < 2 or lines[0] in ("", "??"):
            return None
        where = lines[1].rsplit(":", 1)[0] if lines[1].count(":") >= 2 else lines[1]  # file:line, no column
        return f"{lines[0]} {Path(where.split(':')[0]).name}:{where.rsplit(':', 1)[-1]}" if not where.startswith("??") else lines[0]

    def name(self, offset: int) -> str | None:
        if offset not in self.cache:
            named = self._symbolizer(offset)
            if named is None:
                best = None
                for start, fn in self.functions:
                    if start > offset:
                        break
                    best = (start, fn)
                named = f"{best[1]}+0x{offset - best[0]:x}" if best else None
            self.cache[offset] = named
        return self.cache[offset]


@dataclass
class Report:
    driver: str
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # not verifier findings: a start that failed, ...
    fault_points: int = 0
    sweep_runs: int = 0
    image: Path | None = None  # the driver file, to name functions in the report

    def symbolized(self, text: str, symbols: Symbols) -> str:
        def name(m: re.Match) -> str:
            function = symbols.name(int(m.group(2), 16))
            return m.group(0) + (f" [{function}]" if function else "")
        return re.sub(rf"at=({re.escape(self.driver)})\+0x([0-9a-fA-F]+)", name, text)

    def of(self, what: str) -> list[Finding]:
        return [f for f in self.findings if f.what == what and f.driver == self.driver]

    @property
    def violations(self) -> list[Finding]:
        return self.of("VIOLATION")

    def total(self, key: str) -> int:
        return sum(int(f.fields.get(key, "0")) for f in self.of("SUMMARY"))

    @property
    def ok(self) -> bool:
        return not self.violations and not self.problems

    def text(self) -> str:
        summaries = self.of("SUMMARY")
        lines = [f"kmdverify report: {self.driver}",
                 f"  loads verified:         {len(self.of('ENTRY'))} "
                 f"({sum(1 for s in summaries if s.fields.get('phase') == 'unload')} unloads, "
                 f"{sum(1 for s in summaries if s.fields.get('phase') == 'failed-entry')} failed starts)",
                 f"  calls checked:          {self.total('calls')}",
                 f"  allocations tracked:    {self.total('allocations')} (freed {self.total('frees')})",
                 f"  probes checked:         {self.total('probes')} (raised {self.total('rejected')})",
                 f"  IRPs checked:           {self.total('irps')}",
                 f"  fault-injection points: {self.fault_points} (DriverEntry started {self.sweep_runs} times faulted)",
                 f"  warnings:               {len(self.of('WARNING'))}",
                 f"  violations:             {len(self.violations)}"]
        symbols = Symbols(self.image)
        for f in self.violations + self.of("WARNING"):
            lines.append("    " + self.symbolized(f.text.split("kmdverify: ", 1)[-1], symbols))
        for p in self.problems:
            lines.append(f"    PROBLEM {p}")
        lines.append("  result: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def parse_ioctl(spec: str) -> list[str]:
    """'0x222007,out=256' or '0x22e017,in=41 42,out=16' -> kmdctl ioctl arguments."""
    parts = [p.strip() for p in spec.split(",")]
    args = ["ioctl", parts[0]]
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key == "in":
            args += ["--in", value.replace(" ", "")]
        elif key == "out":
            args += ["--out-size", value]
        else:
            raise argparse.ArgumentTypeError(f"--ioctl {spec!r}: unknown part {p!r} (in=HEX, out=N)")
    return args


class Session:
    """A box with kmdverify.sys loaded into the driver host of load-order group `group`."""

    def __init__(self, box: Box, group: str, bin_dir: Path = BIN_DIR):
        self.box, self.group, self.bin_dir = box, group, bin_dir
        self.kmdctl = windows_path(bin_dir / "kmdctl.exe")
        self._log_seen = 0

    def batch(self, commands: list[list[str]], timeout: float = 300) -> str:
        """Runs commands one after another in one cmd.exe (one Wine process start instead of one
        per command: under Wine that is most of the time a sweep takes)."""
        script = self.box.prefix / "kmdverify-steps.cmd"
        lines = ["@echo off"]
        for argv in commands:
            lines.append(" ".join(f'"{a}"' if (" " in a or not a) else a for a in argv))
        script.write_text("\r\n".join(lines) + "\r\n")
        result = self.box.run(["cmd.exe", "/c", windows_path(script)], timeout=timeout)
        if result.timed_out:
            raise RuntimeError(f"verifier steps timed out:\n{result.describe()}")
        return result.stdout

    def new_lines(self) -> list[str]:
        lines = dbgprint_lines(self.box.kernel_log_text())
        fresh, self._log_seen = lines[self._log_seen:], len(lines)
        return fresh

    def fault_at(self, k: int) -> list[str]:
        return ["reg", "add", PARAMS_KEY, "/v", "FaultAt", "/t", "REG_DWORD", "/d", str(k), "/f"]

    def kmd(self, *args: str) -> list[str]:
        return [self.kmdctl, *args]

    def start(self) -> list[Finding]:
        self.box.start_session()
        self.batch([self.fault_at(0),
                    self.kmd("install", windows_path(self.bin_dir / "kmdverify.sys"), "--name", VERIFIER_SERVICE, "--group",
                             self.group, "--force"),
                    self.kmd("start", VERIFIER_SERVICE)])
        lines = self.new_lines()
        if not any("kmdverify: ready" in line for line in lines):
            raise RuntimeError("kmdverify.sys did not start:\n" + "\n".join(lines))
        return parse(lines)

    def stop(self) -> list[Finding]:
        self.batch([self.kmd("stop", VERIFIER_SERVICE), self.kmd("remove", VERIFIER_SERVICE)])
        return parse(self.new_lines())

    def verify_driver(self, driver: Path, service: str, device: str | None, ioctls: list[list[str]], sweep: bool = True,
                      max_points: int = 64) -> Report:
        report = Report(driver.name.lower(), image=driver)
        exercise = [self.kmd(*args, "--device", rf"\\.\{device or service}") for args in ioctls]
        self.batch([self.fault_at(0),
                    self.kmd("install", windows_path(driver), "--name", service, "--group", self.group, "--force"),
                    self.kmd("start", service), *exercise, self.kmd("stop", service)])
        report.findings += parse(self.new_lines())
        entries = report.of("ENTRY")
        if not report.of("VERIFYING") or not entries:
            report.problems.append("the verifier did not attach to the driver (not loaded into its host?)")
            return report
        if int(entries[0].fields["status"], 16) != 0:
            report.problems.append(f"DriverEntry failed without any injected fault: status={entries[0].fields['status']}")
        report.fault_points = int(entries[0].fields.get("failable", "0"))
        if sweep and report.fault_points > max_points:
            report.problems.append(f"{report.fault_points} fault points: more than --max-faults {max_points}")
        elif sweep:
            steps = []
            for k in range(1, report.fault_points + 1):
                # A start that survives its fault is stopped again; stopping a stopped driver is harmless.
                steps += [self.fault_at(k), self.kmd("start", service), self.kmd("stop", service),
                          self.fault_at(0), self.kmd("start", service), self.kmd("stop", service)]
            self.batch(steps + [self.fault_at(0)], timeout=60 + 20 * report.fault_points)
            sweep_findings = parse(self.new_lines())
            report.findings += sweep_findings
            self._check_sweep(report, [f for f in sweep_findings if f.what == "ENTRY" and f.driver == report.driver])
        self.batch([self.kmd("remove", service)])
        report.findings += parse(self.new_lines())
        return report

    @staticmethod
    def _check_sweep(report: Report, entries: list[Finding]) -> None:
        faulted = [e for e in entries if e.fields.get("fault_at") != "0"]
        clean = [e for e in entries if e.fields.get("fault_at") == "0"]
        report.sweep_runs = len(faulted)
        if len(faulted) != report.fault_points or len(clean) != report.fault_points:
            report.problems.append(f"sweep: expected {report.fault_points} faulted and as many clean starts, "
                                   f"saw {len(faulted)} and {len(clean)}")
        for e in faulted:
            if e.fields.get("injected", "-") == "-":
                report.problems.append(f"sweep: fault point {e.fields.get('fault_at')} was never reached "
                                       "(DriverEntry does not make the same calls every time)")
        for before, e in zip(faulted, clean):
            if int(e.fields["status"], 16) != 0:
                report.problems.append(f"sweep: the start after fault point {before.fields.get('fault_at')} "
                                       f"({before.fields.get('injected')}) failed: status={e.fields['status']}")


def run_program(session: Session, program: list[str], env: dict[str, str], expect: list[str], timeout: float) -> tuple[int, list[Report]]:
    """Runs PROGRAM with the verifier loaded; every driver it loads into the group is verified."""
    result = session.box.run(program, timeout=timeout, env=env)
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    findings = parse(session.new_lines())
    drivers = sorted({f.driver for f in findings if f.what == "VERIFYING"} | {d.lower() for d in expect})
    reports = []
    for d in drivers:
        r = Report(d, findings, image=next((p for p in session.bin_dir.glob("*.sys") if p.name.lower() == d), None))
        if not r.of("VERIFYING"):
            r.problems.append("expected to be verified, but never loaded into the verifier's host")
        reports.append(r)
    rc = 1 if result.timed_out else result.returncode
    return rc, reports


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv, program = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    else:
        program = []
    p = argparse.ArgumentParser(prog="verify.py", description=__doc__.split("\n\n")[0])
    p.add_argument("driver", nargs="?", type=Path, help="the .sys to verify")
    p.add_argument("--name", help="service name (default: the file name without .sys)")
    p.add_argument("--device", help=r"Win32 device name for the IOCTLs (\\.\NAME; default: the service name)")
    p.add_argument("--ioctl", action="append", default=[], type=parse_ioctl, metavar="CODE[,in=HEX][,out=N]")
    p.add_argument("--ioctl-script", type=Path, help="a file of --ioctl specs, one a line (# comments)")
    p.add_argument("--group", default="kmdverify", help="load-order group shared by the verifier and the driver(s)")
    p.add_argument("--expect", default="", help="with a PROGRAM: drivers (file names) that must be verified")
    p.add_argument("--env-path", action="append", default=[], metavar="NAME=UNIXPATH",
                   help="with a PROGRAM: set NAME to the Windows path of UNIXPATH")
    p.add_argument("--no-sweep", action="store_true", help="skip the fault-injection sweep")
    p.add_argument("--max-faults", type=int, default=64)
    p.add_argument("--box", default="verify")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--keep", action="store_true", help="keep the box (and its kernel.log) afterwards")
    a = p.parse_args(argv)
    if bool(a.driver) == bool(program):
        p.print_usage(sys.stderr)
        print("verify.py: give a DRIVER.sys, or a PROGRAM after --", file=sys.stderr)
        return 2
    if a.driver and not a.driver.is_file():
        print(f"verify.py: {a.driver}: no such file", file=sys.stderr)
        return 2
    ioctls = list(a.ioctl)
    if a.ioctl_script:
        for line in a.ioctl_script.read_text().splitlines():
            if line.split("#", 1)[0].strip():
                ioctls.append(parse_ioctl(line.split("#", 1)[0].strip()))
    env = {}
    for item in a.env_path:
        name, _, path = item.partition("=")
        env[name] = windows_path(path)

    with Box(a.box, keep=a.keep) as box:
        session = Session(box, a.group)
        try:
            session.start()
        except RuntimeError as e:
            print(f"verify.py: {e}", file=sys.stderr)
            return 2
        if program:
            rc, reports = run_program(session, program, env, [d for d in a.expect.split(",") if d], a.timeout)
            if rc != 0:
                print(f"verify.py: {program[0]} exited {rc}", file=sys.stderr)
        else:
            rc = 0
            name = a.name or a.driver.stem
            reports = [session.verify_driver(a.driver.resolve(), name, a.device, ioctls, sweep=not a.no_sweep,
                                             max_points=a.max_faults)]
        session.stop()
        if a.keep:
            print(f"box kept: {box.prefix} (kernel log: {box.kernel_log})", file=sys.stderr)
    for r in reports:
        print(r.text())
    return 0 if rc == 0 and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
