// WSAEventSelect and WSAEnumNetworkEvents: recording network events into the
// socket's shared record (event_registry.h), signalling the registrant's
// event, re-enabling, accept inheritance, and closesocket.
//
// Who does what:
//   - Recording is done by whichever process looks: a condition (data
//     queued, a connection waiting, the peer's FIN) is a property of the
//     socket, visible through any descriptor of it, so the registrant's
//     waits, any holder's WSAEnumNetworkEvents and any holder's re-enabling
//     call evaluate it with poll(…, 0) and record what is armed (in the mask
//     and not reported since last re-enabled: Wine's rule, which Windows'
//     observed behaviour matches in event mode).
//   - Only the registrant sets its event (events are private to a process),
//     under the registry's lock and only while the record's generation is
//     still its registration's: once another process's WSAEventSelect has
//     returned, the old registrant can never set its event for the socket.
//     A holder that records for another registrant leaves the bits owed and
//     rings the registrant's bell (a datagram socket named <pid>.ev in the
//     rendezvous directory), which its next wait answers.
//   - The registrant's waits watch its registered descriptors in one epoll
//     set, edge-triggered on what each mask can bring, so an idle socket or
//     a condition already reported costs no wake-up; a re-enabling call
//     re-arms the watch with EPOLL_CTL_MOD (the kernel queues it again if
//     the condition still holds), and nothing runs between waits.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "errno_table.h"
#include "posix/event_registry.h"
#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/provider.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {

std::atomic<bool> g_notification_possible{false};

