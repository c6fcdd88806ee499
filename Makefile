# The front door. `make demo` and `make test` work on a fresh Debian machine (as root): they
# install what is missing, build everything into build/, and run under a private Wine prefix.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3
ARCH ?= x64
X86ROOT := kit/x86/x86root.sh

DEBUG_DIR ?= build-debug

.PHONY: all deps configure build debug debug-test demo test check test-profile build-first lesson realkernel bench bench-profile loop-bench soak verify clean

all: build

deps:
	@tools/bootstrap.sh

configure: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The edit-and-try build: one driver (FIRST=, default skeleton) and kmdctl.exe, x64, and nothing
# else - all a reload and its first answer need - then `make build` for the rest. After a change
# to a contract header this answers in seconds where `make build` takes tens (`make loop-bench`).
FIRST ?= skeleton
# No `deps`/`configure` check when the sub-build exists: bootstrap.sh alone takes 0.8 s.
build-first:
	@test -f $(BUILD_DIR)/windows-x64/build.ninja || $(MAKE) --no-print-directory build
	cmake --build $(BUILD_DIR)/windows-x64 -j $(JOBS) --target $(FIRST) kmdctl

# Everything with debug info (-O0 -g: driver, loader, Windows tests, host tests) in build-debug/,
# for gdb, winedbg and llvm-symbolizer; see docs/debugging.md.
debug: deps
	@test -f $(DEBUG_DIR)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(DEBUG_DIR) -j $(JOBS)

debug-test: debug
	ctest --test-dir $(DEBUG_DIR) --output-on-failure -j 2

# The seed's whole sequence, for real: kmdctl run skeleton.sys in a fresh Wine prefix,
# followed by what the driver itself printed (DbgPrint).
# ARCH=x86: the 32-bit pair, as in the seed, under a 32-bit Wine in build/x86root (kit/x86).
ifeq ($(ARCH),x86)
demo: build
	@$(X86ROOT) ensure $(BUILD_DIR)/x86root >/dev/null
	$(X86ROOT) run $(BUILD_DIR)/x86root --share $(abspath $(BUILD_DIR)) -- env SKELETON_WINE_DIR=$(abspath $(BUILD_DIR))/wine-x86 \
	  $(PYTHON) kit/harness/winebox.py run --box demo --kernel-log -- $(abspath $(BUILD_DIR))/bin/x86/kmdctl.exe run $(abspath $(BUILD_DIR))/bin/x86/skeleton.sys --header $(abspath $(BUILD_DIR))/bin/x86/skeleton_ioctl.h
else
demo: build
	$(PYTHON) kit/harness/winebox.py run --box demo --kernel-log -- $(BUILD_DIR)/bin/kmdctl.exe run $(BUILD_DIR)/bin/skeleton.sys --header $(BUILD_DIR)/bin/skeleton_ioctl.h
endif

# KMD_BOX_PIN=auto: each Wine box on its own CPU, round robin (kit/harness/winebox.py). Measured
# (docs/performance.md): two boxes under ctest -j2 finished in 31-50 s pinned against 56-62 s not.
# Three tests at a time on two CPUs: a Wine test waits on its box's processes a third of the time
# (make test-profile, 2026-12-03: 112.4-113.9 s at -j3, three runs, against 182.0-188.3 s at -j2).
TEST_JOBS ?= 3
test: build
	KMD_BOX_PIN=auto ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(TEST_JOBS)

# A lesson's check (docs/lessons/) on your copy of its starting point (tools/new-driver NAME --lesson N):
#   make lesson N [DIR=drivers/NAME]     (or make lesson LESSON=N ...)
# builds the tree, your driver with it, then says in words what is still wrong (lessons/check.py);
# exit 1 until it passes. Without DIR: the one driver under drivers/ made for lesson N.
ifeq (lesson,$(firstword $(MAKECMDGOALS)))
  LESSON ?= $(word 2,$(MAKECMDGOALS))
  ifneq ($(word 2,$(MAKECMDGOALS)),)
    $(eval $(word 2,$(MAKECMDGOALS)):;@:)
  endif
endif
lesson: build
	@test -n "$(LESSON)" || { echo "usage: make lesson N [DIR=drivers/NAME]   (docs/lessons/README.md)" >&2; exit 2; }
	$(PYTHON) lessons/check.py $(LESSON) --build-dir $(BUILD_DIR) $(if $(DIR),--source $(DIR))

# The quick tier, for the edit-and-try loop: host tests, cppcheck (the PE lint runs at every link)
# and one Wine round trip per driver (NAME.round_trip: load, first answer, unload) - the tests
# labelled "quick" (kit/cmake/KmdDriver.cmake). `make test` stays everything.
check: build
	KMD_BOX_PIN=auto ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2 -L quick

