#!/bin/bash
# loop_bench.sh - the developer's edit -> rebuild -> reload -> first answer loop, timed
# (`make loop-bench`; docs/performance.md). Figures only; it changes no source (it touches files'
# timestamps, as an editor's save does).
#
#   1. a held Wine session with skeleton.sys installed and running (winebox session, kmdctl);
#   2. per case: touch one file, `make build`, then in the held session kmdctl stop + start (Wine
#      loads the rebuilt image) and kmdctl hello (the first answer of the new driver).
# Cases: a driver source (samples/skeleton/nt/skeleton.cpp), the request core, the contract
# header (samples/skeleton/include/skeleton/ioctl.h: every target that speaks the contract
# rebuilds), and nothing touched (the cost of `make build` itself).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
PY=/usr/bin/python3
WINEBOX=kit/harness/winebox.py
BOX=loop-bench
KMDCTL="$BUILD_DIR/bin/kmdctl.exe"
SYS="$BUILD_DIR/bin/skeleton.sys"

now() { date +%s.%N; }
secs() { printf "%6.1f" "$(echo "$2 - $1" | bc)"; }

make --no-print-directory build JOBS="$JOBS" >/dev/null
$PY $WINEBOX session start --box $BOX >/dev/null
trap '$PY $WINEBOX session stop --box $BOX >/dev/null 2>&1 || true' EXIT
run() { $PY $WINEBOX exec --box $BOX -- "$@"; }
run "$KMDCTL" install "$SYS" --name skeleton >/dev/null
run "$KMDCTL" start skeleton >/dev/null

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg), make build JOBS=$JOBS"
printf "%-44s %8s %8s %8s %8s\n" "touched" "build s" "reload s" "hello s" "total s"
for file in samples/skeleton/nt/skeleton.cpp samples/skeleton/core/requests.cpp \
            samples/skeleton/include/skeleton/ioctl.h "(nothing)"; do
    [ "$file" != "(nothing)" ] && touch "$file"
    t0=$(now)
    make --no-print-directory build JOBS="$JOBS" >/dev/null
    t1=$(now)
    run "$KMDCTL" stop skeleton >/dev/null
    run "$KMDCTL" start skeleton >/dev/null
    t2=$(now)
    greeting=$(run "$KMDCTL" hello)
    t3=$(now)
    case "$greeting" in *"Hello from ring 0"*) ;; *) echo "no greeting: $greeting" >&2; exit 1 ;; esac
    printf "%-44s %8s %8s %8s %8s\n" "$file" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" "$(secs "$t0" "$t3")"
done
run "$KMDCTL" remove skeleton >/dev/null