namespace {

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

// A registration this process made: the descriptor it watches, and the
// reference to its event.
struct LocalRegistration {
  uint64_t id = 0;  // epoll's data; 0 is the bell
  int descriptor = -1;
  uint64_t cookie = 0;
  uint64_t generation = 0;
  EventReference event;
  uint32_t interest = 0;  // the epoll events it is watched for now
};

std::mutex g_local_mutex;
// By cookie.
std::unordered_map<uint64_t, LocalRegistration>* g_local = nullptr;
std::unordered_map<uint64_t, uint64_t>* g_cookie_of_id = nullptr;
uint64_t g_next_id = 1;
std::atomic<int> g_epoll{-1};
std::atomic<size_t> g_local_count{0};
int g_bell = -1;
std::string* g_bell_path = nullptr;
dev_t g_bell_device = 0;  // the bell's identity: a socket's inode is its own
ino_t g_bell_inode = 0;

bool socket_cookie(int s, uint64_t* cookie) {
  socklen_t length = sizeof *cookie;
  if (getsockopt(s, SOL_SOCKET, SO_COOKIE, cookie, &length) == 0) return true;
  if (errno != ENOPROTOOPT) return false;
  // Before Linux 4.12: the inode, unique while the socket lives.
  struct stat status;
  if (fstat(s, &status) != 0 || !S_ISSOCK(status.st_mode)) return false;
  *cookie = (1ull << 63) | static_cast<uint64_t>(status.st_ino);
  return true;
}

int socket_type(int s) {
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return 0;
  return type;
}

bool connected_state(uint8_t state) {
  return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT ||
         state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 ||
         state == TCP_LAST_ACK || state == TCP_CLOSING ||
         state == TCP_TIME_WAIT;
}

bool peer_closed_state(uint8_t state) {
  return state == TCP_CLOSE_WAIT || state == TCP_LAST_ACK ||
         state == TCP_CLOSING || state == TCP_TIME_WAIT;
}

int bit_of(uint32_t event) { return __builtin_ctz(event); }

// The record's flags for a socket seen for the first time.
uint32_t initial_flags(int s) {
  if (socket_type(s) != SOCK_STREAM) return 0;
  uint32_t flags = kRecordStream;
  uint8_t state = tcp_state(s);
  if (state == TCP_SYN_SENT)
    flags |= kRecordConnecting;
  else if (connected_state(state))
    flags |= kRecordConnected;
  // A stream neither connecting nor connected may still connect: its
  // completion is then recognised by the state it reaches (conditions()).
  return flags;
}

// What holds now on s, among FD_READ, FD_WRITE, FD_OOB, FD_ACCEPT,
// FD_CONNECT and FD_CLOSE, with each one's error in errors[]. Updates the
// record's view of the connection's progress. Under the registry's lock,
// inside begin_change.
uint32_t conditions(int s, RegistryRecord* record, uint32_t armed,
                    uint32_t seen, int32_t errors[10]) {
  short ready = 0;
  if (seen != 0) {
    // What epoll reported for the watch: EPOLLIN and POLLIN, and the rest,
    // are the same bits. It covers every condition the mask can ask for.
    ready = static_cast<short>(seen & 0xFFFF);
  } else {
    pollfd entry{s, POLLIN | POLLPRI | POLLOUT | POLLRDHUP, 0};
    if (poll(&entry, 1, 0) < 0 || (entry.revents & POLLNVAL) != 0) return 0;
    ready = entry.revents;
  }
  uint32_t found = 0;
  if ((record->flags & kRecordStream) == 0) {
    if (ready & POLLIN) found |= FD_READ;
    if (ready & POLLOUT) found |= FD_WRITE;
    return found;
  }
  // Only a registration for FD_ACCEPT asks whether the socket listens.
  int listening = 0;
  socklen_t length = sizeof listening;
  if ((record->mask & FD_ACCEPT) != 0 &&
      getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 &&
      listening != 0) {
    if ((ready & POLLIN) || has_deferred_connection(s)) found |= FD_ACCEPT;
    return found;
  }
  // A connection seen connected, with no FIN, reset or error in sight and
  // no FD_WRITE to decide, is established: its TCP state is not asked.
  const bool quiet = (record->flags & kRecordConnected) != 0 &&
                     (ready & (POLLRDHUP | POLLHUP | POLLERR)) == 0 &&
                     !((armed & FD_WRITE) != 0 && (ready & POLLOUT) != 0);
  const uint8_t state =
      quiet ? static_cast<uint8_t>(TCP_ESTABLISHED) : tcp_state(s);
  if (state == 0) {
    // A stream that is not TCP (AF_UNIX): connected while it has a peer.
    sockaddr_storage peer;
    socklen_t peer_length = sizeof peer;
    if (getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) {
      record->flags |= kRecordConnected;
    }
    if ((record->flags & kRecordConnected) == 0) return 0;
    int queued = 0;
    if (ioctl(s, FIONREAD, &queued) == 0 && queued > 0) found |= FD_READ;
    if ((ready & POLLOUT) && !(ready & POLLHUP)) found |= FD_WRITE;
    if (ready & (POLLRDHUP | POLLHUP)) {
      found |= FD_CLOSE;
      errors[FD_CLOSE_BIT] = (ready & POLLERR) ? WSAECONNRESET : 0;
    }
    return found;
  }
  if (state == TCP_SYN_SENT) {
    record->flags |= kRecordConnecting;
    return 0;
  }
  if ((record->flags & kRecordConnected) == 0) {
    if (connected_state(state)) {
      // Connected since it was last seen: a connect completed (an accepted
      // socket is recorded connected from the start).
      record->flags |= kRecordConnected;
      record->flags &= ~kRecordConnecting;
      found |= FD_CONNECT;
      errors[FD_CONNECT_BIT] = 0;
    } else if (state == TCP_CLOSE && (ready & POLLERR)) {
      // A connect that failed: its error is the socket's pending error.
      int error = 0;
      socklen_t error_length = sizeof error;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &error_length);
      record->flags &= ~kRecordConnecting;
      found |= FD_CONNECT;
      errors[FD_CONNECT_BIT] =
          error != 0 ? translate_errno(error) : WSAECONNREFUSED;
      return found;
    } else {
      return 0;  // never connected, nothing under way
    }
  }
  int queued = 0;
  if (ioctl(s, FIONREAD, &queued) == 0 && queued > 0) found |= FD_READ;
  if (ready & POLLPRI) {
    int inline_oob = 0;
    socklen_t inline_length = sizeof inline_oob;
    getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &inline_oob, &inline_length);
    if (inline_oob == 0) found |= FD_OOB;
  }
  if ((ready & POLLOUT) &&
      (state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT)) {
    found |= FD_WRITE;
  }
  if (peer_closed_state(state)) {
    found |= FD_CLOSE;
    errors[FD_CLOSE_BIT] = 0;
  } else if (state == TCP_CLOSE) {
    found |= FD_CLOSE;
    errors[FD_CLOSE_BIT] = (ready & POLLERR) ? WSAECONNRESET : 0;
  }
  return found;
}

// Records on the record what holds now and is armed; returns the new bits.
uint32_t record_conditions(Registry* registry, RegistryRecord* record, int s,
                           uint32_t seen = 0) {
  if (record->mask == 0) return 0;
  registry->begin_change(record);
  int32_t errors[10] = {};
  uint32_t armed = record->mask & ~record->reported;
  if (armed == 0) {
    registry->end_change();
    return 0;
  }
  uint32_t found = conditions(s, record, armed, seen, errors) & armed;
  record->pending |= found;
  record->reported |= found;
  for (uint32_t bits = found; bits != 0; bits &= bits - 1) {
    int bit = bit_of(bits);
    record->errors[bit] = errors[bit];
  }
  registry->end_change();
  return found;
}

