// WSAConnect, WSAAccept with its condition function, and the Windows forms
// of accept, getsockname and getpeername (int* lengths; a short buffer is
// WSAEFAULT, where the system would truncate).
//
// An accepted connection takes the listener's non-blocking mode, as on
// Windows.
//
// The kernel has accepted a connection before any condition function can
// see it, so WSAAccept accepts first and asks after: CF_REJECT resets the
// connection, and CF_DEFER keeps it here, to be offered again by the next
// WSAAccept (or accept) on the same listener, as Windows offers a deferred
// connection again.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/socket_calls.h"
#include "wsadup/windows_forms.h"

namespace wsadup::detail {
namespace {

std::mutex g_deferred_mutex;
// listener -> the connection its condition deferred; guarded by the mutex.
std::unordered_map<int, int>* g_deferred = nullptr;
// Whether g_deferred may hold anything: accept's fast path reads only this.
std::atomic<bool> g_any_deferred{false};

void defer(int listener, int connection) {
  std::lock_guard<std::mutex> lock(g_deferred_mutex);
  if (g_deferred == nullptr) g_deferred = new std::unordered_map<int, int>();
  auto [entry, inserted] = g_deferred->emplace(listener, connection);
  if (!inserted) {
    close(entry->second);  // one deferred connection per listener is kept
    entry->second = connection;
  }
  g_any_deferred.store(true, std::memory_order_release);
}

// Resets a connection: an RST instead of a FIN, as a refused one gets.
void reset_connection(int connection) {
  struct linger abort_on_close {};
  abort_on_close.l_onoff = 1;
  abort_on_close.l_linger = 0;
  setsockopt(connection, SOL_SOCKET, SO_LINGER, &abort_on_close,
             sizeof(abort_on_close));
  close(connection);
}

bool address_of(int s, bool peer, sockaddr_storage* address,
                socklen_t* length) {
  *length = sizeof(*address);
  sockaddr* out = reinterpret_cast<sockaddr*>(address);
  return (peer ? getpeername(s, out, length) : getsockname(s, out, length)) ==
         0;
}

// Accepts one connection (a deferred one first). Returns it, or -1 with the
// last error set.
int accept_one(SOCKET s, sockaddr_storage* peer, socklen_t* peer_length) {
  int connection = take_deferred_connection(s);
  if (connection >= 0) {
    if (!address_of(connection, true, peer, peer_length)) *peer_length = 0;
    return connection;
  }
  // Windows: the accepted socket has the listener's properties, its
  // non-blocking mode included; Linux's accept starts it blocking.
  int listener_flags = fcntl(s, F_GETFL);
  int flags = listener_flags >= 0 && (listener_flags & O_NONBLOCK) != 0
                  ? SOCK_NONBLOCK
                  : 0;
  *peer_length = sizeof(*peer);
  connection =
      accept4(s, reinterpret_cast<sockaddr*>(peer), peer_length, flags);
  if (connection < 0) fail_errno(errno);
  return connection;
}

// True for an IPv4 or IPv6 address with port 0: a socket not bound yet.
bool unbound(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(address).sin_port == 0;
  }
  if (address.ss_family == AF_INET6) {
    return reinterpret_cast<const sockaddr_in6&>(address).sin6_port == 0;
  }
  return false;
}

int names(SOCKET s, bool peer, sockaddr* name, int* length) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (name == nullptr || length == nullptr) return fail(WSAEFAULT);
  sockaddr_storage address{};
  socklen_t address_length = 0;
  if (!address_of(s, peer, &address, &address_length)) {
    return fail_errno(errno);
  }
  // Windows: getsockname of a socket that is not bound is WSAEINVAL.
  if (!peer && unbound(address)) return fail(WSAEINVAL);
  return copy_address_out(address, address_length, name, length);
}

}  // namespace

int take_deferred_connection(int listener) {
  if (!g_any_deferred.load(std::memory_order_acquire)) return -1;
  std::lock_guard<std::mutex> lock(g_deferred_mutex);
  if (g_deferred == nullptr) return -1;
  auto entry = g_deferred->find(listener);
  if (entry == g_deferred->end()) return -1;
  int connection = entry->second;
  g_deferred->erase(entry);
  if (g_deferred->empty()) {
    g_any_deferred.store(false, std::memory_order_release);
  }
  return connection;
}

