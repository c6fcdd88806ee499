"""skeleton.sys as an image: what the kernel loader and memory integrity (HVCI) demand, checked
by kit/lint/pe_lint.py, and each lint rule proven to fire on a deliberately broken copy."""
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pefile

from e2e_support import ARCH, BIN_DIR, DRIVER, ROOT

LINT = ROOT / "kit" / "lint" / "pe_lint.py"


def lint(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LINT), *extra, str(path)], capture_output=True, text=True)


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
            self.assertIn("13 passed, 0 failed", result.stdout)


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

    def test_not_a_pe_at_all(self):
        path = self.tmp / "text.sys"
        path.write_text("not an image\n")
        result = lint(path)
        self.assertEqual(2, result.returncode)
        self.assertIn("not a PE image", result.stdout)


if __name__ == "__main__":
    unittest.main()
