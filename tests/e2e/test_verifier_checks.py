#!/usr/bin/python3
"""Driver Verifier's strongest checks in kmdverify.sys, each proven by a purpose-built bad build of
tests/drivers/verifier/wdm_sample.c that fails with its violation named, and by the correct build,
which passes. All in one box: one verifier, one driver host (test_verifier.py proves the rest).

Special pool (kit/verifier/special_pool.cpp): every block of a verified driver against a guard page
(after it by default, before it in underrun mode), freed blocks kept inaccessible: an overrun, an
underrun or a use after free faults at the instruction that does it."""
import sys
import unittest

from e2e_support import BIN_DIR, ROOT, Box

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
from verify import Session  # noqa: E402

BUFFERED = ["ioctl", "0x222400", "--out-size", "16"]  # clears the 64-byte scratch block, then answers
NEITHER = ["ioctl", "0x222407", "--out-size", "16"]


def report_problems(text):
    return [line for line in text.splitlines() if "PROBLEM" in line]


class SpecialPool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = Box("verifier-checks").create()
        cls.session = Session(cls.box, "kmdverify", BIN_DIR)
        cls.session.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.session.stop()
        finally:
            cls.box.close()

    def verify(self, name, mode="overrun", ioctls=(BUFFERED, NEITHER)):
        self.session.batch([self.session.set_special_pool(mode)])
        try:
            report = self.session.verify_driver(BIN_DIR / f"{name}.sys", name, None, list(ioctls), sweep=False)
        finally:
            self.session.batch([self.session.set_special_pool("overrun")])
        print(report.text())
        return report

    def caught(self, report, kind):
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == kind]
        self.assertTrue(found, report.text())
        # The faulting instruction and the allocation site, both inside the driver.
        self.assertRegex(found[0].fields.get("at", ""), rf"^{report.driver}\+0x[0-9a-f]+$", found[0].text)
        self.assertIn(f"allocated={report.driver}+0x", found[0].text)
        return found[0], report.text()

    def test_an_overrun_faults_at_the_instruction_that_did_it(self):
        # for (i = 0; i <= 64; ++i) scratch[i] = 0; Before (special pool off): PASS.
        violation, text = self.caught(self.verify("vf_pool_overrun"), "SPECIAL_POOL_OVERRUN")
        self.assertEqual("write(address", violation.fields.get("call", "").split("=")[0], violation.text)
        self.assertIn("write 1 byte(s) past the end of block", violation.text)
        self.assertIn("64 bytes, tag='Samp'", violation.text)
        # Symbolized from the PDB: the store in the dispatch routine, the allocation in DriverEntry.
        self.assertRegex(text, r"at=vf_pool_overrun\.sys\+0x[0-9a-f]+ \[SampleDeviceControl wdm_sample\.c:\d+\]")
        self.assertRegex(text, r"allocated=vf_pool_overrun\.sys\+0x[0-9a-f]+ \[DriverEntry wdm_sample\.c:\d+\]")
        # Reported, then recovered: both requests were delivered and the driver unloaded.
        self.assertIn("loads verified:         1 (1 unloads", text)
        self.assertEqual([], [p for p in report_problems(text)], text)

    def test_the_same_overrun_passes_without_special_pool(self):
        # What the check adds: with Wine's pool the byte lands in the heap silently.
        report = self.verify("vf_pool_overrun", mode="off")
        self.assertEqual("PASS", report.result, report.text())
        self.assertNotIn("special pool:", report.text())

    def test_an_underrun_faults_in_underrun_mode(self):
        violation, text = self.caught(self.verify("vf_pool_underrun", mode="underrun"), "SPECIAL_POOL_UNDERRUN")
        self.assertIn("write 1 byte(s) before block", violation.text)
        self.assertIn("special pool:           underrun", text)

    def test_an_underrun_is_seen_at_free_in_overrun_mode(self):
        # The byte before the block lies on its own page, filled with a pattern checked at free.
        violation, text = self.caught(self.verify("vf_pool_underrun"), "SPECIAL_POOL_UNDERRUN")
        self.assertIn("seen at free: byte 1 before the 64-byte block was written", violation.text)
        self.assertRegex(text, r"at=vf_pool_underrun\.sys\+0x[0-9a-f]+ \[SampleUnload wdm_sample\.c:\d+\]")

    def test_a_use_after_free_faults_at_the_instruction_that_did_it(self):
        violation, text = self.caught(self.verify("vf_use_after_free"), "USE_AFTER_FREE")
        self.assertIn("into a freed block", violation.text)
        # The store is RtlSecureZeroMemory's, inlined into SampleUnload (the symbolizer names the inner frame).
        self.assertRegex(text, r"at=vf_use_after_free\.sys\+0x[0-9a-f]+ \[(SampleUnload wdm_sample\.c|RtlSecureZeroMemory wdm\.h):\d+\]")
        self.assertRegex(text, r"freed=vf_use_after_free\.sys\+0x[0-9a-f]+ \[SampleUnload wdm_sample\.c:\d+\]")

    def test_the_correct_twin_passes_in_underrun_mode(self):
        # (In overrun mode, the default, every wdm_sample run of test_verifier.py is its proof.)
        report = self.verify("wdm_sample", mode="underrun")
        self.assertEqual("PASS", report.result, report.text())
        self.assertIn("special pool:           underrun (1 block(s) against a guard page)", report.text())


if __name__ == "__main__":
    unittest.main()
