#!/usr/bin/env bash
# seh_lowering_probe.sh - shows what __try/__except becomes with the driver's compiler: why x64
# builds the guard with -fasync-exceptions, and why x86 cannot use __try at all and guards with a
# hand-made SEH frame instead (kit/driver/kmd/guarded_x86.cpp; the in-kernel proof that it works is
# the prober's bad-pointer cases in e2e.x86.device_tests). A store to a caller's pointer inside
# __try, whose __except handler must return 0x5EB, compiled for x64 and x86, with and without
# -fasync-exceptions; the handler "survives" when its code (the 0x5eb) is in the object.
set -euo pipefail
CXX=${CXX:-clang++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/probe.cpp" <<'SRC'
extern "C" int probe(volatile int* p)
{
    int s = 0;
    __try { *p = 1; } __except (1) { s = 0x5EB; }
    return s;
}
SRC
for target in x86_64-w64-windows-gnu i686-w64-windows-gnu; do
  for flags in "" "-fasync-exceptions"; do
    obj="$work/$target$flags.o"
    if ! "$CXX" --target=$target -fms-extensions $flags -O2 -c "$work/probe.cpp" -o "$obj" 2>"$work/err"; then
      echo "$target ${flags:-(default)}: does not compile: $(head -1 "$work/err")"
    elif objdump -d "$obj" | grep -q '0x5eb'; then
      echo "$target ${flags:-(default)}: __except handler kept"
    else
      echo "$target ${flags:-(default)}: __except handler DROPPED"
    fi
  done
done
