"""The driver package kmd_add_driver() writes: build/package/NAME/ with NAME.inf (a legacy,
"primitive driver" INF for the image's architecture) and the test-signed NAME.sys it installs;
the INF lint passes on it, and each of its rules is proven to fire on an INF broken one way."""
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pefile

from e2e_support import ARCH, BIN_DIR, KMDCTL, ROOT, Box, windows_path

INF_LINT = ROOT / "kit" / "lint" / "inf_lint.py"
# bin/ -> package/, bin/x86/ -> package/x86/ (kit/cmake/KmdDriver.cmake, kmd_project)
PACKAGES = BIN_DIR.parent / "package" if ARCH == "x64" else BIN_DIR.parent.parent / "package" / "x86"
PACKAGE = PACKAGES / "skeleton"
DECORATION = {"x64": "NTamd64", "x86": "NTx86"}[ARCH]
# The build's throw-away test-signing certificate (kit/signing/test_sign.sh), per Windows sub-build.
SIGNING = BIN_DIR.parent / "windows-x64" / "test-signing" if ARCH == "x64" else BIN_DIR.parent.parent / "windows-x86" / "test-signing"


def inf_lint(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(INF_LINT), *extra, str(path)], capture_output=True, text=True)


class Package(unittest.TestCase):
    def test_the_package_holds_the_inf_and_the_test_signed_sys(self):
        self.assertEqual({"skeleton.inf", "skeleton.sys"}, {p.name for p in PACKAGE.iterdir()})
        packaged = PACKAGE / "skeleton.sys"
        pe = pefile.PE(str(packaged))
        self.addCleanup(pe.close)
        security = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]]
        self.assertGreater(security.Size, 0, "an Authenticode signature")
        verified = subprocess.run(["osslsigncode", "verify", "-CAfile", str(SIGNING / "test-signing.crt"), "-in", str(packaged)],
                                  capture_output=True, text=True)
        self.assertIn("Signature verification: ok", verified.stdout + verified.stderr)
        # Without DWARF (the symbols are in the PDB), and the same code as the built image: the
        # CodeView entry names the same PDB, GUID and age.
        sections = subprocess.run(["llvm-readobj", "--sections", str(packaged)], capture_output=True, text=True).stdout
        self.assertNotIn(".debug_", sections)
        self.assertLess(packaged.stat().st_size, (BIN_DIR / "skeleton.sys").stat().st_size / 2)
        built = pefile.PE(str(BIN_DIR / "skeleton.sys"))
        self.addCleanup(built.close)

        def codeview(p):
            e = next(e for e in p.DIRECTORY_ENTRY_DEBUG if e.struct.Type == 2)
            return p.get_data(e.struct.AddressOfRawData, e.struct.SizeOfData)
        self.assertEqual(codeview(built), codeview(pe))
        self.assertEqual(built.sections[0].get_data(), pe.sections[0].get_data(), ".text is the built image's")
        lint = subprocess.run([sys.executable, str(ROOT / "kit" / "lint" / "pe_lint.py"), str(packaged)], capture_output=True, text=True)
        self.assertEqual(0, lint.returncode, lint.stdout)

    def test_the_inf_is_a_primitive_driver_inf_for_this_architecture(self):
        text = (PACKAGE / "skeleton.inf").read_bytes().decode("ascii")
        self.assertIn("\r\n", text)
        for line in ('Signature   = "$WINDOWS NT$"', "Class       = System",
                     "ClassGuid   = {4d36e97d-e325-11ce-bfc1-08002be10318}", "CatalogFile = skeleton.cat", "PnpLockdown = 1",
                     "DefaultDestDir = 13", f"[DefaultInstall.{DECORATION}]", f"[DefaultInstall.{DECORATION}.Services]",
                     "AddService = skeleton,,skeleton.Service", "ServiceType   = 1 ; SERVICE_KERNEL_DRIVER",
                     "StartType     = 3 ; SERVICE_DEMAND_START", "ErrorControl  = 1 ; SERVICE_ERROR_NORMAL",
                     "ServiceBinary = %13%\\skeleton.sys", "skeleton.sys = 1,,"):
            self.assertIn(line + "\r\n", text)
        self.assertRegex(text, r"DriverVer   = \d\d/\d\d/\d{4},1\.0\.0\.0\r\n")
        self.assertNotIn("[DefaultInstall]", text)

    def test_the_inf_lint_passes_on_every_package_we_build(self):
        for inf in sorted(PACKAGES.glob("*/*.inf")):
            with self.subTest(inf=inf.name):
                result = inf_lint(inf, "--service", inf.stem, "--sys", str(BIN_DIR / f"{inf.stem}.sys"))
                self.assertEqual(0, result.returncode, result.stdout)
                self.assertIn("7 passed, 0 failed", result.stdout)


