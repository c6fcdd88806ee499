#!/usr/bin/python3
"""realkernel - the kit's drivers, loader and device tests in ring 0 of a real NT kernel.

The lane takes one thing from the user: an NT installation ISO (a stock ReactOS x86 bootcd, or
see docs/realkernel.md for a Windows test VM). It

  1. remasters it for an unattended install (image.remaster: answer file, Debug Print Filter,
     a Run value for the payload, no Gecko prompt),
  2. installs it once under QEMU into a disk cached under build/realkernel/<sha256 of the ISO>/
     (the debugger on COM1 made the default boot entry afterwards: image.prepare_installed),
  3. per run, boots a throw-away overlay of that disk with a payload disk (payload.py) whose
     RUN.CMD runs the steps, with COM1 answered live (vm.py, serial_log.Responder),
  4. reads back each step's output and exit code, parses COM1 (the drivers' DbgPrint lines,
     assertions, bug checks with code, parameters and frames, symbolized with the kit's images),
     and checks each run's expectations.

    realkernel.py lane    [--iso ISO] [--bin-dir build/bin/x86] [--runs seed,device_tests,crash]
    realkernel.py install [--iso ISO]          (only step 1-2; cached)
    realkernel.py remaster ISO OUT.iso         (only step 1)

ISO defaults to $NT_ISO. Without one, `lane` prints why it is skipped and exits 77 (CTest's
SKIP_RETURN_CODE), so the lane is reported as skipped, never as passed.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import image  # noqa: E402
import payload  # noqa: E402
import serial_log  # noqa: E402
import vm  # noqa: E402

SKIP = 77
CRASH_IOCTL = "0x00222400"  # tests/drivers/crash_on_ioctl.cpp: IOCTL_CRASH_WRITE_NULL_PLUS_16
DRIVERS = ["skeleton", "neither_prober", "crash_on_ioctl", "kmdctl"]


@dataclass
class RunSpec:
    name: str
    steps: list[payload.Step]
    files: list[str]
    expect_bugcheck: bool = False
    timeout: float = 900


def run_specs(gtest_filter: str | None) -> dict[str, RunSpec]:
    bin_ = r"%P%\BIN"
    drivers = rf"skeleton={bin_}\skeleton.sys;skeleton_prober={bin_}\neither_prober.sys"
    gtest = rf"{bin_}\skeleton_device_tests.exe --gtest_color=no"
    if gtest_filter:
        gtest += f" --gtest_filter={gtest_filter}"
    return {
        # the seed's sequence through the x86 kmdctl
        # (kmdctl knows no driver: the sample's contract names SAY_HELLO as the request to send)
        "seed": RunSpec("seed", [payload.Step("seed", rf"{bin_}\kmdctl.exe run {bin_}\skeleton.sys --header {bin_}\skeleton_ioctl.h")],
                        ["kmdctl.exe", "skeleton.sys", "skeleton_ioctl.h"], timeout=900),
        # the whole x86 device-test suite (GoogleTest), the fixture loading the drivers via the SCM
        "device_tests": RunSpec("device_tests", [payload.Step("device_tests", gtest,
                                                              {"KMD_DRIVERS": drivers, "KMD_VERIFIER_LOADED": "0"})],
                                ["skeleton_device_tests.exe", "skeleton.sys", "neither_prober.sys"], timeout=1200),
        # a driver that writes through a bad pointer: must come back as a bug check naming the function
        "crash": RunSpec("crash", [
            payload.Step("install", rf"{bin_}\kmdctl.exe install {bin_}\crash_on_ioctl.sys --name crash_on_ioctl"),
            payload.Step("start", r"%P%\BIN\kmdctl.exe start crash_on_ioctl"),
            payload.Step("ioctl", rf"{bin_}\kmdctl.exe ioctl {CRASH_IOCTL} --device \\.\crash_on_ioctl"),
        ], ["kmdctl.exe", "crash_on_ioctl.sys"], expect_bugcheck=True, timeout=900),
    }


def say(*args) -> None:
    print(*args, flush=True)


def qemu_img(*args: str) -> None:
    tool = shutil.which("qemu-img")
    if not tool:
        raise RuntimeError("qemu-img is not installed (apt-get install qemu-utils)")
    r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"qemu-img {' '.join(args)}: {r.stderr.strip()}")


# --- install once, cached ---------------------------------------------------------------------------

def cache_dir_for(iso: Path, cache: Path) -> Path:
    digest = image.sha256(iso)
    return cache / f"{digest[:16]}-v{image.LANE_IMAGE_VERSION}"


def ensure_installed(iso: Path, cache: Path, accel: str, timeout: float) -> tuple[Path, dict]:
    """The installed base disk for this ISO, installing it first if it is not cached."""
    d = cache_dir_for(iso, cache)
    d.mkdir(parents=True, exist_ok=True)
    base = d / "base.qcow2"
    stamp = d / "ready.json"
    with open(d / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and base.is_file():
            return base, json.loads(stamp.read_text())
        say(f"realkernel: installing {iso.name} once into {d} (unattended, {accel}; cached for later runs)")
        t0 = time.monotonic()
        lane_iso = d / "lane.iso"
        image.remaster(iso, lane_iso)
        raw = d / "install.raw"
        raw.unlink(missing_ok=True)
        with open(raw, "wb") as f:
            f.truncate(3 << 30)  # sparse, 3 GiB
        t1 = time.monotonic()
        out = vm.run([(raw, "raw")], d / "install", cdrom=lane_iso, boot_cd_once=True, accel=accel, timeout=timeout,
                     stop_when=image.install_complete)
        t2 = time.monotonic()
        end = install_end(out)
        if end is None:
            raise RuntimeError(f"install did not finish ({out.how} after {out.seconds:.0f} s); "
                               f"serial log: {d / 'install' / 'com1.log'}\n{out.qemu_stderr[-1500:]}\n"
                               + "\n".join(out.log.splitlines()[-25:]))
        info = finish_install(d, iso, accel, round(t2 - t1), end)
        info["total_seconds"] = round(time.monotonic() - t0)
        stamp.write_text(json.dumps(info, indent=2))
        say(f"realkernel: installed in {info['install_seconds']} s (QEMU, {accel}; {end}); "
            f"{info['total_seconds']} s with remaster and conversion")
        return base, info


def install_end(out: vm.Outcome) -> str | None:
    """How the install's last boot ended, if it ended as a finished install does; else None.
    ReactOS (master, Aug 2025) does not always power off: asked to shut down at the first logon,
    winlogon is terminated as a critical process and smss stops the system with bug check
    0xC000021A - after every process but winlogon has been ended and well after setup wrote its
    last file. That is taken as the end of the install (reported as such), not as a failure."""
    if out.how == "stopped":
        return "stopped at the installed system's first boot after setup"
    if out.how == "poweroff":
        return "powered off"
    if out.how == "bugcheck" and "SrvExitWindowsEx" in out.log:
        codes = [s.code for s in serial_log.parse(out.log).bugchecks]
        if codes and codes[-1] == 0xC000021A:
            return "shut down into bug check 0xC000021A (winlogon terminated as a critical process at shutdown)"
    return None


def finish_install(d: Path, iso: Path, accel: str, install_seconds: int, end: str) -> dict:
    raw, base = d / "install.raw", d / "base.qcow2"
    ini = image.prepare_installed(raw)
    qemu_img("convert", "-O", "qcow2", str(raw), str(base))
    raw.unlink()
    (d / "lane.iso").unlink(missing_ok=True)
    return {"iso": str(iso), "iso_sha256": image.sha256(iso), "accel": accel, "install_seconds": install_seconds,
            "install_end": end, "freeldr_ini": ini, "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# --- one run --------------------------------------------------------------------------------------

@dataclass
class RunResult:
    spec: RunSpec
    outcome: vm.Outcome
    steps: list[payload.StepResult]
    markers: dict[str, str]
    report: serial_log.Report
    failures: list[str] = field(default_factory=list)
    end: str = ""


def gtest_summary(text: str | None) -> dict:
    if not text:
        return {}
    s = {"passed": None, "failed": [], "ran": None}
    m = re.search(r"\[==========\] (\d+) tests? from \d+ test suites? ran", text)
    if m:
        s["ran"] = int(m.group(1))
    m = re.search(r"\[  PASSED  \] (\d+) test", text)
    if m:
        s["passed"] = int(m.group(1))
    s["failed"] = sorted(set(re.findall(r"^\[  FAILED  \] (\w+\.[\w/]+)", text, re.M)))
    # marked in the test (GTEST_SKIP with the reason: Vista-only, Wine-only, needs the verifier)
    s["skipped"] = sorted(set(re.findall(r"^\[  SKIPPED \] (\w+\.[\w/]+)", text, re.M)))
    return s


def do_run(spec: RunSpec, base: Path, bin_dir: Path, out_dir: Path, accel: str, symbol_dirs: list[Path]) -> RunResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in ("com1.log",):
        (out_dir / old).unlink(missing_ok=True)
    missing = [f for f in spec.files if not (bin_dir / f).is_file()]
    if missing:
        raise RuntimeError(f"{spec.name}: not built: {', '.join(str(bin_dir / f) for f in missing)}")
    disk = out_dir / "payload.img"
    payload.make(disk, {f: bin_dir / f for f in spec.files}, spec.steps)
    overlay = out_dir / "system.qcow2"
    overlay.unlink(missing_ok=True)
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay))
    say(f"realkernel: run {spec.name}: booting ({accel}), {len(spec.steps)} step(s), limit {spec.timeout:.0f} s")
    outcome = vm.run([(overlay, "qcow2"), (disk, "raw")], out_dir, accel=accel, timeout=spec.timeout)
    overlay.unlink(missing_ok=True)
    steps, markers = payload.read_results(disk, spec.steps, outcome.log)
    report = serial_log.parse(outcome.log, [f for f in spec.files if f.endswith(".sys")])
    serial_log.symbolize(report, symbol_dirs)
    result = RunResult(spec, outcome, steps, markers, report)
    check(result)
    return result


def check(r: RunResult) -> None:
    f = r.failures
    bugchecks = r.report.bugchecks
    if r.spec.expect_bugcheck:
        if not bugchecks:
            f.append(f"expected a bug check, got none (run ended: {r.outcome.how})")
        else:
            frames = [fr for s in r.report.stops for fr in s.frames]
            frames += [s.fault for s in bugchecks if s.fault]
            if not any(fr.module and fr.module.lower().startswith("crash_on_ioctl") and fr.function for fr in frames):
                f.append("the bug check's frames do not name a function in crash_on_ioctl.sys")
        return
    shutdown_stop = None
    if r.outcome.how != "poweroff":
        if r.markers.get("DONE.TXT") and install_end(r.outcome):
            shutdown_stop = r.report.bugchecks[-1]   # after the last step, at the power-off: ReactOS's, not ours
            r.end = "shut down (after the last step; ReactOS's shutdown ended in bug check 0xC000021A)"
        else:
            f.append(f"the run did not end by itself: {r.outcome.how} after {r.outcome.seconds:.0f} s")
    for s in r.report.stops:
        if s is shutdown_stop:
            continue
        if s.kind in ("assertion", "bugcheck"):
            f.append(f"kernel: {s.summary}" + (f" at {s.source}" if s.source else ""))
    for st in r.steps:
        if st.exit_code is None:
            f.append(f"step {st.index} ({st.name}) did not finish")
        elif st.exit_code != 0:
            f.append(f"step {st.index} ({st.name}) exit code {st.exit_code}")


def print_result(r: RunResult) -> None:
    o = r.outcome
    say(f"\n=== run {r.spec.name}: {r.end or o.how} after {o.seconds:.0f} s ({o.accel}) ===")
    for st in r.steps:
        say(f"--- step {st.index} {st.name}: exit code {st.exit_code if st.exit_code is not None else 'none (did not finish)'}")
        say(f"    > {st.command}")
        if st.output:
            lines = st.output.rstrip("\n").splitlines()
            if st.name == "device_tests":
                g = gtest_summary(st.output)
                say(f"    gtest: ran {g.get('ran')}, passed {g.get('passed')}, failed {len(g.get('failed', []))}"
                    f"{': ' + ', '.join(g['failed']) if g.get('failed') else ''}, skipped {len(g.get('skipped', []))}")
                reasons = [l for l in lines if not l.startswith("[") and l.strip() and not l.startswith(("Running main", "/"))]
                lines = [l for l in lines if l.startswith(("[  FAILED", "[  PASSED", "[  SKIPPED", "[=========="))] + \
                        [f"  (skip reason) {r}" for r in reasons]
            for line in lines[-60:]:
                say(f"    | {line}")
    if r.markers.get("CURRENT.TXT") and not r.markers.get("DONE.TXT"):
        say(f"--- the payload was in step {r.markers['CURRENT.TXT']} when the run ended")
    live = [l.strip() for l in r.outcome.log.splitlines() if "KMDLANE-" in l]
    if live:
        say("--- the payload's own markers (COM1, live): " + " | ".join(live))
    if r.report.driver_lines:
        say("--- the drivers' DbgPrint lines (COM1)")
        for line in r.report.driver_lines:
            say(f"    {line}")
    snap = [l for l in r.outcome.log.splitlines() if "Failed to snap" in l or "failed to load" in l.lower()]
    for line in snap[:10]:
        say(f"--- loader: {line.strip()}")
    for s in r.report.stops:
        say(f"--- kernel stop: {s.summary}" + (f"  [{s.source}]" if s.source else "")
            + (f"  driver at fault: {s.driver_at_fault}" if s.driver_at_fault else ""))
        if s.fault:
            say(f"      faulting instruction: {s.fault.where()}")
        for n, fr in enumerate(s.frames[:16]):
            say(f"      #{n} {fr.where()}")
    say(f"--- COM1 log: {r.outcome.log and 'com1.log in the run directory'}")
    if r.failures:
        say("FAILED: " + "; ".join(r.failures))
    else:
        say("PASSED")


def result_json(r: RunResult) -> dict:
    return {
        "run": r.spec.name, "how": r.outcome.how, "end": r.end, "seconds": round(r.outcome.seconds, 1), "accel": r.outcome.accel,
        "steps": [{"name": s.name, "command": s.command, "exit_code": s.exit_code, "output": s.output} for s in r.steps],
        "gtest": gtest_summary(next((s.output for s in r.steps if s.name == "device_tests"), None)),
        "driver_lines": r.report.driver_lines,
        "stops": [{"kind": s.kind, "summary": s.summary, "code": s.code, "params": s.params, "source": s.source,
                   "driver_at_fault": s.driver_at_fault, "fault": s.fault.where() if s.fault else None,
                   "frames": [f.where() for f in s.frames]} for s in r.report.stops],
        "failures": r.failures,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("lane", "install"):
        p = sub.add_parser(name)
        p.add_argument("--iso", default=os.environ.get("NT_ISO") or None)
        p.add_argument("--cache", type=Path, default=Path(os.environ.get("KMD_REALKERNEL_CACHE", ROOT / "build" / "realkernel")))
        p.add_argument("--accel", choices=("tcg", "kvm"), default=os.environ.get("KMD_REALKERNEL_ACCEL", "tcg"))
        p.add_argument("--install-timeout", type=float, default=3600)
    lane_p = sub.choices["lane"]
    lane_p.add_argument("--bin-dir", type=Path, default=Path(os.environ.get("KMD_X86_BIN_DIR", ROOT / "build" / "bin" / "x86")))
    lane_p.add_argument("--runs", default="seed,device_tests,crash")
    lane_p.add_argument("--gtest-filter", default=None)
    lane_p.add_argument("--out", type=Path, default=None)
    lane_p.add_argument("--base-disk", type=Path, default=os.environ.get("NT_DISK") or None,
                      help="a prepared, installed system disk (qcow2) to boot instead of installing NT_ISO: "
                           "e.g. a Windows test VM (docs/realkernel.md; untested here)")
    rem = sub.add_parser("remaster")
    rem.add_argument("src", type=Path)
    rem.add_argument("dst", type=Path)
    a = ap.parse_args(argv)

    if a.cmd == "remaster":
        image.remaster(a.src, a.dst)
        say(f"realkernel: {a.dst} written")
        return 0
    if a.cmd == "lane" and a.base_disk:
        base, info = Path(a.base_disk).resolve(), {"install_seconds": 0, "accel": a.accel, "iso": None}
        return lane(a, base, info, Path(a.base_disk).name)
    if not a.iso:
        say("realkernel: SKIPPED - no NT image given. Set NT_ISO=/path/to/reactos-bootcd.iso (make realkernel "
            "NT_ISO=..., or NT_ISO in the environment of ctest) to run the drivers in a real NT kernel under QEMU "
            "(docs/realkernel.md).")
        return SKIP
    iso = Path(a.iso).resolve()
    if not iso.is_file():
        say(f"realkernel: {iso}: no such file")
        return 2
    for tool in ("qemu-system-i386", "qemu-img", "xorriso", "mcopy", "mformat"):
        if not shutil.which(tool):
            say(f"realkernel: SKIPPED - {tool} is not installed (apt-get install qemu-system-x86 qemu-utils xorriso mtools)")
            return SKIP
    base, info = ensure_installed(iso, a.cache, a.accel, a.install_timeout)
    if a.cmd == "install":
        say(json.dumps({k: v for k, v in info.items() if k != "freeldr_ini"}, indent=2))
        return 0
    return lane(a, base, info, iso.name)


def lane(a, base: Path, info: dict, label: str) -> int:
    specs = run_specs(a.gtest_filter)
    wanted = [n.strip() for n in a.runs.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in specs]
    if unknown:
        say(f"realkernel: unknown run(s) {', '.join(unknown)}; known: {', '.join(specs)}")
        return 2
    out_root = a.out or (a.cache / "runs" / time.strftime("%Y%m%d-%H%M%S"))
    say(f"realkernel: {label} installed ({info['install_seconds']} s, {info['accel']}, cached {base}); runs in {out_root}")
    symbol_dirs = [a.bin_dir, a.bin_dir.parent]
    results = []
    for name in wanted:
        r = do_run(specs[name], base, a.bin_dir, out_root / name, a.accel, symbol_dirs)
        print_result(r)
        results.append(r)
    (out_root / "report.json").write_text(json.dumps([result_json(r) for r in results], indent=2))
    failed = [r.spec.name for r in results if r.failures]
    say(f"\nrealkernel: {len(results) - len(failed)} of {len(results)} runs as expected"
        + (f"; failed: {', '.join(failed)}" if failed else "") + f"  (report: {out_root / 'report.json'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
