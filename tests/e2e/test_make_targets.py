"""The Makefile's documented variants expand to commands that can run (`make -n`, nothing is
executed). `make bench PIN=0` once expanded to `taskset -c 0 SKELETON_KERNEL_DEBUG=-all python3
...`, and taskset tried to execute the variable assignment ("failed to execute
SKELETON_KERNEL_DEBUG=-all"): an environment assignment must come before taskset, not after it."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
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


if __name__ == "__main__":
    unittest.main()
