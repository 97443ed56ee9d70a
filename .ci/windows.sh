#!/usr/bin/env bash
# The Windows leg of CI: cross-builds the library, the conformance suite, the
# examples and the demo for 64-bit Windows with MinGW-w64 and runs them under
# Wine, headless. Works on a fresh Debian 12 machine as root (or with sudo);
# .ci/run calls it, and it can be run by hand from anywhere in the tree:
#
#   bash .ci/windows.sh
#
# Steps: install what is missing (MinGW-w64, Wine, CMake, Ninja, GoogleTest's
# sources), configure and build with the windows-cross preset, make a private
# Wine prefix under the build directory, then run the suite with the examples
# (their tests are named example_*) and the demo with the windows-cross and
# windows-cross-demo test presets.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source_dir="$(pwd)"
build_dir="${source_dir}/build/windows-cross"

step_started=0
step() {
  step_started=$(date +%s)
  echo "==> windows: $*"
}
step_done() {
  echo "==> windows: done in $(( $(date +%s) - step_started )) s"
}
leg_started=$(date +%s)

# -- Install ------------------------------------------------------------------
# Debian 12's wine64 runs 64-bit programs without the i386 architecture; its
# "wine" package provides the /usr/bin/wine launcher that picks wine64.
step "checking tools"
packages=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1 ||
  packages+=(g++-mingw-w64-x86-64-posix)
command -v wine >/dev/null 2>&1 && [ -x /usr/lib/wine/wine64 ] ||
  packages+=(wine wine64)
command -v cmake >/dev/null 2>&1 || packages+=(cmake)
command -v ninja >/dev/null 2>&1 || packages+=(ninja-build)
[ -f /usr/src/googletest/CMakeLists.txt ] || packages+=(googletest)
if [ "${#packages[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${packages[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${packages[@]}"
fi
step_done

# -- Build --------------------------------------------------------------------
step "configure and build (windows-cross)"
cmake --preset windows-cross
cmake --build --preset windows-cross -j 2
step_done

# -- Wine ---------------------------------------------------------------------
# A private prefix beside the build (the presets point WINEPREFIX here too),
# no debug chatter, no display, no Mono or Gecko installers (nothing here
# needs .NET or HTML, and the machine has no network to fetch them) and no
# desktop menu builder.
export WINEPREFIX="${build_dir}/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY

# Wine keeps a server (and a few service processes) per prefix. Stop them on
# the way out, whatever happens, so that nothing outlives the leg or holds
# its output open.
stop_wine() {
  wineserver -k >/dev/null 2>&1 || true
  timeout 30 wineserver -w >/dev/null 2>&1 || true
}
trap stop_wine EXIT

step "wine prefix ${WINEPREFIX}"
mkdir -p "${WINEPREFIX}"
# wineboot takes a few seconds on a fresh prefix and returns at once on a
# made one; the bound is only against a hang.
timeout 300 wineboot --init </dev/null >"${build_dir}/wineboot.log" 2>&1 || {
  echo "wineboot failed; its output:" >&2
  cat "${build_dir}/wineboot.log" >&2
  exit 1
}
# On a new prefix wineboot returns while Wine still finishes setting it up in
# the background; wait for that (the server exits when it is done), so that
# no test races the setup.
#
# No persistent server ("wineserver -p") for the tests, on purpose: Wine
# starts its service processes (winedevice.exe) on demand and hands them the
# standard error of the program that needed them. Under a persistent server
# they would outlive that test and hold ctest's pipe open until its timeout.
# With Debian's default (the server and its services end as soon as the last
# program does), they go away with the test.
timeout 120 wineserver -w </dev/null >/dev/null 2>&1 || true
wine --version
step_done

# -- Test ---------------------------------------------------------------------
# Both run even if the first fails, so one CI log shows both results.
failed=()
step "conformance suite and examples under Wine (ctest --preset windows-cross)"
ctest --preset windows-cross || failed+=("conformance suite and examples")
step_done

step "demo under Wine (ctest --preset windows-cross-demo)"
ctest --preset windows-cross-demo || failed+=("demo")
step_done

elapsed=$(( $(date +%s) - leg_started ))
if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> windows: FAILED (${failed[*]}) after ${elapsed} s" >&2
  exit 1
fi
echo "==> windows: leg passed in ${elapsed} s"
