# mingw-clang-common.cmake - what both kit toolchain files share (x86_64-w64-mingw32-clang.cmake,
# i686-w64-mingw32-clang.cmake): clang + lld against the mingw-w64 headers and libraries of the
# triple they set (KMD_TRIPLE, KMD_MINGW_TRIPLE, KMD_MINGW_PACKAGE) before including this file.
set(CMAKE_SYSTEM_NAME Windows)
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
  message(FATAL_ERROR "mingw-w64 GCC not found under /usr/lib/gcc/${KMD_MINGW_TRIPLE}: install ${KMD_MINGW_PACKAGE}")
endif()
set(_cxx_inc "${KMD_MINGW_GCC_DIR}/include/c++")
set(CMAKE_CXX_FLAGS_INIT
    "-nostdinc++ -isystem ${_cxx_inc} -isystem ${_cxx_inc}/${KMD_MINGW_TRIPLE} -isystem ${_cxx_inc}/backward")
# CMake passes the compile flags to link commands too, where -nostdinc++ means nothing: without
# -Wno-unused-command-line-argument every link would warn about it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld -L${KMD_MINGW_GCC_DIR} -Wno-unused-command-line-argument")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld -Wno-unused-command-line-argument")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-fuse-ld=lld -Wno-unused-command-line-argument")

set(KMD_DDK_INCLUDE_DIR /usr/share/mingw-w64/include/ddk)

set(CMAKE_FIND_ROOT_PATH /usr/${KMD_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# A compiler cache, where installed (tools/bootstrap.sh installs ccache): a project built again
# from nothing - a fresh clone, `make clean`, e2e.new_driver's generated project - compiles only
# what changed. ccache hashes the preprocessed source and the whole command line, so a hit is the
# object this compile would write. KMD_CCACHE=OFF turns it off.
option(KMD_CCACHE "Compile the Windows images through ccache when it is installed" ON)
find_program(KMD_CCACHE_PROGRAM ccache)
if(KMD_CCACHE AND KMD_CCACHE_PROGRAM)
  # pch_defines/time_macros: precompiled headers are cacheable (clang checks a PCH's own inputs);
  # include_file_*time: a header written in the same second as the compile is still cacheable.
  set(_kmd_launcher /usr/bin/env "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${KMD_CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${_kmd_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_kmd_launcher})
  # clang stamps a PCH with its build time unless told not to, and a stamped PCH is never a hit
  # (KmdDriver.cmake adds -fno-pch-timestamp when it sees this launcher).
endif()
