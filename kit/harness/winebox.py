#!/usr/bin/python3
"""winebox - private, throw-away Wine prefixes ("boxes") for running Skeleton KMD's Windows half.

A box is a Wine prefix under build/wine/boxes/NAME, cloned from a template prefix that is made
once (wineboot) in build/wine/template. Every box has its own wineserver, so boxes run side by
side; closing a box shuts its wineserver down and deletes it. Nothing touches ~/.wine.

Wine runs services - and so drivers - only while an ordinary process is alive in the prefix. A
box can therefore hold a *session*: a holder process (an idle cmd.exe) started first, so that
the service manager and winedevice.exe inherit its stderr and its WINEDEBUG: the driver's
DbgPrint lines (Wine's `debugstr` channel) land in the box's kernel.log.

When a driver crashes its winedevice.exe, Wine's crash debugger (AeDebug, set in the template)
appends its report to the box's C:\windows\crash-report.txt; the box symbolizes it with the
driver's DWARF (llvm-symbolizer), prints it with any failing or timed-out run, keeps the prefix,
and restart_session() gives a fresh session (a dead host's device link blocks that driver until
the wineserver restarts). Every wait is bounded.

Python:   with Box("name") as box: box.start_session(); box.run(["kmdctl.exe", "status"])
Shell:    winebox.py run [--box NAME] [--timeout S] [--kernel-log] [--trace-kernel DRIVER.sys] -- PROGRAM [ARGS...]
          winebox.py session start|stop --box NAME      (for a workflow of separate commands)
          winebox.py exec --box NAME -- PROGRAM [ARGS...] (inside a started session)
          winebox.py template                           (make the template prefix now)
"""
from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kmd_profile import phase  # noqa: E402  (timestamps for `make test-profile`)

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file is kit/harness/winebox.py)
DEFAULT_WINE_DIR = Path(os.environ.get("KMD_WINE_DIR") or os.environ.get("SKELETON_WINE_DIR") or ROOT / "build" / "wine")
READY_STAMP = ".skeleton-template-ready-3"  # -2: AeDebug writes crash reports to a file; -3: Windows 10
# DbgPrint goes to Wine's `debugstr` channel at warn level; nothing else is wanted.
KERNEL_LOG_DEBUG = os.environ.get("SKELETON_KERNEL_DEBUG", "-all,warn+debugstr")  # e.g. "+ntoskrnl,+seh" to debug
SESSION_MARKER = "skeleton-session-ready"
# WINEDEBUG of a program run in a box: only the loader's and the memory manager's own errors, so
# that a start Wine gives up on says why on the program's stderr (a start that failed with
# STATUS_UNSUCCESSFUL, 0xC0000001, ends with Unix status 1 and no word otherwise: docs/wine.md).
PROGRAM_DEBUG = os.environ.get("KMD_PROGRAM_DEBUG", "-all,err+module,err+virtual")
# Wine's crash debugger, as the template sets it: full paths (the short form fails for services),
# the report appended to a file inside the prefix, one report after another.
CRASH_REPORT = r"C:\windows\crash-report.txt"
AEDEBUG_DEBUGGER = (r"C:\windows\system32\cmd.exe /c C:\windows\system32\winedbg.exe --auto %ld %ld"
                    f" >>{CRASH_REPORT} 2>&1")
AEDEBUG_KEY = r"Software\Microsoft\Windows NT\CurrentVersion\AeDebug"
# --- x86 (i686): begin. Boxes for the 32-bit images run a 32-bit Wine inside an i386 Debian root.
# kit/x86/x86root.sh `run` sets KMD_WINE_ROOT while /proc, /dev and the build tree are mounted
# into that root (at their own paths, so every path here means the same inside and out); every
# Wine command then goes through chroot, and prefixes are WINEARCH=win32. Unset: the host's Wine.
WINE_ROOT = os.environ.get("KMD_WINE_ROOT") or None


# Linux's personality flag that turns address randomization off for a process and what it starts.
ADDR_NO_RANDOMIZE = 0x0040000
_personality = ctypes.CDLL(None, use_errno=True).personality  # looked up here: not between fork and exec
_personality.argtypes = [ctypes.c_ulong]


def fixed_layout() -> None:
    """In a new Wine process before exec (preexec_fn): address randomization off, for it and all
    it starts (wineserver, services.exe, winedevice.exe, a program's children).

    Debian's Wine has no preloader: its loader is a non-PIE at 0x7d000000, and Linux 6.x spreads a
    64-bit process's brk heap over 1 GiB above it (sbrk(0) of such a binary, 2000 starts:
    0x7d076000-0xbcfdf000). When the heap lands on 0x7ffe0000, where Wine must map the shared user
    data, the process dies before its first instruction: `err:virtual:virtual_alloc_first_teb
    wine: failed to map the shared user data: c0000018`, exit 1 - a program failed in 0.0 s, once
    in a few thousand starts (docs/wine.md). Unrandomized, the heap starts right after the loader."""
    current = _personality(0xFFFFFFFF)  # reads it
    if current != -1:
        _personality(current | ADDR_NO_RANDOMIZE)


def wine_command(argv: list) -> list[str]:
    """argv (wine, wineserver, wineboot ...) as run for this process's boxes."""
    argv = [str(a) for a in argv]
    return [shutil.which("chroot") or "/usr/sbin/chroot", WINE_ROOT, *argv] if WINE_ROOT else argv
# --- x86 (i686): end


