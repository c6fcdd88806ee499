"""kmd_profile - where a test's time goes, written down as it is spent (`make test-profile`).

With KMD_PROFILE_DIR set, every timed phase of a test (a Wine box's clone, its boot, its teardown,
the build of a test's payload, each Windows program it runs) appends one JSON line to KMD_PROFILE_DIR/<test>.jsonl:
    {"test": "e2e.seed_sequence", "phase": "boot", "box": "seed-test_x", "start": ..., "end": ...}
<test> is KMD_TEST_NAME (CTest sets it for every test, kmd_name_tests() in kit/cmake), else
"unnamed". tools/test_profile.py puts these beside CTest's own start and end of each test: what is
not in a phase is the test's own work. Unset, phase() costs nothing and writes nothing.

    from kmd_profile import phase
    with phase("build"):
        subprocess.run(["cmake", "--build", ...])
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

# What tools/test_profile.py shows. "programs": Windows programs run in a box (Box.run), the
# test's work inside Wine; what no phase covers is its work outside (Python, host tools).
PHASES = ("template", "clone", "boot", "build", "programs", "teardown")


def test_name() -> str:
    return os.environ.get("KMD_TEST_NAME") or "unnamed"


def record(name: str, start: float, end: float, box: str = "", what: str = "") -> None:
    directory = os.environ.get("KMD_PROFILE_DIR")
    if not directory:
        return
    entry = {"test": test_name(), "phase": name, "box": box, "start": start, "end": end, "pid": os.getpid()}
    if what:  # which program, e.g. "kmdctl.exe start": tools/test_profile.py --programs sums by it
        entry["what"] = what
    line = json.dumps(entry) + "\n"
    path = Path(directory) / f"{test_name()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one short line in append mode: lines of parallel writers never interleave.
    with open(path, "a") as f:
        f.write(line)


@contextlib.contextmanager
def phase(name: str, box: str = "", what: str = ""):
    start = time.time()
    try:
        yield
    finally:
        record(name, start, time.time(), box, what)
