# Finds asyncheck's two dependencies and gives them as imported targets asyncheck::ev and asyncheck::ffi.
# Used by asyncheck's own build and by the installed asyncheckConfig.cmake. Debian's libev-dev ships no
# pkg-config file, so libev is found by header and library; libffi by pkg-config when present.
if(NOT TARGET asyncheck::ev)
  find_path(ASYNCHECK_EV_INCLUDE_DIR ev.h PATH_SUFFIXES libev)
  find_library(ASYNCHECK_EV_LIBRARY NAMES ev)
  if(NOT ASYNCHECK_EV_INCLUDE_DIR OR NOT ASYNCHECK_EV_LIBRARY)
    message(FATAL_ERROR "asyncheck needs libev, which was not found (ev.h / libev.so). "
                        "On Debian or Ubuntu install the package libev-dev: apt-get install libev-dev")
  endif()
  add_library(asyncheck::ev UNKNOWN IMPORTED)
  set_target_properties(asyncheck::ev PROPERTIES IMPORTED_LOCATION "${ASYNCHECK_EV_LIBRARY}"
                                                 INTERFACE_INCLUDE_DIRECTORIES "${ASYNCHECK_EV_INCLUDE_DIR}")
endif()

if(NOT TARGET asyncheck::ffi)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(ASYNCHECK_PC_FFI QUIET libffi)
  endif()
  find_path(ASYNCHECK_FFI_INCLUDE_DIR ffi.h HINTS ${ASYNCHECK_PC_FFI_INCLUDE_DIRS})
  find_library(ASYNCHECK_FFI_LIBRARY NAMES ffi HINTS ${ASYNCHECK_PC_FFI_LIBRARY_DIRS})
  if(NOT ASYNCHECK_FFI_INCLUDE_DIR OR NOT ASYNCHECK_FFI_LIBRARY)
    message(FATAL_ERROR "asyncheck needs libffi, which was not found (ffi.h / libffi.so). "
                        "On Debian or Ubuntu install the package libffi-dev: apt-get install libffi-dev")
  endif()
  add_library(asyncheck::ffi UNKNOWN IMPORTED)
  set_target_properties(asyncheck::ffi PROPERTIES IMPORTED_LOCATION "${ASYNCHECK_FFI_LIBRARY}"
                                                  INTERFACE_INCLUDE_DIRECTORIES "${ASYNCHECK_FFI_INCLUDE_DIR}")
endif()

if(NOT TARGET Threads::Threads)
  set(THREADS_PREFER_PTHREAD_FLAG ON)
  find_package(Threads REQUIRED)
endif()