bool owned_here(const RegistryRecord* record) {
  return record->owner_pid == static_cast<int32_t>(current_pid()) &&
         record->owner_start == own_start_time();
}

// The epoll events that can bring what the mask asks for. Edge-triggered:
// a condition already reported wakes nobody until it happens again, and a
// re-enabling call re-arms it with EPOLL_CTL_MOD (the kernel queues the
// item again if the condition still holds).
uint32_t interest_for(uint32_t mask) {
  uint32_t armed = mask;
  uint32_t interest = EPOLLET;
  if (armed & (FD_READ | FD_ACCEPT)) interest |= EPOLLIN;
  if (armed & FD_OOB) interest |= EPOLLPRI;
  if (armed & (FD_WRITE | FD_CONNECT)) interest |= EPOLLOUT;
  if (armed & FD_CLOSE) interest |= EPOLLRDHUP;
  return interest;
}

// Tells process pid that a record it owns has bits owed or newly armed.
// Best effort and never waits: the datagram is a hint, and a registrant that
// misses it records at its next re-enabling call or enumeration.
void ring_bell(pid_t pid, uint64_t cookie) {
  std::string directory;
  if (own_rendezvous_directory(&directory) != 0) return;
  std::string path = rendezvous_name(directory, pid, ".ev");
  if (path.empty()) return;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  sendto(s, &cookie, sizeof cookie, MSG_DONTWAIT,
         reinterpret_cast<sockaddr*>(&address), sizeof address);
  close(s);
}

// Whether the epoll set and the bell are still this process's own: the
// application may have closed them (a daemon's close_range) and opened
// files of its own on their numbers. The bell is checked by its inode; the
// set, whose inode every epoll set shares, by holding the bell, when
// thorough: before its number is replaced or closed. (A registration checks
// the bell only, one fstat: close_range takes both.) Under g_local_mutex.
bool watching_intact_locked(bool thorough = true) {
  int epoll = g_epoll.load();
  struct stat status;
  if (epoll < 0 || g_bell < 0 || fstat(g_bell, &status) != 0 ||
      status.st_dev != g_bell_device || status.st_ino != g_bell_inode) {
    return false;
  }
  if (!thorough) return true;
  epoll_event item{};
  item.events = EPOLLIN;
  item.data.u64 = 0;
  return epoll_ctl(epoll, EPOLL_CTL_MOD, g_bell, &item) == 0;
}

bool drop_local_locked(uint64_t cookie);

// After watching_intact_locked said no: forgets the set and the bell
// without closing their numbers (the application's files now), and the
// registrations they watched, as a closesocket would end them.
// Ends every registration this process made: its record, when still this
// registration's, and its local watch (the set's item, unless the set is
// gone: abandon_watching_locked). Under g_local_mutex.
void end_local_registrations_locked() {
  if (g_local == nullptr) return;
  int error = 0;
  Registry* registry = process_registry(&error);
  std::vector<uint64_t> cookies;
  for (auto& [cookie, local] : *g_local) cookies.push_back(cookie);
  for (uint64_t cookie : cookies) {
    const LocalRegistration& local = (*g_local)[cookie];
    if (registry != nullptr && registry->lock() == 0) {
      RegistryRecord* record = registry->find(cookie);
      if (record != nullptr && owned_here(record) &&
          record->generation == local.generation) {
        registry->remove(record);
      }
      registry->unlock();
    }
    drop_local_locked(cookie);
  }
}

void abandon_watching_locked() {
  g_epoll.store(-1);
  g_bell = -1;
  if (g_bell_path != nullptr && !g_bell_path->empty()) {
    unlink(g_bell_path->c_str());
    g_bell_path->clear();
  }
  end_local_registrations_locked();
}

