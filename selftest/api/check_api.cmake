# check_api.cmake — what the compiler says about the public API, run by ctest (selftest.api_compile):
#   good.c           the documented API compiles without a warning under -Werror and the project's flags;
#   enum_mismatch.c  a value of the wrong enum warns (-Wenum-conversion) in each of the three places;
#   old_names.c      each deprecated 0.1.0 mock name warns once, naming its replacement.
# cmake -DCC=<compiler> -DINCLUDE=<include dir> -DSRC=<this dir> -P check_api.cmake
set(ENV{LC_ALL} C) # plain quotes in the compiler's messages
set(flags -std=gnu11 -fsyntax-only -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
          -I${INCLUDE})
set(failed FALSE)

function(compile file out_var rc_var)
  execute_process(COMMAND ${CC} ${flags} ${ARGN} ${SRC}/${file} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${rc_var} ${rc} PARENT_SCOPE)
endfunction()

function(expect_count text pattern want what)
  string(REGEX MATCHALL "${pattern}" hits "${text}")
  list(LENGTH hits n)
  if(NOT n EQUAL want)
    message(SEND_ERROR "${what}: ${n} match(es) of '${pattern}', want ${want}")
  endif()
endfunction()

compile(good.c out rc -Werror)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "")
  message(SEND_ERROR "good.c: the documented API does not compile cleanly (status ${rc}):\n${out}")
endif()

compile(enum_mismatch.c out rc)
expect_count("${out}" "\\[-Wenum-conversion\\]" 3 "enum_mismatch.c")
foreach(to "ac_clock'" "ac_schedule_mode'" "ac_cancel_promise'")
  expect_count("${out}" "to [^\n]*${to}" 1 "enum_mismatch.c, conversion to ${to}")
endforeach()

compile(old_names.c out rc)
expect_count("${out}" "is deprecated" 12 "old_names.c")
foreach(pair
    "ac__mock_completes|ac_mock_on_call_complete\\(m, when, completion\\)"
    "ac__mock_completesf|ac_mock_on_call_completef\\(m, when, fmt, \\.\\.\\.\\)"
    "ac_after|ac_deliver_after" "ac_within|ac_deliver_within" "ac_next_iteration|ac_deliver_next_iteration"
    "ac_manual|ac_deliver_held" "ac_never|ac_deliver_never" "ac_twice|ac_deliver_twice"
    "ac_inside_call|ac_deliver_inside_call" "ac_mock_complete|ac_mock_deliver"
    "ac_mock_complete_next|ac_mock_deliver_next" "ac_mock_held|ac_mock_held_count")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 old)
  list(GET pair 1 new)
  expect_count("${out}" "'${old}' is deprecated: renamed: use ${new}[ ,'\"]" 1 "old_names.c, ${old}")
endforeach()
message(STATUS "compiler output for old_names.c:\n${out}")
