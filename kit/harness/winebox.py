#!/usr/bin/python3
"""winebox - private, throw-away Wine prefixes ("boxes") for running Skeleton KMD's Windows half.

A box is a Wine prefix under build/wine/boxes/NAME, cloned from a template prefix that is made
once (wineboot) in build/wine/template. Every box has its own wineserver, so boxes run side by
side; closing a box shuts its wineserver down and deletes it. Nothing touches ~/.wine.

Wine runs services - and so drivers - only while an ordinary process is alive in the prefix. A
box can therefore hold a *session*: a holder process (an idle cmd.exe) started first, so that
the service manager and winedevice.exe inherit its stderr and its WINEDEBUG: the driver's
DbgPrint lines (Wine's `debugstr` channel) land in the box's kernel.log.

Python:   with Box("name") as box: box.start_session(); box.run(["kmdctl.exe", "status"])
Shell:    winebox.py run [--box NAME] [--timeout S] [--kernel-log] -- PROGRAM [ARGS...]
          winebox.py session start|stop --box NAME      (for a workflow of separate commands)
          winebox.py exec --box NAME -- PROGRAM [ARGS...] (inside a started session)
          winebox.py template                           (make the template prefix now)
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WINE_DIR = Path(os.environ.get("SKELETON_WINE_DIR", ROOT / "build" / "wine"))
READY_STAMP = ".skeleton-template-ready"
# DbgPrint goes to Wine's `debugstr` channel at warn level; nothing else is wanted.
KERNEL_LOG_DEBUG = os.environ.get("SKELETON_KERNEL_DEBUG", "-all,warn+debugstr")  # e.g. "+ntoskrnl,+seh" to debug
SESSION_MARKER = "skeleton-session-ready"
# --- x86 (i686): begin. Boxes for the 32-bit images run a 32-bit Wine inside an i386 Debian root.
# kit/x86/x86root.sh `run` sets KMD_WINE_ROOT while /proc, /dev and the build tree are mounted
# into that root (at their own paths, so every path here means the same inside and out); every
# Wine command then goes through chroot, and prefixes are WINEARCH=win32. Unset: the host's Wine.
WINE_ROOT = os.environ.get("KMD_WINE_ROOT") or None


def wine_command(argv: list) -> list[str]:
    """argv (wine, wineserver, wineboot ...) as run for this process's boxes."""
    argv = [str(a) for a in argv]
    return [shutil.which("chroot") or "/usr/sbin/chroot", WINE_ROOT, *argv] if WINE_ROOT else argv
# --- x86 (i686): end


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


def _kill_wineserver(prefix: Path) -> None:
    subprocess.run(wine_command(["wineserver", "-k"]), env=_base_env(prefix), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=False)
    subprocess.run(wine_command(["wineserver", "-w"]), env=_base_env(prefix), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=False)


def ensure_template(wine_dir: Path = DEFAULT_WINE_DIR) -> Path:
    """Makes build/wine/template once (about 10 s); concurrent callers wait for the first."""
    template = wine_dir / "template"
    wine_dir.mkdir(parents=True, exist_ok=True)
    with open(wine_dir / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / READY_STAMP).exists():
            return template
        staging = wine_dir / "template.staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(template, ignore_errors=True)
        env = _base_env(staging)
        try:
            subprocess.run(wine_command(["wineboot", "--init"]), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300, check=True)
            # Let wineboot's work finish (services, registry flush) before the template is
            # frozen: a 32-bit prefix cut short here fails its first StartService with 1053.
            subprocess.run(wine_command(["wineserver", "-w"]), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300, check=False)
        finally:
            _kill_wineserver(staging)
        (staging / READY_STAMP).write_text("made by tools/winebox.py\n")
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


