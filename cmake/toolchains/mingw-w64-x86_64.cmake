# Cross-compiles wsadup for 64-bit Windows with MinGW-w64 (Debian package
# g++-mingw-w64-x86-64-posix) and runs the results under Wine (Debian
# packages wine and wine64), so that the Windows backend and the conformance
# suite build and run on a Linux machine.
#
#   cmake --preset windows-cross
#
# The "posix" flavour of the compiler is used because it implements
# std::thread and std::mutex (winpthreads); the "win32" flavour does not in
# GCC 12, and the conformance suite uses threads.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(WSADUP_MINGW_PREFIX x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${WSADUP_MINGW_PREFIX}-gcc-posix REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${WSADUP_MINGW_PREFIX}-g++-posix REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${WSADUP_MINGW_PREFIX}-windres)

# Look for headers and libraries only in the target's sysroot; programs (the
# build's own tools) on the host.
set(CMAKE_FIND_ROOT_PATH /usr/${WSADUP_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Link libgcc, libstdc++ and winpthreads statically, so the .exe files run
# under Wine (or are copied to a Windows machine) without hunting for the
# MinGW runtime DLLs.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

# add_test, gtest_discover_tests and try_run start the .exe files through
# this wrapper, which runs them under Wine with a quiet, private prefix.
set(CMAKE_CROSSCOMPILING_EMULATOR
    "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
