"""Boxes reused by the tests of one file, when a test leaves its box as a new one would be.

A box's boot (services.exe and its auto-start services: ~0.5 s a box, 83 s of a whole `make test`,
docs/performance.md) is the same for every test; what differs is what a test leaves behind. So a
pool hands a test the box the previous test gave back, *after checking* that nothing of that test
is left - and a new box when anything is:

* the session still runs, no driver host crashed, the box was not kept (a timeout, a crash);
* the services (HKLM\\System\\CurrentControlSet\\Services) are the ones the box booted with. A
  test that started a driver leaves the kit's shim service (kmdhost_<group>, which stays for the
  prefix's life: docs/wine-host-shim.md), so the next test gets a new box, as before;
* so are the subkeys of HKLM\\Software and HKCU\\Software, where a test's own keys go;
* the processes of the box are those it booted with, by name and number (a driver host or a
  program still running is not);
* every file of the template is still the template's (same inode: Wine replaces files, it never
  writes into them); files a test added are deleted, but only under drive_c/kmdtest, the tests'
  own folder - anything new elsewhere means a new box.

Only for tests whose state lives there: a test that changes values of keys a new box has (a
Windows version, AeDebug) or expects a first boot uses its own Box.

    POOL = BoxPool("loader")
    def tearDownModule(): POOL.close()
    ... setUp: self.box = POOL.take(); self.addCleanup(POOL.give_back, self.box)
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from winebox import Box, _box_commands, ensure_template  # noqa: E402

SERVICES_KEY = r"HKLM\System\CurrentControlSet\Services"
# Keys whose subkeys must be the boot's too: where a test's own keys go (kmdctl batch's `reg add`).
OTHER_KEYS = (r"HKLM\Software", r"HKCU\Software")
KEYS = {SERVICES_KEY: "services", **{key: f"subkeys of {key}" for key in OTHER_KEYS}}  # key: its words
WORK_DIR = Path("drive_c") / "kmdtest"  # the tests' own folder: what a test adds there goes


class BoxPool:
    def __init__(self, name: str, **box_args):
        self.name = name
        self.box_args = box_args
        self._spare: Box | None = None
        self._made = 0
        # What a box of this pool has once booted (same template, same environment: the same for
        # every box), read from the first one; a box that ever differs is not handed on.
        self._keys: dict[str, frozenset[str]] | None = None  # KEYS: their subkeys
        self._processes: Counter | None = None
        self._boxes: set[str] = set()  # prefixes of the boxes this pool made
        self._template_tree: dict[str, int | None] | None = None  # read once: it never changes
        self.reused = 0  # tests that got a given-back box (for the profile and the tests)
        self.refusals: list[str] = []  # why a given-back box was not kept, one line each
        atexit.register(self.close)

    @property
    def spare(self) -> Box | None:
        """The box kept for the next test, if any."""
        return self._spare

    def take(self) -> Box:
        """A box with its session running, as a new box would be."""
        if self._spare is not None:
            box, self._spare = self._spare, None
            box.begin_next_test()
            self.reused += 1
            return box
        self._made += 1
        box = Box(f"{self.name}-{self._made}", **self.box_args).create()
        box.start_session()
        self._boxes.add(str(box.prefix))
        if self._keys is None:
            self._processes = self._settled_processes(box)
            self._keys = {key: self._subkeys(box, key) for key in KEYS}
        return box

    def give_back(self, box: Box) -> None:
        """After a test: kept for the next test when nothing of this one is left, else closed."""
        try:
            why = self.left_behind(box)
        except Exception as error:  # a check that cannot run proves nothing: a new box
            why = f"the check failed: {error!r}"
        if why is None and self._spare is None:
            self._spare = box
            return
        self.refusals.append(f"{box.name}: {why}")
        if os.environ.get("KMD_POOL_VERBOSE"):
            print(f"box_pool: {box.name} not reused: {why}", file=sys.stderr)
        box.close()

    def close(self) -> None:
        if self._spare is not None:
            spare, self._spare = self._spare, None
            spare.close()

    # -- the checks
    def left_behind(self, box: Box) -> str | None:
        """What the last test left in the box, in words; None when it is as a new box would be
        (the tests' folder, the one thing a test may leave, is emptied then)."""
        if str(box.prefix) not in self._boxes or self._keys is None:
            return "not a box of this pool"
        if box.keep or box.expect_crash or not box.auto_recover:
            return "kept, or set up for a crash"
        if box.crashed():
            return "a driver host crashed in it"
        if not box.session_running():
            return "its session ended"
        for key, at_boot in self._keys.items():
            now = self._subkeys(box, key)
            if now != at_boot:
                return f"{KEYS[key]} differ from its boot: added {sorted(now - at_boot)}, gone {sorted(at_boot - now)}"
        processes = self._processes_once_settled(box, self._processes)
        if processes != self._processes:
            return f"processes differ from its boot: {dict(processes - self._processes)} more, " \
                   f"{dict(self._processes - processes)} fewer"
        return self._reset_files(box)

    @staticmethod
    def _subkeys(box: Box, key: str) -> frozenset[str]:
        """The names of a key's direct subkeys, lower case, as reg.exe lists them."""
        query = box.run(["reg.exe", "query", key])
        if query.returncode != 0:
            raise RuntimeError(query.describe())
        long = key.replace("HKLM", "HKEY_LOCAL_MACHINE", 1).replace("HKCU", "HKEY_CURRENT_USER", 1)
        prefix = long.lower() + "\\"
        return frozenset(line.strip()[len(prefix):].lower() for line in query.stdout.splitlines()
                         if line.strip().lower().startswith(prefix))

    @staticmethod
    def _process_names(box: Box) -> Counter:
        return Counter(name.lower() for _, name, _ in _box_commands(box.prefix))

    def _settled_processes(self, box: Box, quiet_s: float = 0.3, limit_s: float = 10) -> Counter:
        """The box's processes once its boot has finished starting them: unchanged for quiet_s."""
        deadline = time.monotonic() + limit_s
        last, since = self._process_names(box), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self._process_names(box)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
        return last

    def _processes_once_settled(self, box: Box, expected: Counter, limit_s: float = 0.5) -> Counter:
        """The processes, given a program that has just finished a moment to be gone."""
        deadline = time.monotonic() + limit_s
        while True:
            now = self._process_names(box)
            if now == expected or time.monotonic() >= deadline:
                return now
            time.sleep(0.05)

    @staticmethod
    def _tree(root: Path) -> dict[str, int | None]:
        """Every path under root (symlinks not followed): its inode for a file, None otherwise."""
        found: dict[str, int | None] = {}
        stack = [""]
        while stack:
            relative = stack.pop()
            with os.scandir(root / relative) as entries:
                for entry in entries:
                    path = f"{relative}/{entry.name}" if relative else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        found[path] = None
                        stack.append(path)
                    else:
                        found[path] = entry.inode() if entry.is_file(follow_symlinks=False) else None
        return found

    def _reset_files(self, box: Box) -> str | None:
        if self._template_tree is None:
            self._template_tree = self._tree(ensure_template(box.wine_dir))
        tree = self._tree(box.prefix)
        for path, inode in self._template_tree.items():
            if path not in tree:
                return f"{path} is gone"
            if inode is not None and tree[path] != inode and not path.endswith(".reg"):
                return f"{path} was replaced"
        work = WORK_DIR.as_posix()
        outside = sorted(p for p in tree if p not in self._template_tree and p != work and not p.startswith(work + "/"))
        if outside:
            return f"files added outside {work}: {outside[:5]}"
        shutil.rmtree(box.prefix / WORK_DIR, ignore_errors=True)
        return None