@dataclass
class Run:
    argv: list[str]
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe(self) -> str:
        rc = "timed out" if self.timed_out else f"exit {self.returncode}"
        return (f"$ {' '.join(self.argv)}  ({rc}, {self.seconds:.1f} s)\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


class Box:
    """One private Wine prefix. Use as a context manager: it always ends its wineserver."""

    def __init__(self, name: str, wine_dir: Path = DEFAULT_WINE_DIR, keep: bool = False,
                 env: dict[str, str] | None = None):
        self.name = name
        self.env = env or {}  # for every process of the box, the session's first (e.g. DISPLAY)
        self.wine_dir = wine_dir
        self.prefix = wine_dir / "boxes" / name
        self.kernel_log = wine_dir / "boxes" / f"{name}.kernel.log"
        self.keep = keep or os.environ.get("SKELETON_KEEP_BOXES") == "1"
        self._holder: subprocess.Popen | None = None
        self._log_file = None
        self._session_held_elsewhere = False  # a `session start` keeper process holds it

    # -- lifetime
    def create(self) -> "Box":
        template = ensure_template(self.wine_dir)
        self.destroy()  # leftovers of an earlier, interrupted run under the same name
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        _clone(template, self.prefix)
        return self

    def destroy(self) -> None:
        if self.prefix.exists():
            _kill_wineserver(self.prefix)
            shutil.rmtree(self.prefix, ignore_errors=True)

    def close(self) -> None:
        self.stop_session()
        _kill_wineserver(self.prefix)
        if not self.keep:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> "Box":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- session
    def start_session(self) -> None:
        """Starts the holder process first, so services and drivers live until stop_session().

        The holder must be the process that boots the prefix: whichever process comes first
        starts services.exe, and services inherit its stdout/stderr. Were that a program run
        with captured output, the pipe would never reach end-of-file while services live.
        So nothing else starts until the holder has echoed a marker back."""
        if self._holder is not None or self._session_held_elsewhere:
            return
        self._log_file = open(self.kernel_log, "w")
        self._holder = subprocess.Popen(wine_command(["wine", "cmd.exe"]), env={**_base_env(self.prefix, KERNEL_LOG_DEBUG), **self.env},
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file,
                                        start_new_session=True, text=True, errors="replace")
        self._holder.stdin.write(f"echo {SESSION_MARKER}\n")
        self._holder.stdin.flush()
        seen = threading.Event()

        def watch(stream):
            for line in stream:  # keeps draining cmd's prompts until the holder ends
                if SESSION_MARKER in line and not line.lstrip().lower().startswith("echo"):
                    seen.set()

        threading.Thread(target=watch, args=(self._holder.stdout,), daemon=True).start()
        if not seen.wait(timeout=180):
            self.stop_session()
            raise RuntimeError(f"Wine session did not come up in {self.prefix}: see {self.kernel_log}")

    def stop_session(self) -> None:
        if self._holder is None:
            return
        try:
            self._holder.stdin.close()  # cmd.exe ends at end of input
            self._holder.wait(timeout=20)
        except (subprocess.TimeoutExpired, OSError):
            os.killpg(self._holder.pid, signal.SIGKILL)
            self._holder.wait()
        if self._holder.stdout:
            self._holder.stdout.close()
        self._holder = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def kernel_log_text(self) -> str:
        if self._log_file:
            self._log_file.flush()
        return self.kernel_log.read_text(errors="replace") if self.kernel_log.exists() else ""

    # -- programs
    def spawn(self, argv: list, env: dict[str, str] | None = None, debug: str = "-all",
              stdin=subprocess.DEVNULL) -> subprocess.Popen:
        """Starts one Windows program in the box's session and returns at once (text pipes for
        stdout/stderr). The caller waits for it, or closing the box ends it."""
        self.start_session()
        full_env = {**_base_env(self.prefix, debug), **self.env, **(env or {})}
        return subprocess.Popen(wine_command(["wine", *argv]), env=full_env, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)

    def run(self, argv: list[str], timeout: float = 120, env: dict[str, str] | None = None,
            input: str | None = None, debug: str = "-all") -> Run:
        """Runs one Windows program (a Unix path to an .exe, or a name Wine finds) to its end,
        inside the box's session (started on first use)."""
        start = time.monotonic()
        proc = self.spawn(argv, env=env, debug=debug, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            rc = None
        return Run([str(a) for a in argv], rc, out.replace("\r\n", "\n"), err.replace("\r\n", "\n"),
                   time.monotonic() - start)


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
    run_p.add_argument("--env-path", action="append", default=[], metavar="NAME=UNIXPATH",
                       help="set NAME for the program to the Windows path of UNIXPATH")
    run_p.add_argument("program", nargs=argparse.REMAINDER)
    sess = sub.add_parser("session", help="start or stop a box with a held session")
    sess.add_argument("action", choices=["start", "stop"])
    sess.add_argument("--box", default="session")
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
            if args.kernel_log:
                box.start_session()
            env = {}
            for item in args.env_path:
                name, _, path = item.partition("=")
                env[name] = windows_path(path)
            result = box.run(program, timeout=args.timeout, env=env)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
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
            keeper = subprocess.Popen([sys.executable, __file__, "--wine-dir", str(args.wine_dir), "_keep", args.box],
                                      start_new_session=True, stdin=subprocess.DEVNULL)
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
        sys.stderr.write(result.stderr)
        return 124 if result.timed_out else result.returncode
    return 2


def _keep(wine_dir: Path, name: str) -> int:
    """The detached owner of a `session start` box: holds the session until SIGTERM."""
    box = Box(name, wine_dir)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        box.start_session()
        (wine_dir / "boxes" / f"{name}.session.ready").write_text("up\n")
        while not stop:
            time.sleep(0.2)
    finally:
        (wine_dir / "boxes" / f"{name}.session.ready").unlink(missing_ok=True)
        box.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
