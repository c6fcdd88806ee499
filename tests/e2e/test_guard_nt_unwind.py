"""The x86 METHOD_NEITHER guard under RtlUnwind as a real NT kernel runs it (x86 only).

guard_nt_unwind.sys (tests/drivers/guard_nt_unwind.cpp) links the kit's guard unchanged but routes
its RtlUnwind through a wrapper that zeroes EAX..EDI on the way back, as ReactOS and x86 Windows
do; Wine's RtlUnwind keeps them, which hid a guard that double-faulted ReactOS (bug check 0x7F).
Every round must come back as its exception code, twice, from the same driver host."""
import re
import unittest

from e2e_support import ARCH, BIN_DIR, KMDCTL, Box

ROUNDS_IOCTL = "0x222440"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x910, METHOD_BUFFERED, FILE_ANY_ACCESS)
# Read-only store, unmapped store, the same in a nested guard: the code each round must return.
EXPECTED = [0xC0000005, 0xC0000005, 0xC0000005]


def statuses(ioctl_stdout: str) -> list[int]:
    data = bytes.fromhex("".join(re.findall(r"^[0-9a-f]{8}  ((?:[0-9a-f]{2} ?)+)", ioctl_stdout, re.M)).replace(" ", ""))
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


@unittest.skipUnless(ARCH == "x86", "the x86 guard (kit/driver/kmd/guarded_x86.cpp) exists on x86 only")
class GuardUnderNtUnwind(unittest.TestCase):
    def setUp(self):
        self.box = Box("guard-nt-unwind").create()
        self.addCleanup(self.box.close)

    def kmdctl(self, *args):
        result = self.box.run([KMDCTL, *args])
        self.assertEqual(0, result.returncode, result.describe())
        return result

    def test_every_fault_comes_back_as_its_code_and_the_driver_keeps_serving(self):
        self.kmdctl("install", BIN_DIR / "guard_nt_unwind.sys", "--name", "guard_nt_unwind")
        self.kmdctl("start", "--name", "guard_nt_unwind")
        for attempt in range(2):
            out = self.kmdctl("ioctl", ROUNDS_IOCTL, "--device", r"\\.\guard_nt_unwind", "--out-size", "12").stdout
            self.assertEqual(EXPECTED, statuses(out), f"round {attempt + 1}:\n{out}")
        self.assertIn("RUNNING", self.kmdctl("status", "--name", "guard_nt_unwind").stdout)
        self.kmdctl("stop", "--name", "guard_nt_unwind")
        self.kmdctl("remove", "--name", "guard_nt_unwind")


if __name__ == "__main__":
    unittest.main()
