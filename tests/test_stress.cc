// Load: four processes of four threads hand TCP sockets to each other for a
// bounded number of handoffs. Every handoff is checked end to end (the
// target writes a byte through the socket it imported, the source reads it
// on the other end, then sees the end of stream once both have closed), the
// per-pair counts must match exactly, and each process's descriptors and
// heap must come back to their baseline.
//
// WSADUP_STRESS_HANDOFFS sets the number of handoffs (all processes
// together, 100000 unless set), WSADUP_STRESS_SECONDS the deadline for them
// (90 s unless set).
//
// Tokens travel over the test's own channel: one Unix-domain datagram
// mailbox per thread, in a private directory. POSIX only.
#if !defined(_WIN32)
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WSADUP_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WSADUP_TEST_SANITIZER 1
#endif
#endif
#if defined(WSADUP_TEST_SANITIZER)
// From the sanitizer runtime (declared here: GCC installs no header for it).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace wsadup_test {
namespace {

constexpr int kProcesses = 4;
constexpr int kThreads = 4;
constexpr int kPeers = kProcesses - 1;
// Handoffs each thread makes before the baseline is taken: enough to reach
// every peer and grow the tables a steady run needs. How many rendezvous
// connections stay cached depends on how often threads happened to push to
// the same peer at once, so those are bounded rather than compared.
constexpr int kWarmUpHandoffs = 4 * kPeers;
constexpr unsigned long kDefaultHandoffs = 100000;
constexpr unsigned long kDefaultSeconds = 90;
// Heap in use may exceed its baseline by this much. The workers run with
// the C library's per-thread caches and per-thread arenas off (see
// kWorkerTunables), so the figure counts live blocks only. What remains:
// after the run, bookkeeping that depends on how many rendezvous connections
// happen to be open (an agent entry and a loop watch each, about
// 4 KiB at the 24 allowed); after WSACleanup, the TLS vectors the C library
// keeps with the stacks of exited threads for reuse (about 1.7 KiB). Neither
// grows with the number of handoffs: a leak of one 32-byte block per
// handoff is 800 KiB per process at the default count, 80 KiB at 10000.
constexpr long kHeapToleranceBytes = 8 * 1024;
constexpr char kWorkerTunables[] =
    "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1";

using Clock = std::chrono::steady_clock;

unsigned long from_environment(const char* name, unsigned long fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  unsigned long parsed = std::strtoul(value, nullptr, 10);
  return parsed == 0 ? fallback : parsed;
}

// ------------------------------------------------------------ snapshot --

// What a process holds at one moment. Descriptors are sorted by kind, so the
// rendezvous connections wsadup keeps on purpose (its cache) are told apart
// from everything that must come back exactly.
struct Snapshot {
  long descriptors = 0;
  long tcp = 0;         // AF_INET / AF_INET6 sockets
  long rendezvous = 0;  // AF_UNIX SOCK_SEQPACKET: agents and their callers
  long other = 0;
  long heap = 0;  // bytes in use
  long rss = 0;   // resident bytes, reported only
};

// Bytes the allocator has handed out and not taken back. Under Valgrind,
// which replaces the allocator, this reads 0: memcheck's own leak check
// stands in for it there.
long heap_in_use() {
#if defined(WSADUP_TEST_SANITIZER)
  return static_cast<long>(__sanitizer_get_current_allocated_bytes());
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 info = mallinfo2();
  return static_cast<long>(info.uordblks + info.hblkhd);
#else
  return 0;
#endif
}

long resident_bytes() {
  long pages = 0;
  long resident = 0;
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(statm);
  return resident * sysconf(_SC_PAGESIZE);
}

Snapshot take_snapshot() {
  Snapshot snapshot;
  snapshot.heap = heap_in_use();
  DIR* directory = opendir("/proc/self/fd");
  if (directory != nullptr) {
    while (dirent* entry = readdir(directory)) {
      if (entry->d_name[0] == '.') continue;
      int descriptor = std::atoi(entry->d_name);
      if (descriptor == dirfd(directory)) continue;
      ++snapshot.descriptors;
      struct stat status;
      int domain = 0;
      int type = 0;
      socklen_t length = sizeof(int);
      if (fstat(descriptor, &status) != 0 || !S_ISSOCK(status.st_mode) ||
          getsockopt(descriptor, SOL_SOCKET, SO_DOMAIN, &domain, &length) !=
              0 ||
          (length = sizeof(int),
           getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) != 0)) {
        ++snapshot.other;
      } else if (domain == AF_INET || domain == AF_INET6) {
        ++snapshot.tcp;
      } else if (domain == AF_UNIX && type == SOCK_SEQPACKET) {
        ++snapshot.rendezvous;
      } else {
        ++snapshot.other;
      }
    }
    closedir(directory);
  }
  snapshot.rss = resident_bytes();
  return snapshot;
}

