"""tools/new-driver, as a newcomer uses it: a project of its own in a fresh directory, built
against this kit, whose own tests (host, fuzzer, device tests and e2e under Wine) all pass at once;
and names that cannot be a driver's are refused with a reason, writing nothing."""
import os
import re
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

from e2e_support import ROOT, Box, windows_path

NEW_DRIVER = ROOT / "tools" / "new-driver"
WORK = Path(os.environ.get("KMD_BIN_DIR", ROOT / "build" / "bin")).parent / "new-driver-test"


def new_driver(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(NEW_DRIVER), *args], capture_output=True, text=True)


class Names(unittest.TestCase):
    def setUp(self):
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)

    def test_bad_names_are_refused_and_nothing_is_written(self):
        cases = {
            "con": "reserved DOS device name",
            "lpt1": "reserved DOS device name",
            "class": "C++ keyword",
            "My-Driver": "lowercase letter",
            "x": "2 to 32 characters",
            "a" * 33: "2 to 32 characters",
            "9lives": "lowercase letter",
            "skeleton": "taken by the kit or the sample",
            "bad__name": "'__'",
        }
        for name, reason in cases.items():
            with self.subTest(name=name):
                result = new_driver(name, "--dir", str(WORK / "p"))
                self.assertEqual(2, result.returncode, result.stderr)
                self.assertIn(reason, result.stderr)
                self.assertEqual([], list(WORK.iterdir()), "nothing may be written")

    def test_an_existing_directory_is_never_overwritten(self):
        (WORK / "p").mkdir()
        (WORK / "p" / "mine.txt").write_text("keep me\n")
        result = new_driver("mydrv", "--dir", str(WORK / "p"))
        self.assertEqual(1, result.returncode)
        self.assertIn("already exists", result.stderr)
        self.assertEqual(["mine.txt"], [p.name for p in (WORK / "p").iterdir()])


class LengthRule(unittest.TestCase):
    """The template keeps the skeleton's input-length rule: each IOCTL of the generated contract
    states its case on one "input length:" line, and its table row's max_in says the same."""

    def test_each_ioctl_states_its_input_length_and_the_table_keeps_it(self):
        shutil.rmtree(WORK, ignore_errors=True)
        project = WORK / "lendrv"
        made = new_driver("lendrv", "--dir", str(project))
        self.assertEqual(0, made.returncode, made.stderr)
        header = (project / "lendrv" / "include" / "lendrv" / "ioctl.h").read_text()
        table = (project / "lendrv" / "core" / "requests.cpp").read_text()
        stated = {}
        for comment, name in re.findall(r"/\*((?:(?!\*/).)*)\*/\s*#define IOCTL_LENDRV_(\w+)", header, re.S):
            stated[name] = re.findall(r"input length: ([^\n]*)", comment)
        rows = {name: max_in for name, max_in in re.findall(r'\{IOCTL_LENDRV_\w+, "(\w+)", ([^,]+),', table)}
        self.assertTrue(rows, "no table rows found in core/requests.cpp")
        self.assertEqual(sorted(rows), sorted(stated), "one #define per table row, each with its comment")
        for name, max_in in rows.items():
            with self.subTest(ioctl=name):
                self.assertEqual(1, len(stated[name]), f"IOCTL_LENDRV_{name}: one \"input length:\" line")
                line = stated[name][0]
                exactly = re.fullmatch(r"exactly (\d+) bytes; else STATUS_INVALID_PARAMETER \(87\)\.", line)
                if exactly:
                    self.assertEqual(exactly.group(1), max_in.strip(), f"IOCTL_LENDRV_{name}: max_in disagrees with the header")
                elif line == "ignored (never read, any length).":
                    self.assertEqual("0", max_in.strip(), f"IOCTL_LENDRV_{name}: max_in 0 means ignored")
                elif re.fullmatch(r"0 to LENDRV_MAX_TRANSFER bytes; longer -> STATUS_INVALID_PARAMETER \(87\)\.", line):
                    self.assertEqual("LENDRV_MAX_TRANSFER", max_in.strip())
                else:
                    self.fail(f"IOCTL_LENDRV_{name}: '{line}' is none of the rule's three forms")


# The generated README's "Add an IOCTL": each block to paste follows a marker saying where.
ADD_IOCTL_STEP = re.compile(r"<!-- add-ioctl: (?P<file>\S+) (?P<where>before|after) (?P<anchor>.*?) -->\n```[a-z]*\n(?P<code>.*?)```", re.S)


def follow_add_an_ioctl(readme: str, driver_dir: Path) -> list[str]:
    """Applies the README's "Add an IOCTL" steps literally to the generated driver; the files changed."""
    section = readme[readme.index("## Add an IOCTL"):]
    changed = []
    for step in ADD_IOCTL_STEP.finditer(section):
        path = driver_dir / step["file"]
        lines = path.read_text().splitlines(keepends=True)
        at = [i for i, line in enumerate(lines) if step["anchor"] in line]
        if len(at) != 1:
            raise AssertionError(f"README step for {step['file']}: {len(at)} lines contain '{step['anchor']}' (one expected)")
        index = at[0] + (1 if step["where"] == "after" else 0)
        path.write_text("".join(lines[:index]) + step["code"] + "".join(lines[index:]))
        changed.append(step["file"])
    return changed


