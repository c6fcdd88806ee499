#!/usr/bin/python3
"""kmd_debug - source-level debugging of a driver running in a winebox session, with the
Windows-target gdb (x86_64-w64-mingw32-gdb, Debian's gdb-mingw-w64) through `winedbg --gdb`.

Under Wine a driver runs inside a winedevice.exe user process, so "kernel debugging" is ordinary
process debugging: winedbg is the gdb server, the mingw gdb reads the driver's DWARF (build with
`make debug`, or use skeleton_g.sys). Stock Linux gdb stops at breakpoints but cannot unwind
Windows frames.

  kmd_debug.py attach     --box B DRIVER.sys [--name N] [--batch FILE]   gdb on the driver's host
  kmd_debug.py entry      --box B DRIVER.sys [--name N] [--batch FILE]   stop at DriverEntry
  kmd_debug.py postmortem --box B [--wait S] [--batch FILE]              gdb on the next crash

The box is a session from `winebox.py session start --box B` (for `entry`: `... --debug`, which
sets ServicesPipeTimeout before the prefix boots, or StartService gives up after 10 s). Without
--batch gdb is interactive; with it, gdb runs FILE's commands after connecting and exits.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # winebox.py lives beside this file
import winebox  # noqa: E402

GDB = "x86_64-w64-mingw32-gdb"
HOLDER_GROUP = "kmd-debug"  # load order group shared by the holder and the driver under test


def _gdb() -> str:
    path = shutil.which(GDB)
    if not path:
        sys.exit(f"kmd_debug: {GDB} not found: install Debian's gdb-mingw-w64 (tools/bootstrap.sh does)")
    return path


def _box(name: str, wine_dir: Path) -> winebox.Box:
    box = winebox.Box(name, wine_dir)
    box._session_held_elsewhere = True
    if not box.prefix.exists():
        sys.exit(f"kmd_debug: no session {name} (winebox.py session start --box {name})")
    return box


KMDCTL = winebox.ROOT / "build" / "bin" / "kmdctl.exe"  # main() sets it from --bin-dir


def _kmdctl(box: winebox.Box, *args, timeout: float = 60) -> winebox.Run:
    return box.run([KMDCTL, *args], timeout=timeout)


def winedevice_pids(box: winebox.Box) -> set[int]:
    """Windows pids of every winedevice.exe in the box (winedbg's `info proc`)."""
    out = box.run(["winedbg", "--command", "info proc"], timeout=60).stdout
    return {int(m.group(1), 16) for m in re.finditer(r"^[ =]?([0-9a-f]{8})\s+\d+\s+.*'winedevice\.exe'", out, re.M)}


def host_from_kernel_log(box: winebox.Box, name: str) -> int | None:
    """The host of a driver already running: the thread id on its DbgPrint lines ("0140:warn:
    debugstr:... name: ...") belongs to its winedevice.exe; winedbg's `info threads` says which."""
    tids = [int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]{4,8}):warn:debugstr:.*?\b" + re.escape(name) + r"\b",
                                                     box.kernel_log_text(), re.M | re.I)]
    if not tids:
        return None
    threads = box.run(["winedbg", "--command", "info threads"], timeout=60).stdout
    pid = None
    for line in threads.splitlines():
        if re.match(r"^[0-9a-f]{8} ", line):
            pid = int(line[:8], 16)
        elif (m := re.match(r"^\s+([0-9a-f]{8})\s", line)) and int(m.group(1), 16) == tids[-1]:
            return pid
    return None


def start_and_find_host(box: winebox.Box, driver: Path, name: str, group: str | None = None) -> int:
    """Installs (if needed) and starts the driver; its host is the winedevice.exe that appeared."""
    install = ["install", driver, "--name", name] + (["--group", group] if group else [])
    r = _kmdctl(box, *install)
    if r.returncode != 0:
        sys.exit(f"kmd_debug: {r.describe()}")
    before = winedevice_pids(box)
    r = _kmdctl(box, "start", name)
    if r.returncode == 0:
        new = winedevice_pids(box) - before
        if len(new) == 1:
            return new.pop()
        sys.exit(f"kmd_debug: {name} started, but {len(new)} new winedevice.exe processes appeared: {sorted(new)}")
    if "1056" in r.stderr:  # already running: find it by its DbgPrint lines
        pid = host_from_kernel_log(box, name)
        if pid:
            return pid
        sys.exit(f"kmd_debug: {name} is running but printed nothing to tell its host by; stop it and try again")
    sys.exit(f"kmd_debug: {r.describe()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether something listens on `port`, read from /proc/net/tcp: winedbg's gdb server takes a
    single connection, so a probing connect() would use it up."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _wait_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _listening(port):
            return True
        time.sleep(0.2)
    return False


def run_gdb(box: winebox.Box, pid: int | None, commands: list[str], batch: Path | None, port: int | None = None,
            timeout: float = 300, while_running=None) -> int:
    """Connects the mingw gdb to winedbg's gdb server for `pid` (or to a server already listening on
    `port`), runs `commands`, then FILE (batch) or the prompt. `while_running` runs in a thread once
    gdb is connected (e.g. sending the IOCTL that hits the breakpoint)."""
    server = None
    if port is None:
        port = _free_port()
        server = box.spawn(["winedbg", "--gdb", "--no-start", "--port", str(port), f"{pid:d}"])
        if not _wait_port(port, 60):
            server.kill()
            sys.exit(f"kmd_debug: winedbg --gdb did not listen on port {port}: {server.communicate(timeout=20)}")
    argv = [_gdb(), "-q", "-nx", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"target remote localhost:{port}"]
    for c in commands:
        argv += ["-ex", c]
    if batch:
        argv = [argv[0], "-batch", *argv[1:], "-x", str(batch)]
    print(f"kmd_debug: {' '.join(argv)}", file=sys.stderr)
    gdb = subprocess.Popen(argv, start_new_session=bool(batch))
    helper = None
    if while_running:
        helper = threading.Thread(target=while_running, daemon=True)
        helper.start()
    try:
        rc = gdb.wait(timeout=timeout if batch else None)
        if helper:
            helper.join(timeout=timeout)  # its result (the request, the StartService) belongs to this run's output
        return rc
    except subprocess.TimeoutExpired:
        gdb.kill()
        gdb.wait(timeout=20)
        print(f"kmd_debug: gdb did not finish within {timeout:.0f} s; killed", file=sys.stderr)
        return 124
    finally:
        if server:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)


