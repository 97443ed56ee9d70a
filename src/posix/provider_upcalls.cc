// The upcalls a provider makes into the catalog (WSPUPCALLTABLE): which
// entry owns a descriptor, and the context of a non-IFS handle.
//
// An IFS provider's handle is the base socket's descriptor itself;
// WPUModifyIFSHandle only records which entry gets the calls on it. A
// non-IFS handle (WPUCreateSocketHandle) must exist before the provider
// says what it stands for, so it is a placeholder: an unbound Unix-domain
// datagram socket, close-on-exec. It is a socket, so every wsadup call
// accepts it and routes it to its owner, but the system's own send and recv
// on it fail: wsadup does not interpose the data path, which is why IFS
// layers are the model that works here (docs/providers.md).
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

#include "posix/notification.h"
#include "posix/provider.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {
namespace {

struct Owner {
  DWORD catalog_entry_id;
  DWORD_PTR context;
  bool placeholder;
  dev_t device;
  ino_t inode;
};

std::mutex g_owners_mutex;
std::unordered_map<int, Owner> g_owners;

bool identity_of(int descriptor, dev_t* device, ino_t* inode) {
  struct stat status;
  if (fstat(descriptor, &status) != 0 || !S_ISSOCK(status.st_mode)) {
    return false;
  }
  *device = status.st_dev;
  *inode = status.st_ino;
  return true;
}

// The owner record of s, if s is still the descriptor it was made for (a
// number closed with close() and reused names something else).
bool lookup(int s, Owner* owner) {
  dev_t device;
  ino_t inode;
  if (!identity_of(s, &device, &inode)) return false;
  std::lock_guard<std::mutex> lock(g_owners_mutex);
  auto found = g_owners.find(s);
  if (found == g_owners.end()) return false;
  if (found->second.device != device || found->second.inode != inode) {
    g_owners.erase(found);
    return false;
  }
  *owner = found->second;
  return true;
}

int set_error(LPINT lpErrno, int error) {
  if (lpErrno != nullptr) *lpErrno = error;
  return SOCKET_ERROR;
}

}  // namespace

DWORD owner_of(SOCKET s) {
  Owner owner;
  return lookup(s, &owner) ? owner.catalog_entry_id : 0;
}

void forget_owner(SOCKET s) {
  std::lock_guard<std::mutex> lock(g_owners_mutex);
  g_owners.erase(s);
}

void forget_all_owners() {
  std::lock_guard<std::mutex> lock(g_owners_mutex);
  g_owners.clear();
}

const WSPUPCALLTABLE& upcall_table() {
  static const WSPUPCALLTABLE table = {
      WPUCloseEvent,          WPUCloseSocketHandle,
      WPUCreateEvent,         WPUCreateSocketHandle,
      WPUFDIsSet,             WPUGetProviderPath,
      WPUModifyIFSHandle,     WPUPostMessage,
      WPUQueryBlockingCallback, WPUQuerySocketHandleContext,
      WPUQueueApc,            WPUResetEvent,
      WPUSetEvent,            WPUOpenCurrentThread,
      WPUCloseThread};
  return table;
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" SOCKET WPUModifyIFSHandle(DWORD dwCatalogEntryId,
                                     SOCKET ProposedHandle, LPINT lpErrno) {
  try {
    dev_t device;
    ino_t inode;
    WSAPROTOCOL_INFOW entry;
    if (!identity_of(ProposedHandle, &device, &inode) ||
        !find_entry(dwCatalogEntryId, &entry)) {
      set_error(lpErrno, WSAEINVAL);
      return INVALID_SOCKET;
    }
    std::lock_guard<std::mutex> lock(g_owners_mutex);
    if (is_builtin_entry(dwCatalogEntryId)) {
      g_owners.erase(ProposedHandle);
    } else {
      g_owners[ProposedHandle] =
          Owner{dwCatalogEntryId, 0, false, device, inode};
    }
    return ProposedHandle;
  } catch (...) {
    set_error(lpErrno, WSAENOBUFS);
    return INVALID_SOCKET;
  }
}

