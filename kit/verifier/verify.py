#!/usr/bin/python3
"""verify.py - run any kernel driver (.sys) under kmdverify.sys, the Driver Verifier for Wine.

In a throw-away Wine box it loads kmdverify.sys first, then the driver into the same driver host
(one load-order group), exercises it (IOCTLs given with --ioctl, or a program given after --),
unloads it, then runs the fault-injection sweep over DriverEntry: for k = 1..N it makes the k-th
failable call fail, and after each failed start checks that nothing was left behind and that the
next, unfaulted start succeeds. It prints a report and exits 1 on any violation (2: bad usage or
the verifier could not attach, 3 INCOMPLETE: nothing failed, but the driver's device never got a
request, so its dispatch routines were not checked). Bad and kernel pointers, which under Wine no
caller can send, go to every METHOD_NEITHER code from inside the driver host (kmdverify.sys's
prober, kit/verifier/prober.cpp). It fails closed: every step (install, start,
each IOCTL, stop, each sweep start) runs with its exit code and output kept, the first step that
fails ends the run and is named, and an IOCTL the verifier did not see reach the driver fails the
run. See docs/verifier.md.

  verify.py DRIVER.sys [--device NAME] [--ioctl 'CODE[,in=HEX][,out=N]']... [--no-sweep] [--no-probe]
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
class Step:
    argv: list[str]
    may_fail: bool = False  # its exit code is not the judge (an IOCTL a driver refuses, a faulted start)
    rc: int | None = None   # None: never ran (an earlier step failed, or the batch died)
    output: str = ""        # stdout and stderr, merged

    def text(self) -> str:
        return " ".join(self.argv)


class StepFailed(RuntimeError):
    def __init__(self, step: Step, number: int, steps: list[Step], extra: str = ""):
        self.step, self.number, self.steps = step, number, steps
        how = f"exit code {step.rc}" if step.rc is not None else "it never finished (the batch ended)"
        super().__init__(f"step {number} failed ({how}): {step.text()}\n{step.output.rstrip()}{extra}")


# Parameters\SpecialPool (kit/verifier/special_pool.cpp): where each block's guard page lies.
SPECIAL_POOL_MODES = {"off": 0, "overrun": 1, "underrun": 2}

# The in-host prober (kit/verifier/prober.cpp): kmdverify.sys's control device, its one IOCTL and
# its cases. Each case is one IRP it builds in the driver host and sends as a UserMode request.
PROBER_DEVICE = r"\\.\kmdverify"
PROBE_IOCTL = 0x002227C0
PROBE_CASES = ["bad-in", "kernel-in", "pool-in", "bad-out", "kernel-out", "pool-out", "ro-out", "no-mdl"]
NEITHER_CASES = PROBE_CASES[:7]  # what a METHOD_NEITHER code is sent
DIRECT_CASES = ["no-mdl"]        # what a METHOD_IN_DIRECT / METHOD_OUT_DIRECT code is sent
PROBE_IN, PROBE_OUT = 16, 256    # the buffer lengths of every default case

STEP_MARK = "@@kmdctl-step "  # kmdctl batch's markers around each step's output (docs/kmdctl.md)
RC_MARK = "@@kmdctl-rc "


def batch_word(word: str) -> str:
    """A word of a `kmdctl batch` line: in double quotes when empty or holding a blank."""
    if '"' in word:
        raise ValueError(f"a kmdctl batch step cannot hold a double quote: {word!r}")
    return f'"{word}"' if not word or " " in word or "\t" in word else word


@dataclass
class Finding:
    what: str   # VIOLATION, WARNING, PROBE, FAULT, ENTRY, SUMMARY, VERIFYING, ERROR, IRP, UNMAPPED
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
        if len(data) < 0x40 or data[:2] != b"MZ":
            return  # not an image: nothing to name
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

    @classmethod
    def of(cls, image: Path | None) -> "Symbols":
        """One Symbols per image file as it is on disk: a report's text is made again for every
        message that shows it, and each llvm-nm or llvm-symbolizer run reads the whole PDB."""
        if image is None or not image.is_file():
            return cls(None)
        st = image.stat()
        key = (str(image.resolve()), st.st_mtime_ns, st.st_size)
        if key not in _SYMBOLS:
            _SYMBOLS[key] = cls(image)
        return _SYMBOLS[key]


_SYMBOLS: dict[tuple[str, int, int], Symbols] = {}


@dataclass
class Report:
    driver: str
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # not verifier findings: a start that failed, ...
    incomplete: list[str] = field(default_factory=list)  # why the run checked less than it should have
    discovered: list[str] = field(default_factory=list)  # what the discovery sweep found, one line each
    fault_points: int = 0
    sweep_runs: int = 0
    low_resources: list[str] = field(default_factory=list)  # what the low-resources simulation did, one line each
    image: Path | None = None  # the driver file, to name functions in the report
    replays: dict[int, str] = field(default_factory=dict)  # id(finding) -> the command that sends its request again
    target: str = ""  # the device name the requests went to (replays name it)
    probes: list = field(default_factory=list)  # the prober's requests (Probe)

    def symbolized(self, text: str, symbols: Symbols) -> str:
        def name(m: re.Match) -> str:
            function = symbols.name(int(m.group(2), 16))
            return m.group(0) + (f" [{function}]" if function else "")
        # at= the call or faulting instruction; allocated=/freed= a special-pool block's sites.
        return re.sub(rf"(?:at|allocated|freed)=({re.escape(self.driver)})\+0x([0-9a-fA-F]+)", name, text)

    def of(self, what: str) -> list[Finding]:
        return [f for f in self.findings if f.what == what and f.driver == self.driver]

    @property
    def violations(self) -> list[Finding]:
        return self.of("VIOLATION")

    def total(self, key: str) -> int:
        return sum(int(f.fields.get(key, "0")) for f in self.of("SUMMARY"))

    @property
    def failed(self) -> bool:
        return bool(self.violations or self.problems)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.incomplete

    @property
    def result(self) -> str:
        return "FAIL" if self.failed else "INCOMPLETE" if self.incomplete else "PASS"

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
        symbols = Symbols.of(self.image)
        special = self.total("special")
        modes = sorted({f.fields.get("special_pool", "off") for f in self.of("VERIFYING")})
        if special or modes != ["off"]:
            lines.append(f"  special pool:           {'/'.join(modes)} ({special} block(s) against a guard page)")
        lines += ["  low resources:          " + d for d in self.low_resources]
        lines += ["  " + d for d in self.discovered]
        for f in self.violations + self.of("WARNING"):
            lines.append("    " + self.symbolized(f.text.split("kmdverify: ", 1)[-1], symbols))
            if id(f) in self.replays:
                lines.append(f"      replay: {self.replays[id(f)]}")
        for p in self.problems:
            lines.append(f"    PROBLEM {p}")
        for p in self.incomplete:
            lines.append(f"    INCOMPLETE {p}")
        lines.append("  result: " + self.result)
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


# What unload (or a failed DriverEntry) left behind: no one request made it, so none replays it.
LEFTOVERS = {"POOL_LEAK", "LINK_LEAK", "DEVICE_LEAK", "HANDLE_LEAK", "REFERENCE_LEAK", "IRP_PENDING_AT_UNLOAD"}


def replay_command(report: Report, target: str, dtype: str, spec: str) -> str:
    """The one line that sends just this request again, under the verifier."""
    image = report.image if report.image is not None else Path(report.driver)
    device = target[4:] if target.startswith("\\\\.\\") else target
    return f"kit/verifier/verify.py {image} --no-sweep --device {device} --call {spec}" + (f" --type {dtype}" if dtype != "0x22" else "")


def ioctl_replay(report: Report, argv: list[str]) -> str:
    """verify.py's --ioctl form of one explicit `kmdctl ioctl CODE [--in HEX] [--out-size N] --device D` step."""
    args = argv[argv.index("ioctl") + 1:]
    spec, device = args[0], ""
    for key, value in zip(args[1::2], args[2::2]):
        if key == "--in":
            spec += f",in={value}"
        elif key == "--out-size":
            spec += f",out={value}"
        elif key == "--device":
            device = value[4:] if value.startswith("\\\\.\\") else value
    image = report.image if report.image is not None else Path(report.driver)
    return f"kit/verifier/verify.py {image} --no-sweep --device {device} --ioctl {spec}"


