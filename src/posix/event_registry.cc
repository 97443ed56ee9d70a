// The shared record of registrations (event_registry.h): the file, its
// checks, its lock, and the open-addressed table of records.
#include "posix/event_registry.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "posix/internal.h"
#include "posix/notification.h"

namespace wsadup::detail {

constexpr uint32_t kRegistryMagic = 0x56455357;  // "WSEV" read little-endian
constexpr uint32_t kRegistryVersion = 1;

struct RegistryHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t slot_count;
  uint32_t record_size;
  uint32_t ready;            // written last by the initialiser
  uint32_t changing_plus_one;  // index + 1 of the record being changed
  uint64_t registrations;
  pthread_mutex_t lock;
  uint8_t reserved[128 - 32 - sizeof(pthread_mutex_t)];
};
static_assert(sizeof(RegistryHeader) == 128, "registry header layout");

namespace {

constexpr size_t kRegistryBytes =
    sizeof(RegistryHeader) + sizeof(RegistryRecord) * kRegistrySlots;

size_t home_slot(uint64_t cookie) {
  // SO_COOKIE values are sequential: spread them.
  uint64_t mixed = cookie * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(mixed >> 52) % kRegistrySlots;
}

bool initialise(RegistryHeader* header) {
  std::memset(header, 0, kRegistryBytes);
  pthread_mutexattr_t attributes;
  if (pthread_mutexattr_init(&attributes) != 0) return false;
  bool ok = pthread_mutexattr_setpshared(&attributes,
                                         PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST) ==
                0 &&
            pthread_mutex_init(&header->lock, &attributes) == 0;
  pthread_mutexattr_destroy(&attributes);
  if (!ok) return false;
  header->magic = kRegistryMagic;
  header->version = kRegistryVersion;
  header->slot_count = kRegistrySlots;
  header->record_size = sizeof(RegistryRecord);
  __atomic_store_n(&header->ready, 1u, __ATOMIC_RELEASE);
  return true;
}

bool header_valid(const RegistryHeader* header) {
  return header->magic == kRegistryMagic &&
         header->version == kRegistryVersion &&
         header->slot_count == kRegistrySlots &&
         header->record_size == sizeof(RegistryRecord);
}

// Maps a registry file that exists and checks it. 0 or WSAENETDOWN.
int map_existing(int descriptor, void** mapping) {
  struct stat info;
  if (fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode) ||
      info.st_uid != geteuid() || (info.st_mode & 077) != 0 ||
      info.st_size != static_cast<off_t>(kRegistryBytes)) {
    return WSAENETDOWN;
  }
  void* mapped = mmap(nullptr, kRegistryBytes, PROT_READ | PROT_WRITE,
                      MAP_SHARED, descriptor, 0);
  if (mapped == MAP_FAILED) return WSAENETDOWN;
  auto* header = static_cast<RegistryHeader*>(mapped);
  if (__atomic_load_n(&header->ready, __ATOMIC_ACQUIRE) != 1 ||
      !header_valid(header)) {
    munmap(mapped, kRegistryBytes);
    return WSAENETDOWN;
  }
  *mapping = mapped;
  return 0;
}

// Makes a new registry under a private name, initialised, and links it to
// path: another process never sees it half made, and of two processes that
// create it at once, one link wins and both use the winner's. Returns 0,
// EEXIST (someone else's is there now: open it), or WSAENETDOWN.
int create_registry(const std::string& path) {
  Nonce suffix;
  if (make_nonce(&suffix) != 0) return WSAENETDOWN;
  char name[40];
  std::snprintf(name, sizeof name, ".%02x%02x%02x%02x%02x%02x%02x%02x",
                suffix[0], suffix[1], suffix[2], suffix[3], suffix[4],
                suffix[5], suffix[6], suffix[7]);
  std::string temporary = path + name;
  int descriptor = ::open(temporary.c_str(),
                          O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0600);
  if (descriptor < 0) return WSAENETDOWN;
  int status = WSAENETDOWN;
  void* mapping = MAP_FAILED;
  if (ftruncate(descriptor, static_cast<off_t>(kRegistryBytes)) == 0) {
    mapping = mmap(nullptr, kRegistryBytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED, descriptor, 0);
  }
  if (mapping != MAP_FAILED &&
      initialise(static_cast<RegistryHeader*>(mapping))) {
    status = link(temporary.c_str(), path.c_str()) == 0 ? 0
             : errno == EEXIST                          ? EEXIST
                                                        : WSAENETDOWN;
  }
  if (mapping != MAP_FAILED) munmap(mapping, kRegistryBytes);
  unlink(temporary.c_str());
  close(descriptor);
  return status;
}

