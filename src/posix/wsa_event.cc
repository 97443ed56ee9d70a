// WSAEVENT objects and WSAWaitForMultipleEvents.
//
// An event is an eventfd: set is a write, reset drains it, signalled is
// readable. poll() does not consume it, so an event stays signalled across
// waits until reset, as Windows' manual-reset events do. The handle the
// application holds is not the descriptor but a slot number and that slot's
// generation packed into the pointer value, so a closed or forged handle is
// WSA_INVALID_HANDLE and never reaches another object's descriptor. A
// registration (event_select.cc) holds its own reference to the slot, as
// Windows' socket object holds the event: WSACloseEvent while registered
// invalidates the handle, and the descriptor goes with the last reference.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "errno_table.h"
#include "posix/internal.h"
#include "posix/notification.h"

namespace wsadup::detail {
namespace {

struct EventSlot {
  int descriptor = -1;
  uint64_t id = 0;  // eventfd_id() when it was made; 0: none reported
  uint32_t generation = 1;
  int references = 0;  // the handle's (while open) and registrations'
  bool open = false;   // the handle is valid
};

std::mutex g_events_mutex;
std::vector<EventSlot>* g_events = nullptr;  // never freed: see event_cleanup
std::vector<uint32_t>* g_free_slots = nullptr;

// Slots past this many handles are refused (WSA_NOT_ENOUGH_MEMORY); the
// process's descriptor limit usually comes first.
constexpr size_t kMaxEvents = 1u << 20;

WSAEVENT handle_of(uint32_t index, uint32_t generation) {
  uint64_t value = (static_cast<uint64_t>(generation) << 32) | (index + 1u);
  return reinterpret_cast<WSAEVENT>(static_cast<uintptr_t>(value));
}

// The slot a handle names while it is open; nullptr otherwise. Under
// g_events_mutex.
EventSlot* slot_of_locked(WSAEVENT handle, uint32_t* index_out) {
  if (g_events == nullptr) return nullptr;
  uint64_t value = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handle));
  uint32_t low = static_cast<uint32_t>(value & 0xFFFFFFFFu);
  uint32_t generation = static_cast<uint32_t>(value >> 32);
  if (low == 0 || low > g_events->size()) return nullptr;
  EventSlot& slot = (*g_events)[low - 1];
  if (!slot.open || slot.generation != generation) return nullptr;
  if (index_out != nullptr) *index_out = low - 1;
  return &slot;
}

// The kernel's description of descriptor (/proc/self/fdinfo) into text;
// false when it cannot be read (no such descriptor, no /proc, or no
// descriptor free to read it with).
bool read_fdinfo(int descriptor, char* text, size_t size) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", descriptor);
  int file = ::open(path, O_RDONLY | O_CLOEXEC);
  if (file < 0) return false;
  ssize_t length = read(file, text, size - 1);
  close(file);
  if (length <= 0) return false;
  text[length] = '\0';
  return true;
}

// What tells one eventfd from another, plus one: the id Linux reports for
// each in fdinfo (every eventfd shares one inode, so fstat cannot tell them
// apart). 0 when the kernel reports none.
uint64_t eventfd_id_in(const char* text) {
  const char* found = std::strstr(text, "eventfd-id:");
  if (found == nullptr) return 0;
  return std::strtoull(found + std::strlen("eventfd-id:"), nullptr, 10) + 1;
}

uint64_t eventfd_id(int descriptor) {
  char text[512];
  return read_fdinfo(descriptor, text, sizeof text) ? eventfd_id_in(text) : 0;
}

// Whether slot's number still names the eventfd it was made with: the
// application may have closed it (a daemon's close_range) and opened a file
// of its own, or another event, on the number.
bool still_the_event(const EventSlot& slot) {
  char text[512];
  if (!read_fdinfo(slot.descriptor, text, sizeof text)) {
    // Not to be asked: a closed number is not the event; an open one is
    // taken to be (no /proc, or at the descriptor limit, where leaking it
    // would keep the process there).
    return fcntl(slot.descriptor, F_GETFD) != -1;
  }
  if (slot.id != 0) return eventfd_id_in(text) == slot.id;
  // No id from this kernel: at least still an eventfd.
  return std::strstr(text, "eventfd-count:") != nullptr;
}

void release_locked(uint32_t index) {
  EventSlot& slot = (*g_events)[index];
  if (--slot.references > 0) return;
  if (still_the_event(slot)) close(slot.descriptor);
  slot.descriptor = -1;
  ++slot.generation;
  if (slot.generation == 0) slot.generation = 1;
  g_free_slots->push_back(index);
}

int64_t now_ms() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

bool readable_now(int descriptor) {
  pollfd entry{descriptor, POLLIN, 0};
  return poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN) != 0;
}

}  // namespace

void signal_event_descriptor(int descriptor) {
  uint64_t one = 1;
  // EAGAIN only when the counter is about to overflow: it is set anyway.
  ssize_t ignored = write(descriptor, &one, sizeof one);
  (void)ignored;
}

void reset_event_descriptor(int descriptor) {
  uint64_t count;
  ssize_t ignored = read(descriptor, &count, sizeof count);
  (void)ignored;
}

