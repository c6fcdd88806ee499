#!/usr/bin/python3
"""Driver Verifier's strongest checks in kmdverify.sys, each proven by a purpose-built bad build of
tests/drivers/verifier/wdm_sample.c that fails with its violation named, and by the correct build,
which passes. All in one box: one verifier, one driver host (test_verifier.py proves the rest).

Special pool (kit/verifier/special_pool.cpp): every block of a verified driver against a guard page
(after it by default, before it in underrun mode), freed blocks kept inaccessible: an overrun, an
underrun or a use after free faults at the instruction that does it.

IRQL rules (kit/verifier/irql.cpp, routines.cpp): DDIs above their documented maximum IRQL, a
spin lock still held when a dispatch routine returns, and the routines a kernel calls at
DISPATCH_LEVEL - a timer's DPC, a cancel routine - entered through the verifier's trampolines at
DISPATCH_LEVEL and judged on their return (tests/drivers/verifier/vf_routines.c).

Low resources (kit/verifier/faults.cpp): failable calls made after DriverEntry (requests, unload)
fail in turn (the k-th, swept) or by a seeded chance; the driver must fail the request and leak
nothing."""
import re
import sys
import unittest

from e2e_support import BIN_DIR, ROOT, Box

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
from verify import Session  # noqa: E402

BUFFERED = ["ioctl", "0x222400", "--out-size", "16"]  # clears the 64-byte scratch block, then answers
NEITHER = ["ioctl", "0x222407", "--out-size", "16"]
TICK = ["ioctl", "0x222480"]  # vf_routines.c: a one-shot timer's DPC runs, the request waits for it
PARK = "0x222484,out=16"      # vf_routines.c: parked; `kmdctl sweep --call` cancels it after 100 ms (CancelIo)


def report_problems(text):
    return [line for line in text.splitlines() if "PROBLEM" in line]


_box = None
_session = None


def setUpModule():
    # One box and one verifier for every check here: a box start is most of a run's time.
    global _box, _session
    _box = Box("verifier-checks").create()
    _session = Session(_box, "kmdverify", BIN_DIR)
    _session.start()


def tearDownModule():
    try:
        _session.stop()
    finally:
        _box.close()


class Checks(unittest.TestCase):
    def verify(self, name, mode="overrun", ioctls=(BUFFERED, NEITHER), **options):
        if mode != "overrun":  # the session's default: no extra Wine process for it
            _session.batch([_session.set_special_pool(mode)])
        try:
            report = _session.verify_driver(BIN_DIR / f"{name}.sys", name, None, list(ioctls), sweep=False, **options)
        finally:
            if mode != "overrun":
                _session.batch([_session.set_special_pool("overrun")])
        print(report.text())
        return report


class SpecialPool(Checks):
    def caught(self, report, kind):
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == kind]
        self.assertTrue(found, report.text())
        # The faulting instruction and the allocation site, both inside the driver.
        self.assertRegex(found[0].fields.get("at", ""), rf"^{report.driver}\+0x[0-9a-f]+$", found[0].text)
        self.assertIn(f"allocated={report.driver}+0x", found[0].text)
        return found[0], report.text()

    def test_an_overrun_faults_at_the_instruction_that_did_it(self):
        # for (i = 0; i <= 64; ++i) scratch[i] = 0; before special pool (and with --special-pool=off): PASS.
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
        self.assertRegex(report.text(), r"special pool:           underrun \(\d+ block\(s\) against a guard page\)")


