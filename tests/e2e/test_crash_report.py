"""A driver that crashes its host: the user is told in words - which driver, the exception,
module+offset, function and source line - by kmdctl and in a failing test's output; the box keeps
the report and recovers with a fresh session. Plus: a hung program ends in bounded time with a
dump, and the kernel-call trace shows what DriverEntry really does."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from e2e_support import BIN_DIR, DRIVER, KMDCTL, ROOT, Box, BoxPool, driver_host_pids, windows_path
import winebox  # noqa: E402  (e2e_support put kit/harness on the path)

CRASH_DRIVER = BIN_DIR / "crash_on_ioctl.sys"
CRASH_SOURCE = ROOT / "tests" / "drivers" / "crash_on_ioctl.cpp"
CRASH_IOCTL = "0x00222400"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
CRASH_DEVICE = r"\\.\crash_on_ioctl"
CRASH_LATE_FAULT_IOCTL = "0x00222404"  # function 0x901: DriverUnload leaves code running in the image
CRASH_SMASH_IOCTL = "0x00222408"  # function 0x902: copies its input into a 16-byte stack buffer


def fault_line() -> int:
    """The source line the driver's bug is on (marked in the source, so the test never goes stale)."""
    for number, line in enumerate(CRASH_SOURCE.read_text().splitlines(), 1):
        if "CRASH_ON_IOCTL_FAULT_LINE" in line:
            return number
    raise AssertionError("marker missing from crash_on_ioctl.cpp")