int acquire_event(WSAEVENT handle, EventReference* reference) {
  std::lock_guard<std::mutex> lock(g_events_mutex);
  uint32_t index = 0;
  EventSlot* slot = slot_of_locked(handle, &index);
  if (slot == nullptr) return WSA_INVALID_HANDLE;
  ++slot->references;
  reference->index = index;
  reference->descriptor = slot->descriptor;
  return 0;
}

int retain_event(const EventReference& reference, EventReference* copy) {
  if (reference.descriptor < 0) return WSA_INVALID_HANDLE;
  std::lock_guard<std::mutex> lock(g_events_mutex);
  EventSlot& slot = (*g_events)[reference.index];
  if (slot.references <= 0 || slot.descriptor != reference.descriptor) {
    return WSA_INVALID_HANDLE;
  }
  ++slot.references;
  *copy = reference;
  return 0;
}

void release_event(const EventReference& reference) {
  if (reference.descriptor < 0) return;
  std::lock_guard<std::mutex> lock(g_events_mutex);
  release_locked(reference.index);
}

int event_descriptor(WSAEVENT handle) {
  std::lock_guard<std::mutex> lock(g_events_mutex);
  EventSlot* slot = slot_of_locked(handle, nullptr);
  return slot == nullptr ? -1 : slot->descriptor;
}

void close_all_events() {
  std::lock_guard<std::mutex> lock(g_events_mutex);
  if (g_events == nullptr) return;
  for (uint32_t index = 0; index < g_events->size(); ++index) {
    EventSlot& slot = (*g_events)[index];
    if (!slot.open) continue;
    slot.open = false;
    release_locked(index);
  }
}

void forget_events_after_fork() {
  // The child's copies of the parent's eventfds are the parent's objects:
  // setting one would wake the parent. The child drops them (events are
  // private to the process that created them).
  if (g_events == nullptr) return;
  for (EventSlot& slot : *g_events) {
    if (slot.descriptor >= 0) close(slot.descriptor);
    slot.descriptor = -1;
    slot.open = false;
    slot.references = 0;
    ++slot.generation;
  }
  g_free_slots->clear();
  for (uint32_t index = 0; index < g_events->size(); ++index) {
    g_free_slots->push_back(index);
  }
}

std::mutex& events_mutex() { return g_events_mutex; }

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" WSAEVENT WSACreateEvent(void) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) {
      fail(WSANOTINITIALISED);
      return WSA_INVALID_EVENT;
    }
    int descriptor = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (descriptor < 0) {
      fail(errno == EMFILE || errno == ENFILE ? WSAEMFILE
                                              : WSA_NOT_ENOUGH_MEMORY);
      return WSA_INVALID_EVENT;
    }
    uint64_t id = eventfd_id(descriptor);
    std::lock_guard<std::mutex> lock(g_events_mutex);
    if (g_events == nullptr) {
      g_events = new std::vector<EventSlot>();
      g_free_slots = new std::vector<uint32_t>();
    }
    uint32_t index;
    if (!g_free_slots->empty()) {
      index = g_free_slots->back();
      g_free_slots->pop_back();
    } else if (g_events->size() < kMaxEvents) {
      index = static_cast<uint32_t>(g_events->size());
      g_events->emplace_back();
    } else {
      close(descriptor);
      fail(WSA_NOT_ENOUGH_MEMORY);
      return WSA_INVALID_EVENT;
    }
    EventSlot& slot = (*g_events)[index];
    slot.descriptor = descriptor;
    slot.id = id;
    slot.references = 1;
    slot.open = true;
    return handle_of(index, slot.generation);
  } catch (...) {
    fail(WSA_NOT_ENOUGH_MEMORY);
    return WSA_INVALID_EVENT;
  }
}

extern "C" BOOL WSACloseEvent(WSAEVENT hEvent) {
  ErrnoScope errno_scope;
  if (!is_initialised()) {
    fail(WSANOTINITIALISED);
    return FALSE;
  }
  std::lock_guard<std::mutex> lock(g_events_mutex);
  uint32_t index = 0;
  EventSlot* slot = slot_of_locked(hEvent, &index);
  if (slot == nullptr) {
    fail(WSA_INVALID_HANDLE);
    return FALSE;
  }
  slot->open = false;
  release_locked(index);
  return TRUE;
}

extern "C" BOOL WSASetEvent(WSAEVENT hEvent) {
  ErrnoScope errno_scope;
  if (!is_initialised()) {
    fail(WSANOTINITIALISED);
    return FALSE;
  }
  std::lock_guard<std::mutex> lock(g_events_mutex);
  EventSlot* slot = slot_of_locked(hEvent, nullptr);
  if (slot == nullptr) {
    fail(WSA_INVALID_HANDLE);
    return FALSE;
  }
  signal_event_descriptor(slot->descriptor);
  return TRUE;
}

