"""kmdctl's command line under Wine: what it accepts and refuses before touching anything, wide
(non-ASCII) names and paths, the access each verb asks for, exit codes, and the IOCTL to send
given by number, by name from a contract header, with typed input."""
import json
import re
import unittest

from e2e_support import BIN_DIR, DRIVER, KMDCTL, ROOT, BoxPool, windows_path
from test_nt5_programs import PROGRAMS, X86_BIN, imports_read

SKELETON_HEADER = ROOT / "samples" / "skeleton" / "include" / "skeleton" / "ioctl.h"
# Wine turns the Unix argv into UTF-16 with the Unix locale's charset: UTF-8 here, so "ñ" arrives.
UTF8 = {"LC_ALL": "C.UTF-8"}
# e2e_support names the sample's contract in KMD_CONTRACT for every test; an empty value is none.
NO_CONTRACT = {"KMD_CONTRACT": ""}


# A box as a new one is for every test; a box a test left so goes to the next (box_pool.py).
POOL = BoxPool("cli")


def tearDownModule():
    POOL.close()


class KmdctlCli(unittest.TestCase):
    def setUp(self):
        self.box = POOL.take()
        self.addCleanup(POOL.give_back, self.box)
        self.work = self.box.prefix / "drive_c" / "kmdtest"
        self.work.mkdir()
        (self.work / "a_directory").mkdir()

    def kmdctl(self, *args, env=None):
        return self.box.run([KMDCTL, *args], env=env)

    def assertUsage(self, args, words, env=None):
        result = self.kmdctl(*args, env=env)
        self.assertEqual(2, result.returncode, result.describe())
        self.assertIn(words, result.stderr, result.describe())
        self.assertEqual("", result.stdout, "a refused command line does nothing")

    def test_typos_and_leftover_arguments_are_refused(self):
        # Issue 9/10: these ran (and exited 0) before.
        self.assertUsage(["list", "--bogus"], "unknown option '--bogus'")
        self.assertUsage(["encode", "0x22", "1", "0", "0", "--frobnicate"], "unknown option '--frobnicate'")
        self.assertUsage(["remove", "--clenaup", "skeleton"], "unknown option '--clenaup'")
        self.assertUsage(["remove", "skeleton", "extra", "args"], "unexpected extra argument 'extra'")
        self.assertUsage(["list", "everything"], "takes no arguments")
        self.assertUsage(["ioctl", "0x222007", "--in", "0x"], "--in takes hex bytes")
        self.assertUsage(["ioctl", "0x222007", "--in", "0x0x0x"], "--in takes hex bytes")
        self.assertUsage(["ioctl", "0x222007", "--in", "01", "--in-u32", "1"], "give one input option")
        self.assertUsage(["ioctl", "0x222007", "--in-u32", "1,"], "--in-u32 takes numbers")
        self.assertUsage(["stop", "skeleton", "--name", "skeleton"], "give the service name once")
        self.assertUsage(["ioctl", "IOCTL_NO_SUCH_THING"], "no IOCTL named 'IOCTL_NO_SUCH_THING'")

    def test_service_names_are_checked_before_the_scm_sees_them(self):
        for name, words in (("n" * 300, "at most 256 characters; this one has 300"), ("a\nb", "control characters"),
                            (".", "'.' cannot be a service name"), ("*", "wildcards"), ("CON", "reserved DOS device name"),
                            ("lpt1", "reserved DOS device name"), ("a/b", "cannot contain '/'")):
            self.assertUsage(["run", DRIVER, "--name", name], words)
            self.assertUsage(["status", name], words)
        names = self.kmdctl("list").stdout
        self.assertNotIn("nnnnnnnn", names)

    def test_in_file_that_is_a_directory(self):
        result = self.kmdctl("ioctl", "0x222007", "--in-file", r"C:\kmdtest\a_directory")
        self.assertEqual(1, result.returncode, result.describe())
        self.assertIn(r"--in-file C:\kmdtest\a_directory (it is a directory, not a file): error 336", result.stderr)

    def test_overlong_path_reports_the_real_error(self):
        # Issue 10: a 1,249-character path printed a stale "error 14007".
        path = "C:\\kmdtest\\" + "d" * 1225 + "\\skeleton.sys"
        self.assertEqual(1249, len(path))
        result = self.kmdctl("run", path)
        self.assertEqual(1, result.returncode, result.describe())
        self.assertNotIn("14007", result.stderr, result.describe())
        self.assertRegex(result.stderr, r"GetFileAttributes\(C:\\kmdtest\\d+\\skeleton\.sys\): error (3|206) \(", result.describe())

    def test_win32_exit_codes(self):
        plain = self.kmdctl("start", "no_such_driver")
        self.assertEqual(1, plain.returncode, plain.describe())
        # cmd.exe reports the full 32-bit exit code (a Unix exit status keeps only 8 bits).
        script = self.work / "codes.cmd"
        script.write_text(f"@echo off\r\n\"{windows_path(KMDCTL)}\" --win32-exit start no_such_driver 2>nul\r\n"
                          "echo start=%ERRORLEVEL%\r\n"
                          f"\"{windows_path(KMDCTL)}\" --win32-exit list --bogus 2>nul\r\necho usage=%ERRORLEVEL%\r\n"
                          f"\"{windows_path(KMDCTL)}\" --win32-exit help >nul\r\necho help=%ERRORLEVEL%\r\n")
        result = self.box.run(["cmd.exe", "/c", r"C:\kmdtest\codes.cmd"])
        self.assertIn("start=1060", result.stdout, result.describe())  # ERROR_SERVICE_DOES_NOT_EXIST
        self.assertIn("usage=1639", result.stdout, result.describe())  # ERROR_INVALID_COMMAND_LINE
        self.assertIn("help=0", result.stdout, result.describe())

    def test_batch_runs_its_steps_in_order_and_ends_at_the_first_failure(self):
        k = windows_path(KMDCTL)
        steps = self.work / "steps.txt"
        key = r"HKLM\Software\kmdtest"
        steps.write_text("\r\n".join([
            f"reg add {key} /v Answer /t REG_DWORD /d 0x2a /f",
            f'reg add {key} /v Where /t REG_SZ /d "C:\\a b" /f',
            f'"{k}" install "{windows_path(DRIVER)}" --name batched',
            f"{k} --trace start batched",
            "# a comment, then a step that may fail",
            f"- {k} ioctl 0x222007 --device \\\\.\\no_such_device",
            f"{k} status batched",   # not traced: --trace was the start's only
            f"{k} stop no_such_service",
            f"{k} remove batched",   # never runs: the step before it failed
        ]) + "\r\n")
        result = self.kmdctl("batch", r"C:\kmdtest\steps.txt")
        self.assertEqual(1, result.returncode, result.describe())  # the failed stop's own status
        self.assertEqual("", result.stderr, "a batch merges each step's errors into its output, in order")
        out = result.stdout
        marks = re.findall(r"^@@kmdctl-(step|rc) (\d+)(?: (-?\d+))?$", out, re.M)
        expected = [("step", str(n), "") if mark == "step" else ("rc", str(n), rc)
                    for n, rc in enumerate(["0", "0", "0", "0", "1", "0", "1"], 1) for mark in ("step", "rc")]
        self.assertEqual(expected, marks, result.describe())
        between = re.split(r"^@@kmdctl-step \d+$", out, flags=re.M)
        self.assertIn("OpenService(batched, SERVICE_QUERY_STATUS|SERVICE_QUERY_CONFIG|SERVICE_START) = ok", between[4])
        self.assertIn("CreateFile(\\\\.\\no_such_device): error 2", between[5])
        self.assertIn("RUNNING", between[6])
        self.assertNotIn(" -> ", between[6], "--trace lasted beyond its step")
        self.assertIn("OpenService(no_such_service", between[7])
        query = self.box.run(["reg", "query", key, "/v", "Answer"])
        self.assertRegex(query.stdout, r"Answer\s+REG_DWORD\s+0x2a", query.describe())
        query = self.box.run(["reg", "query", key, "/v", "Where"])
        self.assertRegex(query.stdout, r"Where\s+REG_SZ\s+C:\\a b\n", query.describe())
        self.assertIn("RUNNING", self.kmdctl("status", "batched").stdout, "the step after the failure ran")
        self.assertEqual(0, self.kmdctl("remove", "batched").returncode)

    def test_a_traced_batch_narrates_every_step(self):
        # --trace before `batch` is the batch's: a step's own --trace must not end it.
        (self.work / "traced.txt").write_text(f"{windows_path(KMDCTL)} --trace list\r\n{windows_path(KMDCTL)} list\r\n")
        result = self.kmdctl("--trace", "batch", r"C:\kmdtest\traced.txt")
        self.assertEqual(0, result.returncode, result.describe())
        steps = re.split(r"^@@kmdctl-step \d+$", result.stdout, flags=re.M)
        self.assertEqual(3, len(steps), result.describe())
        for step in steps[1:]:
            self.assertIn("EnumServicesStatusEx = ", step, result.describe())

    def test_a_batch_with_a_bad_line_runs_nothing(self):
        k = windows_path(KMDCTL)
        for bad, words in ((f"{k} stat batched", "line 2: unknown verb 'stat'"),
                           (f"{k} start batched --bogus", "line 2: start: unknown option '--bogus'"),
                           ("sc.exe stop batched", "line 2: 'sc.exe' is neither kmdctl nor reg add"),
                           (r"reg add HKLM\Software\kmdtest /v A /t REG_BINARY /d 00 /f", "line 2: reg add: only /t REG_DWORD or REG_SZ"),
                           (f"{k} batch other.txt", "line 2: a batch does not run batches")):
            (self.work / "bad.txt").write_text(f'"{k}" install "{windows_path(DRIVER)}" --name batched\r\n{bad}\r\n')
            result = self.kmdctl("batch", r"C:\kmdtest\bad.txt")
            self.assertEqual(2, result.returncode, result.describe())
            self.assertIn(words, result.stderr, result.describe())
            self.assertIn("(nothing was run)", result.stderr, result.describe())
            self.assertEqual("", result.stdout, result.describe())
        self.assertNotIn("batched", self.kmdctl("list").stdout, "a refused batch installed its first step")
        missing = self.kmdctl("batch", r"C:\kmdtest\no_such_file.txt")
        self.assertEqual(1, missing.returncode, missing.describe())
        self.assertIn(r"batch file C:\kmdtest\no_such_file.txt: error 2", missing.stderr, missing.describe())

    def test_each_verb_asks_for_the_least_access(self):
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        expected = {
            # QUERY_CONFIG: under Wine kmdctl reads the driver's group to load the kit's host shim first.
            "start": ("SC_MANAGER_CONNECT", "SERVICE_QUERY_STATUS|SERVICE_QUERY_CONFIG|SERVICE_START"),
            "status": ("SC_MANAGER_CONNECT", "SERVICE_QUERY_STATUS|SERVICE_QUERY_CONFIG"),
            "stop": ("SC_MANAGER_CONNECT", "SERVICE_QUERY_STATUS|SERVICE_STOP"),
            "remove": ("SC_MANAGER_CONNECT", "SERVICE_QUERY_STATUS|SERVICE_STOP|DELETE"),
        }
        for verb, (scm, service) in expected.items():
            result = self.kmdctl("--trace", verb, "skeleton")
            self.assertEqual(0, result.returncode, result.describe())
            self.assertIn(f"OpenSCManager({scm}) = ok", result.stdout, result.describe())
            self.assertIn(f"OpenService(skeleton, {service}) = ok", result.stdout, result.describe())
            self.assertNotIn("ALL_ACCESS", result.stdout, result.describe())
            if verb == "stop":
                # Under Wine the host shim judged the unload: nothing of skeleton.sys can run any
                # more, so the stop did not wait for a late crash (docs/wine-host-shim.md).
                self.assertIn("-> the host shim on skeleton's unload: nothing of it can run any more (no wait for a late crash)",
                              result.stdout, result.describe())
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        listing = self.kmdctl("--trace", "list")
        # ENUMERATE_SERVICE for the list; CONNECT because it opens each running driver with
        # SERVICE_INTERROGATE and nothing more, to tell a dead host (HOST_DEAD) from a running one.
        self.assertIn("OpenSCManager(SC_MANAGER_CONNECT|SC_MANAGER_ENUMERATE_SERVICE) = ok", listing.stdout, listing.describe())
        opens = re.findall(r"OpenService\((\w+), ([A-Z_|]+)\)", listing.stdout)
        self.assertTrue(opens, listing.describe())
        self.assertEqual({"SERVICE_INTERROGATE"}, {access for _, access in opens}, listing.describe())
        self.assertNotIn("skeleton", [name for name, _ in opens], "a STOPPED driver has no host to ask")
        # More than one EnumServicesStatusEx: the ERROR_MORE_DATA loop ran, and lost no entry.
        self.assertGreaterEqual(listing.stdout.count("EnumServicesStatusEx = "), 2, listing.describe())
        names = [line.split()[0] for line in listing.stdout.splitlines() if line and not line.startswith(" ")]
        for name in ("skeleton", "MountMgr", "nsiproxy"):
            self.assertEqual(1, names.count(name), listing.describe())

    def test_non_ascii_names_and_paths(self):
        # Issue 8/10: "C:\drvé\..." failed with error 3, "--name ñame" became "\ufffdame".
        folder = self.work / "drvé" / "日本"
        folder.mkdir(parents=True)
        (folder / "skeleton.sys").write_bytes(DRIVER.read_bytes())
        path = "C:\\kmdtest\\drvé\\日本\\skeleton.sys"
        installed = self.kmdctl("install", path, "--name", "ñame", env=UTF8)
        self.assertEqual(0, installed.returncode, installed.describe())
        self.assertIn(f"installed ñame -> {path}", installed.stdout)
        status = json.loads(self.kmdctl("status", "ñame", "--json", env=UTF8).stdout)
        self.assertEqual("ñame", status["name"])
        self.assertTrue(status["image_path"].endswith("drvé\\日本\\skeleton.sys"), status)
        self.assertIn("ñame", self.kmdctl("list", env=UTF8).stdout)
        run = self.kmdctl("run", path, "--name", "ñame", "--device", r"\\.\skeleton", env=UTF8)
        self.assertEqual(0, run.returncode, run.describe())
        self.assertIn("the driver says", run.stdout)
        self.assertIn("ñame: removed", self.kmdctl("remove", "ñame", env=UTF8).stdout)

    def test_typed_input_and_ioctl_names(self):
        self.assertEqual(0, self.kmdctl("install", DRIVER).returncode)
        self.assertEqual(0, self.kmdctl("start").returncode)
        # REVERSE_BUFFERED returns its input reversed: 02 00 00 00 28 00 00 00 -> 00 00 00 28 00 00 00 02.
        result = self.kmdctl("ioctl", "IOCTL_SKELETON_REVERSE_BUFFERED", "--in-u32", "2,40")
        self.assertEqual(0, result.returncode, result.describe())
        self.assertIn("IOCTL_SKELETON_REVERSE_BUFFERED = 0x0022e008", result.stdout)
        self.assertIn("00000000  00 00 00 28 00 00 00 02 ", result.stdout)
        result = self.kmdctl("ioctl", "0x0022e008", "--in-u64", "0x0102030405060708")
        self.assertIn("00000000  01 02 03 04 05 06 07 08 ", result.stdout, result.describe())
        result = self.kmdctl("ioctl", "0x0022e008", "--in-str", "Hello")
        self.assertIn("|olleH|", result.stdout, result.describe())
        # A name from a contract header: --header, or KMD_CONTRACT.
        result = self.kmdctl("ioctl", "IOCTL_SKELETON_REVERSE_BUFFERED", "--header", windows_path(SKELETON_HEADER), "--in", "0102")
        self.assertIn("00000000  02 01 ", result.stdout, result.describe())
        (self.work / "mine.h").write_text("#define IOCTL_MINE_REVERSE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, "
                                          "FILE_READ_DATA | FILE_WRITE_DATA)\n")
        result = self.kmdctl("ioctl", "IOCTL_MINE_REVERSE", "--in", "aabb", "--device", r"\\.\skeleton",
                             env={"KMD_CONTRACT": r"C:\kmdtest\mine.h"})
        self.assertIn("00000000  bb aa ", result.stdout, result.describe())
        missing = self.kmdctl("ioctl", "IOCTL_SKELETON_SAY_HELLO", env={"KMD_CONTRACT": r"C:\kmdtest\mine.h"})
        self.assertEqual(2, missing.returncode, missing.describe())
        self.assertIn("it defines IOCTL_MINE_REVERSE", missing.stderr)
        self.assertIn("name        : IOCTL_SKELETON_SAY_HELLO", self.kmdctl("decode", "IOCTL_SKELETON_SAY_HELLO").stdout)
        self.assertIn("default 256", self.kmdctl("ioctl", "--help").stdout)
        self.kmdctl("remove")

    def test_kmdctl_knows_no_driver_of_its_own(self):
        # Issue 20 item 7: kmdctl carried the skeleton's IOCTL names, device, service and SAY_HELLO.
        # Without a contract header every one of them is a question, asked before anything runs.
        self.assertUsage(["run", DRIVER], "which IOCTL? give --ioctl CODE", env=NO_CONTRACT)
        self.assertUsage(["hello"], "which device? give --device", env=NO_CONTRACT)
        self.assertUsage(["hello", "--device", r"\\.\skeleton"], "KMD_CONTRACT_HELLO", env=NO_CONTRACT)
        self.assertUsage(["ioctl", "0x222007"], "which device? give --device", env=NO_CONTRACT)
        self.assertUsage(["ioctl", "IOCTL_SKELETON_SAY_HELLO", "--device", r"\\.\skeleton"], "no contract header",
                         env=NO_CONTRACT)
        self.assertUsage(["decode", "IOCTL_SKELETON_SAY_HELLO"], "no contract header", env=NO_CONTRACT)
        for verb in ("start", "stop", "status", "remove"):
            self.assertUsage([verb], "which service? give its name", env=NO_CONTRACT)
        # A contract without the defaults says which one it lacks.
        (self.work / "bare.h").write_text("#define IOCTL_BARE CTL_CODE(0x22, 0x800, 0, 0)\n")
        bare = {"KMD_CONTRACT": r"C:\kmdtest\bare.h"}
        self.assertUsage(["hello", "--device", r"\\.\skeleton"], "names no request to send unasked", env=bare)
        self.assertUsage(["start"], "names none (KMD_CONTRACT_SERVICE_W)", env=bare)
        # The same driver, named by the contract as a user would: the seed's run, unchanged.
        result = self.kmdctl("run", DRIVER, "--header", windows_path(SKELETON_HEADER), env=NO_CONTRACT)
        self.assertEqual(0, result.returncode, result.describe())
        self.assertIn("DeviceIoControl(IOCTL_SKELETON_SAY_HELLO = 0x00222007)", result.stdout)
        self.assertIn('the driver says: "Hello from ring 0!', result.stdout)
        # Without a contract the service is named after the file.
        self.assertEqual(0, self.kmdctl("install", DRIVER, env=NO_CONTRACT).returncode)
        self.assertIn("SERVICE_NAME: skeleton", self.kmdctl("status", "skeleton", env=NO_CONTRACT).stdout)
        self.assertEqual(0, self.kmdctl("remove", "skeleton", env=NO_CONTRACT).returncode)

    def test_run_sends_the_ioctl_it_is_given_or_none(self):
        # Without a contract naming one, no request by default (issue 9: it failed at step 5 for any other driver).
        self.assertUsage(["run", DRIVER, "--name", "mydrv"], "--ioctl CODE", env=NO_CONTRACT)
        self.assertUsage(["run", DRIVER, "--no-ioctl", "--in", "00"], "--no-ioctl sends none")
        result = self.kmdctl("run", DRIVER, "--name", "mydrv", "--device", r"\\.\skeleton", "--ioctl",
                             "IOCTL_SKELETON_REVERSE_BUFFERED", "--in-str", "abc", "--out-size", "8")
        self.assertEqual(0, result.returncode, result.describe())
        self.assertIn("DeviceIoControl(IOCTL_SKELETON_REVERSE_BUFFERED = 0x0022e008)", result.stdout)
        self.assertIn("Information: 3 bytes", result.stdout)
        self.assertIn("|cba|", result.stdout)
        result = self.kmdctl("run", DRIVER, "--name", "mydrv", "--device", r"\\.\skeleton", "--no-ioctl")
        self.assertEqual(0, result.returncode, result.describe())
        self.assertIn("[5/7] CreateFile(\\\\.\\skeleton) (--no-ioctl: no request)", result.stdout)
        self.assertIn("service mydrv deleted", result.stdout)
        # A request the driver refuses fails step 5 with its error, and the run is undone.
        failed = self.kmdctl("run", DRIVER, "--ioctl", "IOCTL_SKELETON_REVERSE_BUFFERED", "--in", "010203", "--out-size", "1")
        self.assertEqual(1, failed.returncode, failed.describe())
        self.assertIn("[5/7] FAILED", failed.stdout)
        self.assertIn("error 122", failed.stdout)
        self.assertIn("undo: deleted service skeleton", failed.stdout)


