# The front door. `make demo` and `make test` work on a fresh Debian machine (as root): they
# install what is missing, build everything into build/, and run under a private Wine prefix.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3
ARCH ?= x64
X86ROOT := kit/x86/x86root.sh

.PHONY: all deps configure build demo test bench clean

all: build

deps:
	@tools/bootstrap.sh

configure: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The seed's whole sequence, for real: kmdctl run skeleton.sys in a fresh Wine prefix,
# followed by what the driver itself printed (DbgPrint).
# ARCH=x86: the 32-bit pair, as in the seed, under a 32-bit Wine in build/x86root (kit/x86).
ifeq ($(ARCH),x86)
demo: build
	@$(X86ROOT) ensure $(BUILD_DIR)/x86root >/dev/null
	$(X86ROOT) run $(BUILD_DIR)/x86root --share $(abspath $(BUILD_DIR)) -- env SKELETON_WINE_DIR=$(abspath $(BUILD_DIR))/wine-x86 \
	  $(PYTHON) kit/harness/winebox.py run --box demo --kernel-log -- $(abspath $(BUILD_DIR))/bin/x86/kmdctl.exe run $(abspath $(BUILD_DIR))/bin/x86/skeleton.sys
else
demo: build
	$(PYTHON) kit/harness/winebox.py run --box demo --kernel-log -- $(BUILD_DIR)/bin/kmdctl.exe run $(BUILD_DIR)/bin/skeleton.sys
endif

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2

# What one request costs under Wine, per transfer method (figures only; not part of `make test`).
bench: build
	$(PYTHON) kit/harness/winebox.py run --box bench --env-path SKELETON_DRIVER=$(BUILD_DIR)/bin/skeleton.sys -- $(BUILD_DIR)/bin/skeleton_bench.exe

# Never `rm -rf` alone: build/ holds the x86 root, and deleting through a /dev mounted into it would
# delete the host's device nodes. x86root.sh delete refuses while anything is mounted in the tree.
clean:
	@$(X86ROOT) delete $(BUILD_DIR)
