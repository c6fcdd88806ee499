"""Every lesson with a check (lessons/check.py, docs/lessons/) is proven: its check FAILS on the
lesson's starting point, saying the expected words, and PASSES on its worked solution; and every
output the lessons quote (a fenced block after `<!-- output: ID as NAME -->`) is what a real run
prints today, normalising only what varies (the tree's path, timings, process ids) and the
driver's name (lessonNN_start here, NAME in the lesson). CTest: e2e.lessons.

The drivers are built by the tree's own x64 build (lessons/CMakeLists.txt: lessonNN_start.sys,
lessonNN_solution.sys); the kmdctl checks of all lessons share one Wine box, the verifier's lesson
runs its own (kit/verifier/verify.py makes one per run).

    /usr/bin/python3 tests/e2e/test_lessons.py --write    # rewrite the quoted blocks from a real run
"""
from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import io
import re
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from e2e_support import BIN_DIR, KMDCTL, ROOT, Box, dbgprint_lines

sys.path.insert(0, str(ROOT / "lessons"))
import check  # noqa: E402

LESSON_DOCS = ROOT / "docs" / "lessons"
# The words each starting point's check must say: the first thing a learner has to fix.
START_SAYS = {
    1: "never calls IoCompleteRequest",
    2: "which DriverEntry does not set (exercise 1)",
    3: "came back with error 1 (STATUS_NOT_IMPLEMENTED): its handler is still the stub",
    4: "UNPROBED_USER_BUFFER",
    5: "a pended request that its caller cancels (CancelIo) never completes",
    6: "without an output buffer (OutputBufferLength 0, Irp->UserBuffer NULL) crashed the driver",
    7: "the device object it made is left behind",
    8: "after DriverUnload the driver host crashed",
}
QUOTE = re.compile(r"<!-- output: (?P<id>[\w-]+) as (?P<name>\w+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)


def source_dir(lesson: int, part: str) -> Path:
    """The lesson's source as built (lessons/CMakeLists.txt renders it into the x64 build tree)."""
    return BIN_DIR.parent / "windows-x64" / "lessons" / f"lesson{lesson:02d}_{part}"


def normalise(text: str) -> str:
    text = re.sub(r"Z:\\[^\s]*?\\build\\", r"Z:\\…\\build\\", text)
    text = re.sub(r"\b\d+ us\b", "N us", text)
    text = re.sub(r"\bpid \d+", "pid N", text)
    text = re.sub(r"\b\d+(\.\d+)? s\b", "N s", text)
    text = re.sub(r"\b[0-9A-Fa-f]{16}\b", "ADDRESS", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


class Outputs:
    """Each quotable output, by id, from one real run of every lesson's start and solution."""

    def __init__(self):
        self.text: dict[str, tuple[str, str]] = {}  # id -> (text, the driver name in it)
        self.problems: dict[tuple[int, str], list[str]] = {}

    def add(self, ident: str, text: str, name: str) -> None:
        self.text[ident] = (text, name)

    def quoted(self, ident: str, as_name: str) -> str:
        text, name = self.text[ident]
        return normalise(text.replace(name, as_name).replace(name.upper(), as_name.upper()))


def run_everything() -> Outputs:
    outputs = Outputs()

    def one(lesson: int, part: str, box: Box) -> None:
        name = f"lesson{lesson:02d}_{part}"
        problems = check.check(lesson, BIN_DIR / f"{name}.sys", source_dir(lesson, part), name, box)
        outputs.problems[(lesson, part)] = problems
        outputs.add(f"check-{lesson}-{part}", check.report(lesson, name, problems), name)

    with Box("lessons") as box, ThreadPoolExecutor(max_workers=2) as pool:
        # The verifier's lesson runs in boxes of its own (verify.py), beside the shared one.
        verified = [pool.submit(one, lesson, part, box) for lesson in sorted(check.VERIFIER_LESSONS)
                    for part in ("start", "solution")]
        # Lesson 1's `winebox.py run --kernel-log -- kmdctl.exe run ...`, first in the box as in a
        # fresh one (the host shim's "ready" line comes with the first driver host).
        name = "lesson01_solution"
        box.start_session()  # it truncates the box's kernel log: the mark comes after
        mark = box.kernel_log_size()
        run = box.run([str(KMDCTL), "run", str(BIN_DIR / f"{name}.sys"), "--name", name, "--device", f"\\\\.\\{name}",
                       "--ioctl", "0x222007", "--out-size", "256"], timeout=60)
        kernel = "".join(line + "\n" for line in dbgprint_lines(box.kernel_log_since(mark)))
        outputs.add("run-1-solution", run.stdout + run.stderr + "\n--- kernel debug output (the driver's DbgPrint, via "
                    "Wine's debugstr channel) ---\n" + kernel, name)
        # The crashing starting points last, after their solutions: nothing runs after the first
        # crash but the second (the box restarts its session for it by itself, winebox: auto_recover).
        crashing = [8, 6]  # 8 first: its check ends in a fresh session (it removes its service after the crash)
        shared = sorted(set(check.LESSONS) - check.VERIFIER_LESSONS - set(crashing))
        for lesson in shared:
            for part in ("start", "solution"):
                one(lesson, part, box)
        name = "lesson03_solution"
        header = str(source_dir(3, "solution") / "ioctl.h")
        runs = [box.run([str(KMDCTL), *args], timeout=60) for args in (
            ["install", str(BIN_DIR / f"{name}.sys"), "--name", name],
            ["start", name],
            ["ioctl", f"IOCTL_{name.upper()}_REVERSE", "--header", header, "--device", f"\\\\.\\{name}",
             "--in", "01 02 03 04 05", "--out-size", "8"],
            ["remove", name])]
        outputs.add("ioctl-3-solution", runs[2].stdout + runs[2].stderr, name)
        for part in ("solution", "start"):
            for lesson in crashing:
                one(lesson, part, box)
        for job in verified:
            job.result()
    return outputs


def quotes() -> list[tuple[Path, re.Match]]:
    return [(doc, m) for doc in sorted(LESSON_DOCS.glob("*.md")) for m in QUOTE.finditer(doc.read_text())]


class Lessons(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for lesson in check.LESSONS:
            for part in ("start", "solution"):
                if not (BIN_DIR / f"lesson{lesson:02d}_{part}.sys").exists():
                    raise unittest.SkipTest(f"lesson{lesson:02d}_{part}.sys is not built (x64 build: lessons/CMakeLists.txt)")
        cls.outputs = run_everything()

    def test_every_check_fails_on_its_start_in_words(self):
        self.assertEqual(sorted(START_SAYS), sorted(check.LESSONS), "every lesson's check has its expected words here")
        for lesson, words in START_SAYS.items():
            problems = self.outputs.problems[(lesson, "start")]
            self.assertTrue(problems, f"lesson {lesson}'s check passes on its starting point")
            self.assertIn(words, " ".join(problems), f"lesson {lesson}'s check on its starting point")

    def test_every_check_passes_on_its_solution(self):
        for lesson in check.LESSONS:
            self.assertEqual(self.outputs.problems[(lesson, "solution")], [], f"lesson {lesson}'s solution")

    def test_every_quoted_output_is_a_real_run(self):
        found = quotes()
        self.assertGreaterEqual(len(found), 6, "the lessons quote their checks' output")
        for doc, m in found:
            self.assertIn(m["id"], self.outputs.text, f"{doc.name} quotes an output no test produces: {m['id']}")
            self.assertEqual(normalise(m["body"]), self.outputs.quoted(m["id"], m["name"]),
                             f"{doc.name}: the block `{m['id']}` is not what a run prints now "
                             "(/usr/bin/python3 tests/e2e/test_lessons.py --write)")


def load_new_driver():
    """tools/new-driver as a module (it is a script without .py)."""
    loader = importlib.machinery.SourceFileLoader("new_driver", str(ROOT / "tools" / "new-driver"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("new_driver", loader))
    loader.exec_module(module)
    return module


class StartingPoints(unittest.TestCase):
    """`tools/new-driver NAME --lesson N` writes lesson N's starting point under NAME, which the
    check then finds by itself (no Wine: drivers/ of a scratch root, not this tree's)."""

    def test_each_lesson_start_is_copied_under_the_learners_name_and_found_by_its_check(self):
        new_driver = load_new_driver()
        with tempfile.TemporaryDirectory() as scratch:
            new_driver.ROOT = Path(scratch)
            for lesson in sorted(check.LESSONS):
                name = f"learner{lesson}"
                with contextlib.redirect_stdout(io.StringIO()) as said:
                    self.assertEqual(0, new_driver.main([name, "--lesson", str(lesson)]))
                self.assertIn(f"make lesson {lesson} DIR=drivers/{name}", said.getvalue())
                made = Path(scratch) / "drivers" / name
                start = next((ROOT / "lessons").glob(f"{lesson:02d}-*/start"))
                for source in start.iterdir():
                    expected = source.read_text().replace("@NAME@", name).replace("@UPPER@", name.upper())
                    self.assertEqual(expected, (made / source.name).read_text(), f"lesson {lesson}: {source.name}")
                cmake = (made / "CMakeLists.txt").read_text()
                self.assertIn(f"kmd_add_driver({name} SOURCES driver.c", cmake)
                self.assertIn(f"lesson {lesson}'s driver", cmake, "the marker check.py finds it by")
            # A lesson without a starting point, and --dir with --lesson, are refused; nothing written.
            with contextlib.redirect_stderr(io.StringIO()) as said:
                self.assertEqual(2, new_driver.main(["other", "--lesson", "9"]))
            self.assertIn("lesson 9 has no starting point", said.getvalue())
            self.assertFalse((Path(scratch) / "drivers" / "other").exists())


def write() -> int:
    outputs = run_everything()
    for doc in sorted(LESSON_DOCS.glob("*.md")):
        text = doc.read_text()
        new = QUOTE.sub(lambda m: (f"<!-- output: {m['id']} as {m['name']} -->\n```text\n"
                                   f"{outputs.quoted(m['id'], m['name'])}```") if m["id"] in outputs.text else m[0], text)
        if new != text:
            doc.write_text(new)
            print(f"test_lessons: rewrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sys.exit(write())
    unittest.main()