@dataclass
class Probe:
    """One request to the prober: `cases` of IOCTL `code` to device number `device` of the driver."""
    code: int
    cases: list[str]
    in_len: int = PROBE_IN
    out_len: int = PROBE_OUT
    device: int = 0

    def spec(self, case: str) -> str:
        """The --call spec that replays one of its cases."""
        return f"0x{self.code:08x},in={self.in_len},out={self.out_len},{case}" + (f",device={self.device}" if self.device else "")


def probe_cases_for(code: int) -> list[str]:
    method = code & 3
    return NEITHER_CASES if method == 3 else DIRECT_CASES if method in (1, 2) else []


def parse_probe_spec(spec: str) -> Probe | None:
    """A --call spec naming prober cases ('0x222407,in=16,out=16,kernel-in'), else None (one for kmdctl sweep)."""
    parts = [p.strip() for p in spec.split(",")]
    cases = [p for p in parts[1:] if p in PROBE_CASES]
    if not cases:
        return None
    probe = Probe(int(parts[0], 0), cases)
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key == "in":
            probe.in_len = int(value, 0)
        elif key == "out":
            probe.out_len = int(value, 0)
        elif key == "device":
            probe.device = int(value, 0)
        elif p not in PROBE_CASES and p != "guard":
            raise ValueError(f"--call {spec!r}: unknown part {p!r}")
    return probe