extern "C" SOCKET WPUCreateSocketHandle(DWORD dwCatalogEntryId,
                                        DWORD_PTR dwContext, LPINT lpErrno) {
  try {
    WSAPROTOCOL_INFOW entry;
    if (!find_entry(dwCatalogEntryId, &entry)) {
      set_error(lpErrno, WSAEINVAL);
      return INVALID_SOCKET;
    }
    int placeholder = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    dev_t device;
    ino_t inode;
    if (placeholder < 0 || !identity_of(placeholder, &device, &inode)) {
      if (placeholder >= 0) close(placeholder);
      set_error(lpErrno, WSAENOBUFS);
      return INVALID_SOCKET;
    }
    // Tracked, so that the last WSACleanup closes it with the sockets.
    track_descriptor(placeholder);
    std::lock_guard<std::mutex> lock(g_owners_mutex);
    g_owners[placeholder] =
        Owner{dwCatalogEntryId, dwContext, true, device, inode};
    return placeholder;
  } catch (...) {
    set_error(lpErrno, WSAENOBUFS);
    return INVALID_SOCKET;
  }
}

extern "C" int WPUQuerySocketHandleContext(SOCKET s, PDWORD_PTR lpContext,
                                           LPINT lpErrno) {
  Owner owner;
  if (!lookup(s, &owner) || !owner.placeholder) {
    return set_error(lpErrno, WSAENOTSOCK);
  }
  if (lpContext == nullptr) return set_error(lpErrno, WSAEFAULT);
  *lpContext = owner.context;
  return 0;
}

extern "C" int WPUCloseSocketHandle(SOCKET s, LPINT lpErrno) {
  Owner owner;
  if (!lookup(s, &owner) || !owner.placeholder) {
    return set_error(lpErrno, WSAENOTSOCK);
  }
  forget_owner(s);
  untrack_descriptor(s);
  close(s);
  return 0;
}

extern "C" int WPUFDIsSet(SOCKET s, fd_set* fdset) {
  return fdset != nullptr && s >= 0 && s < FD_SETSIZE && FD_ISSET(s, fdset);
}

extern "C" WSAEVENT WPUCreateEvent(LPINT lpErrno) {
  WSAEVENT event = WSACreateEvent();
  if (event == WSA_INVALID_EVENT) set_error(lpErrno, WSAGetLastError());
  return event;
}

extern "C" WINBOOL WPUCloseEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (WSACloseEvent(hEvent)) return 1;
  set_error(lpErrno, WSAGetLastError());
  return 0;
}

extern "C" WINBOOL WPUSetEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (WSASetEvent(hEvent)) return 1;
  set_error(lpErrno, WSAGetLastError());
  return 0;
}

extern "C" WINBOOL WPUResetEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (WSAResetEvent(hEvent)) return 1;
  set_error(lpErrno, WSAGetLastError());
  return 0;
}

// POSIX has no window messages, APCs or blocking hooks: these answer as
// Windows does for a caller that has none of them.
extern "C" WINBOOL WPUPostMessage(HWND, UINT, WPARAM, LPARAM) { return 0; }

extern "C" int WPUQueryBlockingCallback(DWORD, LPBLOCKINGCALLBACK* callback,
                                        PDWORD_PTR context, LPINT lpErrno) {
  if (callback == nullptr || context == nullptr) {
    return set_error(lpErrno, WSAEFAULT);
  }
  *callback = nullptr;
  *context = 0;
  return 0;
}

extern "C" int WPUQueueApc(LPWSATHREADID, LPWSAUSERAPC, DWORD_PTR,
                           LPINT lpErrno) {
  return set_error(lpErrno, WSAEOPNOTSUPP);
}

extern "C" int WPUOpenCurrentThread(LPWSATHREADID lpThreadId, LPINT lpErrno) {
  if (lpThreadId == nullptr) return set_error(lpErrno, WSAEFAULT);
  lpThreadId->ThreadHandle = nullptr;
  lpThreadId->Reserved = 0;
  return 0;
}

extern "C" int WPUCloseThread(LPWSATHREADID lpThreadId, LPINT lpErrno) {
  if (lpThreadId == nullptr) return set_error(lpErrno, WSAEFAULT);
  return 0;
}