class KmdctlStartsLight(unittest.TestCase):
    """kmdctl splits its own command line (kit/loader/command_line.cpp) and loads user32 only for
    `hello --gui`: shell32 and user32 imported brought gdi32 and Wine's font set-up into every
    start: up to half of a short kmdctl run (docs/performance.md)."""

    def test_the_programs_import_neither_shell32_nor_user32(self):
        # The programs of kit/loader and tests/windows, for each architecture built.
        images = [d / p for d in (BIN_DIR, X86_BIN) for p in PROGRAMS if (d / p).exists()]
        self.assertIn(KMDCTL, images)
        for image in images:
            dlls = {entry.dll.decode().lower() for entry in imports_read(image).DIRECTORY_ENTRY_IMPORT}
            self.assertIn("kernel32.dll", dlls, image)
            self.assertFalse(dlls & {"shell32.dll", "user32.dll", "gdi32.dll"}, f"{image} imports {sorted(dlls)}")

    def test_its_split_is_command_line_to_argv_ws(self):
        box = POOL.take()
        self.addCleanup(POOL.give_back, box)
        result = box.run([BIN_DIR / "command_line_check.exe"])
        self.assertEqual(0, result.returncode, result.describe())
        self.assertRegex(result.stdout, r"^\d{5} lines, 0 split differently\n$", result.describe())


if __name__ == "__main__":
    unittest.main()
