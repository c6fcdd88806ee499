"""skeleton.sys as an image: what the kernel loader and memory integrity (HVCI) demand, checked
by kit/lint/pe_lint.py, and each lint rule proven to fire on a deliberately broken copy."""
import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pefile

from e2e_support import ARCH, BIN_DIR, DRIVER, ROOT

LINT = ROOT / "kit" / "lint" / "pe_lint.py"
sys.path.insert(0, str(LINT.parent))
import pe_lint  # noqa: E402  (to find what a broken copy breaks: the cookie handler, the entry's callee)


def lint_process(path: Path, *extra: str) -> subprocess.CompletedProcess:
    """pe_lint.py as the build's post-link check runs it: a process of its own."""
    return subprocess.run([sys.executable, str(LINT), *extra, str(path)], capture_output=True, text=True)


def lint(path: Path, *extra: str) -> subprocess.CompletedProcess:
    """pe_lint.main in this process: the same rules, output and exit status as lint_process, without
    a Python start and the pefile and capstone imports for each image (0.3 s of 0.35 s a call)."""
    out, err = io.StringIO(), io.StringIO()
    argv = [*extra, str(path)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = pe_lint.main(argv)
        except SystemExit as e:  # argparse's usage errors
            rc = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess([str(LINT), *argv], rc, out.getvalue(), err.getvalue())


class SkeletonImage(unittest.TestCase):
    def setUp(self):
        self.pe = pefile.PE(str(DRIVER))
        self.addCleanup(self.pe.close)

    def test_subsystem_is_native(self):
        self.assertEqual(1, self.pe.OPTIONAL_HEADER.Subsystem)

    def test_imports_only_from_the_kernel(self):
        dlls = {e.dll.decode().lower() for e in self.pe.DIRECTORY_ENTRY_IMPORT}
        self.assertTrue(dlls <= {"ntoskrnl.exe", "hal.dll"}, dlls)
        self.assertIn("ntoskrnl.exe", dlls)
        names = {i.name.decode() for e in self.pe.DIRECTORY_ENTRY_IMPORT for i in e.imports}
        self.assertTrue({"IoCreateDevice", "IoCreateSymbolicLink", "IoDeleteDevice", "IoDeleteSymbolicLink"} <= names, names)
        # The METHOD_NEITHER guard: x64's __try/__except dispatches through __C_specific_handler;
        # x86's hand-made frame handler unwinds with RtlUnwind (kit/driver/kmd/guarded_x86.cpp).
        self.assertIn("RtlUnwind" if ARCH == "x86" else "__C_specific_handler", names, "the SEH guard must be compiled in")

    def test_checksum_is_correct_and_not_zero(self):
        self.assertNotEqual(0, self.pe.OPTIONAL_HEADER.CheckSum)
        self.assertEqual(self.pe.generate_checksum(), self.pe.OPTIONAL_HEADER.CheckSum)

    def test_has_relocations(self):
        self.assertTrue(hasattr(self.pe, "DIRECTORY_ENTRY_BASERELOC") and self.pe.DIRECTORY_ENTRY_BASERELOC)

    def test_machine_is_the_builds(self):
        self.assertEqual({"x64": 0x8664, "x86": 0x014C}[ARCH], self.pe.FILE_HEADER.Machine)

    def test_lint_passes_on_every_driver_we_build(self):
        for image in (DRIVER, *(BIN_DIR / f"{name}.sys" for name in ("entry_fails", "link_squatter", "neither_prober"))):
            result = lint(image)
            self.assertEqual(0, result.returncode, result.stdout + result.stderr)
            self.assertIn(f"{len(pe_lint.RULES)} passed, 0 failed", result.stdout)
        # The command line itself, as the post-link check runs it: the same words, exit 0.
        process = lint_process(DRIVER)
        self.assertEqual((0, lint(DRIVER).stdout), (process.returncode, process.stdout), process.stderr)
        self.assertEqual(18, len(pe_lint.RULES))


class DebugAndHardening(unittest.TestCase):
    """What the kit's link gives every driver (kit/cmake/KmdDriver.cmake), read from skeleton.sys."""

    def setUp(self):
        self.pe = pefile.PE(str(DRIVER))
        self.addCleanup(self.pe.close)

    def codeview(self) -> bytes:
        entry = next(e for e in self.pe.DIRECTORY_ENTRY_DEBUG if e.struct.Type == 2)
        return self.pe.get_data(entry.struct.AddressOfRawData, entry.struct.SizeOfData)

    def test_the_pdb_beside_the_image_is_the_one_its_debug_directory_names(self):
        cv = self.codeview()
        self.assertEqual(b"RSDS", cv[:4])
        self.assertEqual(b"skeleton.pdb", cv[24:].split(b"\0")[0], "the bare file name (/pdbaltpath:%_PDB%)")
        pdb = DRIVER.with_suffix(".pdb")
        self.assertTrue(pdb.is_file())
        summary = subprocess.run(["llvm-pdbutil", "dump", "--summary", str(pdb)], capture_output=True, text=True).stdout
        guid = cv[4:20]
        d1, d2, d3 = int.from_bytes(guid[0:4], "little"), int.from_bytes(guid[4:6], "little"), int.from_bytes(guid[6:8], "little")
        text = f"{{{d1:08X}-{d2:04X}-{d3:04X}-{guid[8:10].hex().upper()}-{guid[10:16].hex().upper()}}}"
        self.assertIn(f"GUID: {text}", summary)
        self.assertIn(f"Age: {int.from_bytes(cv[20:24], 'little')}", summary)
        self.assertIn("Has Debug Info: true", summary)

    def test_release_images_carry_line_tables_and_the_pdb_names_lines_too(self):
        names = {sec.Name.rstrip(b"\0") for sec in self.pe.sections}
        # Long section names live in the COFF string table: pefile shows "/4"-style names. Ask llvm-readobj.
        sections = subprocess.run(["llvm-readobj", "--sections", str(DRIVER)], capture_output=True, text=True).stdout
        self.assertIn(".debug_line", sections, names)
        self.assertIn(".debug_info", sections)
        # llvm-symbolizer (which reads the PDB first) names DriverEntry's file and line.
        entry = hex(self.pe.OPTIONAL_HEADER.AddressOfEntryPoint)
        out = subprocess.run(["llvm-symbolizer", f"--obj={DRIVER}", "--relative-address", entry], capture_output=True,
                             text=True).stdout
        self.assertRegex(out, r"KmdDriverEntry\n\S*stack_cookie\.cpp:\d+:")

    def test_x86_images_claim_windows_xp(self):
        version = (self.pe.OPTIONAL_HEADER.MajorSubsystemVersion, self.pe.OPTIONAL_HEADER.MinorSubsystemVersion)
        if ARCH == "x86":
            self.assertEqual((5, 1), version)
        else:
            self.assertGreaterEqual(version, (6, 0))


class LintRulesFire(unittest.TestCase):
    """Each rule against a copy of skeleton.sys broken in exactly that one way."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="pe_lint_"))
        self.addCleanup(shutil.rmtree, self.tmp)

    def broken(self, name: str, breaker, fix_checksum: bool = True) -> Path:
        pe = pefile.PE(str(DRIVER))
        breaker(pe)
        if fix_checksum:
            pe.OPTIONAL_HEADER.CheckSum = pe.generate_checksum()
        path = self.tmp / f"{name}.sys"
        pe.write(str(path))
        pe.close()
        if fix_checksum:  # generate_checksum sees the header before write(); settle it on the file
            again = pefile.PE(str(path))
            again.OPTIONAL_HEADER.CheckSum = again.generate_checksum()
            data = again.write()
            again.close()
            path.write_bytes(data)
        return path

    def assertOnlyRuleFails(self, path: Path, rule: str, reason: str):
        result = lint(path)
        self.assertEqual(1, result.returncode, result.stdout)
        failed = [l for l in result.stdout.splitlines() if " FAIL " in l]
        self.assertEqual(1, len(failed), result.stdout)
        self.assertIn(f"FAIL {rule}: ", failed[0])
        self.assertIn(reason, failed[0])
        self.assertIn("[", failed[0], "each failure cites the rule it stands for")

    def test_subsystem(self):
        def b(pe): pe.OPTIONAL_HEADER.Subsystem = 2  # WINDOWS_GUI
        self.assertOnlyRuleFails(self.broken("gui", b), "native-subsystem", "subsystem is 2")

    def test_imports(self):
        def b(pe):
            # "ntoskrnl.exe" and "kernel32.dll" have the same length: rename the import in place.
            # Found by name, not position: skeleton.sys also imports hal.dll (KeQueryPerformanceCounter),
            # and a shorter name overwritten with 12 bytes would corrupt what follows it.
            entry = next(e for e in pe.DIRECTORY_ENTRY_IMPORT if e.dll.lower() == b"ntoskrnl.exe")
            pe.set_bytes_at_rva(entry.struct.Name, b"kernel32.dll")
        if ARCH == "x86":  # x86-xp-imports rightly fires too: XP's kernel32.dll has no IoCreateDevice
            result = lint(self.broken("user_import", b))
            failed = [l.split(" FAIL ", 1)[1].split(":", 1)[0] for l in result.stdout.splitlines() if " FAIL " in l]
            self.assertEqual(["kernel-imports-only", "x86-xp-imports"], failed, result.stdout)
            self.assertIn("imports from kernel32.dll (", result.stdout)
            return
        self.assertOnlyRuleFails(self.broken("user_import", b), "kernel-imports-only", "imports from kernel32.dll (")

    def test_checksum(self):
        def b(pe): pe.OPTIONAL_HEADER.CheckSum = 0
        self.assertOnlyRuleFails(self.broken("zero_checksum", b, fix_checksum=False), "checksum", "PE checksum is 0x00000000")

    def test_relocations(self):
        def b(pe):
            d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_BASERELOC"]]
            d.VirtualAddress, d.Size = 0, 0
        self.assertOnlyRuleFails(self.broken("no_relocs", b), "relocations", "no base relocation directory")

    def test_writable_executable(self):
        def b(pe):
            text = next(s for s in pe.sections if s.Name.startswith(b".text"))
            text.Characteristics |= 0x80000000
        self.assertOnlyRuleFails(self.broken("wx", b), "no-writable-executable", ".text")

    def test_page_alignment(self):
        def b(pe):
            pe.sections[-1].VirtualAddress += 0x200
        self.assertOnlyRuleFails(self.broken("misaligned", b), "page-aligned-sections", "not page-aligned")

    def test_nx_and_dynamic_base(self):
        def b(pe): pe.OPTIONAL_HEADER.DllCharacteristics &= ~0x0100
        self.assertOnlyRuleFails(self.broken("no_nx", b), "nx-and-dynamic-base", "lacks NX_COMPAT")

    def test_tls(self):
        def b(pe):
            d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_TLS"]]
            d.VirtualAddress, d.Size = pe.sections[-1].VirtualAddress, 0x28
        self.assertOnlyRuleFails(self.broken("tls", b), "no-tls", "has a TLS directory")

    def test_dll_flag(self):
        def b(pe): pe.FILE_HEADER.Characteristics |= 0x2000  # IMAGE_FILE_DLL
        self.assertOnlyRuleFails(self.broken("dll", b), "not-a-dll", "IMAGE_FILE_DLL is set")

    def test_exports(self):
        # A driver that exports on purpose (built with kmd_add_driver(... EXPORTS)) passes only
        # when the lint is told so.
        exporter = BIN_DIR / "exports_on_purpose.sys"
        # (x86: an NTAPI export keeps its __stdcall decoration, @ and its argument bytes.)
        name = "KmdExportedOnPurpose@4" if ARCH == "x86" else "KmdExportedOnPurpose"
        self.assertOnlyRuleFails(exporter, "no-exports", f"exports 1 symbol(s) ({name})")
        self.assertEqual(0, lint(exporter, "--allow-exports").returncode)

    def test_unwind_data(self):
        if ARCH == "x86":
            # x86 has no table-based unwinding: the rule has nothing to check, and says ok.
            self.assertIn(f"{DRIVER}: ok   x64-unwind-data", lint(DRIVER).stdout)
            return
        def b(pe):
            d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
            d.VirtualAddress, d.Size = 0, 0
        path = self.broken("no_pdata", b)
        result = lint(path)
        failed = [l for l in result.stdout.splitlines() if " FAIL " in l]
        # Without .pdata the __try scope tables (reached through it) are gone too: exactly these two.
        self.assertEqual(2, len(failed), result.stdout)
        self.assertIn("FAIL x64-unwind-data: ", failed[0])
        self.assertIn("have no unwind data (", failed[0])
        self.assertIn("FAIL probes-inside-try: ", failed[1])

    def test_probes_inside_try(self):
        if ARCH == "x86":
            # x86 SEH is frame-based: no scope tables in the image, so the rule has nothing to check.
            self.assertIn(f"{DRIVER}: ok   probes-inside-try", lint(DRIVER).stdout)
            return
        # Empty every __try range of the image's __C_specific_handler scope tables (End = Begin):
        # the ProbeFor* calls and the user-buffer copies of METHOD_NEITHER are then unguarded.
        def b(pe):
            d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
            table = pe.get_data(d.VirtualAddress, d.Size)
            emptied = 0
            for off in range(0, len(table) - 11, 12):
                unwind = int.from_bytes(table[off + 8:off + 12], "little")
                head = pe.get_data(unwind, 4)
                if not unwind or not (head[0] >> 3) & 3 or (head[0] >> 3) & 4:
                    continue
                after = unwind + 4 + 2 * (head[2] + (head[2] & 1))
                count = int.from_bytes(pe.get_data(after + 4, 4), "little")
                if count > 64:
                    continue  # not a C scope table (another language handler's data)
                for i in range(count):
                    entry = after + 8 + 16 * i
                    pe.set_bytes_at_rva(entry + 4, bytes(pe.get_data(entry, 4)))  # EndAddress = BeginAddress
                    emptied += 1
            self.assertGreater(emptied, 0)
        self.assertOnlyRuleFails(self.broken("unguarded", b), "probes-inside-try", "user-memory access outside any __try/__except: ")

    def test_x86_seh_enabled(self):
        def b(pe): pe.OPTIONAL_HEADER.DllCharacteristics |= 0x0400  # IMAGE_DLLCHARACTERISTICS_NO_SEH
        if ARCH == "x86":
            self.assertOnlyRuleFails(self.broken("no_seh", b), "x86-seh-enabled", "has NO_SEH")
        else:  # x64 SEH is table-based: the flag means nothing there, and x64-unwind-data checks it
            self.assertEqual(0, lint(self.broken("no_seh", b)).returncode)

    def codeview_entry(self, pe):
        return next(e for e in pe.DIRECTORY_ENTRY_DEBUG if e.struct.Type == 2)

    def test_pdb_debug_directory_missing(self):
        def b(pe): self.codeview_entry(pe).struct.Type = 0  # no longer CodeView: no PDB named
        self.assertOnlyRuleFails(self.broken("no_pdb", b), "pdb-debug-directory", "no CodeView debug directory entry")

    def test_pdb_named_by_a_build_path(self):
        def b(pe):
            e = self.codeview_entry(pe)  # pefile writes the parsed record back: change it there
            e.entry.PdbFileName = b"C:/b/ske.pdb" + e.entry.PdbFileName[12:]  # as long as "skeleton.pdb"
        self.assertOnlyRuleFails(self.broken("pdb_path", b), "pdb-debug-directory", "names the PDB by a path (C:/b/ske.pdb)")

    def test_cet_compatible(self):
        def b(pe):
            e = next(e for e in pe.DIRECTORY_ENTRY_DEBUG if e.struct.Type == 20)
            pe.set_bytes_at_rva(e.struct.AddressOfRawData, b"\0\0\0\0")
        if ARCH == "x86":  # no CET for x86 kernels: the rule has nothing to check
            self.assertIn(f"{DRIVER}: ok   cet-compatible", lint(DRIVER).stdout)
            return
        self.assertOnlyRuleFails(self.broken("no_cet", b), "cet-compatible", "lack CET_COMPAT")

    def test_stack_cookies_never_checked(self):
        # Every call to the cookie-failure handler replaced by NOPs: the image of a build without
        # -fstack-protector-strong, whose big frames hold buffers no check guards.
        def b(pe):
            instructions = list(pe_lint._code_instructions(pe))
            handler = pe_lint._stack_cookie_handler(pe, instructions)
            self.assertIsNotNone(handler)
            sites = [(a, sz) for a, sz, m, op in instructions if m == "call" and pe_lint._direct_target(op) == handler]
            self.assertGreater(len(sites), 3, "skeleton.sys has functions with stack buffers")
            for a, sz in sites:
                pe.set_bytes_at_rva(a, b"\x90" * sz)
        self.assertOnlyRuleFails(self.broken("no_cookies", b), "stack-cookies", "no function checks a stack cookie, though ")

    def test_stack_cookie_never_seeded(self):
        # The entry point moved past the kit's KmdDriverEntry to the DriverEntry it calls last: the
        # cookie keeps its link-time value.
        def b(pe):
            instructions = list(pe_lint._code_instructions(pe))
            entry = pe.OPTIONAL_HEADER.AddressOfEntryPoint
            at = [a for a, *_ in instructions].index(entry)
            target = None
            for a, sz, m, op in instructions[at:at + 400]:  # x86: the seed's 64-bit mixing is inlined
                if m in ("call", "jmp") and pe_lint._direct_target(op) is not None:
                    target = pe_lint._direct_target(op)  # the last one: DriverEntry
                if m in ("ret", "jmp"):
                    break
            self.assertIsNotNone(target)
            pe.OPTIONAL_HEADER.AddressOfEntryPoint = target
        self.assertOnlyRuleFails(self.broken("unseeded", b), "stack-cookies", "does not seed the cookie")

    def test_x86_subsystem_version(self):
        def b(pe): pe.OPTIONAL_HEADER.MajorSubsystemVersion, pe.OPTIONAL_HEADER.MinorSubsystemVersion = 6, 0
        if ARCH == "x86":
            self.assertOnlyRuleFails(self.broken("vista_subsystem", b), "x86-subsystem-version", "subsystem version 6.00")
        else:  # x64 images need Windows 8 anyway: nothing to check
            self.assertEqual(0, lint(self.broken("vista_subsystem", b)).returncode)

    def test_x86_xp_imports(self):
        # An import Windows XP SP3 lacks: IoDeleteDevice renamed in place to a Vista-only export of
        # the same length (EtwRegister is 11 characters: padded with its NUL).
        def b(pe):
            for entry in pe.DIRECTORY_ENTRY_IMPORT:
                for imp in entry.imports:
                    if imp.name == b"IoDeleteDevice":
                        pe.set_bytes_at_offset(imp.name_offset, b"EtwRegister\0\0\0")  # a file offset
                        return
            self.fail("IoDeleteDevice is not imported")
        if ARCH == "x86":
            self.assertOnlyRuleFails(self.broken("vista_import", b), "x86-xp-imports",
                                     "1 import(s) missing from Windows XP SP3: ntoskrnl.exe!EtwRegister")
        else:  # x64 images need Windows 8: XP's export set does not apply
            self.assertIn(f"{DRIVER}: ok   x86-xp-imports", lint(DRIVER).stdout)

    def test_not_a_pe_at_all(self):
        path = self.tmp / "text.sys"
        path.write_text("not an image\n")
        result = lint(path)
        self.assertEqual(2, result.returncode)
        self.assertIn("not a PE image", result.stdout)


if __name__ == "__main__":
    unittest.main()
