# The discovery behind asyncheck_discover_tests() (asyncheckDiscoverTests.cmake). Used two ways:
#  - `cmake -D ASYNCHECK_DISCOVER_PARAMS=<params file> -P asyncheckAddTests.cmake` after the test
#    executable is linked (DISCOVERY_MODE POST_BUILD): lists its tests and writes the ctest file; a
#    failure fails the build.
#  - include()d by the file ctest reads (<target>_asyncheck_<n>_include.cmake), which calls
#    _asyncheck_ctest_include(): discovers again for PRE_TEST (and when the POST_BUILD list is missing
#    or older than the executable or the parameters), then includes the ctest file.
# The params file (generated at CMake's generate step) sets AC_TARGET, AC_MODE, AC_EXECUTABLE,
# AC_EMULATOR, AC_WORKING_DIRECTORY, AC_PREFIX, AC_SUFFIX, AC_DISCOVERY_TIMEOUT, AC_EXPLORE_BUDGET,
# AC_TESTS_FILE, AC_CMAKE_COMMAND, AC_EXTRA_ARGS, AC_LABELS and AC_PROPERTIES.
cmake_policy(PUSH)
cmake_policy(VERSION 3.20)

# Characters written as %XX in ctest names: '%' itself (so the mapping is reversible), the ones CMake
# gives a meaning in lists and arguments, and control characters other than the TSV's tab and newline.
# The order matters only for '%', which goes first when encoding and last when decoding.
function(_asyncheck_name_codes out)
  set(codes "%=25" "\\=5C" "#=23" "$=24" "\"=22")
  foreach(c RANGE 1 31)
    if(NOT c EQUAL 9 AND NOT c EQUAL 10)
      string(ASCII ${c} ch)
      math(EXPR hex "${c}" OUTPUT_FORMAT HEXADECIMAL)
      string(REGEX REPLACE "^0x" "" hex "${hex}")
      string(LENGTH "${hex}" len)
      if(len EQUAL 1)
        set(hex "0${hex}")
      endif()
      string(TOUPPER "${hex}" hex)
      list(APPEND codes "${ch}=${hex}")
    endif()
  endforeach()
  string(ASCII 127 del)
  list(APPEND codes "${del}=7F")
  set(${out} "${codes}" PARENT_SCOPE)
endfunction()

