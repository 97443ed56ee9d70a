#!/bin/sh
# Runs a test program under Valgrind's memcheck, following every process it
# starts (the suite re-runs itself as helper processes): the test launcher of
# the memcheck preset.
#
# Each process writes its own log. With --quiet memcheck writes only its
# errors there (lines "==<pid>== ...") and its own warnings ("--<pid>-- ...",
# such as a system call it does not know, which then fails with ENOSYS). A
# log with an error line fails the run and is shown, also the log of a helper
# the test killed before memcheck could print its summary or exit with
# --error-exitcode.
#
# Leaks: only "definitely lost" blocks are errors. Blocks still reachable at
# exit (the C library's process-wide state, the suite's registries) and "possibly
# lost" ones are not reported.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
logs="$(mktemp -d "${TMPDIR:-/tmp}/wsadup-memcheck-XXXXXX")" || exit 125
# Helpers that drop to another uid (the other-user tests) write their logs
# here too.
chmod 1777 "${logs}"
# A process that execs keeps its pid, and so would reopen its own log, which
# after a drop to another uid it may not: the as_user helper sets this before
# it execs, so each stage of a process writes its own log.
export WSADUP_EXEC_STAGE="${WSADUP_EXEC_STAGE:-0}"
valgrind --tool=memcheck --quiet \
  --error-exitcode=99 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --track-fds=no --vgdb=no \
  --trace-children=yes \
  --num-callers=30 \
  --suppressions="${here}/../tests/memcheck.supp" \
  --log-file="${logs}/%p-%q{WSADUP_EXEC_STAGE}.log" \
  "$@"
status=$?
for log in "${logs}"/*.log; do
  if grep -q '^==[0-9]*==' "${log}" 2>/dev/null; then
    echo "memcheck: errors in process $(basename "${log}" .log):" >&2
    cat "${log}" >&2
    [ "${status}" -eq 0 ] && status=99
  fi
done
rm -rf "${logs}"
exit "${status}"
