#!/usr/bin/python3
"""check.py - a lesson's check (docs/lessons/): runs the learner's driver and says in words what is
still wrong. `make lesson N DIR=drivers/NAME` builds the tree and calls it; by hand:

    lessons/check.py N [--source drivers/NAME] [--driver build/bin/NAME.sys] [--name NAME]

Without --source: the one directory under drivers/ that `tools/new-driver NAME --lesson N` made.

Exit 0: every check passed; 1: something is still wrong (each problem printed on its own line);
2: bad usage. Behaviour first: the driver is loaded in a private Wine box (kit/harness/winebox.py)
and driven with kmdctl, or run under the kit's Driver Verifier (kit/verifier/verify.py); the source
is read only for what behaviour cannot show safely (a request never completed hangs its caller).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "kit" / "harness"))
from winebox import Box  # noqa: E402

BIN_DIR = Path(os.environ.get("KMD_BIN_DIR") or ROOT / "build" / "bin")
KMDCTL = BIN_DIR / "kmdctl.exe"  # check.py --build-dir sets it for its own runs
PYTHON = "/usr/bin/python3"
SAY_HELLO = "0x00222007"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)


def code_only(source: str) -> str:
    """C source without comments and string literals: what the compiler sees as calls."""
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    source = re.sub(r"//[^\n]*", " ", source)
    return re.sub(r'"(\\.|[^"\\])*"', '""', source)


def calls(source_dir: Path, function: str) -> bool:
    text = "".join(p.read_text(errors="replace") for p in sorted(source_dir.glob("*.c")))
    return re.search(rf"\b{function}\s*\(", code_only(text)) is not None


class Lesson:
    """What every lesson's check has: the driver, its source, its name, a box to run it in."""

    def __init__(self, driver: Path, source: Path, name: str, box: Box):
        self.driver, self.source, self.name, self.box = driver, source, name, box
        self.problems: list[str] = []

    def wrong(self, text: str) -> None:
        self.problems.append(text)

    def kmdctl(self, *args: str, timeout: float = 60):
        run = self.box.run([str(KMDCTL), *args], timeout=timeout)
        return run, run.stdout + run.stderr

    @property
    def device(self) -> str:
        return "\\\\.\\" + self.name

    def remove(self) -> None:
        self.kmdctl("remove", self.name)


def dumped_bytes(output: str) -> bytes:
    """The bytes of kmdctl's hex dump ("00000000  48 65 6c ...  |Hel...|")."""
    data = bytearray()
    for m in re.finditer(r"^\s*[0-9a-f]{8}  ((?:[0-9a-f]{2} )+)", output, re.M):
        data += bytes.fromhex(m.group(1))
    return bytes(data)


def failed_step(output: str) -> tuple[int, str] | None:
    """kmdctl run's first failed step: (step number, its line)."""
    m = re.search(r"^\[(\d)/7\] FAILED: (.*)$", output, re.M)
    return (int(m.group(1)), m.group(2)) if m else None


def win32_error(line: str) -> int | None:
    m = re.search(r"error (\d+)", line)
    return int(m.group(1)) if m else None