@unittest.skipIf(ARCH == "x86", "e2e.x86.driver_package runs on the host only (no 32-bit Wine box): its INF is linted above")
class InstalledByTheInf(unittest.TestCase):
    """Wine's setupapi as an independent reader of the INF: InstallHinfSection on the package's
    DefaultInstall section creates the service the INF describes, and the driver it copied starts
    and answers. (Wine knows no DIRID 13, the driver store: it copies to system32\\unknown and
    points ImagePath there, consistently.)"""

    def test_install_hinf_section_creates_the_service_and_the_driver_runs(self):
        box = Box("package-install").create()
        self.addCleanup(box.close)
        inf = windows_path(PACKAGE / "skeleton.inf")
        installed = box.run(["rundll32.exe", "setupapi.dll,InstallHinfSection", f"DefaultInstall.{DECORATION}", "132", inf])
        self.assertEqual(0, installed.returncode, installed.describe())
        key = box.run(["reg.exe", "query", r"HKLM\System\CurrentControlSet\Services\skeleton"])
        self.assertEqual(0, key.returncode, key.describe())
        self.assertRegex(key.stdout, r"Type\s+REG_DWORD\s+0x1\b")          # SERVICE_KERNEL_DRIVER
        self.assertRegex(key.stdout, r"Start\s+REG_DWORD\s+0x3\b")         # SERVICE_DEMAND_START
        self.assertRegex(key.stdout, r"ErrorControl\s+REG_DWORD\s+0x1\b")  # SERVICE_ERROR_NORMAL
        self.assertRegex(key.stdout, r"ImagePath\s+REG_SZ\s+\S+\\skeleton\.sys")
        started = box.run(["sc.exe", "start", "skeleton"])
        self.assertIn("RUNNING", started.stdout, started.describe())
        hello = box.run([KMDCTL, "hello"])
        self.assertEqual("Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.", hello.stdout.strip(), hello.describe())
        self.assertIn("STOPPED", box.run([KMDCTL, "stop"]).stdout)
        self.assertEqual(0, box.run(["sc.exe", "delete", "skeleton"]).returncode)


