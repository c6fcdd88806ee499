"""Every failure a kmdctl user meets: the step, the Win32 error number and its words, a non-zero
exit, and the service database left as it was before the command."""
import re
import subprocess
import unittest

from e2e_support import ARCH, BIN_DIR, DRIVER, KMDCTL, OTHER_ARCH_DRIVER, BoxPool, windows_path

# Every test in a box as a new one is: none sees another's services, processes or files. The pool
# gives a test the box the previous test left exactly so (checked: kit/harness/box_pool.py), else
# a new one: one Wine boot for the file instead of one per test.
POOL = BoxPool("loader")


def tearDownModule():
    POOL.close()


class LoaderErrors(unittest.TestCase):
    def setUp(self):
        self.box = POOL.take()
        self.addCleanup(POOL.give_back, self.box)
        self.work = self.box.prefix / "drive_c" / "kmdtest"
        self.work.mkdir()
        (self.work / "not_a_driver.sys").write_text("this is a text file, not a driver\n")
        (self.work / "a_directory.sys").mkdir()

    def kmdctl(self, *args):
        return self.box.run([KMDCTL, *args])

    def assertFails(self, result, error: int, words: str, exit_code: int = 1):
        self.assertEqual(exit_code, result.returncode, result.describe())
        self.assertRegex(result.stderr, rf"error {error} \(", result.describe())
        self.assertIn(words, result.stderr, result.describe())

    def assertNoService(self, name="skeleton"):
        # The registry is the service database: Wine's reg.exe is an independent witness.
        query = self.box.run(["reg.exe", "query", rf"HKLM\System\CurrentControlSet\Services\{name}"])
        self.assertNotEqual(0, query.returncode, f"service {name} was left behind:\n{query.describe()}")
        self.assertIn("Unable to find the specified registry key", query.stdout, query.describe())

    def test_each_beginners_error_comes_with_its_likely_cause(self):
        # kit/loader/error_hints.cpp, one line under the error (each row is host-tested too).
        cases = [
            (["status", "nosuchsvc"], 1060, "hint: no service of that name: install it first"),
            (["run", OTHER_ARCH_DRIVER], 216, "hint: an image for the other architecture"),
            (["run", r"C:\kmdtest\not_a_driver.sys"], 193, "hint: not a driver image"),
            (["run", r"C:\kmdtest\missing.sys"], 2, "hint: check the path"),
        ]
        for args, error, words in cases:
            result = self.kmdctl(*args)
            self.assertFails(result, error, words)

    def test_missing_file(self):
        result = self.kmdctl("run", r"C:\kmdtest\missing.sys")
        self.assertFails(result, 2, "GetFileAttributes")
        self.assertNoService()

    def test_path_is_a_directory(self):
        result = self.kmdctl("install", r"C:\kmdtest\a_directory.sys")
        self.assertFails(result, 336, "it is a directory")
        self.assertNoService()

    def test_file_is_not_a_pe_image(self):
        result = self.kmdctl("run", r"C:\kmdtest\not_a_driver.sys")
        self.assertFails(result, 193, "no MZ header")
        self.assertNoService()

    def test_a_user_mode_program_is_not_a_driver(self):
        result = self.kmdctl("install", KMDCTL)
        self.assertFails(result, 193, "not native (1)")
        self.assertNoService()

    def test_a_driver_for_the_other_machine_is_refused(self):
        # The x86 kmdctl on 32-bit Windows refuses an x64 image, and the x64 one an x86 image,
        # before the service database is touched.
        other = "x64" if ARCH == "x86" else "x86"
        result = self.kmdctl("run", OTHER_ARCH_DRIVER)
        self.assertFails(result, 216, f"an {other} image; this Windows loads {ARCH} drivers")
        self.assertNoService()

    def test_driver_entry_failure_is_reported_and_undone(self):
        result = self.kmdctl("run", BIN_DIR / "entry_fails.sys", "--name", "entry_fails", "--no-ioctl")
        # DriverEntry returns STATUS_INSUFFICIENT_RESOURCES; the SCM reports its Win32 mapping.
        self.assertFails(result, 1450, "StartService")
        self.assertIn("[4/7] FAILED", result.stdout)
        self.assertIn("undo: deleted service entry_fails", result.stdout)
        self.assertNoService("entry_fails")

    def test_existing_service_with_another_path(self):
        other = self.work / "copy.sys"
        other.write_bytes(DRIVER.read_bytes())
        self.assertEqual(0, self.kmdctl("install", other).returncode)
        try:
            result = self.kmdctl("install", DRIVER)
            self.assertEqual(1, result.returncode, result.describe())
            self.assertIn("already exists with another image path", result.stderr)
            result = self.kmdctl("run", DRIVER)
            self.assertFails(result, 1073, "--force")
            status = self.kmdctl("status", "--json")
            self.assertIn("copy.sys", status.stdout, "a failed run must leave the service as it was")
            # --force on a run that then fails (the device name is wrong) puts the old path back.
            failed = self.kmdctl("run", DRIVER, "--force", "--device", r"\\.\no_such_device")
            self.assertFails(failed, 2, "CreateFile")
            self.assertIn("undo: image path of skeleton restored", failed.stdout)
            self.assertIn("copy.sys", self.kmdctl("status", "--json").stdout)
            forced = self.kmdctl("install", DRIVER, "--force")
            self.assertEqual(0, forced.returncode, forced.describe())
            self.assertIn("reconfigured", forced.stdout)
            self.assertIn(windows_path(DRIVER).lower().replace("\\", "\\\\"), self.kmdctl("status", "--json").stdout.lower())
        finally:
            self.kmdctl("remove")
        self.assertNoService()

    def reg_values(self, name):
        """The service's registry values as reg.exe shows them: {"Type": "0x1", "ImagePath": ...}."""
        query = self.box.run(["reg.exe", "query", rf"HKLM\System\CurrentControlSet\Services\{name}"])
        self.assertEqual(0, query.returncode, query.describe())
        values = {}
        for line in query.stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1].startswith("REG_"):
                values[parts[0]] = parts[2].strip()
        return values

    def test_cleanup_never_deletes_a_service_it_refused(self):
        # Issue 8, finding 9: the refusal at step 3 was followed by "undo: deleted service skeleton".
        other = self.work / "copy.sys"
        other.write_bytes(DRIVER.read_bytes())
        self.assertEqual(0, self.kmdctl("install", other).returncode)
        result = self.kmdctl("run", DRIVER, "--cleanup")
        self.assertFails(result, 1073, "not this file")
        self.assertNotIn("deleted", result.stdout, result.describe())
        self.assertTrue(self.reg_values("skeleton")["ImagePath"].endswith("copy.sys"), "the refused service is untouched")
        # With --force and --cleanup the service is used, then given back as it was (not deleted).
        forced = self.kmdctl("run", DRIVER, "--force", "--cleanup")
        self.assertEqual(0, forced.returncode, forced.describe())
        self.assertIn("--cleanup: image path of skeleton restored", forced.stdout)
        self.assertTrue(self.reg_values("skeleton")["ImagePath"].endswith("copy.sys"))
        self.kmdctl("remove")
        self.assertNoService()

    def test_force_leaves_a_service_that_is_not_a_kernel_driver_alone(self):
        # Issue 8, finding 10: --force turned a Win32 service into a kernel driver.
        created = self.box.run(["sc.exe", "create", "winsvc", "binpath=", r"C:\windows\system32\notepad.exe"])
        self.assertEqual(0, created.returncode, created.describe())
        before = self.reg_values("winsvc")
        self.assertEqual("0x10", before["Type"], before)
        for args in (["run", DRIVER, "--name", "winsvc", "--force", "--no-ioctl", "--cleanup"],
                     ["install", DRIVER, "--name", "winsvc", "--force"]):
            result = self.kmdctl(*args)
            self.assertFails(result, 1073, "WIN32_OWN_PROCESS service, not a kernel driver")
        self.assertEqual(before, self.reg_values("winsvc"), "nothing about the service changed")

    def test_force_changes_only_the_image_path_and_restores_it_exactly(self):
        other = self.work / "copy.sys"
        other.write_bytes(DRIVER.read_bytes())
        created = self.box.run(["sc.exe", "create", "skeleton", "type=", "kernel", "start=", "system", "error=", "ignore",
                                "binpath=", r"C:\kmdtest\copy.sys"])
        self.assertEqual(0, created.returncode, created.describe())
        before = self.reg_values("skeleton")
        self.assertEqual(("0x1", "0x1", "0x0"), (before["Type"], before["Start"], before["ErrorControl"]), before)
        # A run that fails after --force: everything back as it was, error control and start type included.
        failed = self.kmdctl("run", DRIVER, "--force", "--device", r"\\.\no_such_device")
        self.assertFails(failed, 2, "CreateFile")
        self.assertIn("undo: image path of skeleton restored", failed.stdout)
        self.assertEqual(before, self.reg_values("skeleton"))
        # A run that succeeds with --force keeps the new path, and only that changed.
        forced = self.kmdctl("run", DRIVER, "--force")
        self.assertEqual(0, forced.returncode, forced.describe())
        after = self.reg_values("skeleton")
        self.assertNotEqual(before["ImagePath"], after["ImagePath"])
        self.assertEqual({**before, "ImagePath": after["ImagePath"]}, after)
        self.kmdctl("remove")
        self.assertNoService()

    def test_two_concurrent_runs_report_what_happened(self):
        # Issue 10: one run printed "stays installed/running" though the other then removed it.
        # Whatever the interleaving, each run says what it did and what it saw, and nothing stays.
        for _ in range(3):
            runs = [self.box.spawn([KMDCTL, "run", DRIVER]) for _ in range(2)]
            outputs = []
            for proc in runs:
                out, err = proc.communicate(timeout=120)
                outputs.append((proc.returncode, out, err))
            for rc, out, err in outputs:
                self.assertNotIn("stays", out)
                self.assertTrue(rc == 0 or "FAILED" in out, f"exit {rc}\n{out}\n{err}")
                if "skipped: the driver was running before" in out:
                    self.assertRegex(out, r"state now: [A-Z_]+\)")
                if "skipped DeleteService" in out:
                    self.assertRegex(out, r"(does not delete it|marked for deletion)")
            self.assertNoService()

    def test_start_twice_stop_twice(self):
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        try:
            started = self.kmdctl("start")
            self.assertEqual(0, started.returncode, started.describe())
            self.assertFails(self.kmdctl("start"), 1056, "StartService")
            stopped = self.kmdctl("stop")
            self.assertEqual(0, stopped.returncode, stopped.describe())
            self.assertFails(self.kmdctl("stop"), 1062, "ControlService")
        finally:
            self.kmdctl("remove")
        self.assertNoService()

    def test_marked_for_delete_while_another_program_holds_the_service(self):
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        holder = self.box.spawn([BIN_DIR / "hold_service.exe", "skeleton"], stdin=subprocess.PIPE)
        try:
            self.assertEqual("holding skeleton", holder.stdout.readline().strip())
            removed = self.kmdctl("remove")
            self.assertEqual(0, removed.returncode, removed.describe())
            self.assertIn("marked for deletion", removed.stdout)
            self.assertFails(self.kmdctl("install", DRIVER), 1072, "CreateService")
            self.assertFails(self.kmdctl("run", DRIVER), 1072, "CreateService")
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
            holder.stdout.close()
            holder.stderr.close()
        # The last handle is gone, so is the service; the name is free again.
        self.assertNoService()
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        self.assertIn("removed", self.kmdctl("remove").stdout)

    def test_no_such_service(self):
        for verb in ("start", "stop", "status", "remove"):
            self.assertFails(self.kmdctl(verb, "no_such_driver"), 1060, "OpenService(no_such_driver, ")

    def test_device_not_present(self):
        self.assertFails(self.kmdctl("hello"), 2, "CreateFile(\\\\.\\skeleton)")
        self.assertFails(self.kmdctl("ioctl", "0x222007"), 2, "CreateFile")

    def test_malformed_command_lines_are_usage_errors(self):
        for args in (["ioctl", "0x22200z"], ["ioctl", "0x222007", "--in", "4g"], ["ioctl", "0x222007", "--out-size", "lots"],
                     ["decode", "12abc"], ["encode", "unknown", "0x1000", "neither", "any_access"],
                     ["install", DRIVER, "--start", "sometimes"], ["run"], ["frobnicate"], ["stop", "--timeout", "-5"],
                     ["list", "--bogus"], ["remove", "--clenaup", "skeleton", "extra", "args"], ["ioctl", "0x222007", "--in", "0x"]):
            result = self.kmdctl(*args)
            self.assertEqual(2, result.returncode, result.describe())
            self.assertTrue(result.stderr.startswith("kmdctl"), result.describe())

    def test_help(self):
        result = self.kmdctl("help")
        self.assertEqual(0, result.returncode)
        for verb in ("run", "install", "start", "stop", "remove", "status", "list", "hello", "ioctl", "decode", "encode"):
            self.assertRegex(result.stdout, rf"(?m)^  {verb}\b")
        self.assertIn("usage: kmdctl run", self.kmdctl("run", "--help").stdout)

    def test_decode_and_encode_agree_with_ctl_code(self):
        decoded = self.kmdctl("decode", "0x00222007").stdout
        self.assertIn("CTL_CODE(0x0022, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)", decoded)
        self.assertIn("FILE_DEVICE_UNKNOWN", decoded)
        encoded = self.kmdctl("encode", "FILE_DEVICE_UNKNOWN", "0x801", "METHOD_NEITHER", "FILE_ANY_ACCESS").stdout
        self.assertIn("code        : 0x00222007", encoded)
        encoded = self.kmdctl("encode", "0x8000", "0xfff", "out_direct", "read_write_access").stdout
        self.assertIn("code        : 0x8000fffe", encoded)
        self.assertIn("customer range", encoded)

    def test_trace_narrates_each_win32_call(self):
        result = self.kmdctl("--trace", "run", DRIVER)
        self.assertEqual(0, result.returncode, result.describe())
        calls = re.findall(r"-> \((\d)/7\) (\w+)", result.stdout)
        for step, call in (("1", "OpenSCManager"), ("2", "CreateService"), ("3", "OpenService"), ("4", "StartService"),
                           ("5", "CreateFile"), ("5", "DeviceIoControl"), ("6", "ControlService"), ("7", "DeleteService"),
                           ("7", "CloseServiceHandle")):
            self.assertIn((step, call), calls, result.stdout)
        # Any verb is narrated the same way, numbered by the seed's step each call belongs to.
        status = self.kmdctl("--trace", "status", "no_such_driver")
        self.assertIn("-> (1/7) OpenSCManager(SC_MANAGER_CONNECT) = ok", status.stdout)
        self.assertIn("-> (3/7) OpenService(no_such_driver, SERVICE_QUERY_STATUS|SERVICE_QUERY_CONFIG) = error 1060 (",
                      status.stdout)


if __name__ == "__main__":
    unittest.main()