class Lesson1(Lesson):
    """The seed's skeleton: a symbolic link, IoCompleteRequest, SAY_HELLO, an unload that undoes all."""

    def check(self) -> None:
        if not calls(self.source, "IoCompleteRequest"):
            self.wrong("DriverDispatcher never calls IoCompleteRequest: every request stays with the driver and "
                       "the caller's CreateFile never returns (exercise 2), so the driver was not loaded")
            return
        for attempt in (1, 2):
            started = time.monotonic()
            run, out = self.kmdctl("run", str(self.driver), "--name", self.name, "--device", self.device,
                                   "--ioctl", SAY_HELLO, "--out-size", "256")
            if run.timed_out:
                self.wrong("kmdctl run did not finish in 60 s: a request is never completed (IoCompleteRequest "
                           "on every path of DriverDispatcher)")
                return
            failed = failed_step(out)
            if os.environ.get("KMD_LESSON_DEBUG"):
                print(f"check.py: run {attempt}: {time.monotonic() - started:.1f} s\n{run.describe()}", file=sys.stderr)
            if failed is None and run.returncode == 0:
                if not dumped_bytes(out).startswith(b"Hello from ring 0!"):
                    self.wrong(f"SAY_HELLO ({SAY_HELLO}) succeeded but the answer is not the greeting "
                               "(copy k_hello, and set Information to the bytes copied)")
                    return
                continue
            step, line = failed if failed else (0, out.strip().splitlines()[-1] if out.strip() else "")
            error = win32_error(line)
            if attempt == 2 and step == 4:
                self.wrong("the driver loads once but not twice: the second StartService failed "
                           f"({line}): DriverUnload leaves \\DosDevices\\{self.name} behind, so the next "
                           "IoCreateSymbolicLink fails (exercise 4: IoDeleteSymbolicLink before IoDeleteDevice)")
            elif step == 4:
                self.wrong(f"StartService failed: DriverEntry returned an error ({line})")
            elif step == 5 and "CreateFile" in line and error in (2, 3):
                self.wrong(f"CreateFile({self.device}) finds nothing (error {error}): DriverEntry creates no "
                           f"symbolic link \\DosDevices\\{self.name} -> \\Device\\{self.name} (exercise 1: "
                           "IoCreateSymbolicLink)")
            elif step == 5 and error == 1:
                self.wrong(f"SAY_HELLO ({SAY_HELLO}) came back with error 1 (STATUS_NOT_IMPLEMENTED): the "
                           "IRP_MJ_DEVICE_CONTROL case does not answer IOCTL_SAY_HELLO yet (exercise 3)")
            elif step == 5 and error == 122:
                self.wrong(f"SAY_HELLO ({SAY_HELLO}) with a 256-byte buffer came back with error 122 "
                           "(STATUS_BUFFER_TOO_SMALL): compare OutputBufferLength with sizeof k_hello")
            elif step == 6:
                self.wrong(f"stopping the driver failed ({line}): is DriverObject->DriverUnload set?")
            else:
                self.wrong(f"kmdctl run failed at step {step} ({line})")
            self.remove()
            return


class Lesson2(Lesson):
    """The seven steps one at a time: the service key DriverEntry is given, and a driver that stops."""

    def check(self) -> None:
        if not calls(self.source, "IoCompleteRequest"):
            self.wrong("DriverDispatcher never calls IoCompleteRequest: every request would hang (lesson 1, exercise 2)")
            return
        self.box.start_session()
        mark = self.box.kernel_log_size()
        run, out = self.kmdctl("install", str(self.driver), "--name", self.name)  # steps 1, 2
        if run.returncode == 0:
            run, out = self.kmdctl("start", self.name)  # steps 1, 3, 4
        if run.returncode != 0:
            self.wrong(f"steps 1-4 (install, start) failed: {out.strip()}")
            self.remove()
            return
        run, out = self.kmdctl("ioctl", SAY_HELLO, "--device", self.device, "--out-size", "256")  # step 5
        if not dumped_bytes(out).startswith(b"Hello from ring 0!"):
            self.wrong(f"step 5: SAY_HELLO does not answer the greeting (lesson 1's exercises): {out.strip()}")
        key = rf"\Registry\Machine\System\CurrentControlSet\Services\{self.name}"
        if not re.search(rf"{re.escape(self.name)}: DriverEntry: service key {re.escape(key)}\s*$",
                         self.box.kernel_log_since(mark), re.I | re.M):
            self.wrong(f"DriverEntry does not print its service key: the line '{self.name}: DriverEntry: service key "
                       f"{key}' is not in the driver's debug output (exercise 2: registry_path, which step 2's "
                       "CreateService made)")
        run, out = self.kmdctl("stop", self.name, "--timeout", "2000")  # step 6
        if run.returncode != 0:
            self.wrong(f"step 6, ControlService(SERVICE_CONTROL_STOP), did not stop the driver "
                       f"({out.strip().splitlines()[0] if out.strip() else run.returncode}): the kernel stops a driver "
                       "only through DriverObject->DriverUnload, which DriverEntry does not set (exercise 1)")
            return  # a driver that cannot stop cannot be deleted either: the box ends with it
        run, out = self.kmdctl("remove", self.name)  # step 7
        if run.returncode != 0:
            self.wrong(f"step 7, DeleteService, failed: {out.strip()}")


