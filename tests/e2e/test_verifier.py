#!/usr/bin/python3
"""kmdverify.sys catches each defect it claims to, by name, on purpose-built bad drivers (one
plain-C WDM-style source, tests/drivers/verifier/wdm_sample.c), and passes the correct build of
that same driver through the whole fault-injection sweep. All in one box: one verifier, one host."""
import re
import subprocess
import sys
import unittest
from pathlib import Path

from e2e_support import BIN_DIR, ROOT, Box

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
import verify as verify_module  # noqa: E402
from verify import PARAMS_KEY, Report, Session, parse  # noqa: E402
from winebox import windows_path  # noqa: E402

BUFFERED = ["ioctl", "0x222400", "--out-size", "16"]
NEITHER = ["ioctl", "0x222407", "--out-size", "16"]
NEITHER_WITH_INPUT = ["ioctl", "0x222407", "--in", "41424344", "--out-size", "16"]
ASYNC = ["ioctl", "0x222440", "--out-size", "0"]  # vf_async.c's IOCTL_ASYNC
VERIFY_PY = ROOT / "kit" / "verifier" / "verify.py"


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

    def verify(self, name, sweep=False, ioctls=(BUFFERED, NEITHER), device=None, discover=False):
        report = self.session.verify_driver(BIN_DIR / f"{name}.sys", name, device, list(ioctls), sweep=sweep, discover=discover)
        print(report.text())
        return report

    def race(self, code, order):
        """The verifier's fixed interleaving of IOCTL `code`'s dispatch return and its completion by
        a worker (kmdverify.cpp, g_race_order), read at the next image load; 0 0 turns it off."""
        self.session.batch([["reg", "add", PARAMS_KEY, "/v", name, "/t", "REG_DWORD", "/d", str(value), "/f"]
                            for name, value in (("RaceCode", code), ("RaceOrder", order))])

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

    # --- fail closed

    def test_a_device_the_driver_never_created_fails_naming_the_step(self):
        # Before: "IRPs checked: 0 ... result: PASS".
        report = self.verify("wdm_sample", device="nosuchdevice")
        self.assertEqual("FAIL", report.result, report.text())
        self.assertTrue(any("step 4 was not delivered: the driver never saw IOCTL 0x00222400" in p for p in report.problems),
                        report.text())
        self.assertTrue(any(r"CreateFile(\\.\nosuchdevice)" in p for p in report.problems), report.text())  # its output kept

    def test_a_failing_step_ends_the_run_and_is_named_with_its_output(self):
        # Before: install failed silently inside the batch, start and the IOCTLs ran on, and the
        # report said only "the verifier did not attach".
        bogus = self.box.prefix / "not_a_driver.sys"
        bogus.write_text("this is text, not a driver\n")
        report = self.session.verify_driver(bogus, "not_a_driver", None, [BUFFERED], sweep=False)
        self.assertEqual("FAIL", report.result, report.text())
        self.assertEqual(1, len(report.problems), report.text())
        self.assertRegex(report.problems[0], r"^step 2 failed \(exit code [1-9]\d*\): \S*kmdctl\.exe install ", report.text())
        self.assertIn("no MZ header: this is not an executable image", report.problems[0])  # kmdctl's own words, kept

    def test_a_driver_with_a_device_and_no_request_is_incomplete(self):
        report = self.verify("wdm_sample", ioctls=())
        self.assertEqual("INCOMPLETE", report.result, report.text())
        self.assertFalse(report.ok)
        self.assertIn("created 1 device(s) but no request reached it", report.text())

    def test_a_device_named_otherwise_than_the_file_is_found_by_its_link(self):
        # vf_other_name.sys makes \\DosDevices\\sample_dev. Before: the IOCTLs went to \\.\vf_other_name,
        # reached nothing, and the run said PASS (then, failing closed: "not delivered").
        report = self.verify("vf_other_name")
        self.assertEqual("PASS", report.result, report.text())
        self.assertEqual(["\\DosDevices\\sample_dev"], [f.fields.get("name") for f in report.of("LINK")], report.text())
        self.assertEqual(2, sum(1 for f in report.of("IRP") if f.fields.get("major") == "0xe"), report.text())

    def test_discovery_finds_the_live_codes_by_itself(self):
        # No --device, no --ioctl: the links the driver made, the codes it answers, seeded buffers.
        report = self.verify("vf_other_name", ioctls=(), discover=True)
        self.assertEqual("PASS", report.result, report.text())
        self.assertIn(r"device \\.\sample_dev (type 0x22): 2 live IOCTL code(s) of 32768 swept: 0x00222400, 0x00222407", report.text())
        # 16 sizes, 2 buffers ending at a guard page, 4 bad or kernel pointers. Before: 16.
        self.assertIn("  0x00222407: 22 seeded calls", report.text())
        # The caller's side (kmdctl) cannot hand a driver a bad pointer under Wine; the in-host prober
        # can: its 7 cases of the METHOD_NEITHER code all reach the driver. Before: "8 sent, 0 reached".
        self.assertIn("caller-side bad pointers (kmdctl sweep): 8 sent, 0 reached the driver", report.text())
        self.assertIn("bad and kernel pointers: 7 sent, 7 reached the driver (the in-host prober: 0x00222407)", report.text())

    _discovered = {}

    def discovered(self, name):
        """One discovery run of `name` for the tests that read it, each asserting its own part of it
        (a discovery run is the costliest here: it sweeps 32,768 codes)."""
        if name not in self._discovered:
            self._discovered[name] = self.verify(name, ioctls=(), discover=True)
        return self._discovered[name]

    def test_discovery_catches_a_bug_nobody_asked_about(self):
        report = self.discovered("vf_skip_probe")
        self.assert_caught(report, "UNPROBED_USER_BUFFER", "IoCompleteRequest")

    def test_each_finding_is_followed_by_the_command_that_replays_its_request(self):
        # Before: the violation alone; which of the sweep's ~32,800 requests caused it, nobody said.
        report = self.discovered("vf_skip_probe")
        text = report.text()
        replay = re.search(r"VIOLATION UNPROBED_USER_BUFFER .*code=0x00222407\).*\n      replay: (kit/verifier/verify\.py \S+"
                           r"vf_skip_probe\.sys --no-sweep --device vf_skip_probe --call (0x00222407,in=\d+,out=\d+\S*))\n", text)
        self.assertIsNotNone(replay, text)
        self.assertEqual(len(report.violations), text.count("      replay: "), text)  # one per finding
        # The replay sends that one request again, and the same violation comes back.
        again = self.session.verify_driver(BIN_DIR / "vf_skip_probe.sys", "vf_skip_probe", "vf_skip_probe", [], sweep=False,
                                           calls=[replay.group(2)])
        print(again.text())
        self.assert_caught(again, "UNPROBED_USER_BUFFER", "IoCompleteRequest")
        self.assertEqual(1, sum(1 for f in again.of("IRP") if f.fields.get("major") == "0xe"), again.text())

    def test_every_ioctl_sent_is_counted_at_the_driver(self):
        report = self.verify("wdm_sample", ioctls=(BUFFERED, BUFFERED, NEITHER))
        self.assertEqual("PASS", report.result, report.text())
        codes = [f.fields.get("code") for f in report.of("IRP") if f.fields.get("major") == "0xe"]
        self.assertEqual(["0x00222400", "0x00222400", "0x00222407"], codes, report.text())

    # --- the in-host prober: bad and kernel pointers that reach the driver (kit/verifier/prober.cpp)

    def discover(self, name, calls=()):
        """The default run (no --ioctl, no --call), swept over wdm_sample.c's two functions only."""
        report = self.session.verify_driver(BIN_DIR / f"{name}.sys", name, None, [], sweep=False, discover=not calls,
                                            functions="0x900-0x901", calls=list(calls))
        print(report.text())
        return report

    def test_the_prober_catches_kernel_memory_read_as_a_callers_input(self):
        # vf_skip_input_probe.sys reads Type3InputBuffer without ProbeForRead. From a caller that is
        # only a warning (the input is the caller's copy); from the prober, with kernel memory as the
        # input, the read itself is caught, with the reading instruction and the case. Before: the
        # bad and kernel pointers never reached the driver, and the run had no violation at all.
        report = self.discover("vf_skip_input_probe")
        self.assert_caught(report, "UNPROBED_USER_BUFFER", "read")
        text = report.text()
        self.assertRegex(text, r"VIOLATION UNPROBED_USER_BUFFER driver=vf_skip_input_probe\.sys call=read\(address=\S+\) "
                               r"at=vf_skip_input_probe\.sys\+0x[0-9a-f]+ \[SampleNeither wdm_sample\.c:\d+\] \(read of kernel memory "
                               r"handed over as the UserMode METHOD_NEITHER Type3InputBuffer, without ProbeForRead; probe case pool-in")
        self.assertIn("probe case kernel-in", text)  # the kernel-looking address too (the driver's __except then fails it)
        self.assertRegex(text, r"\n      replay: kit/verifier/verify\.py \S+vf_skip_input_probe\.sys --no-sweep --device "
                               r"vf_skip_input_probe --call 0x00222407,in=16,out=256,pool-in\n")
        self.assertIn("bad and kernel pointers: 7 sent, 7 reached the driver", text)
        # The replay sends that one case again, through the prober, and the violation comes back.
        again = self.discover("vf_skip_input_probe", calls=["0x00222407,in=16,out=256,pool-in"])
        self.assert_caught(again, "UNPROBED_USER_BUFFER", "read")
        self.assertIn("bad and kernel pointers: 1 sent, 1 reached the driver", again.text())

    def test_the_prober_catches_an_unprobed_write_to_kernel_memory(self):
        report = self.discover("vf_skip_probe")
        self.assert_caught(report, "UNPROBED_USER_BUFFER", "write")
        self.assertRegex(report.text(), r"call=write\(address=\S+\) at=vf_skip_probe\.sys\+0x[0-9a-f]+ \[SampleNeither wdm_sample\.c:\d+\] "
                                        r"\(write of kernel memory handed over as the UserMode METHOD_NEITHER UserBuffer, without "
                                        r"ProbeForWrite; probe case pool-out")
        self.assertRegex(report.text(), r"--call 0x00222407,in=16,out=256,pool-out\n")

    def test_the_correct_twin_passes_every_prober_case(self):
        # wdm_sample.sys probes both buffers inside __try and fails the request with the exception's code.
        report = self.discover("wdm_sample")
        self.assertEqual("PASS", report.result, report.text())
        self.assertIn("bad and kernel pointers: 7 sent, 7 reached the driver (the in-host prober: 0x00222407)", report.text())
        ends = [f for f in report.of("PROBER") if "outcome" in f.fields]
        self.assertEqual(["bad-in", "kernel-in", "pool-in", "bad-out", "kernel-out", "pool-out", "ro-out"],
                         [f.fields["case"] for f in ends], report.text())
        # Each failed with the exception its probe (or the access after it) raised: none succeeded.
        self.assertEqual({"0xc0000005"}, {f.fields["status"] for f in ends}, report.text())

    # --- the IRP races, made to happen every time (kmdverify.cpp's RaceCode/RaceOrder)

    def test_a_worker_completing_an_unmarked_pending_irp_while_dispatch_returns(self):
        # The completion's bookkeeping is done, the dispatch return is judged, and only then does the
        # real IoCompleteRequest run. Before: the IRP was in neither table, so it passed (fail-open).
        self.race(0x222440, 1)
        try:
            report = self.verify("vf_worker_no_mark", ioctls=(ASYNC,))
        finally:
            self.race(0, 0)
        self.assert_caught(report, "PENDING_WITHOUT_MARK", "DispatchRoutine")

    def test_a_marked_irp_completed_while_dispatch_judges_it_is_no_violation(self):
        # The dispatch return has looked the IRP up (still owned) when the worker completes it, and
        # Wine's IoCompleteRequest clears the stack's Control. Before: a false PENDING_WITHOUT_MARK.
        self.race(0x222440, 2)
        try:
            report = self.verify("vf_worker_marked", ioctls=(ASYNC,))
        finally:
            self.race(0, 0)
        self.assertEqual("PASS", report.result, report.text())
        self.assertEqual(1, sum(1 for f in report.of("IRP") if f.fields.get("code") == "0x00222440"), report.text())

    def test_worker_completion_without_the_race(self):
        self.assert_caught(self.verify("vf_worker_no_mark", ioctls=(ASYNC,)), "PENDING_WITHOUT_MARK", "DispatchRoutine")
        self.assertEqual("PASS", self.verify("vf_worker_marked", ioctls=(ASYNC,)).result)

    # --- UNPROBED_USER_BUFFER: the whole range, and the input too

    def test_output_probed_for_its_first_byte_only(self):
        self.assert_caught(self.verify("vf_probe_first_byte"), "UNPROBED_USER_BUFFER", "IoCompleteRequest")

    def test_input_read_without_a_probe(self):
        # Whether an unprobed input was read cannot be seen from outside: a warning, not a violation
        # (skeleton.sys's SAY_HELLO ignores its input). Before: not a word.
        report = self.verify("vf_skip_input_probe", ioctls=(NEITHER_WITH_INPUT,))
        warnings = [f for f in report.of("WARNING") if f.kind == "UNPROBED_INPUT"]
        self.assertEqual(1, len(warnings), report.text())
        self.assertIn("Type3InputBuffer", warnings[0].text)
        self.assertIn("4 bytes, 0 of them covered by ProbeForRead", warnings[0].text)
        self.assertRegex(warnings[0].fields.get("at", ""), r"^vf_skip_input_probe\.sys\+")

    def test_correct_driver_with_input_passes(self):
        report = self.verify("wdm_sample", ioctls=(NEITHER_WITH_INPUT, NEITHER))
        self.assertEqual("PASS", report.result, report.text())
        self.assertEqual([], report.of("WARNING"), report.text())