# The text with the characters above, ';', '[' and ']' percent-encoded. Afterwards the text has no
# character special to CMake lists, so it can be split into lines and fields.
function(_asyncheck_encode out text)
  _asyncheck_name_codes(codes)
  foreach(code IN LISTS codes)
    string(REGEX MATCH "^(.)=(..)$" unused "${code}")
    string(REPLACE "${CMAKE_MATCH_1}" "%${CMAKE_MATCH_2}" text "${text}")
  endforeach()
  string(REPLACE ";" "%3B" text "${text}")
  string(REPLACE "[" "%5B" text "${text}")
  string(REPLACE "]" "%5D" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(_asyncheck_decode out text)
  string(REPLACE "%3B" ";" text "${text}")
  string(REPLACE "%5B" "[" text "${text}")
  string(REPLACE "%5D" "]" text "${text}")
  _asyncheck_name_codes(codes)
  list(REVERSE codes)
  foreach(code IN LISTS codes)
    string(REGEX MATCH "^(.)=(..)$" unused "${code}")
    string(REPLACE "%${CMAKE_MATCH_2}" "${CMAKE_MATCH_1}" text "${text}")
  endforeach()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# An exact name as an fnmatch(3) glob for --filter: '\', '*', '?', '[' and ']' escaped with '\'
# (and a leading '-', which --filter would read as "exclude").
function(_asyncheck_glob_escape out name)
  string(REPLACE "\\" "\\\\" name "${name}")
  string(REPLACE "*" "\\*" name "${name}")
  string(REPLACE "?" "\\?" name "${name}")
  string(REPLACE "[" "\\[" name "${name}")
  string(REPLACE "]" "\\]" name "${name}")
  string(REGEX REPLACE "^-" "\\\\-" name "${name}")
  set(${out} "${name}" PARENT_SCOPE)
endfunction()

include("${CMAKE_CURRENT_LIST_DIR}/asyncheckBracket.cmake")

# Milliseconds in <out>, rounded up, for <t> seconds as printf's %g writes them (30, 0.5, 1e+06,
# 1e-05); "0" for zero, "" when <t> is not a number. Over 30 years is clamped rather than overflowing.
function(_asyncheck_ms out t)
  set(${out} "" PARENT_SCOPE)
  if(t MATCHES "^\\.?([eE].*)?$" OR NOT t MATCHES "^([0-9]*)(\\.([0-9]*))?([eE]([-+]?)([0-9]+))?$")
    return() # (the pattern that must match goes last: it sets CMAKE_MATCH_<n>)
  endif()
  set(digits "${CMAKE_MATCH_1}${CMAKE_MATCH_3}")
  string(LENGTH "${CMAKE_MATCH_3}" frac_len)
  set(exp_sign "${CMAKE_MATCH_5}")
  string(REGEX REPLACE "^0+" "" exp "${CMAKE_MATCH_6}")
  if(exp STREQUAL "")
    set(exp 0)
  elseif(exp_sign STREQUAL "-")
    set(exp "-${exp}")
  endif()
  string(REGEX REPLACE "^0+" "" digits "${digits}")
  if(digits STREQUAL "")
    set(${out} 0 PARENT_SCOPE)
    return()
  endif()
  # value = digits * 10^(exp - frac_len); in milliseconds: digits * 10^(shift), rounded up.
  math(EXPR shift "${exp} - ${frac_len} + 3")
  string(LENGTH "${digits}" ndigits)
  math(EXPR magnitude "${ndigits} + ${shift}") # decimal digits of the whole milliseconds
  if(magnitude GREATER 13)
    set(ms 1000000000000000)
  elseif(shift GREATER_EQUAL 0)
    string(REPEAT "0" ${shift} zeros)
    set(ms "${digits}${zeros}")
  elseif(magnitude LESS_EQUAL 0)
    set(ms 1) # under a millisecond
  else()
    math(EXPR cut "${ndigits} + ${shift}")
    string(SUBSTRING "${digits}" 0 ${cut} ms)
    string(SUBSTRING "${digits}" ${cut} -1 rest)
    if(rest MATCHES "[1-9]")
      math(EXPR ms "${ms} + 1")
    endif()
  endif()
  set(${out} "${ms}" PARENT_SCOPE)
endfunction()

# ctest TIMEOUT in whole seconds for a case the runner lists with timeout <t>, <runs> planned runs,
# <sweep> (1: a cancel sweep, whose number of runs is unknown) and exploration budget <budget> (0: none),
# all as printf's %g writes them. One run is killed at t * 1.05 + 0.2 s (K, rounded up); 10 s more let
# the runner's report reach ctest first. A case that runs once: K + 10. An exploring case with a budget:
# the smaller of runs * K (as if one run at a time) and budget + K (no run starts after the budget; the
# last ones finish), + 10. An exploring case without one: runs * K + 10 when that is at most
# <default_budget>; else (and always for a sweep) the case runs with --explore-budget <default_budget>
# (set in <budget_out>, else "") and gets default_budget + K + 10. <out> is "" when a field is malformed.
function(_asyncheck_ctest_timeout out budget_out t runs sweep budget default_budget)
  set(${out} "" PARENT_SCOPE)
  set(${budget_out} "" PARENT_SCOPE)
  _asyncheck_ms(ms "${t}")
  _asyncheck_ms(budget_ms "${budget}")
  _asyncheck_ms(default_ms "${default_budget}")
  if(ms STREQUAL "" OR ms EQUAL 0 OR budget_ms STREQUAL "" OR NOT runs MATCHES "^[0-9]+$"
     OR NOT sweep MATCHES "^[01]$")
    return()
  endif()
  math(EXPR kill_ms "${ms} + (${ms} * 5 + 99) / 100 + 200")
  math(EXPR one "(${kill_ms} + 999) / 1000")
  string(LENGTH "${runs}" runs_len)
  if(runs_len LESS 9 AND runs LESS_EQUAL 1 AND sweep EQUAL 0)
    math(EXPR seconds "${one} + 10")
    set(${out} "${seconds}" PARENT_SCOPE)
    return()
  endif()
  set(worst "") # runs * K, one at a time; "" when unknown (a sweep) or beyond any budget
  if(sweep EQUAL 0 AND runs_len LESS 8 AND one LESS 10000000)
    math(EXPR worst "${runs} * ${one}")
  endif()
  if(budget_ms GREATER 0)
    math(EXPR bounded "(${budget_ms} + ${kill_ms} + 999) / 1000")
  else()
    math(EXPR default_s "(${default_ms} + 999) / 1000")
    if(NOT worst STREQUAL "" AND worst LESS_EQUAL default_s)
      math(EXPR seconds "${worst} + 10")
      set(${out} "${seconds}" PARENT_SCOPE)
      return()
    endif()
    set(${budget_out} "${default_budget}" PARENT_SCOPE)
    math(EXPR bounded "(${default_ms} + ${kill_ms} + 999) / 1000")
  endif()
  if(NOT worst STREQUAL "" AND worst LESS bounded)
    set(bounded "${worst}")
  endif()
  math(EXPR seconds "${bounded} + 10")
  set(${out} "${seconds}" PARENT_SCOPE)
endfunction()

# Writes <content> to AC_TESTS_FILE through a temporary file, so that a concurrent ctest never reads a
# partial list.
function(_asyncheck_write_tests_file content)
  string(RANDOM LENGTH 8 tag)
  file(WRITE "${AC_TESTS_FILE}.${tag}.tmp" "${content}")
  file(RENAME "${AC_TESTS_FILE}.${tag}.tmp" "${AC_TESTS_FILE}")
endfunction()

# A ctest file holding one failing test that prints <message>: what ctest shows when the discovery
# failed, instead of a stale or empty list.
function(_asyncheck_write_failure message)
  set(failure_script "${AC_TESTS_FILE}.failure.cmake")
  _asyncheck_bracket(q_message "${message}")
  file(WRITE "${failure_script}" "message(FATAL_ERROR ${q_message})\n")
  _asyncheck_bracket(q_name "${AC_PREFIX}${AC_TARGET}_DISCOVERY_FAILED${AC_SUFFIX}")
  _asyncheck_bracket(q_cmake "${AC_CMAKE_COMMAND}")
  _asyncheck_bracket(q_script "${failure_script}")
  _asyncheck_write_tests_file("add_test(${q_name} ${q_cmake} -P ${q_script})\n")
endfunction()

# Lists the executable's tests and writes the ctest file. <context>: POST_BUILD (a failure is fatal,
# which fails the build) or CTEST (a failure is a warning plus a failing placeholder test).
function(_asyncheck_discover params_file context)
  include("${params_file}")
  if(NOT DEFINED AC_EXPLORE_BUDGET) # (a parameters file from before EXPLORE_BUDGET)
    set(AC_EXPLORE_BUDGET 300)
  endif()
  set(rc "executable not found")
  if(EXISTS "${AC_EXECUTABLE}")
    # (The arguments are expanded here directly: through another list variable, an argument holding
    # an escaped ';' would be split.)
    execute_process(COMMAND ${AC_EMULATOR} "${AC_EXECUTABLE}" ${AC_EXTRA_ARGS} --list=tsv
      WORKING_DIRECTORY "${AC_WORKING_DIRECTORY}"
      TIMEOUT ${AC_DISCOVERY_TIMEOUT}
      RESULT_VARIABLE rc OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  endif()
  set(problem "")
  if(rc MATCHES "^[0-9]+$" AND NOT rc STREQUAL "0")
    set(problem "the listing command exited with status ${rc}")
  elseif(NOT rc STREQUAL "0")
    set(problem "the listing command failed: ${rc}")
  else()
    _asyncheck_encode(encoded "${output}")
    string(REPLACE "\n" ";" lines "${encoded}")
    # The arguments each case runs with: EXTRA_ARGS without their --filter options, which only choose
    # the cases discovered (repeated here, a positive one would run other cases too).
    set(run_args "")
    set(drop_next FALSE)
    foreach(arg IN LISTS AC_EXTRA_ARGS)
      if(drop_next)
        set(drop_next FALSE)
      elseif(arg STREQUAL "--filter")
        set(drop_next TRUE)
      elseif(NOT arg MATCHES "^--filter=")
        _asyncheck_bracket(q "${arg}")
        string(APPEND run_args " ${q}")
      endif()
    endforeach()
    set(prefix_run "")
    foreach(arg IN LISTS AC_EMULATOR ITEMS "${AC_EXECUTABLE}")
      _asyncheck_bracket(q "${arg}")
      string(APPEND prefix_run " ${q}")
    endforeach()
    set(extra_labels "")
    foreach(label IN LISTS AC_LABELS)
      string(APPEND extra_labels ";${label}")
    endforeach()
    set(user_properties "")
    foreach(element IN LISTS AC_PROPERTIES)
      _asyncheck_bracket(q "${element}")
      string(APPEND user_properties " ${q}")
    endforeach()

    set(script "# Generated by asyncheck_discover_tests(${AC_TARGET}) from ${AC_EXECUTABLE} --list=tsv\n")
    foreach(line IN LISTS lines)
      if(line STREQUAL "")
        continue()
      endif()
      string(REPLACE "\t" ";" fields "${line}")
      list(LENGTH fields nfields)
      if(nfields LESS 2)
        _asyncheck_decode(shown "${line}")
        set(problem "unexpected line in the listing: '${shown}'")
        break()
      endif()
      list(GET fields 0 name)
      list(GET fields 1 timeout)
      # Runners before the exploration columns list four fields: such a case runs once.
      set(runs 1)
      set(sweep 0)
      set(budget 0)
      if(nfields GREATER_EQUAL 7)
        list(GET fields 4 runs)
        list(GET fields 5 sweep)
        list(GET fields 6 budget)
      endif()
      _asyncheck_ctest_timeout(ctest_timeout budget_arg "${timeout}" "${runs}" "${sweep}" "${budget}"
                               "${AC_EXPLORE_BUDGET}")
      if(name STREQUAL "" OR ctest_timeout STREQUAL "")
        _asyncheck_decode(shown "${line}")
        set(problem "unexpected line in the listing (name, a timeout in seconds, file, line, and runs, "
                    "sweep 0/1 and budget in seconds): '${shown}'")
        break()
      endif()
      set(case_args "${run_args}")
      if(NOT budget_arg STREQUAL "")
        string(APPEND case_args " --explore-budget ${budget_arg}")
      endif()
      _asyncheck_decode(raw_name "${name}")
      _asyncheck_glob_escape(glob "${raw_name}")
      string(REGEX REPLACE "\\..*" "" suite "${name}")
      _asyncheck_bracket(q_name "${AC_PREFIX}${name}${AC_SUFFIX}")
      _asyncheck_bracket(q_glob "${glob}")
      _asyncheck_bracket(q_labels "${suite}${extra_labels}")
      string(APPEND script "add_test(${q_name}${prefix_run} --filter ${q_glob}${case_args})\n"
                           "set_tests_properties(${q_name} PROPERTIES SKIP_RETURN_CODE 77 "
                           "TIMEOUT ${ctest_timeout} LABELS ${q_labels})\n")
      if(NOT user_properties STREQUAL "")
        string(APPEND script "set_tests_properties(${q_name} PROPERTIES${user_properties})\n")
      endif()
    endforeach()
  endif()

  if(problem STREQUAL "")
    _asyncheck_write_tests_file("${script}")
    file(REMOVE "${AC_TESTS_FILE}.failure.cmake")
    return()
  endif()
  string(JOIN " " shown_command ${AC_EMULATOR} "${AC_EXECUTABLE}" ${AC_EXTRA_ARGS} --list=tsv)
  string(CONCAT message "asyncheck_discover_tests(${AC_TARGET}): could not list the tests of "
         "${AC_EXECUTABLE}: ${problem}\n  command: ${shown_command}\n"
         "  working directory: ${AC_WORKING_DIRECTORY}\n")
  if(NOT output STREQUAL "")
    string(APPEND message "  stdout:\n${output}\n")
  endif()
  if(NOT errors STREQUAL "")
    string(APPEND message "  stderr:\n${errors}\n")
  endif()
  _asyncheck_write_failure("${message}")
  if(context STREQUAL "POST_BUILD")
    message(FATAL_ERROR "${message}")
  else()
    message(WARNING "${message}")
  endif()
endfunction()

# Called by the file ctest reads: registers the discovered tests of one asyncheck_discover_tests()
# call, discovering them first if the mode or the state of the files asks for it.
# Without an executable (not built yet, or a multi-configuration build asked for a configuration it
# was not generated for) the only test is <prefix><target>_NOT_BUILT<suffix>, which fails saying so.
function(_asyncheck_ctest_include params_file target prefix suffix cmake_command not_built_script)
  if(EXISTS "${params_file}")
    include("${params_file}")
  endif()
  if(NOT EXISTS "${params_file}" OR NOT EXISTS "${AC_EXECUTABLE}")
    add_test("${prefix}${target}_NOT_BUILT${suffix}" "${cmake_command}" -P "${not_built_script}")
    return()
  endif()
  # POST_BUILD: discovers again if the list is missing, older than the executable or the parameters
  # (reconfigured without relinking), or if the discovery after the build failed.
  if(AC_MODE STREQUAL "PRE_TEST" OR NOT EXISTS "${AC_TESTS_FILE}" OR EXISTS "${AC_TESTS_FILE}.failure.cmake"
     OR NOT "${AC_TESTS_FILE}" IS_NEWER_THAN "${AC_EXECUTABLE}"
     OR NOT "${AC_TESTS_FILE}" IS_NEWER_THAN "${params_file}")
    _asyncheck_discover("${params_file}" CTEST)
  endif()
  include("${AC_TESTS_FILE}")
endfunction()

cmake_policy(POP)

if(DEFINED ASYNCHECK_DISCOVER_PARAMS) # run by the POST_BUILD step
  _asyncheck_discover("${ASYNCHECK_DISCOVER_PARAMS}" POST_BUILD)
endif()
