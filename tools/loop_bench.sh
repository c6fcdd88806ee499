#!/bin/bash
# loop_bench.sh - the developer's edit -> rebuild -> reload -> first answer loop, timed
# (`make loop-bench`; docs/performance.md). Figures only; it changes no source (it touches files'
# timestamps, as an editor's save does).
#
#   1. a held Wine session with skeleton.sys installed and running (winebox session, kmdctl);
#   2. per case and order, three times: touch one file, rebuild, then in the held session kmdctl
#      stop + start (Wine loads the rebuilt image) and kmdctl hello (the new driver's first answer).
# Orders: "all first" - `make build`, everything, then the reload; "driver first" - `make
# build-first` (skeleton.sys and kmdctl.exe only) while the old driver is stopped, then its start
# and the answer ("reload s": the start, and what the stop took beyond the build), and only then
# `make build` for the rest (its time is the "rest s" column: what a developer's next `make test`
# finds already done or still to do; it runs after the answer here so it cannot slow the figures).
# Cases: a driver source (samples/skeleton/nt/skeleton.cpp), the request core, the contract header
# (samples/skeleton/include/skeleton/ioctl.h: every target that speaks the contract rebuilds), and
# nothing touched (the cost of the build command itself). Each row: the median of its three runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
RUNS=${RUNS:-3}  # ORDERS="driver" (or "all"): one order only; CASES="file ...": those files only
PY=/usr/bin/python3
WINEBOX=kit/harness/winebox.py
BOX=loop-bench
KMDCTL="$BUILD_DIR/bin/kmdctl.exe"
SYS="$BUILD_DIR/bin/skeleton.sys"
# kmdctl knows no driver: the sample's contract names its service, device and greeting (hello).
export KMD_CONTRACT="$BUILD_DIR/bin/skeleton_ioctl.h"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%6.1f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

make --no-print-directory build JOBS="$JOBS" >/dev/null
$PY $WINEBOX session start --box $BOX >/dev/null
trap '$PY $WINEBOX session stop --box $BOX >/dev/null 2>&1 || true' EXIT
run() { $PY $WINEBOX exec --box $BOX -- "$@"; }
run "$KMDCTL" install "$SYS" --name skeleton >/dev/null
run "$KMDCTL" start skeleton >/dev/null

# One pass: prints "build reload hello total rest" in seconds.
pass() { # $1 file or "(nothing)", $2 "all" | "driver"
    [ "$1" != "(nothing)" ] && touch "$1"
    local t0 t1 t2 t3 t4 greeting
    t0=$(now)
    if [ "$2" = all ]; then
        make --no-print-directory build JOBS="$JOBS" >/dev/null
        t1=$(now)
        run "$KMDCTL" stop skeleton >/dev/null
    else
        # The old driver is stopped while the new one compiles: the stop needs nothing new (the
        # linker writes a new file and renames it over the loaded image), and under Wine a stop
        # takes about a second however soon kmdctl asks (winedevice reports STOPPED late).
        run "$KMDCTL" stop skeleton >/dev/null &
        local stopping=$!
        make --no-print-directory build-first JOBS="$JOBS" >/dev/null
        t1=$(now)
        wait $stopping
    fi
    run "$KMDCTL" start skeleton >/dev/null
    t2=$(now)
    greeting=$(run "$KMDCTL" hello)
    t3=$(now)
    case "$greeting" in *"Hello from ring 0"*) ;; *) echo "no greeting: $greeting" >&2; exit 1 ;; esac
    [ "$2" = driver ] && make --no-print-directory build JOBS="$JOBS" >/dev/null
    t4=$(now)
    echo "$t0 $t1 $t2 $t3 $t4" | awk '{print $2-$1, $3-$2, $4-$3, $4-$1, $5-$4}'
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg), JOBS=$JOBS, median of $RUNS runs per row"
printf "%-44s %-13s %8s %8s %8s %8s %8s\n" "touched" "order" "build s" "reload s" "hello s" "answer s" "rest s"
CASES=${CASES:-"samples/skeleton/nt/skeleton.cpp samples/skeleton/core/requests.cpp samples/skeleton/include/skeleton/ioctl.h (nothing)"}
for file in $CASES; do
    for order in ${ORDERS:-all driver}; do
        results=$(for _ in $(seq "$RUNS"); do pass "$file" "$order"; done)
        row=""
        for col in 1 2 3 4 5; do row+=" $(echo "$results" | awk -v c=$col '{print $c}' | median)  "; done
        [ "$order" = all ] && label="all first" || label="driver first"
        printf "%-44s %-13s%s\n" "$file" "$label" "$row"
    done
done
echo "machine after: load average $(cut -d' ' -f1 /proc/loadavg)"
run "$KMDCTL" remove skeleton >/dev/null