class LowResources(Checks):
    def sweep(self, name):
        return self.verify(name, ioctls=(BUFFERED,), low_resources_sweep=True)  # NEITHER makes no failable call

    def test_a_request_answered_with_success_after_its_allocation_failed(self):
        # SampleBuildReply's reply block fails (the 2nd failable call of a request), and the driver
        # says STATUS_SUCCESS. Before: nothing failed after DriverEntry, so PASS.
        report = self.sweep("vf_success_on_alloc_failure")
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "SUCCESS_AFTER_FAILED_CALL"]
        self.assertEqual(1, len(found), report.text())
        self.assertIn("ExAllocatePoolWithTag was made to fail during its dispatch; completed with 0x00000000", found[0].text)
        self.assertRegex(found[0].fields.get("at", ""), r"^vf_success_on_alloc_failure\.sys\+0x")
        self.assertIn("low resources:          2 failable call(s) after DriverEntry, each made to fail in turn (2 reached)",
                      report.text())

    def test_a_failure_path_that_leaks(self):
        report = self.sweep("vf_leak_on_alloc_failure")
        self.assertEqual("FAIL", report.result, report.text())
        leaks = [f for f in report.violations if f.kind == "POOL_LEAK"]
        self.assertEqual(1, len(leaks), report.text())
        self.assertIn("tag='SLog'", leaks[0].text)
        self.assertIn("(at unload)", leaks[0].text)
        self.assertRegex(report.text(), r"at=vf_leak_on_alloc_failure\.sys\+0x[0-9a-f]+ \[SampleBuildReply wdm_sample\.c:\d+\]")

    def test_the_correct_twin_keeps_its_contract(self):
        report = self.sweep("wdm_sample")
        self.assertEqual("PASS", report.result, report.text())
        self.assertIn("2 failable call(s) after DriverEntry, each made to fail in turn (2 reached)", report.text())

    def test_seeded_faults(self):
        # Seed 2 fails three of the calls of four requests, one of them a reply block (seeds 1 and 3
        # fail only a log block, which the driver handles); the same seed fails the same calls.
        bad = self.verify("vf_success_on_alloc_failure", ioctls=(BUFFERED,) * 4, low_resources_seed=2)
        self.assertIn("SUCCESS_AFTER_FAILED_CALL", {f.kind for f in bad.violations}, bad.text())
        self.assertIn("seed 2: 3 call(s) after DriverEntry made to fail (1 in 4), replay: --low-resources 2", bad.text())


