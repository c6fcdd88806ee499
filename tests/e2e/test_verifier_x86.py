#!/usr/bin/python3
"""kmdverify.sys on x86 (bin/x86, a 32-bit Wine in the i386 root): the x86 build of the verifier
catches, by name, one purpose-built bad driver (tests/drivers/verifier/wdm_sample.c, its x86
build) per wrapper family whose calling convention or word size differs from x64 - stdcall pool
and object routines, fastcall IofCompleteRequest, hal's fastcall KfAcquireSpinLock/KfReleaseSpinLock
and KfRaiseIrql/KfLowerIrql, 4-byte import thunks, the x86 entry stub, special pool's fault
handler - and passes their correct twins. IRQL_NOT_RESTORED is x86-only: on x64 KeRaiseIrql and
KeLowerIrql are inline CR8 writes, not imports, so the verifier cannot see them (docs/verifier.md).
One box, one verifier, one driver host for everything here."""
import os
import sys
import unittest

from e2e_support import ARCH, BIN_DIR, ROOT, Box

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
from verify import Session  # noqa: E402

BUFFERED = ["ioctl", "0x222400", "--out-size", "16"]
NEITHER = ["ioctl", "0x222407", "--out-size", "16"]
TICK = ["ioctl", "0x222480"]  # vf_routines.c: a one-shot timer's DPC runs, the request waits for it
PARK = "0x222484,out=16"      # vf_routines.c: parked, then cancelled by `kmdctl sweep --call` after 100 ms

_box = None
_session = None


def setUpModule():
    if ARCH != "x86":
        raise unittest.SkipTest(f"the x86 verifier's scenarios (KMD_ARCH={ARCH}; run as e2e.x86.verifier)")
    global _box, _session
    _box = Box("verifier-x86").create()
    _session = Session(_box, "kmdverify", BIN_DIR)
    _session.start()


def tearDownModule():
    if _session is None:
        return
    try:
        _session.stop()
    finally:
        _box.close()


