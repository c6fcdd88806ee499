# KmdDriver.cmake - the kit's CMake functions: what a driver project declares, and everything it
# then gets. One driver's CMakeLists.txt is read twice, once per world of the tree:
#
#   Windows world (configured with a kit toolchain file, e.g. kit/cmake/x86_64-w64-mingw32-clang.cmake):
#     kmd_add_driver()        builds NAME.sys: clang with SEH, no C runtime, native subsystem,
#                             ntoskrnl/hal imports only, unwind data, no exports, the kit's driver
#                             support linked in, a valid PE checksum, linted after every link,
#                             and (SIGN) a test-signed copy NAME.signed.sys.
#     kmd_add_driver_tests()  builds NAME_device_tests.exe (GoogleTest for Windows, with the kit's
#                             fixture that loads the driver through the SCM).
#   Host world (configured natively, what `make` does):
#     kmd_add_driver()        builds the request core (CORE sources) natively, under ASan/UBSan.
#     kmd_add_driver_tests()  builds and registers the host unit tests and the libFuzzer target of
#                             that core, and the e2e tests under Wine: the device tests in a box,
#                             and Python scenarios.
#
#   kmd_add_driver(NAME SOURCES <nt glue...> [CORE <request core...>] [INCLUDE_DIRS <dirs...>]
#                  [SEH_SOURCES <files using __try...>] [SIGN] [EXPORTS])
#   (EXPORTS: the driver exports symbols on purpose, a kernel-mode export driver; the lint allows it.)
#   kmd_add_driver_tests(NAME [HOST_TESTS <gtest sources...>] [FUZZ <fuzz target source>] [FUZZ_RUNS N]
#                        [WINDOWS_TESTS <gtest sources...>] [EXTRA_DRIVERS <service=file.sys...>]
#                        [E2E <python unittest files...>] [TIMEOUT seconds]
#                        [ROUND_TRIP <kmdctl run request options, default --no-ioctl>])
#   Host tests, cppcheck and NAME.round_trip (load, one answer, unload under Wine) carry the label
#   "quick": `make check`, the edit-and-try tier; `make test` runs everything.
#
# Requires KMD_KIT_DIR (the kit/ directory) and, on the Windows side, KMD_OUTPUT_DIR.
include_guard(GLOBAL)

get_filename_component(KMD_KIT_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
find_program(KMD_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED) # Debian's: it sees python3-pefile
find_program(KMD_LLVM_OBJCOPY NAMES llvm-objcopy llvm-objcopy-14 REQUIRED) # the package's .sys without DWARF

# kmd_name_tests_at_end() - once the current directory is read, every test it registered gets
# KMD_TEST_NAME=<its name> in its environment: what kit/harness/kmd_profile.py files a test's timed
# phases under (`make test-profile`). Deferred, so it comes after every set_tests_properties(ENVIRONMENT).
function(kmd_name_tests)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT "KMD_TEST_NAME=${test}")
  endforeach()
endfunction()
function(kmd_name_tests_at_end)
  get_property(scheduled DIRECTORY PROPERTY KMD_TESTS_NAMED)
  if(NOT scheduled)
    set_property(DIRECTORY PROPERTY KMD_TESTS_NAMED TRUE)
    cmake_language(DEFER CALL kmd_name_tests)
  endif()
endfunction()

# ------------------------------------------------------------------------------ Windows world
if(CMAKE_SYSTEM_NAME STREQUAL "Windows")

