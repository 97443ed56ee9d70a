// Private declarations of notification (WSAEventSelect and its events):
//   wsa_event.cc         WSAEVENT objects (eventfd) and WSAWaitForMultipleEvents
//   event_registry.cc    the per-user shared record of registrations, one per
//                        socket whichever process holds it (mmap'd file,
//                        robust process-shared lock)
//   event_select.cc      WSAEventSelect, WSAEnumNetworkEvents, recording and
//                        signalling, re-enabling, accept inheritance
// docs/design.md, "Notification", says how they fit.
#ifndef WSADUP_SRC_POSIX_NOTIFICATION_H
#define WSADUP_SRC_POSIX_NOTIFICATION_H

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

#include "wsadup/wsadup.h"

namespace wsadup::detail {

// ---------------------------------------------------------------- events --

// A reference to an event object's slot, held by a registration or a wait:
// its descriptor stays open while any reference does.
struct EventReference {
  uint32_t index = 0;
  int descriptor = -1;
};
// 0, or WSA_INVALID_HANDLE when handle is not an open event.
int acquire_event(WSAEVENT handle, EventReference* reference);
void release_event(const EventReference& reference);
// Another reference to the slot reference holds (an accepted socket taking
// its listener's registration): 0, or WSA_INVALID_HANDLE.
int retain_event(const EventReference& reference, EventReference* copy);
// The descriptor of an open event, or -1.
int event_descriptor(WSAEVENT handle);
void signal_event_descriptor(int descriptor);
void reset_event_descriptor(int descriptor);
// The last WSACleanup: every handle becomes invalid.
void close_all_events();
// In a forked child: the inherited events are the parent's; dropped.
void forget_events_after_fork();
std::mutex& events_mutex();

// -------------------------------------------------------------- watching --

// A descriptor that becomes readable when a socket this process registered
// may have something to record, or -1 when it registered none. A wait polls
// it and then calls pump_notifications, which records and signals.
int notification_descriptor();
// The event slots a pump set, so that a wait knows without asking them.
constexpr int kMaxSignalledEvents = 64;
struct SignalledEvents {
  uint32_t slots[kMaxSignalledEvents];
  int count = 0;
  bool overflow = false;  // more were set than fit: ask every event
};
void pump_notifications(SignalledEvents* set = nullptr);

// ------------------------------------------------------------ re-enabling --
// Called by wsadup's recv/send/accept family after the system call, with the
// call's outcome. Each costs one relaxed load when no socket of this user is
// registered anywhere.
extern std::atomic<bool> g_notification_possible;

void reenable_after_receive_slow(int s, bool out_of_band);
void reenable_after_send_slow(int s, bool would_block);
void reenable_after_accept_slow(int listener, int accepted);

// Each leaves errno as it found it: the caller's failure is still what
// WSAGetLastError reports.
inline void reenable_after_receive(int s, bool out_of_band = false) {
  if (g_notification_possible.load(std::memory_order_relaxed)) {
    int saved = errno;
    reenable_after_receive_slow(s, out_of_band);
    errno = saved;
  }
}
inline void reenable_after_send(int s, bool would_block) {
  if (g_notification_possible.load(std::memory_order_relaxed)) {
    int saved = errno;
    reenable_after_send_slow(s, would_block);
    errno = saved;
  }
}
inline void reenable_after_accept(int listener, int accepted) {
  if (g_notification_possible.load(std::memory_order_relaxed)) {
    int saved = errno;
    reenable_after_accept_slow(listener, accepted);
    errno = saved;
  }
}

// closesocket(s) in this process, before the descriptor is closed: a
// registration this process made on s ends.
void cancel_registration_on_close(int s);

// True while s has a registration with a non-zero mask (ioctlsocket's
// FIONBIO 0 is then WSAEINVAL, from any process holding the socket).
bool registration_in_force(int s);

// WSACleanup's last call: this process's registrations and watches end, and
// its event objects are closed.
void notification_cleanup();

// fork(): held across it; in the child, the parent's watches, bell and
// events are dropped (they are the parent's objects).
std::mutex& notification_mutex();
void forget_notification_after_fork();

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_NOTIFICATION_H