class CrashReport(unittest.TestCase):
    def setUp(self):
        self.box = Box(f"crash-{self._testMethodName}"[:40]).create()
        self.box.expect_crash = True  # crashes here are the point: keep no prefix for them
        self.box.auto_recover = False  # these tests look at the dead state itself
        self.addCleanup(self.box.close)

    def kmdctl(self, *args, expect=0, timeout=60):
        result = self.box.run([KMDCTL, *args], timeout=timeout)
        self.assertEqual(expect, result.returncode, result.describe())
        return result

    def crash_the_driver(self):
        self.kmdctl("install", CRASH_DRIVER, "--name", "crash_on_ioctl")
        self.kmdctl("start", "crash_on_ioctl")
        return self.kmdctl("ioctl", CRASH_IOCTL, "--device", CRASH_DEVICE, expect=1)

    def test_kmdctl_names_the_driver_exception_function_and_line(self):
        result = self.crash_the_driver()
        err = result.stderr
        self.assertIn("the driver host of crash_on_ioctl", err)
        self.assertIn("has died: the driver crashed (exception code 0xc0000005;", err)  # the exception, named
        self.assertIn("page fault on write access to 0x0000000000000010", err)
        self.assertRegex(err, r"at        : crash_on_ioctl\.sys\+0x[0-9a-f]+\n")
        # (winedbg qualifies the name since the image carries full debug information: `anonymous namespace'::)
        self.assertRegex(err, r"in        : (?:.*::)?record_request\(.*crash_on_ioctl\.cpp:\d+\]")
        self.assertIn("cannot start again in this Wine session", err)
        self.assertNotIn("Access denied", err)  # the old, misleading story is only in stdout's raw status

    def debugger_writing_late(self, iterations):
        """The box's crash debugger, made to copy its report in place late: winedbg writes to a side
        file, a loop in cmd counts to `iterations` (20,000 took 0.12 s here), then the copy."""
        late = r"C:\windows\crash-late.txt"
        slow = (rf"C:\windows\system32\cmd.exe /c C:\windows\system32\winedbg.exe --auto %ld %ld >{late} 2>&1"
                rf" & for /l %%i in (1,1,{iterations}) do @rem & type {late} >>{winebox.CRASH_REPORT}")
        key = "HKLM\\" + winebox.AEDEBUG_KEY
        self.assertEqual(0, self.box.run(["reg", "add", key, "/v", "Debugger", "/t", "REG_SZ", "/d", slow, "/f"]).returncode)

    def stop_after_a_late_fault(self, *install_args):
        """The crash driver left code running after DriverUnload (its late fault armed), then
        stopped: the stop must say the host crashed, never STOPPED."""
        self.kmdctl("install", CRASH_DRIVER, "--name", "crash_on_ioctl", *install_args)
        self.kmdctl("start", "crash_on_ioctl")
        self.kmdctl("ioctl", CRASH_LATE_FAULT_IOCTL, "--device", CRASH_DEVICE)
        stop = self.kmdctl("--trace", "stop", "crash_on_ioctl", expect=1)
        # The host shim counted the thread DriverUnload left behind (kit/winehost/image_watch.hpp):
        # the stop waited for the late crash because of it.
        self.assertIn("-> the host shim on crash_on_ioctl's unload: it may still run: a thread it started still runs "
                      "(watching for a late crash)", stop.stdout)
        self.assertNotIn("STOPPED", stop.stdout)
        self.assertIn("crash_on_ioctl reported STOPPED, but a driver host crashed while it unloaded", stop.stderr)
        self.assertIn("in no loaded module: the driver's image was already unloaded", stop.stderr)
        return stop

    def test_a_report_the_debugger_writes_late_is_waited_for(self):
        # winedbg's report can land after the host is seen dead (a full make test once said "no
        # crash report names crashnoname.sys" while the report was still on its way).
        self.debugger_writing_late(100000)
        err = self.crash_the_driver().stderr
        self.assertIn("has died: the driver crashed (exception code 0xc0000005;", err)
        self.assertRegex(err, r"at        : crash_on_ioctl\.sys\+0x[0-9a-f]+\n")

    def test_a_crash_while_stopping_is_seen_by_its_debugger_before_its_report(self):
        # A stop watched only the report file, for 1.5 s: a crash whose report came later was a
        # clean STOPPED. The debugger process the crashed host starts is the earlier sign.
        self.debugger_writing_late(400000)
        self.stop_after_a_late_fault()

    def test_a_failing_run_prints_the_symbolized_crash_report(self):
        result = self.crash_the_driver()
        dump = result.describe()  # what any assertion on this run prints when it fails
        self.assertIn("--- crash report", dump)
        self.assertIn("Unhandled exception: page fault on write access", dump)
        # llvm-symbolizer on the driver's DWARF: module+offset, function, file:line of the bug.
        self.assertRegex(dump, r"#0 crash_on_ioctl\.sys\+0x[0-9a-f]+  .*record_request.*  \S*crash_on_ioctl\.cpp:%d:" % fault_line())
        self.assertRegex(dump, r"#1 crash_on_ioctl\.sys\+0x[0-9a-f]+  CrashDispatch")
        self.assertIn("--- kernel log, last", dump)
        self.assertTrue(self.box.crashed())

    def test_status_stop_remove_never_report_success_over_a_dead_host(self):
        self.crash_the_driver()
        status = self.kmdctl("status", "crash_on_ioctl", expect=1)
        self.assertIn("HOST               : DEAD (crashed; see below)", status.stdout)
        # The STATE line above it does not say a bare RUNNING (it did: sc's layout, the SCM's word).
        self.assertIn("STATE              : 4    RUNNING (the SCM's word; the driver host is dead: see HOST)", status.stdout)
        # The JSON form says no less than the text: a state scripts can trust, never RUNNING over
        # a dead host; the SCM's own word stays in scm_state; the words on stderr (docs/kmdctl.md).
        dead = self.kmdctl("status", "crash_on_ioctl", "--json", expect=1)
        parsed = json.loads(dead.stdout)
        self.assertEqual({"state": "HOST_DEAD", "scm_state": "RUNNING", "host": "dead", "host_error": 232, "host_end": "crashed",
                          "host_exit_code": 0xC0000005},
                         {k: parsed.get(k) for k in ("state", "scm_state", "host", "host_error", "host_end", "host_exit_code")})
        self.assertTrue(parsed["exception"].startswith("page fault on write access to 0x0000000000000010"), parsed)
        self.assertIn("the driver host of crash_on_ioctl", dead.stderr)
        self.assertIn("has died: the driver crashed", dead.stderr)
        # --win32-exit: the Win32 error the host check met, ControlService(INTERROGATE)'s 232 (it
        # fits in a Unix exit status whole), for the JSON form as for the text form.
        self.kmdctl("--win32-exit", "status", "crash_on_ioctl", "--json", expect=232)
        self.kmdctl("--win32-exit", "status", "crash_on_ioctl", expect=232)
        listing = self.kmdctl("list")
        self.assertRegex(listing.stdout, r"\ncrash_on_ioctl\s+HOST_DEAD\s")
        self.assertNotRegex(listing.stdout, r"\ncrash_on_ioctl\s+RUNNING")
        self.assertIn("kmdctl list: crash_on_ioctl: HOST_DEAD", listing.stderr)
        stop = self.kmdctl("stop", "crash_on_ioctl", expect=1)
        self.assertNotIn("STOPPED", stop.stdout + stop.stderr)
        self.assertIn("has died", stop.stderr)
        hello = self.kmdctl("ioctl", CRASH_IOCTL, "--device", CRASH_DEVICE, expect=1)
        self.assertIn("has died", hello.stderr)
        # The dead host's link blocks the same driver under any service name; kmdctl says why.
        again = self.kmdctl("run", CRASH_DRIVER, "--name", "crash_again", "--device", CRASH_DEVICE, "--no-ioctl", expect=1)
        self.assertIn("StartService: error 6", again.stdout)
        self.assertIn(r"\DosDevices\crash_on_ioctl still points at \Device\crash_on_ioctl, the device of crash_on_ioctl, "
                      "whose driver host has died", again.stderr)
        self.assertNotIn("held by another device", again.stderr)
        # `start` knows only the service name, not the driver's link: the same image as the dead
        # driver is what names the cause.
        self.kmdctl("install", CRASH_DRIVER, "--name", "crash_third")
        third = self.kmdctl("start", "crash_third", expect=1)
        self.assertIn("crash_third runs the same image as crash_on_ioctl, whose driver host has died", third.stderr)
        self.assertNotIn("held by another device", third.stderr)
        self.assertIn("removed", self.kmdctl("remove", "crash_third").stdout)
        self.assertIn("removed", self.kmdctl("remove", "crash_on_ioctl", expect=1).stdout)

    def test_a_crash_while_stopping_is_reported_not_stopped(self):
        # The driver leaves code running after DriverUnload, as an in-flight request does when
        # Wine unloads a busy driver: the stop must not end in "STOPPED", exit 0. A second driver
        # shares the host (same load-order group), as in the reliability report, and dies with it.
        self.kmdctl("install", BIN_DIR / "debug_holder.sys", "--name", "neighbour", "--group", "shared")
        self.kmdctl("start", "neighbour")
        stop = self.stop_after_a_late_fault("--group", "shared")
        self.assertIn("docs/wine-unload-race.md", stop.stderr)
        neighbour = self.kmdctl("status", "neighbour", expect=1)
        self.assertIn("HOST               : DEAD", neighbour.stdout)

    def test_a_host_killed_by_a_signal_is_reported_killed_not_crashed(self):
        self.kmdctl("install", DRIVER)
        self.kmdctl("start")
        pids = driver_host_pids(self.box, DRIVER)
        self.assertEqual(1, len(pids), pids)
        os.kill(pids[0], signal.SIGKILL)
        for _ in range(50):  # until the wineserver has seen the host go
            status = self.box.run([KMDCTL, "status"])
            if status.returncode == 1:
                break
            time.sleep(0.2)
        self.assertEqual(1, status.returncode, status.describe())
        self.assertIn("HOST               : DEAD (killed; see below)", status.stdout)
        self.assertIn("has died: it was killed (by a signal such as SIGKILL, or TerminateProcess): exit code 0 and no crash "
                      "report, so the driver did not crash", status.stderr)
        self.assertNotIn("crashed", status.stdout + status.stderr)
        parsed = json.loads(self.kmdctl("status", "--json", expect=1).stdout)
        self.assertEqual({"state": "HOST_DEAD", "host_end": "killed", "host_exit_code": 0},
                         {k: parsed.get(k) for k in ("state", "host_end", "host_exit_code")})
        self.assertNotIn("exception", parsed)
        hello = self.kmdctl("hello", expect=1)
        self.assertIn("has died: it was killed", hello.stderr)
        self.assertNotIn("crashed", hello.stderr)

    def test_a_restarted_session_loads_the_driver_again(self):
        self.crash_the_driver()
        self.box.restart_session("the crash test's host died")
        self.kmdctl("install", CRASH_DRIVER, "--name", "crash_on_ioctl")
        self.assertIn("RUNNING", self.kmdctl("start", "crash_on_ioctl").stdout)
        status = self.kmdctl("status", "crash_on_ioctl")
        self.assertNotIn("DEAD", status.stdout)
        self.assertIn("STOPPED", self.kmdctl("stop", "crash_on_ioctl").stdout)