# Compile options every piece of kernel code gets.
function(kmd_kernel_options target)
  target_include_directories(${target} PRIVATE "${KMD_KIT_DIR}/driver")
  target_include_directories(${target} SYSTEM PRIVATE "${KMD_DDK_INCLUDE_DIR}")
  target_compile_options(${target} PRIVATE
    -fms-extensions          # __try/__except (structured exception handling)
    -ffreestanding -fno-exceptions -fno-rtti
    # -ffreestanding makes clang 14 drop its default unwind tables on windows-gnu: put them back.
    # The x64 ABI requires .pdata/.xdata for every non-leaf function; without them exceptions
    # cannot pass these frames and no debugger, crash dump or stack walk can unwind them.
    -fasynchronous-unwind-tables
    # Stack cookies (the WDK's /GS): every function with an array or an address-taken local
    # checks one on return. The kit supplies the kernel-safe guard (kmd/stack_cookie.cpp: seeded
    # at load, a smashed cookie bug-checks with DRIVER_OVERRAN_STACK_BUFFER).
    -fstack-protector-strong
    # Debug information in every configuration, release too: DWARF for gdb, winedbg and
    # llvm-symbolizer (kept in the image), CodeView for the PDB lld writes beside it (WinDbg,
    # crash dumps; llvm-symbolizer reads it first). Neither changes the code generated.
    -g -gdwarf -gcodeview
    -mno-stack-arg-probe     # no ___chkstk_ms: stack frames stay small instead...
    -Wframe-larger-than=1024 # ...and this makes sure: a big frame could jump the kernel stack's guard page
    -Wall -Wextra -Werror)
  # x86 (i686) note: kit/cmake/i686-w64-mingw32-clang.cmake adds -mgeneral-regs-only here.
  if(KMD_KERNEL_EXTRA_OPTIONS)
    target_compile_options(${target} PRIVATE ${KMD_KERNEL_EXTRA_OPTIONS})
  endif()
endfunction()

# The kit's NT-side driver support, built once per Windows build and linked into every driver.
if(NOT TARGET kmd_driver_support)
  # The user-memory seam (kmd/user_copy.hpp) for this architecture: compiler-made __try/__except on
  # x64 (user_copy.cpp; the lint's probes-inside-try rule checks it in the image's scope tables), a
  # hand-made frame-based guard on x86, where clang cannot lower __try (guarded_x86.cpp says why).
  if(CMAKE_SIZEOF_VOID_P EQUAL 4)
    set(_kmd_user_copy "${KMD_KIT_DIR}/driver/kmd/user_copy_x86.cpp" "${KMD_KIT_DIR}/driver/kmd/guarded_x86.cpp")
  else()
    set(_kmd_user_copy "${KMD_KIT_DIR}/driver/kmd/user_copy.cpp")
  endif()
  add_library(kmd_driver_support STATIC
    "${KMD_KIT_DIR}/driver/kmd/irp_buffers.cpp"
    "${KMD_KIT_DIR}/driver/kmd/device_security.cpp"
    "${KMD_KIT_DIR}/driver/kmd/pool.cpp"
    ${_kmd_user_copy})
  kmd_kernel_options(kmd_driver_support)
  # -fasync-exceptions makes the x64 __try guard cover every instruction inside it, not only calls:
  # insurance against an inlined copy or plain store, which clang would otherwise assume cannot
  # fault and leave unguarded. Only user_copy.cpp gets it, the one file with __try blocks, whose
  # functions own no C++ objects: elsewhere it turns destructors into C++ EH cleanups that need
  # _Unwind_Resume and __gxx_personality_seh0, which no kernel provides, and in a function with a
  # __try it runs them twice (user_copy.hpp). (x86: no __try at all, nothing to add.)
  if(CMAKE_SIZEOF_VOID_P EQUAL 8)
    set_source_files_properties("${KMD_KIT_DIR}/driver/kmd/user_copy.cpp" TARGET_DIRECTORY kmd_driver_support
      PROPERTIES COMPILE_OPTIONS -fasync-exceptions)
  endif()
endif()