class ForwardAndComplete(unittest.TestCase):
    """Two verified drivers: vf_fwd_upper forwards to vf_fwd_lower with a completion routine that
    returns STATUS_MORE_PROCESSING_REQUIRED, then completes the IRP again itself: legitimate.
    Before: the second completion was taken for a double completion and dropped, and the request
    hung (here: the step timed out)."""

    def test_forward_and_complete_between_two_verified_drivers(self):
        box = Box("verifier-forward").create()
        self.addCleanup(box.close)
        session = Session(box, "kmdverify", BIN_DIR)
        session.start()
        lower = BIN_DIR / "vf_fwd_lower.sys"
        session.batch([session.kmd("install", windows_path(lower), "--name", "vf_fwd_lower", "--group", "kmdverify", "--force"),
                       session.kmd("start", "vf_fwd_lower")])
        report = session.verify_driver(BIN_DIR / "vf_fwd_upper.sys", "vf_fwd_upper", None, [ASYNC, ASYNC], sweep=False, timeout=90)
        print(report.text())
        session.batch([session.kmd("stop", "vf_fwd_lower"), session.kmd("remove", "vf_fwd_lower")])
        findings = report.findings + parse(session.new_lines())
        session.stop()
        self.assertEqual("PASS", report.result, report.text())
        lower_report = Report("vf_fwd_lower.sys", findings)
        self.assertEqual([], lower_report.violations, lower_report.text())
        self.assertEqual(2, sum(1 for f in lower_report.of("IRP") if f.fields.get("code") == "0x00222440"), lower_report.text())


