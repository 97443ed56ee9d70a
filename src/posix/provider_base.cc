// wsadup's engine as the base provider: the WSPStartup and the 30-entry
// table a layered provider reaches when it loads the base entries' path, and
// the shared object that path names.
//
// A layer written as Windows layers are finds the next provider's path with
// WSCGetProviderPath, loads it and calls its WSPStartup. The engine is
// linked into the program, usually from the static library, where its
// symbols are not exported and cannot be reached by dlsym. So the library
// carries a tiny shared object (provider_base_module.c, built and embedded
// at build time) whose only code is a WSPStartup that forwards to a pointer.
// The first time the path is asked for, it is written once into the user's
// private rendezvous directory, loaded by the engine, and bound to
// base_wsp_startup. dlopen of the same path by a layer then returns that
// same loaded object (the dynamic linker matches it by name), so its
// WSPStartup reaches this process's engine; no linker flag is needed.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "errno_table.h"
#include "posix/provider.h"
#include "posix/provider_base_module.h"

namespace wsadup::detail {

extern const unsigned char kBaseProviderImage[];
extern const size_t kBaseProviderImageSize;

namespace {

std::mutex g_observations_mutex;
BaseObservations g_observations;

thread_local const ImportContext* t_import_context = nullptr;
struct DuplicateRecord {
  bool valid = false;
  DWORD key = 0;
  TokenRecord record;
};
thread_local DuplicateRecord t_duplicate_record;

int set_error(LPINT lpErrno, int error) {
  if (lpErrno != nullptr) *lpErrno = error;
  return SOCKET_ERROR;
}

int errno_error(LPINT lpErrno) {
  return set_error(lpErrno, translate_errno(errno));
}

// wsadup's own calls report through the last error.
int last_error(LPINT lpErrno) { return set_error(lpErrno, WSAGetLastError()); }

int choose(int requested, int from_info) {
  return requested == FROM_PROTOCOL_INFO || requested == 0 ? from_info
                                                           : requested;
}

SOCKET WSPAPI base_socket(int af, int type, int protocol,
                          LPWSAPROTOCOL_INFOW info, GROUP group, DWORD flags,
                          LPINT lpErrno) {
  try {
    {
      std::lock_guard<std::mutex> lock(g_observations_mutex);
      ++g_observations.sockets;
      g_observations.socket_had_info = info != nullptr;
      if (info != nullptr) g_observations.socket_info = *info;
    }
    SOCKET s = INVALID_SOCKET;
    int error = 0;
    if (info != nullptr && info->dwProviderReserved != 0) {
      // A duplicate: recognised by dwProviderReserved alone, since a layer
      // may have replaced every other field of the structure it was given.
      const ImportContext* context = t_import_context;
      if (context == nullptr || context->key != info->dwProviderReserved ||
          group != 0) {
        error = WSAEINVAL;
      } else {
        error = engine_import_socket(context->record, flags, &s);
      }
    } else if (info != nullptr) {
      error = engine_create_socket(choose(af, info->iAddressFamily),
                                   choose(type, info->iSocketType),
                                   choose(protocol, info->iProtocol), flags,
                                   &s);
    } else {
      error = engine_create_socket(af, type, protocol, flags, &s);
    }
    if (error != 0) {
      set_error(lpErrno, error);
      return INVALID_SOCKET;
    }
    return s;
  } catch (...) {
    set_error(lpErrno, WSAENOBUFS);
    return INVALID_SOCKET;
  }
}

int WSPAPI base_duplicate(SOCKET s, DWORD pid, LPWSAPROTOCOL_INFOW info,
                          LPINT lpErrno) {
  try {
    {
      std::lock_guard<std::mutex> lock(g_observations_mutex);
      ++g_observations.duplicates;
    }
    TokenRecord record;
    int error = engine_duplicate_socket(s, pid, info, &record);
    if (error != 0) return set_error(lpErrno, error);
    t_duplicate_record.valid = true;
    t_duplicate_record.key = info->dwProviderReserved;
    t_duplicate_record.record = record;
    return 0;
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

int WSPAPI base_close(SOCKET s, LPINT lpErrno) {
  {
    std::lock_guard<std::mutex> lock(g_observations_mutex);
    ++g_observations.closes;
  }
  int error = engine_close_socket(s);
  return error == 0 ? 0 : set_error(lpErrno, error);
}

int WSPAPI base_cleanup(LPINT) {
  std::lock_guard<std::mutex> lock(g_observations_mutex);
  ++g_observations.cleanups;
  return 0;
}

SOCKET WSPAPI base_accept(SOCKET s, struct sockaddr* address, LPINT length,
                          LPCONDITIONPROC condition, DWORD_PTR data,
                          LPINT lpErrno) {
  SOCKET accepted = WSAAccept(s, address, length, condition, data);
  if (accepted == INVALID_SOCKET) last_error(lpErrno);
  return accepted;
}

int WSPAPI base_bind(SOCKET s, const struct sockaddr* name, int length,
                     LPINT lpErrno) {
  return bind(s, name, static_cast<socklen_t>(length)) == 0
             ? 0
             : errno_error(lpErrno);
}

int WSPAPI base_connect(SOCKET s, const struct sockaddr* name, int length,
                        LPWSABUF caller_data, LPWSABUF callee_data,
                        LPQOS sqos, LPQOS gqos, LPINT lpErrno) {
  return WSAConnect(s, name, length, caller_data, callee_data, sqos, gqos) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_listen(SOCKET s, int backlog, LPINT lpErrno) {
  return listen(s, backlog) == 0 ? 0 : errno_error(lpErrno);
}

int WSPAPI base_get_peer_name(SOCKET s, struct sockaddr* name, LPINT length,
                              LPINT lpErrno) {
  if (length == nullptr) return set_error(lpErrno, WSAEFAULT);
  socklen_t size = static_cast<socklen_t>(*length);
  if (getpeername(s, name, &size) != 0) return errno_error(lpErrno);
  *length = static_cast<int>(size);
  return 0;
}

int WSPAPI base_get_sock_name(SOCKET s, struct sockaddr* name, LPINT length,
                              LPINT lpErrno) {
  if (length == nullptr) return set_error(lpErrno, WSAEFAULT);
  socklen_t size = static_cast<socklen_t>(*length);
  if (getsockname(s, name, &size) != 0) return errno_error(lpErrno);
  *length = static_cast<int>(size);
  return 0;
}

int WSPAPI base_get_sock_opt(SOCKET s, int level, int name, char* value,
                             LPINT length, LPINT lpErrno) {
  if (length == nullptr) return set_error(lpErrno, WSAEFAULT);
  socklen_t size = static_cast<socklen_t>(*length);
  if (getsockopt(s, level, name, value, &size) != 0) return errno_error(lpErrno);
  *length = static_cast<int>(size);
  return 0;
}

int WSPAPI base_set_sock_opt(SOCKET s, int level, int name, const char* value,
                             int length, LPINT lpErrno) {
  return setsockopt(s, level, name, value, static_cast<socklen_t>(length)) == 0
             ? 0
             : errno_error(lpErrno);
}

int WSPAPI base_shutdown(SOCKET s, int how, LPINT lpErrno) {
  return shutdown(s, how) == 0 ? 0 : errno_error(lpErrno);
}

int WSPAPI base_ioctl(SOCKET s, DWORD code, LPVOID in, DWORD in_size,
                      LPVOID out, DWORD out_size, LPDWORD returned,
                      LPWSAOVERLAPPED overlapped,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                      LPWSATHREADID, LPINT lpErrno) {
  return WSAIoctl(s, code, in, in_size, out, out_size, returned, overlapped,
                  routine) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_recv(SOCKET s, LPWSABUF buffers, DWORD count,
                     LPDWORD received, LPDWORD flags,
                     LPWSAOVERLAPPED overlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                     LPWSATHREADID, LPINT lpErrno) {
  return WSARecv(s, buffers, count, received, flags, overlapped, routine) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_recv_from(SOCKET s, LPWSABUF buffers, DWORD count,
                          LPDWORD received, LPDWORD flags,
                          struct sockaddr* from, LPINT from_length,
                          LPWSAOVERLAPPED overlapped,
                          LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                          LPWSATHREADID, LPINT lpErrno) {
  return WSARecvFrom(s, buffers, count, received, flags, from, from_length,
                     overlapped, routine) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_send(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent,
                     DWORD flags, LPWSAOVERLAPPED overlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                     LPWSATHREADID, LPINT lpErrno) {
  return WSASend(s, buffers, count, sent, flags, overlapped, routine) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_send_to(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent,
                        DWORD flags, const struct sockaddr* to, int to_length,
                        LPWSAOVERLAPPED overlapped,
                        LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                        LPWSATHREADID, LPINT lpErrno) {
  return WSASendTo(s, buffers, count, sent, flags, to, to_length, overlapped,
                   routine) == 0
             ? 0
             : last_error(lpErrno);
}

int WSPAPI base_select(int nfds, fd_set* readable, fd_set* writable,
                       fd_set* exceptional, const struct timeval* timeout,
                       LPINT lpErrno) {
  timeval copy{};
  if (timeout != nullptr) copy = *timeout;
  int ready = select(nfds, readable, writable, exceptional,
                     timeout != nullptr ? &copy : nullptr);
  return ready < 0 ? errno_error(lpErrno) : ready;
}

// The engine's own work, not the exported calls: those route a layered
// socket to its owner, whose chain ends here.
int WSPAPI base_event_select(SOCKET s, WSAEVENT event, long events,
                             LPINT lpErrno) {
  try {
    {
      std::lock_guard<std::mutex> lock(g_observations_mutex);
      ++g_observations.event_selects;
    }
    int error = engine_event_select(s, event, events);
    return error == 0 ? 0 : set_error(lpErrno, error);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

int WSPAPI base_enum_network_events(SOCKET s, WSAEVENT event,
                                    LPWSANETWORKEVENTS events, LPINT lpErrno) {
  try {
    {
      std::lock_guard<std::mutex> lock(g_observations_mutex);
      ++g_observations.enum_network_events;
    }
    int error = engine_enum_network_events(s, event, events);
    return error == 0 ? 0 : set_error(lpErrno, error);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

// The address conversions are address_string.cc's; the base records the
// entry it was given (a layer passes the base's own).
void observe_conversion(const WSAPROTOCOL_INFOW* info) {
  std::lock_guard<std::mutex> lock(g_observations_mutex);
  ++g_observations.conversions;
  g_observations.conversion_had_info = info != nullptr;
  if (info != nullptr) g_observations.conversion_info = *info;
}

int WSPAPI base_address_to_string(LPSOCKADDR address, DWORD length,
                                  LPWSAPROTOCOL_INFOW info, LPWSTR text,
                                  LPDWORD text_length, LPINT lpErrno) {
  try {
    observe_conversion(info);
    int error = engine_address_to_string_w(address, length, text, text_length);
    return error == 0 ? 0 : set_error(lpErrno, error);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

int WSPAPI base_string_to_address(LPWSTR text, INT family,
                                  LPWSAPROTOCOL_INFOW info, LPSOCKADDR address,
                                  LPINT length, LPINT lpErrno) {
  try {
    observe_conversion(info);
    int error = engine_string_to_address_w(text, family, address, length);
    return error == 0 ? 0 : set_error(lpErrno, error);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

// What POSIX has no counterpart for: window messages, blocking hooks,
// overlapped results, QOS, multipoint and disconnect data.
int WSPAPI base_async_select(SOCKET, HWND, unsigned int, long, LPINT lpErrno) {
  return set_error(lpErrno, WSAEOPNOTSUPP);
}
int WSPAPI base_cancel_blocking_call(LPINT lpErrno) {
  return set_error(lpErrno, WSAEOPNOTSUPP);
}
WINBOOL WSPAPI base_get_overlapped_result(SOCKET, LPWSAOVERLAPPED, LPDWORD,
                                          WINBOOL, LPDWORD, LPINT lpErrno) {
  set_error(lpErrno, WSAEOPNOTSUPP);
  return 0;
}
WINBOOL WSPAPI base_get_qos_by_name(SOCKET, LPWSABUF, LPQOS, LPINT lpErrno) {
  set_error(lpErrno, WSAEOPNOTSUPP);
  return 0;
}
SOCKET WSPAPI base_join_leaf(SOCKET, const struct sockaddr*, int, LPWSABUF,
                             LPWSABUF, LPQOS, LPQOS, DWORD, LPINT lpErrno) {
  set_error(lpErrno, WSAEOPNOTSUPP);
  return INVALID_SOCKET;
}
int WSPAPI base_recv_disconnect(SOCKET, LPWSABUF, LPINT lpErrno) {
  return set_error(lpErrno, WSAEOPNOTSUPP);
}
int WSPAPI base_send_disconnect(SOCKET, LPWSABUF, LPINT lpErrno) {
  return set_error(lpErrno, WSAEOPNOTSUPP);
}

const WSPPROC_TABLE kBaseTable = {
    base_accept,          base_address_to_string,
    base_async_select,    base_bind,
    base_cancel_blocking_call, base_cleanup,
    base_close,           base_connect,
    base_duplicate,       base_enum_network_events,
    base_event_select,    base_get_overlapped_result,
    base_get_peer_name,   base_get_sock_name,
    base_get_sock_opt,    base_get_qos_by_name,
    base_ioctl,           base_join_leaf,
    base_listen,          base_recv,
    base_recv_disconnect, base_recv_from,
    base_select,          base_send,
    base_send_disconnect, base_send_to,
    base_set_sock_opt,    base_shutdown,
    base_socket,          base_string_to_address};

// ------------------------------------------------------- the base's path --

std::mutex g_path_mutex;
std::string g_base_path;  // once made, for the life of the process

uint32_t image_hash() {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < kBaseProviderImageSize; ++i) {
    hash ^= kBaseProviderImage[i];
    hash *= 16777619u;
  }
  return hash;
}

bool file_holds_image(const std::string& path) {
  int file = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (file < 0) return false;
  struct stat status;
  bool same = fstat(file, &status) == 0 && S_ISREG(status.st_mode) &&
              status.st_uid == geteuid() &&
              static_cast<size_t>(status.st_size) == kBaseProviderImageSize;
  std::vector<unsigned char> bytes(kBaseProviderImageSize);
  size_t got = 0;
  while (same && got < bytes.size()) {
    ssize_t n = read(file, bytes.data() + got, bytes.size() - got);
    if (n <= 0) {
      same = false;
    } else {
      got += static_cast<size_t>(n);
    }
  }
  close(file);
  return same &&
         std::memcmp(bytes.data(), kBaseProviderImage, bytes.size()) == 0;
}

bool write_image(const std::string& path) {
  std::string temporary = path + "." + std::to_string(current_pid());
  int file = open(temporary.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
  if (file < 0) return false;
  size_t written = 0;
  bool ok = true;
  while (ok && written < kBaseProviderImageSize) {
    ssize_t n = write(file, kBaseProviderImage + written,
                      kBaseProviderImageSize - written);
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = close(file) == 0 && ok;
  // rename is atomic: a process loading the path meanwhile sees the old
  // file or the whole new one.
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

int base_wsp_startup(WORD requested, LPWSPDATA data,
                     LPWSAPROTOCOL_INFOW protocol_info, WSPUPCALLTABLE,
                     LPWSPPROC_TABLE table) {
  if (data == nullptr || table == nullptr) return WSAEFAULT;
  // Version 2.2 only, as the catalog asks; lower requests are refused.
  if (LOBYTE(requested) < 2 ||
      (LOBYTE(requested) == 2 && HIBYTE(requested) < 2)) {
    return WSAVERNOTSUPPORTED;
  }
  std::memset(data, 0, sizeof(*data));
  data->wVersion = MAKEWORD(2, 2);
  data->wHighVersion = MAKEWORD(2, 2);
  const char description[] = "wsadup base provider";
  for (size_t i = 0; i + 1 < sizeof(description); ++i) {
    data->szDescription[i] = static_cast<WCHAR>(description[i]);
  }
  *table = kBaseTable;
  std::lock_guard<std::mutex> lock(g_observations_mutex);
  ++g_observations.startups;
  if (protocol_info != nullptr) g_observations.startup_info = *protocol_info;
  return 0;
}

std::string base_provider_path() {
  std::lock_guard<std::mutex> lock(g_path_mutex);
  if (!g_base_path.empty()) return g_base_path;
  std::string directory;
  if (own_rendezvous_directory(&directory) != 0) return std::string();
  char name[64];
  std::snprintf(name, sizeof(name), "/base-provider-%08x.so", image_hash());
  std::string path = directory + name;
  if (!file_holds_image(path) && !write_image(path)) return std::string();
  // Global, so that the catalog calls a layer imports by name resolve to
  // the module's forwarders.
  void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (module == nullptr) return std::string();
  using Bind = void (*)(const wsadup_base_module_binding*);
  auto bind_engine =
      reinterpret_cast<Bind>(dlsym(module, "wsadup_base_provider_bind"));
  if (bind_engine == nullptr) return std::string();
  wsadup_base_module_binding binding{};
  binding.base_startup = base_wsp_startup;
  binding.enum_protocols = WSCEnumProtocols;
  binding.get_provider_path = WSCGetProviderPath;
  binding.install_provider = WSCInstallProvider;
  binding.deinstall_provider = WSCDeinstallProvider;
  binding.upcalls = upcall_table();
  bind_engine(&binding);
  // The module stays loaded for the life of the process.
  g_base_path = path;
  return g_base_path;
}

BaseObservations base_observations() {
  std::lock_guard<std::mutex> lock(g_observations_mutex);
  return g_observations;
}

void set_import_context(const ImportContext* context) {
  t_import_context = context;
}

void clear_duplicate_record() { t_duplicate_record.valid = false; }

bool take_duplicate_record(DWORD key, TokenRecord* record) {
  if (!t_duplicate_record.valid || t_duplicate_record.key != key) return false;
  t_duplicate_record.valid = false;
  *record = t_duplicate_record.record;
  return true;
}

}  // namespace wsadup::detail
