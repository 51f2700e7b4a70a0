# _asyncheck_bracket(<out> <value>): <value> as a CMake bracket argument, [=[...]=] with enough '=' that
# no content can close it early. Shared by asyncheckDiscoverTests.cmake and asyncheckAddTests.cmake.
function(_asyncheck_bracket out value)
  set(eq "=")
  while(value MATCHES "]${eq}]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()