class VerifierOnX86(unittest.TestCase):
    def verify(self, name, ioctls=(BUFFERED, NEITHER), sweep=False, calls=()):
        report = _session.verify_driver(BIN_DIR / f"{name}.sys", name, None, list(ioctls), sweep=sweep, calls=list(calls))
        print(report.text())
        return report

    def caught(self, name, kind, call=None, **options):
        report = self.verify(name, **options)
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == kind]
        self.assertTrue(found, report.text())
        if call is not None:
            self.assertTrue(any(f.fields.get("call", "").startswith(call) for f in found), report.text())
        # Sites are module+offset inside the 32-bit image.
        for f in report.violations:
            self.assertRegex(f.fields.get("at", ""), rf"^{report.driver}\+0x[0-9a-f]+$", f.text)
        return found[0], report

    def test_the_correct_driver_passes_with_its_imports_wrapped_and_the_sweep(self):
        report = self.verify("wdm_sample", sweep=True)
        self.assertEqual("PASS", report.result, report.text())
        verifying = report.of("VERIFYING")
        self.assertTrue(verifying, report.text())
        # 32-bit image: its base printed as 8 hex digits, and its imports patched through 4-byte thunks.
        self.assertRegex(verifying[0].fields.get("base", ""), r"^[0-9A-Fa-f]{8}$", verifying[0].text)
        self.assertGreater(int(verifying[0].fields.get("wrapped", "0")), 5, verifying[0].text)
        self.assertEqual(3, report.fault_points, report.text())  # IoCreateDevice, the pool, IoCreateSymbolicLink
        self.assertEqual(2, sum(1 for f in report.of("IRP") if f.fields.get("major") == "0xe"), report.text())

    def test_unprobed_output_through_fastcall_iofcompleterequest(self):
        self.caught("vf_skip_probe", "UNPROBED_USER_BUFFER", "IoCompleteRequest")

    def test_double_completion(self):
        self.caught("vf_double_complete", "IRP_DOUBLE_COMPLETE", "IoCompleteRequest")

    def test_pool_leak_named_with_its_tag_and_source_line(self):
        leak, report = self.caught("vf_pool_leak", "POOL_LEAK")
        self.assertIn("tag='Leak'", leak.text)
        self.assertIn("size=100", leak.text)

    def test_handle_left_open(self):
        self.caught("vf_handle_leak", "HANDLE_LEAK", "ZwOpenKey")

    def test_special_pool_overrun_faults_at_the_instruction(self):
        # The x86 context: the vectored handler reads the faulting Eip (ExceptionAddress).
        violation, report = self.caught("vf_pool_overrun", "SPECIAL_POOL_OVERRUN")
        self.assertIn("write 1 byte(s) past the end of block", violation.text)
        self.assertIn("allocated=vf_pool_overrun.sys+0x", violation.text)
        self.assertIn("loads verified:         1 (1 unloads", report.text())

    def test_paged_pool_under_hal_kfacquirespinlock(self):
        violation, _ = self.caught("vf_paged_at_dispatch", "IRQL_TOO_HIGH", "ExAllocatePoolWithTag")
        self.assertIn("called at DISPATCH_LEVEL with a spin lock held", violation.text)

    def test_spin_lock_held_on_return(self):
        self.caught("vf_lock_held_on_return", "SPIN_LOCK_HELD_ON_RETURN", "DispatchRoutine")

    def test_a_raise_without_its_lower_is_irql_not_restored(self):
        # KeRaiseIrql(DISPATCH_LEVEL) in the buffered IOCTL, no KeLowerIrql. Before (x64 only, or no
        # KfRaiseIrql wrapper): PASS.
        violation, _ = self.caught("vf_irql_not_restored", "IRQL_NOT_RESTORED", "DispatchRoutine")
        self.assertIn("entered at PASSIVE_LEVEL, returned at DISPATCH_LEVEL", violation.text)

    def test_the_raise_with_its_lower_passes(self):
        report = self.verify("vf_irql_raised")
        self.assertEqual("PASS", report.result, report.text())

    # The stdcall trampolines of kit/verifier/routines.cpp: a timer's DPC (4 arguments) and a cancel
    # routine (2), entered at DISPATCH_LEVEL. Before them: both bad drivers PASSed.
    def test_a_timer_dpc_allocating_paged_pool_and_waiting(self):
        _, report = self.caught("vf_dpc_at_dispatch", "IRQL_TOO_HIGH", ioctls=(TICK,))
        calls = sorted(f.fields.get("call", "") for f in report.violations)
        self.assertEqual(["ExAllocatePoolWithTag()", "KeWaitForSingleObject()"], calls, report.text())
        self.assertIn("its documented maximum is APC_LEVEL with a nonzero timeout", report.text())

    def test_a_cancel_routine_returning_with_the_cancel_spin_lock(self):
        violation, report = self.caught("vf_cancel_keeps_cancel_lock", "SPIN_LOCK_HELD_ON_RETURN", "CancelRoutine",
                                        ioctls=(TICK,), calls=(PARK,))
        self.assertIn("returned holding the cancel spin lock", violation.text)
        self.assertFalse([p for p in report.problems], report.text())  # released by the verifier: the request completed

    def test_the_correct_dpc_and_cancel_routine_pass(self):
        report = self.verify("vf_routines", ioctls=(TICK,), calls=(PARK,))
        self.assertEqual("PASS", report.result, report.text())
        self.assertEqual(1, len(report.of("DPC")), report.text())
        self.assertEqual(1, len(report.of("CANCEL")), report.text())

    def test_a_periodic_timer_left_set_at_unload(self):
        # KeSetTimerEx/KeCancelTimer (stdcall) tracked: the timer in the deleted device extension.
        violation, report = self.caught("vf_timer_left_set", "TIMER_STILL_SET", "KeSetTimerEx", ioctls=(TICK,))
        self.assertIn("(in the device extension IoDeleteDevice frees", violation.text)
        self.assertEqual("PASS", self.verify("vf_timer_periodic", ioctls=(TICK,)).result)


if __name__ == "__main__":
    unittest.main()
