// The Windows forms of getsockopt and setsockopt (windows_forms.h): char*
// values, int lengths, and the options whose Windows type differs from the
// system's.
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "errno_table.h"
#include "posix/internal.h"
#include "posix/socket_calls.h"
#include "wsadup/windows_forms.h"

namespace wsadup::detail {
namespace {

bool is_timeout(int level, int name) {
  return level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
}

template <typename Info>
int protocol_info(SOCKET s, char* value, int* length) {
  if (*length < static_cast<int>(sizeof(Info))) return fail(WSAEFAULT);
  int family = 0, type = 0, protocol = 0;
  if (!socket_kind(s, &family, &type, &protocol)) return fail(WSAENOTSOCK);
  Info info;
  describe_protocol(family, type, protocol, &info);
  std::memcpy(value, &info, sizeof(info));
  *length = static_cast<int>(sizeof(info));
  return 0;
}

}  // namespace
}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int wsadup_getsockopt(SOCKET s, int level, int optname,
                                 char* optval, int* optlen) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (optval == nullptr || optlen == nullptr || *optlen < 0) {
    return fail(WSAEFAULT);
  }
  if (level == SOL_SOCKET && optname == SO_PROTOCOL_INFOA) {
    return protocol_info<WSAPROTOCOL_INFOA>(s, optval, optlen);
  }
  if (level == SOL_SOCKET && optname == SO_PROTOCOL_INFOW) {
    return protocol_info<WSAPROTOCOL_INFOW>(s, optval, optlen);
  }
  // A DWORD of milliseconds, unless the caller's buffer is a struct timeval.
  if (is_timeout(level, optname) && *optlen != sizeof(timeval)) {
    if (*optlen < static_cast<int>(sizeof(DWORD))) return fail(WSAEFAULT);
    timeval timeout{};
    socklen_t length = sizeof(timeout);
    if (getsockopt(s, level, optname, &timeout, &length) != 0) {
      return fail_errno(errno);
    }
    DWORD milliseconds = static_cast<DWORD>(timeout.tv_sec * 1000 +
                                            timeout.tv_usec / 1000);
    std::memcpy(optval, &milliseconds, sizeof(milliseconds));
    *optlen = sizeof(DWORD);
    return 0;
  }
  // LINGER (u_short fields), unless the buffer holds a struct linger.
  if (level == SOL_SOCKET && optname == SO_LINGER &&
      *optlen < static_cast<int>(sizeof(struct linger))) {
    if (*optlen < static_cast<int>(sizeof(LINGER))) return fail(WSAEFAULT);
    struct linger system_linger {};
    socklen_t length = sizeof(system_linger);
    if (getsockopt(s, level, optname, &system_linger, &length) != 0) {
      return fail_errno(errno);
    }
    LINGER windows_linger;
    windows_linger.l_onoff = static_cast<USHORT>(system_linger.l_onoff != 0);
    windows_linger.l_linger = static_cast<USHORT>(system_linger.l_linger);
    std::memcpy(optval, &windows_linger, sizeof(windows_linger));
    *optlen = sizeof(LINGER);
    return 0;
  }
  socklen_t length = static_cast<socklen_t>(*optlen);
  if (getsockopt(s, level, optname, optval, &length) != 0) {
    return fail_errno(errno);
  }
  *optlen = static_cast<int>(length);
  // Windows reports a socket's pending error as a Winsock code: code written
  // for it compares SO_ERROR with WSAECONNREFUSED and the like.
  if (level == SOL_SOCKET && optname == SO_ERROR &&
      length >= sizeof(int)) {
    int error = 0;
    std::memcpy(&error, optval, sizeof(error));
    error = translate_errno(error);
    std::memcpy(optval, &error, sizeof(error));
  }
  return 0;
}

extern "C" int wsadup_setsockopt(SOCKET s, int level, int optname,
                                 const char* optval, int optlen) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (optlen < 0 || (optval == nullptr && optlen > 0)) return fail(WSAEFAULT);
  if (is_timeout(level, optname) && optlen != sizeof(timeval)) {
    if (optlen < static_cast<int>(sizeof(DWORD))) return fail(WSAEFAULT);
    DWORD milliseconds = 0;
    std::memcpy(&milliseconds, optval, sizeof(milliseconds));
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(milliseconds / 1000);
    timeout.tv_usec = static_cast<suseconds_t>((milliseconds % 1000) * 1000);
    if (setsockopt(s, level, optname, &timeout, sizeof(timeout)) != 0) {
      return fail_errno(errno);
    }
    return 0;
  }
  if (level == SOL_SOCKET && optname == SO_LINGER &&
      optlen < static_cast<int>(sizeof(struct linger))) {
    if (optlen < static_cast<int>(sizeof(LINGER))) return fail(WSAEFAULT);
    LINGER windows_linger;
    std::memcpy(&windows_linger, optval, sizeof(windows_linger));
    struct linger system_linger {};
    system_linger.l_onoff = windows_linger.l_onoff != 0;
    system_linger.l_linger = windows_linger.l_linger;
    if (setsockopt(s, level, optname, &system_linger, sizeof(system_linger)) !=
        0) {
      return fail_errno(errno);
    }
    return 0;
  }
  if (setsockopt(s, level, optname, optval, static_cast<socklen_t>(optlen)) !=
      0) {
    return fail_errno(errno);
  }
  return 0;
}