bool has_deferred_connection(int listener) {
  if (!g_any_deferred.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(g_deferred_mutex);
  return g_deferred != nullptr && g_deferred->count(listener) != 0;
}

void forget_deferred_connection(int listener) {
  int connection = take_deferred_connection(listener);
  if (connection >= 0) reset_connection(connection);
}

void close_deferred_connections() {
  std::lock_guard<std::mutex> lock(g_deferred_mutex);
  if (g_deferred == nullptr) return;
  for (const auto& [listener, connection] : *g_deferred) {
    reset_connection(connection);
  }
  g_deferred->clear();
  g_any_deferred.store(false, std::memory_order_release);
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int WSAConnect(SOCKET s, const struct sockaddr* name, int namelen,
                          LPWSABUF lpCallerData, LPWSABUF lpCalleeData,
                          LPQOS lpSQOS, LPQOS lpGQOS) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (!is_socket(s)) return fail(WSAENOTSOCK);
  if (name == nullptr || namelen < address_size_of(s)) return fail(WSAEFAULT);
  // TCP and UDP carry no connect data and wsadup negotiates no QoS.
  if (lpCallerData != nullptr && lpCallerData->len != 0) {
    return fail(WSAEPROTONOSUPPORT);
  }
  if (lpSQOS != nullptr || lpGQOS != nullptr) return fail(WSAEOPNOTSUPP);
  if (lpCalleeData != nullptr) lpCalleeData->len = 0;
  if (connect(s, name, static_cast<socklen_t>(namelen)) != 0) {
    return fail_errno(errno);  // EINPROGRESS: WSAEWOULDBLOCK, as Windows
  }
  return 0;
}

extern "C" SOCKET WSAAccept(SOCKET s, struct sockaddr* addr, LPINT addrlen,
                            LPCONDITIONPROC lpfnCondition,
                            DWORD_PTR dwCallbackData) {
  if (!is_initialised()) return fail(WSANOTINITIALISED);
  if (addr != nullptr && addrlen == nullptr) return fail(WSAEFAULT);
  if (addr != nullptr && *addrlen < address_size_of(s)) {
    return fail(is_socket(s) ? WSAEFAULT : WSAENOTSOCK);
  }
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  int connection = accept_one(s, &peer, &peer_length);
  if (connection < 0) {
    reenable_after_accept(s, -1);  // even a failed accept re-enables
    return INVALID_SOCKET;
  }
  if (lpfnCondition != nullptr) {
    sockaddr_storage local{};
    socklen_t local_length = 0;
    if (!address_of(connection, false, &local, &local_length)) {
      local_length = 0;
    }
    WSABUF caller_id{static_cast<ULONG>(peer_length),
                     reinterpret_cast<char*>(&peer)};
    WSABUF callee_id{static_cast<ULONG>(local_length),
                     reinterpret_cast<char*>(&local)};
    GROUP group = 0;
    int verdict = lpfnCondition(&caller_id, nullptr, nullptr, nullptr,
                                &callee_id, nullptr, &group, dwCallbackData);
    if (verdict == CF_REJECT) {
      reset_connection(connection);
      reenable_after_accept(s, -1);
      return fail(WSAECONNREFUSED);
    }
    if (verdict != CF_ACCEPT) {
      // CF_DEFER, or an answer that is none of the three (WSAEINVAL): the
      // connection waits for the next WSAAccept, nothing is lost.
      defer(s, connection);
      return fail(verdict == CF_DEFER ? WSATRY_AGAIN : WSAEINVAL);
    }
  }
  if (addr != nullptr &&
      copy_address_out(peer, peer_length, addr, addrlen) != 0) {
    reset_connection(connection);
    reenable_after_accept(s, -1);
    return INVALID_SOCKET;
  }
  // FD_ACCEPT again if more wait; the new socket takes the listener's
  // registration (WSATRY_AGAIN above re-enables nothing, as Windows).
  reenable_after_accept(s, connection);
  return connection;
}

extern "C" SOCKET wsadup_accept(SOCKET s, struct sockaddr* addr,
                                int* addrlen) {
  return WSAAccept(s, addr, addrlen, nullptr, 0);
}

extern "C" int wsadup_getsockname(SOCKET s, struct sockaddr* name,
                                  int* namelen) {
  return names(s, false, name, namelen);
}

extern "C" int wsadup_getpeername(SOCKET s, struct sockaddr* name,
                                  int* namelen) {
  return names(s, true, name, namelen);
}
