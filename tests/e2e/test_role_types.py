"""Every NT routine of the skeleton, the template and the kit's host shim is declared by its role
(DRIVER_INITIALIZE, DRIVER_DISPATCH, DRIVER_UNLOAD, DRIVER_CANCEL, KSTART_ROUTINE), dispatch
routines with the requests they serve (_Dispatch_type_), as Microsoft's samples declare theirs, so
a reader and Microsoft's static analysis see each routine's role. A source check: no Wine needed."""
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "samples/skeleton/nt/skeleton.cpp", ROOT / "samples/skeleton/nt/pending.cpp",
           ROOT / "kit/templates/driver/nt/driver.cpp", ROOT / "kit/winehost/kmdhost.cpp"]
ROLES = ("DRIVER_INITIALIZE", "DRIVER_DISPATCH", "DRIVER_UNLOAD", "DRIVER_CANCEL", "KSTART_ROUTINE")
# A definition of a routine the kernel calls: NTAPI, returning NTSTATUS or VOID, taking the
# kernel's objects. (Callbacks of other kinds, such as the image-load notification, are not roles.)
DEFINITION = re.compile(r"^(?:extern \"C\" )?(?:NTSTATUS|VOID) NTAPI (\S+)\((PDRIVER_OBJECT|PDEVICE_OBJECT|PVOID)", re.M)


class RoleTypes(unittest.TestCase):
    def test_every_kernel_called_routine_is_declared_by_its_role(self):
        for source in SOURCES:
            text = source.read_text()
            routines = DEFINITION.findall(text)
            self.assertTrue(routines, f"{source}: no routine found: the pattern is stale")
            for name, _ in routines:
                declared = re.search(rf"\b({'|'.join(ROLES)}) {re.escape(name)};", text)
                self.assertIsNotNone(declared, f"{source.name}: {name} has no role declaration ({', '.join(ROLES)})")
                defined_at = text.index(f"NTAPI {name}(")
                self.assertIn("_Use_decl_annotations_", text[max(0, defined_at - 200):defined_at],
                              f"{source.name}: {name}'s definition does not say it follows its declaration")
                if declared.group(1) == "DRIVER_DISPATCH" and "kmdhost" not in source.name:
                    self.assertRegex(text, rf"_Dispatch_type_\(IRP_MJ_\w+\)[^;]*DRIVER_DISPATCH {re.escape(name)};",
                                     f"{source.name}: {name} does not say which requests it serves")


if __name__ == "__main__":
    unittest.main()