function(kmd_add_driver name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "SIGN;EXPORTS" "" "SOURCES;CORE;INCLUDE_DIRS;SEH_SOURCES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "kmd_add_driver(${name}): SOURCES is required")
  endif()
  # An executable, not a DLL: no IMAGE_FILE_DLL flag, and no export directory (mingw exports
  # every symbol of a DLL that declares none, which would let any kernel module call the
  # driver's internals past the I/O manager).
  # stack_cookie.cpp per driver, not in kmd_driver_support: the image's entry point and its
  # bug-check message, which names the driver (KMD_DRIVER_NAME).
  add_executable(${name} ${ARG_SOURCES} ${ARG_CORE} "${KMD_KIT_DIR}/driver/kmd/stack_cookie.cpp")
  set_target_properties(${name} PROPERTIES SUFFIX ".sys")
  target_include_directories(${name} PRIVATE ${ARG_INCLUDE_DIRS})
  target_compile_definitions(${name} PRIVATE "KMD_DRIVER_NAME=\"${name}\"")
  kmd_kernel_options(${name})
  if(ARG_SEH_SOURCES AND CMAKE_SIZEOF_VOID_P EQUAL 4)
    message(FATAL_ERROR "kmd_add_driver(${name}): SEH_SOURCES use __try, which clang cannot lower for x86: "
                        "guard through kmd/guarded.hpp instead")
  endif()
  if(ARG_SEH_SOURCES)
    set_source_files_properties(${ARG_SEH_SOURCES} PROPERTIES COMPILE_OPTIONS -fasync-exceptions)
  endif()
  # The entry point is the kit's KmdDriverEntry (kmd/stack_cookie.cpp): it seeds the stack cookie,
  # then calls the driver's DriverEntry.
  # --pdb= writes NAME.pdb beside NAME.sys and a CodeView debug directory entry naming it;
  # /pdbaltpath:%_PDB% records the bare file name, not this machine's build path (a debugger finds
  # it beside the image or on its symbol path). ${KMD_SUBSYSTEM_VERSION}: the oldest Windows the
  # image claims to load on (the toolchain file's; x86: 5.01, Windows XP). ${KMD_ARCH_LINK_OPTIONS}:
  # the toolchain file's too (x64: /cetcompat); ${KMD_LINK_EXTRA_OPTIONS} stays the project's.
  target_link_options(${name} PRIVATE
    -nostdlib
    -Wl,--subsystem,native${KMD_SUBSYSTEM_VERSION}
    -Wl,--entry,${KMD_DRIVER_ENTRY}
    -Wl,--pdb= -Wl,--Xlink=-pdbaltpath:%_PDB%
    -Wl,--dynamicbase -Wl,--nxcompat ${KMD_ARCH_LINK_OPTIONS} ${KMD_LINK_EXTRA_OPTIONS})
  target_link_libraries(${name} PRIVATE kmd_driver_support ntoskrnl hal)
  set(lint_args --quiet)
  if(ARG_EXPORTS)
    list(APPEND lint_args --allow-exports)
  endif()
  # lld leaves the PE checksum at 0; the kernel loader checks it for drivers. Fill it in, then
  # hold the image to the kernel's and HVCI's rules (kit/lint/pe_lint.py) after every link.
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/lint/pe_checksum.py" "$<TARGET_FILE:${name}>"
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/lint/pe_lint.py" ${lint_args} "$<TARGET_FILE:${name}>"
    VERBATIM)
  if(ARG_SIGN)
    # NAME.signed.sys: the same image, test-signed with a throw-away certificate made at build time.
    set(signed "${KMD_OUTPUT_DIR}/${name}.signed.sys")
    add_custom_command(OUTPUT "${signed}"
      COMMAND "${KMD_KIT_DIR}/signing/test_sign.sh" "$<TARGET_FILE:${name}>" "${signed}" "${CMAKE_BINARY_DIR}/test-signing"
      DEPENDS ${name} "${KMD_KIT_DIR}/signing/test_sign.sh"
      COMMENT "Test-signing ${name}.sys"
      VERBATIM)
    add_custom_target(${name}_signed ALL DEPENDS "${signed}")
  endif()
  # The driver package (docs/images.md): ${KMD_PACKAGE_DIR}/NAME/ holds NAME.inf, a legacy
  # (non-PnP) "primitive driver" INF for this architecture, and the NAME.sys it installs: the
  # image without its DWARF (the PDB beside build/bin/NAME.sys has the symbols; the CodeView entry
  # still names it), checksummed, linted and test-signed - what a Windows machine gets. The INF is
  # checked against the image (kit/lint/inf_lint.py).
  if(CMAKE_SIZEOF_VOID_P EQUAL 4)
    set(arch x86)
  else()
    set(arch x64)
  endif()
  set(package "${KMD_PACKAGE_DIR}/${name}")
  set(stripped "${CMAKE_CURRENT_BINARY_DIR}/${name}.stripped.sys")
  set(lint_stripped ${lint_args})
  add_custom_command(OUTPUT "${package}/${name}.inf" "${package}/${name}.sys"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${package}"
    COMMAND "${KMD_LLVM_OBJCOPY}" --strip-debug "$<TARGET_FILE:${name}>" "${stripped}"
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/lint/pe_checksum.py" "${stripped}"
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/lint/pe_lint.py" ${lint_stripped} "${stripped}"
    COMMAND "${KMD_KIT_DIR}/signing/test_sign.sh" "${stripped}" "${package}/${name}.sys" "${CMAKE_BINARY_DIR}/test-signing"
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/package/make_inf.py" --name ${name} --sys ${name}.sys --arch ${arch}
            --out "${package}/${name}.inf"
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/lint/inf_lint.py" --quiet --service ${name} --sys "$<TARGET_FILE:${name}>"
            "${package}/${name}.inf"
    DEPENDS ${name} "${KMD_KIT_DIR}/package/make_inf.py" "${KMD_KIT_DIR}/lint/inf_lint.py" "${KMD_KIT_DIR}/signing/test_sign.sh"
    COMMENT "Packaging ${name} (INF + test-signed .sys without DWARF) in ${package}"
    VERBATIM)
  add_custom_target(${name}_package ALL DEPENDS "${package}/${name}.inf")
