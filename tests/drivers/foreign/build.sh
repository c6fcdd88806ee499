#!/bin/sh
# build.sh OUT_DIR [TARGET] - the corpus built as such drivers are built elsewhere: one plain clang
# line per driver, mingw-w64's DDK headers, no kit header, no debug information, no symbol table.
# TARGET: x86_64-w64-mingw32 (default) or i686-w64-mingw32.
set -eu
out=$1
target=${2:-x86_64-w64-mingw32}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cc() { # cc NAME SOURCE [EXTRA...]
  name=$1 src=$2; shift 2
  clang --target="$target" -O2 -Wall -Wno-multichar -isystem "/usr/$target/include/ddk" -ffreestanding -nostdlib -fuse-ld=lld \
    -shared -Wl,--subsystem,native -Wl,--entry,DriverEntry -s -o "$out/$name.sys" "$here/$src" "$@" -lntoskrnl
}
cc ticker ticker.c
cc deferred deferred.c
cc notifier notifier.c
cc inverted inverted.c
cc inverted_csq inverted.c -DINVERTED_USE_IOCSQ
cc inverted_nocancel inverted.c -DINVERTED_BUG_NO_CANCEL
cc reglog reglog.c
cc mathlib mathlib.c -Wl,--out-implib,"$out/libmathlib.a"
cc adder adder.c -L"$out" -lmathlib