std::string describe(const Snapshot& s) {
  std::ostringstream text;
  text << s.descriptors << ' ' << s.tcp << ' ' << s.rendezvous << ' ' << s.other
       << ' ' << s.heap << ' ' << s.rss;
  return text.str();
}

Snapshot parse_snapshot(std::istringstream& words) {
  Snapshot s;
  words >> s.descriptors >> s.tcp >> s.rendezvous >> s.other >> s.heap >> s.rss;
  return s;
}

// ----------------------------------------------------------- mailboxes --

enum MailKind : uint32_t { kToken = 1, kRun = 2, kStop = 3 };

// One datagram on a mailbox: a token and what the target must do with it.
struct Mail {
  uint32_t kind;
  uint32_t source_process;
  uint32_t source_thread;
  uint32_t sequence;
  uint16_t port;  // the source's listener: the imported socket's local port
  uint8_t byte;   // what the target writes through the imported socket
  uint8_t reserved;
  WSAPROTOCOL_INFOA token;
};

std::string mailbox_path(const std::string& directory, int process,
                         int thread) {
  return directory + "/" + std::to_string(process) + "." +
         std::to_string(thread);
}

bool fill_address(const std::string& path, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.size() >= sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.c_str(), path.size() + 1);
  return true;
}

int open_mailbox(const std::string& path) {
  sockaddr_un address;
  if (!fill_address(path, &address)) return -1;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0 &&
      bind(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

int connect_mailbox(const std::string& path) {
  sockaddr_un address;
  if (!fill_address(path, &address)) return -1;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s >= 0 &&
      connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

// -------------------------------------------------------------- worker --

// Where the mailboxes are: one per thread of every worker.
std::string g_mailbox_directory;

// The state one worker process shares between its threads.
struct Worker {
  int index = 0;
  std::vector<uint32_t> pids;
  unsigned long handoffs_per_thread[kThreads] = {};
  Clock::time_point deadline;
  int mailboxes[kThreads] = {-1, -1, -1, -1};

  std::mutex mutex;
  std::condition_variable changed;
  int warmed_up = 0;  // threads done with their warm-up handoffs
  int finished = 0;   // threads done with their measured handoffs
  std::vector<std::string> failures;

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (failures.size() < 8) failures.push_back(what);
  }
  void count(int* counter) {
    std::lock_guard<std::mutex> lock(mutex);
    ++*counter;
    changed.notify_all();
  }
  bool wait_for(int* counter, Clock::time_point until) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_until(lock, until,
                              [&] { return *counter == kThreads; });
  }
};

int remaining_ms(Clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// One thread of a worker: a source of handoffs to the same-numbered thread
// of every other process, and the target of theirs. While it waits on its
// own handoff it keeps serving its mailbox, so no two threads can wait on
// each other.
class WorkerThread {
 public:
  WorkerThread(Worker* worker, int thread) : worker_(worker), thread_(thread) {}

  void run() {
    bool ready = open_sockets();
    run_handoffs(ready ? kWarmUpHandoffs : 0, &warm_up_sourced_);
    worker_->count(&worker_->warmed_up);
    if (!serve_until(kRun)) worker_->fail(where() + "no run signal");
    run_handoffs(ready ? worker_->handoffs_per_thread[thread_] : 0, &sourced_);
    worker_->count(&worker_->finished);
    if (!serve_until(kStop)) worker_->fail(where() + "no stop signal");
    close_sockets();
  }

  unsigned long sourced() const { return sourced_; }
  const unsigned long* sent_to() const { return sent_to_; }
  const unsigned long* imported_from() const { return imported_from_; }

 private:
  std::string where() const {
    return "process " + std::to_string(worker_->index) + " thread " +
           std::to_string(thread_) + ": ";
  }

  bool open_sockets() {
    for (int process = 0; process < kProcesses; ++process) {
      if (process == worker_->index) continue;
      senders_[process] =
          connect_mailbox(mailbox_path(g_mailbox_directory, process, thread_));
      if (senders_[process] < 0) {
        worker_->fail(where() + "cannot reach mailbox of process " +
                      std::to_string(process));
        return false;
      }
    }
    listener_ = make_listener(AF_INET, &port_);
    if (listener_ == INVALID_SOCKET) {
      worker_->fail(where() + "no listener");
      return false;
    }
    return true;
  }

  void close_sockets() {
    for (int& sender : senders_) {
      if (sender >= 0) close(sender);
      sender = -1;
    }
    if (listener_ != INVALID_SOCKET) closesocket(listener_);
    listener_ = INVALID_SOCKET;
  }

  void run_handoffs(unsigned long count, unsigned long* sourced) {
    for (unsigned long i = 0; i < count; ++i) {
      if (Clock::now() >= worker_->deadline) {
        worker_->fail(where() + "deadline passed after " + std::to_string(i) +
                      " of " + std::to_string(count) + " handoffs");
        return;
      }
      // Each thread starts at a different peer, so the processes are not
      // all pushing to the same one at once.
      int peer = (worker_->index + 1 +
                  static_cast<int>((i + static_cast<unsigned long>(thread_)) %
                                   kPeers)) %
                 kProcesses;
      if (!hand_off(peer)) return;
      ++*sourced;
      ++sent_to_[peer];
    }
  }

  // One handoff to process peer, verified end to end.
  bool hand_off(int peer) {
    ++sequence_;
    SOCKET client = connect_to(AF_INET, port_);
    if (client == INVALID_SOCKET) {
      worker_->fail(where() + "connect failed");
      return false;
    }
    SOCKET server = INVALID_SOCKET;
    pollfd waiting{static_cast<int>(listener_), POLLIN, 0};
    if (poll(&waiting, 1, kProcessTimeoutMs) == 1) {
      server = accept(listener_, nullptr, nullptr);
    }
    if (server == INVALID_SOCKET) {
      worker_->fail(where() + "accept failed");
      closesocket(client);
      return false;
    }
    Mail mail;
    std::memset(&mail, 0, sizeof(mail));
    mail.kind = kToken;
    mail.source_process = static_cast<uint32_t>(worker_->index);
    mail.source_thread = static_cast<uint32_t>(thread_);
    mail.sequence = sequence_;
    mail.port = port_;
    mail.byte = static_cast<uint8_t>(sequence_ * 131u + 17u * thread_ +
                                     7u * worker_->index + 1u);
    int duplicated =
        WSADuplicateSocketA(server, worker_->pids[peer], &mail.token);
    int error = WSAGetLastError();
    // The token holds its own reference: the source lets go at once, as a
    // Windows dispatcher may.
    closesocket(server);
    bool ok = true;
    if (duplicated != 0) {
      worker_->fail(where() + "WSADuplicateSocket to process " +
                    std::to_string(peer) + " failed with " +
                    std::to_string(error));
      ok = false;
    }
    ok = ok && send_mail(peer, mail);
    ok = ok && expect_byte(client, mail.byte, peer);
    // Everything is verified: close with a reset, which also ends the
    // target's half at once. An orderly close would leave a TIME_WAIT entry
    // per handoff on the machine for a minute (100000 of them).
    linger abortive{1, 0};
    setsockopt(client, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
    closesocket(client);
    return ok;
  }

  bool send_mail(int peer, const Mail& mail) {
    Clock::time_point until =
        Clock::now() + std::chrono::milliseconds(kProcessTimeoutMs);
    for (;;) {
      if (send(senders_[peer], &mail, sizeof(mail), MSG_DONTWAIT) ==
          static_cast<ssize_t>(sizeof(mail))) {
        return true;
      }
      if (errno != EAGAIN && errno != EINTR) break;
      // The peer's mailbox is full: serve ours while it drains.
      if (!wait_serving(senders_[peer], POLLOUT, until)) break;
    }
    worker_->fail(where() + "cannot post a token to process " +
                  std::to_string(peer));
    return false;
  }

  // The target's byte arrives on the source's end, then the end of stream:
  // the target closed its imported descriptor and nothing else holds the
  // socket (not the source, not a forgotten inbox entry).
  bool expect_byte(SOCKET client, uint8_t expected, int peer) {
    Clock::time_point until =
        Clock::now() + std::chrono::milliseconds(kProcessTimeoutMs);
    char got[2];
    std::string from = " from process " + std::to_string(peer) + " (handoff " +
                       std::to_string(sequence_) + ")";
    if (!wait_serving(static_cast<int>(client), POLLIN, until) ||
        recv(client, got, 1, 0) != 1) {
      worker_->fail(where() + "no byte" + from);
      return false;
    }
    if (static_cast<uint8_t>(got[0]) != expected) {
      worker_->fail(where() + "wrong byte" + from);
      return false;
    }
    if (!wait_serving(static_cast<int>(client), POLLIN, until) ||
        recv(client, got, 2, 0) != 0) {
      worker_->fail(where() + "no end of stream" + from);
      return false;
    }
    return true;
  }

  // Waits for events on descriptor while serving this thread's mailbox.
  // Control mail that arrives meanwhile is an error: it only comes once every
  // thread has finished its handoffs.
  bool wait_serving(int descriptor, short events, Clock::time_point until) {
    for (;;) {
      pollfd waiting[2] = {{descriptor, events, 0},
                           {worker_->mailboxes[thread_], POLLIN, 0}};
      int ready = poll(waiting, 2, remaining_ms(until));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      if (waiting[1].revents != 0) {
        uint32_t control = serve_mailbox();
        if (control != 0) {
          worker_->fail(where() + "control mail during handoffs");
          return false;
        }
      }
      if (waiting[0].revents != 0) return true;
    }
  }

  // Serves the mailbox until control mail of this kind arrives.
  bool serve_until(uint32_t kind) {
    Clock::time_point until =
        worker_->deadline + std::chrono::milliseconds(kProcessTimeoutMs);
    for (;;) {
      pollfd waiting{worker_->mailboxes[thread_], POLLIN, 0};
      int ready = poll(&waiting, 1, remaining_ms(until));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      uint32_t control = serve_mailbox();
      if (control == kind) return true;
      if (control != 0) return false;
    }
  }

  // Handles every queued mail. Returns the kind of control mail, if one
  // came (it is always the last: it is sent only when no tokens are due).
  uint32_t serve_mailbox() {
    for (;;) {
      Mail mail;
      ssize_t got =
          recv(worker_->mailboxes[thread_], &mail, sizeof(mail), MSG_DONTWAIT);
      if (got < 0) return 0;
      if (got != static_cast<ssize_t>(sizeof(mail))) {
        worker_->fail(where() + "short mail");
        continue;
      }
      if (mail.kind != kToken) return mail.kind;
      receive(mail);
    }
  }

  // The target's side: import, write the byte, close.
  void receive(Mail& mail) {
    std::string from = " from process " + std::to_string(mail.source_process) +
                       " (handoff " + std::to_string(mail.sequence) + ")";
    SOCKET imported = import_token(&mail.token);
    if (imported == INVALID_SOCKET) {
      worker_->fail(where() + "import failed with " +
                    std::to_string(WSAGetLastError()) + from);
      return;
    }
    sockaddr_storage address;
    socklen_t length = sizeof(address);
    bool right_socket =
        getsockname(imported, reinterpret_cast<sockaddr*>(&address), &length) ==
            0 &&
        address.ss_family == AF_INET &&
        ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port) == mail.port;
    if (!right_socket)
      worker_->fail(where() + "imported another socket" + from);
    char byte = static_cast<char>(mail.byte);
    if (right_socket && send(imported, &byte, 1, MSG_NOSIGNAL) != 1) {
      worker_->fail(where() + "cannot write through the import" + from);
    }
    closesocket(imported);
    if (mail.source_process < kProcesses) {
      ++imported_from_[mail.source_process];
    }
  }

  Worker* worker_;
  int thread_;
  int senders_[kProcesses] = {-1, -1, -1, -1};
  SOCKET listener_ = INVALID_SOCKET;
  unsigned short port_ = 0;
  uint32_t sequence_ = 0;
  unsigned long warm_up_sourced_ = 0;
  unsigned long sourced_ = 0;
  unsigned long sent_to_[kProcesses] = {};
  unsigned long imported_from_[kProcesses] = {};
};

// Sends control mail to each of this process's threads.
bool signal_threads(const Worker& worker, uint32_t kind) {
  Mail mail;
  std::memset(&mail, 0, sizeof(mail));
  mail.kind = kind;
  bool ok = true;
  for (int thread = 0; thread < kThreads; ++thread) {
    int sender = connect_mailbox(
        mailbox_path(g_mailbox_directory, worker.index, thread));
    ok = ok && sender >= 0 &&
         send(sender, &mail, sizeof(mail), 0) ==
             static_cast<ssize_t>(sizeof(mail));
    if (sender >= 0) close(sender);
  }
  return ok;
}

bool expect_command(const std::string& expected, int timeout_ms) {
  std::string command;
  return helper_read_frame(&command, timeout_ms) && command == expected;
}

// The worker helper: arguments are its index, the mailbox directory, the
// number of handoffs for all processes together, and the deadline in
// seconds. It answers the test's commands in a fixed order.
int run_worker(const std::vector<std::string>& arguments) {
  if (arguments.size() != 4) return 2;
  Worker worker;
  worker.index = std::atoi(arguments[0].c_str());
  g_mailbox_directory = arguments[1];
  unsigned long total = std::strtoul(arguments[2].c_str(), nullptr, 10);
  unsigned long seconds = std::strtoul(arguments[3].c_str(), nullptr, 10);
  for (int thread = 0; thread < kThreads; ++thread) {
    unsigned long slot =
        static_cast<unsigned long>(worker.index * kThreads + thread);
    unsigned long slots = kProcesses * kThreads;
    worker.handoffs_per_thread[thread] =
        total / slots + (slot < total % slots ? 1 : 0);
  }
  for (int thread = 0; thread < kThreads; ++thread) {
    worker.mailboxes[thread] =
        open_mailbox(mailbox_path(g_mailbox_directory, worker.index, thread));
    if (worker.mailboxes[thread] < 0) return 2;
  }

  Snapshot before_startup = take_snapshot();
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (!helper_write_frame("ready " + std::to_string(current_pid()))) return 5;

  std::string go;
  if (!helper_read_frame(&go) || go.compare(0, 3, "go ") != 0) return 5;
  std::istringstream pids(go.substr(3));
  for (int process = 0; process < kProcesses; ++process) {
    uint32_t pid = 0;
    pids >> pid;
    worker.pids.push_back(pid);
  }
  worker.deadline = Clock::now() + std::chrono::seconds(seconds);
  Clock::time_point bound =
      worker.deadline + std::chrono::milliseconds(kProcessTimeoutMs);

  std::vector<std::unique_ptr<WorkerThread>> workers;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    workers.emplace_back(new WorkerThread(&worker, thread));
  }
  for (auto& thread : workers) {
    threads.emplace_back([raw = thread.get()] { raw->run(); });
  }
  int timeout_ms = remaining_ms(bound);
  bool ok = worker.wait_for(&worker.warmed_up, bound) &&
            helper_write_frame("warm") && expect_command("measure", timeout_ms);
  Snapshot warm = take_snapshot();
  Clock::time_point started = Clock::now();
  ok = ok && helper_write_frame("measured") &&
       expect_command("run", timeout_ms) && signal_threads(worker, kRun) &&
       worker.wait_for(&worker.finished, bound);
  double elapsed =
      std::chrono::duration<double>(Clock::now() - started).count();
  ok = ok && helper_write_frame("sourced") &&
       expect_command("measure", remaining_ms(bound));
  Snapshot after_run = take_snapshot();
  ok = ok && helper_write_frame("measured") &&
       expect_command("stop", remaining_ms(bound));
  // The test has failed already and says why; leave at once rather than
  // wait for threads that may be blocked on a peer that is gone.
  if (!ok) std::_Exit(5);
  signal_threads(worker, kStop);
  for (std::thread& thread : threads) thread.join();
  while (WSACleanup() == 0) {
  }
  Snapshot after_cleanup = take_snapshot();

  std::ostringstream report;
  unsigned long sourced = 0;
  unsigned long sent_to[kProcesses] = {};
  unsigned long imported_from[kProcesses] = {};
  for (auto& thread : workers) {
    sourced += thread->sourced();
    for (int process = 0; process < kProcesses; ++process) {
      sent_to[process] += thread->sent_to()[process];
      imported_from[process] += thread->imported_from()[process];
    }
  }
  report << "sourced " << sourced << "\nseconds " << elapsed << "\nsent_to";
  for (unsigned long n : sent_to) report << ' ' << n;
  report << "\nimported_from";
  for (unsigned long n : imported_from) report << ' ' << n;
  report << "\nbefore_startup " << describe(before_startup) << "\nwarm "
         << describe(warm) << "\nafter_run " << describe(after_run)
         << "\nafter_cleanup " << describe(after_cleanup) << "\n";
  for (const std::string& failure : worker.failures) {
    report << "failure " << failure << "\n";
  }
  for (int thread = 0; thread < kThreads; ++thread) {
    close(worker.mailboxes[thread]);
    unlink(mailbox_path(g_mailbox_directory, worker.index, thread).c_str());
  }
  return helper_write_frame(report.str()) ? 0 : 5;
}

// -------------------------------------------------------------- parent --

struct WorkerReport {
  unsigned long sourced = 0;
  double seconds = 0;
  unsigned long sent_to[kProcesses] = {};
  unsigned long imported_from[kProcesses] = {};
  Snapshot before_startup, warm, after_run, after_cleanup;
  std::vector<std::string> failures;
};

WorkerReport parse_report(const std::string& text) {
  WorkerReport report;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "sourced") words >> report.sourced;
    if (key == "seconds") words >> report.seconds;
    if (key == "sent_to") {
      for (unsigned long& n : report.sent_to) words >> n;
    }
    if (key == "imported_from") {
      for (unsigned long& n : report.imported_from) words >> n;
    }
    if (key == "before_startup") report.before_startup = parse_snapshot(words);
    if (key == "warm") report.warm = parse_snapshot(words);
    if (key == "after_run") report.after_run = parse_snapshot(words);
    if (key == "after_cleanup") report.after_cleanup = parse_snapshot(words);
    if (key == "failure") report.failures.push_back(line.substr(8));
  }
  return report;
}

