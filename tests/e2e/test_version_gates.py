"""The oldest kernel each image accepts, checked at run time: an x64 image refuses a kernel older
than Windows 8 in DriverEntry with the reason in the kernel log; an x86 image loads on Windows 7
and XP and maps its buffers without the Windows 8 flags (kmd/kernel_features.hpp). Wine reports
the Windows version its prefix is set to (HKCU\\Software\\Wine, Version)."""
import re
import unittest

from e2e_support import ARCH, DRIVER, KMDCTL, Box, dbgprint_lines

REFUSED = re.compile(r"skeleton: DriverEntry: refused: this x64 image needs Windows 8 \(NT 6\.2\) or later; "
                     r"the kernel is NT (\d+)\.(\d+)")
GREETING = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO."


class VersionGates(unittest.TestCase):
    def setUp(self):
        self.box = Box(f"gates-{self._testMethodName}"[:40]).create()
        self.addCleanup(self.box.close)

    def pretend(self, version: str, shown: str) -> None:
        result = self.box.run(["reg.exe", "add", r"HKCU\Software\Wine", "/v", "Version", "/d", version, "/f"])
        self.assertEqual(0, result.returncode, result.describe())
        self.assertIn(shown, self.box.run(["cmd.exe", "/c", "ver"]).stdout)

    def log(self) -> list[str]:
        return dbgprint_lines(self.box.kernel_log_text())

    def test_windows_7(self):
        self.pretend("win7", "6.1.")
        result = self.box.run([KMDCTL, "run", DRIVER])
        if ARCH == "x64":
            self.assertEqual(1, result.returncode, result.describe())
            self.assertIn("StartService", result.stdout + result.stderr)
            refused = [m for m in map(REFUSED.fullmatch, self.log()) if m]
            self.assertEqual(1, len(refused), self.log())
            self.assertEqual(("6", "1"), refused[0].groups())
            self.assertFalse(any("created \\DosDevices\\skeleton" in l for l in self.log()), "refused before it made anything")
        else:
            self.assertEqual(0, result.returncode, result.describe())
            self.assertIn(GREETING, result.stdout)
            self.assertIn("skeleton: DriverEntry: pool from ExAllocatePoolWithTag(NonPagedPool), "
                          "MDL mappings executable (kernel older than Windows 8)", self.log())

    def test_windows_xp(self):
        self.pretend("winxp", "5.1.")
        result = self.box.run([KMDCTL, "run", DRIVER])
        if ARCH == "x64":
            self.assertEqual(1, result.returncode, result.describe())
            self.assertTrue(any(REFUSED.fullmatch(l) for l in self.log()), self.log())
        else:
            self.assertEqual(0, result.returncode, result.describe())
            self.assertIn(GREETING, result.stdout)

    def test_windows_8_and_10_load(self):
        for version, shown in (("win8", "6.2."), ("win10", "10.0.")):
            with self.subTest(version=version):
                self.pretend(version, shown)
                result = self.box.run([KMDCTL, "run", DRIVER])
                self.assertEqual(0, result.returncode, result.describe())
                self.assertIn(GREETING, result.stdout)
                self.assertFalse(any(REFUSED.fullmatch(l) for l in self.log()), self.log())


if __name__ == "__main__":
    unittest.main()
