# expect_hiredis_oom.cmake — run by ctest's example.redis_hiredis_oom: runs the redis_oom allocation sweep
# of redis_test (EXE) against hiredis 0.14.1 and passes only when asyncheck reports that hiredis crashed
# at a fault point (exit status 1, "crashed: SIG…" with a replay line), and when that replay line, run
# alone three times, crashes the same way each time. Prints the run's output when it does not pass.
execute_process(COMMAND ${EXE} --tap --filter=redis_oom.* OUTPUT_VARIABLE out ERROR_VARIABLE err
                RESULT_VARIABLE rc)
set(problems)
if(NOT rc EQUAL 1)
  string(APPEND problems "exit status ${rc}, expected 1\n")
endif()
string(REGEX MATCH "crashed: (SIG[A-Z]+)" crash "${out}")
set(signal "${CMAKE_MATCH_1}")
string(REGEX MATCH "replay: [^\n\"]*--filter='([^']+)' --seed=([0-9]+) --fault-at=([a-z]+:[0-9]+:[A-Z]+)" replay
       "${out}")
set(filter "${CMAKE_MATCH_1}")
set(seed "${CMAKE_MATCH_2}")
set(fault "${CMAKE_MATCH_3}")
if(NOT crash OR NOT replay)
  string(APPEND problems "no crash at a fault point with a replay line was reported\n")
else()
  foreach(i 1 2 3)
    execute_process(COMMAND ${EXE} --filter=${filter} --seed=${seed} --fault-at=${fault}
                    OUTPUT_VARIABLE again ERROR_VARIABLE again_err RESULT_VARIABLE again_rc)
    string(FIND "${again}" "crashed: ${signal}" at)
    if(NOT again_rc EQUAL 1 OR at EQUAL -1)
      string(APPEND problems "replay ${i} (--fault-at=${fault}) did not crash with ${signal}:\n${again}\n")
    endif()
  endforeach()
endif()
if(problems)
  message(FATAL_ERROR "${problems}--- output ---\n${out}\n--- stderr ---\n${err}")
endif()
message(STATUS "hiredis crashed with ${signal} at --fault-at=${fault}, replayed 3 times out of 3")
