# Toolchain: Windows x86 (32-bit, i686) with clang + lld, against the mingw-w64 headers and libraries.
#
# The x86 twin of x86_64-w64-mingw32-clang.cmake: same compiler, same libraries, 32-bit triple,
# for images that load on Windows XP and later. clang does not lower __try/__except for this
# target; the kit's METHOD_NEITHER guard is a hand-made frame-based SEH record here instead
# (kit/driver/kmd/guarded_x86.cpp).
#
# clang (not x86_64-w64-mingw32-g++) because the driver needs __try/__except, which GCC lacks;
# one compiler for every Windows binary keeps the ABI story simple. Debian's clang 14 does not
# find the mingw-w64 libstdc++ on its own (it would pick the *host's* /usr/include/c++), so the
# user-mode C++ library is named explicitly (mingw-clang-common.cmake, which both toolchains share).
set(CMAKE_SYSTEM_PROCESSOR i686)
set(KMD_TRIPLE i686-w64-windows-gnu)
set(KMD_MINGW_TRIPLE i686-w64-mingw32)

set(KMD_MINGW_PACKAGE g++-mingw-w64-i686)
include("${CMAKE_CURRENT_LIST_DIR}/mingw-clang-common.cmake")

# What the kit's driver functions (KmdDriver.cmake) need to know about this target.
# DriverEntry is __stdcall (NTAPI) on x86, so its symbol carries its 8 argument bytes; the loader
# calls the image's entry point, whatever its name: here the kit's wrapper around DriverEntry.
set(KMD_DRIVER_ENTRY _KmdDriverEntry@8) # the kit's (kmd/stack_cookie.cpp), which calls DriverEntry
# The image claims Windows XP (5.01), where x86 drivers are meant to load; lld's default is 6.0.
set(KMD_SUBSYSTEM_VERSION :5.01)
# The x86 user-mode programs (kmdctl, the device tests, ...) declare XP's version too: lld's default
# 6.0 made ReactOS (NT 5.2) warn "Accepting image version 6.0" and XP would refuse them; the Vista
# calls they make are resolved at run time (kit/loader/nt5_compat.hpp). Drivers get theirs above.
string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT
       " -Wl,--major-subsystem-version,5 -Wl,--minor-subsystem-version,1 -Wl,--major-os-version,5 -Wl,--minor-os-version,1")
# The x86 kernel keeps no FPU/SSE state for drivers: general registers only (a driver that needs
# floating point saves it itself, KeSaveFloatingPointState). The C headers the DDK pulls in then
# come straight from mingw-w64, not through libstdc++'s C++ wrappers, whose std::abs(long double)
# does not compile without x87.
set(KMD_KERNEL_EXTRA_OPTIONS -mgeneral-regs-only -D_GLIBCXX_INCLUDE_NEXT_C_HEADERS)