class Lesson3(Lesson):
    """One IOCTL per transfer method the I/O manager makes safe: who copies what, where."""

    def ioctl(self, name: str, *args: str):
        header = str(self.source / "ioctl.h")
        return self.kmdctl("ioctl", f"IOCTL_{self.name.upper()}_{name}", "--header", header, "--device", self.device, *args)

    def expect(self, name: str, method: str, args: list[str], information: int, dump: str | None, hint: str) -> None:
        run, out = self.ioctl(name, *args)
        error = win32_error(out) if run.returncode != 0 else None
        if error == 1:
            self.wrong(f"IOCTL_{self.name.upper()}_{name} ({method}) came back with error 1 "
                       f"(STATUS_NOT_IMPLEMENTED): its handler is still the stub ({hint})")
            return
        if run.returncode != 0:
            self.wrong(f"IOCTL_{self.name.upper()}_{name} ({method}) failed: {out.strip().splitlines()[-1]} ({hint})")
            return
        m = re.search(r"Information: (\d+) bytes", out)
        got = int(m.group(1)) if m else -1
        if got != information:
            self.wrong(f"IOCTL_{self.name.upper()}_{name} ({method}) set Information to {got}, expected "
                       f"{information} ({hint})")
        elif dump is not None and dumped_bytes(out) != bytes.fromhex(dump):
            self.wrong(f"IOCTL_{self.name.upper()}_{name} ({method}) returned the wrong bytes: expected "
                       f"{dump}, got:\n{out.strip()} ({hint})")

    def check(self) -> None:
        if not calls(self.source, "IoCompleteRequest"):
            self.wrong("DriverDispatcher never calls IoCompleteRequest: every request would hang")
            return
        run, out = self.kmdctl("install", str(self.driver), "--name", self.name)
        if run.returncode == 0:
            run, out = self.kmdctl("start", self.name)
        if run.returncode != 0:
            self.wrong(f"the driver does not start: {out.strip()}")
            self.remove()
            return
        try:
            self.expect("REVERSE", "METHOD_BUFFERED", ["--in", "01 02 03 04 05", "--out-size", "8"], 5,
                        "05 04 03 02 01", "exercise 1: reverse SystemBuffer in place, Information = in_len")
            self.expect("COUNT", "METHOD_IN_DIRECT", ["--in", "00", "--out-size", "16"], 16, None,
                        "exercise 2: count the bytes of the MDL's data equal to SystemBuffer[0]; "
                        "kmdctl's output buffer is 16 zero bytes")
            self.expect("FILL", "METHOD_OUT_DIRECT", ["--in", "5a", "--out-size", "4"], 4, "5a 5a 5a 5a",
                        "exercise 3: fill the MDL's buffer with SystemBuffer[0], Information = out_len")
        finally:
            self.remove()