// The epoll set and the bell, made at this process's first registration
// (and again if the application closed them). Under g_local_mutex. 0 or a
// Winsock error.
int ensure_watching_locked() {
  if (g_local == nullptr) {
    g_local = new std::unordered_map<uint64_t, LocalRegistration>();
    g_cookie_of_id = new std::unordered_map<uint64_t, uint64_t>();
    g_bell_path = new std::string();
  }
  if (g_epoll.load() >= 0) {
    if (watching_intact_locked(/*thorough=*/false)) return 0;
    abandon_watching_locked();
  }
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0)
    return errno == EMFILE || errno == ENFILE ? WSAEMFILE : WSAENOBUFS;
  std::string directory;
  int status = own_rendezvous_directory(&directory);
  std::string path = status == 0
                         ? rendezvous_name(directory, current_pid(), ".ev")
                         : std::string();
  int bell =
      path.empty()
          ? -1
          : socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (bell >= 0) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    unlink(path.c_str());  // a name a dead process with this pid left
    epoll_event item{};
    item.events = EPOLLIN;
    item.data.u64 = 0;
    if (bind(bell, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
            0 ||
        epoll_ctl(epoll, EPOLL_CTL_ADD, bell, &item) != 0) {
      close(bell);
      bell = -1;
      unlink(path.c_str());
    }
  }
  struct stat bell_status;
  if (bell >= 0 && fstat(bell, &bell_status) != 0) {
    close(bell);
    bell = -1;
    unlink(path.c_str());
  }
  if (bell < 0) {
    close(epoll);
    return WSAENOBUFS;
  }
  g_bell_device = bell_status.st_dev;
  g_bell_inode = bell_status.st_ino;
  g_bell = bell;
  *g_bell_path = path;
  g_epoll.store(epoll);
  return 0;
}

// Removes a local registration (its watch and its event reference).
// False when its epoll item could not be deleted (see rebuild_watches).
bool drop_local_locked(uint64_t cookie) {
  auto found = g_local->find(cookie);
  if (found == g_local->end()) return true;
  LocalRegistration& local = found->second;
  // A descriptor the application closed with close() or reused is no longer
  // this registration's: deleting by number would hit another file, so the
  // stale item is left to the next rebuild of the set.
  uint64_t now_cookie = 0;
  int epoll = g_epoll.load();
  bool deleted =
      epoll < 0 ||  // the set itself is gone (abandon_watching_locked)
      (socket_cookie(local.descriptor, &now_cookie) && now_cookie == cookie &&
       epoll_ctl(epoll, EPOLL_CTL_DEL, local.descriptor, nullptr) == 0);
  release_event(local.event);
  g_cookie_of_id->erase(local.id);
  g_local->erase(found);
  g_local_count.store(g_local->size(), std::memory_order_relaxed);
  return deleted;
}

// Replaces the epoll set by a new one holding only the live registrations:
// the way to be rid of an item whose descriptor number is gone.
void rebuild_watches_locked() {
  // The number is replaced below: only while it is still the set's.
  if (!watching_intact_locked()) {
    if (g_epoll.load() >= 0) abandon_watching_locked();
    return;
  }
  int fresh = epoll_create1(EPOLL_CLOEXEC);
  if (fresh < 0) return;
  epoll_event item{};
  item.events = EPOLLIN;
  item.data.u64 = 0;
  epoll_ctl(fresh, EPOLL_CTL_ADD, g_bell, &item);
  for (auto& [cookie, local] : *g_local) {
    epoll_event watch{};
    watch.events = local.interest;
    watch.data.u64 = local.id;
    epoll_ctl(fresh, EPOLL_CTL_ADD, local.descriptor, &watch);
  }
  // Same number: a wait polling the old set now polls the new one.
  dup2(fresh, g_epoll.load());
  close(fresh);
}

// Brings a registration of this process up to date with its record: drops
// it if the socket was registered since by anyone (or is no longer the
// socket registered), records what holds and is armed, and sets the event
// for what is new or owed. Under g_local_mutex; takes the registry's lock.
// seen: the events epoll reported for it, or 0 to ask the socket. Returns
// whether it set the registration's event.
bool refresh_local_locked(Registry* registry, LocalRegistration* local,
                          uint32_t seen = 0) {
  uint64_t cookie = local->cookie;
  uint64_t now_cookie = 0;
  bool same_socket =
      socket_cookie(local->descriptor, &now_cookie) && now_cookie == cookie;
  if (registry->lock() != 0) return false;
  RegistryRecord* record = registry->find(cookie);
  bool current = record != nullptr && owned_here(record) &&
                 record->generation == local->generation;
  if (current && !same_socket) {
    // Closed with close() and maybe reused: the registration ends, as
    // closesocket would have ended it.
    registry->remove(record);
    current = false;
  }
  if (!current) {
    registry->unlock();
    if (!drop_local_locked(cookie)) rebuild_watches_locked();
    return false;
  }
  uint32_t fresh = record_conditions(registry, record, local->descriptor, seen);
  bool set = fresh != 0 || record->signal_owed != 0;
  if (set) {
    signal_event_descriptor(local->event.descriptor);
    registry->begin_change(record);
    record->signal_owed = 0;
    registry->end_change();
  }
  registry->unlock();
  return set;
}

