#!/usr/bin/python3
"""What Wine cannot run, said before it fails (issue 20 item 5): `kmdctl imports x.sys` lists each
import against the Wine in use - implemented, stub, missing - and `kmdctl start`/`run` of a driver
that imports a routine Wine lacks names it instead of a bare StartService error. The drivers are
built by one plain clang line here (tests/e2e/imports_probe.c), not by the kit."""
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from e2e_support import KMDCTL, Box

HERE = Path(__file__).resolve().parent


def build(out: Path, tmp: Path, *extra: str) -> Path:
    # ExAllocatePool2 is in no import library of mingw-w64, and kmd_no_such.sys exists nowhere:
    # import libraries made from .def files, as anyone would.
    for lib, text in (("extra", "LIBRARY ntoskrnl.exe\nEXPORTS\nExAllocatePool2\n"),
                      ("nosuch", "LIBRARY kmd_no_such.sys\nEXPORTS\nKmdNoSuchRoutine\n")):
        (tmp / f"{lib}.def").write_text(text)
        subprocess.run(["llvm-dlltool", "-m", "i386:x86-64", "-d", str(tmp / f"{lib}.def"), "-l", str(tmp / f"lib{lib}.a")], check=True)
    subprocess.run(["clang", "--target=x86_64-w64-mingw32", "-O2", "-Wno-multichar", "-isystem", "/usr/x86_64-w64-mingw32/include/ddk",
                    "-nostdlib", "-fuse-ld=lld", "-shared", "-Wl,--subsystem,native", "-Wl,--entry,DriverEntry", "-s", *extra,
                    "-o", str(out), str(HERE / "imports_probe.c"), f"-L{tmp}", "-lextra", "-lnosuch", "-lntoskrnl"],
                   check=True, capture_output=True, text=True)
    return out


class Imports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="kmd-imports-"))
        cls.loads = build(cls.tmp / "imports_ok.sys", cls.tmp)
        cls.missing = build(cls.tmp / "imports_missing.sys", cls.tmp, "-DWANT_MISSING")
        cls.no_module = build(cls.tmp / "imports_nomodule.sys", cls.tmp, "-DWANT_MISSING_MODULE")
        cls.box = Box("imports").create()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.box.close()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def kmdctl(self, *args, expect=0):
        result = self.box.run([KMDCTL, *args], timeout=120)
        self.assertEqual(expect, result.returncode, result.describe())
        return result

    def test_implemented_stub_and_missing_are_told_apart(self):
        out = self.kmdctl("imports", self.missing, expect=1).stdout
        self.assertRegex(out, r"checked against Wine 8\.")
        self.assertRegex(out, r"\n  implemented +ntoskrnl\.exe!IoCreateDevice\n")
        self.assertRegex(out, r"\n  stub +ntoskrnl\.exe!ExRaiseStatus\n")  # Wine's spec: a stub (docs/verifier.md)
        self.assertRegex(out, r"\n  missing +ntoskrnl\.exe!ExAllocatePool2 \(no such export\)\n")
        self.assertIn("4 implemented, 1 stub, 1 missing", out)

    def test_a_driver_without_missing_imports_passes(self):
        out = self.kmdctl("imports", self.loads).stdout
        self.assertIn("3 implemented, 1 stub, 0 missing: it loads; a call to a stub raises EXCEPTION_WINE_STUB", out)

    def test_a_missing_module(self):
        out = self.kmdctl("imports", self.no_module, expect=1).stdout
        self.assertRegex(out, r"\n  missing +kmd_no_such\.sys!KmdNoSuchRoutine \(module not found\)\n")

    def test_start_names_the_missing_module_instead_of_a_bare_error(self):
        # Before: "kmdctl start: StartService: error ..." and nothing about why.
        self.kmdctl("install", self.no_module, "--name", "imports_nomodule")
        try:
            start = self.kmdctl("start", "imports_nomodule", expect=1)
            self.assertIn("kmdctl: imports_nomodule cannot load: it imports 1 routine(s) Wine 8.", start.stderr)
            self.assertIn("  kmd_no_such.sys!KmdNoSuchRoutine (module not found)", start.stderr)
        finally:
            self.kmdctl("remove", "imports_nomodule")

    def test_run_names_the_missing_module(self):
        run = self.kmdctl("run", self.no_module, "--name", "imports_run", "--no-ioctl", expect=1)
        self.assertIn("  kmd_no_such.sys!KmdNoSuchRoutine (module not found)", run.stderr)

    def test_a_start_that_loads_with_a_missing_export_is_warned_about(self):
        # Wine's loader does not fail the load for an export its builtin lacks: it binds the import
        # to a thunk that raises when called. The start says so, before the call crashes the host.
        self.kmdctl("install", self.missing, "--name", "imports_missing")
        try:
            start = self.kmdctl("start", "imports_missing")
            self.assertIn("imports_missing: RUNNING", start.stdout)
            self.assertIn("kmdctl: imports_missing loaded, but it imports 1 routine(s) Wine 8.", start.stderr)
            self.assertIn("  ntoskrnl.exe!ExAllocatePool2 (no such export)", start.stderr)
        finally:
            self.kmdctl("stop", "imports_missing")
            self.kmdctl("remove", "imports_missing")

    def test_the_driver_that_has_everything_starts_quietly(self):
        self.kmdctl("install", self.loads, "--name", "imports_ok")
        try:
            start = self.kmdctl("start", "imports_ok")
            self.assertIn("RUNNING", start.stdout)
            self.assertEqual("", start.stderr)
        finally:
            self.kmdctl("stop", "imports_ok")
            self.kmdctl("remove", "imports_ok")

if __name__ == "__main__":
    unittest.main()
