// POSIX process layer: fork/exec of this executable, pipes on the child's
// standard input and output, and bounded waits with poll() and pidfds.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#if defined(__linux__)
#include <dirent.h>
#endif

#include "harness/platform.h"
#include "harness/process.h"

namespace wsadup_test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool write_all_fd(int fd, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

bool read_exact_fd(int fd, void* data, size_t size, int timeout_ms) {
  char* bytes = static_cast<char*>(data);
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (size > 0) {
    pollfd waiting{fd, POLLIN, 0};
    int ready = poll(&waiting, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;  // timeout or error
    ssize_t got = read(fd, bytes, size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    bytes += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

class PosixChild : public ChildProcess {
 public:
  PosixChild(pid_t pid, int input, int output)
      : pid_(pid), input_(input), output_(output) {}
  ~PosixChild() override {
    if (pid_ > 0) kill();
    close_input();
    if (output_ >= 0) close(output_);
  }

  uint32_t pid() const override { return static_cast<uint32_t>(pid_); }
  bool write_all(const void* data, size_t size) override {
    return input_ >= 0 && write_all_fd(input_, data, size);
  }
  bool read_exact(void* data, size_t size, int timeout_ms) override {
    return read_exact_fd(output_, data, size, timeout_ms);
  }
  void close_input() override {
    if (input_ >= 0) close(input_);
    input_ = -1;
  }
  int wait(int timeout_ms) override {
    if (pid_ <= 0) return -1;
    int status = 0;
    if (!wait_bounded(timeout_ms, &status)) {
      kill();
      return -1;
    }
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }
  void kill() override {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  // Waits for the child with a pidfd where the kernel has one, so the wait
  // is an event, not a polling loop.
  bool wait_bounded(int timeout_ms, int* status) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd waiting{pidfd, POLLIN, 0};
      int ready;
      do {
        ready = poll(&waiting, 1, timeout_ms);
      } while (ready < 0 && errno == EINTR);
      close(pidfd);
      if (ready <= 0) return false;
      while (waitpid(pid_, status, 0) < 0) {
        if (errno != EINTR) return false;
      }
      return true;
    }
#endif
    Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      pid_t done = waitpid(pid_, status, WNOHANG);
      if (done == pid_) return true;
      if (done < 0 && errno != EINTR) return false;
      if (remaining_ms(deadline) == 0) return false;
      // Fallback without pidfds: a short, bounded back-off between checks.
      poll(nullptr, 0, 5);
    }
  }

  pid_t pid_;
  int input_;
  int output_;
};

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(
    const std::string& helper, const std::vector<std::string>& arguments) {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return nullptr;
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return nullptr;
  }
  std::string executable = executable_path();
  std::vector<std::string> words = {executable, "--wsadup-helper", helper};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(&word[0]);
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    execv(executable.c_str(), argv.data());
    _exit(126);
  }
  close(to_child[0]);
  close(from_child[1]);
  if (pid < 0) {
    close(to_child[1]);
    close(from_child[0]);
    return nullptr;
  }
  return std::unique_ptr<ChildProcess>(
      new PosixChild(pid, to_child[1], from_child[0]));
}

bool helper_write_raw(const void* data, size_t size) {
  return write_all_fd(1, data, size);
}

bool helper_read_raw(void* data, size_t size, int timeout_ms) {
  return read_exact_fd(0, data, size, timeout_ms);
}

bool running_under_wine() { return false; }

size_t open_descriptor_count() {
#if defined(__linux__)
  size_t count = 0;
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return 0;
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(directory);
  return count - 1;  // the directory's own descriptor
#else
  size_t count = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) ++count;
  }
  return count;
#endif
}

uint32_t current_pid() { return static_cast<uint32_t>(getpid()); }

std::string executable_path() {
#if defined(__linux__)
  char path[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return std::string();
  return std::string(path, static_cast<size_t>(length));
#else
#error "executable_path: add this platform"
#endif
}

}  // namespace wsadup_test
