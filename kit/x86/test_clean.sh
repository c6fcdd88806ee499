#!/usr/bin/env bash
# test_clean.sh SRC WORK - `make clean` on a build tree that holds an x86 root never reaches the
# host's /dev, whatever state the root is in: while a run has /dev bind-mounted into it, after a
# Ctrl-C, with a mount left behind in the host's namespace, and when all is quiet.
#
# The root here is a stand-in (the directories `run` mounts into, and the ready stamp): what is
# under test is the mounting and the deleting, not Debian. Needs root (mount, unshare).
set -euo pipefail
src=$(realpath "$1"); work=$(realpath -m "$2")
tool=$src/kit/x86/x86root.sh
build=$work/build; root=$build/x86root
runner=""

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }
cleanup() {
  [ -z "$runner" ] || kill -KILL -- "-$runner" 2>/dev/null || true
  mountpoint -q "$root/dev" 2>/dev/null && umount "$root/dev"
  "$tool" delete "$work" 2>/dev/null || true
}
trap cleanup EXIT

dev_fingerprint() { stat -c '%F %t:%T' /dev/null /dev/zero; ls /dev | wc -l; }
make_clean() { make -s -C "$src" clean BUILD_DIR="$build" 2>&1; }

"$tool" delete "$work"
mkdir -p "$root"/{dev,proc,tmp}
: > "$root/.skeleton-x86root-ready"
: > "$root/dev/placeholder"       # the root's own /dev: the only thing clean may delete there
before=$(dev_fingerprint)

step "1. a run is in progress, with the host's /dev bind-mounted into the root"
set -m                              # the runner gets its own process group, as under a terminal
"$tool" run "$root" -- bash -c 'test -c "$0/dev/null" && touch "$0/../inside"; sleep 120' "$root" &
runner=$!
set +m
for _ in $(seq 100); do [ -e "$build/inside" ] && break; sleep 0.1; done
[ -e "$build/inside" ] || fail "the command did not see /dev/null inside the root"
mountpoint -q "$root/dev" && fail "the /dev bind mount is visible in the host's namespace"
[ -n "$("$tool" mounts "$root")" ] || fail "x86root.sh mounts does not see the run's mounts"
out=$(make_clean) && fail "make clean deleted a tree while a run had /dev mounted in it: $out"
echo "$out" | grep -q "refusing to delete" || fail "make clean did not say why it refused: $out"
[ -f "$root/dev/placeholder" ] || fail "make clean deleted inside the root while refusing"
[ "$(dev_fingerprint)" = "$before" ] || fail "the host's /dev changed"

step "2. Ctrl-C: SIGINT to the runner's process group"
kill -INT -- "-$runner"
set +e; wait "$runner"; rc=$?; set -e
runner=""
[ "$rc" -ne 0 ] || fail "an interrupted run reported success"
for _ in $(seq 50); do [ -z "$("$tool" mounts "$root")" ] && break; sleep 0.1; done
[ -z "$("$tool" mounts "$root")" ] || fail "mounts remain after Ctrl-C: $("$tool" mounts "$root")"

step "3. a mount left in the host's namespace (a tmpfs standing in for a leaked /dev bind)"
mount -t tmpfs skeleton-test "$root/dev"
echo keep > "$root/dev/sentinel"
out=$(make_clean) && fail "make clean deleted through a mount: $out"
echo "$out" | grep -q "something is mounted inside it" || fail "make clean did not name the mount: $out"
[ -f "$root/dev/sentinel" ] || fail "the file behind the mount was deleted"
umount "$root/dev"

step "4. nothing mounted, nothing running"
make_clean >/dev/null || fail "make clean failed on a quiet tree"
[ ! -e "$build" ] || fail "make clean left $build"
[ "$(dev_fingerprint)" = "$before" ] || fail "the host's /dev changed"
echo "ok: make clean refused while mounted or running, left /dev alone, and cleaned a quiet tree"
