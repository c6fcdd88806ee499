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
# user-mode C++ library is named explicitly below.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(KMD_TRIPLE i686-w64-windows-gnu)
set(KMD_MINGW_TRIPLE i686-w64-mingw32)

set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER_TARGET ${KMD_TRIPLE})
set(CMAKE_CXX_COMPILER_TARGET ${KMD_TRIPLE})

# The mingw-w64 GCC install that provides libstdc++: the posix thread model, because GCC 12's
# win32-model libstdc++ has no std::mutex, which GoogleTest needs. Executables link -static, so
# no libwinpthread DLL has to travel with them.
file(GLOB _gcc_dirs "/usr/lib/gcc/${KMD_MINGW_TRIPLE}/*-posix")
if(_gcc_dirs)
  list(GET _gcc_dirs 0 KMD_MINGW_GCC_DIR)
endif()
if(NOT KMD_MINGW_GCC_DIR)
  message(FATAL_ERROR "mingw-w64 GCC not found under /usr/lib/gcc/${KMD_MINGW_TRIPLE}: install g++-mingw-w64-i686")
endif()
set(_cxx_inc "${KMD_MINGW_GCC_DIR}/include/c++")
set(CMAKE_CXX_FLAGS_INIT
    "-nostdinc++ -isystem ${_cxx_inc} -isystem ${_cxx_inc}/${KMD_MINGW_TRIPLE} -isystem ${_cxx_inc}/backward")
# CMake passes the compile flags to link commands too, where -nostdinc++ means nothing: without
# -Wno-unused-command-line-argument every link would warn about it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld -L${KMD_MINGW_GCC_DIR} -Wno-unused-command-line-argument")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld -Wno-unused-command-line-argument")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-fuse-ld=lld -Wno-unused-command-line-argument")

# What the kit's driver functions (KmdDriver.cmake) need to know about this target.
# DriverEntry is __stdcall (NTAPI) on x86, so its symbol carries its 8 argument bytes; the loader
# calls the image's entry point, whatever its name.
set(KMD_DRIVER_ENTRY _DriverEntry@8)
# The x86 kernel keeps no FPU/SSE state for drivers: general registers only (a driver that needs
# floating point saves it itself, KeSaveFloatingPointState). The C headers the DDK pulls in then
# come straight from mingw-w64, not through libstdc++'s C++ wrappers, whose std::abs(long double)
# does not compile without x87.
set(KMD_KERNEL_EXTRA_OPTIONS -mgeneral-regs-only -D_GLIBCXX_INCLUDE_NEXT_C_HEADERS)

set(KMD_DDK_INCLUDE_DIR /usr/share/mingw-w64/include/ddk)

set(CMAKE_FIND_ROOT_PATH /usr/${KMD_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