def main(argv: list[str]) -> int:
    global KMDCTL
    parser = argparse.ArgumentParser(prog="kmd_debug.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wine-dir", type=Path, default=winebox.DEFAULT_WINE_DIR)
    parser.add_argument("--bin-dir", type=Path,
                        default=Path(os.environ.get("KMD_BIN_DIR") or os.environ.get("SKELETON_BIN_DIR") or winebox.ROOT / "build" / "bin"))
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("attach", "entry"):
        p = sub.add_parser(verb)
        p.add_argument("--box", default="session")
        p.add_argument("--name", help="service name (default: the file's base name)")
        p.add_argument("--batch", type=Path, help="gdb command file; gdb exits after it")
        p.add_argument("--timeout", type=float, default=300)
        p.add_argument("--then", help="kmdctl arguments to run once gdb is connected (attach), e.g. 'hello'")
        p.add_argument("driver", type=Path)
    pm = sub.add_parser("postmortem")
    pm.add_argument("--box", default="session")
    pm.add_argument("--wait", type=float, default=600, help="seconds to wait for a crash")
    pm.add_argument("--batch", type=Path)
    pm.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    KMDCTL = args.bin_dir / "kmdctl.exe"
    box = _box(args.box, args.wine_dir)

    if args.verb == "attach":
        name = args.name or args.driver.stem
        pid = start_and_find_host(box, args.driver.resolve(), name)
        print(f"kmd_debug: {name} runs in winedevice.exe pid {pid} (0x{pid:x})", file=sys.stderr)
        then = None
        if args.then:
            extra = args.then.split()

            def then():
                time.sleep(3)  # gdb has connected and continued by now
                r = _kmdctl(box, *extra, timeout=args.timeout)
                print(f"kmd_debug: kmdctl {args.then} -> exit {r.returncode}\n{r.stdout}{r.stderr}", file=sys.stderr)
        return run_gdb(box, pid, [], args.batch, timeout=args.timeout, while_running=then)

    if args.verb == "entry":
        # Each driver gets its own winedevice.exe at StartService, so there is nothing to attach to
        # before DriverEntry runs - unless a driver of the same load-order group already runs: the
        # new driver then loads into that holder's process, where gdb waits for it.
        name = args.name or args.driver.stem
        holder = args.bin_dir / "debug_holder.sys"
        pid = start_and_find_host(box, holder, "debug_holder", HOLDER_GROUP)
        install = _kmdctl(box, "install", args.driver.resolve(), "--name", name, "--group", HOLDER_GROUP, "--force")
        if install.returncode != 0:
            sys.exit(f"kmd_debug: {install.describe()}")
        print(f"kmd_debug: holder runs in winedevice.exe pid {pid}; starting {name} into it once gdb waits", file=sys.stderr)

        def start():
            time.sleep(3)
            r = _kmdctl(box, "start", name, timeout=args.timeout + 60)
            print(f"kmd_debug: kmdctl start {name} -> exit {r.returncode} {r.stdout}{r.stderr}", file=sys.stderr)

        # The holder's own DriverEntry has run already; the pending breakpoint resolves in the new image.
        return run_gdb(box, pid, ["set breakpoint pending on", "break DriverEntry", "continue"], args.batch,
                       timeout=args.timeout, while_running=start)

    if args.verb == "postmortem":
        # AeDebug is read when a process crashes: point it at winedbg's gdb server for the next
        # crash, wait for the server, connect gdb, and put the report-writing debugger back after.
        port = _free_port()
        debugger = (r"C:\windows\system32\winedbg.exe --gdb --no-start --port " + str(port) + " %ld %ld")
        key = r"HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug"
        r = box.run(["reg.exe", "add", key, "/v", "Debugger", "/t", "REG_SZ", "/d", debugger, "/f"], timeout=60)
        if r.returncode != 0:
            sys.exit(f"kmd_debug: {r.describe()}")
        print(f"kmd_debug: waiting up to {args.wait:.0f} s for a crash in box {args.box} (gdb server port {port})",
              file=sys.stderr)
        try:
            if not _wait_port(port, args.wait):
                print("kmd_debug: no crash", file=sys.stderr)
                return 1
            # gdb stops in winedbg's break-in thread. The faulting thread waits inside
            # UnhandledExceptionFilter/start_debugger; its frames above KiUserExceptionDispatcher
            # are the driver's. `continue` would hang (the exception is already second-chance).
            print("kmd_debug: a process crashed. The faulting thread is the one waiting in start_debugger:\n"
                  "  `thread apply all bt`, then `thread N`, `frame M` (the frame under KiUserExceptionDispatcher).\n"
                  "  Never `continue`: `kill` or `detach` when done.", file=sys.stderr)
            return run_gdb(box, None, [], args.batch, port=port, timeout=args.timeout)
        finally:
            box.run(["reg.exe", "add", key, "/v", "Debugger", "/t", "REG_SZ", "/d", winebox.AEDEBUG_DEBUGGER, "/f"],
                    timeout=60)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
