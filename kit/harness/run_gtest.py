#!/usr/bin/python3
"""Runs a Windows GoogleTest executable from the build's bin directory inside a fresh Wine box,
with the drivers it tests named in KMD_DRIVERS (kit/harness/windows/driver_fixture.hpp), and
fails unless every test passed.

Usage: run_gtest.py TESTS.exe SERVICE=FILE.sys [SERVICE=FILE.sys ...] [-- gtest args]
(files relative to KMD_BIN_DIR; loaded in order, unloaded in reverse)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from winebox import Box, windows_path  # noqa: E402

BIN_DIR = Path(os.environ.get("KMD_BIN_DIR", Path(__file__).resolve().parents[2] / "build" / "bin"))


def main(argv: list[str]) -> int:
    exe, rest = argv[0], argv[1:]
    extra = rest[rest.index("--") + 1:] if "--" in rest else []
    drivers = rest[:rest.index("--")] if "--" in rest else rest
    spec = ";".join(f"{service}={windows_path(BIN_DIR / file)}" for service, _, file in (d.partition("=") for d in drivers))
    with Box(f"gtest-{exe.split('.')[0]}") as box:
        box.start_session()
        result = box.run([BIN_DIR / exe, "--gtest_color=no", *extra], timeout=600, env={"KMD_DRIVERS": spec})
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
        if result.timed_out:
            print(f"{exe}: timed out", file=sys.stderr)
            return 1
        return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
