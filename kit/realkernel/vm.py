#!/usr/bin/python3
"""vm - one bounded QEMU run with COM1 answered live.

COM1 is a Unix socket this process listens on and QEMU connects to (so not a byte is lost before
anyone reads); every byte is appended to the run's com1.log as it comes and fed to
serial_log.Responder, whose answers (the assertion prompt, the debugger's prompt and pager, the
terminal queries) are written back. The run ends when the guest powers off (QEMU exits), or it is
ended - QEMU killed by its own PID, never by name - when:

  - the time limit passes (a hung kernel or payload),
  - the serial line has been silent for `silence` seconds after the debugger was entered (a kernel
    stopped at a prompt nobody can answer),
  - the responder says the kernel keeps asking (stuck) or a bug check's frames are in (fatal).

An answer after which nothing at all comes back (not even KDBG's echo) for 3 s is typed again, up
to 5 times: under TCG the kernel was seen to flush its input after printing a prompt, after the
answer had already arrived.

The outcome says which, with the log.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serial_log import Responder  # noqa: E402


RESEND_AFTER = 3.0   # seconds of total silence after an answer before it is typed again
RESENDS = 5


@dataclass
class Outcome:
    how: str            # "poweroff" | "stopped" (stop_when) | "timeout" | "bugcheck" | "stuck" | "silent" | "qemu-error" | "killed"
    seconds: float
    log: str
    qemu_stderr: str
    accel: str
    pid: int = 0        # QEMU's, dead by the time the outcome is returned


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def qemu_binary() -> str:
    tool = shutil.which("qemu-system-i386")
    if not tool:
        raise RuntimeError("qemu-system-i386 is not installed (apt-get install qemu-system-x86)")
    return tool


def run(disks: list[tuple[Path, str]], workdir: Path, *, cdrom: Path | None = None, boot_cd_once: bool = False,
        memory_mb: int = 768, accel: str = "tcg", timeout: float = 900, silence: float = 120,
        snapshot: bool = False, progress=None, stop_when=None) -> Outcome:
    """disks: (path, format) on IDE 0, 1, ...; cdrom on the secondary master."""
    workdir.mkdir(parents=True, exist_ok=True)
    sock_path = workdir / "com1.sock"
    log_path = workdir / "com1.log"
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    cmd = [qemu_binary(), "-machine", "pc", "-accel", accel, "-m", str(memory_mb), "-smp", "1",
           "-display", "none", "-nic", "none", "-monitor", "none", "-name", "kmdlane",
           "-chardev", f"socket,id=com1,path={sock_path}", "-serial", "chardev:com1",
           "-rtc", "base=utc"]
    for i, (path, fmt) in enumerate(disks):
        cmd += ["-drive", f"file={path},if=ide,index={i},format={fmt},media=disk,cache=unsafe"]
    if cdrom is not None:
        cmd += ["-drive", f"file={cdrom},if=ide,index=2,media=cdrom,readonly=on"]
    cmd += ["-boot", "order=c,once=d" if boot_cd_once else "order=c"]
    if snapshot:
        cmd.append("-snapshot")
    stderr_path = workdir / "qemu.stderr"
    start = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
    (workdir / "qemu.pid").write_text(f"{proc.pid}\n")
    (workdir / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    responder = Responder()
    how = None
    conn = None
    last_byte = time.monotonic()
    unanswered = None   # (bytes, when sent, times re-sent): an answer nothing has come back after
    try:
        listener.settimeout(30)
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            how = "qemu-error"
        with open(log_path, "ab") as log:
            while how is None:
                if proc.poll() is not None:
                    how = "poweroff" if proc.returncode == 0 else "qemu-error"
                    break
                now = time.monotonic()
                if now - start > timeout:
                    how = "timeout"
                    break
                ready, _, _ = select.select([conn], [], [], 1.0)
                if ready:
                    try:
                        data = conn.recv(65536)
                    except (ConnectionResetError, BrokenPipeError):
                        data = b""   # QEMU closed COM1 as the guest powered off
                    if not data:
                        proc.wait(timeout=30)
                        how = "poweroff" if proc.returncode == 0 else "qemu-error"
                        break
                    last_byte = now
                    log.write(data)
                    log.flush()
                    reply = responder.feed(data.decode("latin-1"))
                    if reply:
                        try:
                            conn.sendall(reply)
                        except (ConnectionResetError, BrokenPipeError):
                            pass     # gone: the next recv says so
                        unanswered = (reply, now, 0)
                    else:
                        unanswered = None
                    if progress:
                        progress(data.decode("latin-1"))
                    if stop_when is not None and stop_when(responder.log):
                        how = "stopped"   # what the caller waited for has come
                    elif responder.fatal:
                        # let the last frames arrive, then end it
                        t_end = time.monotonic() + 5
                        while time.monotonic() < t_end:
                            r, _, _ = select.select([conn], [], [], 0.5)
                            if r:
                                more = conn.recv(65536)
                                if not more:
                                    break
                                log.write(more)
                                responder.feed(more.decode("latin-1"))
                        how = "bugcheck"
                    elif responder.stuck:
                        how = "stuck"
                elif unanswered and now - unanswered[1] > RESEND_AFTER and unanswered[2] < RESENDS:
                    # Not even an echo: the kernel flushed its input after printing the prompt, before
                    # our answer came back (seen under TCG). Type it again.
                    try:
                        conn.sendall(unanswered[0])
                    except (ConnectionResetError, BrokenPipeError):
                        pass
                    unanswered = (unanswered[0], now, unanswered[2] + 1)
                elif responder.answers and now - last_byte > silence and "kdb:> " in responder.log[-200:]:
                    how = "silent"
    finally:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)  # by its PID, never by name
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        if conn is not None:
            conn.close()
        listener.close()
        sock_path.unlink(missing_ok=True)
        (workdir / "qemu.pid").unlink(missing_ok=True)
    qemu_err = stderr_path.read_text(errors="replace")
    if how == "poweroff" and "terminating on signal" in qemu_err:
        how = "killed"  # QEMU exits 0 on SIGTERM: someone else ended it, the guest did not power off
    return Outcome(how, time.monotonic() - start, log_path.read_text("latin-1") if log_path.exists() else "",
                   qemu_err, accel, proc.pid)