class Lesson4(Lesson):
    """METHOD_NEITHER: the caller's address, probed, inside __try."""

    def check(self) -> None:
        verify = subprocess.run([PYTHON, str(ROOT / "kit" / "verifier" / "verify.py"), str(self.driver),
                                 "--name", self.name, "--device", self.name, "--ioctl", f"{SAY_HELLO},out=256",
                                 "--no-sweep", "--box", f"{self.box.name}-verify-{self.name}"],
                                capture_output=True, text=True, timeout=300)
        out = verify.stdout + verify.stderr
        violation = re.search(r"VIOLATION UNPROBED_USER_BUFFER .*?\[(?P<where>[^\]]+)\].*?(?P<claimed>\d+) bytes, "
                              r"(?P<covered>\d+) of them covered", out)
        if violation and violation["covered"] != "0":
            self.wrong(f"SAY_HELLO probes only {violation['covered']} of the {violation['claimed']} bytes the caller "
                       f"claims (at {violation['where']}): probe the whole OutputBufferLength, the room the caller says "
                       "its buffer has, not what you mean to write (UNPROBED_USER_BUFFER)")
        elif violation or "UNPROBED_USER_BUFFER" in out:
            where = f" (at {violation['where']})" if violation else ""
            self.wrong("SAY_HELLO writes to Irp->UserBuffer, the caller's METHOD_NEITHER address, without "
                       f"ProbeForWrite{where}: the verifier names it (UNPROBED_USER_BUFFER). A caller could pass a "
                       "kernel address and the driver would write there for it")
        elif verify.returncode != 0:
            lines = [l for l in out.splitlines() if "VIOLATION" in l or "FAIL" in l or "failed" in l]
            self.wrong("the verifier fails the driver: " + ("; ".join(lines[:4]) or out.strip()[-400:]))
        if calls(self.source, "ProbeForWrite") and not re.search(r"\b__try\b", code_only(
                "".join(p.read_text(errors="replace") for p in sorted(self.source.glob("*.c"))))):
            self.wrong("ProbeForWrite is called outside __try: on a bad address it raises, and with no __except "
                       "to catch it the driver brings down the machine (under Wine: its host process)")


class Lesson6(Lesson):
    """A crash, read from its report: SAY_HELLO without an output buffer must fail, not crash."""

    def check(self) -> None:
        self.box.expect_crash = True  # the starting point crashes on purpose: no need to keep the prefix
        run, out = self.kmdctl("install", str(self.driver), "--name", self.name)
        if run.returncode == 0:
            run, out = self.kmdctl("start", self.name)
        if run.returncode != 0:
            self.wrong(f"the driver does not start: {out.strip()}")
            self.remove()
            return
        crashes = self.box.crash_count()
        run, out = self.kmdctl("ioctl", SAY_HELLO, "--device", self.device, "--out-size", "0")
        if self.box.crash_count() > crashes:
            report = self.box.crash_report.read_text(errors="replace")
            what = re.findall(r"^Unhandled exception: (.*?) in \d+-bit code", report, re.M)[-1:]
            frame = re.findall(rf"^\s*\d+ 0x[0-9a-f]+ (\w+)\+0x[0-9a-f]+\(.*?\) \[[^\]]*?([^\\\]]+:\d+)\] in {re.escape(self.name)}\.sys",
                               report, re.M)
            where = f" in {frame[0][0]} ({frame[0][1]})" if frame else ""
            self.wrong(f"SAY_HELLO without an output buffer (OutputBufferLength 0, Irp->UserBuffer NULL) crashed the "
                       f"driver: {what[0] if what else 'an exception'}{where}. Look at that line: check the room the "
                       "caller gave before writing there (STATUS_BUFFER_TOO_SMALL)")
            return  # the box gives the next program a fresh session by itself (winebox: auto_recover)
        error = win32_error(out) if run.returncode != 0 else None
        if error != 122:
            self.wrong(f"SAY_HELLO without an output buffer should fail with error 122 (STATUS_BUFFER_TOO_SMALL); "
                       f"it gave: {out.strip().splitlines()[-1] if out.strip() else run.returncode}")
        run, out = self.kmdctl("ioctl", SAY_HELLO, "--device", self.device, "--out-size", "256")
        if not dumped_bytes(out).startswith(b"Hello from ring 0!"):
            self.wrong("SAY_HELLO with room for the greeting no longer answers it")
        self.remove()