class StackCookie(unittest.TestCase):
    def test_a_smashed_stack_cookie_bug_checks_and_the_report_names_the_function(self):
        # -fstack-protector-strong and the kit's guard (kmd/stack_cookie.cpp): 80 bytes into a
        # 16-byte buffer overwrite the cookie, and the check on return bug-checks with 0xF7 before
        # the function can return through its overwritten frame.
        box = Box("crash-stack-cookie").create()
        box.expect_crash = True
        self.addCleanup(box.close)
        self.assertEqual(0, box.run([KMDCTL, "install", CRASH_DRIVER, "--name", "crash_on_ioctl"]).returncode)
        self.assertEqual(0, box.run([KMDCTL, "start", "crash_on_ioctl"]).returncode)
        smashed = box.run([KMDCTL, "ioctl", CRASH_SMASH_IOCTL, "--device", CRASH_DEVICE, "--in-str", "A" * 80])
        self.assertEqual(1, smashed.returncode, smashed.describe())
        self.assertIn("has died", smashed.stderr)
        report = smashed.describe()
        self.assertIn("--- bug check (the driver's last words in the kernel log)", report)
        m = re.search(r"DRIVER_OVERRAN_STACK_BUFFER \(bug check 0x000000F7\) at crash_on_ioctl\.sys\+0x[0-9a-f]+  "
                      r".*remember_name.*  \S*crash_on_ioctl\.cpp:(\d+):", report)
        self.assertIsNotNone(m, report)
        lines = CRASH_SOURCE.read_text().splitlines()
        start = next(n for n, l in enumerate(lines, 1) if "ULONG remember_name(" in l)
        end = next(n for n, l in enumerate(lines, 1) if n > start and l == "}")
        self.assertTrue(start <= int(m.group(1)) <= end, f"line {m.group(1)} is not in remember_name ({start}-{end})")
        self.assertIn("the stack cookie of that function was overwritten (a stack buffer overran)", report)
        # Not a plain crash: the overrun never got to return through the overwritten frame.
        self.assertNotIn("Unhandled exception", report)


