// The shared record of WSAEventSelect registrations, as another process of
// the same user may leave it: any bytes in any record (the header's lock is
// left alone, see docs/design.md, "Notification", Trust), mixed with the
// calls that read and change records. Whatever a record holds, no call may
// crash, report an event outside FD_ALL_EVENTS, fail with an error it does
// not document, or leave a descriptor open.
//
// Input: a sequence of [operation][length][length bytes]:
//   operation & 7 (7 does nothing), with flag bits above:
//     0  scribble: bytes over record (first two bytes) % slots, from byte 2;
//        with operation bit 3 set, over the test socket's record instead
//        (made if missing), which keeps its cookie and state "used", so
//        the calls below meet it
//     1  WSAEventSelect(socket, event, first byte's mask, which may hold
//        bits above FD_ALL_EVENTS)
//     2  WSAEnumNetworkEvents(socket, event or NULL)
//     3  the peer sends a byte, or (bit 3) the socket receives with WSARecv
//     4  WSAWaitForMultipleEvents(event, timeout 0)
//     5  ioctlsocket(FIONBIO, first byte & 1)
//     6  closesocket of a duplicate made with WSADuplicateSocket to self
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "posix/event_registry.h"
#include "posix/internal.h"
#include "wsadup/wsadup.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

namespace {

struct State {
  SOCKET client = INVALID_SOCKET;
  SOCKET server = INVALID_SOCKET;
  uint64_t cookie = 0;
  WSAEVENT event = WSA_INVALID_EVENT;
  wsadup::detail::Registry* registry = nullptr;
  size_t descriptors = 0;
};

bool connected_pair(SOCKET* client, SOCKET* server) {
  SOCKET listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) !=
          0) {
    return false;
  }
  *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*client < 0 ||
      connect(*client, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return false;
  }
  *server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  return *server >= 0;
}

// Sockets, epoll sets and eventfds: what the library opens. Not every
// descriptor: under UndefinedBehaviorSanitizer the runtime opens a pipe of
// its own the first time it checks that memory can be read.
size_t library_descriptors() {
  size_t count = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    char path[64], target[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::strncmp(target, "socket:", 7) == 0 ||
        std::strncmp(target, "anon_inode:", 11) == 0) {
      ++count;
    }
  }
  return count;
}

State& state() {
  static State* made = [] {
    auto* s = new State();
    wsadup_fuzz::use_private_runtime_directory();
    WSADATA data;
    FUZZ_CHECK(WSAStartup(MAKEWORD(2, 2), &data) == 0);
    FUZZ_CHECK(connected_pair(&s->client, &s->server));
    socklen_t length = sizeof s->cookie;
    FUZZ_CHECK(getsockopt(s->server, SOL_SOCKET, SO_COOKIE, &s->cookie,
                          &length) == 0);
    s->event = WSACreateEvent();
    FUZZ_CHECK(s->event != WSA_INVALID_EVENT);
    // The first registration opens the process's watch set and bell, which
    // stay until WSACleanup: counted in the baseline.
    FUZZ_CHECK(WSAEventSelect(s->server, s->event, FD_READ) == 0);
    FUZZ_CHECK(WSAEventSelect(s->server, nullptr, 0) == 0);
    // Likewise the connections a handoff to itself opens and keeps.
    WSAPROTOCOL_INFOA token;
    FUZZ_CHECK(WSADuplicateSocketA(s->server, static_cast<DWORD>(getpid()),
                                   &token) == 0);
    SOCKET copy = WSASocketA(0, 0, 0, &token, 0, 0);
    FUZZ_CHECK(copy != INVALID_SOCKET && closesocket(copy) == 0);
    int error = 0;
    s->registry = wsadup::detail::process_registry(&error);
    FUZZ_CHECK(s->registry != nullptr);
    s->descriptors = library_descriptors();
    return s;
  }();
  return *made;
}

bool documented(int error) {
  return error == WSAEINVAL || error == WSAENOBUFS || error == WSAENETDOWN ||
         error == WSAENOTSOCK || error == WSAEWOULDBLOCK;
}