# Where `make test`'s time goes: the whole suite as `make test` runs it, then per test its Wine
# box phases (clone, boot, programs, teardown), payload builds and the rest, against the two lanes'
# critical path (tools/test_profile.py; docs/performance.md). PROFILE_ARGS="-R e2e" for a part.
test-profile: build
	$(PYTHON) tools/test_profile.py --build-dir $(BUILD_DIR) -j $(TEST_JOBS) $(PROFILE_ARGS)

# The x86 drivers, kmdctl and device tests in ring 0 of a real NT kernel (ReactOS) under QEMU:
#   make realkernel NT_ISO=path/to/reactos-bootcd.iso [RUNS=seed,device_tests,crash] [ACCEL=kvm]
# Installs the ISO unattended once (cached in build/realkernel/), then one boot per run
# (kit/realkernel, docs/realkernel.md). Without NT_ISO it says why it is skipped.
RUNS ?= seed,device_tests,crash
ACCEL ?= tcg
realkernel: build
	$(PYTHON) kit/realkernel/realkernel.py lane $(if $(NT_ISO),--iso $(NT_ISO)) --accel $(ACCEL) --runs $(RUNS) \
	  --bin-dir $(BUILD_DIR)/bin/x86 --cache $(BUILD_DIR)/realkernel

# What a request costs under Wine: skeleton.sys against baseline.sys (tests/drivers/baseline.c) in
# one prefix, one table (figures only; not part of `make test`; docs/performance.md).
# The whole box (wineserver, winedevice, the bench) runs on CPU 0 (taskset) unless PIN= (empty):
# spread over both CPUs, the small rows' ratios wandered 0.77-1.31 from run to run with the same
# number of wake-ups on both sides, pinned they stayed within 1.05 and the A/A rows at 1.000
# (docs/performance.md, "Pinned by default"). PIN= shows what two CPUs give (the threads rows).
PIN ?= 0
# BASELINE=baseline_pool_lookup: the yardstick plus the skeleton's ExAllocatePool2 lookup (load cycle).
BASELINE ?= baseline
bench: build
	SKELETON_KERNEL_DEBUG=-all $(if $(PIN),SKELETON_BENCH_PINNED=1 taskset -c $(PIN)) $(PYTHON) kit/harness/winebox.py run --box bench --timeout 600 \
	  --env-path SKELETON_DRIVER=$(BUILD_DIR)/bin/skeleton.sys --env-path BASELINE_DRIVER=$(BUILD_DIR)/bin/$(BASELINE).sys \
	  -- $(BUILD_DIR)/bin/skeleton_bench.exe

# Where a request's time goes: wineserver requests, context switches and CPU per process, pinning.
bench-profile: build
	$(PYTHON) tools/bench_profile.py --build-dir $(BUILD_DIR)

# The developer's loop timed: touch a source, rebuild (`make build`, or `make build-first` and the
# rest after the answer), reload in a held session, first answer; median of three per row.
loop-bench: build
	BUILD_DIR=$(BUILD_DIR) JOBS=$(JOBS) tools/loop_bench.sh

# The reliability suite's heavy variants (tests/reliability): about half an hour, run on purpose.
# SEED=N replays an earlier run. Then every driver of the foreign corpus through `verify.py DRIVER`
# with no other argument (all 32,768 codes, every fault point; tests/e2e/test_foreign_drivers.py).
soak: build
	$(PYTHON) tests/reliability/reliability.py --soak $(if $(SEED),--seed $(SEED))
	cd tests/e2e && KMD_FOREIGN_FULL=1 KMD_BIN_DIR=$(abspath $(BUILD_DIR))/bin SKELETON_WINE_DIR=$(abspath $(BUILD_DIR))/wine \
	  $(PYTHON) -m unittest -v test_foreign_drivers

# Any driver under kmdverify.sys, the Driver Verifier for Wine (docs/verifier.md):
#   make verify DRIVER=path/to/driver.sys [VERIFY_ARGS="--device NAME --ioctl 0x222007,out=256"]
verify: build
	@test -n "$(DRIVER)" || { echo "usage: make verify DRIVER=path/to/driver.sys [VERIFY_ARGS=...]" >&2; exit 2; }
	$(PYTHON) kit/verifier/verify.py $(DRIVER) $(VERIFY_ARGS)

# Never `rm -rf` alone: build/ holds the x86 root, and deleting through a /dev mounted into it would
# delete the host's device nodes. x86root.sh delete refuses while anything is mounted in the tree.
clean:
	@$(X86ROOT) delete $(BUILD_DIR)
	@$(X86ROOT) delete $(DEBUG_DIR)