class ProberEndsTheHost(unittest.TestCase):
    """vf_unguarded_read.sys reads its METHOD_NEITHER input without ProbeForRead, by a loop its __try
    does not cover (clang's x64 guard covers calls, and the loop comes before any): the prober's
    unmapped input pointer ends the driver host, the verifier's with it (a box of its own). Before:
    those pointers never reached the driver, and the run passed."""

    def test_a_host_that_dies_in_a_prober_case_is_named_with_its_replay(self):
        box = Box("verifier-prober-death").create()
        self.addCleanup(box.close)
        session = Session(box, "kmdverify", BIN_DIR)
        session.start()
        report = session.verify_driver(BIN_DIR / "vf_unguarded_read.sys", "vf_unguarded_read", None, [], sweep=False, discover=True,
                                       functions="0x901-0x901")
        print(report.text())
        self.assertEqual("FAIL", report.result, report.text())
        death = next((p for p in report.problems if "the driver host died during the prober's case" in p), "")
        self.assertIn("the driver host died during the prober's case bad-in of IOCTL 0x00222407 (device 0)", death, report.text())
        self.assertRegex(death, r"replay: kit/verifier/verify\.py \S+vf_unguarded_read\.sys --no-sweep --device vf_unguarded_read "
                                r"--call 0x00222407,in=16,out=256,bad-in$")


