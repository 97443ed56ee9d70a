// WSARecv, WSASend, WSARecvFrom, WSASendTo, and the Windows forms of recv,
// send, recvfrom and sendto (windows_forms.h). All of them are one recvmsg
// or sendmsg on the descriptor: recvmsg because it reports a truncated
// datagram (MSG_TRUNC), which Windows reports as WSAEMSGSIZE, and sendmsg
// with MSG_NOSIGNAL because Windows has no SIGPIPE.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <new>
#include <vector>

#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/socket_calls.h"
#include "wsadup/windows_forms.h"

namespace wsadup::detail {
namespace {

// The WSABUF array as an iovec array: on the stack for the usual few.
class IoVectors {
 public:
  IoVectors(const WSABUF* buffers, DWORD count) {
    if (count > kInline) {
      heap_.resize(count);
      vectors_ = heap_.data();
    }
    for (DWORD i = 0; i < count; ++i) {
      vectors_[i].iov_base = buffers[i].buf;
      vectors_[i].iov_len = buffers[i].len;
    }
    count_ = count;
  }
  iovec* data() { return vectors_; }
  size_t size() const { return count_; }

 private:
  static constexpr DWORD kInline = 16;
  iovec inline_[kInline];
  std::vector<iovec> heap_;
  iovec* vectors_ = inline_;
  size_t count_ = 0;
};

// EAGAIN from a blocking socket is its SO_RCVTIMEO or SO_SNDTIMEO running
// out, which Windows reports as WSAETIMEDOUT; from a non-blocking one it is
// WSAEWOULDBLOCK.
int fail_io(int s, int errno_value, int flags) {
  if ((errno_value == EAGAIN || errno_value == EWOULDBLOCK) &&
      (flags & MSG_DONTWAIT) == 0) {
    int status = fcntl(s, F_GETFL);
    if (status >= 0 && (status & O_NONBLOCK) == 0) return fail(WSAETIMEDOUT);
  }
  return fail_errno(errno_value);
}

// What WSARecv and WSARecvFrom share. from and from_length may be NULL.
int receive(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
            LPDWORD flags, sockaddr* from, LPINT from_length,
            LPWSAOVERLAPPED overlapped,
            LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (overlapped != nullptr || routine != nullptr) {
      return fail(WSAEOPNOTSUPP);  // overlapped I/O: docs/porting.md
    }
    if ((buffers == nullptr && count != 0) || received == nullptr ||
        flags == nullptr || (from != nullptr && from_length == nullptr)) {
      return fail(WSAEFAULT);
    }
    if (from != nullptr && *from_length < address_size_of(s)) {
      return fail(is_socket(s) ? WSAEFAULT : WSAENOTSOCK);
    }
    IoVectors vectors(buffers, count);
    sockaddr_storage address{};
    msghdr message{};
    message.msg_iov = vectors.data();
    message.msg_iovlen = vectors.size();
    if (from != nullptr) {
      message.msg_name = &address;
      message.msg_namelen = sizeof(address);
    }
    ssize_t n = recvmsg(s, &message, static_cast<int>(*flags));
    int receive_errno = errno;
    // Any receive re-enables FD_READ (FD_OOB for MSG_OOB), even one that
    // fails, as Windows says.
    reenable_after_receive(s, (*flags & MSG_OOB) != 0);
    if (n < 0) return fail_io(s, receive_errno, static_cast<int>(*flags));
    *received = static_cast<DWORD>(n);
    *flags = 0;
    if (from != nullptr &&
        copy_address_out(address, message.msg_namelen, from, from_length) !=
            0) {
      return SOCKET_ERROR;
    }
    // Windows: the part that fitted is in the buffers, the rest is gone.
    if ((message.msg_flags & MSG_TRUNC) != 0) return fail(WSAEMSGSIZE);
    return 0;
  } catch (const std::bad_alloc&) {
    return fail(WSAENOBUFS);
  }
}

// True when this side of TCP connection s has sent its FIN: shutdown(SD_SEND)
// or closed (the states after FIN_WAIT1 in RFC 793's diagram).
bool sent_own_fin(int s) {
  switch (tcp_state(s)) {
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
    case TCP_TIME_WAIT:
    case TCP_LAST_ACK:
    case TCP_CLOSING:
      return true;
    default:
      return false;
  }
}

// For a send on s with these flags that failed with errno_value: Windows'
// code. EPIPE is WSAESHUTDOWN after this side's own shutdown(SD_SEND), else
// WSAECONNRESET; EAGAIN on a blocking socket is its SO_SNDTIMEO running out.
int fail_send(int s, int errno_value, int flags) {
  if (errno_value != EPIPE) return fail_io(s, errno_value, flags);
  int family = 0, type = 0, protocol = 0;
  if (!socket_kind(s, &family, &type, &protocol)) return fail_errno(EPIPE);
  bool tcp = type == SOCK_STREAM && (family == AF_INET || family == AF_INET6);
  if (tcp ? sent_own_fin(s) : type != SOCK_STREAM) return fail(WSAESHUTDOWN);
  return fail_errno(EPIPE);  // WSAECONNRESET
}

int send_vectors(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent,
                 DWORD flags, const sockaddr* to, int to_length,
                 LPWSAOVERLAPPED overlapped,
                 LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (overlapped != nullptr || routine != nullptr) {
      return fail(WSAEOPNOTSUPP);
    }
    if ((buffers == nullptr && count != 0) || sent == nullptr ||
        (to != nullptr && to_length < 0)) {
      return fail(WSAEFAULT);
    }
    IoVectors vectors(buffers, count);
    msghdr message{};
    message.msg_iov = vectors.data();
    message.msg_iovlen = vectors.size();
    if (to != nullptr) {
      message.msg_name = const_cast<sockaddr*>(to);
      message.msg_namelen = static_cast<socklen_t>(to_length);
    }
    ssize_t n = sendmsg(s, &message, static_cast<int>(flags) | MSG_NOSIGNAL);
    int send_errno = errno;
    // FD_WRITE comes again only after a send that found no room.
    reenable_after_send(s, n < 0 && (send_errno == EAGAIN ||
                                     send_errno == EWOULDBLOCK));
    if (n < 0) return fail_send(s, send_errno, static_cast<int>(flags));
    *sent = static_cast<DWORD>(n);
    return 0;
  } catch (const std::bad_alloc&) {
    return fail(WSAENOBUFS);
  }
}

}  // namespace
}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                       LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                       LPWSAOVERLAPPED lpOverlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine) {
  return receive(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags,
                 nullptr, nullptr, lpOverlapped, lpCompletionRoutine);
}

