# Toolchain: Windows x86-64 with clang + lld, against the mingw-w64 headers and libraries.
#
# clang (not x86_64-w64-mingw32-g++) because the driver needs __try/__except, which GCC lacks;
# one compiler for every Windows binary keeps the ABI story simple. Debian's clang 14 does not
# find the mingw-w64 libstdc++ on its own (it would pick the *host's* /usr/include/c++), so the
# user-mode C++ library is named explicitly (mingw-clang-common.cmake, which both toolchains share).
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(KMD_TRIPLE x86_64-w64-windows-gnu)
set(KMD_MINGW_TRIPLE x86_64-w64-mingw32)

set(KMD_MINGW_PACKAGE g++-mingw-w64-x86-64)
include("${CMAKE_CURRENT_LIST_DIR}/mingw-clang-common.cmake")

# What the kit's driver functions (KmdDriver.cmake) need to know about this target.
set(KMD_DRIVER_ENTRY KmdDriverEntry) # the kit's (kmd/stack_cookie.cpp); x64: no name decoration
# CET shadow stack compatible (an IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT debug directory entry):
# Windows 11's kernel-mode hardware-enforced stack protection loads only drivers that say so.
# The kit's code keeps calls and returns paired (no longjmp, no return-address tricks).
set(KMD_ARCH_LINK_OPTIONS -Wl,--Xlink=-cetcompat)