// Back to nothing registered and nothing queued, before and after an input.
void reset(State& s) {
  WSAEventSelect(s.server, nullptr, 0);
  FUZZ_CHECK(s.registry->lock() == 0);
  for (size_t i = 0; i < s.registry->slot_count(); ++i) {
    std::memset(s.registry->slot(i), 0, sizeof(wsadup::detail::RegistryRecord));
  }
  s.registry->unlock();
  char drain[256];
  while (recv(s.server, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
  WSAResetEvent(s.event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  State& s = state();
  reset(s);
  size_t at = 0;
  for (int steps = 0; steps < 64 && at + 2 <= size; ++steps) {
    uint8_t operation = data[at];
    size_t length = data[at + 1];
    at += 2;
    if (length > size - at) length = size - at;
    const uint8_t* bytes = data + at;
    at += length;
    uint8_t first = length > 0 ? bytes[0] : 0;
    switch (operation & 7) {  // 7: nothing
      case 0: {
        if (length < 2) break;
        size_t index = (static_cast<size_t>(bytes[0]) << 8 | bytes[1]) %
                       s.registry->slot_count();
        FUZZ_CHECK(s.registry->lock() == 0);
        wsadup::detail::RegistryRecord* record = s.registry->slot(index);
        if (operation & 8) {
          // Where a lookup of the test socket lands.
          record = s.registry->find(s.cookie);
          if (record == nullptr) record = s.registry->insert(s.cookie);
        }
        if (record != nullptr) {
          std::memcpy(record, bytes + 2,
                      std::min(length - 2, sizeof *record));
        }
        if (record != nullptr && (operation & 8)) {
          record->cookie = s.cookie;
          record->state = wsadup::detail::kRecordUsed;
        }
        s.registry->unlock();
        break;
      }
      case 1: {
        long mask = static_cast<long>(first) << ((operation >> 3) & 7);
        if (WSAEventSelect(s.server, s.event, mask) != 0) {
          FUZZ_CHECK(documented(WSAGetLastError()));
          FUZZ_CHECK((mask & ~static_cast<long>(FD_ALL_EVENTS)) != 0 ||
                     WSAGetLastError() != WSAEINVAL);
        }
        break;
      }
      case 2: {
        WSANETWORKEVENTS events;
        std::memset(&events, 0xAB, sizeof events);
        WSAEVENT event = (operation & 8) ? s.event : nullptr;
        if (WSAEnumNetworkEvents(s.server, event, &events) == 0) {
          FUZZ_CHECK((events.lNetworkEvents & ~FD_ALL_EVENTS) == 0);
          for (int bit = 0; bit < FD_MAX_EVENTS; ++bit) {
            if ((events.lNetworkEvents & (1 << bit)) == 0) {
              FUZZ_CHECK(events.iErrorCode[bit] ==
                         static_cast<int>(0xABABABAB));
            }
          }
        } else {
          FUZZ_CHECK(documented(WSAGetLastError()));
        }
        break;
      }
      case 3: {
        if (operation & 8) {
          char buffer[8];
          WSABUF wsabuf{sizeof buffer, buffer};
          // Never waits, whatever mode case 5 left the socket in.
          DWORD received = 0, flags = MSG_DONTWAIT;
          if (WSARecv(s.server, &wsabuf, 1, &received, &flags, nullptr,
                      nullptr) != 0) {
            FUZZ_CHECK(documented(WSAGetLastError()));
          }
        } else {
          FUZZ_CHECK(send(s.client, "x", 1, MSG_NOSIGNAL) == 1);
        }
        break;
      }
      case 4: {
        DWORD result = WSAWaitForMultipleEvents(1, &s.event, FALSE, 0, FALSE);
        FUZZ_CHECK(result == WSA_WAIT_EVENT_0 || result == WSA_WAIT_TIMEOUT);
        break;
      }
      case 5: {
        ULONG mode = first & 1;
        if (ioctlsocket(s.server, FIONBIO, &mode) != 0) {
          FUZZ_CHECK(WSAGetLastError() == WSAEINVAL && mode == 0);
        }
        break;
      }
      case 6: {
        WSAPROTOCOL_INFOA token;
        if (WSADuplicateSocketA(s.server, static_cast<DWORD>(getpid()),
                                &token) == 0) {
          SOCKET copy = WSASocketA(0, 0, 0, &token, 0, 0);
          if (copy != INVALID_SOCKET) FUZZ_CHECK(closesocket(copy) == 0);
        }
        break;
      }
    }
  }
  reset(s);
  FUZZ_CHECK(library_descriptors() == s.descriptors);
  return 0;
}
