#!/usr/bin/python3
"""test_profile - where `make test`'s time goes (`make test-profile`; docs/performance.md).

Runs CTest as `make test` does (two at a time, boxes pinned) with KMD_PROFILE_DIR set, so every
Wine box records its phases (kit/harness/kmd_profile.py), and notes when CTest starts and ends
each test. Then per test: its wall time split into the box phases - template (wineboot, once),
clone, boot (the session: wineserver, services, the holder), build (a test's own payload, e.g.
new_driver's cmake build), teardown (session end, wineserver -k, prefix removed) - and the rest,
the test's own work. Below: the sum of all tests against the two lanes' critical path.

    tools/test_profile.py [--build-dir build] [-j 2] [-R REGEX] [-E REGEX]   run and print
    tools/test_profile.py --read build/test-profile/last                      print a saved run
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kit" / "harness"))
from kmd_profile import PHASES  # noqa: E402

_START = re.compile(r"^\s*Start\s+\d+: (\S+)")
_END = re.compile(r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.*\s*(\*{0,3}\S.*?)\s+([\d.]+) sec")


def run_ctest(build_dir: Path, out: Path, jobs: int, ctest_args: list[str]) -> int:
    """CTest as `make test` runs it; each test's start and end as CTest reports them."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jsonl"):
        old.unlink()
    env = {**os.environ, "KMD_PROFILE_DIR": str(out.resolve()), "KMD_BOX_PIN": os.environ.get("KMD_BOX_PIN", "auto")}
    cmd = ["ctest", "--test-dir", str(build_dir), "--output-on-failure", "-j", str(jobs), *ctest_args]
    tests: dict[str, dict] = {}
    begin = time.time()
    load_before = os.getloadavg()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    for line in proc.stdout:
        sys.stdout.write(line)
        now = time.time()
        if m := _START.match(line):
            tests[m.group(1)] = {"start": now}
        elif m := _END.match(line):
            t = tests.setdefault(m.group(1), {"start": now - float(m.group(3))})
            t.update(end=now, seconds=float(m.group(3)), result=m.group(2).strip())
    rc = proc.wait()
    run = {"command": cmd, "begin": begin, "end": time.time(), "returncode": rc, "cpus": os.cpu_count(),
           "jobs": jobs, "load_before": load_before, "load_after": os.getloadavg(), "tests": tests}
    (out / "ctest.json").write_text(json.dumps(run, indent=1))
    return rc


def records_of(out: Path):
    """Every phase record of a run (kmd_profile.py's lines); a line cut short is skipped."""
    for f in out.glob("*.jsonl"):
        for line in f.read_text().splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def phases_of(out: Path) -> dict[str, dict[str, float]]:
    """Seconds per test per phase, and the number of boxes each test made."""
    spent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    boxes: dict[str, set] = defaultdict(set)
    for r in records_of(out):
        spent[r["test"]][r["phase"]] += r["end"] - r["start"]
        if r["phase"] == "clone":
            boxes[r["test"]].add(r["box"])
    for test, names in boxes.items():
        spent[test]["boxes"] = len(names)
    return spent


def programs_of(out: Path) -> dict[str, list[float]]:
    """Seconds of each run of each kind of Windows program ("kmdctl.exe start"), over all tests."""
    runs: dict[str, list[float]] = defaultdict(list)
    for r in records_of(out):
        if r["phase"] == "programs":
            runs[r.get("what") or "(not named)"].append(r["end"] - r["start"])
    return runs


def programs_table(out: Path, top: int = 15) -> list[str]:
    runs = programs_of(out)
    if not runs:
        return []
    lines = ["", f"{'Windows program (name, first word)':42} {'runs':>5} {'sum s':>7} {'median':>7} {'max':>6}"]
    for what, times in sorted(runs.items(), key=lambda kv: -sum(kv[1]))[:top]:
        times.sort()
        lines.append(f"{what:42} {len(times):5d} {sum(times):7.1f} {times[len(times) // 2]:7.2f} {times[-1]:6.2f}")
    return lines


