// The exported Winsock functions of the POSIX backend for the handoff itself:
// WSAStartup, WSACleanup, WSASocket, WSADuplicateSocket, closesocket. Each
// one checks its arguments in the order Windows does, sets the thread's last
// error (last_error.h), leaves errno alone when it succeeds, and catches
// everything: nothing throws across the C boundary.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errno_table.h"
#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/provider.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {
namespace {

// Applies the inheritance the caller asked for. Descriptors are
// close-on-exec from birth; only an explicit request clears it.
bool wants_inheritance(DWORD flags) {
  return (flags & WSADUP_FLAG_HANDLE_INHERIT) != 0 &&
         (flags & WSA_FLAG_NO_HANDLE_INHERIT) == 0;
}

SOCKET create_socket(int af, int type, int protocol, DWORD flags) {
  SOCKET s = INVALID_SOCKET;
  int error = engine_create_socket(af, type, protocol, flags, &s);
  if (error != 0) {
    fail(error);
    return INVALID_SOCKET;
  }
  return s;
}

template <typename Info>
SOCKET import_socket(int af, int type, int protocol, const Info* info,
                     GROUP group, DWORD flags) {
  TokenRecord record;
  if (group != 0 || decode_token(*info, &record) != 0 ||
      !matches_token(af, record.address_family) ||
      !matches_token(type, record.socket_type) ||
      !matches_token(protocol, record.protocol) ||
      record.target_pid != static_cast<uint32_t>(current_pid()) ||
      !is_builtin_entry(info->dwCatalogEntryId)) {
    // A token for another process is refused here without touching it, so
    // the rightful target can still import it. So is one that names a
    // layered entry this process has not installed.
    fail(WSAEINVAL);
    return INVALID_SOCKET;
  }
  SOCKET s = INVALID_SOCKET;
  int error = engine_import_socket(record, flags, &s);
  if (error != 0) {
    fail(error);
    return INVALID_SOCKET;
  }
  return s;
}

// Through the catalog, once a provider is installed: A callers' structures
// are widened, as ws2_32's A entry points do.
SOCKET routed_socket(int af, int type, int protocol,
                     const WSAPROTOCOL_INFOW* info, GROUP group, DWORD flags,
                     bool* handled) {
  SOCKET s = INVALID_SOCKET;
  int error = 0;
  *handled = route_socket(af, type, protocol, info, group, flags, &s, &error);
  if (*handled && s == INVALID_SOCKET) fail(error);
  return s;
}
SOCKET routed_socket(int af, int type, int protocol,
                     const WSAPROTOCOL_INFOA* info, GROUP group, DWORD flags,
                     bool* handled) {
  if (info == nullptr) {
    return routed_socket(af, type, protocol,
                         static_cast<const WSAPROTOCOL_INFOW*>(nullptr), group,
                         flags, handled);
  }
  WSAPROTOCOL_INFOW wide;
  widen_info(*info, &wide);
  return routed_socket(af, type, protocol, &wide, group, flags, handled);
}

}  // namespace

int engine_create_socket(int af, int type, int protocol, DWORD flags,
                         SOCKET* created) {
  if (af == FROM_PROTOCOL_INFO || type == FROM_PROTOCOL_INFO ||
      protocol == FROM_PROTOCOL_INFO) {
    return WSAEINVAL;  // FROM_PROTOCOL_INFO needs lpProtocolInfo
  }
  int cloexec = wants_inheritance(flags) ? 0 : SOCK_CLOEXEC;
  int s = socket(af, type | cloexec, protocol);
  if (s < 0) return translate_errno(errno);
  track_descriptor(s);
  *created = s;
  return 0;
}