class IrqlRules(Checks):
    """The IRQL model (kit/verifier/irql.cpp): a thread holding a spin lock is at DISPATCH_LEVEL.
    The correct twin takes the same spin lock around its scratch buffer in every wdm_sample run of
    test_verifier.py, and passes."""

    def test_paged_pool_under_a_spin_lock(self):
        report = self.verify("vf_paged_at_dispatch")
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "IRQL_TOO_HIGH"]
        self.assertEqual(1, len(found), report.text())
        self.assertIn("call=ExAllocatePoolWithTag()", found[0].text)
        self.assertIn("called at DISPATCH_LEVEL with a spin lock held; its documented maximum is APC_LEVEL", found[0].text)
        self.assertRegex(report.text(), r"at=vf_paged_at_dispatch\.sys\+0x[0-9a-f]+ \[SampleDeviceControl wdm_sample\.c:\d+\]")

    def test_a_spin_lock_held_when_dispatch_returns(self):
        report = self.verify("vf_lock_held_on_return")
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "SPIN_LOCK_HELD_ON_RETURN"]
        self.assertEqual(1, len(found), report.text())
        self.assertIn("returned holding 1 spin lock(s)", found[0].text)
        self.assertRegex(report.text(), r"at=vf_lock_held_on_return\.sys\+0x[0-9a-f]+ \[SampleDeviceControl")

    # The routines a kernel enters at DISPATCH_LEVEL (kit/verifier/routines.cpp). Before them, under
    # Wine both ran at PASSIVE_LEVEL and every driver below passed.
    def routines(self, name):
        return self.verify(name, ioctls=(TICK,), calls=[PARK])

    def test_a_timer_dpc_allocating_paged_pool_and_waiting(self):
        report = self.routines("vf_dpc_at_dispatch")
        self.assertEqual("FAIL", report.result, report.text())
        found = {f.fields.get("call"): f for f in report.violations if f.kind == "IRQL_TOO_HIGH"}
        self.assertEqual({"ExAllocatePoolWithTag()", "KeWaitForSingleObject()"}, set(found), report.text())
        self.assertIn("(called at DISPATCH_LEVEL; its documented maximum is APC_LEVEL)", found["ExAllocatePoolWithTag()"].text)
        self.assertIn("(called at DISPATCH_LEVEL; its documented maximum is APC_LEVEL with a nonzero timeout)",
                      found["KeWaitForSingleObject()"].text)
        # Both inside the DPC, named from the PDB.
        self.assertEqual(2, len(re.findall(r"VIOLATION IRQL_TOO_HIGH .* at=vf_dpc_at_dispatch\.sys\+0x[0-9a-f]+ "
                                           r"\[RoutinesDpc vf_routines\.c:\d+\]", report.text())), report.text())
        self.assertEqual([], report_problems(report.text()), report.text())

    def test_a_dpc_filled_in_by_hand_is_armed_by_kesettimer(self):
        # No KeInitializeDpc: the KDPC's DeferredRoutine set directly; KeSetTimer's wrapper arms it.
        report = self.routines("vf_dpc_by_hand")
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "IRQL_TOO_HIGH"]
        self.assertEqual(["ExAllocatePoolWithTag()"], [f.fields.get("call") for f in found], report.text())
        self.assertRegex(report.text(), r"at=vf_dpc_by_hand\.sys\+0x[0-9a-f]+ \[RoutinesDpc vf_routines\.c:\d+\]")

    def caught_in_cancel(self, name):
        report = self.routines(name)
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "SPIN_LOCK_HELD_ON_RETURN"]
        self.assertEqual(1, len(found), report.text())
        self.assertRegex(found[0].fields.get("call", ""), r"^CancelRoutine\(irp=[0-9A-Fa-f]+\)$", found[0].text)
        self.assertRegex(report.text(), rf"VIOLATION SPIN_LOCK_HELD_ON_RETURN .* at={name}\.sys\+0x[0-9a-f]+ \[RoutinesCancel vf_routines\.c:\d+\]")
        # Reported, and the request was still cancelled and completed (the sweep waits 2 s for that).
        self.assertEqual([], report_problems(report.text()), report.text())
        self.assertEqual(1, len(report.of("CANCEL")), report.text())
        return found[0]

    def test_a_cancel_routine_returning_with_the_cancel_spin_lock(self):
        found = self.caught_in_cancel("vf_cancel_keeps_cancel_lock")
        self.assertIn("(returned holding the cancel spin lock: a cancel routine releases it", found.text)

    def test_a_cancel_routine_returning_with_its_own_spin_lock(self):
        found = self.caught_in_cancel("vf_cancel_keeps_own_lock")
        self.assertIn("(returned holding 1 spin lock(s) it acquired: at DISPATCH_LEVEL)", found.text)

    def test_a_cancel_routine_releasing_the_cancel_spin_lock_to_the_wrong_irql(self):
        # IoReleaseCancelSpinLock(DISPATCH_LEVEL), not Irp->CancelIrql: it returns at DISPATCH_LEVEL.
        report = self.routines("vf_cancel_wrong_irql")
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "IRQL_NOT_RESTORED"]
        self.assertEqual(1, len(found), report.text())
        self.assertRegex(found[0].fields.get("call", ""), r"^CancelRoutine\(irp=[0-9A-Fa-f]+\)$", found[0].text)
        self.assertIn("(must return at PASSIVE_LEVEL, returned at DISPATCH_LEVEL)", found[0].text)
        self.assertRegex(report.text(), r"at=vf_cancel_wrong_irql\.sys\+0x[0-9a-f]+ \[RoutinesCancel vf_routines\.c:\d+\]")

    def test_the_correct_dpc_and_cancel_routine_pass_at_dispatch_level(self):
        # Non-paged pool and a zero-timeout poll in the DPC, the classic cancel protocol: both ran
        # through the trampolines (a DPC line and a CANCEL line), and nothing is reported.
        report = self.routines("vf_routines")
        print("\n".join(f.text for f in report.of("DPC") + report.of("CANCEL")))
        self.assertEqual("PASS", report.result, report.text())
        self.assertRegex(" ".join(f.text for f in report.of("DPC")), r"at=vf_routines\.sys\+0x[0-9a-f]+ entered at DISPATCH_LEVEL")
        self.assertEqual(1, len(report.of("CANCEL")), report.text())
        self.assertIn("holding the cancel spin lock", report.of("CANCEL")[0].text)

    # A timer still set when the memory holding it goes (Windows' verifier: bug check 0xC7,
    # TIMER_OR_DPC_INVALID). Before: PASS, and the DPC fired on into the unloaded image.
    def test_a_periodic_timer_left_set_at_unload(self):
        report = self.verify("vf_timer_left_set", ioctls=(TICK,))
        self.assertEqual("FAIL", report.result, report.text())
        found = [f for f in report.violations if f.kind == "TIMER_STILL_SET"]
        self.assertEqual(1, len(found), report.text())
        self.assertRegex(report.text(), r"VIOLATION TIMER_STILL_SET .* call=KeSetTimerEx\(timer=[0-9A-Fa-f]+, dpc=[0-9A-Fa-f]+, "
                                        r"period=10\) at=vf_timer_left_set\.sys\+0x[0-9a-f]+ \[RoutinesTick vf_routines\.c:\d+\]")
        self.assertIn("(in the device extension IoDeleteDevice frees", found[0].text)
        # The verifier cancelled it: its DPC never ran into the unloaded image.
        self.assertNotIn("a DPC ran after its driver unloaded", report.text())
        self.assertEqual([], report_problems(report.text()), report.text())

    def test_a_periodic_timer_cancelled_at_unload_passes(self):
        report = self.verify("vf_timer_periodic", ioctls=(TICK,))
        self.assertEqual("PASS", report.result, report.text())


if __name__ == "__main__":
    unittest.main()