def two_lane_schedule(durations: list[float], lanes: int) -> float:
    """Makespan of the longest-first schedule on `lanes` lanes: what ordering by cost could reach."""
    finish = [0.0] * lanes
    for d in sorted(durations, reverse=True):
        i = finish.index(min(finish))
        finish[i] += d
    return max(finish, default=0.0)


def report(out: Path) -> str:
    run = json.loads((out / "ctest.json").read_text())
    spent = phases_of(out)
    tests = {n: t for n, t in run["tests"].items() if "end" in t}
    rows = []
    for name, t in tests.items():
        wall = t["end"] - t["start"]
        p = spent.get(name, {})
        shown = [p.get(ph, 0.0) for ph in PHASES]
        rows.append((name, wall, *shown, max(0.0, wall - sum(shown)), int(p.get("boxes", 0)), t.get("result", "")))
    rows.sort(key=lambda r: -r[1])
    head = f"{'test':42} {'wall s':>7} " + " ".join(f"{ph:>8}" for ph in PHASES) + f" {'work':>7} {'boxes':>5}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r[0]:42} {r[1]:7.1f} " + " ".join(f"{v:8.1f}" for v in r[2:2 + len(PHASES)])
                     + f" {r[2 + len(PHASES)]:7.1f} {r[3 + len(PHASES)]:5d}  {r[4 + len(PHASES)]}")
    totals = [sum(r[i] for r in rows) for i in range(1, 3 + len(PHASES))]
    lines.append("-" * len(head))
    lines.append(f"{'sum over tests':42} {totals[0]:7.1f} " + " ".join(f"{v:8.1f}" for v in totals[1:1 + len(PHASES)])
                 + f" {totals[1 + len(PHASES)]:7.1f} {sum(r[3 + len(PHASES)] for r in rows):5d}")
    jobs = run["jobs"]
    walls = [r[1] for r in rows]
    longest = rows[0] if rows else ("-", 0.0)
    lines += [
        "",
        f"machine: {run['cpus']} CPUs, load average {run['load_before'][0]:.2f} before, {run['load_after'][0]:.2f} after; ctest -j {jobs}",
        f"the run, start to end:                 {run['end'] - run['begin']:7.1f} s",
        f"sum of test times / {jobs} lanes:            {sum(walls) / jobs:7.1f} s",
        f"longest test ({longest[0]}): {longest[1]:7.1f} s",
        f"these tests longest first on {jobs} lanes:  {two_lane_schedule(walls, jobs):7.1f} s  "
        f"(no order beats max(sum / {jobs}, longest) = {max(sum(walls) / jobs, longest[1]):.1f} s)",
        f"box overhead (template+clone+boot+teardown) summed: "
        f"{sum(totals[1 + PHASES.index(p)] for p in ('template', 'clone', 'boot', 'teardown')):.1f} s",
        *programs_table(out),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build")
    parser.add_argument("--out", type=Path, help="where the run's records go (default BUILD/test-profile/last)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--read", type=Path, metavar="DIR", help="print a saved run, run nothing")
    parser.add_argument("-R", dest="include")
    parser.add_argument("-E", dest="exclude")
    args = parser.parse_args(argv)
    if args.read:
        if not (args.read / "ctest.json").exists():
            print(f"test_profile: no saved run in {args.read} (ctest.json missing)", file=sys.stderr)
            return 2
        sys.stdout.write(report(args.read))
        return 0
    out = args.out or args.build_dir / "test-profile" / "last"
    ctest_args = (["-R", args.include] if args.include else []) + (["-E", args.exclude] if args.exclude else [])
    rc = run_ctest(args.build_dir, out, args.jobs, ctest_args)
    print("\n--- where the time went (tools/test_profile.py; records in %s)" % out)
    sys.stdout.write(report(out))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