extern "C" BOOL WSAResetEvent(WSAEVENT hEvent) {
  ErrnoScope errno_scope;
  if (!is_initialised()) {
    fail(WSANOTINITIALISED);
    return FALSE;
  }
  std::lock_guard<std::mutex> lock(g_events_mutex);
  EventSlot* slot = slot_of_locked(hEvent, nullptr);
  if (slot == nullptr) {
    fail(WSA_INVALID_HANDLE);
    return FALSE;
  }
  reset_event_descriptor(slot->descriptor);
  return TRUE;
}

extern "C" DWORD WSAWaitForMultipleEvents(DWORD cEvents,
                                          const WSAEVENT* lphEvents,
                                          BOOL fWaitAll, DWORD dwTimeout,
                                          BOOL fAlertable) {
  (void)fAlertable;  // no APCs on POSIX: WSA_WAIT_IO_COMPLETION never comes
  ErrnoScope errno_scope;
  if (!is_initialised()) {
    fail(WSANOTINITIALISED);
    return WSA_WAIT_FAILED;
  }
  if (cEvents == 0 || cEvents > WSA_MAXIMUM_WAIT_EVENTS ||
      lphEvents == nullptr) {
    fail(WSA_INVALID_PARAMETER);
    return WSA_WAIT_FAILED;
  }
  // Each event is held for the wait, so a WSACloseEvent by another thread
  // cannot close a descriptor this wait polls.
  EventReference held[WSA_MAXIMUM_WAIT_EVENTS];
  DWORD acquired = 0;
  int status = 0;
  for (; acquired < cEvents; ++acquired) {
    status = acquire_event(lphEvents[acquired], &held[acquired]);
    if (status != 0) break;
    if (fWaitAll) {
      for (DWORD other = 0; other < acquired; ++other) {
        if (held[other].index == held[acquired].index) {
          status = WSA_INVALID_PARAMETER;  // a copy of one handle
        }
      }
      if (status != 0) {
        ++acquired;
        break;
      }
    }
  }
  auto release_held = [&] {
    for (DWORD i = 0; i < acquired; ++i) release_event(held[i]);
  };
  if (status != 0) {
    release_held();
    fail(status);
    return WSA_WAIT_FAILED;
  }

  const int64_t deadline =
      dwTimeout == WSA_INFINITE ? -1 : now_ms() + static_cast<int64_t>(dwTimeout);
  pollfd entries[WSA_MAXIMUM_WAIT_EVENTS + 1];
  DWORD result = WSA_WAIT_TIMEOUT;
  auto time_left = [&]() -> int {
    if (deadline < 0) return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    return left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
  };
  int timeout = time_left();
  for (;;) {
    // One poll over the events and, when this process registered sockets,
    // the set that watches them: an event already set returns at once; the
    // watch set readable means a registered socket has something to record,
    // which may set one of these events.
    nfds_t count = 0;
    for (DWORD i = 0; i < cEvents; ++i) {
      entries[count++] = pollfd{held[i].descriptor, POLLIN, 0};
    }
    int watch = notification_descriptor();
    if (watch >= 0) entries[count++] = pollfd{watch, POLLIN, 0};
    int ready = poll(entries, count, timeout);
    if (ready < 0 && errno != EINTR) {
      release_held();
      fail(WSAENETDOWN);
      return WSA_WAIT_FAILED;
    }
    bool recorded = false;
    if (ready > 0 && watch >= 0 && (entries[cEvents].revents & POLLIN) != 0) {
      SignalledEvents set;
      pump_notifications(&set);
      recorded = true;
      // What the watch set recorded may have set events polled above as
      // not set: the pump says which it set.
      for (DWORD i = 0; i < cEvents; ++i) {
        if (set.overflow) {
          entries[i].revents = readable_now(held[i].descriptor) ? POLLIN : 0;
          continue;
        }
        for (int k = 0; k < set.count; ++k) {
          if (set.slots[k] == held[i].index) entries[i].revents = POLLIN;
        }
      }
    }
    if (fWaitAll) {
      bool all = true;
      for (DWORD i = 0; i < cEvents && all; ++i) {
        all = (entries[i].revents & POLLIN) != 0;
      }
      if (all) {
        result = WSA_WAIT_EVENT_0;
        break;
      }
    } else {
      bool found = false;
      for (DWORD i = 0; i < cEvents; ++i) {
        if ((entries[i].revents & POLLIN) != 0) {
          result = WSA_WAIT_EVENT_0 + i;
          found = true;
          break;
        }
      }
      if (found) break;
    }
    timeout = time_left();
    if (timeout == 0 && !recorded) {
      result = WSA_WAIT_TIMEOUT;
      break;
    }
    if (fWaitAll && ready > 0) {
      // Some are set and some not: sleep on the others only (the set ones
      // would wake the poll at once), then look at all of them again.
      count = 0;
      for (DWORD i = 0; i < cEvents; ++i) {
        if ((entries[i].revents & POLLIN) == 0) {
          entries[count++] = pollfd{held[i].descriptor, POLLIN, 0};
        }
      }
      if (watch >= 0) entries[count++] = pollfd{watch, POLLIN, 0};
      if (poll(entries, count, timeout) < 0 && errno != EINTR) {
        release_held();
        fail(WSAENETDOWN);
        return WSA_WAIT_FAILED;
      }
      timeout = 0;
    }
  }
  release_held();
  return result;
}
