"""The Makefile's documented variants expand to commands that can run (`make -n`, nothing is
executed). `make bench PIN=0` once expanded to `taskset -c 0 SKELETON_KERNEL_DEBUG=-all python3
...`, and taskset tried to execute the variable assignment ("failed to execute
SKELETON_KERNEL_DEBUG=-all"): an environment assignment must come before taskset, not after it."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*args: str) -> list[str]:
    r = subprocess.run(["make", "-n", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"make -n {' '.join(args)} failed: {r.stderr}")
    # Join the recipe's continuation lines into whole commands.
    return r.stdout.replace("\\\n", " ").splitlines()


class MakeTargets(unittest.TestCase):
    def test_bench_pinned_runs_a_program_under_taskset(self):
        lines = [l for l in dry_run("bench", "PIN=0") if "skeleton_bench.exe" in l]
        self.assertEqual(1, len(lines), lines)
        words = shlex.split(lines[0])
        self.assertIn("taskset", words, lines[0])
        at = words.index("taskset")
        self.assertEqual(["-c", "0"], words[at + 1:at + 3], lines[0])
        program = words[at + 3]
        self.assertNotRegex(program, r"^[A-Za-z_][A-Za-z0-9_]*=", f"taskset would try to execute {program!r}")
        self.assertIn("SKELETON_BENCH_PINNED=1", words[:at], "the bench must be told it is pinned (its machine line)")

    def test_bench_unpinned_has_no_taskset(self):
        lines = [l for l in dry_run("bench", "PIN=") if "skeleton_bench.exe" in l]
        self.assertEqual(1, len(lines), lines)
        self.assertNotIn("taskset", lines[0])
        self.assertNotIn("SKELETON_BENCH_PINNED", lines[0])


class DebugBuild(unittest.TestCase):
    """`make debug` builds everything at -O0 (build-debug/). Its kernel half is what broke: at -O0
    mingw-w64's inline-only ntstrsafe.h left kmdverify.sys with `undefined symbol:
    RtlStringCbPrintfW`. Here the Windows x64 world alone, configured Debug, builds the verifier and
    the skeleton (the whole `make debug` takes many minutes more on two cores)."""

    def test_the_kernel_images_link_at_o0(self):
        work = Path(os.environ.get("KMD_BIN_DIR", ROOT / "build" / "bin")).parent / "debug-link-test"
        shutil.rmtree(work, ignore_errors=True)
        self.addCleanup(shutil.rmtree, work, True)
        configure = subprocess.run(
            ["cmake", "-S", str(ROOT), "-B", str(work), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
             f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/kit/cmake/x86_64-w64-mingw32-clang.cmake", f"-DKMD_OUTPUT_DIR={work}/bin",
             f"-DKMD_PACKAGE_DIR={work}/package", f"-DKMD_KIT_DIR={ROOT}/kit", "-DPython_EXECUTABLE=/usr/bin/python3",
             "-DPython3_EXECUTABLE=/usr/bin/python3"], capture_output=True, text=True, timeout=300)
        self.assertEqual(0, configure.returncode, configure.stdout[-3000:] + configure.stderr[-3000:])
        built = subprocess.run(["cmake", "--build", str(work), "-j", "2", "--target", "kmdverify", "skeleton"],
                               capture_output=True, text=True, timeout=900)
        self.assertEqual(0, built.returncode, built.stdout[-4000:] + built.stderr[-2000:])
        # Debug: no optimisation flag at all (clang's default, -O0), as in `make debug`.
        self.assertNotRegex((work / "build.ninja").read_text(), r"FLAGS = [^\n]*-O[123s]")
        for image in ("kmdverify.sys", "skeleton.sys", "kmdverify.pdb", "skeleton.pdb"):
            self.assertTrue((work / "bin" / image).is_file(), image)



BUILD_DIR = Path(os.environ.get("KMD_BIN_DIR", ROOT / "build" / "bin")).parent


def ctest_tests(*args: str) -> list[dict]:
    r = subprocess.run(["ctest", "--test-dir", str(BUILD_DIR), "--show-only=json-v1", *args],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"ctest --show-only {' '.join(args)} failed: {r.stderr}")
    return json.loads(r.stdout)["tests"]


class QuickTier(unittest.TestCase):
    """`make check`, the edit-and-try tier: the tests labelled "quick" - host tests, cppcheck, and one
    Wine round trip per driver (load, first answer, unload); `make test` keeps running everything."""

    def test_check_runs_the_quick_label_and_test_runs_everything(self):
        check = [l for l in dry_run("check") if l.startswith("KMD_BOX_PIN=auto ctest")]
        self.assertEqual(1, len(check), check)
        self.assertIn("-L quick", check[0])
        test = [l for l in dry_run("test") if l.startswith("KMD_BOX_PIN=auto ctest")]
        self.assertEqual(1, len(test), test)
        self.assertNotIn("-L", shlex.split(test[0]), "make test must stay the whole suite")

    def test_every_driver_has_a_round_trip_in_the_quick_tier(self):
        quick = {t["name"] for t in ctest_tests("-L", "quick")}
        everything = {t["name"] for t in ctest_tests()}
        drivers = {n.removesuffix(".cppcheck") for n in everything if n.endswith(".cppcheck") and n != "static.cppcheck"}
        drivers = {d for d in drivers if f"{d}.device_tests" in everything}  # a driver project, not a test driver
        self.assertIn("skeleton", drivers)
        for driver in drivers:
            with self.subTest(driver=driver):
                self.assertIn(f"{driver}.round_trip", quick)
                self.assertIn(f"{driver}.round_trip", everything)
        self.assertTrue(any(n.startswith("kit.host.") for n in quick), "the kit's host tests")
        self.assertIn("static.cppcheck", quick)
        # Nothing slow or needing the x86 root: no e2e scenario, no fuzzer, no x86 test.
        for name in quick:
            self.assertFalse(name.startswith(("e2e.", "realkernel.", "reliability.")) or ".x86." in name
                             or name.endswith(".fuzz") or name.endswith(".device_tests"), name)

    def test_the_round_trip_loads_asks_and_unloads(self):
        test = next(t for t in ctest_tests("-R", r"^skeleton\.round_trip$"))
        command = test["command"]
        at = command.index("--")
        self.assertEqual(["winebox.py", "run"], [Path(c).name for c in command[1:3]], command)  # in a box of its own
        self.assertEqual(["kmdctl.exe", "run", "skeleton.sys"], [Path(c).name for c in command[at + 1:at + 4]], command)
        # It asks for its greeting: no --ioctl, so run sends what the contract names (KMD_CONTRACT_HELLO,
        # IOCTL_SKELETON_SAY_HELLO in the sample's header, kit.host.ContractHeader.*).
        self.assertNotIn("--no-ioctl", command)
        self.assertEqual("skeleton_ioctl.h", Path(command[command.index("--header") + 1]).name, command)


class BuildFirst(unittest.TestCase):
    """`make build-first`: the driver a reload needs and kmdctl.exe, nothing else (`make loop-bench`)."""

    def test_it_builds_the_driver_and_kmdctl_only(self):
        for args, driver in ((), "skeleton"), (("FIRST=mydrv",), "mydrv"):
            with self.subTest(driver=driver):
                lines = [l for l in dry_run("build-first", *args) if l.startswith("cmake --build") and "windows-x64" in l]
                self.assertEqual(1, len(lines), lines)
                words = shlex.split(lines[0])
                self.assertEqual([driver, "kmdctl"], words[words.index("--target") + 1:], lines[0])
                self.assertNotIn("bootstrap", " ".join(dry_run("build-first", *args)), "no 0.8 s package check")


class TestProfile(unittest.TestCase):
    """`make test-profile`: per test its Wine box phases, from the boxes themselves (kmd_profile.py)."""

    def test_make_target_runs_the_profile_tool(self):
        lines = [l for l in dry_run("test-profile") if "tools/test_profile.py" in l]
        self.assertEqual(1, len(lines), lines)

    def test_a_profiled_round_trip_shows_its_box_phases(self):
        out = BUILD_DIR / "test-profile" / "make-targets-test"
        shutil.rmtree(out, ignore_errors=True)
        self.addCleanup(shutil.rmtree, out, True)
        r = subprocess.run([sys.executable, str(ROOT / "tools" / "test_profile.py"), "--build-dir", str(BUILD_DIR),
                            "--out", str(out), "-R", r"^skeleton\.round_trip$"], capture_output=True, text=True, timeout=300)
        self.assertEqual(0, r.returncode, r.stdout[-3000:] + r.stderr[-3000:])
        records = [json.loads(l) for l in (out / "skeleton.round_trip.jsonl").read_text().splitlines()]
        phases = {rec["phase"] for rec in records}
        self.assertTrue({"clone", "boot", "programs", "teardown"} <= phases, phases)
        self.assertTrue(all(rec["end"] >= rec["start"] for rec in records))
        row = next(l for l in r.stdout.splitlines() if l.startswith("skeleton.round_trip "))
        fields = row.split()
        self.assertEqual("Passed", fields[-1], row)
        self.assertEqual("1", fields[-2], f"one box: {row}")
        wall, template, clone, boot, build, programs, teardown, work = map(float, fields[1:9])
        self.assertGreater(boot, 0.0, row)
        self.assertGreater(programs, 0.0, row)
        self.assertAlmostEqual(wall, template + clone + boot + build + programs + teardown + work, delta=0.3)
        self.assertRegex(r.stdout, r"these tests longest first on 2 lanes: +[\d.]+ s")
        # Every program run is named (program and verb), and the table sums them by name.
        self.assertTrue(all(rec.get("what") for rec in records if rec["phase"] == "programs"), records)
        self.assertRegex(r.stdout, r"\nkmdctl\.exe run +1 +[\d.]+ ")
        # The saved run prints again without running anything.
        again = subprocess.run([sys.executable, str(ROOT / "tools" / "test_profile.py"), "--read", str(out)],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertIn(row, again.stdout)



class CompilerCache(unittest.TestCase):
    """With ccache installed (tools/bootstrap.sh), every Windows compile goes through it, and a
    precompiled header carries no build-time stamp: otherwise no compile that includes one hits."""

    def test_windows_compiles_go_through_ccache_with_stampless_pchs(self):
        if not shutil.which("ccache"):
            self.skipTest("ccache is not installed (tools/bootstrap.sh installs it)")
        for arch in ("windows-x64", "windows-x86"):
            rules = BUILD_DIR / arch / "CMakeFiles" / "rules.ninja"
            if not rules.exists():
                continue
            with self.subTest(arch=arch):
                compiles = [l for l in rules.read_text().splitlines() if l.strip().startswith("command =") and "clang++" in l
                            and " -c " in l]
                self.assertTrue(compiles, rules)
                self.assertTrue(all("ccache" in l for l in compiles), compiles[:2])
                pch = [l for l in (BUILD_DIR / arch / "build.ninja").read_text().splitlines()
                       if l.startswith("  FLAGS =") and "-emit-pch" in l]
                self.assertTrue(pch, "no PCH compile found")
                self.assertTrue(all("-fno-pch-timestamp" in l for l in pch), pch[:1])


if __name__ == "__main__":
    unittest.main()