// Has the kernel look at a registration's descriptor again: after a
// re-enabling call, a condition that still holds queues it at once.
void rearm_local_locked(const LocalRegistration& local) {
  epoll_event item{};
  item.events = local.interest;
  item.data.u64 = local.id;
  epoll_ctl(g_epoll.load(), EPOLL_CTL_MOD, local.descriptor, &item);
}

Registry* registry_for_call(int* error) {
  *error = WSAENETDOWN;
  return process_registry(error);
}

// Clears bits from the record of s (re-enabling). The registrant re-arms
// its watch; another process records what holds and tells the registrant.
void reenable(int s, uint32_t bits) {
  int error = 0;
  Registry* registry = process_registry(&error);
  if (registry == nullptr || registry->registrations() == 0) return;
  uint64_t cookie = 0;
  if (!socket_cookie(s, &cookie)) return;
  std::lock_guard<std::mutex> local_lock(g_local_mutex);
  if (registry->lock() != 0) return;
  RegistryRecord* record = registry->find(cookie);
  if (record == nullptr || record->mask == 0) {
    registry->unlock();
    return;
  }
  bool owned = owned_here(record);
  pid_t owner = record->owner_pid;
  bool changed = (record->reported & bits) != 0;
  registry->begin_change(record);
  record->reported &= ~bits;
  record->pending &= ~bits;
  registry->end_change();
  if (!owned && changed) {
    uint32_t fresh = record_conditions(registry, record, s);
    if (fresh != 0) {
      registry->begin_change(record);
      record->signal_owed |= fresh;
      registry->end_change();
    }
  }
  registry->unlock();
  if (!changed) return;
  if (!owned) {
    if (owner > 0) ring_bell(owner, cookie);
    return;
  }
  if (g_local == nullptr) return;
  auto found = g_local->find(cookie);
  if (found != g_local->end()) rearm_local_locked(found->second);
}

// Takes what the watch set has queued and brings those registrations up to
// date. Under g_local_mutex. The slots of the events it set are added to
// *set (when given) while it has room; *overflow says some were not.
void pump_locked(Registry* registry, SignalledEvents* set = nullptr) {
  int epoll = g_epoll.load();
  if (epoll < 0 || g_local == nullptr) return;
  epoll_event ready[64];
  int count = epoll_wait(epoll, ready, 64, 0);
  if (count < 0 && errno != EINTR && !watching_intact_locked()) {
    abandon_watching_locked();  // closed under it, and not an epoll set now
    return;
  }
  bool stale = false;
  auto note = [set](const LocalRegistration& local) {
    if (set == nullptr) return;
    if (set->count < kMaxSignalledEvents) {
      set->slots[set->count++] = local.event.index;
    } else {
      set->overflow = true;
    }
  };
  for (int i = 0; i < count; ++i) {
    uint64_t id = ready[i].data.u64;
    if (id == 0) {
      // The bell: other processes recorded or re-armed for records this
      // process owns. (Or an item of a set of the application's, opened on
      // the set's number after closing it: its socket is not read.)
      if (!watching_intact_locked()) {
        abandon_watching_locked();
        return;
      }
      uint64_t cookie;
      while (recv(g_bell, &cookie, sizeof cookie, MSG_DONTWAIT) ==
             static_cast<ssize_t>(sizeof cookie)) {
        auto found = g_local->find(cookie);
        if (found != g_local->end() &&
            refresh_local_locked(registry, &found->second)) {
          note(found->second);
        }
      }
      continue;
    }
    auto by_id = g_cookie_of_id->find(id);
    if (by_id == g_cookie_of_id->end()) {
      stale = true;  // an item of a registration dropped already
      continue;
    }
    auto found = g_local->find(by_id->second);
    if (found != g_local->end() &&
        refresh_local_locked(registry, &found->second, ready[i].events)) {
      note(found->second);
    }
  }
  if (stale) rebuild_watches_locked();
}

// Adds a registration of this process, watched for its mask. Under
// g_local_mutex. 0 or a Winsock error.
int watch_locked(int descriptor, uint64_t cookie, uint64_t generation,
                 uint32_t mask, const EventReference& event) {
  LocalRegistration local;
  local.id = g_next_id++;
  local.descriptor = descriptor;
  local.cookie = cookie;
  local.generation = generation;
  local.event = event;
  local.interest = interest_for(mask);
  epoll_event item{};
  item.events = local.interest;
  item.data.u64 = local.id;
  // Edge-triggered ADD queues the item at once for what already holds:
  // the next wait or enumeration records it.
  if (epoll_ctl(g_epoll.load(), EPOLL_CTL_ADD, descriptor, &item) != 0) {
    return errno == ENOMEM || errno == ENOSPC ? WSAENOBUFS : WSAEINVAL;
  }
  (*g_cookie_of_id)[local.id] = cookie;
  g_local->emplace(cookie, local);
  g_local_count.store(g_local->size(), std::memory_order_relaxed);
  return 0;
}

}  // namespace

