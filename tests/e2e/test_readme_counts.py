"""The README's test count is what CTest registers, so it cannot drift again.

README.md says how many tests `make test` runs ("CTest runs N tests, K at a time, ... out of N").
K is the Makefile's TEST_JOBS in words. The figure comes from the build itself: `ctest --show-only=json-v1` lists every registered test, and the tree's
own are those not declared under drivers/ (a driver someone made with `tools/new-driver NAME`
adds its own tests to their tree, not to the README's count). CTest: docs.readme_test_count.

    /usr/bin/python3 tests/e2e/test_readme_counts.py --write [--build-dir build]   # set the README's figure from the build
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
# The one sentence that states the count; both figures in it must be the registered count.
COUNT_LINE = re.compile(r"CTest runs (\d+) tests, (\w+) at a time, and ends with `100% tests passed, 0 tests failed out of (\d+)`\.")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def build_dir() -> Path:
    return Path(os.environ.get("KMD_BUILD_DIR") or ROOT / "build")


def ctest_listing(build: Path) -> dict:
    ctest = os.environ.get("KMD_CTEST") or "ctest"
    proc = subprocess.run([ctest, "--test-dir", str(build), "--show-only=json-v1"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ctest --show-only=json-v1 failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def declared_in(listing: dict, test: dict) -> list[str]:
    """Every file on the test's declaration backtrace (add_test, and the calls that led to it)."""
    graph = listing["backtraceGraph"]
    files, node = [], test.get("backtrace")
    while node is not None:
        entry = graph["nodes"][node]
        files.append(graph["files"][entry["file"]])
        node = entry.get("parent")
    return files


def tree_tests(listing: dict, root: Path = ROOT) -> list[str]:
    """The names of the tests the tree itself registers: none declared under <root>/drivers/."""
    drivers = str(root / "drivers") + os.sep
    return [t["name"] for t in listing["tests"]
            if not any(str(Path(f)).startswith(drivers) for f in declared_in(listing, t))]


def _count_line(readme_text: str) -> re.Match:
    m = COUNT_LINE.search(readme_text)
    if m is None:
        raise AssertionError(f"README.md has no line matching {COUNT_LINE.pattern}")
    return m


def stated_counts(readme_text: str) -> tuple[int, int]:
    m = _count_line(readme_text)
    return int(m.group(1)), int(m.group(3))


def stated_lanes(readme_text: str) -> str:
    return _count_line(readme_text).group(2)


def make_test_lanes(makefile_text: str) -> str:
    """How many tests `make test` runs at once (the Makefile's TEST_JOBS default), in words."""
    m = re.search(r"^TEST_JOBS \?= (\d+)$", makefile_text, re.M)
    if m is None:
        raise AssertionError("the Makefile sets no TEST_JOBS default")
    return NUMBER_WORDS[int(m.group(1))]


def with_count(readme_text: str, count: int, lanes: str) -> str:
    line = f"CTest runs {count} tests, {lanes} at a time, and ends with `100% tests passed, 0 tests failed out of {count}`."
    return COUNT_LINE.sub(lambda _: line, readme_text, count=1)


class ReadmeTestCount(unittest.TestCase):
    def test_the_readme_states_the_count_ctest_registers(self):
        names = tree_tests(ctest_listing(build_dir()))
        self.assertGreater(len(names), 0, "CTest registers no test: is the build configured?")
        self.assertEqual(len(names), len(set(names)), "two tests with one name")
        runs, out_of = stated_counts(README.read_text())
        fix = f"run: /usr/bin/python3 tests/e2e/test_readme_counts.py --write --build-dir {build_dir()}"
        self.assertEqual(len(names), runs, f"README.md says `make test` runs {runs} tests; CTest registers {len(names)} ({fix})")
        self.assertEqual(len(names), out_of, f"README.md says 'out of {out_of}'; CTest registers {len(names)} ({fix})")

    def test_the_readme_states_how_many_tests_make_test_runs_at_once(self):
        lanes = make_test_lanes(MAKEFILE.read_text())
        self.assertEqual(lanes, stated_lanes(README.read_text()), f"the Makefile's TEST_JOBS is {lanes}")


class TheCheckItself(unittest.TestCase):
    """The check above must be able to fail: a wrong figure, and what counts."""

    def test_a_figure_off_by_one_is_read_as_such(self):
        text = "CTest runs 83 tests, two at a time, and ends with `100% tests passed, 0 tests failed out of 82`.\n"
        self.assertEqual((83, 82), stated_counts(text))
        self.assertEqual((5, 5), stated_counts(with_count(text, 5, "two")))
        self.assertEqual("three", stated_lanes(with_count(text, 5, "three")))
        self.assertEqual("three", make_test_lanes("X ?= 1\nTEST_JOBS ?= 3\n"))
        with self.assertRaises(AssertionError):
            stated_counts("CTest runs many tests.\n")

    def test_tests_declared_under_drivers_do_not_count(self):
        listing = {
            "backtraceGraph": {
                "files": [str(ROOT / "drivers" / "mydrv" / "CMakeLists.txt"), str(ROOT / "kit" / "cmake" / "KmdDriver.cmake"),
                          str(ROOT / "tests" / "e2e" / "CMakeLists.txt")],
                "nodes": [{"file": 0}, {"file": 1, "parent": 0}, {"file": 2}],
            },
            "tests": [{"name": "mydrv.host.Core.Adds", "backtrace": 1}, {"name": "e2e.seed_sequence", "backtrace": 2}],
        }
        self.assertEqual(["e2e.seed_sequence"], tree_tests(listing))


def main() -> int:
    if "--write" not in sys.argv:
        return unittest.main(argv=[sys.argv[0], *[a for a in sys.argv[1:]]])
    args = sys.argv[1:]
    build = Path(args[args.index("--build-dir") + 1]) if "--build-dir" in args else build_dir()
    count = len(tree_tests(ctest_listing(build)))
    text = README.read_text()
    before = stated_counts(text)
    README.write_text(with_count(text, count, make_test_lanes(MAKEFILE.read_text())))
    print(f"README.md: {before[0]} / {before[1]} -> {count} (CTest in {build} registers {count} tests of this tree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