class Lesson7(Lesson):
    """Fault injection: every failed DriverEntry leaves nothing behind."""

    def check(self) -> None:
        verify = subprocess.run([PYTHON, str(ROOT / "kit" / "verifier" / "verify.py"), str(self.driver),
                                 "--name", self.name, "--device", self.name, "--ioctl", f"{SAY_HELLO},out=256",
                                 "--box", f"{self.box.name}-verify-{self.name}"],
                                capture_output=True, text=True, timeout=400)
        out = verify.stdout + verify.stderr
        for m in re.finditer(r"VIOLATION (?P<what>\w+) .*?call=(?P<call>\w+)\(.*?\[(?P<where>[^\]]+)\] \((?P<when>[^)]*)\)", out):
            if m["what"] == "DEVICE_LEAK" and "DriverEntry failed" in m["when"]:
                self.wrong(f"when a later step of DriverEntry fails, the device object it made is left behind "
                           f"({m['call']} at {m['where']}; the verifier made the next failable call fail on purpose "
                           "and found it after DriverEntry failed: DEVICE_LEAK): IoDeleteDevice before returning the error")
            else:
                self.wrong(f"the verifier names {m['what']} ({m['call']} at {m['where']}; {m['when']})")
        if verify.returncode != 0 and not self.problems:
            self.wrong("the verifier fails the driver: " + out.strip()[-600:])


def wait_for(proc, timeout: float) -> tuple[int | None, str]:
    """A spawned program's exit code and output; (None, ...) and killed when it did not end in time."""
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, (out or "") + (err or "")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        return None, (out or "") + (err or "")


