#include "errno_table.h"

#include <cerrno>

#include "wsadup/wsadup.h"

namespace wsadup::detail {
namespace {

struct ErrnoMapping {
  int errno_value;
  int wsa_error;
};

// Each row is the condition Windows reports with that code. EBADF becomes
// WSAENOTSOCK because a closed descriptor is "not a socket" to Winsock.
// EINPROGRESS is WSAEWOULDBLOCK because that is what Windows reports for a
// non-blocking connect under way (its WSAEINPROGRESS means a blocking call
// is already running in the thread). Where several errno values share a
// code, the first row is the one errno_for_wsa_error gives back.
constexpr ErrnoMapping kErrnoMappings[] = {
    {0, 0},
    {EINTR, WSAEINTR},
    {EACCES, WSAEACCES},
    {EPERM, WSAEACCES},
    {EFAULT, WSAEFAULT},
    {EINVAL, WSAEINVAL},
    {EMFILE, WSAEMFILE},
    {ENFILE, WSAEMFILE},
    {EAGAIN, WSAEWOULDBLOCK},
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    {EWOULDBLOCK, WSAEWOULDBLOCK},
#endif
    {EINPROGRESS, WSAEWOULDBLOCK},
    {EALREADY, WSAEALREADY},
    {ENOTSOCK, WSAENOTSOCK},
    {EBADF, WSAENOTSOCK},
    {EDESTADDRREQ, WSAEDESTADDRREQ},
    {EMSGSIZE, WSAEMSGSIZE},
    {EPROTOTYPE, WSAEPROTOTYPE},
    {ENOPROTOOPT, WSAENOPROTOOPT},
    {EPROTONOSUPPORT, WSAEPROTONOSUPPORT},
#ifdef ESOCKTNOSUPPORT
    {ESOCKTNOSUPPORT, WSAESOCKTNOSUPPORT},
#endif
    {EOPNOTSUPP, WSAEOPNOTSUPP},
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    {ENOTSUP, WSAEOPNOTSUPP},
#endif
#ifdef EPFNOSUPPORT
    {EPFNOSUPPORT, WSAEPFNOSUPPORT},
#endif
    {EAFNOSUPPORT, WSAEAFNOSUPPORT},
    {EADDRINUSE, WSAEADDRINUSE},
    {EADDRNOTAVAIL, WSAEADDRNOTAVAIL},
    {ENETDOWN, WSAENETDOWN},
    {ENETUNREACH, WSAENETUNREACH},
    {ENETRESET, WSAENETRESET},
    {ECONNABORTED, WSAECONNABORTED},
    {ECONNRESET, WSAECONNRESET},
    {EPIPE, WSAECONNRESET},
    {ENOBUFS, WSAENOBUFS},
    {ENOMEM, WSAENOBUFS},
    {EISCONN, WSAEISCONN},
    {ENOTCONN, WSAENOTCONN},
#ifdef ESHUTDOWN
    {ESHUTDOWN, WSAESHUTDOWN},
#endif
#ifdef ETOOMANYREFS
    {ETOOMANYREFS, WSAETOOMANYREFS},
#endif
    {ETIMEDOUT, WSAETIMEDOUT},
    {ECONNREFUSED, WSAECONNREFUSED},
    {ELOOP, WSAELOOP},
    {ENAMETOOLONG, WSAENAMETOOLONG},
#ifdef EHOSTDOWN
    {EHOSTDOWN, WSAEHOSTDOWN},
#endif
    {EHOSTUNREACH, WSAEHOSTUNREACH},
    {ENOTEMPTY, WSAENOTEMPTY},
#ifdef EPROCLIM
    {EPROCLIM, WSAEPROCLIM},
#endif
#ifdef EUSERS
    {EUSERS, WSAEUSERS},
#endif
#ifdef EDQUOT
    {EDQUOT, WSAEDQUOT},
#endif
#ifdef ESTALE
    {ESTALE, WSAESTALE},
#endif
#ifdef EREMOTE
    {EREMOTE, WSAEREMOTE},
#endif
    {ECANCELED, WSAECANCELLED},
    {ESRCH, WSAEINVAL},
    {ENOENT, WSAEINVAL},
};

}  // namespace

int translate_errno(int errno_value) {
  for (const ErrnoMapping& row : kErrnoMappings) {
    if (row.errno_value == errno_value) return row.wsa_error;
  }
  return WSAEINVAL;
}

int errno_for_wsa_error(int wsa_error) {
  for (const ErrnoMapping& row : kErrnoMappings) {
    if (row.wsa_error == wsa_error) return row.errno_value;
  }
  return 0;
}

}  // namespace wsadup::detail

extern "C" int wsadup_translate_errno(int errno_value) {
  return wsadup::detail::translate_errno(errno_value);
}
