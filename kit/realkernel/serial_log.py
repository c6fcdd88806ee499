#!/usr/bin/python3
"""serial_log - reads what an NT kernel wrote to COM1 (ReactOS's kernel debugger, KDBG, with
/DEBUGPORT=COM1 /KDSERIAL) and says what happened, in one place, as data.

Two jobs, both pure functions of text (so they are tested on recorded real logs, without a VM):

- ``Responder``: the kernel debugger stops and waits for input on the serial line at an
  assertion ("Break repeatedly, break Once, Ignore, terminate Process or terminate Thread
  (boipt)?"), when a critical process is terminating ("Break, or Ignore (bi)?"), at its own
  prompt ("kdb:> "), and when a long output fills its screen ("--- Press q to abort, any other key
  to continue ---"). Fed the log as it grows, it returns what to type: at an assertion "o" (break
  once: into the debugger, which prints the frames), at a critical process "i", at the debugger's
  prompt "cont" (go on) - except after a bug check, where there is nothing to go on to: the lane
  then reports and kills the VM. Every answer is counted, so a kernel
  that keeps asking is reported as stuck, not answered for ever.
- ``parse``: the whole log as a ``Report``: the drivers' own DbgPrint lines, the images the kernel
  loaded (and where: "Loading: \\??\\C:\\...\\skeleton.sys at 0xF7A1B000 with 9 pages"), every
  assertion and bug check (code, four parameters, "Driver at fault"), every exception the debugger
  was entered on, and the frames it printed ("<skeleton.sys:3463>" or
  "<ntoskrnl.exe:1a2b (ntoskrnl/io/iomgr/device.c:1227 (IoCreateDevice))>"), which ``symbolize``
  turns into function and line with the kit's own images (llvm-symbolizer, their DWARF or COFF
  symbols).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ASSERT_PROMPT = "(boipt)? "
CRITICAL_PROMPT = "(bi)? "   # ntoskrnl/ps/kill.c: a critical process (winlogon, csrss) is terminating
KDB_PROMPT = "kdb:> "
# KDBG asks a serial terminal what it is (ESC [ c) and how big it is (ESC [ 18 t) each time it is
# entered (ntoskrnl/kd/kdterminal.c); answered, it pages at 500 rows instead of 24.
TERMINAL_QUERIES = {"\x1b[c": b"\x1b[?1;0c", "\x1b[18t": b"\x1b[8;500;200t"}
PAGER_PROMPTS = ("--- Press q to abort, any other key to continue ---",
                 "--- Press q to abort, e/End,h/Home,u/PgUp, other key/PgDn ---")

_ASSERT_RE = re.compile(r"\*\*\* Assertion failed: (?P<expr>.*?)\r?\n\*\*\*\s+Source File: (?P<file>.*?), line (?P<line>\d+)")
_BUGCHECK_RE = re.compile(r"\*\*\* Fatal System Error: 0x(?P<code>[0-9A-Fa-f]{8})\s*\r?\n\s*"
                          r"\((?P<params>0x[0-9A-Fa-f]+\s*,\s*0x[0-9A-Fa-f]+\s*,\s*0x[0-9A-Fa-f]+\s*,\s*0x[0-9A-Fa-f]+)\)")
_CRITICAL_RE = re.compile(r"Terminating critical (?:process|thread) (?P<what>0x[0-9A-Fa-f]+ \([^)]*\))")
_AT_FAULT_RE = re.compile(r"Driver at fault: (?P<driver>\S+?)\.?\r?$", re.M)
_ENTERED_RE = re.compile(r"Entered debugger on (?:(?P<chance>first|last)-chance exception \(Exception Code: 0x(?P<code>[0-9A-Fa-f]+)\) "
                         r"\((?P<what>[^)]*)\)|embedded INT3 at (?P<int3>\S+?)\.?$|(?P<other>[^\r\n]*))", re.M)
_LOADING_RE = re.compile(r"Loading: (?P<path>\S+) at (?P<base>0x[0-9A-Fa-f]+|[0-9A-Fa-f]{8}) with (?P<pages>[0-9a-fA-F]+) pages")
# KDBG's frame forms (ntoskrnl/kdbg/kdb_symbols.c, KdbSymPrintAddress; kdb_cli.c, bt)
# bug check code -> which parameter is the faulting instruction's address
FAULT_PARAM = {0x1E: 1, 0x7E: 1, 0x8E: 1, 0x50: 2}
_FRAME_RE = re.compile(r"<(?P<module>[^:<>\s]+):(?P<rva>[0-9A-Fa-f]+)(?: \((?P<file>[^:()]+):(?P<line>\d+) \((?P<func>[^()]*)\)\))?>"
                       r"|<(?P<raw>[0-9A-Fa-f]{8})>")
_KD_NOISE_RE = re.compile(r"^\(\S+:\d+\) |^\s*$|^kdb:>|^Entered debugger|^Frames:|^Eip:|^<")


@dataclass
class Frame:
    module: str | None
    rva: int | None          # relative to the module's base, as KDBG prints it (the call site)
    address: int | None = None
    file: str | None = None   # from the kernel's own symbols (KDBG), for its modules
    line: int | None = None
    function: str | None = None

    def where(self) -> str:
        if self.module is None:
            return f"0x{self.address:08x}" if self.address is not None else "?"
        text = f"{self.module}+0x{self.rva:x}"
        if self.function:
            text += f"  {self.function}"
        if self.file:
            text += f"  {self.file}:{self.line}" if self.line else f"  {self.file}"
        return text


@dataclass
class Stop:
    """One time the kernel stopped: an assertion, a bug check or an exception the debugger took."""
    kind: str                 # "assertion" | "bugcheck" | "exception" | "break"
    summary: str
    code: int | None = None
    params: list[int] = field(default_factory=list)
    driver_at_fault: str | None = None
    source: str | None = None  # assertion: file:line
    frames: list[Frame] = field(default_factory=list)
    offset: int = 0            # where in the log
    fault: Frame | None = None  # bug checks 0x1E/0x7E/0x8E/0x50: the faulting address, named


@dataclass
class Report:
    driver_lines: list[str] = field(default_factory=list)
    loads: dict[str, int] = field(default_factory=dict)   # module name (lowercase) -> base
    stops: list[Stop] = field(default_factory=list)
    prompts: int = 0

    @property
    def bugchecks(self) -> list[Stop]:
        return [s for s in self.stops if s.kind == "bugcheck"]

    @property
    def assertions(self) -> list[Stop]:
        return [s for s in self.stops if s.kind == "assertion"]


def _frames(text: str) -> list[Frame]:
    frames: list[Frame] = []
    for m in _FRAME_RE.finditer(text):
        if m.group("raw"):
            frames.append(Frame(None, None, address=int(m.group("raw"), 16)))
        else:
            frames.append(Frame(m.group("module"), int(m.group("rva"), 16), file=m.group("file"),
                                line=int(m.group("line")) if m.group("line") else None,
                                function=m.group("func") or None))
    return frames


def _backtrace_after(log: str, start: int, end: int) -> list[Frame]:
    """The frames of the first `bt` between start and end ("Eip:" ... up to the next prompt)."""
    chunk = log[start:end]
    i = chunk.find("Eip:")
    if i < 0:
        i = chunk.find("Frames:")
    if i < 0:
        return []
    j = chunk.find(KDB_PROMPT, i)
    return _frames(chunk[i:j if j >= 0 else len(chunk)])


def parse(log: str, driver_names: list[str] = ()) -> Report:
    """The whole serial log as a Report. driver_names: the payload's images ("skeleton"), whose
    own lines ("skeleton: DriverEntry: ...") are the DbgPrint lines wanted."""
    log = log.replace("\r\n", "\n").replace("\r", "\n")
    report = Report()
    names = {n.lower().removesuffix(".sys") for n in driver_names if n}
    if names:
        line_re = re.compile(r"^(?:%s): .*$" % "|".join(re.escape(n) for n in sorted(names)), re.M | re.I)
        report.driver_lines = [m.group(0) for m in line_re.finditer(log)]
    for m in _LOADING_RE.finditer(log):
        name = re.split(r"[\\/]", m.group("path"))[-1].lower()
        report.loads[name] = int(m.group("base"), 16)
    report.prompts = log.count(ASSERT_PROMPT) + log.count(KDB_PROMPT)

    events: list[tuple[int, Stop]] = []
    for m in _ASSERT_RE.finditer(log):
        events.append((m.start(), Stop("assertion", f"Assertion failed: {m.group('expr')}",
                                       source=f"{m.group('file')}:{m.group('line')}", offset=m.start())))
    for m in _CRITICAL_RE.finditer(log):
        events.append((m.start(), Stop("break", f"Terminating critical process {m.group('what')}", offset=m.start())))
    for m in _BUGCHECK_RE.finditer(log):
        code = int(m.group("code"), 16)
        params = [int(p, 16) for p in re.findall(r"0x[0-9A-Fa-f]+", m.group("params"))]
        stop = Stop("bugcheck", f"bug check 0x{code:08X} ({', '.join(f'0x{p:08X}' for p in params)})",
                    code=code, params=params, offset=m.start())
        fault = _AT_FAULT_RE.search(log, m.end(), m.end() + 400)
        if fault:
            stop.driver_at_fault = fault.group("driver")
        events.append((m.start(), stop))
    for m in _ENTERED_RE.finditer(log):
        if m.group("chance"):
            events.append((m.start(), Stop("exception", f"{m.group('chance')}-chance exception 0x{m.group('code')} ({m.group('what')})",
                                           code=int(m.group("code"), 16), offset=m.start())))
    events.sort(key=lambda e: e[0])
    # Frames: the first backtrace after each stop and before the next one.
    for n, (pos, stop) in enumerate(events):
        end = events[n + 1][0] if n + 1 < len(events) else len(log)
        stop.frames = _backtrace_after(log, pos, end)
        for f in stop.frames:
            if f.module and f.module.lower() in report.loads:
                f.address = report.loads[f.module.lower()] + f.rva
        # A raw address inside a module the kernel reported loading: name it.
        for f in stop.frames:
            if f.module is None and f.address is not None:
                _name_raw(f, report.loads)
        if stop.kind == "bugcheck" and len(stop.params) == 4 and stop.code in FAULT_PARAM:
            stop.fault = Frame(None, None, address=stop.params[FAULT_PARAM[stop.code]])
            _name_raw(stop.fault, report.loads)
        report.stops.append(stop)
    return report


def _name_raw(frame: Frame, loads: dict[str, int], max_size: int = 16 << 20) -> None:
    best = None
    for name, base in loads.items():
        if base <= frame.address < base + max_size and (best is None or base > best[1]):
            best = (name, base)
    if best:
        frame.module, frame.rva = best[0], frame.address - best[1]


def _demangle(name: str) -> str:
    """llvm-symbolizer 14 leaves Itanium names mangled in i386 COFF images."""
    tool = shutil.which("llvm-cxxfilt") or shutil.which("llvm-cxxfilt-14") or shutil.which("c++filt")
    if not name.startswith("_Z") or not tool:
        return name
    try:
        return subprocess.run([tool, name], capture_output=True, text=True, timeout=10).stdout.strip() or name
    except (OSError, subprocess.TimeoutExpired):
        return name


def symbolize(report: Report, image_dirs: list[Path], symbolizer: str | None = None) -> None:
    """Function and line for frames in the kit's own images (found by name in image_dirs), with
    llvm-symbolizer (the image's DWARF where it has it, its COFF symbols otherwise)."""
    tool = symbolizer or shutil.which("llvm-symbolizer") or shutil.which("llvm-symbolizer-14")
    if not tool:
        return
    for stop in report.stops:
        for f in stop.frames + ([stop.fault] if stop.fault else []):
            if f.module is None or f.function:
                continue
            image = next((d / f.module for d in image_dirs if (d / f.module).is_file()), None)
            if image is None:
                continue
            try:
                out = subprocess.run([tool, f"--obj={image}", "--relative-address", "--functions=linkage",
                                      "--demangle", f"0x{f.rva:x}"], capture_output=True, text=True, timeout=30).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            lines = [l for l in out.splitlines() if l.strip()]
            # Only with line information (DWARF): without it llvm-symbolizer names the nearest export
            # or import thunk, which would be a wrong function name (release images have no symbols).
            if len(lines) >= 2 and lines[0] != "??" and not lines[1].startswith("??"):
                f.function = _demangle(lines[0])
                path, _, rest = lines[1].partition(":")
                f.file = path
                f.line = int(rest.split(":")[0]) if rest.split(":")[0].isdigit() else None


class Responder:
    """What to type at each prompt, fed the log as it grows. feed() returns the bytes to send now;
    `fatal` is set once a bug check has reached the debugger's prompt (its frames are in: KDBG
    prints a backtrace each time it is entered; the lane then reports and kills the VM), `stuck`
    once the kernel has asked more than max_answers times.

    KDBG reads every answer as a line after its own "kdb:> ": a question (DbgPrompt) is
    "<question> \r\nkdb:> ", answered on that prompt; any other "kdb:> " is the debugger's main loop,
    answered "cont". The questions: an assertion's "(boipt)? " gets "o" (break once: into the
    debugger for the frames, then on), a critical process's termination "(bi)? " gets "i"."""

    QUESTIONS = {ASSERT_PROMPT: b"o\r", CRITICAL_PROMPT: b"i\r"}

    def __init__(self, max_answers: int = 200):
        self.log = ""
        self._seen = 0            # how far the log has been answered
        self.answers = 0
        self.max_answers = max_answers
        self.fatal = False
        self.stuck = False
        self._question: bytes | None = None   # the answer owed at the next "kdb:> "

    def feed(self, text: str) -> bytes:
        self.log += text
        out = b""
        while True:
            tail = self.log[self._seen:]
            hits = [(tail.find(p), p) for p in (*self.QUESTIONS, KDB_PROMPT, *PAGER_PROMPTS, *TERMINAL_QUERIES)
                    if tail.find(p) >= 0]
            if not hits:
                return out
            pos, prompt = min(hits)
            before = self.log[:self._seen + pos]
            self._seen += pos + len(prompt)
            if prompt in TERMINAL_QUERIES:
                out += TERMINAL_QUERIES[prompt]
                continue
            if prompt in self.QUESTIONS:
                self._question = self.QUESTIONS[prompt]
                continue
            if self.answers >= self.max_answers:
                self.stuck = True
                return out
            self.answers += 1
            if prompt in PAGER_PROMPTS:
                out += b" "
            elif self._question is not None:   # the prompt of a question
                out += self._question
                self._question = None
            elif "*** Fatal System Error:" in before:
                self.fatal = True
                return out
            else:                               # the main loop, its backtrace printed: go on
                out += b"cont\r"
