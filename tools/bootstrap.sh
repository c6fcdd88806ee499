#!/usr/bin/env bash
# bootstrap.sh - installs the Debian packages Skeleton KMD needs, if any is missing.
# Safe to run again: with everything present it only checks. Needs root (or sudo) to install.
set -euo pipefail

PACKAGES=(
  cmake make ninja-build cppcheck                 # build, static analysis
  ccache                                          # compiler cache: a build from nothing compiles only what changed
  gdb-mingw-w64                                   # x86_64-w64-mingw32-gdb: source-level driver debugging (kit/harness/kmd_debug.py)
  clang lld libclang-rt-14-dev                    # Windows binaries (clang+lld), host fuzzer/sanitizers
  g++-mingw-w64-x86-64                            # mingw-w64 headers, DDK, import libs, libstdc++
  g++-mingw-w64-i686 debootstrap                  # x86: the 32-bit half, and its i386 Wine root (kit/x86)
  googletest libgtest-dev                         # GoogleTest sources (Windows build) and host library
  wine wine64                                     # Wine: the kernel emulation, SCM and I/O manager the tests run on
  python3 python3-pefile python3-capstone         # PE checksum and image checks (lint disassembles for unwind coverage)
  osslsigncode openssl                            # test-signing the driver
  xvfb x11-utils imagemagick                      # GUI screenshot test (kmdctl hello --gui)
  strace linux-perf bc llvm                       # make bench-profile / loop-bench, tools/show_vectorised.sh
  qemu-system-x86 qemu-utils xorriso mtools      # the real-kernel lane (kit/realkernel): its logic tests run in every make test
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
# One failing index (seen for a foreign-architecture security index) must not stop the install:
# the packages come from the indexes that did update.
$SUDO apt-get update -q || echo "bootstrap: apt-get update reported errors; continuing with the indexes it could read"
# --no-remove: never let apt uninstall anything to satisfy a dependency.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends --no-remove "${missing[@]}"