class VerifyCommandLine(unittest.TestCase):
    def test_a_driver_and_nothing_else(self):
        # `make verify DRIVER=any.sys`: its devices found, its codes swept, the fault sweep run.
        proc = subprocess.run([sys.executable, str(VERIFY_PY), str(BIN_DIR / "vf_other_name.sys"), "--box", "verify-bare"],
                              capture_output=True, text=True, timeout=600)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertIn(r"device \\.\sample_dev (type 0x22): 2 live IOCTL code(s)", proc.stdout)
        self.assertIn("result: PASS", proc.stdout)

    def test_nosuchdevice_is_not_pass(self):
        # The issue's own case: `verify.py wdm_sample.sys --device nosuchdevice --ioctl ...` printed PASS, exit 0.
        proc = subprocess.run([sys.executable, str(VERIFY_PY), str(BIN_DIR / "wdm_sample.sys"), "--device", "nosuchdevice",
                               "--ioctl", "0x222400,out=16", "--no-sweep", "--box", "verify-nosuchdevice"],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(1, proc.returncode, proc.stdout + proc.stderr)
        self.assertIn("result: FAIL", proc.stdout)
        self.assertIn("was not delivered", proc.stdout)

    def test_no_request_exits_incomplete(self):
        proc = subprocess.run([sys.executable, str(VERIFY_PY), str(BIN_DIR / "wdm_sample.sys"), "--no-sweep", "--no-discover",
                               "--box", "verify-noreq"],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(3, proc.returncode, proc.stdout + proc.stderr)
        self.assertIn("result: INCOMPLETE", proc.stdout)



class ReportTextReadsSymbolsOnce(unittest.TestCase):
    """A report's text is made for every assertion message that shows it: its driver's symbols
    are read once per image, not once per text (each llvm-nm or llvm-symbolizer reads the PDB)."""

    def test_the_same_report_twice_runs_each_symbol_tool_once_per_address(self):
        image = BIN_DIR / "vf_pool_leak.sys"
        line = f"kmdverify: VIOLATION POOL_LEAK driver=vf_pool_leak.sys tag='Leak' size=100 at=vf_pool_leak.sys+0x1040"
        runs = []
        real_run = verify_module.subprocess.run

        def counting_run(argv, *args, **kwargs):
            runs.append(Path(argv[0]).name)
            return real_run(argv, *args, **kwargs)

        verify_module.subprocess.run = counting_run
        try:
            first = Report("vf_pool_leak.sys", findings=parse([line]), image=image).text()
            again = Report("vf_pool_leak.sys", findings=parse([line]), image=image).text()
        finally:
            verify_module.subprocess.run = real_run
        self.assertEqual(first, again)
        self.assertRegex(first, r"at=vf_pool_leak\.sys\+0x1040 \[")  # named, by one of the two tools
        self.assertEqual(1, runs.count("llvm-nm"), runs)
        self.assertLessEqual(runs.count("llvm-symbolizer"), 1, runs)



class SessionReadsItsLogOnce(unittest.TestCase):
    """Session.new_lines() reads only what the kernel log gained, and never a line half written:
    the verifier's lines are parsed whole, each once, also across a session restart."""

    PREFIX = "0114:warn:debugstr:vDbgPrintExWithPrefix 0000004d:00000003: "

    def test_a_line_still_being_written_is_read_whole_next_time(self):
        box = Box("verifier-log-reader")  # no prefix or session: only its kernel log file is used
        self.addCleanup(box.kernel_log.unlink, True)
        session = Session(box, "kmdverify", BIN_DIR)
        first = self.PREFIX + "kmdverify: VERIFYING driver=a.sys special_pool=off\n"
        half = self.PREFIX + "kmdverify: VIOLATION POOL_LEAK driver=a.sys tag='Leak'"
        box.kernel_log.write_text(first + half)
        self.assertEqual(["kmdverify: VERIFYING driver=a.sys special_pool=off"], session.new_lines())
        with box.kernel_log.open("a") as f:
            f.write(" size=100 at=a.sys+0x10\n")
        later = parse(session.new_lines())
        self.assertEqual(1, len(later), later)
        self.assertEqual({"driver": "a.sys", "tag": "'Leak'", "size": "100", "at": "a.sys+0x10"}, later[0].fields)
        self.assertEqual([], session.new_lines())
        # A restarted session starts a new log (the old one is kept beside): read from its start.
        box.kernel_log.write_text(self.PREFIX + "kmdverify: ready\n")
        self.assertEqual(["kmdverify: ready"], session.new_lines())


if __name__ == "__main__":
    unittest.main()
