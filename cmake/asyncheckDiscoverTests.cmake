# asyncheck_discover_tests(): registers one ctest test per asyncheck test case of an executable.
#
#   asyncheck_discover_tests(<target>
#       [TEST_PREFIX <prefix>] [TEST_SUFFIX <suffix>]
#       [EXTRA_ARGS <arg>...]
#       [PROPERTIES <name> <value>...]
#       [DISCOVERY_MODE POST_BUILD|PRE_TEST]
#       [DISCOVERY_TIMEOUT <seconds>]
#       [EXPLORE_BUDGET <seconds>])
#
# The executable is asked for its cases with `<exe> <EXTRA_ARGS> --list=tsv`, after linking (POST_BUILD,
# the default) or when ctest starts (PRE_TEST). Each case `suite.name` becomes the ctest test
# `<prefix><ctest name><suffix>` running `<exe> --filter <the exact name, glob-escaped> <EXTRA_ARGS>`,
# with SKIP_RETURN_CODE 77, LABELS <suite>, and TIMEOUT = ceil(T * 1.05 + 0.2) + 10 seconds where T
# is the case's own timeout as listed (the runner kills a test at T + 5 % + 0.2 s and reports it; the
# 10 s margin lets that report reach ctest before ctest's own timeout does). A case that explores
# (several schedules, a cancel sweep, --check-determinism) gets a TIMEOUT that covers the whole
# exploration, K = ceil(T * 1.05 + 0.2) being one run: with an exploration budget B (.explore_budget,
# or --explore-budget in EXTRA_ARGS) the smaller of runs * K and ceil(B + T * 1.05 + 0.2), + 10;
# without one, runs * K + 10 if runs * K is at most EXPLORE_BUDGET (default 300 s), else — and always
# for a cancel sweep, whose number of runs is unknown — the case runs with `--explore-budget
# <EXPLORE_BUDGET>` and gets ceil(EXPLORE_BUDGET + T * 1.05 + 0.2) + 10: ctest never kills an
# exploration before asyncheck reports it. The ctest name is the case's name with `%`, `;`, `[`, `]`, `#`, `$`, `"`, `\` and control characters written as %XX (hex,
# upper case), so that every name can be used in a CMake list and in double quotes. See
# the Integration chapter of asyncheck's README (docs/integration-cmake.md) for the whole description.
#
# The work is done by asyncheckAddTests.cmake, beside this file.
include_guard(GLOBAL)

