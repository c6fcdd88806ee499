"""@NAME@.sys end to end under Wine, through kmdctl: the seed's seven steps with one of its own
IOCTLs, then each verb on its own, and nothing left behind (Wine's reg.exe as the witness)."""
import unittest
from pathlib import Path

from kmd_e2e import Box, driver_path, kmdctl, service_key, windows_path

NAME = "@NAME@"
DEVICE = r"\\.\@NAME@"
# kmdctl reads IOCTL names from the contract header (a Windows path inside the box).
HEADER = windows_path(Path(__file__).resolve().parents[2] / "include" / NAME / "ioctl.h")


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.box = Box(f"{NAME}-{self._testMethodName}").create()
        self.addCleanup(self.box.close)

    def kmdctl(self, *args, expect=0):
        result = self.box.run([kmdctl(), *args])
        self.assertEqual(expect, result.returncode, result.describe())
        return result

    def test_run_sends_an_ioctl_of_its_own(self):
        result = self.kmdctl("run", driver_path(NAME), "--name", NAME, "--device", DEVICE, "--ioctl", "IOCTL_@UPPER@_ADD",
                             "--header", HEADER, "--in-u32", "2,40", "--out-size", "4")
        self.assertIn("2a 00 00 00", result.stdout)  # 2 + 40 = 42
        self.assertEqual(1, self.box.run(["reg.exe", "query", service_key(NAME)]).returncode, "nothing left behind")

    def test_install_start_ioctl_remove(self):
        self.kmdctl("install", driver_path(NAME), "--name", NAME)
        self.kmdctl("start", NAME)
        version = self.kmdctl("ioctl", "IOCTL_@UPPER@_VERSION", "--header", HEADER, "--device", DEVICE, "--out-size", "4")
        self.assertIn("00 00 01 00", version.stdout)  # @UPPER@_VERSION_NUMBER, little-endian
        self.kmdctl("remove", NAME)
        self.assertEqual(1, self.box.run(["reg.exe", "query", service_key(NAME)]).returncode)


if __name__ == "__main__":
    unittest.main()
