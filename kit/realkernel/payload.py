#!/usr/bin/python3
"""payload - the disk that carries the programs into the VM and their results out.

One FAT16 disk image (an MBR, one partition at 1 MiB, made with mtools, no root needed):

    KMDLANE.TAG           C:\\kmdlane.cmd (put there by image.prepare_installed) runs RUN.CMD
    RUN.CMD               one step after another, then powers the VM off
    BIN\\...               kmdctl.exe, the drivers, the test programs
    OUT\\NN.TXT, NN.RC     each step's stdout+stderr and exit code, written by the guest
    OUT\\DONE.TXT          written after the last step, just before the power-off

Why a disk and not COM2: the kernel debugger owns COM1; a second port needs ReactOS's serial.sys
and a cmd.exe redirected to \\\\.\\COM2 in user mode, and anything it loses is lost, while a FAT
file is read back byte for byte after the VM is gone (mtools, no mount). What arrives live is
COM1: the kernel's and the drivers' own lines, assertions and bug checks; a step that never ends
is bounded by the lane's time limit, and the report names it (its .TXT is there, its .RC is not).
"""
from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PART_OFFSET = 1 << 20
TAG = "KMDLANE.TAG"


@dataclass
class Step:
    name: str                     # short label for the report ("seed", "device_tests")
    command: str                  # a cmd.exe line; %P% is the payload drive ("E:")
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    index: int
    name: str
    command: str
    output: str | None
    exit_code: int | None         # None: never finished (hung, or the kernel stopped)


def _mt(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=300,
                       env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"})
    if check and r.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)}: {r.stderr.strip()}")
    return r


def run_cmd(steps: list[Step]) -> str:
    """RUN.CMD for these steps (CRLF; called with the payload drive as %1).

    Each step's start and exit code also go to the kernel debugger as they happen (`dbgprint`,
    a ReactOS command-line tool that calls OutputDebugString): "KMDLANE-STEP 01 seed begin" /
    "KMDLANE-STEP 01 seed exit=0", so they reach COM1 even when the kernel stops before the file
    cache reaches the disk. At the end `fsutil volume dismount` writes the payload volume out (a
    FAT volume's last files otherwise sat in the cache when the power-off came), then power-off.
    On a Windows without dbgprint the markers are simply absent."""
    lines = ["@echo off", "set P=%1", "cd /d %P%\\", "mkdir %P%\\OUT", "echo started> %P%\\OUT\\STARTED.TXT",
             "dbgprint KMDLANE-BEGIN %P%"]
    for n, step in enumerate(steps, 1):
        for k, v in step.env.items():
            lines.append(f"set {k}={v}")
        cmd = step.command
        lines.append(f"echo {n:02d} {step.name}> %P%\\OUT\\CURRENT.TXT")
        lines.append(f"dbgprint KMDLANE-STEP {n:02d} {step.name} begin")
        lines.append(f"{cmd} > %P%\\OUT\\{n:02d}.TXT 2>&1")
        lines.append("set KMDLANE_RC=%ERRORLEVEL%")
        lines.append(f"echo %KMDLANE_RC%> %P%\\OUT\\{n:02d}.RC")
        lines.append(f"dbgprint KMDLANE-STEP {n:02d} {step.name} exit=%KMDLANE_RC%")
        for k in step.env:
            lines.append(f"set {k}=")
    lines += ["echo done> %P%\\OUT\\DONE.TXT",
              "cd /d C:\\",
              # one line: cmd reads a batch file line by line, and this one is on the volume dismounted here
              "fsutil volume dismount %P% & dbgprint KMDLANE-DONE & shutdown -s -t 0", ""]
    return "\r\n".join(lines)


STEP_RE = re.compile(r"KMDLANE-STEP (\d+) (\S+) exit=(-?\d+)")


def live_exit_codes(log: str) -> dict[int, int]:
    """Exit codes the guest announced on COM1 (run_cmd's markers), by step number."""
    return {int(m.group(1)): int(m.group(3)) for m in STEP_RE.finditer(log)}


def make(image: Path, files: dict[str, Path], steps: list[Step], size_mb: int = 96) -> None:
    """A fresh payload disk: files (name in BIN -> host path), RUN.CMD for steps."""
    image.unlink(missing_ok=True)
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
        sectors = (size_mb << 20) // 512 - PART_OFFSET // 512
        mbr = bytearray(512)
        # one active FAT16 (LBA) partition from 1 MiB to the end
        mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0E, b"\xfe\xff\xff", PART_OFFSET // 512, sectors)
        mbr[440:444] = b"KMDL"  # disk signature
        mbr[510:512] = b"\x55\xaa"
        f.write(mbr)
    dev = f"{image}@@{PART_OFFSET}"
    _mt("mformat", "-i", dev, "-T", str(sectors), "-h", "64", "-s", "32", "-H", str(PART_OFFSET // 512), "-v", "KMDLANE", "::")
    _mt("mmd", "-i", dev, "::/BIN")
    _mt("mmd", "-i", dev, "::/OUT")
    tag = image.with_suffix(".tag")
    tag.write_text("Skeleton KMD real-kernel lane payload\r\n")
    _mt("mcopy", "-i", dev, str(tag), f"::/{TAG}")
    tag.unlink()
    script = image.with_suffix(".cmd")
    script.write_bytes(run_cmd(steps).encode("ascii"))
    _mt("mcopy", "-i", dev, str(script), "::/RUN.CMD")
    script.unlink()
    for name, path in files.items():
        _mt("mcopy", "-i", dev, str(path), f"::/BIN/{name}")


def read_results(image: Path, steps: list[Step], log: str = "") -> tuple[list[StepResult], dict[str, str]]:
    """Each step's output and exit code from the disk after the run (an exit code missing there is
    taken from the COM1 markers), and the marker files."""
    dev = f"{image}@@{PART_OFFSET}"

    def read(name: str) -> str | None:
        r = _mt("mtype", "-i", dev, f"::/OUT/{name}", check=False)
        return r.stdout.replace("\r\n", "\n") if r.returncode == 0 else None

    results = []
    for n, step in enumerate(steps, 1):
        rc_text = read(f"{n:02d}.RC")
        rc = None
        if rc_text is not None and re.match(r"\s*-?\d+", rc_text):
            rc = int(rc_text.split()[0])
        if rc is None:
            rc = live_exit_codes(log).get(n)
        results.append(StepResult(n, step.name, step.command, read(f"{n:02d}.TXT"), rc))
    markers = {name: (read(name) or "").strip() for name in ("STARTED.TXT", "CURRENT.TXT", "DONE.TXT")}
    if not markers["DONE.TXT"] and "KMDLANE-DONE" in log:
        markers["DONE.TXT"] = "done (COM1)"
    return results, markers
