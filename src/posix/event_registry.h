// The per-user shared record of WSAEventSelect registrations: one record per
// socket, keyed by the socket's kernel identity (SO_COOKIE), whichever
// process and descriptor registered it. It is a fixed-size file in the
// user's private rendezvous directory, mapped shared by every process of
// that user that calls WSAStartup, with one robust process-shared lock: a
// process that dies holding it leaves it to the next locker, which repairs
// the one record that was being changed. docs/design.md, "Notification".
#ifndef WSADUP_SRC_POSIX_EVENT_REGISTRY_H
#define WSADUP_SRC_POSIX_EVENT_REGISTRY_H

#include <pthread.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace wsadup::detail {

// What the registry knows of a socket. Plain data: another process may
// write any of it, so nothing here is ever used as an index or a size.
struct RegistryRecord {
  uint64_t cookie;
  uint32_t state;        // kRecordEmpty, kRecordUsed, kRecordRemoved
  uint32_t flags;        // kRecord* below
  uint64_t generation;   // changes with every WSAEventSelect on the socket
  int32_t owner_pid;     // the registrant: it alone sets its event
  uint32_t signal_owed;  // recorded by another process, not yet signalled
  uint64_t owner_start;  // the registrant's start time (pid reuse)
  uint32_t mask;         // lNetworkEvents of the registration; 0: none
  uint32_t pending;      // recorded, not yet enumerated
  uint32_t reported;     // recorded since last re-enabled
  uint32_t reserved;
  int32_t errors[10];    // iErrorCode of each FD_x_BIT
};
static_assert(sizeof(RegistryRecord) == 96, "registry record layout");

constexpr uint32_t kRecordEmpty = 0;
constexpr uint32_t kRecordUsed = 1;
constexpr uint32_t kRecordRemoved = 2;

// Record flags: what the registry learnt of the connection.
constexpr uint32_t kRecordStream = 1u << 0;      // SOCK_STREAM
constexpr uint32_t kRecordConnecting = 1u << 1;  // a connect is under way
constexpr uint32_t kRecordConnected = 1u << 2;   // seen connected once

struct RegistryHeader;

class Registry {
 public:
  // Opens the registry file at path, creating it (whole, under another name,
  // then linked) when there is none. Returns 0 and *registry, or
  // WSAENETDOWN for a file that is not a registry this user owns alone
  // (wrong owner, mode, type, size, magic or version, never finished):
  // nothing repairs it in place, since another process may use it.
  static int open(const std::string& path, Registry** registry);

  // The lock, bounded: 0, or WSAENETDOWN when it cannot be had within
  // kLockTimeoutMs (a holder stopped with SIGSTOP, a corrupt lock word).
  int lock();
  void unlock();

  // Under the lock. find returns the socket's record or nullptr; insert
  // returns a new, zeroed record for cookie (state used), reclaiming the
  // records of dead registrants and of cancelled registrations when the
  // table is full, or nullptr when it stays full (WSAENOBUFS).
  RegistryRecord* find(uint64_t cookie);
  RegistryRecord* insert(uint64_t cookie);
  void remove(RegistryRecord* record);

  // Under the lock, around every change of one record: a process that dies
  // between them leaves that record to be reset by the next locker.
  void begin_change(RegistryRecord* record);
  void end_change();

  // Records with a non-zero mask, in every process; read without the lock
  // (re-enabling's fast path), changed under it.
  uint64_t registrations() const;
  void count_registration(int delta);

  size_t slot_count() const;
  RegistryRecord* slot(size_t index);

 private:
  Registry() = default;
  void repair_after_owner_died();

  RegistryHeader* header_ = nullptr;
  RegistryRecord* records_ = nullptr;
};

constexpr int kRegistryLockTimeoutMs = 2000;
constexpr uint32_t kRegistrySlots = 4096;

// The start time of process pid (clock ticks since boot, from /proc), or 0
// when it cannot be read. With the pid it names one process for the boot.
uint64_t process_start_time(pid_t pid);
// This process's, cached (renewed in a forked child).
uint64_t own_start_time();
// False when pid is gone or is now another process than the one that
// started at start.
bool registrant_alive(pid_t pid, uint64_t start);

// The registry of this user's processes, mapped by the first WSAStartup
// (map_process_registry); nullptr with *error set when it is unusable.
Registry* process_registry(int* error);
void map_process_registry();

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_EVENT_REGISTRY_H