std::mutex g_registry_mutex;
std::atomic<Registry*> g_registry{nullptr};
std::string* g_registry_path = nullptr;  // under g_registry_mutex
// Registries mapped before (another WSADUP_RUNTIME_DIR, another user after
// a change of credentials): never unmapped, since a thread may still read
// one; kept reachable here.
std::vector<Registry*>* g_retired_registries = nullptr;

void retire_current_locked() {
  Registry* current = g_registry.load();
  if (current == nullptr) return;
  if (g_retired_registries == nullptr) {
    g_retired_registries = new std::vector<Registry*>();
  }
  g_retired_registries->push_back(current);
}
std::atomic<int> g_registry_error{WSAENETDOWN};  // until mapped

std::atomic<uint64_t> g_own_start{0};
std::atomic<uint64_t> g_own_start_generation{~0ull};

}  // namespace

int Registry::open(const std::string& path, Registry** registry) {
  void* mapping = nullptr;
  int status = WSAENETDOWN;
  for (int attempt = 0; attempt < 2 && mapping == nullptr; ++attempt) {
    int descriptor = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (descriptor >= 0) {
      status = map_existing(descriptor, &mapping);
      close(descriptor);  // the mapping stays
      break;
    }
    if (errno != ENOENT) return WSAENETDOWN;
    status = create_registry(path);
    if (status != 0 && status != EEXIST) return WSAENETDOWN;
  }
  if (mapping == nullptr) return WSAENETDOWN;
  (void)status;
  auto* opened = new Registry();
  opened->header_ = static_cast<RegistryHeader*>(mapping);
  opened->records_ = reinterpret_cast<RegistryRecord*>(
      static_cast<char*>(mapping) + sizeof(RegistryHeader));
  *registry = opened;
  return 0;
}

int Registry::lock() {
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += kRegistryLockTimeoutMs / 1000;
  deadline.tv_nsec += (kRegistryLockTimeoutMs % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }
  int status = pthread_mutex_timedlock(&header_->lock, &deadline);
  if (status == EOWNERDEAD) {
    // Its last holder died holding it: whatever record it was changing is
    // reset, then the lock is usable again.
    repair_after_owner_died();
    pthread_mutex_consistent(&header_->lock);
    status = 0;
  }
  return status == 0 ? 0 : WSAENETDOWN;
}

void Registry::unlock() { pthread_mutex_unlock(&header_->lock); }

void Registry::repair_after_owner_died() {
  uint32_t changing = header_->changing_plus_one;
  if (changing != 0 && changing <= kRegistrySlots) {
    RegistryRecord& record = records_[changing - 1];
    std::memset(&record, 0, sizeof record);
    record.state = kRecordRemoved;
  }
  header_->changing_plus_one = 0;
  uint64_t count = 0;
  for (size_t i = 0; i < kRegistrySlots; ++i) {
    if (records_[i].state == kRecordUsed && records_[i].mask != 0) ++count;
  }
  __atomic_store_n(&header_->registrations, count, __ATOMIC_RELAXED);
}

RegistryRecord* Registry::find(uint64_t cookie) {
  size_t index = home_slot(cookie);
  for (size_t probe = 0; probe < kRegistrySlots; ++probe) {
    RegistryRecord& record = records_[index];
    if (record.state == kRecordEmpty) return nullptr;
    if (record.state == kRecordUsed && record.cookie == cookie) return &record;
    index = (index + 1) % kRegistrySlots;
  }
  return nullptr;
}

RegistryRecord* Registry::insert(uint64_t cookie) {
  for (int round = 0; round < 2; ++round) {
    size_t index = home_slot(cookie);
    for (size_t probe = 0; probe < kRegistrySlots; ++probe) {
      RegistryRecord& record = records_[index];
      if (record.state != kRecordUsed) {
        begin_change(&record);
        std::memset(&record, 0, sizeof record);
        record.cookie = cookie;
        record.state = kRecordUsed;
        end_change();
        return &record;
      }
      index = (index + 1) % kRegistrySlots;
    }
    // Full: records of registrants that are gone, and of registrations
    // cancelled since, are only history; they make room.
    for (size_t i = 0; i < kRegistrySlots; ++i) {
      RegistryRecord& record = records_[i];
      if (record.state != kRecordUsed) continue;
      if (record.mask == 0 ||
          !registrant_alive(record.owner_pid, record.owner_start)) {
        remove(&record);
      }
    }
  }
  return nullptr;
}