FOREIGN_SOURCE = Path(__file__).resolve().parent / "crashme.c"
FOREIGN_DEVICE = r"\\.\crashme_dev"  # not the file's name


def build_foreign(out: Path, *extra: str) -> Path:
    """A driver as one is built without the kit: one clang line, no debug information, no symbol
    table (-s). Not kmd_add_driver: nothing of the kit's build is in it."""
    subprocess.run(["clang", "--target=x86_64-w64-mingw32", "-O2", "-isystem", "/usr/x86_64-w64-mingw32/include/ddk",
                    "-nostdlib", "-fuse-ld=lld", "-shared", "-Wl,--subsystem,native", "-Wl,--entry,DriverEntry", *extra,
                    "-o", str(out), str(FOREIGN_SOURCE), "-lntoskrnl"], check=True, capture_output=True, text=True)
    return out


class ForeignDriverCrash(unittest.TestCase):
    """A crash in a driver built elsewhere: module+offset always, the function from the image's own
    data (exports, .pdata) when there is no debug information, and file:line from its DWARF."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="kmd-foreign-"))
        cls.exported = build_foreign(cls.tmp / "crashme.sys", "-s")
        cls.unnamed = build_foreign(cls.tmp / "crashnoname.sys", "-s", "-DCRASHME_NO_EXPORT", "-Wl,--exclude-all-symbols")
        cls.with_dwarf = build_foreign(cls.tmp / "crashdwarf.sys", "-g")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def crash(self, image: Path) -> str:
        box = Box(f"crash-foreign-{image.stem}").create()
        box.expect_crash = True
        box.auto_recover = False
        self.addCleanup(box.close)
        for argv in (["install", image, "--name", image.stem], ["start", image.stem]):
            result = box.run([KMDCTL, *argv], timeout=60)
            self.assertEqual(0, result.returncode, result.describe())
        result = box.run([KMDCTL, "ioctl", "0x222400", "--device", FOREIGN_DEVICE, "--out-size", "0"], timeout=60)
        self.assertEqual(1, result.returncode, result.describe())
        self.assertIn(f"the driver host of {image.stem}", result.stderr, result.describe())
        return result.stderr

    def test_no_debug_information_an_export_names_the_function(self):
        err = self.crash(self.exported)
        # Before: "at        : 0x1800011d0" and no "in" line at all.
        self.assertRegex(err, r"at        : crashme\.sys\+0x1[0-9a-f]{3}\n")
        self.assertRegex(err, r"in        : CrashmeFault\+0x[0-9a-f]+ \(export\)\n")

    def test_no_name_at_all_the_pdata_range_bounds_the_function(self):
        err = self.crash(self.unnamed)
        self.assertRegex(err, r"at        : crashnoname\.sys\+0x1[0-9a-f]{3}\n")
        self.assertRegex(err, r"in        : function at 0x1[0-9a-f]{3}\+0x[0-9a-f]+ \(\.pdata; the image names no function there\)")

    def test_dwarf_in_the_image_gives_file_and_line(self):
        err = self.crash(self.with_dwarf)
        self.assertRegex(err, r"at        : crashdwarf\.sys\+0x1[0-9a-f]{3}\n")
        line = next(n for n, text in enumerate(FOREIGN_SOURCE.read_text().splitlines(), 1) if "where[4] = value" in text)
        self.assertRegex(err, r"in        : CrashmeFault\+0x[0-9a-f]+\(.*crashme\.c:%d\]" % line)
        # The shim shares the host and the report: the crash is not put in the shim's image.
        self.assertNotIn("(COFF symbol)", err)


class AutoRecovery(unittest.TestCase):
    def test_the_next_program_after_a_crash_gets_a_fresh_session(self):
        box = Box("crash-auto-recover").create()
        box.expect_crash = True
        self.addCleanup(box.close)
        box.run([KMDCTL, "install", CRASH_DRIVER, "--name", "crash_on_ioctl"])
        box.run([KMDCTL, "start", "crash_on_ioctl"])
        crashed = box.run([KMDCTL, "ioctl", CRASH_IOCTL, "--device", CRASH_DEVICE])
        self.assertEqual(1, crashed.returncode, crashed.describe())
        self.assertIn("--- crash report", crashed.post_mortem)
        # Without the restart this start would fail (1056, then error 6): the old session is wedged.
        again = box.run([KMDCTL, "start", "crash_on_ioctl"])
        self.assertEqual(0, again.returncode, again.describe())
        self.assertEqual(0, box.run([KMDCTL, "stop", "crash_on_ioctl"]).returncode)


class BoxEnd(unittest.TestCase):
    """Closing a box: one about to be deleted is ended by SIGKILL to its own processes (winebox's
    _end_doomed_box; `wineserver -k` spent 0.75 s a box on a graceful end); a kept one the graceful
    way, its registry written back for the post-mortem."""

    def test_a_deleted_box_leaves_no_process_and_no_server_socket(self):
        box = Box("crash-box-end").create()
        self.addCleanup(box.close)
        self.assertEqual(0, box.run([KMDCTL, "install", DRIVER, "--name", "skeleton"]).returncode)
        self.assertEqual(0, box.run([KMDCTL, "start", "skeleton"]).returncode)
        hosts = driver_host_pids(box, DRIVER)
        self.assertEqual(1, len(hosts), "the driver's winedevice.exe")
        server_dir = winebox._server_dir(box.prefix)
        self.assertTrue(server_dir and (server_dir / "socket").exists(), server_dir)
        box.close()
        self.assertFalse(box.prefix.exists())
        self.assertFalse(server_dir.exists(), "the killed wineserver's socket directory is removed")
        mark = f"WINEPREFIX={box.prefix}".encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    environ = (proc / "environ").read_bytes().split(b"\0")
                except OSError:
                    continue
                self.assertNotIn(mark, environ, f"process {proc.name} of the closed box still runs")

    def test_a_kept_box_has_its_registry_written_back(self):
        box = Box("crash-box-kept", keep=True).create()
        self.addCleanup(shutil.rmtree, box.prefix, True)
        self.assertEqual(0, box.run([KMDCTL, "install", DRIVER, "--name", "skeleton_kept"]).returncode)
        box.close()
        self.assertTrue(box.prefix.exists())
        self.assertIn("Services\\\\skeleton_kept]", (box.prefix / "system.reg").read_text(errors="replace"))
        self.assertEqual([], winebox._box_processes(box.prefix), "the wineserver ended")


class BoundedWaits(unittest.TestCase):
    def test_a_hung_program_is_killed_and_dumped_in_bounded_time(self):
        box = Box("crash-hung").create()
        self.addCleanup(box.close)
        box.start_session()
        result = box.run(["cmd.exe", "/c", "for /l %i in (1,0,2) do rem"], timeout=5)
        self.assertTrue(result.timed_out, result.describe())
        self.assertLess(result.seconds, 40, result.describe())
        dump = result.describe()
        self.assertIn("timed out", dump)
        self.assertIn(f"winebox: killed after 5 s; prefix kept: {box.prefix}", dump)
        self.assertIn("--- kernel log, last", dump)
        self.assertTrue(box.keep)
        box.keep = False  # kept on purpose above; this test needs no post-mortem of its own


def box_commands(box):
    """Each process of the box as one line: its argv, joined."""
    return [" ".join(argv) for _, _, argv in winebox._box_commands(box.prefix)]


def waiting_cmd_runs(box):
    """Whether the cmd.exe of spawn_waiting_cmd runs as itself: Wine's loader starts under its own
    name (wine64 cmd.exe ...) and execs itself again before the program's argv takes its place,
    and a process in the middle of that exec is not seen at all."""
    return any(c.lower().startswith("c:\\windows\\system32\\cmd.exe /c set /p") for c in box_commands(box))


def spawn_waiting_cmd(box):
    """A cmd.exe waiting for a line on its stdin, returned once it runs (ended by writing one)."""
    waiting = box.spawn(["cmd.exe", "/c", "set /p line="], stdin=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not waiting_cmd_runs(box):
        time.sleep(0.05)
    return waiting


class SystemPrograms(unittest.TestCase):
    """Wine's own programs named bare (reg.exe, sc.exe, cmd.exe) start as one Wine process: winebox
    passes their system32 path, since for a bare name Wine runs start.exe, which searches the
    PATH and runs the program as a second process in a job (twice the process starts)."""

    def test_a_bare_name_runs_without_start_exe(self):
        box = Box("crash-system-programs").create()
        self.addCleanup(box.close)
        box.start_session()
        self.assertEqual([], self.start_exes(box), "the session holder itself")
        waiting = spawn_waiting_cmd(box)
        self.assertTrue(waiting_cmd_runs(box), box_commands(box))
        self.assertEqual([], self.start_exes(box), "a program named bare")
        out, err = waiting.communicate(input="done\n", timeout=30)
        self.assertEqual(0, waiting.returncode, err)
        # A name that is no program of the box is passed on as it is: Wine's own error, as before.
        missing = box.run(["no_such_program.exe"])
        self.assertNotEqual(0, missing.returncode, missing.describe())

    @staticmethod
    def start_exes(box):
        return [c for c in box_commands(box) if "start.exe" in c.lower()]


class PooledBoxes(unittest.TestCase):
    """kit/harness/box_pool.py: a box goes to the next test only as a new box would be. Each thing
    a test can leave is left, named by the pool, and taken away again, all in one box; then a
    box left as new is handed on, and one with something left is not."""

    def test_each_thing_left_behind_is_named_and_a_clean_box_is_handed_on(self):
        pool = BoxPool("crash-pool")
        self.addCleanup(pool.close)
        box = pool.take()
        self.addCleanup(box.close)  # a failure half-way leaves it with the test, not the pool
        self.assertIsNone(pool.left_behind(box), "a new box")
        cases = [
            ("a service", ["sc.exe", "create", "leftover", "binpath=", r"C:\windows\system32\notepad.exe"],
             ["sc.exe", "delete", "leftover"], "services differ from its boot: added ['leftover']"),
            ("a key of its own", ["reg.exe", "add", r"HKCU\Software\kmdtest_left", "/f"],
             ["reg.exe", "delete", r"HKCU\Software\kmdtest_left", "/f"],
             r"subkeys of HKCU\Software differ from its boot: added ['kmdtest_left']"),
        ]
        for what, leave, take_away, named in cases:
            with self.subTest(what):
                self.assertEqual(0, box.run(leave).returncode)
                self.assertIn(named, pool.left_behind(box) or "")
                self.assertEqual(0, box.run(take_away).returncode)
                self.assertIsNone(pool.left_behind(box))
        with self.subTest("a file outside the tests' folder"):
            stray = box.prefix / "drive_c" / "windows" / "left.txt"
            stray.write_text("left\n")
            self.assertIn("files added outside drive_c/kmdtest: ['drive_c/windows/left.txt']", pool.left_behind(box) or "")
            stray.unlink()
            self.assertIsNone(pool.left_behind(box))
        with self.subTest("a program still running"):
            waiting = spawn_waiting_cmd(box)
            self.assertIn("processes differ from its boot: {'cmd.exe': 1} more", pool.left_behind(box) or "")
            waiting.communicate(input="done\n", timeout=30)
            self.assertIsNone(pool.left_behind(box))
        with self.subTest("a crash report"):
            box.crash_report.write_text("Unhandled exception: page fault\n")
            self.assertEqual("a driver host crashed in it", pool.left_behind(box))
            box.crash_report.unlink()
        # Left as new: the next test gets this box, with the tests' folder empty and its own log.
        work = box.prefix / "drive_c" / "kmdtest"
        work.mkdir()
        (work / "mine.sys").write_bytes(DRIVER.read_bytes())
        with box.kernel_log.open("a") as log:
            log.write("a line of the first test\n")
        pool.give_back(box)
        self.assertIs(box, pool.spare, pool.refusals)
        again = pool.take()
        self.assertIs(box, again)
        self.assertEqual(1, pool.reused)
        self.assertFalse(work.exists(), "the tests' folder starts empty")
        self.assertNotIn("a line of the first test", again.kernel_log_text())
        # Something left (here a service; a driver started leaves the kit's shim service, for the
        # prefix's life): the box is closed and deleted, and the next test gets a new one.
        self.assertEqual(0, again.run(["sc.exe", "create", "leftover", "binpath=", r"C:\windows\system32\notepad.exe"]).returncode)
        pool.give_back(again)
        self.assertIn("added ['leftover']", pool.refusals[-1])
        self.assertIsNone(pool.spare)
        self.assertFalse(again.prefix.exists(), "a box with something left is closed and deleted")


class SilentExit(unittest.TestCase):
    """A program that ends non-zero without a word (seen in CI: `reg.exe query` exit 1 in 0.0 s,
    nothing on stdout or stderr) comes with the box's state right after: whether the session
    holder and the wineserver still ran, the server socket, and what the wineserver itself wrote
    to the kernel log meanwhile (its protocol errors go there, not to the program)."""

    def test_a_silent_failure_shows_the_session_and_the_wineserver(self):
        box = Box("crash-silent-exit").create()
        self.addCleanup(box.close)
        quiet = box.run(["cmd.exe", "/c", "exit 3"])
        self.assertEqual(3, quiet.returncode, quiet.describe())
        self.assertIn("--- winebox: exit 3 and no output at all; the box right after it", quiet.describe())
        self.assertIn(f"session holder: running (pid {box._holder.pid})", quiet.post_mortem)
        self.assertRegex(quiet.post_mortem, r"wineserver: \d+ wineserver\S* ")
        self.assertRegex(quiet.post_mortem, r"server socket: \S+/socket present")
        self.assertRegex(quiet.post_mortem, r"socket directory named in wineserver: 'wine-\w+' \(mode 400, \d+ links\)")
        self.assertIn("--- kernel log during the run", quiet.post_mortem)
        # The holder gone (killed here): the report says so, where before it said nothing at all.
        os.killpg(box._holder.pid, signal.SIGKILL)
        box._holder.wait(timeout=20)
        again = box.run(["cmd.exe", "/c", "exit 4"])
        self.assertEqual(4, again.returncode, again.describe())
        self.assertIn("session holder: ended (exit status -9)", again.post_mortem)
        # Words on either stream: no report (the program said what went wrong itself).
        said = box.run(["cmd.exe", "/c", "echo why & exit 5"])
        self.assertEqual(5, said.returncode, said.describe())
        self.assertEqual("", said.post_mortem)

    def test_a_start_the_loader_gives_up_on_says_why(self):
        # Wine's loader tells why a start failed only through ERR (docs/wine.md); programs get
        # its errors (winebox.PROGRAM_DEBUG). Here: an import from a DLL no box has.
        box = Box("crash-loader-words").create()
        self.addCleanup(box.close)
        image = (BIN_DIR / "foreign_check.exe").read_bytes()
        self.assertEqual(1, image.count(b"msvcrt.dll"), "the one import name to change")
        broken = box.prefix / "drive_c" / "needs_msvcrz.exe"
        broken.write_bytes(image.replace(b"msvcrt.dll", b"msvcrz.dll"))
        result = box.run([windows_path(broken)])
        self.assertNotEqual(0, result.returncode, result.describe())
        self.assertRegex(result.stderr, r"err:module:\w+ Library msvcrz\.dll .*not found", result.describe())


class FixedLayout(unittest.TestCase):
    """Every Wine process of a box runs with Linux's address randomization off (winebox.fixed_layout):
    Debian's Wine has no preloader, and a brk heap randomized over 1 GiB above the loader lands on
    Wine's shared user data (0x7ffe0000) once in a few thousand starts, which kills the program
    before it runs (`failed to map the shared user data: c0000018`, seen in e2e.foreign_drivers).
    Unrandomized, every process's heap starts right after the loader (0x7d000000)."""

    def test_every_process_of_a_box_has_its_heap_right_after_the_loader(self):
        box = Box("crash-fixed-layout").create()
        self.addCleanup(box.close)
        # A program (cmd.exe waiting for its input) and every process of the session: wineserver,
        # services.exe and its services, the holder.
        program = box.spawn(["cmd.exe"], stdin=subprocess.PIPE)
        self.addCleanup(program.communicate, "exit\n", 60)
        program.stdin.write("echo %OS%-ready\n")  # prints Windows_NT-ready once cmd.exe runs
        program.stdin.flush()
        up = threading.Event()
        threading.Thread(target=lambda: any("Windows_NT-ready" in line and up.set() is None for line in program.stdout),
                         daemon=True).start()
        self.assertTrue(up.wait(60), "cmd.exe did not answer in 60 s")
        processes = winebox._box_commands(box.prefix)
        self.assertIn(program.pid, [pid for pid, _, _ in processes])
        self.assertGreaterEqual(len(processes), 5, processes)
        for pid, name, _ in processes:
            personality = int(Path(f"/proc/{pid}/personality").read_text(), 16)  # ADDR_NO_RANDOMIZE: 0x0040000
            self.assertTrue(personality & 0x0040000, f"{name} (pid {pid}): personality {personality:#x}")
            heaps = [line for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if line.endswith("[heap]")]
            if "wineserver" not in name:  # the server is a plain Unix program, not the loader
                self.assertTrue(heaps and all(line.startswith("7d") for line in heaps), f"{name} (pid {pid}): {heaps}")


