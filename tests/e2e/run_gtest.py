#!/usr/bin/python3
"""Runs a Windows GoogleTest executable from build/bin inside a fresh Wine box, with the driver's
Windows path in SKELETON_DRIVER, and fails unless every test passed.

The drivers it loads run under kmdverify.sys (kit/verifier), loaded first into their driver host
(load-order group skeleton-tests): Wine's ProbeForRead/ProbeForWrite are no-ops, and the guard
tests' kernel-pool cases fail as on Windows only with the verifier's probes. Any verifier
violation by skeleton.sys or neither_prober.sys fails the run too."""
import sys

from e2e_support import BIN_DIR, ROOT, Box, windows_path

sys.path.insert(0, str(ROOT / "kit" / "verifier"))
from verify import Session, run_program  # noqa: E402

VERIFIED = ["skeleton.sys", "neither_prober.sys"]


def main(exe: str) -> int:
    with Box(f"gtest-{exe.split('.')[0]}") as box:
        session = Session(box, "skeleton-tests", BIN_DIR)
        session.start()
        rc, reports = run_program(session, [BIN_DIR / exe, "--gtest_color=no"],
                                  {"SKELETON_DRIVER": windows_path(BIN_DIR / "skeleton.sys"),
                                   "SKELETON_PROBER_DRIVER": windows_path(BIN_DIR / "neither_prober.sys")},
                                  VERIFIED, timeout=600)
        session.stop()
    for r in reports:
        print(r.text())
    if rc != 0:
        print(f"{exe}: exit {rc}", file=sys.stderr)
        return 1
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
