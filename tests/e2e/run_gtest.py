#!/usr/bin/python3
"""Runs a Windows GoogleTest executable from build/bin inside a fresh Wine box, with the driver's
Windows path in SKELETON_DRIVER, and fails unless every test passed."""
import sys

from e2e_support import BIN_DIR, Box, windows_path


def main(exe: str) -> int:
    with Box(f"gtest-{exe.split('.')[0]}") as box:
        box.start_session()
        result = box.run([BIN_DIR / exe, "--gtest_color=no"], timeout=600,
                         env={"SKELETON_DRIVER": windows_path(BIN_DIR / "skeleton.sys"),
                              "SKELETON_PROBER_DRIVER": windows_path(BIN_DIR / "neither_prober.sys")})
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
        if result.timed_out:
            print(f"{exe}: timed out", file=sys.stderr)
            return 1
        return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
