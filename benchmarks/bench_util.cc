#include "bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace wsadup_bench {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all_bounded(int fd, void* data, size_t size, int timeout_ms) {
  char* p = static_cast<char*>(data);
  uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  while (size > 0) {
    uint64_t now = now_ns();
    if (now >= deadline) return false;
    pollfd item{fd, POLLIN, 0};
    int ready = poll(&item, 1, static_cast<int>((deadline - now) / 1000000ull) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

Child spawn_role(const std::string& role, const std::vector<int>& fds,
                 const std::vector<std::string>& args) {
  Child child;
  pid_t pid = fork();
  if (pid < 0) return child;
  if (pid == 0) {
    // Move the descriptors out of the way first, then into place.
    std::vector<int> high;
    for (int fd : fds) high.push_back(fcntl(fd, F_DUPFD, 1000));
    for (size_t i = 0; i < high.size(); ++i) {
      dup2(high[i], 3 + static_cast<int>(i));
    }
    syscall(SYS_close_range, 3 + fds.size(), ~0u, 0);
    std::vector<std::string> all = {"/proc/self/exe", "--role", role};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& item : all) argv.push_back(item.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  child.pid = pid;
  return child;
}

int reap(pid_t pid, int timeout_ms) {
  uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  for (;;) {
    int status = 0;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (got < 0) return -1;
    if (now_ns() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    // Bounded wait for the exit, via a pidfd when there is one.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      pollfd item{pidfd, POLLIN, 0};
      poll(&item, 1, 100);
      close(pidfd);
    } else {
      timespec pause{0, 1000000};
      nanosleep(&pause, nullptr);
    }
  }
}

int run_capture(const std::vector<std::string>& command, std::string* output,
                int timeout_ms) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(out[1], 1);
    std::vector<std::string> copy = command;
    std::vector<char*> argv;
    for (std::string& item : copy) argv.push_back(item.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  char buffer[65536];
  for (;;) {
    uint64_t now = now_ns();
    if (now >= deadline) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd item{out[0], POLLIN, 0};
    int ready = poll(&item, 1, static_cast<int>((deadline - now) / 1000000ull) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output->append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);
  return reap(pid, 5000);
}

bool tcp_pair(int* client, int* server) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(listener);
    return false;
  }
  *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*client < 0 ||
      connect(*client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(listener);
    return false;
  }
  *server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  return *server >= 0;
}

double percentile_us(const std::vector<uint64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted_ns.size())));
  if (rank == 0) rank = 1;
  return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

double mean_ns(const std::vector<uint64_t>& samples_ns) {
  if (samples_ns.empty()) return 0;
  long double sum = 0;
  for (uint64_t v : samples_ns) sum += v;
  return static_cast<double>(sum / samples_ns.size());
}

size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t heap_bytes() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

ThreadUsage thread_usage(pid_t tid) {
  ThreadUsage usage;
  std::string base = "/proc/self/task/" + std::to_string(tid);
  std::ifstream stat(base + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return usage;
  // Fields after the command name, which ends at the last ')'.
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return usage;
  std::istringstream fields(line.substr(close_paren + 2));
  std::vector<std::string> values;
  std::string value;
  while (fields >> value) values.push_back(value);
  // values[0] is field 3 (state); utime is field 14, stime field 15.
  if (values.size() < 13) return usage;
  uint64_t ticks = std::stoull(values[11]) + std::stoull(values[12]);
  usage.cpu_ns = ticks * (1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  // schedstat's first field is the thread's time on a CPU in nanoseconds,
  // far finer than stat's clock ticks; use it where the kernel has it.
  std::ifstream schedstat(base + "/schedstat");
  uint64_t on_cpu_ns = 0;
  if (schedstat >> on_cpu_ns) usage.cpu_ns = on_cpu_ns;
  std::ifstream status(base + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
        line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
      usage.switches += std::stoull(line.substr(line.find(':') + 1));
    }
  }
  usage.ok = true;
  return usage;
}

std::vector<pid_t> thread_ids_of(pid_t pid) {
  std::vector<pid_t> ids;
  std::string path = "/proc/" + (pid == 0 ? std::string("self")
                                          : std::to_string(pid)) + "/task";
  DIR* directory = opendir(path.c_str());
  if (directory == nullptr) return ids;
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] == '.') continue;
    ids.push_back(static_cast<pid_t>(std::atoi(entry->d_name)));
  }
  closedir(directory);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<pid_t> thread_ids() { return thread_ids_of(0); }

}  // namespace wsadup_bench