int notification_descriptor() {
  if (g_local_count.load(std::memory_order_relaxed) == 0) return -1;
  return g_epoll.load(std::memory_order_relaxed);
}

void pump_notifications(SignalledEvents* set) {
  if (g_local_count.load(std::memory_order_relaxed) == 0) return;
  int error = 0;
  Registry* registry = process_registry(&error);
  if (registry == nullptr) return;
  std::lock_guard<std::mutex> local_lock(g_local_mutex);
  pump_locked(registry, set);
}

void reenable_after_receive_slow(int s, bool out_of_band) {
  reenable(s, out_of_band ? static_cast<uint32_t>(FD_OOB)
                          : static_cast<uint32_t>(FD_READ | FD_OOB));
}

void reenable_after_send_slow(int s, bool would_block) {
  if (would_block) reenable(s, FD_WRITE);
}

void reenable_after_accept_slow(int listener, int accepted) {
  reenable(listener, FD_ACCEPT);
  if (accepted < 0) return;
  // The accepted socket takes the listener's registration: same event, same
  // mask, when this process is the listener's registrant.
  int error = 0;
  Registry* registry = process_registry(&error);
  uint64_t listener_cookie = 0, cookie = 0;
  if (registry == nullptr || !socket_cookie(listener, &listener_cookie) ||
      !socket_cookie(accepted, &cookie)) {
    return;
  }
  std::lock_guard<std::mutex> local_lock(g_local_mutex);
  if (g_local == nullptr) return;
  auto listener_local = g_local->find(listener_cookie);
  if (listener_local == g_local->end()) return;
  EventReference event;
  if (retain_event(listener_local->second.event, &event) != 0) return;
  if (registry->lock() != 0) {
    release_event(event);
    return;
  }
  RegistryRecord* listening = registry->find(listener_cookie);
  RegistryRecord* record = nullptr;
  if (listening != nullptr && owned_here(listening) && listening->mask != 0 &&
      listening->generation == listener_local->second.generation) {
    record = registry->find(cookie);
    if (record == nullptr) record = registry->insert(cookie);
  }
  if (record == nullptr) {
    registry->unlock();
    release_event(event);
    return;
  }
  registry->begin_change(record);
  bool had = record->mask != 0;
  uint64_t generation = record->generation + 1;
  std::memset(record, 0, sizeof *record);
  record->cookie = cookie;
  record->state = kRecordUsed;
  record->flags = kRecordStream | kRecordConnected;
  record->generation = generation;
  record->owner_pid = static_cast<int32_t>(current_pid());
  record->owner_start = own_start_time();
  record->mask = listening->mask & static_cast<uint32_t>(FD_ALL_EVENTS);
  uint32_t record_mask = record->mask;
  registry->end_change();
  if (!had) registry->count_registration(+1);
  registry->unlock();
  drop_local_locked(cookie);
  // Its FD_WRITE (it is connected) is recorded by the next wait.
  if (watch_locked(accepted, cookie, generation, record_mask, event) != 0) {
    release_event(event);
  }
}

void cancel_registration_on_close(int s) {
  int error = 0;
  Registry* registry = process_registry(&error);
  if (registry == nullptr ||
      (g_local_count.load(std::memory_order_relaxed) == 0 &&
       registry->registrations() == 0)) {
    return;
  }
  uint64_t cookie = 0;
  if (!socket_cookie(s, &cookie)) return;
  std::lock_guard<std::mutex> local_lock(g_local_mutex);
  bool registered_here = false;
  if (g_local != nullptr) {
    auto found = g_local->find(cookie);
    registered_here = found != g_local->end() && found->second.descriptor == s;
  }
  if (registry->lock() == 0) {
    RegistryRecord* record = registry->find(cookie);
    // The registrant's descriptor ends the registration; any descriptor
    // ends a record nothing is registered on any more (an accepted socket
    // whose inherited registration was cancelled, say), so such records do
    // not pile up.
    if (record != nullptr &&
        (record->mask == 0 ||
         (registered_here && owned_here(record) &&
          record->generation == (*g_local)[cookie].generation))) {
      registry->remove(record);
    }
    registry->unlock();
  }
  if (registered_here) drop_local_locked(cookie);
}

