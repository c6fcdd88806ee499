"""Source-level debugging of a driver under Wine, as docs/debugging.md shows it: the mingw gdb on
the driver's winedevice.exe through `winedbg --gdb` (kit/harness/kmd_debug.py), driven in batch
mode so the workflow cannot rot: a breakpoint in the IOCTL handler, and a stop at DriverEntry."""
import subprocess
import sys
import unittest
import uuid
from pathlib import Path

from e2e_support import BIN_DIR, ROOT

WINEBOX = ROOT / "kit" / "harness" / "winebox.py"
KMD_DEBUG = ROOT / "kit" / "harness" / "kmd_debug.py"
GDB_DIR = Path(__file__).resolve().parent / "gdb"
DEBUG_DRIVER = BIN_DIR / "skeleton_g.sys"  # skeleton.sys with DWARF and unwind tables


def sh(*argv, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, timeout=timeout)


class GdbOnADriver(unittest.TestCase):
    def session(self, *extra):
        box = f"gdb-{uuid.uuid4().hex[:8]}"
        started = sh(WINEBOX, "session", "start", "--box", box, *extra)
        self.assertEqual(0, started.returncode, started.stdout + started.stderr)
        self.addCleanup(sh, WINEBOX, "session", "stop", "--box", box)
        return box

    def test_breakpoint_in_the_ioctl_handler_shows_function_file_and_line(self):
        box = self.session()
        run = sh(KMD_DEBUG, "attach", "--box", box, "--name", "skeleton", "--timeout", "120",
                 "--batch", GDB_DIR / "break_in_handler.gdb", "--then", "ioctl 0x0022e008 --in 01020304 --out-size 4",
                 DEBUG_DRIVER)
        out = run.stdout + run.stderr
        self.assertEqual(0, run.returncode, out)
        self.assertRegex(out, r"hit Breakpoint 1, skeleton::core::\(anonymous namespace\)::reverse_buffered \(in=\.\.\., out=\.\.\.\) "
                              r"at \S*/core/requests\.cpp:\d+")
        self.assertRegex(out, r"#0  skeleton::core::\(anonymous namespace\)::reverse_buffered .* at \S*requests\.cpp:\d+")
        self.assertRegex(out, r"#\d  0x[0-9a-f]+ in SkeletonDispatch \(.*\) at \S*/nt/skeleton\.cpp:\d+")
        self.assertRegex(out, r"#\d  0x[0-9a-f]+ in IoCallDriver ")  # unwound through Wine's I/O manager
        self.assertIn("$1 = 4", out)  # print in.size: the 4 bytes the test sent
        # After `detach` the request finishes normally.
        self.assertIn("00000000  04 03 02 01", out)

    def test_stop_at_driver_entry(self):
        box = self.session("--debug")
        run = sh(KMD_DEBUG, "entry", "--box", box, "--name", "skeleton", "--timeout", "120",
                 "--batch", GDB_DIR / "driver_entry.gdb", DEBUG_DRIVER)
        out = run.stdout + run.stderr
        self.assertEqual(0, run.returncode, out)
        self.assertRegex(out, r"hit Breakpoint 1\.\d, DriverEntry \(driver=0x[0-9a-f]+, registry_path=0x[0-9a-f]+\) "
                              r"at \S*/nt/skeleton\.cpp:\d+")
        # The image's entry point is the kit's KmdDriverEntry (it seeds the stack cookie, then calls
        # DriverEntry); under Wine the kit's host shim (kit/winehost/kmdhost.cpp) called it, and
        # Wine's init_driver called the shim's entry stub.
        self.assertRegex(out, r"#1  0x[0-9a-f]+ in KmdDriverEntry \(.*\) at \S*/kmd/stack_cookie\.cpp:\d+")
        self.assertRegex(out, r"#2  0x[0-9a-f]+ in \(anonymous namespace\)::host_entry \(.*\) at \S*/winehost/kmdhost\.cpp:\d+")
        self.assertRegex(out, r"#3  0x[0-9a-f]+ in init_driver ")
        self.assertIn("kmdctl start skeleton -> exit 0 skeleton: RUNNING", out)


if __name__ == "__main__":
    unittest.main()
