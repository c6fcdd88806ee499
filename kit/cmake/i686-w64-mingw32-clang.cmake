# Toolchain: Windows x86 (32-bit, i686) with clang + lld, against the mingw-w64 headers and libraries.
#
# clang (not x86_64-w64-mingw32-g++) because the driver needs __try/__except, which GCC lacks;
# one compiler for every Windows binary keeps the ABI story simple. Debian's clang 14 does not
# find the mingw-w64 libstdc++ on its own (it would pick the *host's* /usr/include/c++), so the
# user-mode C++ library is named explicitly below.
#
# The x86 twin of x86_64-w64-mingw32-clang.cmake: same compiler, same libraries, 32-bit triple.
# clang does not lower __try/__except for this target; the driver's METHOD_NEITHER guard uses a
# hand-made frame-based SEH record there instead (kit/driver/kmd/guarded_x86.cpp).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(SKELETON_TRIPLE i686-w64-windows-gnu)
set(SKELETON_MINGW_TRIPLE i686-w64-mingw32)

set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER_TARGET ${SKELETON_TRIPLE})
set(CMAKE_CXX_COMPILER_TARGET ${SKELETON_TRIPLE})

# The mingw-w64 GCC install that provides libstdc++: the posix thread model, because GCC 12's
# win32-model libstdc++ has no std::mutex, which GoogleTest needs. Executables link -static, so
# no libwinpthread DLL has to travel with them.
file(GLOB _gcc_dirs "/usr/lib/gcc/${SKELETON_MINGW_TRIPLE}/*-posix")
if(_gcc_dirs)
  list(GET _gcc_dirs 0 SKELETON_MINGW_GCC_DIR)
endif()
if(NOT SKELETON_MINGW_GCC_DIR)
  message(FATAL_ERROR "mingw-w64 GCC not found under /usr/lib/gcc/${SKELETON_MINGW_TRIPLE}: install g++-mingw-w64-i686")
endif()
set(_cxx_inc "${SKELETON_MINGW_GCC_DIR}/include/c++")
set(CMAKE_CXX_FLAGS_INIT
    "-nostdinc++ -isystem ${_cxx_inc} -isystem ${_cxx_inc}/${SKELETON_MINGW_TRIPLE} -isystem ${_cxx_inc}/backward")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld -L${SKELETON_MINGW_GCC_DIR}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-fuse-ld=lld")

set(SKELETON_DDK_INCLUDE_DIR /usr/share/mingw-w64/include/ddk)

set(CMAKE_FIND_ROOT_PATH /usr/${SKELETON_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