class InfRulesFire(unittest.TestCase):
    """Each rule against a copy of skeleton.inf broken in exactly that one way."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="inf_lint_"))
        self.addCleanup(shutil.rmtree, self.tmp)
        shutil.copy(PACKAGE / "skeleton.sys", self.tmp / "skeleton.sys")
        self.text = (PACKAGE / "skeleton.inf").read_text()

    def broken(self, old: str, new: str, count: int = 1) -> Path:
        self.assertIn(old, self.text)
        path = self.tmp / "skeleton.inf"
        path.write_text(self.text.replace(old, new, count))
        return path

    def assertOnlyRuleFails(self, path: Path, rule: str, reason: str, *extra: str):
        result = inf_lint(path, "--service", "skeleton", "--sys", str(BIN_DIR / "skeleton.sys"), *extra)
        self.assertEqual(1, result.returncode, result.stdout)
        failed = [l for l in result.stdout.splitlines() if " FAIL " in l]
        self.assertEqual(1, len(failed), result.stdout)
        self.assertIn(f"FAIL {rule}: ", failed[0])
        self.assertIn(reason, failed[0])

    def test_syntax(self):
        self.assertOnlyRuleFails(self.broken("[Version]", "Orphan = 1\n[Version]"), "inf-syntax", "is outside any section")

    def test_signature(self):
        self.assertOnlyRuleFails(self.broken('"$WINDOWS NT$"', '"$CHICAGO$"'), "inf-version", 'Signature is \'"$CHICAGO$"\'')

    def test_pnp_lockdown(self):
        self.assertOnlyRuleFails(self.broken("PnpLockdown = 1", "PnpLockdown = 0"), "inf-version", "PnpLockdown is not 1")

    def test_driver_ver(self):
        self.assertOnlyRuleFails(self.broken(",1.0.0.0", ",1.0"), "inf-version", "is not MM/DD/YYYY,w.x.y.z")

    def test_undecorated_install_section(self):
        path = self.broken(f"[DefaultInstall.{DECORATION}]", "[DefaultInstall]")
        result = inf_lint(path, "--service", "skeleton")
        self.assertIn("FAIL inf-arch-decoration: [DefaultInstall] has no architecture decoration", result.stdout)

    def test_wrong_architecture(self):
        other = "NTx86" if DECORATION == "NTamd64" else "NTamd64"
        self.assertOnlyRuleFails(self.broken(f"DefaultInstall.{DECORATION}", f"DefaultInstall.{other}", 2),
                                 "inf-arch-decoration", "does not match the image's architecture")

    def test_copyfiles_names_a_missing_section(self):
        self.assertOnlyRuleFails(self.broken("CopyFiles = skeleton.CopyFiles", "CopyFiles = skeleton.CopyFiles,skeleton.Extra"),
                                 "inf-sections-exist", "CopyFiles names [skeleton.Extra], which does not exist")

    def test_addservice_names_a_missing_section(self):
        path = self.broken("AddService = skeleton,,skeleton.Service", "AddService = skeleton,,skeleton.Svc")
        result = inf_lint(path, "--service", "skeleton")
        self.assertIn("FAIL inf-sections-exist: AddService names [skeleton.Svc], which does not exist", result.stdout)

    def test_service_name(self):
        self.assertOnlyRuleFails(self.broken("AddService = skeleton,", "AddService = skelet0n,"), "inf-service",
                                 "AddService adds 'skelet0n', not the driver's service 'skeleton'")

    def test_service_type(self):
        self.assertOnlyRuleFails(self.broken("ServiceType   = 1", "ServiceType   = 16"), "inf-service",
                                 "ServiceType = 16, not 1")

    def test_service_binary_directory(self):
        self.assertOnlyRuleFails(self.broken("%13%\\skeleton.sys", "%12%\\skeleton.sys"), "inf-service",
                                 "ServiceBinary is in DIRID 12, but the files are copied to DIRID 13")

    def test_the_sys_is_not_the_built_one(self):
        path = self.broken("skeleton.sys", "other.sys", 99)
        shutil.copy(self.tmp / "skeleton.sys", self.tmp / "other.sys")
        self.assertOnlyRuleFails(path, "inf-installs-the-built-sys", "the INF installs other.sys, not the built skeleton.sys")

    def test_the_sys_is_not_beside_the_inf(self):
        path = self.broken("[Version]", "[Version]")
        (self.tmp / "skeleton.sys").unlink()
        self.assertOnlyRuleFails(path, "inf-installs-the-built-sys", "skeleton.sys is not beside the INF")

    def test_source_disk_files(self):
        self.assertOnlyRuleFails(self.broken("skeleton.sys = 1,,", "skeleton.sys = 2,,"), "inf-installs-the-built-sys",
                                 "is on disk 2, which [SourceDisksNames] does not name")

    def test_undefined_string(self):
        self.assertOnlyRuleFails(self.broken("%DiskName%", "%DiskLabel%"), "inf-strings-defined",
                                 "%DiskLabel% not defined in [Strings]")


if __name__ == "__main__":
    unittest.main()