extern "C" int WSARecvFrom(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags, struct sockaddr* lpFrom,
    LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine) {
  return receive(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags,
                 lpFrom, lpFromlen, lpOverlapped, lpCompletionRoutine);
}

extern "C" int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                       LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                       LPWSAOVERLAPPED lpOverlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine) {
  return send_vectors(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent,
                      dwFlags, nullptr, 0, lpOverlapped, lpCompletionRoutine);
}

extern "C" int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                         LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                         const struct sockaddr* lpTo, int iTolen,
                         LPWSAOVERLAPPED lpOverlapped,
                         LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine) {
  return send_vectors(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent,
                      dwFlags, lpTo, iTolen, lpOverlapped,
                      lpCompletionRoutine);
}

// The Windows forms: one WSABUF each.
extern "C" int wsadup_recv(SOCKET s, char* buf, int len, int flags) {
  return wsadup_recvfrom(s, buf, len, flags, nullptr, nullptr);
}

extern "C" int wsadup_recvfrom(SOCKET s, char* buf, int len, int flags,
                               struct sockaddr* from, int* fromlen) {
  if (len < 0) return fail(WSAEFAULT);
  WSABUF buffer{static_cast<ULONG>(len), buf};
  DWORD received = 0;
  DWORD in_out_flags = static_cast<DWORD>(flags);
  int status = receive(s, &buffer, 1, &received, &in_out_flags, from, fromlen,
                       nullptr, nullptr);
  return status == 0 ? static_cast<int>(received) : SOCKET_ERROR;
}

extern "C" int wsadup_send(SOCKET s, const char* buf, int len, int flags) {
  return wsadup_sendto(s, buf, len, flags, nullptr, 0);
}

extern "C" int wsadup_sendto(SOCKET s, const char* buf, int len, int flags,
                             const struct sockaddr* to, int tolen) {
  if (len < 0) return fail(WSAEFAULT);
  WSABUF buffer{static_cast<ULONG>(len), const_cast<char*>(buf)};
  DWORD sent = 0;
  int status = send_vectors(s, &buffer, 1, &sent, static_cast<DWORD>(flags),
                            to, tolen, nullptr, nullptr);
  return status == 0 ? static_cast<int>(sent) : SOCKET_ERROR;
}