void Registry::remove(RegistryRecord* record) {
  begin_change(record);
  if (record->state == kRecordUsed && record->mask != 0) {
    count_registration(-1);
  }
  std::memset(record, 0, sizeof *record);
  record->state = kRecordRemoved;
  // A removed record followed by an empty one ends every probe sequence
  // through it, so it and the removed ones before it can be empty again.
  size_t index = static_cast<size_t>(record - records_);
  if (records_[(index + 1) % kRegistrySlots].state == kRecordEmpty) {
    size_t at = index;
    for (size_t steps = 0;
         steps < kRegistrySlots && records_[at].state == kRecordRemoved;
         ++steps) {
      records_[at].state = kRecordEmpty;
      at = (at + kRegistrySlots - 1) % kRegistrySlots;
    }
  }
  end_change();
}

void Registry::begin_change(RegistryRecord* record) {
  header_->changing_plus_one =
      static_cast<uint32_t>(record - records_) + 1u;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void Registry::end_change() {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  header_->changing_plus_one = 0;
}

uint64_t Registry::registrations() const {
  return __atomic_load_n(&header_->registrations, __ATOMIC_RELAXED);
}

void Registry::count_registration(int delta) {
  uint64_t count = __atomic_load_n(&header_->registrations, __ATOMIC_RELAXED);
  if (delta < 0 && count == 0) return;
  __atomic_store_n(&header_->registrations,
                   count + static_cast<uint64_t>(static_cast<int64_t>(delta)),
                   __ATOMIC_RELAXED);
}

size_t Registry::slot_count() const { return kRegistrySlots; }
RegistryRecord* Registry::slot(size_t index) { return &records_[index]; }

uint64_t process_start_time(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int descriptor = ::open(path, O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return 0;
  char text[1024];
  ssize_t length = read(descriptor, text, sizeof text - 1);
  close(descriptor);
  if (length <= 0) return 0;
  text[length] = '\0';
  // The command name may hold spaces and parentheses: fields are counted
  // after its last ')'. starttime is field 22; the one after ')' is field 3.
  char* field = std::strrchr(text, ')');
  if (field == nullptr) return 0;
  int number = 2;
  while (*field != '\0' && number < 22) {
    if (*field == ' ') ++number;
    ++field;
  }
  if (number != 22) return 0;
  return std::strtoull(field, nullptr, 10);
}

uint64_t own_start_time() {
  uint64_t generation = fork_generation();
  if (g_own_start_generation.load(std::memory_order_acquire) != generation) {
    g_own_start.store(process_start_time(getpid()), std::memory_order_relaxed);
    g_own_start_generation.store(generation, std::memory_order_release);
  }
  return g_own_start.load(std::memory_order_relaxed);
}

bool registrant_alive(pid_t pid, uint64_t start) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  uint64_t now = process_start_time(pid);
  return now == 0 || start == 0 || now == start;
}

void map_process_registry() {
  std::string directory;
  if (own_rendezvous_directory(&directory) != 0) return;
  std::string path = directory + "/events.v1";
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  if (g_registry.load() != nullptr && g_registry_path != nullptr &&
      *g_registry_path == path) {
    return;
  }
  Registry* registry = nullptr;
  int status = Registry::open(path, &registry);
  if (status != 0) {
    // Not the one mapped before either (WSADUP_RUNTIME_DIR changed): the
    // old one is left mapped, unused.
    retire_current_locked();
    g_registry.store(nullptr, std::memory_order_release);
    g_registry_error.store(status);
    return;
  }
  retire_current_locked();
  g_registry.store(registry, std::memory_order_release);
  if (g_registry_path == nullptr) g_registry_path = new std::string();
  *g_registry_path = path;
  g_registry_error.store(0);
  // Another process of this user may register a socket this one holds:
  // re-enabling calls look at the registry from now on.
  g_notification_possible.store(true, std::memory_order_relaxed);
}

Registry* process_registry(int* error) {
  Registry* registry = g_registry.load(std::memory_order_acquire);
  if (registry == nullptr) *error = g_registry_error.load();
  return registry;
}

}  // namespace wsadup::detail
