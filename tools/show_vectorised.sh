#!/bin/bash
# show_vectorised.sh - proves the request core's fill loop is vectorised in the *Windows-target*
# driver build (not only natively): recompiles samples/skeleton/core/requests.cpp with exactly the
# flags ninja uses for skeleton.sys, plus clang's vectoriser remarks, and counts the SSE
# instructions in fill_pattern's disassembly. Run after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
WIN_BUILD=${BUILD_DIR:-build}/windows-x64
obj=$(cd "$WIN_BUILD" && ninja -t targets all | grep -o '^[^:]*skeleton.dir/core/requests.cpp.obj' | head -1)
[ -n "$obj" ] || { echo "no skeleton core object in $WIN_BUILD: make build first" >&2; exit 1; }
cmd=$(cd "$WIN_BUILD" && ninja -t commands "$obj" | tail -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Same command, output elsewhere, with the loop vectoriser's remarks.
cmd=$(printf '%s' "$cmd" | sed "s#-o $obj#-o $tmp/requests.obj#")
(cd "$WIN_BUILD" && eval "$cmd -Rpass=loop-vectorize") 2>&1 | grep -E "remark" || true
echo "--- fill_pattern in the x86_64-w64-windows-gnu object: SSE instructions"
llvm-objdump -d --no-show-raw-insn "$tmp/requests.obj" > "$tmp/all.s"
awk '/fill_pattern.*>:$/{on=1; next} on && /^$/{exit} on' "$tmp/all.s" > "$tmp/fill.s"
echo "$(grep -cE '\b(pxor|psrld|paddd|pand|packuswb|movdq[au])\b' "$tmp/fill.s" || true) vector instructions (pxor psrld paddd pand packuswb movdqa/u), e.g.:"
grep -E '\b(psrld|packuswb)\b' "$tmp/fill.s" | head -4 || true