endfunction()

function(kmd_add_driver_tests name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "FUZZ;FUZZ_RUNS;TIMEOUT" "HOST_TESTS;WINDOWS_TESTS;EXTRA_DRIVERS;E2E;ROUND_TRIP")
  if(ARG_WINDOWS_TESTS)
    add_executable(${name}_device_tests ${ARG_WINDOWS_TESTS})
    target_link_libraries(${name}_device_tests PRIVATE kmd_test_fixture)
    target_include_directories(${name}_device_tests PRIVATE $<TARGET_PROPERTY:${name},INCLUDE_DIRECTORIES>)
    target_link_options(${name}_device_tests PRIVATE -static)
    # windows.h, libstdc++ and gtest.h are most of each test file's compile time. Precompiled once
    # per target, they are not rebuilt when a driver's own header (its ioctl.h contract) changes,
    # so the files that include it recompile in about half the CPU time (`make loop-bench`).
    target_precompile_headers(${name}_device_tests PRIVATE <windows.h> <gtest/gtest.h> <string> <vector>)
  endif()
endfunction()

# ------------------------------------------------------------------------------ host world
else()

set(KMD_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

function(kmd_add_driver name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "SIGN;EXPORTS" "" "SOURCES;CORE;INCLUDE_DIRS;SEH_SOURCES")
  kmd_name_tests_at_end()
  # cppcheck over the driver's own sources (NT glue and core). It cannot see the Windows headers,
  # so it is told which build it is looking at.
  find_program(KMD_CPPCHECK cppcheck)
  if(KMD_CPPCHECK)
    set(include_args)
    foreach(dir IN LISTS ARG_INCLUDE_DIRS)
      list(APPEND include_args -I "${dir}")
    endforeach()
    add_test(NAME ${name}.cppcheck
      COMMAND "${KMD_CPPCHECK}" --enable=warning,performance,portability --std=c++20 --quiet --error-exitcode=1
              --inline-suppr -D__clang__ -D__MINGW32__ -U__i386__ -DSKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE=1
              ${include_args} -I "${KMD_KIT_DIR}/driver" -I "${CMAKE_CURRENT_SOURCE_DIR}" ${ARG_SOURCES} ${ARG_CORE}
      WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}")
    set_tests_properties(${name}.cppcheck PROPERTIES LABELS quick)
  endif()
  # The request core, natively: what the host tests and the fuzzer link against.
  if(ARG_CORE)
    add_library(${name}_core_host STATIC ${ARG_CORE})
    target_include_directories(${name}_core_host PUBLIC ${ARG_INCLUDE_DIRS} "${KMD_KIT_DIR}/driver" "${CMAKE_CURRENT_SOURCE_DIR}")
    target_compile_options(${name}_core_host PUBLIC ${KMD_SANITIZE} -Wall -Wextra -Werror)
    target_link_options(${name}_core_host PUBLIC ${KMD_SANITIZE})
  endif()
endfunction()

function(kmd_add_driver_tests name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "FUZZ;FUZZ_RUNS;TIMEOUT" "HOST_TESTS;WINDOWS_TESTS;EXTRA_DRIVERS;E2E;ROUND_TRIP")
  kmd_name_tests_at_end()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(ARG_HOST_TESTS)
    find_package(GTest REQUIRED)
    add_executable(${name}_host_tests ${ARG_HOST_TESTS})
    target_link_libraries(${name}_host_tests PRIVATE ${name}_core_host GTest::gtest_main)
    # gtest.h precompiled once: the host tests recompile without re-parsing it when the driver's
    # contract header changes (`make loop-bench`).
    target_precompile_headers(${name}_host_tests PRIVATE <gtest/gtest.h> <string> <vector>)
    include(GoogleTest)
    gtest_discover_tests(${name}_host_tests TEST_PREFIX "${name}.host." DISCOVERY_TIMEOUT 30 PROPERTIES LABELS quick)
  endif()
  if(ARG_FUZZ)
    if(NOT ARG_FUZZ_RUNS)
      set(ARG_FUZZ_RUNS 100000)
    endif()
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      add_executable(${name}_fuzz ${ARG_FUZZ})
      target_link_libraries(${name}_fuzz PRIVATE ${name}_core_host)
      target_compile_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
      target_link_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
      # Bounded and seeded, so the run is repeatable; longer campaigns: see the README ("Fuzzing").
      add_test(NAME ${name}.fuzz COMMAND ${name}_fuzz -runs=${ARG_FUZZ_RUNS} -seed=1 -max_len=4096
        "-artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/")
      set_tests_properties(${name}.fuzz PROPERTIES TIMEOUT ${ARG_TIMEOUT})
    else()
      message(WARNING "host compiler is not clang: ${name}'s libFuzzer target is not built (configure with CXX=clang++)")
    endif()
  endif()
  set(e2e_env "KMD_BIN_DIR=${KMD_BIN_DIR}" "KMD_WINE_DIR=${CMAKE_BINARY_DIR}/wine" "KMD_DRIVER=${name}"
              "SKELETON_BIN_DIR=${KMD_BIN_DIR}" "SKELETON_WINE_DIR=${CMAKE_BINARY_DIR}/wine" "PYTHONDONTWRITEBYTECODE=1")
  # NAME.round_trip, the quick tier's Wine test (`make check`, label "quick"): one box, the
  # driver installed, started, asked once (ROUND_TRIP: kmdctl run's request options; default
  # --no-ioctl, the device only opened), stopped and removed - kmdctl run's seven steps.
  if(NOT ARG_ROUND_TRIP)
    set(ARG_ROUND_TRIP --no-ioctl)
  endif()
  add_test(NAME ${name}.round_trip
    COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/harness/winebox.py" run --box ${name}-round-trip --timeout 120
            -- "${KMD_BIN_DIR}/kmdctl.exe" run "${KMD_BIN_DIR}/${name}.sys" --name ${name} ${ARG_ROUND_TRIP})
  set_tests_properties(${name}.round_trip PROPERTIES ENVIRONMENT "${e2e_env}" TIMEOUT 180 LABELS quick
    RESOURCE_LOCK ${name}.round_trip)  # its box name: a test that runs it again (make_targets) waits
  if(ARG_WINDOWS_TESTS)
    set(drivers "${name}=${name}.sys" ${ARG_EXTRA_DRIVERS})
    add_test(NAME ${name}.device_tests
      COMMAND "${KMD_PYTHON}" "${KMD_KIT_DIR}/harness/run_gtest.py" ${name}_device_tests.exe ${drivers})
    set_tests_properties(${name}.device_tests PROPERTIES ENVIRONMENT "${e2e_env}" TIMEOUT ${ARG_TIMEOUT})
    # x86: the same device tests against the 32-bit images, inside the x86 root (kit/x86).
    if(COMMAND kmd_x86_test)
      kmd_x86_test(${name}.x86.device_tests "${CMAKE_CURRENT_BINARY_DIR}"
        "${KMD_PYTHON}" "${KMD_KIT_DIR}/harness/run_gtest.py" ${name}_device_tests.exe ${drivers})
    endif()
  endif()
  foreach(scenario IN LISTS ARG_E2E)
    get_filename_component(module "${scenario}" NAME_WE)
    get_filename_component(dir "${scenario}" ABSOLUTE)
    get_filename_component(dir "${dir}" DIRECTORY)
    string(REGEX REPLACE "^test_" "" short "${module}")
    add_test(NAME ${name}.e2e.${short} COMMAND "${KMD_PYTHON}" -m unittest -v "${module}" WORKING_DIRECTORY "${dir}")
    set_tests_properties(${name}.e2e.${short} PROPERTIES
      ENVIRONMENT "${e2e_env};PYTHONPATH=${KMD_KIT_DIR}/harness" TIMEOUT ${ARG_TIMEOUT})
  endforeach()
endfunction()

endif()

# kmd_project([X86]) - once, at the top of a project that builds drivers with the kit (this
# repository, or a driver project of its own made by tools/new-driver), after project().
#   Windows world: builds the kit's kmdctl.exe, the Windows test fixture and (x64) kmdverify.sys
#                  beside the drivers.
#   Host world:    adds the Windows sub-build (the same source tree with the kit's toolchain
#                  file, outputs in build/bin) and CTest; with X86 a second sub-build for 32-bit
#                  Windows into build/bin/x86 (run under a 32-bit Wine: kit/x86).
macro(kmd_project)
  cmake_parse_arguments(_KMD_PROJECT "X86" "" "" ${ARGN})
  if(CMAKE_SYSTEM_NAME STREQUAL "Windows")
    if(CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache")
      # Through ccache (the toolchain's KMD_CCACHE): a PCH without clang's build-time stamp, or
      # no compile that includes one could ever be a cache hit.
      add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:SHELL:-Xclang -fno-pch-timestamp>")
    endif()
    set(KMD_OUTPUT_DIR "${CMAKE_BINARY_DIR}/bin" CACHE PATH "Where the Windows binaries go")
    set(KMD_PACKAGE_DIR "${CMAKE_BINARY_DIR}/package" CACHE PATH "Where the driver packages (INF + .sys) go")
    set(CMAKE_RUNTIME_OUTPUT_DIRECTORY "${KMD_OUTPUT_DIR}")
    set(CMAKE_LIBRARY_OUTPUT_DIRECTORY "${KMD_OUTPUT_DIR}")
    add_subdirectory("${KMD_KIT_DIR}/loader" "${CMAKE_BINARY_DIR}/kmd-kit/loader")
    add_subdirectory("${KMD_KIT_DIR}/harness/windows" "${CMAKE_BINARY_DIR}/kmd-kit/harness")
    # kmdhost.sys, the Wine host shim: loaded before the drivers into every driver host under Wine
    # (kit/loader/wine_host.cpp), it keeps requests and unload apart for any driver. Never on Windows.
    add_subdirectory("${KMD_KIT_DIR}/winehost" "${CMAKE_BINARY_DIR}/kmd-kit/winehost")
    # kmdverify.sys, the Driver Verifier for Wine: every project's device tests run under it
    # (kit/harness/run_gtest.py). x64 and x86 images.
    add_subdirectory("${KMD_KIT_DIR}/verifier" "${CMAKE_BINARY_DIR}/kmd-kit/verifier")
  else()
    include(ExternalProject)
    include(CTest)
    set(KMD_BIN_DIR "${CMAKE_BINARY_DIR}/bin")
    set(_kmd_arches x64 x86_64-w64-mingw32-clang "${KMD_BIN_DIR}" "${CMAKE_BINARY_DIR}/package")
    if(_KMD_PROJECT_X86)
      set(KMD_X86_BIN_DIR "${KMD_BIN_DIR}/x86")
      list(APPEND _kmd_arches x86 i686-w64-mingw32-clang "${KMD_X86_BIN_DIR}" "${CMAKE_BINARY_DIR}/package/x86")
    endif()
    while(_kmd_arches)
      list(POP_FRONT _kmd_arches _kmd_arch _kmd_toolchain _kmd_out _kmd_package)
      ExternalProject_Add(windows-${_kmd_arch}
        SOURCE_DIR "${CMAKE_SOURCE_DIR}"
        BINARY_DIR "${CMAKE_BINARY_DIR}/windows-${_kmd_arch}"
        CMAKE_ARGS
          -DCMAKE_TOOLCHAIN_FILE=${KMD_KIT_DIR}/cmake/${_kmd_toolchain}.cmake
          -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
          -DKMD_OUTPUT_DIR=${_kmd_out}
          -DKMD_PACKAGE_DIR=${_kmd_package}
          -DKMD_KIT_DIR=${KMD_KIT_DIR}
          # Debian's interpreter for anything in the sub-build that looks for Python (GoogleTest's
          # CMake does), not a pyenv shim that happens to be first on PATH.
          -DPython_EXECUTABLE=/usr/bin/python3 -DPython3_EXECUTABLE=/usr/bin/python3
        BUILD_ALWAYS ON
        INSTALL_COMMAND ""
        USES_TERMINAL_BUILD ON)
    endwhile()
  endif()
endmacro()