function(asyncheck_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TEST_PREFIX;TEST_SUFFIX;DISCOVERY_MODE;DISCOVERY_TIMEOUT;EXPLORE_BUDGET"
                        "EXTRA_ARGS;PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "asyncheck_discover_tests: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "asyncheck_discover_tests: '${target}' is not a target")
  endif()
  get_target_property(type "${target}" TYPE)
  if(NOT type STREQUAL "EXECUTABLE")
    message(FATAL_ERROR "asyncheck_discover_tests: '${target}' is a ${type}, not an executable")
  endif()
  if(NOT DEFINED arg_DISCOVERY_MODE)
    set(arg_DISCOVERY_MODE POST_BUILD)
  endif()
  if(NOT arg_DISCOVERY_MODE MATCHES "^(POST_BUILD|PRE_TEST)$")
    message(FATAL_ERROR "asyncheck_discover_tests: DISCOVERY_MODE must be POST_BUILD or PRE_TEST, "
                        "not '${arg_DISCOVERY_MODE}'")
  endif()
  if(NOT DEFINED arg_DISCOVERY_TIMEOUT)
    set(arg_DISCOVERY_TIMEOUT 5)
  endif()
  if(NOT arg_DISCOVERY_TIMEOUT MATCHES "^([0-9]+\\.?[0-9]*|\\.[0-9]+)$" OR arg_DISCOVERY_TIMEOUT EQUAL 0)
    message(FATAL_ERROR "asyncheck_discover_tests: DISCOVERY_TIMEOUT '${arg_DISCOVERY_TIMEOUT}' is not a "
                        "positive number of seconds")
  endif()

  if(NOT DEFINED arg_EXPLORE_BUDGET)
    set(arg_EXPLORE_BUDGET 300)
  endif()
  if(NOT arg_EXPLORE_BUDGET MATCHES "^([0-9]+\\.?[0-9]*|\\.[0-9]+)$" OR arg_EXPLORE_BUDGET EQUAL 0
     OR arg_EXPLORE_BUDGET GREATER 10000000)
    message(FATAL_ERROR "asyncheck_discover_tests: EXPLORE_BUDGET '${arg_EXPLORE_BUDGET}' is not a positive "
                        "number of seconds (at most 10000000)")
  endif()

  # PROPERTIES are name/value pairs; a value may itself be a list ("A=1;B=2"). LABELS are added to the
  # suite's label, the others are set after asyncheck's own and so take precedence over them.
  set(labels)
  set(properties)
  list(LENGTH arg_PROPERTIES nprops)
  math(EXPR odd "${nprops} % 2")
  if(odd)
    message(FATAL_ERROR "asyncheck_discover_tests: PROPERTIES needs name/value pairs, got: ${arg_PROPERTIES}")
  endif()
  set(i 0)
  while(i LESS nprops)
    list(GET arg_PROPERTIES ${i} name)
    math(EXPR i "${i} + 1")
    list(GET arg_PROPERTIES ${i} value)
    math(EXPR i "${i} + 1")
    if(name STREQUAL "LABELS")
      list(APPEND labels ${value})
    else()
      string(REPLACE ";" "\\;" value "${value}")
      list(APPEND properties "${name}" "${value}")
    endif()
  endwhile()

  # One set of files per call: a target may be discovered more than once (other arguments, prefix).
  get_property(count TARGET "${target}" PROPERTY ASYNCHECK_DISCOVER_COUNT)
  if(NOT count)
    set(count 0)
  endif()
  math(EXPR count "${count} + 1")
  set_property(TARGET "${target}" PROPERTY ASYNCHECK_DISCOVER_COUNT ${count})
  set(base "${CMAKE_CURRENT_BINARY_DIR}/${target}_asyncheck_${count}")
  get_property(multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(multi_config)
    set(config_suffix "-$<CONFIG>")
  else()
    set(config_suffix "")
  endif()
  set(params_file "${base}_params${config_suffix}.cmake")
  set(tests_file "${base}_tests${config_suffix}.cmake")
  set(include_file "${base}_include.cmake")
  set(script "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/asyncheckAddTests.cmake")

  # The parameters, written at generate time (so $<TARGET_FILE> and generator expressions in
  # EXTRA_ARGS are resolved); read by the discovery both after the build and at ctest time.
  set(content "# Generated by asyncheck_discover_tests(${target}); do not edit.\n")
  _asyncheck_set_line(content AC_TARGET "${target}")
  _asyncheck_set_line(content AC_MODE "${arg_DISCOVERY_MODE}")
  _asyncheck_set_line(content AC_EXECUTABLE "$<TARGET_FILE:${target}>")
  _asyncheck_set_line(content AC_EMULATOR "$<TARGET_PROPERTY:${target},CROSSCOMPILING_EMULATOR>")
  _asyncheck_set_line(content AC_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  _asyncheck_set_line(content AC_PREFIX "${arg_TEST_PREFIX}")
  _asyncheck_set_line(content AC_SUFFIX "${arg_TEST_SUFFIX}")
  _asyncheck_set_line(content AC_DISCOVERY_TIMEOUT "${arg_DISCOVERY_TIMEOUT}")
  _asyncheck_set_line(content AC_EXPLORE_BUDGET "${arg_EXPLORE_BUDGET}")
  _asyncheck_set_line(content AC_TESTS_FILE "${tests_file}")
  _asyncheck_set_line(content AC_CMAKE_COMMAND "${CMAKE_COMMAND}")
  _asyncheck_set_list_line(content AC_EXTRA_ARGS "${arg_EXTRA_ARGS}")
  _asyncheck_set_list_line(content AC_LABELS "${labels}")
  _asyncheck_set_list_line(content AC_PROPERTIES "${properties}")
  file(GENERATE OUTPUT "${params_file}" CONTENT "${content}")

  if(arg_DISCOVERY_MODE STREQUAL "POST_BUILD")
    add_custom_command(TARGET "${target}" POST_BUILD
      COMMAND "${CMAKE_COMMAND}" -D "ASYNCHECK_DISCOVER_PARAMS=${params_file}" -P "${script}"
      BYPRODUCTS "${tests_file}"
      COMMENT "Discovering asyncheck tests in ${target}"
      VERBATIM)
  endif()

  # Read by ctest: checks that the executable exists, (re)discovers when the mode or a stale list asks
  # for it, and includes the list.
  if(multi_config)
    set(params_at_ctest "${base}_params-\${CTEST_CONFIGURATION_TYPE}.cmake")
  else()
    set(params_at_ctest "${params_file}")
  endif()
  _asyncheck_bracket(q_script "${script}")
  _asyncheck_bracket(q_params "${params_at_ctest}")
  _asyncheck_bracket(q_target "${target}")
  _asyncheck_bracket(q_prefix "${arg_TEST_PREFIX}")
  _asyncheck_bracket(q_suffix "${arg_TEST_SUFFIX}")
  _asyncheck_bracket(q_cmake "${CMAKE_COMMAND}")
  set(not_built_script "${base}_not_built.cmake")
  _asyncheck_bracket(q_not_built "${not_built_script}")
  file(WRITE "${not_built_script}"
    "message(FATAL_ERROR \"asyncheck_discover_tests(${target}): the test executable has not been built; \"\n"
    "  \"build it (cmake --build) before running ctest (multi-configuration generators: build the \"\n"
    "  \"configuration you give to ctest -C).\")\n")
  # The params path is written in double quotes so that ${CTEST_CONFIGURATION_TYPE} is expanded.
  string(REPLACE "\\" "\\\\" params_quoted "${params_at_ctest}")
  string(REPLACE "\"" "\\\"" params_quoted "${params_quoted}")
  file(WRITE "${include_file}"
    "# Generated by asyncheck_discover_tests(${target}); read by ctest.\n"
    "include(${q_script})\n"
    "_asyncheck_ctest_include(\"${params_quoted}\" ${q_target} ${q_prefix} ${q_suffix}\n"
    "                         ${q_cmake} ${q_not_built})\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()

include("${CMAKE_CURRENT_LIST_DIR}/asyncheckBracket.cmake")

# Appends `set(<var> <value>)` to the string variable <content_var>: the value is one string.
function(_asyncheck_set_line content_var var value)
  _asyncheck_bracket(q "${value}")
  set(${content_var} "${${content_var}}set(${var} ${q})\n" PARENT_SCOPE)
endfunction()

# Appends `set(<var> <element>...)`: <list> keeps its elements, including ones with escaped ';'.
function(_asyncheck_set_list_line content_var var list)
  set(line "set(${var}")
  foreach(element IN LISTS list)
    string(REPLACE ";" "\\;" element "${element}")
    _asyncheck_bracket(q "${element}")
    string(APPEND line " ${q}")
  endforeach()
  set(${content_var} "${${content_var}}${line})\n" PARENT_SCOPE)
endfunction()
