# Installs wsadup into a scratch prefix, then builds an outside program
# against it twice (CMake package, pkg-config) and runs each: a real
# cross-process handoff through the installed library.
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
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install" -B "${WORK_DIR}/consumer"
    -G Ninja -DCMAKE_PREFIX_PATH=${prefix}
    -DWSADUP_EXAMPLE_SOURCE=${SOURCE_DIR}/examples/handoff_demo.c)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer_handoff" --connections 50 --workers 2)

# pkg-config: the same program with nothing but the .pc file.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
list(JOIN pc_dirs ":" pc_path)
set(ENV{PKG_CONFIG_PATH} "${pc_path}")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs wsadup
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know wsadup")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${C_COMPILER} -std=c99 -D_POSIX_C_SOURCE=200809L
    "${SOURCE_DIR}/examples/handoff_demo.c" -o "${WORK_DIR}/pc_handoff" ${flags})
run("${WORK_DIR}/pc_handoff" --connections 50 --workers 2)