def program_label(argv: list) -> str:
    """A program's name and first word for the profile: "kmdctl.exe start", "cmd.exe /c"."""
    words = [str(a) for a in argv[:2]]
    if not words:
        return ""
    words[0] = re.split(r"[\\/]", words[0])[-1]
    if len(words) > 1 and len(words[1]) > 3 and re.search(r"[\\/]", words[1]):
        words.pop()  # a path, not a verb: its file name is in the test's own records
    return " ".join(words)[:60]


def windows_path(path: str | Path) -> str:
    """The Windows view of a Unix path inside any prefix: Wine maps Z: to /."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def _base_env(prefix: Path, debug: str = "-all") -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HOME", str(prefix.parent))  # Wine wants a home; CI environments may lack one
    if WINE_ROOT:
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # the root's, not the host's (pyenv etc.)
    env.update(
        WINEPREFIX=str(prefix),
        WINEDEBUG=debug,
        WINEARCH="win32" if WINE_ROOT else "win64",
        # No Mono/Gecko installers: nothing here needs .NET or a browser engine.
        WINEDLLOVERRIDES="mscoree,mshtml=",
    )
    return env


def dbgprint_lines(log_text: str) -> list[str]:
    """The driver messages in a kernel log: "skeleton: DriverEntry: ..." without Wine's prefix
    ("0114:warn:debugstr:vDbgPrintExWithPrefix 0000004d:00000008: ")."""
    lines = []
    for line in log_text.splitlines():
        if ":debugstr:" not in line:
            continue
        message = line.split("vDbgPrintExWithPrefix ", 1)[-1]
        parts = message.split(": ", 1)  # the "component:level" numbers
        lines.append(parts[1] if len(parts) == 2 and parts[0].replace(":", "").isalnum() else message)
    return lines


def _reg_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reg_set(reg_file: Path, key: str, name: str, value: str | None) -> None:
    """Sets (or, with None, deletes) a REG_SZ value in a *stopped* prefix's .reg file (system.reg
    for HKLM, user.reg for HKCU): what Wine reads at boot, without booting Wine to write it.
    `key` is relative to the hive, e.g. r"Software\Wine\Debug"."""
    lines = reg_file.read_text(errors="surrogateescape").split("\n")
    header = "[" + key.replace("\\", "\\\\") + "]"
    start = next((i for i, l in enumerate(lines) if l.split("] ")[0] + "]" == header or l == header), None)
    entry = None if value is None else f"{_reg_quote(name)}={_reg_quote(value)}"
    if start is None:
        if entry is not None:
            lines += [f"{header} {int(time.time())}", entry, ""]
    else:
        end = start + 1
        while end < len(lines) and not lines[end].startswith("["):
            end += 1
        body = [l for l in lines[start + 1:end] if not l.lower().startswith(_reg_quote(name).lower() + "=")]
        if entry is not None:
            body.insert(next((i for i, l in enumerate(body) if not l.startswith("#")), len(body)), entry)
        lines[start + 1:end] = body
    reg_file.write_text("\n".join(lines), errors="surrogateescape")


_FRAME = re.compile(r"^\s*(?:=>)?(\d+) 0x([0-9a-fA-F]+) (.*?) in (\S+\.sys) \(", re.M)
_MODULE = re.compile(r"^PE\s+([0-9a-fA-F]+)-[0-9a-fA-F]+\s+\S+\s+(\S+\.sys)\s*$", re.M)


def symbolize_report(report: str, search_dirs: list[Path]) -> str:
    """Driver frames of a winedbg crash report as module+offset, function and file:line, read from
    the driver's own DWARF by llvm-symbolizer (winedbg's own line can be one off)."""
    bases = {m.group(2).lower(): int(m.group(1), 16) for m in _MODULE.finditer(report)}
    out = []
    for m in _FRAME.finditer(report):
        module, address = m.group(4), int(m.group(2), 16)
        base = bases.get(module.lower())
        where = f"{module}+0x{address - base:x}" if base is not None else f"0x{address:x} in {module}"
        image = next((d / module for d in search_dirs if (d / module).exists()), None)
        line = f"  #{m.group(1)} {where}"
        if image and base is not None and shutil.which("llvm-symbolizer"):
            try:
                sym = subprocess.run(["llvm-symbolizer", f"--obj={image}", "--relative-address", f"0x{address - base:x}"],
                                     capture_output=True, text=True, timeout=30).stdout.split("\n")
            except subprocess.TimeoutExpired:
                sym = []
            if len(sym) >= 2 and sym[0] not in ("", "??"):
                line += f"  {sym[0]}  {sym[1]}"
        out.append(line)
    return "\n".join(out)


# A bug check raised by the kit's driver support (kmd/stack_cookie.cpp): Wine's KeBugCheckEx ends
# the driver host without a crash report, so the line the driver printed first is the report.
_BUGCHECK = re.compile(r"(?P<driver>[\w.-]+): bug check 0x(?P<code>[0-9A-Fa-f]{8}) (?P<name>[A-Z_]+) "
                       r"at (?P<module>[\w.-]+\.sys)\+0x(?P<offset>[0-9a-fA-F]+): (?P<why>.*)")


def bugcheck_report(log_text: str, search_dirs: list[Path]) -> str:
    """The kit's bug-check lines in a kernel log, each with the function and file:line of the
    check that failed (llvm-symbolizer; the address is a return address, so one byte back)."""
    out = []
    for line in dbgprint_lines(log_text):
        m = _BUGCHECK.search(line)
        if not m:
            continue
        module, offset = m.group("module"), int(m.group("offset"), 16)
        where = f"  {m.group('name')} (bug check 0x{m.group('code')}) at {module}+0x{offset:x}"
        image = next((d / module for d in search_dirs if (d / module).exists()), None)
        if image and shutil.which("llvm-symbolizer"):
            try:
                sym = subprocess.run(["llvm-symbolizer", f"--obj={image}", "--relative-address", f"0x{max(offset - 1, 0):x}"],
                                     capture_output=True, text=True, timeout=30).stdout.split("\n")
            except subprocess.TimeoutExpired:
                sym = []
            if len(sym) >= 2 and sym[0] not in ("", "??"):
                where += f"  {sym[0]}  {sym[1]}"
        out.append(f"{where}\n    {m.group('why')}")
    return "\n".join(out)


def _kill_wineserver(prefix: Path) -> None:
    subprocess.run(wine_command(["wineserver", "-k"]), env=_base_env(prefix), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=False, preexec_fn=fixed_layout)
    subprocess.run(wine_command(["wineserver", "-w"]), env=_base_env(prefix), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=False, preexec_fn=fixed_layout)


def _box_processes(prefix: Path) -> list[int]:
    """PIDs of every process of the box (its WINEPREFIX in the environment), wineserver included."""
    mark = f"WINEPREFIX={prefix}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                continue  # gone meanwhile, or a zombie
    return pids


def _box_commands(prefix: Path) -> list[tuple[int, str, list[str]]]:
    """(pid, program's file name, argv) of each process of the box still there, by pid."""
    found = []
    for pid in sorted(_box_processes(prefix)):
        try:
            argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue  # gone meanwhile
        if argv:
            found.append((pid, re.split(r"[\\/]", argv[0])[-1], argv))
    return found


def _server_dir(prefix: Path) -> Path | None:
    """The box's wineserver's socket directory (.../server-DEV-INODE): the server's own working directory."""
    for pid, name, _ in _box_commands(prefix):
        if "wineserver" in name:
            try:
                # Read from outside a chroot (x86), the link is the host's path, under KMD_WINE_ROOT.
                cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            except OSError:
                continue
            if cwd.name.startswith("server-"):
                return cwd
    return None


def _end_doomed_box(prefix: Path) -> None:
    """Ends a box whose prefix is deleted next: SIGKILL to each of its processes, found by prefix.

    `wineserver -k` spends 0.75 s per box (make test-profile) ending the processes gracefully and
    writing the registry back - to a prefix about to be deleted. Only for such a box: a prefix that
    lives on (a restarted session, a kept box) ends through _kill_wineserver()."""
    server_dir = _server_dir(prefix)
    deadline = time.monotonic() + 20
    while (pids := _box_processes(prefix)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    if pids:  # still there after 20 s: the graceful way, bounded too
        _kill_wineserver(prefix)
    # The killed wineserver left its socket and lock behind; a new prefix may get the same inode.
    if server_dir:
        shutil.rmtree(server_dir, ignore_errors=True)


def ensure_template(wine_dir: Path = DEFAULT_WINE_DIR) -> Path:
    """Makes build/wine/template once (about 10 s); concurrent callers wait for the first."""
    template = wine_dir / "template"
    wine_dir.mkdir(parents=True, exist_ok=True)
    with open(wine_dir / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / READY_STAMP).exists():
            return template
        return _make_template(wine_dir, template)


def _make_template(wine_dir: Path, template: Path) -> Path:
    with phase("template"):
        staging = wine_dir / "template.staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(template, ignore_errors=True)
        env = _base_env(staging)
        try:
            subprocess.run(wine_command(["wineboot", "--init"]), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300, check=True, preexec_fn=fixed_layout)
            # Let wineboot's work finish (services, registry flush) before the template is
            # frozen: a 32-bit prefix cut short here fails its first StartService with 1053.
            subprocess.run(wine_command(["wineserver", "-w"]), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300, check=False, preexec_fn=fixed_layout)
        finally:
            _kill_wineserver(staging)
        reg_set(staging / "system.reg", AEDEBUG_KEY, "Debugger", AEDEBUG_DEBUGGER)
        # The Windows the prefix reports (RtlGetVersion): Wine 8's new prefixes say Windows 7, and
        # x64 drivers refuse kernels older than Windows 8 (kmd/kernel_features.hpp). A test that
        # wants another version sets HKCU\Software\Wine\Version itself (tests/e2e/test_version_gates.py).
        reg_set(staging / "user.reg", r"Software\Wine", "Version", "win10")
        (staging / READY_STAMP).write_text("made by kit/harness/winebox.py\n")
        staging.rename(template)
        return template


def _clone(template: Path, target: Path) -> None:
    """Hard-links the template into a new box; copies the files Wine rewrites in place.

    Wine never writes into its DLLs, and it saves the registry by writing a new file and renaming
    it over the old one, so links are safe; the *.reg files are copied anyway so a box can never
    change the template."""
    subprocess.run(["cp", "-al", str(template), str(target)], check=True)
    for reg in target.glob("*.reg"):
        data = reg.read_bytes()
        reg.unlink()
        reg.write_bytes(data)


def _pick_cpu(wine_dir: Path) -> int | None:
    """KMD_BOX_PIN: unset/empty - boxes run on every CPU (the default); a CPU number - every box
    on that CPU; "auto" - each new box on the next CPU in turn, so parallel boxes (ctest -j2) each
    keep one CPU. A box's processes (wineserver, services, winedevice, programs) then all run on
    it: a request's hand-offs between them stay on one CPU's caches and run queue. Measured with
    tools/bench_profile.py and docs/performance.md before choosing it."""
    mode = os.environ.get("KMD_BOX_PIN", "")
    if not mode:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if mode != "auto":
        return int(mode)
    (wine_dir / "boxes").mkdir(parents=True, exist_ok=True)
    with open(wine_dir / "boxes" / ".pin-counter", "a+") as counter:
        fcntl.flock(counter, fcntl.LOCK_EX)
        counter.seek(0)
        n = int(counter.read().strip() or 0)
        counter.seek(0)
        counter.truncate()
        counter.write(str(n + 1))
    return cpus[n % len(cpus)]


@dataclass
class Run:
    argv: list[str]
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    post_mortem: str = ""  # crash report / kernel log tail, filled in when something went wrong

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe(self) -> str:
        rc = "timed out" if self.timed_out else f"exit {self.returncode}"
        return (f"$ {' '.join(self.argv)}  ({rc}, {self.seconds:.1f} s)\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}{self.post_mortem}")


class Box:
    """One private Wine prefix. Use as a context manager: it always ends its wineserver."""

    def __init__(self, name: str, wine_dir: Path = DEFAULT_WINE_DIR, keep: bool = False,
                 env: dict[str, str] | None = None):
        self.name = name
        self.env = env or {}  # for every process of the box, the session's first (e.g. DISPLAY)
        self.cpu: int | None = None  # KMD_BOX_PIN: the CPU every process of the box runs on
        self.wine_dir = wine_dir
        self.prefix = wine_dir / "boxes" / name
        self.kernel_log = wine_dir / "boxes" / f"{name}.kernel.log"
        # The same log with only the driver's DbgPrint lines and Wine's crash lines, unprefixed.
        self.clean_kernel_log = wine_dir / "boxes" / f"{name}.kernel.clean.log"
        self.crash_report = self.prefix / "drive_c" / "windows" / "crash-report.txt"
        self.symbol_dirs = [Path(os.environ.get("KMD_BIN_DIR") or os.environ.get("SKELETON_BIN_DIR") or ROOT / "build" / "bin")]
        self.session_debug = KERNEL_LOG_DEBUG  # WINEDEBUG of the session (the driver hosts inherit it)
        # Crash reports already shown (a file, so separate `exec` commands share it).
        self._crashes_seen_file = wine_dir / "boxes" / f"{name}.crashes-seen"
        self.expect_crash = False  # a test that crashes a driver on purpose: no need to keep the prefix
        # After a driver host crashed, the next program gets a fresh session (the crashed driver
        # could not start again in the old one); tests that examine the dead state turn it off.
        self.auto_recover = True
        self._crashes_at_session_start = 0
        self.keep = keep or os.environ.get("SKELETON_KEEP_BOXES") == "1"
        self._holder: subprocess.Popen | None = None
        self._log_file = None
        self._session_held_elsewhere = False  # a `session start` keeper process holds it
        self._log_origin = 0  # where this test's part of the kernel log starts (box_pool.py)

    # -- lifetime
    def create(self) -> "Box":
        template = ensure_template(self.wine_dir)
        self.destroy()  # leftovers of an earlier, interrupted run under the same name
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        with phase("clone", self.name):
            _clone(template, self.prefix)
        self.cpu = _pick_cpu(self.wine_dir)
        return self

    def destroy(self) -> None:
        self._crashes_seen_file.unlink(missing_ok=True)
        if self.prefix.exists():
            _end_doomed_box(self.prefix)
            shutil.rmtree(self.prefix, ignore_errors=True)

    def close(self) -> None:
        with phase("teardown", self.name):
            self._close()

    def _close(self) -> None:
        self.stop_session()
        if self.keep or (self.crashed() and not self.expect_crash):
            _kill_wineserver(self.prefix)  # kept: its registry written back for the post-mortem
        else:
            _end_doomed_box(self.prefix)
        if self.crashed() and not self.keep and not self.expect_crash:
            self.keep = True  # a crash is worth a post-mortem
            print(f"winebox: a driver crashed in box {self.name}; prefix kept for a post-mortem: {self.prefix}\n"
                  f"winebox: crash report: {self.crash_report}", file=sys.stderr)
        if not self.keep:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self._crashes_seen_file.unlink(missing_ok=True)

    def __enter__(self) -> "Box":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- session
    def _preexec(self):
        """For Popen: the new process (and so everything it starts) with a fixed address layout
        (fixed_layout) and pinned to the box's CPU, if the box has one."""
        cpu = self.cpu

        def setup():
            fixed_layout()
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
        return setup

    def _system_program(self, program: str) -> str:
        """A bare name of one of Wine's own programs (reg.exe, sc.exe, cmd.exe) as its full Windows
        path. Given a bare name, Wine starts start.exe, which searches the PATH, starts the
        program as a second Wine process in a job and waits for it: twice the processes, about
        40 ms more a run (docs/wine.md). A name the box has no such program for, or a
        path, is passed on as it is."""
        if re.search(r"[\\/:]", program) or not program.lower().endswith(".exe"):
            return program
        if (self.prefix / "drive_c" / "windows" / "system32" / program.lower()).is_file():
            return "C:\\windows\\system32\\" + program
        return program

    def start_session(self) -> None:
        """Starts the holder process first, so services and drivers live until stop_session().

        The holder must be the process that boots the prefix: whichever process comes first
        starts services.exe, and services inherit its stdout/stderr. Were that a program run
        with captured output, the pipe would never reach end-of-file while services live.
        So nothing else starts until the holder has echoed a marker back."""
        if self._holder is not None or self._session_held_elsewhere:
            return
        with phase("boot", self.name):
            self._start_holder()

    def _start_holder(self) -> None:
        self._crashes_at_session_start = self.crash_count()
        self._log_file = open(self.kernel_log, "w")
        self._log_origin = 0
        self._holder = subprocess.Popen(wine_command(["wine", self._system_program("cmd.exe")]), env={**_base_env(self.prefix, self.session_debug), **self.env},
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file,
                                        start_new_session=True, text=True, errors="replace", preexec_fn=self._preexec())
        self._holder.stdin.write(f"echo {SESSION_MARKER}\n")
        self._holder.stdin.flush()
        seen = threading.Event()

        def watch(stream):
            try:
                for line in stream:  # keeps draining cmd's prompts until the holder ends
                    if SESSION_MARKER in line and not line.lstrip().lower().startswith("echo"):
                        seen.set()
            except (ValueError, OSError):
                pass  # stop_session() closed the pipe under us

        threading.Thread(target=watch, args=(self._holder.stdout,), daemon=True).start()
        if not seen.wait(timeout=180):
            self.stop_session()
            raise RuntimeError(f"Wine session did not come up in {self.prefix}: see {self.kernel_log}")

    def session_running(self) -> bool:
        return self._holder is not None and self._holder.poll() is None

    def begin_next_test(self) -> None:
        """This box, given back clean by one test, goes to the next (box_pool.py): its kernel log
        text starts here, so the next test sees only its own lines."""
        self._log_origin = self.kernel_log_size()

    def stop_session(self) -> None:
        if self._holder is None:
            return
        try:
            self._holder.stdin.close()  # cmd.exe ends at end of input
            self._holder.wait(timeout=20)
        except (subprocess.TimeoutExpired, OSError):
            os.killpg(self._holder.pid, signal.SIGKILL)
            try:
                self._holder.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"winebox: the session holder of {self.name} (pid {self._holder.pid}) ignored SIGKILL for 20 s",
                      file=sys.stderr)
        if self._holder.stdout:
            self._holder.stdout.close()
        self._holder = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        self.kernel_log_text()  # writes the cleaned log one last time

    def restart_session(self, reason: str = "") -> None:
        """A fresh session in the same prefix: ends every Wine process of the box (the wineserver
        too: a crashed driver host's \\DosDevices link lives there and blocks that driver's next
        DriverEntry with error 6) and starts the holder again. The old kernel log is kept beside."""
        print(f"winebox: restarting the session of box {self.name}" + (f": {reason}" if reason else ""), file=sys.stderr)
        with phase("teardown", self.name):
            self.stop_session()
            _kill_wineserver(self.prefix)
        if self.kernel_log.exists():
            self.kernel_log.replace(self.kernel_log.with_suffix(f".before-restart-{int(time.time())}.log"))
        self.start_session()

    def trace_kernel_calls(self, driver: str) -> None:
        """Before the session starts: Wine's +relay channel, limited to calls made *from* `driver`
        (e.g. "skeleton.sys"), so the kernel log shows every ntoskrnl/hal call the driver makes with
        its arguments and return value. Read them with kernel_calls()."""
        if self._holder is not None:
            raise RuntimeError("trace_kernel_calls() must come before the session starts")
        _kill_wineserver(self.prefix)  # the .reg files are read at boot and rewritten at exit
        reg_set(self.prefix / "user.reg", r"Software\Wine\Debug", "RelayFromInclude", Path(driver).name)
        reg_set(self.prefix / "user.reg", r"Software\Wine\Debug", "RelayFromExclude", None)
        # +loaddll: where the driver was loaded, so each call's return address names its caller.
        self.session_debug = KERNEL_LOG_DEBUG + ",+relay,+loaddll"
        self._traced = Path(driver).name

    def kernel_calls(self) -> list[str]:
        """The relay lines of trace_kernel_calls(): "Call ntoskrnl.exe.IoCreateDevice(...) ret=..."
        and "Ret  ntoskrnl.exe.IoCreateDevice() retval=00000000 ret=...", thread id stripped; each
        Call line ends with the driver's function and file:line that made it (llvm-symbolizer)."""
        text = self.kernel_log_text()
        calls = []
        for line in text.splitlines():
            _, sep, rest = line.partition(":")
            if sep and (rest.startswith("Call ") or rest.startswith("Ret  ")) and (".exe." in rest or ".dll." in rest):
                calls.append(rest)
        traced = getattr(self, "_traced", None)
        base = None
        if traced:
            m = re.search(r'Loaded L"(?:[^"]*\\)?' + re.escape(traced) + r'" at ([0-9A-Fa-f]+)', text, re.I)
            base = int(m.group(1), 16) if m else None
        image = next((d / traced for d in self.symbol_dirs if traced and (d / traced).exists()), None)
        if base is None or image is None or not shutil.which("llvm-symbolizer"):
            return calls
        returns = [int(m.group(1), 16) if (m := re.search(r" ret=([0-9A-Fa-f]+)$", c)) and c.startswith("Call ") else None
                   for c in calls]
        wanted = sorted({r for r in returns if r is not None and r > base})
        try:
            out = subprocess.run(["llvm-symbolizer", f"--obj={image}", "--relative-address"],
                                 input="".join(f"0x{r - 1 - base:x}\n" for r in wanted),
                                 capture_output=True, text=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            return calls
        blocks = [b.split("\n") for b in out.strip("\n").split("\n\n")]
        named = {}
        for r, b in zip(wanted, blocks):
            if len(b) >= 2 and b[0] not in ("", "??"):
                where = b[1].rsplit(":", 1)[0] if b[1].count(":") >= 2 else b[1]
                named[r] = f"{b[0]} {Path(where.rsplit(':', 1)[0]).name}:{where.rsplit(':', 1)[-1]}"
        return [c + (f"  [from {named[r]}]" if r in named else "") for c, r in zip(calls, returns)]

    def crash_count(self) -> int:
        if not self.crash_report.exists():
            return 0
        return self.crash_report.read_text(errors="replace").count("Unhandled exception")

    def crashed(self) -> bool:
        return self.crash_report.exists() and "Unhandled exception" in self.crash_report.read_text(errors="replace")

    def crash_report_text(self) -> str:
        """Wine's report(s), each driver frame symbolized; empty when nothing crashed."""
        if not self.crashed():
            return ""
        report = self.crash_report.read_text(errors="replace")
        frames = symbolize_report(report, self.symbol_dirs)
        return (f"--- crash report ({self.crash_report}; Linux path)\n{report}"
                + (f"--- driver frames, symbolized with llvm-symbolizer\n{frames}\n" if frames else ""))

    def post_mortem(self, tail_lines: int = 40) -> str:
        """What to print when a run failed or timed out: the kernel log's tail, the crash report."""
        lines = self.kernel_log_text().splitlines()[-tail_lines:]
        text = f"--- kernel log, last {len(lines)} lines ({self.kernel_log})\n" + "".join(l + "\n" for l in lines)
        return text + self.crash_report_text()

    def _silent_exit_report(self, returncode: int, log_mark: int, tail_lines: int = 40) -> str:
        """For a program that ended non-zero without a word: the box as it was right after. Wine's
        own refusals look like this - a wineserver that kills a client for a protocol error, or
        one shutting down, says why on its own stderr (the kernel log), not on the program's."""
        if self._holder is None:
            holder = "none (no session)"
        elif self._holder.poll() is None:
            holder = f"running (pid {self._holder.pid})"
        else:
            holder = f"ended (exit status {self._holder.returncode})"
        servers, others = [], []
        for pid, name, argv in _box_commands(self.prefix):
            if name.startswith("wineserver"):
                servers.append(f"{pid} {' '.join([name, *argv[1:]])[:80]}")
            else:
                others.append(name)
        server_dir = _server_dir(self.prefix)
        if server_dir is None:
            socket = "no wineserver process of this box, so no socket directory"
        else:
            socket = f"{server_dir / 'socket'} {'present' if (server_dir / 'socket').exists() else 'MISSING'}"
        # Debian's Wine names the socket's directory in this file (docs/wine.md); an empty or
        # changed one makes Wine delete it and exit 1.
        name_file = self.prefix / "wineserver"
        try:
            st = name_file.stat()
            names = f"{name_file.read_text(errors='replace').strip()!r} (mode {st.st_mode & 0o777:o}, {st.st_nlink} links)"
        except OSError as error:
            names = f"unreadable: {error.strerror}"
        log = self.kernel_log_since(log_mark).splitlines()[-tail_lines:] if self._log_file else []
        return (f"--- winebox: exit {returncode} and no output at all; the box right after it\n"
                f"session holder: {holder}\n"
                f"wineserver: {'; '.join(servers) or 'NONE'}\n"
                f"server socket: {socket}\n"
                f"socket directory named in {name_file.name}: {names}\n"
                f"other processes of the box: {len(others)}: {', '.join(others)}\n"
                f"--- kernel log during the run, last {len(log)} lines ({self.kernel_log})\n"
                + "".join(l + "\n" for l in log))

    def kernel_log_size(self) -> int:
        """Bytes in the kernel log so far: a mark for kernel_log_since()."""
        if self._log_file:
            self._log_file.flush()
        return self.kernel_log.stat().st_size if self.kernel_log.exists() else 0

    def _kernel_log_from(self, offset: int) -> bytes:
        """The kernel log's bytes from `offset` on, without reading what came before."""
        if self._log_file:
            self._log_file.flush()
        if not self.kernel_log.exists():
            return b""
        with self.kernel_log.open("rb") as f:
            f.seek(offset)
            return f.read()

    def kernel_log_lines_since(self, offset: int) -> tuple[str, int]:
        """The whole lines of the kernel log from byte `offset` on, and the offset after them: a
        line still being written is left for the next call. A log replaced by a session restart
        (shorter than `offset`) is read from its start."""
        if self.kernel_log_size() < offset:
            offset = 0
        data = self._kernel_log_from(offset)
        whole = data[:data.rfind(b"\n") + 1]
        return whole.decode(errors="replace"), offset + len(whole)

    def kernel_log_since(self, offset: int) -> str:
        """The kernel log from byte `offset` on, without reading (or cleaning) what came before:
        after a long run - a million logged requests - the whole log is hundreds of MB."""
        return self._kernel_log_from(offset).decode(errors="replace")

    def kernel_log_text(self) -> str:
        if self._log_file:
            self._log_file.flush()
        text = self._kernel_log_from(self._log_origin).decode(errors="replace")
        clean = [l for l in dbgprint_lines(text)] if text else []
        crash = [l for l in text.splitlines() if l.startswith("wine: Unhandled") or l.startswith("wine: Call from")]
        if text:
            self.clean_kernel_log.write_text("".join(l + "\n" for l in clean + crash))
        return text

    # -- programs
    def _ready_session(self) -> None:
        """The session a program runs in: started on first use, fresh after a driver host crashed."""
        if self.auto_recover and self._holder is not None and self.crash_count() > self._crashes_at_session_start:
            self.restart_session("a driver host crashed in it (report printed with that run); "
                                 "without a restart that driver could not start again (error 6)")
        self.start_session()

    def spawn(self, argv: list, env: dict[str, str] | None = None, debug: str = PROGRAM_DEBUG,
              stdin=subprocess.DEVNULL) -> subprocess.Popen:
        """Starts one Windows program in the box's session and returns at once (text pipes for
        stdout/stderr). The caller waits for it, or closing the box ends it."""
        self._ready_session()
        full_env = {**_base_env(self.prefix, debug), **self.env, **(env or {})}
        argv = [self._system_program(str(argv[0])), *[str(a) for a in argv[1:]]] if argv else []
        return subprocess.Popen(wine_command(["wine", *argv]), env=full_env, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
                                preexec_fn=self._preexec())

    def run(self, argv: list[str], timeout: float = 120, env: dict[str, str] | None = None,
            input: str | None = None, debug: str = PROGRAM_DEBUG) -> Run:
        """Runs one Windows program (a Unix path to an .exe, or a name Wine finds) to its end,
        inside the box's session (started on first use)."""
        self._ready_session()  # its boot is timed as such, not as the program's
        with phase("programs", self.name, program_label(argv)):
            return self._run(argv, timeout, env, input, debug)

    def _run(self, argv: list[str], timeout: float, env: dict[str, str] | None, input: str | None, debug: str) -> Run:
        start = time.monotonic()
        log_mark = self.kernel_log_size()
        proc = self.spawn(argv, env=env, debug=debug, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            try:  # bounded too: a Wine process outside the group could hold the pipes open
                out, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired as still:
                out = (still.stdout or b"").decode(errors="replace") if isinstance(still.stdout, bytes) else (still.stdout or "")
                err = (still.stderr or b"").decode(errors="replace") if isinstance(still.stderr, bytes) else (still.stderr or "")
                err += "\nwinebox: output pipes still open 20 s after SIGKILL; gave up on them\n"
                for pipe in (proc.stdout, proc.stderr):
                    pipe.close()
            rc = None
        result = Run([str(a) for a in argv], rc, (out or "").replace("\r\n", "\n"), (err or "").replace("\r\n", "\n"),
                     time.monotonic() - start)
        if result.timed_out:
            self.keep = True
            result.post_mortem = (f"--- winebox: killed after {timeout:.0f} s; prefix kept: {self.prefix}\n"
                                  + self.post_mortem())
        elif self.crashed():
            crashes = self.crash_report.read_text(errors="replace").count("Unhandled exception")
            seen = int(self._crashes_seen_file.read_text()) if self._crashes_seen_file.exists() else 0
            if crashes > seen:  # a new crash during this run
                self._crashes_seen_file.write_text(str(crashes))
                result.post_mortem = self.post_mortem()
        if not result.post_mortem and result.returncode and not result.stdout and not result.stderr:
            result.post_mortem = self._silent_exit_report(result.returncode, log_mark)
        bugchecks = bugcheck_report(self.kernel_log_since(log_mark), self.symbol_dirs) if self._log_file else ""
        if bugchecks:  # a driver bug-checked during this run: Wine wrote no crash report for it
            result.post_mortem = f"--- bug check (the driver's last words in the kernel log)\n{bugchecks}\n" + (
                result.post_mortem or self.post_mortem())
        return result


# ---------------------------------------------------------------- command line

def _session_pidfile(wine_dir: Path, name: str) -> Path:
    return wine_dir / "boxes" / f"{name}.session.pid"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="winebox.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wine-dir", type=Path, default=DEFAULT_WINE_DIR)
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("template", help="make the template prefix now")
    run_p = sub.add_parser("run", help="run one program in a fresh box, then end the box")
    run_p.add_argument("--box", default="run")
    run_p.add_argument("--timeout", type=float, default=300)
    run_p.add_argument("--kernel-log", action="store_true", help="hold a session and print the driver's DbgPrint lines")
    run_p.add_argument("--keep", action="store_true", help="keep the box afterwards (debugging)")
    run_p.add_argument("--trace-kernel", metavar="DRIVER.sys",
                       help="log every ntoskrnl/hal call DRIVER.sys makes (Wine +relay), printed after the run")
    run_p.add_argument("--env-path", action="append", default=[], metavar="NAME=UNIXPATH",
                       help="set NAME for the program to the Windows path of UNIXPATH")
    run_p.add_argument("program", nargs=argparse.REMAINDER)
    sess = sub.add_parser("session", help="start or stop a box with a held session")
    sess.add_argument("action", choices=["start", "stop", "restart"])
    sess.add_argument("--box", default="session")
    sess.add_argument("--debug", action="store_true",
                      help="let StartService wait 300 s (ServicesPipeTimeout), for gdb stopped in DriverEntry")
    exec_p = sub.add_parser("exec", help="run one program in a started session")
    exec_p.add_argument("--box", default="session")
    exec_p.add_argument("--timeout", type=float, default=300)
    exec_p.add_argument("program", nargs=argparse.REMAINDER)
    keep_p = sub.add_parser("_keep")  # internal: the detached owner of a `session start` box
    keep_p.add_argument("box")
    args = parser.parse_args(argv)

    if args.verb == "_keep":
        return _keep(args.wine_dir, args.box)

    if args.verb == "template":
        print(ensure_template(args.wine_dir))
        return 0

    if args.verb in ("run", "exec"):
        program = args.program[1:] if args.program[:1] == ["--"] else args.program
        if not program:
            parser.error("no program given")

    if args.verb == "run":
        with Box(args.box, args.wine_dir, keep=args.keep) as box:
            if args.trace_kernel:
                box.trace_kernel_calls(args.trace_kernel)
            if args.kernel_log or args.trace_kernel:
                box.start_session()
            env = {}
            for item in args.env_path:
                name, _, path = item.partition("=")
                env[name] = windows_path(path)
            result = box.run(program, timeout=args.timeout, env=env)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr + result.post_mortem)
            if args.trace_kernel:
                box.stop_session()
                calls = box.kernel_calls()
                calls_log = box.kernel_log.with_name(f"{box.name}.kernel-calls.log")
                calls_log.write_text("".join(c + "\n" for c in calls))
                print(f"\n--- kernel calls made by {args.trace_kernel} (Wine +relay; also in {calls_log}) ---")
                for c in calls:
                    print(c)
            if args.kernel_log:
                box.stop_session()
                print("\n--- kernel debug output (the driver's DbgPrint, via Wine's debugstr channel) ---")
                for line in dbgprint_lines(box.kernel_log_text()):
                    print(line)
        if result.timed_out:
            print(f"winebox: {program[0]} did not finish within {args.timeout:.0f} s", file=sys.stderr)
            return 124
        return result.returncode

    if args.verb == "session":
        pidfile = _session_pidfile(args.wine_dir, args.box)
        if args.action == "start":
            # A detached keeper process owns the box until `session stop` signals it.
            box = Box(args.box, args.wine_dir).create()
            if args.debug:
                # Read only as a REG_SZ, only when the prefix boots: so written before it does.
                reg_set(box.prefix / "system.reg", r"System\CurrentControlSet\Control", "ServicesPipeTimeout", "300000")
            # The keeper outlives this command: it must not hold our stdout/stderr, or whoever
            # captures them (a test, a CI step) waits for an end of file that never comes.
            with open(args.wine_dir / "boxes" / f"{args.box}.session.log", "w") as keeper_log:
                keeper = subprocess.Popen([sys.executable, __file__, "--wine-dir", str(args.wine_dir), "_keep", args.box],
                                          start_new_session=True, stdin=subprocess.DEVNULL, stdout=keeper_log,
                                          stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 180
            ready = args.wine_dir / "boxes" / f"{args.box}.session.ready"
            while not ready.exists():
                if keeper.poll() is not None or time.monotonic() > deadline:
                    print("winebox: the session did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            pidfile.write_text(str(keeper.pid))
            print(f"session {args.box} started: WINEPREFIX={box.prefix}")
            return 0
        if not pidfile.exists():
            print(f"winebox: no session {args.box}", file=sys.stderr)
            return 1
        if args.action == "restart":
            ready = args.wine_dir / "boxes" / f"{args.box}.session.ready"
            ready.unlink(missing_ok=True)
            os.kill(int(pidfile.read_text()), signal.SIGHUP)
            deadline = time.monotonic() + 180
            while not ready.exists():
                if time.monotonic() > deadline:
                    print("winebox: the session did not come back", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            print(f"session {args.box} restarted (new wineserver; the prefix and its services stay)")
            return 0
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        pidfile.unlink()
        deadline = time.monotonic() + 60
        while (args.wine_dir / "boxes" / args.box).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"session {args.box} stopped")
        return 0

    if args.verb == "exec":
        box = Box(args.box, args.wine_dir)
        box._session_held_elsewhere = True
        if not box.prefix.exists():
            print(f"winebox: no session {args.box} (winebox.py session start --box {args.box})", file=sys.stderr)
            return 1
        result = box.run(program, timeout=args.timeout)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr + result.post_mortem)
        if result.post_mortem and not result.timed_out:
            print(f"winebox: a driver crashed; `winebox.py session restart --box {args.box}` gives a fresh session",
                  file=sys.stderr)
        return 124 if result.timed_out else result.returncode
    return 2


def _keep(wine_dir: Path, name: str) -> int:
    """The detached owner of a `session start` box: holds the session until SIGTERM."""
    box = Box(name, wine_dir)
    stop, restart = [], []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGHUP, lambda *_: restart.append(1))
    try:
        box.start_session()
        (wine_dir / "boxes" / f"{name}.session.ready").write_text("up\n")
        while not stop:
            if restart:
                restart.clear()
                box.restart_session("asked by `session restart`")
                (wine_dir / "boxes" / f"{name}.session.ready").write_text("up\n")
            time.sleep(0.2)
    finally:
        (wine_dir / "boxes" / f"{name}.session.ready").unlink(missing_ok=True)
        box.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
