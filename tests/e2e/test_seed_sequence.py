"""The seed's loader sequence, end to end under Wine: kmdctl against skeleton.sys, with Wine's
own reg.exe and sc.exe as independent witnesses of the service database."""
import re
import unittest

from e2e_support import ARCH, DRIVER, KMDCTL, SERVICE_KEY, Box, dbgprint_lines, windows_path

GREETING = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO."


class SeedSequence(unittest.TestCase):
    def setUp(self):
        self.box = Box(f"seed-{self._testMethodName}").create()
        self.addCleanup(self.box.close)

    def kmdctl(self, *args, expect=0):
        result = self.box.run([KMDCTL, *args])
        self.assertEqual(expect, result.returncode, result.describe())
        return result

    def key_exists(self) -> bool:
        result = self.box.run(["reg.exe", "query", SERVICE_KEY])
        return result.returncode == 0

    def test_run_does_all_seven_steps_and_prints_the_greeting(self):
        result = self.kmdctl("run", DRIVER)
        for step in range(1, 8):
            self.assertIn(f"[{step}/7]", result.stdout)
        self.assertIn(f'the driver says: "{GREETING}"', result.stdout)
        self.assertIn("state: STOPPED", result.stdout)
        self.assertIn("service skeleton deleted", result.stdout)
        self.assertFalse(self.key_exists(), "the service key must be gone after run")
        log = dbgprint_lines(self.box.kernel_log_text())
        self.assertIn("skeleton: DriverEntry: created \\DosDevices\\skeleton -> \\Device\\skeleton", log)
        self.assertTrue(any("code=0x00222007" in l and "status=0x00000000 information=63" in l for l in log), log)
        self.assertIn("skeleton: DriverUnload: deleted \\DosDevices\\skeleton and \\Device\\skeleton", log)
        # Under Wine the kit's host shim wrapped the driver from outside and settled its requests after
        # DriverUnload (kit/winehost/kmdhost.cpp): the driver itself carries no such code.
        # And it saw that nothing of the driver can run once unloaded (its worker thread ended, every
        # IRP completed, nothing else registered: kit/winehost/image_watch.hpp), so the stop did not
        # wait for a late crash.
        self.assertTrue(any(re.fullmatch(r"kmdhost: \\Driver\\skeleton unloaded; its requests settled in \d+ us; "
                                         r"nothing of it can run any more", l)
                            for l in log), log)

    # Wine's ntoskrnl has no ExAllocatePool2, so the kit's fallback shows which pool type it chose.
    NX_LINE = "skeleton: DriverEntry: pool from ExAllocatePoolWithTag(NonPagedPoolNx), MDL mappings no-execute"
    NO_NX_LINE = ("skeleton: DriverEntry: pool from ExAllocatePoolWithTag(NonPagedPool), "
                  "MDL mappings executable (kernel older than Windows 8)")

    def pool_line(self) -> str:
        lines = [l for l in dbgprint_lines(self.box.kernel_log_text()) if l.startswith("skeleton: DriverEntry: pool from")]
        self.assertEqual(1, len(lines), lines)
        return lines[0]

    def test_no_execute_pool_is_chosen_by_the_kernel_version(self):
        # x64 images assume Windows 8+; x86 ones ask RtlGetVersion (XP/Vista/7 lack NonPagedPoolNx).
        self.kmdctl("run", DRIVER)
        version = self.box.run(["cmd.exe", "/c", "ver"])
        major, minor = (int(n) for n in re.search(r"(\d+)\.(\d+)\.\d+", version.stdout).groups()[:2])
        nx = ARCH == "x64" or (major, minor) >= (6, 2)
        self.assertEqual(self.NX_LINE if nx else self.NO_NX_LINE, self.pool_line(), version.stdout)

    def test_a_windows_8_kernel_gets_no_execute_pool_on_x86_too(self):
        # The other side of the run-time choice: the same x86 image, a kernel that says Windows 8.1.
        set_version = self.box.run(["reg.exe", "add", r"HKCU\Software\Wine", "/v", "Version", "/d", "win81", "/f"])
        self.assertEqual(0, set_version.returncode, set_version.describe())
        self.assertIn("6.3.", self.box.run(["cmd.exe", "/c", "ver"]).stdout)
        self.kmdctl("run", DRIVER)
        self.assertEqual(self.NX_LINE, self.pool_line())

    def test_service_key_exists_while_installed_and_is_gone_after(self):
        self.assertFalse(self.key_exists())
        self.kmdctl("install", DRIVER)
        query = self.box.run(["reg.exe", "query", SERVICE_KEY])
        self.assertEqual(0, query.returncode, query.describe())
        self.assertRegex(query.stdout, r"Type\s+REG_DWORD\s+0x1\b")      # SERVICE_KERNEL_DRIVER
        self.assertRegex(query.stdout, r"Start\s+REG_DWORD\s+0x3\b")     # SERVICE_DEMAND_START
        self.assertRegex(query.stdout, r"ErrorControl\s+REG_DWORD\s+0x1\b")  # SERVICE_ERROR_NORMAL
        self.assertIn(windows_path(DRIVER).lower(), query.stdout.lower())
        self.kmdctl("start")
        self.assertIn("RUNNING", self.kmdctl("status").stdout)
        self.assertEqual(GREETING, self.kmdctl("hello").stdout.strip())
        self.assertIn("STOPPED", self.kmdctl("stop").stdout)
        self.assertIn("removed", self.kmdctl("remove").stdout)
        self.assertFalse(self.key_exists())

    def test_load_unload_load_again(self):
        self.kmdctl("install", DRIVER)
        cycles = 5
        for _ in range(cycles):
            self.kmdctl("start")
            self.assertEqual(GREETING, self.kmdctl("hello").stdout.strip())
            self.kmdctl("stop")
        self.kmdctl("remove")
        for _ in range(2):
            self.kmdctl("run", DRIVER)
        log = dbgprint_lines(self.box.kernel_log_text())
        loads = [l for l in log if l.startswith("skeleton: DriverEntry: created")]
        unloads = [l for l in log if l.startswith("skeleton: DriverUnload")]
        self.assertEqual(cycles + 2, len(loads), log)
        self.assertEqual(cycles + 2, len(unloads), log)

    def test_a_service_made_by_sc_exe_is_picked_up_and_left_installed(self):
        create = self.box.run(["sc.exe", "create", "skeleton", "type=", "kernel", "start=", "demand",
                               "binPath=", windows_path(DRIVER)])
        self.assertEqual(0, create.returncode, create.describe())
        result = self.kmdctl("run", DRIVER)
        self.assertIn("already exists", result.stdout)
        self.assertIn(f'the driver says: "{GREETING}"', result.stdout)
        self.assertIn("skipped DeleteService: the service existed before this command, so this command does not delete it",
                      result.stdout)
        query = self.box.run(["sc.exe", "query", "skeleton"])
        self.assertEqual(0, query.returncode, query.describe())
        self.assertIn("STOPPED", query.stdout)
        delete = self.box.run(["sc.exe", "delete", "skeleton"])
        self.assertEqual(0, delete.returncode, delete.describe())
        self.assertFalse(self.key_exists())

    def test_run_cleanup_removes_even_a_service_it_did_not_create(self):
        self.kmdctl("install", DRIVER)
        self.kmdctl("start")
        result = self.kmdctl("run", DRIVER, "--cleanup")
        self.assertIn("--cleanup: deleting it afterwards", result.stdout)
        self.assertIn("--cleanup: stopping it afterwards", result.stdout)
        self.assertIn("service skeleton deleted", result.stdout)
        self.assertFalse(self.key_exists())

    def test_a_driver_already_running_is_used_and_left_running(self):
        self.kmdctl("install", DRIVER)
        self.kmdctl("start")
        result = self.kmdctl("run", DRIVER)
        self.assertIn("already running", result.stdout)
        self.assertIn("this command does not stop it (state now: RUNNING)", result.stdout)
        self.assertIn("RUNNING", self.kmdctl("status").stdout)
        self.kmdctl("remove")

    def test_driver_entry_undoes_the_device_when_the_link_fails(self):
        squatter = DRIVER.parent / "link_squatter.sys"
        self.kmdctl("install", squatter, "--name", "squatter")
        self.kmdctl("start", "squatter")
        failed = self.kmdctl("run", DRIVER, expect=1)
        self.assertIn("[4/7] FAILED: StartService", failed.stdout)
        self.assertIn("undo: deleted service skeleton", failed.stdout)
        # The hint names what happened: another device holds the link (its target, from
        # QueryDosDevice); no host died, so none is blamed.
        self.assertIn("\\DosDevices\\skeleton is held by another device: it points at \\Device\\Null", failed.stderr)
        self.assertNotIn("crash", failed.stderr)
        log = dbgprint_lines(self.box.kernel_log_text())
        self.assertTrue(any(l.startswith("skeleton: IoCreateSymbolicLink(\\DosDevices\\skeleton) failed")
                            and "deleting the device" in l for l in log), log)
        # With the name free again, the driver loads: no \Device\skeleton was left behind.
        self.kmdctl("stop", "squatter")
        self.kmdctl("remove", "squatter")
        result = self.kmdctl("run", DRIVER)
        self.assertIn(f'the driver says: "{GREETING}"', result.stdout)

    def test_ioctl_verb_sends_any_code_and_shows_the_reply(self):
        self.kmdctl("install", DRIVER)
        self.kmdctl("start")
        reverse = self.kmdctl("ioctl", "0x0022e008", "--in", "01 02 03 41", "--out-size", "8")
        self.assertIn("Information: 4 bytes", reverse.stdout)
        self.assertIn("00000000  41 03 02 01 ", reverse.stdout)
        self.assertIn("status: success", reverse.stdout)
        payload = self.box.prefix / "drive_c" / "payload.bin"
        payload.write_bytes(b"Skeleton")
        echo = self.kmdctl("ioctl", "0x0022e017", "--in-file", r"C:\payload.bin", "--out-size", "16")
        self.assertIn("Information: 8 bytes", echo.stdout)
        self.assertIn("|Skeleton|", echo.stdout)
        small = self.kmdctl("ioctl", "0x222007", "--out-size", "4", expect=1)
        self.assertIn("status: error 122 (", small.stdout)
        unknown = self.kmdctl("ioctl", "0x222fff", expect=1)
        self.assertIn("status: error 1 (", unknown.stdout)
        self.kmdctl("remove")

    def test_status_json_and_list(self):
        self.kmdctl("install", DRIVER, "--name", "skel2", "--display", "Skeleton two")
        status = self.kmdctl("status", "skel2", "--json").stdout
        import json
        parsed = json.loads(status)
        self.assertEqual({"name": "skel2", "state": "STOPPED", "type": "KERNEL_DRIVER", "start_type": "DEMAND_START"},
                         {k: parsed[k] for k in ("name", "state", "type", "start_type")})
        self.assertTrue(parsed["image_path"].lower().endswith("skeleton.sys"))
        listing = self.kmdctl("list").stdout
        self.assertRegex(listing, r"skel2\s+STOPPED\s+Skeleton two")
        self.kmdctl("remove", "skel2")


if __name__ == "__main__":
    unittest.main()