class Lesson5(Lesson):
    """A request that pends: parked by WAIT, completed by FIRE, cancellable, none left at unload."""

    WAIT = "0x00222000"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
    FIRE = "0x00222004"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
    park_s = 1.0  # long enough for a waiting kmdctl to start and park its request: twice what FIRE saw, at least

    def waiter(self):
        """A kmdctl whose WAIT the driver parks; the caller waits for it (wait_for)."""
        return self.box.spawn([str(KMDCTL), "ioctl", self.WAIT, "--device", self.device, "--out-size", "4"])

    def fire_completes_a_parked_wait(self) -> None:
        waiter = self.waiter()
        started = time.monotonic()
        deadline = started + 10
        while True:  # FIRE until someone waits: ERROR_NO_MORE_ITEMS (259) while nobody is parked yet
            time.sleep(0.2)
            run, out = self.kmdctl("ioctl", self.FIRE, "--device", self.device, "--in-u32", "42", "--out-size", "0")
            if run.returncode == 0 or win32_error(out) != 259 or time.monotonic() > deadline:
                break
        self.park_s = max(self.park_s, 2 * (time.monotonic() - started))
        code, said = wait_for(waiter, 10)
        if run.returncode != 0:
            self.wrong(f"FIRE ({self.FIRE}) with a WAIT ({self.WAIT}) pending failed: {out.strip().splitlines()[-1:]}")
        elif code is None:
            self.wrong(f"FIRE succeeded but the pending WAIT ({self.WAIT}) did not complete in 10 s: FIRE must "
                       "complete the request it takes from the queue (IoCompleteRequest)")
        elif dumped_bytes(said)[:4] != (42).to_bytes(4, "little"):
            self.wrong(f"WAIT completed after FIRE 42 but did not answer 42 (2a 00 00 00): {said.strip()}")

    def cancel_completes_a_parked_wait(self) -> None:
        run, out = self.kmdctl("sweep", self.device, "--functions", "0x800-0x800", "--type", "0x22", "--pend-ms", "100")
        stuck = re.search(r"stuck at (\S+)", out)
        if stuck:
            self.wrong(f"a pended request that its caller cancels (CancelIo) never completes (kmdctl sweep: stuck at "
                       f"{stuck[1]}): set a cancel routine (IoSetCancelRoutine) that completes it with "
                       "STATUS_CANCELLED (exercise 1)")
        elif run.returncode != 0 or "pended=cancelled" not in out:
            self.wrong(f"kmdctl sweep of WAIT ({self.WAIT}) did not see a request pend and be cancelled: "
                       f"{out.strip()[-400:]}")

    def unload_completes_what_is_parked(self) -> None:
        waiter = self.waiter()
        time.sleep(self.park_s)
        run, out = self.kmdctl("stop", self.name, "--timeout", "2000")
        code, said = wait_for(waiter, 3)
        if code is None:
            self.wrong("a request pended at unload is never completed: its caller still waited 3 s after the driver "
                       "stopped. DriverUnload must complete what is still queued with STATUS_CANCELLED (exercise 2)")
        elif win32_error(said) in (2, 3):
            self.wrong(f"the waiting kmdctl found no device ({said.strip().splitlines()[-1:]}): it started only after "
                       f"the driver stopped ({self.park_s:.1f} s was not enough on this machine); run the check again")
        elif win32_error(said) == 5:
            self.wrong("a request pended at unload is never completed by the driver: its caller got error 5 (access "
                       "denied) only because Wine ends what is left when the device is deleted; on Windows it would "
                       "wait forever. DriverUnload must complete what is still queued with STATUS_CANCELLED (exercise 2)")
        elif win32_error(said) != 995:
            self.wrong(f"a WAIT pending at unload should end with error 995 (STATUS_CANCELLED); it gave: "
                       f"{said.strip().splitlines()[-1:] or code}")
        if run.returncode != 0:
            self.wrong(f"stopping the driver with a request pending failed: {out.strip()}")

    def check(self) -> None:
        run, out = self.kmdctl("install", str(self.driver), "--name", self.name)
        if run.returncode == 0:
            run, out = self.kmdctl("start", self.name)
        if run.returncode != 0:
            self.wrong(f"the driver does not start: {out.strip()}")
            self.remove()
            return
        try:
            self.fire_completes_a_parked_wait()  # first: a request stuck by the next step would take FIRE's value
            self.cancel_completes_a_parked_wait()
            self.unload_completes_what_is_parked()
        finally:
            self.remove()


class Lesson8(Lesson):
    """A periodic timer and its DPC: the count grows, and nothing of the driver runs after unload."""

    TICKS = "0x00222000"  # CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

    def ticks(self) -> int | None:
        run, out = self.kmdctl("ioctl", self.TICKS, "--device", self.device, "--out-size", "4")
        data = dumped_bytes(out)
        if run.returncode != 0 or len(data) < 4:
            self.wrong(f"TICKS ({self.TICKS}) did not answer a count: {out.strip().splitlines()[-1:] or run.returncode}")
            return None
        return int.from_bytes(data[:4], "little")

    def check(self) -> None:
        self.box.expect_crash = True  # the starting point's host crashes after unload: no need to keep the prefix
        run, out = self.kmdctl("install", str(self.driver), "--name", self.name)
        if run.returncode == 0:
            run, out = self.kmdctl("start", self.name)
        if run.returncode != 0:
            self.wrong(f"the driver does not start: {out.strip()}")
            self.remove()
            return
        first = self.ticks()
        time.sleep(0.3)
        second = self.ticks()
        if first is not None and second is not None and second <= first:
            self.wrong(f"the count does not grow ({first}, then {second} 0.3 s later): the timer's DPC does not run "
                       "(KeInitializeDpc, then KeSetTimerEx with a period and the DPC)")
        crashes = self.box.crash_count()
        run, out = self.kmdctl("stop", self.name, "--timeout", "2000")
        time.sleep(0.5)  # fifty periods of a 10 ms timer: time for a DPC left behind to run
        if self.box.crash_count() > crashes:
            report = self.box.crash_report.read_text(errors="replace")
            # "page fault on execute access to 0x...": the address varies with where the image was mapped,
            # and the access too (the DPC's code gone: execute; the data it reads gone first: read)
            what = re.findall(r"^Unhandled exception: (.*?)(?: on \w+ access)?(?: to 0x[0-9a-f]+)? in \d+-bit code", report, re.M)[-1:]
            self.wrong(f"after DriverUnload the driver host crashed ({what[0] if what else 'an exception'}): the timer "
                       "was still set, and at its next due time the kernel ran the DPC, code that was no longer loaded. "
                       "Stop the timer (KeCancelTimer) and wait for a DPC already queued (KeFlushQueuedDpcs) in "
                       "DriverUnload (the exercise)")
        elif run.returncode != 0:
            self.wrong(f"stopping the driver failed: {out.strip()}")
        self.remove()


