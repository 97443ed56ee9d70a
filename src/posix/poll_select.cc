// WSAPoll, and the Windows form of select (windows_forms.h). Both wait with
// poll(2): select's sets are turned into one pollfd per descriptor, which
// also lets a failed non-blocking connect land in exceptfds as on Windows
// (the system's select reports it writable).
#include <poll.h>

#include <cerrno>
#include <climits>
#include <new>
#include <vector>

#include "posix/internal.h"
#include "posix/socket_calls.h"
#include "wsadup/windows_forms.h"

namespace wsadup::detail {
namespace {

// The event flags Windows' WSAPoll accepts in events; anything else
// (POLLPRI included, which Winsock does not support) is WSAEINVAL.
constexpr short kPollRequestable =
    POLLIN | POLLRDNORM | POLLRDBAND | POLLOUT | POLLWRNORM | POLLWRBAND;

int timeout_ms(const timeval* timeout, int* ms) {
  if (timeout == nullptr) {
    *ms = -1;
    return 0;
  }
  if (timeout->tv_sec < 0 || timeout->tv_usec < 0) return WSAEINVAL;
  long long total = static_cast<long long>(timeout->tv_sec) * 1000 +
                    (timeout->tv_usec + 999) / 1000;
  *ms = total > INT_MAX ? INT_MAX : static_cast<int>(total);
  return 0;
}

bool in_set(const fd_set* set, int fd) {
  return set != nullptr && FD_ISSET(fd, set);
}

// Whether entry watches for reading on a listener whose WSAAccept deferred a
// connection: it is readable now, though the kernel's queue no longer has it.
bool deferred_readable(const pollfd& entry) {
  return (entry.events & (POLLIN | POLLRDNORM)) != 0 && entry.fd >= 0 &&
         has_deferred_connection(entry.fd);
}

}  // namespace
}  // namespace wsadup::detail

using namespace wsadup::detail;

// Windows reports a stream whose peer closed as POLLHUP; Linux says POLLRDHUP
// (and POLLHUP only once both directions are shut), so every entry also asks
// for POLLRDHUP, which comes back as POLLHUP.
extern "C" int WSAPoll(LPWSAPOLLFD fdArray, ULONG fds, INT timeout) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (fdArray == nullptr) return fail(WSAEINVAL);
  bool deferred = false;
  for (ULONG i = 0; i < fds; ++i) {
    if ((fdArray[i].events & ~kPollRequestable) != 0) return fail(WSAEINVAL);
    deferred = deferred || deferred_readable(fdArray[i]);
  }
  for (ULONG i = 0; i < fds; ++i) {
    fdArray[i].events = static_cast<short>(fdArray[i].events | POLLRDHUP);
  }
  int ready = poll(fdArray, static_cast<nfds_t>(fds), deferred ? 0 : timeout);
  int error = errno;
  for (ULONG i = 0; i < fds; ++i) {
    fdArray[i].events = static_cast<short>(fdArray[i].events & ~POLLRDHUP);
    if ((fdArray[i].revents & POLLRDHUP) != 0) {
      fdArray[i].revents =
          static_cast<short>((fdArray[i].revents & ~POLLRDHUP) | POLLHUP);
    }
    if (ready >= 0 && deferred_readable(fdArray[i])) {
      if (fdArray[i].revents == 0) ++ready;
      fdArray[i].revents =
          static_cast<short>(fdArray[i].revents | (fdArray[i].events &
                                                   (POLLIN | POLLRDNORM)));
    }
  }
  if (ready < 0) return fail_errno(error);
  return ready;
}

extern "C" int wsadup_select(int /*nfds: ignored, as on Windows*/,
                             fd_set* readfds, fd_set* writefds,
                             fd_set* exceptfds, const struct timeval* timeout) {
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    int ms = 0;
    int status = timeout_ms(timeout, &ms);
    if (status != 0) return fail(status);
    std::vector<pollfd> watched;
    for (int fd = 0; fd < FD_SETSIZE; ++fd) {
      short events = 0;
      if (in_set(readfds, fd)) events |= POLLIN;
      if (in_set(writefds, fd)) events |= POLLOUT;
      if (in_set(exceptfds, fd)) events |= POLLPRI;
      if (events != 0) watched.push_back(pollfd{fd, events, 0});
    }
    // Windows: select with nothing to watch is WSAEINVAL, not a sleep.
    if (watched.empty()) return fail(WSAEINVAL);
    bool deferred = false;
    for (const pollfd& entry : watched) {
      deferred = deferred || deferred_readable(entry);
    }
    int ready = poll(watched.data(), watched.size(), deferred ? 0 : ms);
    if (ready < 0) return fail_errno(errno);
    if (readfds != nullptr) FD_ZERO(readfds);
    if (writefds != nullptr) FD_ZERO(writefds);
    if (exceptfds != nullptr) FD_ZERO(exceptfds);
    int count = 0;
    for (const pollfd& entry : watched) {
      short got = entry.revents;
      if ((got & POLLNVAL) != 0) return fail(WSAENOTSOCK);
      bool failed = (got & POLLERR) != 0;
      if ((entry.events & POLLIN) != 0 &&
          ((got & (POLLIN | POLLHUP | POLLERR)) != 0 ||
           deferred_readable(entry))) {
        FD_SET(entry.fd, readfds);
        ++count;
      }
      if ((entry.events & POLLOUT) != 0 && (got & POLLOUT) != 0 && !failed) {
        FD_SET(entry.fd, writefds);
        ++count;
      }
      if ((entry.events & POLLPRI) != 0 && (got & (POLLPRI | POLLERR)) != 0) {
        FD_SET(entry.fd, exceptfds);
        ++count;
      }
    }
    return count;
  } catch (const std::bad_alloc&) {
    return fail(WSAENOBUFS);
  }
}
