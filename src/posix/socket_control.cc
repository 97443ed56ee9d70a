// ioctlsocket and WSAIoctl: the codes a handed socket can honour on POSIX.
// FIONBIO, FIONREAD and SIOCATMARK come with either number, the system's
// (what <wsadup/wsadup.h> names) or Windows' (what the compatibility
// directory names), since the two sets do not overlap.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {
namespace {

enum class Control { kNonBlocking, kReadable, kAtMark, kOther };

Control control_for(uint32_t code) {
  if (code == WSADUP_WIN_FIONBIO || code == static_cast<uint32_t>(FIONBIO)) {
    return Control::kNonBlocking;
  }
  if (code == WSADUP_WIN_FIONREAD || code == static_cast<uint32_t>(FIONREAD)) {
    return Control::kReadable;
  }
  if (code == WSADUP_WIN_SIOCATMARK ||
      code == static_cast<uint32_t>(SIOCATMARK)) {
    return Control::kAtMark;
  }
  return Control::kOther;
}

int set_non_blocking(SOCKET s, bool on) {
  // Windows: back to blocking only once WSAEventSelect(s, NULL, 0) has
  // cancelled the registration, made through any descriptor in any process.
  if (!on && registration_in_force(s)) return fail(WSAEINVAL);
  int flags = fcntl(s, F_GETFL);
  if (flags < 0) return fail_errno(errno);
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(s, F_SETFL, wanted) != 0) {
    return fail_errno(errno);
  }
  return 0;
}

int bytes_readable(SOCKET s, ULONG* value) {
  int queued = 0;
  if (ioctl(s, FIONREAD, &queued) != 0) return fail_errno(errno);
  *value = static_cast<ULONG>(queued < 0 ? 0 : queued);
  return 0;
}

// Windows: TRUE when no urgent (out-of-band) data waits to be read. The
// system's SIOCATMARK answers another question (is the next byte the mark?),
// so ask whether an urgent byte can be read without taking it.
int at_mark(SOCKET s, ULONG* value) {
  int inline_urgent = 0;
  socklen_t length = sizeof(inline_urgent);
  if (getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &inline_urgent, &length) != 0) {
    return fail_errno(errno);
  }
  if (inline_urgent != 0) {
    // Urgent data is read in line with the rest and is never waiting on its
    // own (docs/porting.md).
    *value = TRUE;
    return 0;
  }
  char byte = 0;
  ssize_t n = recv(s, &byte, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT);
  *value = n == 1 ? FALSE : TRUE;
  return 0;
}

// SIO_KEEPALIVE_VALS: Windows' keepalive on or off with its idle time and
// probe interval in milliseconds, and its fixed count of 10 probes.
int set_keepalive(SOCKET s, const tcp_keepalive& values) {
  int on = values.onoff != 0 ? 1 : 0;
  if (setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0) {
    return fail_errno(errno);
  }
  if (!on) return 0;
  auto seconds = [](ULONG milliseconds) {
    ULONG rounded = milliseconds / 1000 + (milliseconds % 1000 != 0 ? 1 : 0);
    if (rounded < 1) rounded = 1;
    if (rounded > 32767) rounded = 32767;  // the kernel's bound
    return static_cast<int>(rounded);
  };
  int idle = seconds(values.keepalivetime);
  int interval = seconds(values.keepaliveinterval);
  int count = 10;
  if (setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0 ||
      setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval)) !=
          0 ||
      setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)) != 0) {
    // A socket without TCP keepalive timers (UDP): WSAEINVAL.
    return errno == ENOPROTOOPT || errno == EOPNOTSUPP ? fail(WSAEINVAL)
                                                       : fail_errno(errno);
  }
  return 0;
}

}  // namespace
}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int ioctlsocket(SOCKET s, long cmd, ULONG* argp) {
  ErrnoScope errno_scope;
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (!is_socket(s)) return fail(WSAENOTSOCK);
  if (argp == nullptr) return fail(WSAEFAULT);
  switch (control_for(static_cast<uint32_t>(cmd))) {
    case Control::kNonBlocking:
      return set_non_blocking(s, *argp != 0);
    case Control::kReadable:
      return bytes_readable(s, argp);
    case Control::kAtMark:
      return at_mark(s, argp);
    case Control::kOther:
      break;
  }
  return fail(WSAEOPNOTSUPP);
}

extern "C" int WSAIoctl(
    SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
    LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
    LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine) {
  ErrnoScope errno_scope;
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (!is_socket(s)) return fail(WSAENOTSOCK);
  if (lpOverlapped != nullptr || lpCompletionRoutine != nullptr) {
    return fail(WSAEOPNOTSUPP);  // overlapped I/O: docs/porting.md
  }
  if (lpcbBytesReturned == nullptr) return fail(WSAEFAULT);
  *lpcbBytesReturned = 0;
  auto in_holds = [&](size_t size) {
    return lpvInBuffer != nullptr && cbInBuffer >= size;
  };
  auto out_holds = [&](size_t size) {
    return lpvOutBuffer != nullptr && cbOutBuffer >= size;
  };
  switch (control_for(dwIoControlCode)) {
    case Control::kNonBlocking:
      if (!in_holds(sizeof(ULONG))) return fail(WSAEFAULT);
      return set_non_blocking(s, *static_cast<ULONG*>(lpvInBuffer) != 0);
    case Control::kReadable:
    case Control::kAtMark: {
      if (!out_holds(sizeof(ULONG))) return fail(WSAEFAULT);
      ULONG value = 0;
      int status = control_for(dwIoControlCode) == Control::kReadable
                       ? bytes_readable(s, &value)
                       : at_mark(s, &value);
      if (status != 0) return status;
      *static_cast<ULONG*>(lpvOutBuffer) = value;
      *lpcbBytesReturned = sizeof(ULONG);
      return 0;
    }
    case Control::kOther:
      break;
  }
  switch (dwIoControlCode) {
    case SIO_KEEPALIVE_VALS:
      if (!in_holds(sizeof(tcp_keepalive))) return fail(WSAEFAULT);
      return set_keepalive(s, *static_cast<tcp_keepalive*>(lpvInBuffer));
    case SIO_BASE_HANDLE:
      // No layered provider sits above wsadup's base: the socket is its own
      // base handle.
      if (!out_holds(sizeof(SOCKET))) return fail(WSAEFAULT);
      *static_cast<SOCKET*>(lpvOutBuffer) = s;
      *lpcbBytesReturned = sizeof(SOCKET);
      return 0;
    default:
      // SIO_GET_EXTENSION_FUNCTION_POINTER included: AcceptEx, ConnectEx and
      // the other Microsoft extensions are overlapped I/O, not provided.
      return fail(WSAEOPNOTSUPP);
  }
}
