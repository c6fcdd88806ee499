"""kmd_e2e - what a driver's end-to-end tests (Python unittest, run by CTest through
kmd_add_driver_tests(... E2E ...)) need: where the build put the binaries, the Wine harness, and
kmdctl in a box.

    from kmd_e2e import Box, driver_path, kmdctl
    with Box("mine") as box:
        result = box.run([kmdctl(), "run", driver_path("mydrv"), "--name", "mydrv", "--no-ioctl"])
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from winebox import Box, Run, dbgprint_lines, windows_path  # noqa: E402,F401

KIT_DIR = Path(__file__).resolve().parents[1]


def bin_dir() -> Path:
    """The Windows binaries of the build under test (set by CTest; build/bin otherwise)."""
    return Path(os.environ.get("KMD_BIN_DIR") or os.environ.get("SKELETON_BIN_DIR") or KIT_DIR.parent / "build" / "bin")


def kmdctl() -> Path:
    return bin_dir() / "kmdctl.exe"


def driver_path(name: str) -> Path:
    return bin_dir() / f"{name}.sys"


def service_key(name: str) -> str:
    return rf"HKLM\System\CurrentControlSet\Services\{name}"