LESSONS = {1: Lesson1, 2: Lesson2, 3: Lesson3, 4: Lesson4, 5: Lesson5, 6: Lesson6, 7: Lesson7, 8: Lesson8}
VERIFIER_LESSONS = {4, 7}  # run under verify.py, which makes a box of its own per run


def check(lesson: int, driver: Path, source: Path, name: str, box: Box) -> list[str]:
    """The problems lesson `lesson`'s check finds in `driver` (built from `source`); empty: passed."""
    runner = LESSONS[lesson](driver, source, name, box)
    runner.check()
    return runner.problems


def report(lesson: int, name: str, problems: list[str]) -> str:
    """What `make lesson N` prints: each problem on its own line, or that every check passed."""
    if not problems:
        return f"lesson {lesson}: {name} passes every check\n"
    return (f"lesson {lesson}: {len(problems)} thing(s) still wrong in {name}:\n"
            + "".join(f"  - {p}\n" for p in problems))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson", type=int)
    parser.add_argument("--source", type=Path, help="the driver's source directory (default: found under drivers/)")
    parser.add_argument("--driver", type=Path, help="the built .sys (default: BUILD_DIR/bin/NAME.sys)")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build")
    parser.add_argument("--name", help="service and device name (default: the source directory's name)")
    args = parser.parse_args(argv)
    if args.lesson not in LESSONS:
        print(f"check.py: lesson {args.lesson} has no check of its own (lessons with checks: "
              f"{', '.join(map(str, sorted(LESSONS)))}); docs/lessons/ says what to run instead", file=sys.stderr)
        return 2
    if args.source is None:
        marker = f"lesson {args.lesson}'s driver"
        made = [p.parent for p in sorted((ROOT / "drivers").glob("*/CMakeLists.txt")) if marker in p.read_text(errors="replace")]
        if len(made) != 1:
            print(f"check.py: {'no' if not made else len(made)} driver(s) under drivers/ made for lesson {args.lesson}"
                  f"{': ' + ', '.join(p.name for p in made) if made else ''}; make one with "
                  f"`tools/new-driver NAME --lesson {args.lesson}` or say which: DIR=drivers/NAME", file=sys.stderr)
            return 2
        args.source = made[0]
    if not args.source.is_dir():
        print(f"check.py: {args.source} is not a directory", file=sys.stderr)
        return 2
    args.driver = args.driver or args.build_dir / "bin" / f"{(args.name or args.source.resolve().name)}.sys"
    global KMDCTL
    KMDCTL = args.build_dir.resolve() / "bin" / "kmdctl.exe"
    if not args.driver.exists():
        print(f"check.py: {args.driver} does not exist: build it first (make build)", file=sys.stderr)
        return 2
    name = args.name or args.source.resolve().name
    with Box(f"lesson{args.lesson}-{name}") as box:
        problems = check(args.lesson, args.driver.resolve(), args.source.resolve(), name, box)
    print(report(args.lesson, name, problems), end="")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