def probe_request_hex(driver: str, probe: Probe) -> str:
    """prober.cpp's ProbeRequest: code, in and out lengths, the case mask, the device index, the image name."""
    mask = sum(1 << PROBE_CASES.index(c) for c in probe.cases)
    name = driver.encode("utf-16-le")[:126].ljust(128, b"\0")
    return (struct.pack("<5I", probe.code, probe.in_len, probe.out_len, mask, probe.device) + name).hex()


class Session:
    """A box with kmdverify.sys loaded into the driver host of load-order group `group`."""

    def __init__(self, box: Box, group: str, bin_dir: Path = BIN_DIR, special_pool: str = "overrun"):
        self.box, self.group, self.bin_dir = box, group, bin_dir
        self.special_pool = special_pool
        self.kmdctl = windows_path(bin_dir / "kmdctl.exe")
        self._log_read = 0  # bytes of the box's kernel log already parsed

    def batch(self, steps: list[Step | list[str]], timeout: float = 300, first: int = 1) -> list[Step]:
        """Runs the steps one after another in one process, `kmdctl batch` (under Wine a program
        start costs about 70 ms, more than most steps take: a cmd.exe script started one kmdctl or
        reg.exe per step), keeping each step's exit code and output. The first step that fails and
        may not ends the batch: StepFailed names it."""
        steps = [s if isinstance(s, Step) else Step(s) for s in steps]
        script = self.box.prefix / "kmdverify-steps.txt"
        lines = [("- " if step.may_fail else "") + " ".join(batch_word(a) for a in step.argv) for step in steps]
        script.write_text("\r\n".join(lines) + "\r\n")
        result = self.box.run([self.kmdctl, "batch", windows_path(script)], timeout=timeout)
        current = None
        for line in (result.stdout + "\n" + result.stderr).splitlines():
            if line.startswith(STEP_MARK):
                current = steps[int(line[len(STEP_MARK):]) - 1]
            elif line.startswith(RC_MARK):
                number, rc = line[len(RC_MARK):].split()
                steps[int(number) - 1].rc = int(rc)
            elif current is not None:
                current.output += line + "\n"
        for n, step in enumerate(steps, 1):
            if step.rc is None or (step.rc != 0 and not step.may_fail):
                extra = f"\n{result.describe()}" if result.timed_out or step.rc is None else ""
                raise StepFailed(step, n + first - 1, steps, extra)
        return steps

    def new_lines(self) -> list[str]:
        """The driver messages logged since the last call: only the new part of the log is read
        (a session's log grows to megabytes, and this is asked after every step)."""
        text, self._log_read = self.box.kernel_log_lines_since(self._log_read)
        return dbgprint_lines(text)

    def fault_at(self, k: int) -> list[str]:
        return ["reg", "add", PARAMS_KEY, "/v", "FaultAt", "/t", "REG_DWORD", "/d", str(k), "/f"]

    @staticmethod
    def param(name: str, value: int) -> list[str]:
        """A REG_DWORD of the verifier's Parameters key, read at each image load."""
        return ["reg", "add", PARAMS_KEY, "/v", name, "/t", "REG_DWORD", "/d", str(value), "/f"]

    def set_special_pool(self, mode: str) -> list[str]:
        """Special pool for the drivers loaded from now on (read at each image load): overrun, underrun, off."""
        return ["reg", "add", PARAMS_KEY, "/v", "SpecialPool", "/t", "REG_DWORD", "/d", str(SPECIAL_POOL_MODES[mode]), "/f"]

    def kmd(self, *args: str) -> list[str]:
        return [self.kmdctl, *args]

    def start(self) -> list[Finding]:
        self.box.start_session()
        self.batch([self.fault_at(0), self.set_special_pool(self.special_pool), self.param("FaultAfterEntry", 0),
                    self.param("LowResourcesSeed", 0),
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
                      max_points: int = 64, timeout: float = 300, discover: bool = False, low_resources_seed: int = 0,
                      low_resources_sweep: bool = False, calls: list[str] = (),
                      device_type: str | None = None, functions: str | None = None, probe: bool = True,
                      probe_explicit: bool = False) -> Report:
        """probe: the in-host prober's bad and kernel pointers to every live METHOD_NEITHER code the
        discovery found (and a dropped MDL to every DIRECT one); probe_explicit: to those of the
        --ioctl requests too (the command line does; a test that counts its requests does not)."""
        report = Report(driver.name.lower(), image=driver)
        if low_resources_seed:
            # Read when the driver loads: every failable call after its DriverEntry may fail (1 in 4).
            self.batch([self.param("LowResourcesSeed", low_resources_seed)])
        try:
            self.batch([self.fault_at(0), self.kmd("install", windows_path(driver), "--name", service, "--group", self.group, "--force"),
                        self.kmd("start", service)], timeout=timeout)
            report.findings += parse(self.new_lines())
            # Without --device: every link the driver made (the verifier saw each IoCreateSymbolicLink),
            # whatever it is named; the service name only when it made none.
            targets = [device] if device else self._links(report) or [service]
            report.target = targets[0]
            if discover and not device and not self._links(report) and not report.of("DEVICE"):
                discover = False  # no device, no link: nothing to open (an export driver's DriverEntry)
                report.discovered.append("no device or link created: nothing to sweep")
            exercise = [Step(self.kmd(*args, "--device", rf"\\.\{target}"), may_fail=True) for target in targets for args in ioctls]
            types = [device_type] if device_type else list(dict.fromkeys(f.fields.get("type", "0x22") for f in report.of("DEVICE"))) or ["0x22"]
            narrowed = ["--functions", functions] if functions else []
            discovery = [Step(self.kmd("sweep", rf"\\.\{target}", "--type", t, *narrowed), may_fail=True)
                         for target in targets for t in types] if discover else []
            # A replay (--call): one request of the sweep, exactly as the sweep sent it; one naming a
            # prober case goes to the prober instead (under Wine no caller can send it).
            replayed = [parse_probe_spec(spec) for spec in calls]
            discovery += [Step(self.kmd("sweep", rf"\\.\{target}", "--type", types[0], "--call", spec), may_fail=True)
                          for target in targets for spec, pr in zip(calls, replayed) if pr is None]
            steps = self.batch([*exercise, *discovery], timeout=timeout + 300 * len(discovery), first=4) if exercise or discovery else []
            report.findings += parse(self.new_lines())
            probes = [pr for pr in replayed if pr is not None]
            if probe:
                probes += self._probes_for(report, exercise if probe_explicit else [], discovery)
            report.probes = probes
            probe_steps = [Step(self.kmd("ioctl", f"0x{PROBE_IOCTL:08x}", "--device", PROBER_DEVICE, "--in",
                                         probe_request_hex(report.driver, pr), "--out-size", str(16 * len(PROBE_CASES))), may_fail=True)
                           for pr in probes]
            # The low-resources sweep repeats the --ioctl requests once per failable call they made
            # (counted at the first unload): the prober's requests get a start of their own then.
            restart = [self.kmd("stop", service), self.kmd("start", service)] if low_resources_sweep and probe_steps else []
            steps += self.batch([*restart, *probe_steps, self.kmd("stop", service)], timeout=timeout + 30 * len(probe_steps),
                                first=4 + len(steps))
        except StepFailed as e:
            report.findings += parse(self.new_lines())
            report.problems.append(str(e) + self._after_fault(report))
            self._prober_deaths(report)
            self._stop_quietly(service)
            return report
        finally:
            if low_resources_seed:
                self.batch([self.param("LowResourcesSeed", 0)])
        report.findings += parse(self.new_lines())
        entries = report.of("ENTRY")
        if not report.of("VERIFYING") or not entries:
            report.problems.append("the verifier did not attach to the driver (not loaded into its host?)")
            return report
        if int(entries[0].fields["status"], 16) != 0:
            report.problems.append(f"DriverEntry failed without any injected fault: status={entries[0].fields['status']}")
        self._check_delivery(report, steps, exercise, discovery, probe_steps)
        report.fault_points = int(entries[0].fields.get("failable", "0"))
        if sweep and report.fault_points > max_points:
            report.problems.append(f"{report.fault_points} fault points: more than --max-faults {max_points}")
        elif sweep:
            steps = []
            for k in range(1, report.fault_points + 1):
                # A start that survives its fault is stopped again; stopping a stopped driver is harmless.
                steps += [self.fault_at(k), Step(self.kmd("start", service), may_fail=True), Step(self.kmd("stop", service), may_fail=True),
                          self.fault_at(0), self.kmd("start", service), self.kmd("stop", service)]
            try:
                self.batch(steps + [self.fault_at(0)], timeout=60 + 20 * report.fault_points)
            except StepFailed as e:
                report.problems.append(f"sweep: {e}")
                self._stop_quietly(service)
            sweep_findings = parse(self.new_lines())
            report.findings += sweep_findings
            self._check_sweep(report, [f for f in sweep_findings if f.what == "ENTRY" and f.driver == report.driver])
        if low_resources_seed:
            faults = [f for f in report.of("FAULT") if f.fields.get("phase") == "after-entry"]
            report.low_resources.append(f"seed {low_resources_seed}: {len(faults)} call(s) after DriverEntry made to fail "
                                        f"(1 in 4), replay: --low-resources {low_resources_seed}")
        if low_resources_sweep:
            self._low_resources_sweep(report, service, exercise, max_points, timeout)
        try:
            self.batch([self.kmd("remove", service)])
        except StepFailed as e:
            report.problems.append(str(e))
        report.findings += parse(self.new_lines())
        unmapped = [f for f in report.findings if f.what == "UNMAPPED"]
        if unmapped:
            report.problems.append(f"{len(unmapped)} IRP(s) reached no verified driver's dispatch routine and were completed "
                                   f"with STATUS_INVALID_DEVICE_REQUEST: {unmapped[0].text}")
        return report

    def _low_resources_sweep(self, report: Report, service: str, exercise: list[Step], max_points: int, timeout: float) -> None:
        """For k = 1..N, N the failable calls the driver made after DriverEntry in the run above
        (its requests and DriverUnload): start it, send the same requests with the k-th of those
        calls failing, stop it. The driver must fail the request (not report success), leak
        nothing, and keep its host alive; the next start must work."""
        unloads = [f for f in report.of("SUMMARY") if f.fields.get("phase") == "unload"]
        points = int(unloads[0].fields.get("failable_after_entry", "0")) if unloads else 0
        if not exercise:
            report.problems.append("the low-resources sweep repeats the --ioctl requests: give some")
            return
        if points > max_points:
            report.problems.append(f"{points} low-resources points: more than --max-faults {max_points}")
            return
        steps: list[Step | list[str]] = []
        first_of: list[int] = []
        for k in range(1, points + 1):
            first_of.append(len(steps) + 1)
            steps += [self.param("FaultAfterEntry", k), self.kmd("start", service),
                      *[Step(list(step.argv), may_fail=True) for step in exercise], Step(self.kmd("stop", service), may_fail=True)]
        try:
            self.batch(steps + [self.param("FaultAfterEntry", 0)], timeout=timeout + 20 * points)
        except StepFailed as e:
            k = max((i + 1 for i, first in enumerate(first_of) if first <= e.number), default=0)
            report.findings += parse(self.new_lines())
            report.problems.append(f"low-resources point {k}: {e}{self._after_fault(report)}")
            self._stop_quietly(service)
            self.batch([self.param("FaultAfterEntry", 0)])
            return
        findings = parse(self.new_lines())
        report.findings += findings
        reached = {int(f.fields.get("point", "0")) for f in findings
                   if f.what == "FAULT" and f.driver == report.driver and f.fields.get("phase") == "after-entry"}
        missed = [k for k in range(1, points + 1) if k not in reached]
        report.low_resources.append(f"{points} failable call(s) after DriverEntry, each made to fail in turn "
                                    f"({points - len(missed)} reached)")
        if missed:
            report.problems.append(f"low-resources points never reached: {missed} (the driver does not make the same calls every time)")

    def _after_fault(self, report: Report) -> str:
        """What a failed step follows, when it follows an injected fault: the host may have died of it."""
        faults = [f for f in report.findings if f.what == "FAULT" and f.driver == report.driver and f.fields.get("phase") == "after-entry"]
        return f"\n  after the injected fault: {faults[-1].text}" if faults else ""

    @staticmethod
    def _links(report: Report) -> list[str]:
        """The Win32 names of the links the driver made: \\DosDevices\\X, \\??\\X, \\GLOBAL??\\X -> X."""
        names = []
        for f in report.of("LINK"):
            name = f.fields.get("name", "")
            for prefix in ("\\DosDevices\\Global\\", "\\DosDevices\\", "\\??\\", "\\GLOBAL??\\"):
                if name.lower().startswith(prefix.lower()):
                    names.append(name[len(prefix):])
                    break
        return list(dict.fromkeys(names))

    def _stop_quietly(self, service: str) -> None:
        """After a failed step: leave no driver running for the next run (its own failure is not news)."""
        try:
            self.batch([Step(self.kmd("stop", service), may_fail=True), self.fault_at(0)], timeout=120)
        except StepFailed:
            pass

    @staticmethod
    def _discovered(report: Report, discovery: list[Step], steps: list[Step]) -> list[str]:
        """Reads the sweeps' output into the report; returns the replay command of each IOCTL they
        sent that must reach the driver, in the order sent, and of those that may not (bad and
        kernel pointers, which a caller's side can refuse before any driver sees them)."""
        sent: list[str] = []
        optional_sent: list[str] = []
        for step in discovery:
            target, dtype = step.argv[2], step.argv[4]
            out = step.output.splitlines()
            live = [line.split()[1] for line in out if line.startswith("live ")]
            calls = [line for line in out if line.startswith("call ")]
            swept = next((int(line.split()[1]) for line in out if line.startswith("swept ")), 0)
            first, last = 0x800, 0xfff
            if "--functions" in step.argv:
                low, _, high = step.argv[step.argv.index("--functions") + 1].partition("-")
                first, last = int(low, 0), int(high or low, 0)
            codes = [(int(dtype, 16) << 16) | (access << 14) | (function << 2) | method
                     for function in range(first, last + 1) for method in range(4) for access in range(4)]
            sent += [replay_command(report, target, dtype, f"0x{code:08x},in=0,out=0") for code in codes[:swept]]
            # Bad and kernel pointers come last (kmdctl sweep): under Wine the caller's side refuses
            # them (its buffers are copied in the caller), so they may not arrive; whatever does is
            # counted, and the ones before them keep their numbers.
            optional = [line for line in calls if "bad-" in line or "kernel-" in line]
            sent += [replay_command(report, target, dtype, line.split("spec=")[1].split()[0])
                     for line in calls if line not in optional and "spec=" in line]
            optional_sent += [replay_command(report, target, dtype, line.split("spec=")[1].split()[0]) for line in optional]
            if "--call" in step.argv:
                report.discovered.append(f"device {target}: replayed {step.argv[-1]}: " + (calls[0] if calls else "no call made"))
            else:
                report.discovered.append(f"device {target} (type {dtype}): {len(live)} live IOCTL code(s) of {swept} swept"
                                         + (": " + ", ".join(live) if live else ""))
            for code in live:
                errors: dict[str, int] = {}
                pended = 0
                for line in calls:
                    if line.split()[1] == code:
                        error = line.split("error=")[1].split()[0]
                        errors[error] = errors.get(error, 0) + 1
                        pended += "pended=cancelled" in line
                report.discovered.append(f"  {code}: {sum(errors.values())} seeded calls, errors " +
                                         ", ".join(f"{e} x{n}" for e, n in sorted(errors.items())) +
                                         (f", {pended} pended and cancelled" if pended else ""))
            for line in out:
                if line.startswith("host died at ") or line.startswith("stuck at "):
                    spec = line.split(" at ", 1)[1].split()[0]
                    what = "the driver host died" if line.startswith("host") else "a cancelled request never completed"
                    report.problems.append(f"{what} during the sweep of {target}: {line}\n      replay: "
                                           f"{replay_command(report, target, dtype, spec)}")
                    break
            else:
                if step.rc not in (0, None):
                    report.problems.append(f"step {steps.index(step) + 4} (the sweep of {target}) failed, exit code {step.rc}:\n"
                                           f"{step.output.rstrip()[-2000:]}")
        return sent, optional_sent

    @staticmethod
    def _probes_for(report: Report, exercise: list[Step], discovery: list[Step]) -> list[Probe]:
        """The prober's requests: its cases for each live METHOD_NEITHER or DIRECT code (found by the
        discovery sweeps, or sent by the --ioctl steps given), to each device the driver created."""
        codes: list[int] = []
        for step in exercise:
            try:
                codes.append(int(step.argv[2], 0))
            except ValueError:
                pass  # reported by _check_delivery
        for step in discovery:
            codes += [int(line.split()[1], 16) for line in step.output.splitlines() if line.startswith("live ")]
        devices = len(report.of("DEVICE"))
        return [Probe(code, probe_cases_for(code), device=d) for d in range(devices)
                for code in dict.fromkeys(codes) if probe_cases_for(code)]

    @staticmethod
    def _prober_windows(report: Report) -> list[tuple[Finding, Finding | None, list[Finding]]]:
        """Each prober case as the kernel log shows it: its begin line, its end line (None: the host
        died in it, or the log ends there) and the driver's lines in between."""
        windows = []
        for f in report.findings:
            if f.what == "PROBER" and f.driver == report.driver and f.text.endswith(" begin"):
                windows.append((f, None, []))
            elif windows and windows[-1][1] is None:
                begin, _, inside = windows[-1]
                if f.what == "PROBER" and f.driver == report.driver and f.fields.get("case") == begin.fields.get("case"):
                    windows[-1] = (begin, f, inside)
                else:
                    inside.append(f)
        return windows

    @staticmethod
    def _probe_replay(report: Report, begin: Finding) -> str:
        probe = Probe(int(begin.fields["code"], 16), [begin.fields["case"]], int(begin.fields.get("in", PROBE_IN)),
                      int(begin.fields.get("out", PROBE_OUT)), int(begin.fields.get("device", "0")))
        return replay_command(report, report.target or report.driver, "0x22", probe.spec(begin.fields["case"]))

    @staticmethod
    def _prober_deaths(report: Report) -> None:
        """A case whose end line never came: the host died in it (the driver touched what it was given)."""
        for begin, end, _ in Session._prober_windows(report):
            if end is None:
                report.problems.append(f"the driver host died during the prober's case {begin.fields.get('case')} of IOCTL "
                                       f"{begin.fields.get('code')} (device {begin.fields.get('device')}): {begin.text}\n"
                                       f"      replay: {Session._probe_replay(report, begin)}")

    @staticmethod
    def _check_delivery(report: Report, steps: list[Step], exercise: list[Step], discovery: list[Step] = (),
                        probe_steps: list[Step] = ()) -> None:
        """Every IOCTL sent must have reached the driver (the verifier's IRP line for its code), and a
        driver that created a device must have been sent something. Each violation after the n-th
        delivered IOCTL gets that request's replay command; each one during a prober case, that case's."""
        seen: dict[int, int] = {}
        windows = Session._prober_windows(report)
        in_window = {id(f) for _, _, inside in windows for f in inside}
        irps = [f for f in report.of("IRP") if id(f) not in in_window]
        requests = [ioctl_replay(report, step.argv) for step in exercise]
        swept, optional = Session._discovered(report, list(discovery), steps)
        requests += swept
        delivered = sum(1 for f in irps if f.fields.get("major") == "0xe")
        if len(swept) > delivered:
            report.problems.append(f"the sweep sent {len(swept)} IOCTLs and the driver saw {delivered} (with the explicit ones)")
        if optional:
            arrived = max(0, min(len(optional), delivered - len(requests)))
            report.discovered.append(f"  caller-side bad pointers (kmdctl sweep): {len(optional)} sent, {arrived} reached the driver"
                                     + (" (the rest refused by the caller's side: Wine copies buffers there)" if arrived < len(optional) else ""))
            if arrived == len(optional):
                requests += optional  # all arrived, in order: their findings get their replays
        report.replays = {}
        # The prober's cases: each must reach the driver (its IRP line inside the case's window).
        reached = 0
        for begin, end, inside in windows:
            replay = Session._probe_replay(report, begin)
            got = any(f.what == "IRP" and f.driver == report.driver and f.fields.get("major") == "0xe" for f in inside)
            reached += got
            for f in inside:
                if f.driver == report.driver and f.what in ("VIOLATION", "WARNING"):
                    report.replays[id(f)] = replay
            if end is not None and not got:
                report.problems.append(f"the prober's case {begin.fields.get('case')} of {begin.fields.get('code')} never reached the "
                                       f"driver: {end.text}\n      replay: {replay}")
        if discovery or report.probes:
            codes = ", ".join(dict.fromkeys(f"0x{p.code:08x}" for p in report.probes))
            report.discovered.append(f"  bad and kernel pointers: {len(windows)} sent, {reached} reached the driver"
                                     + (f" (the in-host prober: {codes})" if codes else " (no live METHOD_NEITHER or DIRECT code)"))
        Session._prober_deaths(report)
        for step in probe_steps:
            if step.rc not in (0, None) and not any(end is None for _, end, _ in windows):
                report.problems.append(f"step {steps.index(step) + 4} (the prober) failed, exit code {step.rc}: {step.text()}\n"
                                       f"{step.output.rstrip()[-2000:]}")
        n = 0
        for f in report.findings:
            if f.driver != report.driver or id(f) in in_window:
                continue
            if f.what == "IRP" and f.fields.get("major") == "0xe":
                n += 1
            elif f.what in ("VIOLATION", "WARNING") and f.kind not in LEFTOVERS and 0 < n <= len(requests):
                report.replays[id(f)] = requests[n - 1]
        for f in irps:
            if f.fields.get("major") == "0xe":
                code = int(f.fields.get("code", "0"), 16)
                seen[code] = seen.get(code, 0) + 1
        for step in exercise:
            number = steps.index(step) + 4  # after the install batch's three steps
            try:
                code = int(step.argv[2], 0)
            except ValueError:
                report.problems.append(f"step {number}: {step.argv[2]}: give IOCTL codes as numbers, so their delivery can be checked")
                continue
            if seen.get(code, 0) > 0:
                seen[code] -= 1
                continue
            report.problems.append(f"step {number} was not delivered: the driver never saw IOCTL 0x{code:08x} "
                                   f"(exit code {step.rc}): {step.text()}\n{step.output.rstrip()}")
        devices = int(report.of("ENTRY")[0].fields.get("devices", "0"))
        if devices > 0 and not irps and not windows:
            report.incomplete.append(f"the driver created {devices} device(s) but no request reached it: its dispatch routines "
                                     "were never checked (name its device with --device, and give --ioctl)")

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
    p.add_argument("--device", help=r"Win32 device name for the IOCTLs (\\.\NAME; default: every symbolic link the driver "
                                    "creates, else the service name)")
    p.add_argument("--ioctl", action="append", default=[], type=parse_ioctl, metavar="CODE[,in=HEX][,out=N]")
    p.add_argument("--call", action="append", default=[], metavar="CODE[,in=N][,out=N][,guard|bad-in|...]",
                   help="send one request of the discovery sweep (`kmdctl sweep --call`), or one of the prober's cases ("
                        + "|".join(PROBE_CASES) + "[,device=N]) from inside the host: what a finding's replay line runs")
    p.add_argument("--type", help="with --call: the device type (default: the device's own)")
    p.add_argument("--functions", metavar="A-B", help="sweep only functions A-B (default the customer range, 0x800-0xfff)")
    p.add_argument("--ioctl-script", type=Path, help="a file of --ioctl specs, one a line (# comments)")
    p.add_argument("--group", default="kmdverify", help="load-order group shared by the verifier and the driver(s)")
    p.add_argument("--expect", default="", help="with a PROGRAM: drivers (file names) that must be verified")
    p.add_argument("--env-path", action="append", default=[], metavar="NAME=UNIXPATH",
                   help="with a PROGRAM: set NAME to the Windows path of UNIXPATH")
    p.add_argument("--no-sweep", action="store_true", help="skip the fault-injection sweep")
    p.add_argument("--no-discover", action="store_true",
                   help="without --ioctl: do not sweep the devices for live IOCTL codes (kmdctl sweep) and exercise them")
    p.add_argument("--no-probe", action="store_true",
                   help="do not send bad and kernel pointers from inside the host (the prober, kmdverify.sys's \\\\.\\kmdverify) "
                        "to the METHOD_NEITHER (and DIRECT) codes discovered or given with --ioctl")
    p.add_argument("--max-faults", type=int, default=64)
    p.add_argument("--low-resources", type=int, default=0, metavar="SEED",
                   help="low-resources simulation: during the requests and unload, each failable call fails with a 1 in 4 "
                        "chance from this seed (replayable)")
    p.add_argument("--low-resources-sweep", action="store_true",
                   help="low-resources sweep: repeat the --ioctl requests once per failable call made after DriverEntry, "
                        "that call failing")
    p.add_argument("--special-pool", choices=list(SPECIAL_POOL_MODES), default="overrun",
                   help="special pool: a guard page after every block (overrun, the default) or before it (underrun), "
                        "freed blocks kept inaccessible; off: Wine's pool")
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
    try:
        [parse_probe_spec(spec) for spec in a.call]
    except ValueError as e:
        print(f"verify.py: {e}", file=sys.stderr)
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
        session = Session(box, a.group, special_pool=a.special_pool)
        try:
            session.start()
        except (RuntimeError, StepFailed) as e:
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
                                             max_points=a.max_faults, discover=not ioctls and not a.call and not a.no_discover,
                                             low_resources_seed=a.low_resources, low_resources_sweep=a.low_resources_sweep,
                                             calls=a.call, device_type=a.type, functions=a.functions,
                                             probe=not a.no_probe, probe_explicit=True)]
        try:
            session.stop()
        except StepFailed as e:
            for r in reports:
                r.problems.append(f"stopping the verifier: {e}")
        if a.keep:
            print(f"box kept: {box.prefix} (kernel log: {box.kernel_log})", file=sys.stderr)
    for r in reports:
        print(r.text())
    if rc != 0 or any(r.failed for r in reports):
        return 1
    return 3 if any(r.incomplete for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
