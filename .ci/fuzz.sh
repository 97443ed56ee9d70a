#!/usr/bin/env bash
# Fuzzing leg of CI: builds the libFuzzer targets with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer (the fuzz preset), then runs each one for a
# bounded time on a copy of its seed corpus (fuzz/corpus/<target>). Fails if
# any target finds a crash, a broken invariant, a hang or an out-of-memory;
# the input that did it is kept under build/fuzz/fuzz/run/<target>/artifacts.
#
#   bash .ci/fuzz.sh                          # 60 s per target
#   WSADUP_FUZZ_SECONDS=600 bash .ci/fuzz.sh  # longer
#
# Works on a fresh Debian 12 machine as root (or with sudo): clang and
# libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) are installed if
# missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${WSADUP_FUZZ_SECONDS:-60}"

packages=()
for package in clang libclang-rt-14-dev cmake ninja-build pkg-config; do
  dpkg -s "$package" >/dev/null 2>&1 || packages+=("$package")
done
if [ "${#packages[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${packages[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${packages[@]}"
fi

# The fuzz workflow, with the time per target passed through.
cmake --preset fuzz -DWSADUP_FUZZ_SECONDS="${seconds}"
cmake --build --preset fuzz
ctest --preset fuzz
