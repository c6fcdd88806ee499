"""The Makefile's documented variants expand to commands that can run (`make -n`, nothing is
executed). `make bench PIN=0` once expanded to `taskset -c 0 SKELETON_KERNEL_DEBUG=-all python3
...`, and taskset tried to execute the variable assignment ("failed to execute
SKELETON_KERNEL_DEBUG=-all"): an environment assignment must come before taskset, not after it."""
from __future__ import annotations

import re
import shlex
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


if __name__ == "__main__":
    unittest.main()
