// The Win32 calls that handoff code makes on a SOCKET: SetHandleInformation
// and GetHandleInformation (a HANDLE is the descriptor; HANDLE_FLAG_INHERIT
// is its close-on-exec flag, inverted) and GetCurrentProcessId. Like their
// Windows originals they need no WSAStartup, and report failure through
// GetLastError (the same value as WSAGetLastError).
#include <fcntl.h>

#include <cerrno>
#include <cstdint>

#include "posix/internal.h"

namespace wsadup::detail {
namespace {

// The descriptor a HANDLE stands for, or -1.
int descriptor_of(HANDLE handle) {
  intptr_t value = reinterpret_cast<intptr_t>(handle);
  if (value < 0 || value > INT32_MAX) return -1;
  int fd = static_cast<int>(value);
  return fcntl(fd, F_GETFD) < 0 ? -1 : fd;
}

}  // namespace
}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" BOOL SetHandleInformation(HANDLE hObject, DWORD dwMask,
                                     DWORD dwFlags) {
  ErrnoScope errno_scope;
  int fd = descriptor_of(hObject);
  if (fd < 0) {
    fail(WSA_INVALID_HANDLE);
    return FALSE;
  }
  if ((dwMask & dwFlags & HANDLE_FLAG_PROTECT_FROM_CLOSE) != 0) {
    fail(static_cast<int>(ERROR_NOT_SUPPORTED));  // no such thing on POSIX
    return FALSE;
  }
  if ((dwMask & HANDLE_FLAG_INHERIT) != 0) {
    int flags = fcntl(fd, F_GETFD);
    int wanted = (dwFlags & HANDLE_FLAG_INHERIT) != 0 ? (flags & ~FD_CLOEXEC)
                                                      : (flags | FD_CLOEXEC);
    if (flags < 0 || (wanted != flags && fcntl(fd, F_SETFD, wanted) != 0)) {
      fail(WSA_INVALID_HANDLE);
      return FALSE;
    }
  }
  return TRUE;
}

extern "C" BOOL GetHandleInformation(HANDLE hObject, LPDWORD lpdwFlags) {
  ErrnoScope errno_scope;
  int fd = descriptor_of(hObject);
  if (fd < 0) {
    fail(WSA_INVALID_HANDLE);
    return FALSE;
  }
  if (lpdwFlags == nullptr) {
    fail(WSA_INVALID_PARAMETER);
    return FALSE;
  }
  int flags = fcntl(fd, F_GETFD);
  *lpdwFlags = (flags & FD_CLOEXEC) != 0 ? 0 : HANDLE_FLAG_INHERIT;
  return TRUE;
}

extern "C" DWORD GetCurrentProcessId(void) {
  return static_cast<DWORD>(current_pid());
}
