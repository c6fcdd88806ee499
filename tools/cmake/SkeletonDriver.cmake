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
    -Wall -Wextra -Werror)
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
