# skeleton_add_driver(NAME SOURCES...) - a legacy NT kernel-mode driver image NAME.sys:
# clang with SEH, no C runtime, native subsystem, ntoskrnl/hal imports, a valid PE checksum.
function(skeleton_add_driver name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".sys")
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/driver")
  target_include_directories(${name} SYSTEM PRIVATE "${SKELETON_DDK_INCLUDE_DIR}")
  target_compile_options(${name} PRIVATE
    -fms-extensions          # __try/__except (structured exception handling)
    -ffreestanding -fno-exceptions -fno-rtti
    -fno-stack-protector     # no CRT security cookie in kernel mode
    -mno-stack-arg-probe     # no ___chkstk_ms: stack frames stay small instead
    -Wall -Wextra -Werror
    # Debug builds: unwind data for every function, so gdb and winedbg can walk the driver's frames
    # (-ffreestanding makes clang drop it on windows-gnu).
    $<$<CONFIG:Debug>:-fasynchronous-unwind-tables>)
  target_link_options(${name} PRIVATE
    -nostdlib
    -Wl,--subsystem,native
    -Wl,--entry,DriverEntry
    -Wl,--dynamicbase -Wl,--nxcompat -Wl,--high-entropy-va)
  target_link_libraries(${name} PRIVATE ntoskrnl hal)
  # lld leaves the PE checksum at 0; the kernel loader checks it for drivers. Fill it in.
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${SKELETON_PYTHON}" "${PROJECT_SOURCE_DIR}/tools/pe_checksum.py" "$<TARGET_FILE:${name}>"
    VERBATIM)
endfunction()

# skeleton_seh_sources(SOURCES...) - sources that use __try/__except. -fasync-exceptions makes the
# guard cover every instruction in a __try, not only calls: without it clang assumes a plain load,
# store or inlined memcpy cannot fault and drops the handler (tools/x86_seh_probe.sh shows it).
# Only these files get it: elsewhere it would turn destructors into C++ EH cleanups that need
# _Unwind_Resume and __gxx_personality_seh0, which no kernel provides (the link then fails).
function(skeleton_seh_sources)
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS -fasync-exceptions)
endfunction()
