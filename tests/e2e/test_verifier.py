#!/usr/bin/python3
"""kmdverify.sys catches each defect it claims to, by name, on purpose-built bad drivers (one
plain-C WDM-style source, tests/drivers/verifier/wdm_sample.c), and passes the correct build of
that same driver through the whole fault-injection sweep. All in one box: one verifier, one host."""
import sys
import unittest

from e2e_support import BIN_DIR, ROOT, Box

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
from verify import Session  # noqa: E402

BUFFERED = ["ioctl", "0x222400", "--out-size", "16"]
NEITHER = ["ioctl", "0x222407", "--out-size", "16"]


class VerifierCatchesDefects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = Box("verifier-defects").create()
        cls.session = Session(cls.box, "kmdverify", BIN_DIR)
        cls.session.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.session.stop()
        finally:
            cls.box.close()

    def verify(self, name, sweep=False):
        report = self.session.verify_driver(BIN_DIR / f"{name}.sys", name, None, [BUFFERED, NEITHER], sweep=sweep)
        print(report.text())
        return report

    def assert_caught(self, report, kind, call=None):
        self.assertFalse(report.ok, report.text())
        kinds = {f.kind for f in report.violations}
        self.assertIn(kind, kinds, report.text())
        if call is not None:
            self.assertTrue(any(f.kind == kind and f.fields.get("call", "").startswith(call) for f in report.violations),
                            report.text())
        # Every violation names where it happened, as module+offset inside the driver.
        for f in report.violations:
            self.assertRegex(f.fields.get("at", ""), rf"^{report.driver}\+", f.text)

    def test_correct_driver_passes_the_full_sweep(self):
        report = self.verify("wdm_sample", sweep=True)
        self.assertTrue(report.ok, report.text())
        self.assertEqual(3, report.fault_points, report.text())  # IoCreateDevice, the pool, IoCreateSymbolicLink
        self.assertEqual(3, report.sweep_runs, report.text())
        self.assertGreater(report.total("calls"), 0)

    def test_skipped_probe(self):
        self.assert_caught(self.verify("vf_skip_probe"), "UNPROBED_USER_BUFFER", "IoCompleteRequest")

    def test_pool_leak_at_unload(self):
        report = self.verify("vf_pool_leak")
        self.assert_caught(report, "POOL_LEAK")
        leak = next(f for f in report.violations if f.kind == "POOL_LEAK")
        self.assertIn("tag='Leak'", leak.text)
        self.assertIn("size=100", leak.text)
        # The report names the allocating function and its source line (from the PDB beside the image).
        self.assertRegex(report.text(), r"at=vf_pool_leak\.sys\+0x[0-9a-f]+ \[\w+ wdm_sample\.c:\d+\]")

    def test_double_completion(self):
        self.assert_caught(self.verify("vf_double_complete"), "IRP_DOUBLE_COMPLETE", "IoCompleteRequest")

    def test_information_too_large(self):
        report = self.verify("vf_info_too_large")
        self.assert_caught(report, "IRP_INFORMATION_TOO_LARGE", "IoCompleteRequest")
        self.assertIn("Information=80 > OutputBufferLength=16", report.text())

    def test_driver_entry_leaking_on_a_failure_path(self):
        report = self.verify("vf_entry_leak", sweep=True)
        self.assert_caught(report, "DEVICE_LEAK", "IoCreateDevice")
        self.assert_caught(report, "POOL_LEAK")
        # Only the IoCreateSymbolicLink failure path leaks, and the verifier says after which fault.
        self.assertTrue(all("after DriverEntry failed" in f.text for f in report.violations), report.text())
        self.assertEqual([], report.problems, report.text())  # the verifier cleaned up: the next start worked

    def test_executable_pool(self):
        report = self.verify("vf_exec_pool")
        self.assert_caught(report, "POOL_EXECUTABLE", "ExAllocatePoolWithTag")
        self.assertIn("type=0", report.text())

    def test_double_free(self):
        self.assert_caught(self.verify("vf_double_free"), "POOL_DOUBLE_FREE", "ExFreePoolWithTag")

    def test_pool_tag_zero(self):
        self.assert_caught(self.verify("vf_tag_zero"), "POOL_TAG_ZERO", "ExAllocatePoolWithTag")

    def test_handle_left_open_at_unload(self):
        self.assert_caught(self.verify("vf_handle_leak"), "HANDLE_LEAK", "ZwOpenKey")

    def test_pending_without_mark(self):
        self.assert_caught(self.verify("vf_pending_no_mark"), "PENDING_WITHOUT_MARK", "DispatchRoutine")


if __name__ == "__main__":
    unittest.main()
