#!/bin/sh
# Runs a cross-built Windows program under Wine: CMake's
# CMAKE_CROSSCOMPILING_EMULATOR for the mingw-w64 toolchain.
#
# Wine's own chatter goes nowhere (WINEDEBUG=-all) unless the caller set
# WINEDEBUG. The prefix defaults to one beside the build, made once by
# .ci/windows.sh with "wineboot --init"; a missing prefix is made here too,
# because Wine creates it on first use anyway, only more slowly and noisily.
set -e
if [ -z "${WINEPREFIX:-}" ]; then
  WINEPREFIX="${WSADUP_WINEPREFIX:-${TMPDIR:-/tmp}/wsadup-wineprefix-$(id -u)}"
  export WINEPREFIX
fi
: "${WINEDEBUG:=-all}"
export WINEDEBUG
# No display, no Mono or Gecko installers, no desktop menu builder: none of
# them is of use to a test, and each can outlive the program it came with.
unset DISPLAY WAYLAND_DISPLAY
: "${WINEDLLOVERRIDES:=mscoree,mshtml=;winemenubuilder.exe=d}"
export WINEDLLOVERRIDES
# Debian's "wine" starts wine64 for a 64-bit program when wine32 is absent.
exec wine "$@"
