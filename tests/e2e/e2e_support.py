"""Shared by the end-to-end scenarios: where the binaries are, and the Wine harness."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "kit" / "harness"))

from kmd_e2e import bin_dir  # noqa: E402
from winebox import Box, Run, dbgprint_lines, windows_path  # noqa: E402,F401
from box_pool import BoxPool  # noqa: E402,F401

BIN_DIR = bin_dir()
KMDCTL = BIN_DIR / "kmdctl.exe"
DRIVER = BIN_DIR / "skeleton.sys"
# kmdctl knows no driver: these tests drive the sample, so they name its contract, as a user does
# (the service, \\.\skeleton and SAY_HELLO as kmdctl's defaults come from this header).
SKELETON_CONTRACT = BIN_DIR / "skeleton_ioctl.h"
os.environ["KMD_CONTRACT"] = windows_path(SKELETON_CONTRACT)
# --- x86 (i686): the architecture under test (x64 or x86; SKELETON_BIN_DIR holds its images), and
# the other architecture's driver, which this one's kmdctl must refuse.
ARCH = os.environ.get("KMD_ARCH", "x64")
OTHER_ARCH_DRIVER = Path(os.environ.get("SKELETON_OTHER_ARCH_DRIVER", ROOT / "build" / "bin" / "x86" / "skeleton.sys"))
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\skeleton"


def driver_host_pids(box: Box, image: Path) -> list[int]:
    """Unix PIDs of the winedevice.exe hosting `image` in `box`: a process of this box (its
    WINEPREFIX) with the image mapped (/proc/PID/maps), never found by name."""
    prefix = f"WINEPREFIX={box.prefix}".encode()
    mapped = str(Path(image).resolve())
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if prefix in (proc / "environ").read_bytes().split(b"\0") and mapped in (proc / "maps").read_text(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids
