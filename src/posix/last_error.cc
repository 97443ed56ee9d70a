// WSAGetLastError, WSASetLastError and the thread's last error: see
// last_error.h for how a system call's failure and wsadup's are told apart.
#include "posix/last_error.h"

#include <cerrno>

#include "errno_table.h"
#include "wsadup/wsadup.h"

namespace wsadup::detail {
namespace {

thread_local int t_last_error = 0;
// errno as the last failing wsadup call (or WSASetLastError) left it.
thread_local int t_errno_mark = 0;
// Counts this thread's failures, so an ErrnoScope knows whether its call
// failed.
thread_local unsigned t_failures = 0;

void record(int wsa_error, int errno_value) {
  t_last_error = wsa_error;
  errno = errno_value;
  t_errno_mark = errno_value;
  ++t_failures;
}

}  // namespace

int fail(int wsa_error) {
  record(wsa_error, errno_for_wsa_error(wsa_error));
  return SOCKET_ERROR;
}

int fail_errno(int errno_value) {
  record(translate_errno(errno_value), errno_value);
  return SOCKET_ERROR;
}

ErrnoScope::ErrnoScope() : saved_errno_(errno), failures_before_(t_failures) {}

ErrnoScope::~ErrnoScope() {
  if (t_failures == failures_before_) errno = saved_errno_;
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int WSAGetLastError(void) {
  int current = errno;
  if (current == t_errno_mark) return t_last_error;
  return translate_errno(current);
}

extern "C" void WSASetLastError(int iError) {
  record(iError, errno_for_wsa_error(iError));
}

// Windows keeps one last-error value per thread for both names.
extern "C" DWORD GetLastError(void) {
  return static_cast<DWORD>(WSAGetLastError());
}

extern "C" void SetLastError(DWORD dwErrCode) {
  WSASetLastError(static_cast<int>(dwErrCode));
}
