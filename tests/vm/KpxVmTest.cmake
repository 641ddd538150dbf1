# kpx_add_vm_test(): registers a CTest test that runs a program inside the qemu test VM
# (tests/vm/run-in-vm.sh), for tests that need kernel features the host lacks (IPVS, dummy).
#
#   kpx_add_vm_test(NAME <test name>
#                   TARGET <executable target>       # copied into the VM with its shared libs
#                   [ARGS <arg>...]                  # arguments for the target in the VM
#                   [FILES <host path[:guest path]>...]  # more files/directories for the VM
#                   [ENV <NAME=VALUE>...]            # environment in the VM
#                   [TIMEOUT <seconds>]              # VM wall clock, default 600
#                   [MEM <MiB>]                      # guest memory, default 512
#                   [LABELS <label>...]              # added to the label "vm"
#                   [NO_SKIP])                       # a gtest case that skips fails the test
#
# The test is skipped (CTest SKIP_RETURN_CODE 77, with a message) when not running as root and
# the VM cache cannot be prepared or written; it fails on boot failures (status 125) and on
# timeouts (124). Run all of a binary's cases in one test: a boot costs ~3 s.
# NO_SKIP is for host tests whose cases skip where the host kernel lacks something (SCTP) and
# that run in the VM for that very feature: a "[  SKIPPED ]" case, or a --gtest_filter that
# selects nothing ("Running 0 tests", or "] 0 tests from" with --gtest_brief=1), fails the test
# instead of passing it silently.
set(KPX_VM_RUN "${CMAKE_CURRENT_LIST_DIR}/run-in-vm.sh" CACHE INTERNAL "tests/vm/run-in-vm.sh")

function(kpx_add_vm_test)
  cmake_parse_arguments(ARG "NO_SKIP" "NAME;TARGET;TIMEOUT;MEM" "ARGS;FILES;ENV;LABELS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_TARGET)
    message(FATAL_ERROR "kpx_add_vm_test: NAME and TARGET are required")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  if(NOT ARG_MEM)
    set(ARG_MEM 512)
  endif()
  set(extra)
  foreach(f IN LISTS ARG_FILES)
    list(APPEND extra --file "${f}")
  endforeach()
  foreach(e IN LISTS ARG_ENV)
    list(APPEND extra --env "${e}")
  endforeach()
  add_test(NAME ${ARG_NAME}
    COMMAND "${KPX_VM_RUN}" --skip-exit-code 77 --timeout ${ARG_TIMEOUT} --mem ${ARG_MEM}
            --file "$<TARGET_FILE:${ARG_TARGET}>" ${extra}
            -- "$<TARGET_FILE:${ARG_TARGET}>" ${ARG_ARGS})
  # CTest's own limit leaves room for preparing the kernel cache on a fresh machine.
  math(EXPR ctest_timeout "${ARG_TIMEOUT} + 300")
  set_tests_properties(${ARG_NAME} PROPERTIES
    LABELS "vm;${ARG_LABELS}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${ctest_timeout}
    PROCESSORS 1)
  if(ARG_NO_SKIP)
    set_tests_properties(${ARG_NAME} PROPERTIES
      FAIL_REGULAR_EXPRESSION "\\[  SKIPPED \\]|Running 0 tests|\\] 0 tests from")
  endif()
endfunction()
