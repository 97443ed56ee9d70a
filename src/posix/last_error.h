// The calling thread's last error, as WSAGetLastError reports it.
//
// SOCKET is the descriptor, so ported code calls recv, send, connect and
// accept on it directly and reads WSAGetLastError() after them, as on
// Windows. Those calls set errno; wsadup's own calls set a Winsock code. A
// failing wsadup call therefore also leaves errno at a value of its own
// choosing and remembers it: while errno still holds that value, the last
// failure was wsadup's and WSAGetLastError returns its code; once errno holds
// anything else, a system call failed since, and WSAGetLastError translates
// errno. The value chosen is the errno that translates back to the same code
// (EINVAL for WSAEINVAL), so errno keeps its POSIX meaning, or 0 for a code
// no errno stands for (WSANOTINITIALISED): no failing system call leaves 0.
#ifndef WSADUP_SRC_POSIX_LAST_ERROR_H
#define WSADUP_SRC_POSIX_LAST_ERROR_H

namespace wsadup::detail {

// Sets the calling thread's last error to a Winsock code and returns
// SOCKET_ERROR.
int fail(int wsa_error);

// For a system call that failed with errno_value: the last error becomes its
// Winsock translation and errno keeps errno_value. Returns SOCKET_ERROR.
int fail_errno(int errno_value);

// Held by each exported call: a call that succeeds leaves errno as it found
// it, so that a system call's failure before it is still what
// WSAGetLastError reports after it.
class ErrnoScope {
 public:
  ErrnoScope();
  ~ErrnoScope();
  ErrnoScope(const ErrnoScope&) = delete;
  ErrnoScope& operator=(const ErrnoScope&) = delete;

 private:
  int saved_errno_;
  unsigned failures_before_;
};

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_LAST_ERROR_H