int engine_import_socket(const TokenRecord& record, DWORD flags,
                         SOCKET* imported) {
  int s = -1;
  int error = 0;
  if (record.kind == TokenKind::kPush) {
    std::shared_ptr<Agent> agent = process_agent(false, &error);
    error = WSAEINVAL;
    if (agent) {
      s = agent->take_pushed(record.nonce,
                             static_cast<pid_t>(record.source_pid), &error);
    }
    // Not in the inbox nor in a mailbox: already imported (a token works
    // once), forged, or dropped by a WSACleanup since. An acknowledged push
    // was stored before the source had its token, and a posted one queued,
    // so it cannot still be on its way. WSAEMFILE: it was posted and this
    // process had no descriptor free to receive it.
  } else {
    s = pull_descriptor(static_cast<pid_t>(record.source_pid), record.nonce,
                        &error);
  }
  if (s < 0) return error;
  if (wants_inheritance(flags)) {
    fcntl(s, F_SETFD, fcntl(s, F_GETFD) & ~FD_CLOEXEC);
  }
  track_descriptor(s);
  *imported = s;
  return 0;
}

namespace {

template <typename Info>
SOCKET wsa_socket(int af, int type, int protocol, Info* info, GROUP group,
                  DWORD flags) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) {
      fail(WSANOTINITIALISED);
      return INVALID_SOCKET;
    }
    if (layers_installed()) {
      bool handled = false;
      SOCKET s = routed_socket(af, type, protocol, info, group, flags, &handled);
      if (handled) return s;
    }
    if (info == nullptr) return create_socket(af, type, protocol, flags);
    return import_socket(af, type, protocol, info, group, flags);
  } catch (...) {
    fail(WSAENOBUFS);
    return INVALID_SOCKET;
  }
}

// The duplicate itself, for either structure. Returns 0 or a Winsock code.
template <typename Info>
int duplicate_into(SOCKET s, DWORD pid, Info* info, TokenRecord* made) {
  TokenRecord record;
  if (!socket_kind(s, &record.address_family, &record.socket_type,
                   &record.protocol)) {
    return WSAENOTSOCK;
  }
  if (!plausible_pid(pid)) return WSAEINVAL;
  if (info == nullptr) {
    return process_reachable(static_cast<pid_t>(pid)) ? WSAEFAULT : WSAEINVAL;
  }
  record.source_pid = static_cast<uint32_t>(current_pid());
  record.target_pid = pid;
  int status = make_nonce(&record.nonce);
  if (status != 0) return status;

  // push_descriptor checks that pid is a process this user may reach,
  // unless a connection to its agent is already open.
  bool no_agent = false;
  status = push_descriptor(static_cast<pid_t>(pid), s, record.nonce,
                           &no_agent);
  if (status != 0) return status;
  if (no_agent) {
    // The target has not called WSAStartup: keep a reference here, and
    // let the token tell the target where to fetch it.
    std::shared_ptr<Agent> agent = process_agent(true, &status);
    if (!agent) return status;
    status = agent->add_pending(s, static_cast<pid_t>(pid), record.nonce);
    if (status != 0) return status;
    record.kind = TokenKind::kPull;
  } else {
    record.kind = TokenKind::kPush;
  }
  encode_token(record, info);
  if (made != nullptr) *made = record;
  return 0;
}

// Through the socket's owner entry, once a provider is installed. false:
// the base owns s.
bool routed_duplicate(SOCKET s, DWORD pid, WSAPROTOCOL_INFOW* info,
                      int* error) {
  return route_duplicate(s, pid, info, error);
}
bool routed_duplicate(SOCKET s, DWORD pid, WSAPROTOCOL_INFOA* info,
                      int* error) {
  if (info == nullptr) return route_duplicate(s, pid, nullptr, error);
  WSAPROTOCOL_INFOW wide;
  bool handled = route_duplicate(s, pid, &wide, error);
  if (handled && *error == 0) narrow_info(wide, info);
  return handled;
}

template <typename Info>
int duplicate_socket(SOCKET s, DWORD pid, Info* info) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (layers_installed()) {
      int error = 0;
      if (routed_duplicate(s, pid, info, &error)) {
        return error == 0 ? 0 : fail(error);
      }
    }
    int status = duplicate_into(s, pid, info, nullptr);
    return status == 0 ? 0 : fail(status);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

}  // namespace

int engine_duplicate_socket(SOCKET s, DWORD pid, WSAPROTOCOL_INFOW* info,
                            TokenRecord* record) {
  return duplicate_into(s, pid, info, record);
}