class KernelCallTrace(unittest.TestCase):
    def test_trace_kernel_shows_what_driver_entry_calls(self):
        winebox = ROOT / "kit" / "harness" / "winebox.py"
        proc = subprocess.run([sys.executable, str(winebox), "run", "--box", "crash-trace", "--trace-kernel", "skeleton.sys",
                               "--", str(KMDCTL), "run", str(DRIVER)], capture_output=True, text=True, timeout=240)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        out = proc.stdout
        self.assertIn("--- kernel calls made by skeleton.sys", out)
        calls = out.split("--- kernel calls made by skeleton.sys", 1)[1]
        self.assertRegex(calls, r"Call ntoskrnl\.exe\.IoCreateDevice\(")
        # Each call names the driver's function and source line that made it (the image's PDB).
        self.assertRegex(calls, r"Call ntoskrnl\.exe\.IoCreateDevice\(.*\) ret=[0-9a-fA-F]+  "
                                r"\[from kmd::DeviceObjectOwner::create kernel_raii\.hpp:\d+\]")
        self.assertRegex(calls, r"Ret  ntoskrnl\.exe\.IoCreateDevice\(\) retval=00000000")
        self.assertRegex(calls, r"Call ntoskrnl\.exe\.IoCreateSymbolicLink\(")
        self.assertRegex(calls, r"Ret  ntoskrnl\.exe\.IoCreateSymbolicLink\(\) retval=00000000")
        self.assertRegex(calls, r"Call ntoskrnl\.exe\.IoDeleteDevice\(")  # DriverUnload
        # Only the driver's calls: nothing that kmdctl or cmd.exe made.
        self.assertNotRegex(calls, r"advapi32\.|OpenSCManager")


if __name__ == "__main__":
    unittest.main()
