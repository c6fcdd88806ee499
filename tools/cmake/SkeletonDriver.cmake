# skeleton_add_driver(NAME SOURCES...) - a legacy NT kernel-mode driver image NAME.sys:
# clang with SEH, no C runtime, native subsystem, ntoskrnl/hal imports, a valid PE checksum.
function(skeleton_add_driver name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".sys")
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/driver"
                             "${PROJECT_SOURCE_DIR}/kit/driver/kmd" "${PROJECT_SOURCE_DIR}/driver/nt")
  target_include_directories(${name} SYSTEM PRIVATE "${SKELETON_DDK_INCLUDE_DIR}")
  target_compile_options(${name} PRIVATE
    -fms-extensions          # __try/__except (structured exception handling)
    -ffreestanding -fno-exceptions -fno-rtti
    -fno-stack-protector     # no CRT security cookie in kernel mode
    -mno-stack-arg-probe     # no ___chkstk_ms: stack frames stay small instead
    -Wall -Wextra -Werror)
  target_link_options(${name} PRIVATE
    -nostdlib
    -Wl,--subsystem,native
    -Wl,--dynamicbase -Wl,--nxcompat)
  # --- x86 (i686): begin
  if(CMAKE_SIZEOF_VOID_P EQUAL 4)
    # The kernel's x86 state holds no FPU/SSE context for drivers: general registers only (a
    # driver that needs floating point saves it itself with KeSaveFloatingPointState).
    # The C headers the DDK pulls in come straight from mingw-w64, not through libstdc++'s C++
    # wrappers (their std::abs(long double) does not compile without x87).
    target_compile_options(${name} PRIVATE -mgeneral-regs-only -D_GLIBCXX_INCLUDE_NEXT_C_HEADERS)
    # DriverEntry is __stdcall (NTAPI) on x86: its symbol is decorated with its 8 argument bytes.
    # No --high-entropy-va: a 32-bit image has no 64-bit address space to randomize into.
    target_link_options(${name} PRIVATE -Wl,--entry,_DriverEntry@8)
  else()
    # x64 unwinding needs .pdata/.xdata for every function a fault can unwind through (the
    # guarded() lambdas are called from guarded_x64.cpp's __try); -ffreestanding turns them off.
    target_compile_options(${name} PRIVATE -fasynchronous-unwind-tables)
    target_link_options(${name} PRIVATE -Wl,--entry,DriverEntry -Wl,--high-entropy-va)
  endif()
  # --- x86 (i686): end
  target_link_libraries(${name} PRIVATE ntoskrnl hal)
  # lld leaves the PE checksum at 0; the kernel loader checks it for drivers. Fill it in.
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${SKELETON_PYTHON}" "${PROJECT_SOURCE_DIR}/tools/pe_checksum.py" "$<TARGET_FILE:${name}>"
    VERBATIM)
endfunction()

# skeleton_seh_sources(SOURCES...) - sources that use __try/__except. -fasync-exceptions makes the
# guard cover every instruction in a __try, not only calls: without it clang assumes a plain load,
# store or inlined memcpy cannot fault and drops the handler (kit/x86/seh_lowering_probe.sh shows it).
# Only these files get it: elsewhere it would turn destructors into C++ EH cleanups that need
# _Unwind_Resume and __gxx_personality_seh0, which no kernel provides (the link then fails).
# On x86 there are no such sources (clang cannot lower __try there; guarded_x86.cpp does it by hand).
function(skeleton_seh_sources)
  if(CMAKE_SIZEOF_VOID_P EQUAL 8)
    set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS -fasync-exceptions)
  endif()
endfunction()

# The SEH seam (kit/driver/kmd/guarded.hpp) for this architecture, for drivers that guard.
if(CMAKE_SIZEOF_VOID_P EQUAL 4)
  set(SKELETON_GUARDED_SOURCE "${PROJECT_SOURCE_DIR}/kit/driver/kmd/guarded_x86.cpp")
else()
  set(SKELETON_GUARDED_SOURCE "${PROJECT_SOURCE_DIR}/kit/driver/kmd/guarded_x64.cpp")
  skeleton_seh_sources("${SKELETON_GUARDED_SOURCE}")
endif()