int engine_close_socket(SOCKET s) {
  struct stat status;
  if (fstat(s, &status) != 0 || !S_ISSOCK(status.st_mode)) return WSAENOTSOCK;
  untrack_descriptor(s);
  forget_deferred_connection(s);
  // POSIX close releases the descriptor even when it reports EINTR; the
  // socket itself lives on while other descriptors refer to it.
  close(s);
  return 0;
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData) {
  ErrnoScope errno_scope;
  try {
    BYTE major = LOBYTE(wVersionRequested);
    BYTE minor = HIBYTE(wVersionRequested);
    if (lpWSAData != nullptr) {
      std::memset(lpWSAData, 0, sizeof(*lpWSAData));
      // The highest version not above the one asked for; 2.2 at most.
      if (major == 0 || major > 2 || (major == 2 && minor > 2)) {
        lpWSAData->wVersion = MAKEWORD(2, 2);
      } else if (major == 1 && minor > 1) {
        lpWSAData->wVersion = MAKEWORD(1, 1);
      } else {
        lpWSAData->wVersion = wVersionRequested;
      }
      lpWSAData->wHighVersion = MAKEWORD(2, 2);
      std::strcpy(lpWSAData->szDescription, "WinSock 2.0 (wsadup)");
      std::strcpy(lpWSAData->szSystemStatus, "Running");
      // Meaningful for Winsock 1.x callers only, as on Windows.
      lpWSAData->iMaxSockets = major == 1 ? 32767 : 0;
      lpWSAData->iMaxUdpDg = major == 1 ? 65467 : 0;
    }
    // WSAStartup returns its error; WSAGetLastError is not set by it.
    if (major == 0) return WSAVERNOTSUPPORTED;
    if (lpWSAData == nullptr) return WSAEFAULT;
    return startup();
  } catch (...) {
    return WSAENOBUFS;
  }
}

extern "C" int WSACleanup(void) {
  ErrnoScope errno_scope;
  try {
    int status = cleanup();
    return status == 0 ? 0 : fail(status);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" int wsadup_set_option(int option, int value) {
  if (value != 0 && value != 1) return fail(WSAEINVAL);
  switch (option) {
    case WSADUP_OPTION_POSTED_PUSH:
      set_posted_push(value == 1);
      return 0;
    case WSADUP_OPTION_IGNORE_SIGPIPE:
      set_ignore_sigpipe(value == 1);
      return 0;
    default:
      return fail(WSAEINVAL);
  }
}

extern "C" SOCKET WSASocketA(int af, int type, int protocol,
                             LPWSAPROTOCOL_INFOA lpProtocolInfo, GROUP g,
                             DWORD dwFlags) {
  return wsa_socket(af, type, protocol, lpProtocolInfo, g, dwFlags);
}

extern "C" SOCKET WSASocketW(int af, int type, int protocol,
                             LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g,
                             DWORD dwFlags) {
  return wsa_socket(af, type, protocol, lpProtocolInfo, g, dwFlags);
}

extern "C" int WSADuplicateSocketA(SOCKET s, DWORD dwProcessId,
                                   LPWSAPROTOCOL_INFOA lpProtocolInfo) {
  return duplicate_socket(s, dwProcessId, lpProtocolInfo);
}

extern "C" int WSADuplicateSocketW(SOCKET s, DWORD dwProcessId,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo) {
  return duplicate_socket(s, dwProcessId, lpProtocolInfo);
}

extern "C" int closesocket(SOCKET s) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    struct stat status;
    if (fstat(s, &status) != 0 || !S_ISSOCK(status.st_mode)) {
      return fail(WSAENOTSOCK);
    }
    cancel_registration_on_close(s);
    if (layers_installed()) {
      int error = 0;
      if (route_close(s, &error)) return error == 0 ? 0 : fail(error);
    }
    untrack_descriptor(s);
    forget_deferred_connection(s);
    // POSIX close releases the descriptor even when it reports EINTR; the
    // socket itself lives on while other descriptors refer to it.
    close(s);
    return 0;
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}