// Removes the mailbox directory and whatever a killed worker left in it.
class MailboxDirectory {
 public:
  MailboxDirectory() {
    char pattern[] = "/tmp/wsadup-stress-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~MailboxDirectory() {
    if (path_.empty()) return;
    for (int process = 0; process < kProcesses; ++process) {
      for (int thread = 0; thread < kThreads; ++thread) {
        unlink(mailbox_path(path_, process, thread).c_str());
      }
    }
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using Stress = ConformanceTest;

// Sends command to every worker and reads one reply from each.
bool command_all(std::vector<std::unique_ptr<ChildProcess>>& workers,
                 const std::string& command, const std::string& reply,
                 int timeout_ms, std::vector<std::string>* replies = nullptr) {
  for (auto& worker : workers) {
    if (!command.empty() && !write_frame(*worker, command)) return false;
  }
  for (auto& worker : workers) {
    std::string got;
    if (!read_frame(*worker, &got, timeout_ms)) return false;
    if (replies != nullptr) {
      replies->push_back(got);
    } else if (got.compare(0, reply.size(), reply) != 0) {
      return false;
    }
  }
  return true;
}

TEST_F(Stress, FourProcessesOfFourThreadsHandOffSocketsAndLoseNothing) {
  const unsigned long handoffs =
      from_environment("WSADUP_STRESS_HANDOFFS", kDefaultHandoffs);
  const unsigned long seconds =
      from_environment("WSADUP_STRESS_SECONDS", kDefaultSeconds);
  const int bound_ms = static_cast<int>(seconds * 1000) + kProcessTimeoutMs;
  MailboxDirectory mailboxes;
  ASSERT_FALSE(mailboxes.path().empty());

  // Blocks parked in a thread's allocation cache count as in use, and each
  // thread's arena adds its own header: both would blur the workers' heap
  // figure by what each thread happened to do last.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::string saved = tunables != nullptr ? tunables : "";
  std::string worker_tunables =
      (saved.empty() ? "" : saved + ":") + kWorkerTunables;
  setenv("GLIBC_TUNABLES", worker_tunables.c_str(), 1);
  std::vector<std::unique_ptr<ChildProcess>> workers;
  for (int process = 0; process < kProcesses; ++process) {
    workers.push_back(ChildProcess::spawn(
        "stress", {std::to_string(process), mailboxes.path(),
                   std::to_string(handoffs), std::to_string(seconds)}));
  }
  if (tunables != nullptr) {
    setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
  for (auto& worker : workers) ASSERT_TRUE(worker) << "cannot start a worker";

  std::vector<std::string> hellos;
  ASSERT_TRUE(command_all(workers, "", "", kProcessTimeoutMs, &hellos))
      << "a worker did not start";
  std::string go = "go";
  for (const std::string& hello : hellos) {
    ASSERT_EQ(hello.compare(0, 6, "ready "), 0) << hello;
    go += " " + hello.substr(6);
  }
  ASSERT_TRUE(command_all(workers, go, "warm", bound_ms))
      << "the warm-up did not finish in time";
  ASSERT_TRUE(command_all(workers, "measure", "measured", kProcessTimeoutMs));
  Clock::time_point started = Clock::now();
  ASSERT_TRUE(command_all(workers, "run", "sourced", bound_ms))
      << "the handoffs did not finish within " << seconds << " s";
  double elapsed =
      std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_TRUE(command_all(workers, "measure", "measured", kProcessTimeoutMs));
  std::vector<std::string> texts;
  ASSERT_TRUE(command_all(workers, "stop", "", kProcessTimeoutMs, &texts))
      << "a worker did not report";
  for (auto& worker : workers) {
    EXPECT_EQ(worker->wait(kProcessTimeoutMs), 0) << "a worker failed";
  }

  std::vector<WorkerReport> reports;
  for (const std::string& text : texts) reports.push_back(parse_report(text));
  unsigned long sourced = 0;
  for (int p = 0; p < kProcesses; ++p) {
    const WorkerReport& report = reports[p];
    std::string who = "process " + std::to_string(p);
    for (const std::string& failure : report.failures) {
      ADD_FAILURE() << failure;
    }
    sourced += report.sourced;
    // Every socket one process handed to another arrived there: counted
    // by the source after its byte and end of stream, by the target after
    // its import.
    for (int q = 0; q < kProcesses; ++q) {
      EXPECT_EQ(report.sent_to[q], reports[q].imported_from[p])
          << who << " to process " << q;
    }
    // After the last handoff: no socket left behind, nothing else grown.
    // Only the rendezvous connections vary: the cached connections to each
    // peer (at most one per thread pushing to it at once) and the agent's
    // side of the peers' cached connections, plus the agent's listener.
    EXPECT_EQ(report.after_run.tcp, report.warm.tcp) << who;
    EXPECT_EQ(report.after_run.other, report.warm.other) << who;
    EXPECT_LE(report.after_run.rendezvous, 1 + 2 * kPeers * kThreads) << who;
    EXPECT_LE(report.after_run.heap - report.warm.heap, kHeapToleranceBytes)
        << who << ": heap grew from " << report.warm.heap << " to "
        << report.after_run.heap;
    // After WSACleanup: exactly what the process had before WSAStartup.
    EXPECT_EQ(report.after_cleanup.descriptors,
              report.before_startup.descriptors)
        << who;
    EXPECT_EQ(report.after_cleanup.rendezvous, 0) << who;
    EXPECT_LE(report.after_cleanup.heap - report.before_startup.heap,
              kHeapToleranceBytes)
        << who << ": heap grew from " << report.before_startup.heap << " to "
        << report.after_cleanup.heap;
  }
  EXPECT_EQ(sourced, handoffs) << "handoffs made, all processes together";

  std::cout << "[ stress   ] " << sourced << " handoffs in " << elapsed
            << " s: " << static_cast<long>(sourced / elapsed)
            << " handoffs/s\n";
  for (int p = 0; p < kProcesses; ++p) {
    const WorkerReport& r = reports[p];
    std::cout << "[ stress   ] process " << p << ": descriptors "
              << r.before_startup.descriptors << " before WSAStartup, "
              << r.warm.descriptors << " after warm-up (" << r.warm.rendezvous
              << " rendezvous), " << r.after_run.descriptors
              << " after the run (" << r.after_run.rendezvous
              << " rendezvous), " << r.after_cleanup.descriptors
              << " after WSACleanup; heap " << r.before_startup.heap << " / "
              << r.warm.heap << " / " << r.after_run.heap << " / "
              << r.after_cleanup.heap << " bytes; rss "
              << r.before_startup.rss / 1024 << " / " << r.warm.rss / 1024
              << " / " << r.after_run.rss / 1024 << " / "
              << r.after_cleanup.rss / 1024 << " KiB\n";
  }
  RecordProperty("handoffs", static_cast<int>(sourced));
  RecordProperty("handoffs_per_second", static_cast<int>(sourced / elapsed));
}

}  // namespace
}  // namespace wsadup_test

WSADUP_TEST_HELPER(stress) { return wsadup_test::run_worker(arguments); }

#endif  // !defined(_WIN32)
