#!/usr/bin/python3
"""Runs a Windows GoogleTest executable from the build's bin directory inside a fresh Wine box,
with the drivers it tests named in KMD_DRIVERS (kit/harness/windows/driver_fixture.hpp), and
fails unless every test passed.

The drivers run under kmdverify.sys, the Driver Verifier for Wine (kit/verifier), loaded first
into their host (the fixture's load-order group, kmd-tests) whenever it has been built: any
verifier violation by one of them fails the run too, and Wine's no-op ProbeForRead/ProbeForWrite
then reject kernel addresses as Windows does. KMD_VERIFY=0 runs without it.

Usage: run_gtest.py TESTS.exe SERVICE=FILE.sys [SERVICE=FILE.sys ...] [-- gtest args]
(files relative to KMD_BIN_DIR; loaded in order, unloaded in reverse)."""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "verifier"))
from winebox import Box, windows_path  # noqa: E402
from verify import Session, run_program  # noqa: E402

BIN_DIR = Path(os.environ.get("KMD_BIN_DIR", HERE.parents[1] / "build" / "bin"))
FIXTURE_GROUP = "kmd-tests"  # driver_fixture.cpp's load-order group


def main(argv: list[str]) -> int:
    exe, rest = argv[0], argv[1:]
    extra = rest[rest.index("--") + 1:] if "--" in rest else []
    drivers = rest[:rest.index("--")] if "--" in rest else rest
    pairs = [(service, file) for service, _, file in (d.partition("=") for d in drivers)]
    spec = ";".join(f"{service}={windows_path(BIN_DIR / file)}" for service, file in pairs)
    verify = os.environ.get("KMD_VERIFY", "1") != "0" and (BIN_DIR / "kmdverify.sys").is_file()
    with Box(f"gtest-{exe.split('.')[0]}") as box:
        if not verify:
            box.start_session()
            result = box.run([BIN_DIR / exe, "--gtest_color=no", *extra], timeout=600,
                             env={"KMD_DRIVERS": spec, "KMD_VERIFIER_LOADED": "0"})
            print(result.stdout, end="")
            print(result.stderr, end="", file=sys.stderr)
            if result.timed_out:
                print(f"{exe}: timed out", file=sys.stderr)
                return 1
            return result.returncode
        session = Session(box, FIXTURE_GROUP, BIN_DIR)
        session.start()
        rc, reports = run_program(session, [BIN_DIR / exe, "--gtest_color=no", *extra],
                                  {"KMD_DRIVERS": spec, "KMD_VERIFIER_LOADED": "1"},
                                  [Path(file).name for _, file in pairs], timeout=600)
        session.stop()
    for r in reports:
        print(r.text())
    if rc != 0:
        print(f"{exe}: exit {rc}", file=sys.stderr)
        return 1
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
