#!/usr/bin/python3
"""bench_profile - where the time of one DeviceIoControl goes under Wine (`make bench-profile`).

skeleton_bench.exe --hold N loads skeleton.sys in a box and sends N SAY_HELLO requests on each
"go". Around exactly those N requests this tool watches the box's Linux processes:

  1. wineserver requests per DeviceIoControl, by name: a second box whose processes run with
     WINEDEBUG=+server (every client/server call is traced by the process that makes it);
  2. context switches, CPU migrations and CPU time per process: `perf stat` software events
     (hardware counters are not available in this VM);
  3. system calls per process: `strace -c` (slows everything down; counts only);
  4. the effect of pinning every process of the box to one CPU (`taskset -a -p`), alternating
     unpinned and pinned runs in the same box.

Usage: tools/bench_profile.py [--requests N] [--build-dir build]
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kit" / "harness"))
import winebox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Held:
    """skeleton_bench.exe --hold N in a box: go() runs the N requests and returns us/request."""

    def __init__(self, box: winebox.Box, bench: Path, driver: Path, n: int, debug: str = "-all"):
        self.proc = box.spawn([bench, "--hold", str(n)], env={"SKELETON_DRIVER": winebox.windows_path(driver)},
                              debug=debug, stdin=subprocess.PIPE)
        self.stderr_lines: list[str] = []
        self._stderr_lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"skeleton_bench --hold did not start: {line!r} {''.join(self.stderr_lines[-20:])}")

    def _drain(self):
        for line in self.proc.stderr:
            with self._stderr_lock:
                self.stderr_lines.append(line)

    def stderr_mark(self) -> int:
        with self._stderr_lock:
            return len(self.stderr_lines)

    def stderr_since(self, mark: int) -> list[str]:
        with self._stderr_lock:
            return self.stderr_lines[mark:]

    def go(self) -> float:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.startswith("done"):
            raise RuntimeError(f"unexpected answer {line!r}")
        return float(line.split()[1])

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def box_processes(prefix: Path) -> dict[str, list[int]]:
    """The Linux processes of one box, by role, found by their WINEPREFIX."""
    roles: dict[str, list[int]] = collections.defaultdict(list)
    needle = f"WINEPREFIX={prefix}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle not in environ.split(b"\0"):
            continue
        low = cmdline.lower()
        for role in ("wineserver", "winedevice.exe", "skeleton_bench.exe", "services.exe"):
            if role in low:
                roles[role.removesuffix(".exe")].append(int(entry.name))
                break
        else:
            roles["other"].append(int(entry.name))
    return roles


# Wine's +server trace prints every request twice, the call "0024: ioctl( code=... )" and the
# reply "0024: ioctl() = PENDING { ... }"; counting replies counts each request once.
SERVER_REPLY = re.compile(r"^([0-9a-f]{4,8}): (\w+)\(\) = ")


def count_server_calls(lines) -> collections.Counter:
    calls = collections.Counter()
    for line in lines:
        m = SERVER_REPLY.match(line)
        if m:
            calls[m.group(2)] += 1
    return calls


def server_requests(bench: Path, driver: Path, n: int) -> None:
    """Pass 1: wineserver requests per DeviceIoControl, by name (client and driver host)."""
    winebox.KERNEL_LOG_DEBUG = "-all,+server"  # the session's processes (winedevice) trace too
    with winebox.Box("profile-server") as box:
        box.start_session()
        held = Held(box, bench, driver, n, debug="-all,+server")
        held.go()  # warm
        time.sleep(1.0)
        log_mark = len(box.kernel_log_text())
        err_mark = held.stderr_mark()
        held.go()
        time.sleep(1.0)  # let both traces drain
        calls = count_server_calls(held.stderr_since(err_mark)) + count_server_calls(box.kernel_log_text()[log_mark:].splitlines())
        held.quit()
    total = sum(calls.values())
    print(f"\nwineserver requests per DeviceIoControl (WINEDEBUG=+server replies, {n} SAY_HELLO requests): {total / n:.2f}")
    for name, count in calls.most_common(8):
        print(f"  {name:28s} {count / n:6.2f}")


def parse_perf(path: Path) -> dict[str, float]:
    values = {}
    for line in path.read_text().splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[0] and parts[0][0].isdigit():
            values[parts[2]] = float(parts[0])
    return values


def with_watchers(held: Held, commands: list[list[str]]) -> float:
    """Runs `commands` (perf/strace attached to the box) around one go()."""
    watchers = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
    time.sleep(1.0)  # attached
    us = held.go()
    for w in watchers:
        w.send_signal(signal.SIGINT)
    for w in watchers:
        w.wait(timeout=60)
    return us


def threads_of(pids: list[int]) -> list[str]:
    tids = []
    for pid in pids:
        try:
            tids += [t.name for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            pass
    return tids


def set_affinity(pids: list[int], cpus: str) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-a", "-c", "-p", cpus, str(pid)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


def perf_strace_pinning(bench: Path, driver: Path, n: int, rounds: int) -> None:
    winebox.KERNEL_LOG_DEBUG = "-all"
    with winebox.Box("profile") as box, tempfile.TemporaryDirectory() as tmp:
        box.start_session()
        held = Held(box, bench, driver, n)
        held.go()  # warm
        roles = box_processes(box.prefix)
        watched = {role: roles.get(role, []) for role in ("skeleton_bench", "winedevice", "wineserver")}

        # 2. perf software events per process
        perf = {}
        commands = []
        for role, pids in watched.items():
            if pids:
                out = Path(tmp) / f"{role}.perf"
                perf[role] = out
                commands.append(["perf", "stat", "-x,", "-o", str(out), "-e", "context-switches,cpu-migrations,task-clock",
                                 "-p", ",".join(map(str, pids))])
        us = with_watchers(held, commands)
        print(f"\nper DeviceIoControl, perf stat software events ({n} SAY_HELLO requests, {us:.1f} us each while watched)")
        print(f"  {'process':24s} {'ctx switches':>13s} {'migrations':>11s} {'CPU us':>8s}")
        total_cpu = 0.0
        for role, path in perf.items():
            v = parse_perf(path)
            cpu_us = v.get("task-clock", 0) * 1000 / n  # task-clock is in ms
            total_cpu += cpu_us
            print(f"  {role:24s} {v.get('context-switches', 0) / n:13.2f} {v.get('cpu-migrations', 0) / n:11.2f} {cpu_us:8.1f}")
        print(f"  {'all three':24s} {'':13s} {'':11s} {total_cpu:8.1f}   (of {us:.1f} us wall per request)")

        # 3. strace -c: system calls per process (ptrace makes every call slow; counts only)
        counts = {}
        commands = []
        for role, pids in watched.items():
            tids = threads_of(pids)
            if tids:
                out = Path(tmp) / f"{role}.strace"
                counts[role] = out
                commands.append(["strace", "-c", "-f", "-o", str(out)] + [a for t in tids for a in ("-p", t)])
        with_watchers(held, commands)
        print(f"\nper DeviceIoControl, system calls (strace -c -f)")
        for role, path in counts.items():
            rows = []
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
                    calls = int(parts[3])
                    rows.append((calls, parts[-1]))
            rows.sort(reverse=True)
            total = sum(c for c, _ in rows)
            detail = ", ".join(f"{name} {c / n:.1f}" for c, name in rows[:6])
            print(f"  {role:16s} {total / n:6.1f}   ({detail})")

        # 4. pinning: every process of the box on CPU 0, alternating with unpinned runs
        everything = [p for pids in box_processes(box.prefix).values() for p in pids]
        all_cpus = f"0-{os.cpu_count() - 1}"
        free, pinned = [], []
        for _ in range(rounds):
            set_affinity(everything, all_cpus)
            free.append(held.go())
            set_affinity(everything, "0")
            pinned.append(held.go())
        set_affinity(everything, all_cpus)
        print(f"\npinning (taskset -a -p: every process of the box), us per request, {rounds} alternating runs of {n}")
        print(f"  unpinned (CPUs {all_cpus}): median {statistics.median(free):7.1f}   runs {' '.join(f'{x:.0f}' for x in free)}")
        print(f"  pinned   (CPU 0)       : median {statistics.median(pinned):7.1f}   runs {' '.join(f'{x:.0f}' for x in pinned)}")
        print(f"  pinned / unpinned      : {statistics.median(pinned) / statistics.median(free):.3f}")
        held.quit()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating unpinned/pinned runs")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    bench = args.build_dir / "bin" / "skeleton_bench.exe"
    driver = args.build_dir / "bin" / "skeleton.sys"
    for f in (bench, driver):
        if not f.exists():
            print(f"bench_profile: {f} missing (make build)", file=sys.stderr)
            return 2
    print(f"machine: {os.cpu_count()} CPUs, {subprocess.run(['wine', '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    server_requests(bench, driver, min(args.requests, 1000))
    perf_strace_pinning(bench, driver, args.requests, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
