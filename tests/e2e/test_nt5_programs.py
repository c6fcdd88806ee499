"""The x86 user-mode programs (kmdctl, the device tests, stress, bench, hold_service) start on
NT 5.x: every import they take from a system DLL with a Windows XP SP3 export list
(kit/lint/xp_sp3_exports, what pe_lint's x86-xp-imports rule reads) is in that list. The first run
on a real NT 5.2 kernel found kmdctl.exe failing to load on CompareStringOrdinal and the device
tests on CancelIoEx (kit/loader/nt5_compat.hpp resolves those at run time now), and ReactOS
warning "Accepting image version 6.0, although ReactOS is an NT 5.2 OS!" for each of them. msvcrt.dll and
shell32.dll have no list yet: their imports are not judged here. Host only: no Wine."""
import os
import unittest
from pathlib import Path

import pefile

ROOT = Path(__file__).resolve().parents[2]
X86_BIN = Path(os.environ.get("KMD_X86_BIN_DIR", ROOT / "build" / "bin" / "x86"))
LISTS = ROOT / "kit" / "lint" / "xp_sp3_exports"
PROGRAMS = ["kmdctl.exe", "skeleton_device_tests.exe", "skeleton_stress.exe", "skeleton_bench.exe", "hold_service.exe"]


def imports_read(path: Path) -> pefile.PE:
    """The image with its import directory parsed (DIRECTORY_ENTRY_IMPORT), and nothing else."""
    pe = pefile.PE(str(path), fast_load=True)
    pe.parse_data_directories([pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
    return pe


class Nt5Programs(unittest.TestCase):
    def test_every_import_with_an_xp_list_is_in_it(self):
        lists = {p.name[:-4].lower(): set(p.read_text().split()) for p in LISTS.glob("*.txt")}
        self.assertIn("kernel32.dll", lists)
        for program in PROGRAMS:
            path = X86_BIN / program
            self.assertTrue(path.is_file(), f"{path} was not built")
            pe = imports_read(path)
            checked = 0
            for entry in pe.DIRECTORY_ENTRY_IMPORT:
                dll = entry.dll.decode().lower()
                if dll not in lists:
                    continue
                missing = [i.name.decode() for i in entry.imports if i.name and i.name.decode() not in lists[dll]]
                self.assertEqual([], missing, f"{program} imports from {dll} what XP SP3 lacks")
                checked += len(entry.imports)
            self.assertGreater(checked, 50, f"{program}: too few imports checked")
            # The version the image asks for: XP's (5.01), so NT 5.x starts it without a word.
            opt = pe.OPTIONAL_HEADER
            self.assertEqual((5, 1), (opt.MajorSubsystemVersion, opt.MinorSubsystemVersion), f"{program}: subsystem version")
            self.assertEqual((5, 1), (opt.MajorOperatingSystemVersion, opt.MinorOperatingSystemVersion), f"{program}: OS version")


if __name__ == "__main__":
    unittest.main()