bool registration_in_force(int s) {
  int error = 0;
  Registry* registry = process_registry(&error);
  if (registry == nullptr || registry->registrations() == 0) return false;
  uint64_t cookie = 0;
  if (!socket_cookie(s, &cookie) || registry->lock() != 0) return false;
  RegistryRecord* record = registry->find(cookie);
  bool in_force = record != nullptr && record->mask != 0;
  registry->unlock();
  return in_force;
}

void notification_cleanup() {
  {
    std::lock_guard<std::mutex> local_lock(g_local_mutex);
    // The set and the bell are closed by number below only while they are
    // still this process's own.
    if (g_epoll.load() >= 0 && !watching_intact_locked()) {
      abandon_watching_locked();
    }
    end_local_registrations_locked();
    int epoll = g_epoll.exchange(-1);
    if (epoll >= 0) close(epoll);
    if (g_bell >= 0) {
      close(g_bell);
      g_bell = -1;
      unlink(g_bell_path->c_str());
    }
  }
  close_all_events();
}

std::mutex& notification_mutex() { return g_local_mutex; }

void forget_notification_after_fork() {
  // The child's copies of the parent's epoll set and bell are the parent's:
  // the child closes them and owns none of the parent's registrations.
  int epoll = g_epoll.exchange(-1);
  if (epoll >= 0) close(epoll);
  if (g_bell >= 0) close(g_bell);
  g_bell = -1;
  if (g_local != nullptr) {
    g_local->clear();
    g_cookie_of_id->clear();
  }
  g_local_count.store(0);
  forget_events_after_fork();
}

namespace {

// The work of WSAEventSelect and WSAEnumNetworkEvents once s is known to be
// the socket cookie names: what the exported calls do when the base owns s,
// and what the base provider's table does (provider_base.cc). Each returns 0
// or a Winsock error code and never sets the last error.
int event_select_socket(SOCKET s, uint64_t cookie, WSAEVENT hEventObject,
                        long lNetworkEvents) {
  try {
    if (lNetworkEvents < 0 ||
        (lNetworkEvents & ~static_cast<long>(FD_ALL_EVENTS)) != 0) {
      return WSAEINVAL;
    }
    const uint32_t mask = static_cast<uint32_t>(lNetworkEvents);
    int error = 0;
    Registry* registry = registry_for_call(&error);
    if (registry == nullptr) return error;
    EventReference event;
    if (mask != 0 && acquire_event(hEventObject, &event) != 0) {
      return WSAEINVAL;
    }
    // Non-blocking whatever the mask, as Windows; the flag belongs to the
    // open file description, so every holder of the socket sees it.
    int flags = fcntl(s, F_GETFL);
    if (flags < 0 || ((flags & O_NONBLOCK) == 0 &&
                      fcntl(s, F_SETFL, flags | O_NONBLOCK) != 0)) {
      release_event(event);
      return translate_errno(errno);
    }
    std::lock_guard<std::mutex> local_lock(g_local_mutex);
    if (mask != 0) {
      int status = ensure_watching_locked();
      if (status != 0) {
        release_event(event);
        return status;
      }
    }
    if (registry->lock() != 0) {
      release_event(event);
      return WSAENETDOWN;
    }
    RegistryRecord* record = registry->find(cookie);
    bool created = false;
    if (record == nullptr && mask != 0) {
      record = registry->insert(cookie);
      if (record == nullptr) {
        registry->unlock();
        release_event(event);
        return WSAENOBUFS;
      }
      created = true;
    }
    uint64_t generation = 0;
    if (record != nullptr) {
      registry->begin_change(record);
      bool had = record->mask != 0;
      if (created) record->flags = initial_flags(s);
      record->generation += 1;
      generation = record->generation;
      record->mask = mask;
      record->signal_owed = 0;
      if (mask != 0) {
        record->owner_pid = static_cast<int32_t>(current_pid());
        record->owner_start = own_start_time();
      } else {
        record->owner_pid = 0;
        record->owner_start = 0;
      }
      registry->end_change();
      if (had != (mask != 0)) registry->count_registration(mask != 0 ? 1 : -1);
    }
    registry->unlock();
    if (g_local != nullptr) drop_local_locked(cookie);
    if (mask == 0) return 0;
    g_notification_possible.store(true, std::memory_order_relaxed);
    // Conditions that already hold are queued by the ADD and recorded by
    // the next wait or enumeration, in this process or any other.
    int status = watch_locked(s, cookie, generation, mask, event);
    if (status != 0) {
      release_event(event);
      if (registry->lock() == 0) {
        RegistryRecord* again = registry->find(cookie);
        if (again != nullptr && again->generation == generation) {
          registry->remove(again);
        }
        registry->unlock();
      }
      return status;
    }
    return 0;
  } catch (...) {
    return WSAENOBUFS;
  }
}

int enum_network_events_of_socket(SOCKET s, uint64_t cookie,
                                  WSAEVENT hEventObject,
                                  LPWSANETWORKEVENTS lpNetworkEvents) {
  try {
    if (lpNetworkEvents == nullptr) return WSAEFAULT;
    int error = 0;
    Registry* registry = registry_for_call(&error);
    if (registry == nullptr) return error;
    EventReference event;
    if (hEventObject != nullptr && acquire_event(hEventObject, &event) != 0) {
      return WSAEINVAL;
    }
    std::lock_guard<std::mutex> local_lock(g_local_mutex);
    // The registrant records what its watch set has queued first (and
    // sets its events for anything new), then the record is read.
    if (g_local != nullptr && g_local->find(cookie) != g_local->end()) {
      pump_locked(registry);
    }
    if (registry->lock() != 0) {
      release_event(event);
      return WSAENETDOWN;
    }
    uint32_t reported = 0;
    pid_t owner = 0;
    bool owed = false;
    RegistryRecord* record = registry->find(cookie);
    if (record != nullptr && record->mask != 0) {
      if (!owned_here(record)) {
        uint32_t fresh = record_conditions(registry, record, s);
        if (fresh != 0) {
          registry->begin_change(record);
          record->signal_owed |= fresh;
          registry->end_change();
          owner = record->owner_pid;
          owed = true;
        }
      }
      // Bits from the shared file index iErrorCode: only FD_MAX_EVENTS of
      // them can, whatever another process wrote there.
      reported =
          record->pending & record->mask & static_cast<uint32_t>(FD_ALL_EVENTS);
      for (uint32_t bits = reported; bits != 0; bits &= bits - 1) {
        int bit = __builtin_ctz(bits);
        lpNetworkEvents->iErrorCode[bit] = record->errors[bit];
      }
      registry->begin_change(record);
      record->pending &= ~record->mask;
      registry->end_change();
    }
    lpNetworkEvents->lNetworkEvents = static_cast<LONG>(reported);
    // Copy, clear and reset in one step under the lock.
    if (event.descriptor >= 0) reset_event_descriptor(event.descriptor);
    registry->unlock();
    release_event(event);
    if (owed) ring_bell(owner, cookie);
    return 0;
  } catch (...) {
    return WSAENOBUFS;
  }
}

}  // namespace

