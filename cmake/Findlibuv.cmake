# Finds libuv and defines the imported target libuv::libuv.
#
# libuv's own CMake package is used when one is installed; otherwise its
# pkg-config file (Debian's libuv1-dev ships only that), and last a plain
# search for the header and library.
include(FindPackageHandleStandardArgs)

if(TARGET libuv::libuv)
  set(libuv_FOUND TRUE)
  return()
endif()

find_package(libuv CONFIG QUIET NO_MODULE)
if(libuv_FOUND)
  if(NOT TARGET libuv::libuv)
    if(TARGET libuv::uv_a)
      add_library(libuv::libuv INTERFACE IMPORTED)
      target_link_libraries(libuv::libuv INTERFACE libuv::uv_a)
    elseif(TARGET libuv::uv)
      add_library(libuv::libuv INTERFACE IMPORTED)
      target_link_libraries(libuv::libuv INTERFACE libuv::uv)
    endif()
  endif()
  if(TARGET libuv::libuv)
    return()
  endif()
endif()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_LIBUV QUIET libuv)
endif()

find_path(LIBUV_INCLUDE_DIR NAMES uv.h HINTS ${PC_LIBUV_INCLUDE_DIRS})
find_library(LIBUV_LIBRARY NAMES uv libuv HINTS ${PC_LIBUV_LIBRARY_DIRS})
find_package_handle_standard_args(libuv
  REQUIRED_VARS LIBUV_LIBRARY LIBUV_INCLUDE_DIR
  VERSION_VAR PC_LIBUV_VERSION)

if(libuv_FOUND AND NOT TARGET libuv::libuv)
  add_library(libuv::libuv UNKNOWN IMPORTED)
  set_target_properties(libuv::libuv PROPERTIES
    IMPORTED_LOCATION "${LIBUV_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LIBUV_INCLUDE_DIR}")
endif()
mark_as_advanced(LIBUV_INCLUDE_DIR LIBUV_LIBRARY)