class ProjectOfItsOwn(unittest.TestCase):
    def test_generated_project_builds_and_passes_its_own_tests(self):
        """...with an IOCTL added by following its README's "Add an IOCTL" to the letter: the
        contract, handler, table row, host test and device test it says to paste."""
        shutil.rmtree(WORK, ignore_errors=True)
        project = WORK / "mydrv"
        made = new_driver("mydrv", "--dir", str(project))
        self.assertEqual(0, made.returncode, made.stderr)
        for f in ("CMakeLists.txt", "Makefile", "README.md", "mydrv/include/mydrv/ioctl.h", "mydrv/core/requests.cpp",
                  "mydrv/nt/driver.cpp", "mydrv/tests/host/core_tests.cpp", "mydrv/tests/host/fuzz_requests.cpp",
                  "mydrv/tests/windows/device_tests.cpp", "mydrv/tests/e2e/test_mydrv.py"):
            self.assertTrue((project / f).is_file(), f)
        changed = follow_add_an_ioctl((project / "README.md").read_text(), project / "mydrv")
        self.assertEqual(["include/mydrv/ioctl.h", "core/requests.cpp", "core/requests.cpp", "tests/host/core_tests.cpp",
                          "tests/windows/device_tests.cpp"], changed, "the README's Add an IOCTL steps")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KMD_", "SKELETON_"))}
        result = subprocess.run(["make", "-C", str(project), "test"], capture_output=True, text=True, env=env, timeout=900)
        self.assertEqual(0, result.returncode, result.stdout[-6000:] + result.stderr[-3000:])
        self.assertIn("100% tests passed", result.stdout)
        for test in ("mydrv.host.", "mydrv.fuzz", "mydrv.device_tests", "mydrv.e2e.mydrv"):
            self.assertIn(test, result.stdout)
        # The README's IOCTL is in the image and answers (host test and device test both ran and passed).
        self.assertIn("Double.DoublesItsInput", result.stdout + (project / "build" / "Testing" / "Temporary" / "LastTest.log").read_text(errors="replace"))
        self.assertIn("Device.DoubleThroughTheSystemBuffer", (project / "build" / "Testing" / "Temporary" / "LastTest.log").read_text(errors="replace"))
        self.assertTrue((project / "build" / "bin" / "mydrv.sys").is_file())
        # Its device tests ran under the kit's Driver Verifier, as every project's do.
        self.assertTrue((project / "build" / "bin" / "kmdverify.sys").is_file())
        self.a_crash_in_its_handler_is_reported_with_file_and_line(project)

    def a_crash_in_its_handler_is_reported_with_file_and_line(self, project: Path):
        """A newcomer's first bug, in the default (release) build: the report names the handler,
        its source file and line - from the DWARF kept in the image (winedbg, kmdctl's report) and
        the PDB beside it (llvm-symbolizer) - not just an address."""
        requests = project / "mydrv" / "core" / "requests.cpp"
        text = requests.read_text()
        anchor = "    const uint32_t sum = load_u32(in.data) + load_u32(in.data + 4);\n"
        self.assertIn(anchor, text)
        bug = ("    if (load_u32(in.data) == 0xDEAD) *reinterpret_cast<volatile uint32_t*>(uintptr_t{0x10}) = 1; "
               "// NEW_DRIVER_BUG: a write to address 0x10\n")
        requests.write_text(text.replace(anchor, bug + anchor))
        line = text[:text.index(anchor)].count("\n") + 1
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KMD_", "SKELETON_"))}
        built = subprocess.run(["make", "-C", str(project), "build"], capture_output=True, text=True, env=env, timeout=900)
        self.assertEqual(0, built.returncode, built.stdout[-3000:] + built.stderr[-3000:])
        bin_dir = project / "build" / "bin"
        self.assertTrue((bin_dir / "mydrv.pdb").is_file(), "the PDB is written beside the .sys in a release build")
        box = Box("new-driver-crash").create()
        box.expect_crash = True
        box.auto_recover = False
        box.symbol_dirs = [bin_dir]
        self.addCleanup(box.close)
        kmdctl = bin_dir / "kmdctl.exe"
        self.assertEqual(0, box.run([kmdctl, "install", bin_dir / "mydrv.sys", "--name", "mydrv"]).returncode)
        self.assertEqual(0, box.run([kmdctl, "start", "mydrv"]).returncode)
        header = windows_path(project / "mydrv" / "include" / "mydrv" / "ioctl.h")
        crash = box.run([kmdctl, "ioctl", "IOCTL_MYDRV_ADD", "--header", header,
                         "--device", r"\\.\mydrv", "--in-u32", "57005,1", "--out-size", "4"])
        self.assertEqual(1, crash.returncode, crash.describe())
        # kmdctl's own report (winedbg's frame, from the image's DWARF): the handler, file and line.
        self.assertRegex(crash.stderr, r"in        : .*\badd\b.*requests\.cpp:%d\]" % line, crash.describe())
        # The box's report, symbolized with llvm-symbolizer (from mydrv.pdb): the same place.
        self.assertRegex(crash.describe(), r"#0 mydrv\.sys\+0x[0-9a-f]+  .*\badd\b.*  \S*requests\.cpp:%d:" % line)


if __name__ == "__main__":
    unittest.main()