int engine_event_select(SOCKET s, WSAEVENT event, long network_events) {
  uint64_t cookie = 0;
  if (!socket_cookie(s, &cookie)) return WSAENOTSOCK;
  return event_select_socket(s, cookie, event, network_events);
}

int engine_enum_network_events(SOCKET s, WSAEVENT event,
                               LPWSANETWORKEVENTS network_events) {
  uint64_t cookie = 0;
  if (!socket_cookie(s, &cookie)) return WSAENOTSOCK;
  return enum_network_events_of_socket(s, cookie, event, network_events);
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

// ws2_32 checks WSAStartup and that s is a socket, then hands the call to
// the provider that owns s; the rest of the checks are the provider's.
extern "C" int WSAEventSelect(SOCKET s, WSAEVENT hEventObject,
                              long lNetworkEvents) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    // The cookie is the check that s is a socket.
    uint64_t cookie = 0;
    if (!socket_cookie(s, &cookie)) return fail(WSAENOTSOCK);
    int error = 0;
    if (layers_installed() &&
        route_event_select(s, hEventObject, lNetworkEvents, &error)) {
      return error == 0 ? 0 : fail(error);
    }
    error = event_select_socket(s, cookie, hEventObject, lNetworkEvents);
    return error == 0 ? 0 : fail(error);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject,
                                    LPWSANETWORKEVENTS lpNetworkEvents) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    uint64_t cookie = 0;  // also the check that s is a socket
    if (!socket_cookie(s, &cookie)) return fail(WSAENOTSOCK);
    int error = 0;
    if (layers_installed() &&
        route_enum_network_events(s, hEventObject, lpNetworkEvents, &error)) {
      return error == 0 ? 0 : fail(error);
    }
    error =
        enum_network_events_of_socket(s, cookie, hEventObject, lpNetworkEvents);
    return error == 0 ? 0 : fail(error);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}
