# Installs wsadup into a scratch prefix, then builds outside programs against
# it and runs each: a real cross-process handoff through the installed
# library.
#
#   - the handoff demo, by a C and C++ project through the CMake package and
#     with pkg-config;
#   - tests/install/c_consumer.c, by a project in C alone (LANGUAGES C)
#     through the CMake package, and with `pkg-config --static` linked by the
#     C compiler: the package must bring the C++ runtime libwsadup.a needs.
#
# Inputs: -DBUILD_DIR=<wsadup build tree> -DSOURCE_DIR=<wsadup source tree>
#         -DWORK_DIR=<scratch directory> -DC_COMPILER=<cc>
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

# CMake package, C and C++ project: the handoff demo.
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install" -B "${WORK_DIR}/consumer"
    -G Ninja -DCMAKE_PREFIX_PATH=${prefix}
    -DWSADUP_EXAMPLE_SOURCE=${SOURCE_DIR}/examples/handoff_demo.c)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer_handoff" --connections 50 --workers 2)

# CMake package, C project: the same C compiler, nothing added by hand.
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/c_only"
    -B "${WORK_DIR}/c_consumer" -G Ninja -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_C_COMPILER=${C_COMPILER})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/c_consumer")
run("${WORK_DIR}/c_consumer/wsadup_c_consumer")

# pkg-config: nothing but the .pc file.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
list(JOIN pc_dirs ":" pc_path)
set(ENV{PKG_CONFIG_PATH} "${pc_path}")
function(pkg_config_flags variable)
  set(arguments ${ARGN} --cflags --libs wsadup)
  list(JOIN arguments " " shown)
  execute_process(COMMAND ${PKG_CONFIG} ${arguments}
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "pkg-config ${shown}: wsadup not found")
  endif()
  message(STATUS "pkg-config ${shown}: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(${variable} ${flags} PARENT_SCOPE)
endfunction()

pkg_config_flags(flags)
run(${C_COMPILER} -std=c99 -D_POSIX_C_SOURCE=200809L
    "${SOURCE_DIR}/examples/handoff_demo.c" -o "${WORK_DIR}/pc_handoff" ${flags})
run("${WORK_DIR}/pc_handoff" --connections 50 --workers 2)

pkg_config_flags(static_flags --static)
run(${C_COMPILER} -std=c99 "${SOURCE_DIR}/tests/install/c_consumer.c"
    -o "${WORK_DIR}/pc_c_consumer" ${static_flags})
run("${WORK_DIR}/pc_c_consumer")
