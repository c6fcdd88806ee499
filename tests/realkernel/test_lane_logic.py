#!/usr/bin/python3
"""The real-kernel lane's logic, without a real kernel: the COM1 parser and responder on serial
logs recorded from ReactOS runs (tests/realkernel/data), the ISO remaster on a small fake bootcd,
freeldr.ini, the payload disk round trip, and the lane's skip without an image."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "kit" / "realkernel"))
import image  # noqa: E402
import payload  # noqa: E402
import serial_log  # noqa: E402

DATA = HERE / "data"
HAVE_XORRISO = shutil.which("xorriso") is not None
HAVE_MTOOLS = shutil.which("mcopy") is not None and shutil.which("mformat") is not None


def data(name: str) -> str:
    return (DATA / name).read_text("latin-1")


class ResponderTests(unittest.TestCase):
    # KDBG asks each question through DbgPrompt: the question, then its own "kdb:> " on the next line
    ASSERTION = ("\n*** Assertion failed: x == 0\n***   Source File: /a.c, line 3\n\n"
                 "Break repeatedly, break Once, Ignore, terminate Process or terminate Thread (boipt)? \r\nkdb:> ")
    ENTERED = ("o\r\nExecute '.cxr 8F1C2B3C' to dump context\r\n\r\nEntered debugger on embedded INT3 at 0x0008:0x80412345.\r\n"
               "\x1b[?7h\x1b[c\x1b[18tEip:\r\n<ntoskrnl.exe:18df8c (sdk/lib/rtl/i386/debug_asm.S:22 (DbgBreakPoint))>\r\nFrames:\r\n"
               "<skeleton.sys:3463>\r\n\r\nType \"help\" for a list of commands.\r\n\r\nkdb:> ")

    def test_assertion_breaks_once_then_continues_after_the_backtrace(self):
        r = serial_log.Responder()
        self.assertEqual(r.feed(self.ASSERTION), b"o\r")
        self.assertEqual(r.feed(self.ENTERED), b"\x1b[?1;0c\x1b[8;500;200tcont\r")
        self.assertFalse(r.fatal)
        self.assertEqual(r.answers, 2)

    def test_critical_process_termination_is_ignored(self):
        r = serial_log.Responder()
        self.assertEqual(r.feed("Terminating critical process 0xB110CD88 (winlogon.exe)\r\nBreak, or Ignore (bi)? \r\nkdb:> "), b"i\r")
        rep = serial_log.parse("Terminating critical process 0xB110CD88 (winlogon.exe)\r\nBreak, or Ignore (bi)? \r\nkdb:> i\r\n")
        self.assertEqual([(s.kind, s.summary) for s in rep.stops], [("break", "Terminating critical process 0xB110CD88 (winlogon.exe)")])

    def test_bug_check_is_fatal_once_the_debugger_has_printed_its_frames(self):
        r = serial_log.Responder()
        self.assertEqual(r.feed("\n*** Fatal System Error: 0x0000007f\n                       (0x00000008,0x803FB000,0x00000000,0x00000000)\n\n"
                                "Entered debugger on embedded INT3 at 0x0008:0x80412345.\nEip:\n<ntoskrnl.exe:1>\nFrames:\n"
                                "\nType \"help\" for a list of commands.\n\nkdb:> "), b"")
        self.assertTrue(r.fatal)

    def test_prompt_split_across_reads_is_answered_once(self):
        r = serial_log.Responder()
        self.assertEqual(r.feed("... (boi"), b"")
        self.assertEqual(r.feed("pt)? \r\nkdb"), b"")
        self.assertEqual(r.feed(":> "), b"o\r")
        self.assertEqual(r.feed("o\r\n"), b"")

    def test_terminal_queries_and_pager_are_answered(self):
        r = serial_log.Responder()
        self.assertEqual(r.feed("\x1b[?7h\x1b[c"), b"\x1b[?1;0c")
        self.assertEqual(r.feed("\x1b[18t"), b"\x1b[8;500;200t")
        self.assertEqual(r.feed("line\n--- Press q to abort, any other key to continue ---"), b" ")

    def test_a_kernel_that_keeps_asking_is_stuck(self):
        r = serial_log.Responder(max_answers=5)
        for _ in range(10):
            r.feed("(boipt)? \r\nkdb:> ")
        self.assertTrue(r.stuck)
        self.assertEqual(r.answers, 5)


class ParseTests(unittest.TestCase):
    def test_bug_check_code_parameters_driver_and_frames(self):
        log = ("(ntoskrnl/mm/ARM3/sysldr.c:170) Loading: \\??\\E:\\BIN\\crash_on_ioctl.sys at F7A1B000 with 6 pages\n"
               "\nEntered debugger on last-chance exception (Exception Code: 0xc0000005) (Page Fault)\n"
               "Memory at 0x00000010 could not be accessed\nkdb:> bt\nEip:\n<crash_on_ioctl.sys:1010>\nFrames:\n"
               "<crash_on_ioctl.sys:1080>\n<ntoskrnl.exe:2a1b3 (ntoskrnl/io/iomgr/irp.c:1201 (IofCallDriver))>\n<F7A1C0FF>\nkdb:> cont\n"
               "\n*** Fatal System Error: 0x0000008e\n                       (0xC0000005,0xF7A1C010,0xF5B2FB7C,0x00000000)\n\n"
               "Driver at fault: crash_on_ioctl.sys.\nEntered debugger on embedded INT3 at 0x0008:0x80412345.\nkdb:> bt\n"
               "Eip:\n<ntoskrnl.exe:1234>\nFrames:\n<ntoskrnl.exe:5678>\n<crash_on_ioctl.sys:1010>\nkdb:> ")
        rep = serial_log.parse(log, ["crash_on_ioctl.sys"])
        self.assertEqual(rep.loads, {"crash_on_ioctl.sys": 0xF7A1B000})
        self.assertEqual([s.kind for s in rep.stops], ["exception", "bugcheck"])
        exc, bc = rep.stops
        self.assertEqual(exc.code, 0xC0000005)
        self.assertEqual([f.where() for f in exc.frames],
                         ["crash_on_ioctl.sys+0x1010", "crash_on_ioctl.sys+0x1080",
                          "ntoskrnl.exe+0x2a1b3  IofCallDriver  ntoskrnl/io/iomgr/irp.c:1201", "crash_on_ioctl.sys+0x10ff"])
        self.assertEqual(exc.frames[0].address, 0xF7A1C010)
        self.assertEqual(bc.code, 0x8E)
        self.assertEqual(bc.params, [0xC0000005, 0xF7A1C010, 0xF5B2FB7C, 0])
        self.assertEqual(bc.driver_at_fault, "crash_on_ioctl.sys")
        self.assertEqual(bc.frames[-1].module, "crash_on_ioctl.sys")

    def test_driver_lines_only_the_payloads(self):
        log = "(ntoskrnl/io/iomgr/driver.c:12) noise\nskeleton: DriverEntry: hi\r\nother: no\nSKELETON: IRP_MJ_CREATE -> status=0x00000000\n"
        self.assertEqual(serial_log.parse(log, ["skeleton.sys"]).driver_lines,
                         ["skeleton: DriverEntry: hi", "SKELETON: IRP_MJ_CREATE -> status=0x00000000"])

    def test_recorded_logs(self):
        """Every recorded ReactOS log in data/ parses to what its .expect file says."""
        logs = sorted(DATA.glob("*.log"))
        if not logs:
            self.skipTest("no recorded logs")
        for log in logs:
            with self.subTest(log.name):
                expect = {}
                for line in (log.with_suffix(".expect")).read_text().splitlines():
                    key, _, value = line.partition("=")
                    expect.setdefault(key.strip(), []).append(value.strip())
                rep = serial_log.parse(data(log.name), expect.get("drivers", [""])[0].split(","))
                for want in expect.get("driver_line", []):
                    self.assertIn(want, rep.driver_lines)
                self.assertEqual([s.summary for s in rep.stops], expect.get("stop", []))
                for want in expect.get("fault", []):
                    self.assertIn(want, [s.fault.where() for s in rep.stops if s.fault])
                for want in expect.get("frame", []):
                    self.assertIn(want, [f.where() for s in rep.stops for f in s.frames])
                # the responder answers every prompt in the log and is not stuck
                r = serial_log.Responder()
                r.feed(data(log.name))
                self.assertFalse(r.stuck)


X86_BIN = Path(os.environ.get("KMD_X86_BIN_DIR") or ROOT / "build" / "bin" / "x86")


@unittest.skipUnless((X86_BIN / "crash_on_ioctl.sys").is_file() and shutil.which("llvm-dwarfdump-14"), "x86 build absent")
class SymbolizeTests(unittest.TestCase):
    def test_a_frame_in_the_crashing_driver_is_named_with_file_and_line(self):
        dump = subprocess.run(["llvm-dwarfdump-14", "--name=record_request", str(X86_BIN / "crash_on_ioctl.sys")],
                              capture_output=True, text=True).stdout
        low = int(dump.split("DW_AT_low_pc")[1].split("(")[1].split(")")[0], 16)
        rva = low - 0x400000 + 2  # inside record_request, as KDBG prints it (relative to the image base)
        rep = serial_log.parse("\n*** Fatal System Error: 0x0000008e\n   (0xC0000005,0xF7A1C010,0xF5B2FB7C,0x00000000)\n"
                               f"kdb:> bt\nEip:\n<crash_on_ioctl.sys:{rva:x}>\nFrames:\n<ntoskrnl.exe:1234>\n<skeleton.sys:3463>\nkdb:> ", [])
        serial_log.symbolize(rep, [X86_BIN])
        frames = rep.stops[0].frames
        # DWARF gives "(anonymous namespace)::record_request(...)", a PDB beside the image "`anonymous namespace'::record_request"
        self.assertIn("record_request", frames[0].function)
        self.assertTrue(frames[0].file.endswith("crash_on_ioctl.cpp"), frames[0].file)
        self.assertIsNone(frames[1].function)  # not a kit image
        self.assertIsNone(frames[2].function)  # a release image: no line information, so no name


class FreeldrTests(unittest.TestCase):
    INI = ("[FREELOADER]\r\nDefaultOS=ReactOS_KdSerial\r\nTimeOut=0\r\n\r\n[Display]\r\nTitleText=ReactOS Boot Manager\r\n\r\n"
           "[Operating Systems]\r\nReactOS=\"ReactOS\"\r\nReactOS_Debug=\"ReactOS (Debug)\"\r\n\r\n"
           "[ReactOS]\r\nBootType=Windows2003\r\nSystemPath=multi(0)disk(0)rdisk(0)partition(1)\\ReactOS\r\nOptions=/FASTDETECT\r\n\r\n"
           "[ReactOS_Debug]\r\nBootType=Windows2003\r\nSystemPath=multi(0)disk(0)rdisk(0)partition(1)\\ReactOS\r\n"
           "Options=/DEBUG /DEBUGPORT=COM1 /BAUDRATE=115200 /SOS\r\n")

    def test_lane_entry_is_default_with_the_debugger_on_com1(self):
        out = image.patch_freeldr_ini(self.INI)
        self.assertIn("DefaultOS=KmdLane\r\nTimeOut=0", out)
        self.assertIn('KmdLane="ReactOS (Skeleton KMD lane)"', out)
        self.assertIn("[KmdLane]\r\nBootType=Windows2003\r\nSystemPath=multi(0)disk(0)rdisk(0)partition(1)\\ReactOS\r\n"
                      "Options=/DEBUG /DEBUGPORT=COM1 /BAUDRATE=115200 /SOS /KDSERIAL", out)
        self.assertIn("[ReactOS]\r\nBootType=Windows2003", out)  # the others stay
        self.assertEqual(out.count("DefaultOS="), 1)
        self.assertEqual(image.patch_freeldr_ini(out), out)  # idempotent

    def test_bootcd_setup_boots_with_the_debugger_on_com1(self):
        ini = ("[FREELOADER]\r\nDefaultOS=Setup\r\nTimeOut=5\r\n\r\n[Display]\r\nMinimalUI=Yes\r\n\r\n[Operating Systems]\r\n"
               "Setup=\"Setup\"\r\n\r\n[Setup]\r\nBootType=ReactOSSetup\r\n")
        out = image.patch_bootcd_ini(ini)
        self.assertIn("[FREELOADER]\r\nDefaultOS=KmdLaneSetup\r\nTimeOut=0\r\n\r\n[Display]", out)
        self.assertIn('[Operating Systems]\r\nKmdLaneSetup="Setup (Skeleton KMD lane)"\r\nSetup="Setup"', out)
        self.assertTrue(out.endswith("[KmdLaneSetup]\r\nBootType=ReactOSSetup\r\nOptions=/DEBUG /DEBUGPORT=COM1 /BAUDRATE=115200 /SOS /KDSERIAL\r\n"))
        self.assertEqual(image.patch_bootcd_ini(out), out)

    def test_not_a_freeldr_ini(self):
        with self.assertRaises(ValueError):
            image.patch_freeldr_ini("[boot loader]\ntimeout=30\n")


class InstallEndTests(unittest.TestCase):
    BANNER = "(/ntoskrnl/kd64/kdinit.c:95) ReactOS 0.4.16-x86-dev (Build 20261202-unknown-revision) (Commit unknown-hash)\r\n"

    def test_over_at_the_third_kernel_start(self):
        # text-mode setup, GUI setup, then the installed system's own first boot
        self.assertFalse(image.install_complete(self.BANNER + "setup...\r\n" + self.BANNER))
        self.assertTrue(image.install_complete(self.BANNER * 2 + "...\r\n" + self.BANNER))


class TxtsetupTests(unittest.TestCase):
    def test_import_added_once_after_the_isos_own(self):
        sif = "[Version]\r\n\r\n[HiveInfs.Install]\r\n; comment\r\nAddReg = registry.inf,AddReg\r\n\r\n[HiveInfs.Upgrade]\r\nAddReg = registry.inf,AddReg\r\n"
        out = image.patch_txtsetup(sif)
        self.assertIn("[HiveInfs.Install]\r\n; comment\r\nAddReg = registry.inf,AddReg\r\nAddReg = kmdlane.inf,AddReg\r\n\r\n[HiveInfs.Upgrade]", out)
        self.assertEqual(image.patch_txtsetup(out), out)
        with self.assertRaises(ValueError):
            image.patch_txtsetup("[Version]\n")

    def test_lane_inf_sets_the_debug_print_filter_and_the_runner(self):
        self.assertIn(r'"SYSTEM\CurrentControlSet\Control\Session Manager\Debug Print Filter","IHVDRIVER",0x00010001,0xffffffff',
                      image.KMDLANE_INF)
        self.assertIn(r'"SOFTWARE\Microsoft\Windows\CurrentVersion\Run","KmdLane"', image.KMDLANE_INF)
        # nobody is there to press OK: no hard-error popups, a crashing program is ended at once
        self.assertIn(r'"SYSTEM\CurrentControlSet\Control\Windows","ErrorMode",0x00010001,0x00000002', image.KMDLANE_INF)
        self.assertIn(r'CurrentVersion\AeDebug","Auto",0x00000000,"1"', image.KMDLANE_INF)
        self.assertIn("DisableGeckoInst = yes", image.UNATTEND_INF)
        self.assertIn("UnattendSetupEnabled = yes", image.UNATTEND_INF)


@unittest.skipUnless(HAVE_XORRISO, "xorriso not installed")
class RemasterTests(unittest.TestCase):
    def test_fake_bootcd_remastered_bootable_with_the_lanes_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            tree = t / "tree"
            (tree / "reactos").mkdir(parents=True)
            (tree / "loader").mkdir()
            (tree / "reactos" / "txtsetup.sif").write_bytes(b"[Version]\r\n\r\n[HiveInfs.Install]\r\nAddReg = registry.inf,AddReg\r\n")
            (tree / "reactos" / "unattend.inf").write_bytes(b"[Unattend]\r\nUnattendSetupEnabled = no\r\n")
            (tree / "reactos" / "reactos.cab").write_bytes(os.urandom(300000))
            (tree / "loader" / "isoboot.bin").write_bytes(b"\xeb\xfe" + bytes(2046))
            (tree / "freeldr.ini").write_bytes(b"[FREELOADER]\r\nDefaultOS=Setup\r\n\r\n[Operating Systems]\r\nSetup=\"Setup\"\r\n")
            src = t / "fake.iso"
            subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-J", "-V", "FAKEROS", "-b", "loader/isoboot.bin",
                            "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-o", str(src), str(tree)], check=True)
            dst = t / "lane.iso"
            image.remaster(src, dst)
            self.assertIn(b"UnattendSetupEnabled = yes", image.iso_read(dst, "/reactos/unattend.inf"))
            self.assertIn(b"IHVDRIVER", image.iso_read(dst, "/reactos/kmdlane.inf"))
            self.assertIn(b"AddReg = kmdlane.inf,AddReg", image.iso_read(dst, "/reactos/txtsetup.sif"))
            self.assertIn(b"DefaultOS=KmdLaneSetup", image.iso_read(dst, "/freeldr.ini"))
            self.assertEqual(image.iso_read(dst, "/reactos/reactos.cab"), (tree / "reactos" / "reactos.cab").read_bytes())
            rep = subprocess.run(["xorriso", "-indev", str(dst), "-report_el_torito", "as_mkisofs"],
                                 capture_output=True, text=True).stdout
            self.assertIn("-b '/loader/isoboot.bin'", rep)
            self.assertIn("-no-emul-boot", rep)
            self.assertIn("-boot-info-table", rep)

    def test_not_a_bootcd(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            (t / "tree").mkdir()
            (t / "tree" / "readme.txt").write_text("hi")
            subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(t / "x.iso"), str(t / "tree")], check=True)
            with self.assertRaisesRegex(ValueError, "not a ReactOS bootcd"):
                image.remaster(t / "x.iso", t / "y.iso")


@unittest.skipUnless(HAVE_MTOOLS, "mtools not installed")
class PayloadTests(unittest.TestCase):
    def test_disk_round_trip(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            (t / "kmdctl.exe").write_bytes(b"MZ" + os.urandom(5000))
            steps = [payload.Step("seed", r"%P%\BIN\kmdctl.exe run %P%\BIN\skeleton.sys"),
                     payload.Step("tests", r"%P%\BIN\t.exe", {"KMD_DRIVERS": r"skeleton=%P%\BIN\skeleton.sys"})]
            disk = t / "p.img"
            payload.make(disk, {"kmdctl.exe": t / "kmdctl.exe"}, steps, size_mb=32)
            mbr = disk.read_bytes()[:512]
            self.assertEqual(mbr[510:], b"\x55\xaa")
            self.assertEqual(struct.unpack_from("<I", mbr, 446 + 8)[0] * 512, payload.PART_OFFSET)
            self.assertEqual(image.first_partition_offset(disk), payload.PART_OFFSET)
            self.assertEqual(image.fat_read(disk, payload.PART_OFFSET, "/BIN/kmdctl.exe"), (t / "kmdctl.exe").read_bytes())
            script = image.fat_read(disk, payload.PART_OFFSET, "/RUN.CMD").decode()
            self.assertIn("%P%\\BIN\\kmdctl.exe run %P%\\BIN\\skeleton.sys > %P%\\OUT\\01.TXT 2>&1\r\n"
                          "set KMDLANE_RC=%ERRORLEVEL%\r\necho %KMDLANE_RC%> %P%\\OUT\\01.RC\r\n"
                          "dbgprint KMDLANE-STEP 01 seed exit=%KMDLANE_RC%\r\n", script)
            self.assertIn("set KMD_DRIVERS=skeleton=%P%\\BIN\\skeleton.sys\r\n", script)
            self.assertTrue(script.rstrip().endswith("fsutil volume dismount %P% & dbgprint KMDLANE-DONE & shutdown -s -t 0"))
            self.assertIsNotNone(image.fat_read(disk, payload.PART_OFFSET, "/" + payload.TAG))
            # what the guest writes: step 1 finished, step 2 never did
            image.fat_write(disk, payload.PART_OFFSET, "/OUT/01.TXT", b"[1/7] OpenSCManager\r\n")
            image.fat_write(disk, payload.PART_OFFSET, "/OUT/01.RC", b"0 \r\n")
            image.fat_write(disk, payload.PART_OFFSET, "/OUT/02.TXT", b"[ RUN      ] A.B\r\n")
            image.fat_write(disk, payload.PART_OFFSET, "/OUT/CURRENT.TXT", b"02 tests\r\n")
            results, markers = payload.read_results(disk, steps)
            self.assertEqual([(r.name, r.exit_code) for r in results], [("seed", 0), ("tests", None)])
            # an exit code the cache never wrote out comes from COM1's live markers
            results, _ = payload.read_results(disk, steps, "KMDLANE-STEP 02 tests begin\r\nKMDLANE-STEP 02 tests exit=1\r\n")
            self.assertEqual([(r.name, r.exit_code) for r in results], [("seed", 0), ("tests", 1)])
            self.assertEqual(results[0].output, "[1/7] OpenSCManager\n")
            self.assertEqual(markers["CURRENT.TXT"], "02 tests")
            self.assertEqual(markers["DONE.TXT"], "")

    def test_runner_on_the_installed_disk_finds_the_payload_by_its_tag(self):
        self.assertIn(r"if exist %%d:\KMDLANE.TAG %%d:\RUN.CMD %%d:", image.KMDLANE_CMD)


# A boot sector (GNU as, .code16, 45 bytes of code): prints its message on COM1 as KDBG asks a
# question ("... (boipt)? " and its "kdb:> "), waits for a byte there, and powers the VM off (PIIX4
# ACPI, port 0x604) if it is "o"; otherwise it halts for ever.
BOOT_SECTOR = bytes.fromhex(
    "fa31c08ed8baf803be2d7cac84c07403eeebf8bafd03eca80174fbbaf803ec3c6f7507b80020ba0406eff4ebfd"
) + b"KMDLANE-BOOT (boipt)? \r\nkdb:> \0"


@unittest.skipUnless(shutil.which("qemu-system-i386"), "qemu-system-i386 not installed")
class VmTests(unittest.TestCase):
    """vm.run against a boot sector that talks on COM1 as the kernel debugger does."""

    def disk(self, tmp: Path, message: bytes | None = None) -> Path:
        code = BOOT_SECTOR if message is None else BOOT_SECTOR.replace(b"(boipt)? ", message)
        image = bytearray(512 * 64)
        image[:len(code)] = code
        image[510:512] = b"\x55\xaa"
        path = tmp / "boot.img"
        path.write_bytes(bytes(image))
        return path

    def test_the_prompt_is_answered_over_com1_and_the_power_off_ends_the_run(self):
        import vm
        with tempfile.TemporaryDirectory() as tmp:
            out = vm.run([(self.disk(Path(tmp)), "raw")], Path(tmp) / "run", timeout=60)
            self.assertEqual(out.how, "poweroff", out.qemu_stderr)
            self.assertIn("KMDLANE-BOOT (boipt)? ", out.log)
            self.assertEqual((Path(tmp) / "run" / "com1.log").read_text(), out.log)
            self.assertFalse((Path(tmp) / "run" / "qemu.pid").exists())

    def test_a_guest_that_never_ends_is_killed_by_pid_at_the_limit(self):
        import vm
        with tempfile.TemporaryDirectory() as tmp:
            out = vm.run([(self.disk(Path(tmp), b"waiting.."), "raw")], Path(tmp) / "run", timeout=4)
            self.assertEqual(out.how, "timeout")
            self.assertLess(out.seconds, 30)
            with self.assertRaises(ProcessLookupError):
                os.kill(out.pid, 0)  # killed and reaped
            self.assertFalse((Path(tmp) / "run" / "qemu.pid").exists())
            self.assertIn("KMDLANE-BOOT waiting..", out.log)


class SkipTests(unittest.TestCase):
    def test_no_image_is_a_visible_skip(self):
        env = {k: v for k, v in os.environ.items() if k != "NT_ISO"}
        r = subprocess.run([sys.executable, str(ROOT / "kit" / "realkernel" / "realkernel.py"), "lane"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)
        self.assertIn("SKIPPED - no NT image given", r.stdout)


class CheckTests(unittest.TestCase):
    """A run's verdict (realkernel.check)."""
    SHUTDOWN = ("(/win32ss/user/winsrv/usersrv/shutdown.c:618) SrvExitWindowsEx(ClientId: 9c.338, Flags: 0x200)\r\n"
                "Terminating critical process 0xB110C020 (winlogon.exe)\r\n"
                "\r\n*** Fatal System Error: 0xc000021a\r\n                       (0x0031FF58,0x00000080,0x00000000,0x00000000)\r\n")

    def result(self, how, log, markers, codes, spec="seed"):
        import realkernel
        import vm
        rs = realkernel.run_specs(None)[spec]
        steps = [payload.StepResult(n, s.name, s.command, "", c) for n, (s, c) in enumerate(zip(rs.steps, codes), 1)]
        r = realkernel.RunResult(rs, vm.Outcome(how, 40, log, "", "tcg"), steps, markers, serial_log.parse(log, ["skeleton.sys"]))
        realkernel.check(r)
        return r

    def test_reactos_shutdown_bug_check_after_the_last_step_is_a_shutdown(self):
        r = self.result("bugcheck", self.SHUTDOWN, {"DONE.TXT": "done"}, [0])
        self.assertEqual(r.failures, [])
        self.assertIn("0xC000021A", r.end)

    def test_the_same_bug_check_before_the_steps_are_done_is_a_failure(self):
        r = self.result("bugcheck", self.SHUTDOWN, {"DONE.TXT": ""}, [None])
        self.assertIn("step 1 (seed) did not finish", r.failures)
        self.assertTrue(any("0xC000021A" in f for f in r.failures), r.failures)

    def test_an_assertion_fails_the_run(self):
        log = "\n*** Assertion failed: (DriverObject->Flags & DRVO_UNLOAD_INVOKED) == 0\n***   Source File: /ntoskrnl/io/iomgr/device.c, line 1227\n"
        r = self.result("poweroff", log, {"DONE.TXT": "done"}, [0])
        self.assertEqual(r.failures, ["kernel: Assertion failed: (DriverObject->Flags & DRVO_UNLOAD_INVOKED) == 0"
                                      " at /ntoskrnl/io/iomgr/device.c:1227"])

    def test_crash_run_needs_a_bug_check_naming_the_driver(self):
        r = self.result("poweroff", "", {}, [0, 0, 0], spec="crash")
        self.assertEqual(r.failures, ["expected a bug check, got none (run ended: poweroff)"])
        r = self.result("bugcheck", data("reactos-crash.log"), {}, [0, 0, None], spec="crash")
        self.assertEqual(r.failures, ["the bug check's frames do not name a function in crash_on_ioctl.sys"])  # not symbolized here


class GtestSummaryTests(unittest.TestCase):
    def test_summary(self):
        sys.path.insert(0, str(ROOT / "kit" / "realkernel"))
        import realkernel
        text = ("[==========] 30 tests from 8 test suites ran. (5000 ms total)\n[  PASSED  ] 27 tests.\n"
                "[  FAILED  ] 3 tests, listed below:\n[  FAILED  ] DelayPending.CancelIoExCancelsOnlyThatRequest\n"
                "[  FAILED  ] DeviceSecurity.DaclAdmitsOnlySystemAndAdministrators\n"
                "[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] DelayPending.CancelIoExCancelsOnlyThatRequest\n")
        s = realkernel.gtest_summary(text)
        self.assertEqual(s["ran"], 30)
        self.assertEqual(s["passed"], 27)
        self.assertEqual(s["failed"], ["DelayPending.CancelIoExCancelsOnlyThatRequest",
                                       "DeviceSecurity.DaclAdmitsOnlySystemAndAdministrators"])
        self.assertEqual(s["skipped"], ["DelayPending.CancelIoExCancelsOnlyThatRequest"])


if __name__ == "__main__":
    unittest.main()
