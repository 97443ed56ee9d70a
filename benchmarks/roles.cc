// The child processes of the benchmark driver. Each one is this executable
// re-run as "--role <name>" (fork/exec), with its descriptors at 3, 4, ...
// Children block on their descriptors; the driver bounds every wait and a
// child whose driver went away reads end-of-file and exits.
#include "roles.h"

#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"
#include "notification_rows.h"
#include "wsadup/wsadup.h"

namespace wsadup_bench {
namespace {

// raw_target: fd 3 is one end of a connected AF_UNIX pair. Receives one
// descriptor per message, answers one byte, closes the descriptor.
int raw_target() {
  for (;;) {
    char byte;
    iovec data{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(3, &header, MSG_CMSG_CLOEXEC);
    if (got <= 0) return 0;
    int received = -1;
    cmsghdr* item = CMSG_FIRSTHDR(&header);
    if (item != nullptr && item->cmsg_type == SCM_RIGHTS) {
      std::memcpy(&received, CMSG_DATA(item), sizeof(int));
    }
    char reply = received >= 0 ? 'A' : 'E';
    if (send(3, &reply, 1, MSG_NOSIGNAL) != 1) return 1;
    if (received >= 0) close(received);
  }
}

// Writes 'A', or 'E' and the Winsock error.
bool answer(int fd, bool ok, int error) {
  if (ok) return write_all(fd, "A", 1);
  char message[5] = {'E'};
  std::memcpy(message + 1, &error, sizeof(error));
  return write_all(fd, message, sizeof(message));
}

pid_t agent_thread_id() {
  for (pid_t tid : thread_ids()) {
    if (tid != getpid()) return tid;
  }
  return -1;
}

// push_target: fd 3 carries Commands from the driver, fd 4 the answers.
// Calls WSAStartup first, so every duplicate to it takes the push path.
int push_target() {
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 1;
  if (!write_all(4, "R", 1)) return 1;
  SOCKET data_socket = INVALID_SOCKET;
  std::vector<char> buffer;
  for (;;) {
    Command command;
    if (!read_all(3, &command, sizeof(command))) break;
    switch (command.op) {
      case 'T': {  // import, acknowledge, close
        SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                              FROM_PROTOCOL_INFO, &command.token, 0, 0);
        if (!answer(4, s != INVALID_SOCKET, WSAGetLastError())) return 1;
        if (s != INVALID_SOCKET) closesocket(s);
        break;
      }
      case 'P':  // the token IPC alone: answer, no descriptor
        if (!write_all(4, "A", 1)) return 1;
        break;
      case 'D': {  // import and keep, for the data path
        data_socket = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                                 FROM_PROTOCOL_INFO, &command.token, 0, 0);
        if (!answer(4, data_socket != INVALID_SOCKET, WSAGetLastError())) {
          return 1;
        }
        break;
      }
      case 'W': {  // one data-path round through the imported descriptor
        uint64_t size;
        std::memcpy(&size, &command.token, sizeof(size));
        uint64_t elapsed = data_round(static_cast<int>(data_socket), size);
        if (!write_all(4, &elapsed, sizeof(elapsed))) return 1;
        break;
      }
      case 'M': {  // memory in use now
        uint64_t values[2] = {heap_bytes(), rss_bytes()};
        if (!write_all(4, values, sizeof(values))) return 1;
        break;
      }
      case 'I': {  // the agent thread's CPU and wake-ups over an idle window
        uint32_t window_ms;
        std::memcpy(&window_ms, &command.token, sizeof(window_ms));
        pid_t tid = agent_thread_id();
        ThreadUsage before = thread_usage(tid);
        // The measurement window itself: nothing waits on this.
        timespec window{static_cast<time_t>(window_ms / 1000),
                        static_cast<long>(window_ms % 1000) * 1000000L};
        nanosleep(&window, nullptr);
        ThreadUsage after = thread_usage(tid);
        uint64_t values[3] = {after.cpu_ns - before.cpu_ns,
                              after.switches - before.switches,
                              before.ok && after.ok ? 1u : 0u};
        if (!write_all(4, values, sizeof(values))) return 1;
        break;
      }
      default:
        return 2;
    }
  }
  WSACleanup();
  return 0;
}

// pull_target: has not called WSAStartup when the driver duplicates to it.
// Per token: WSAStartup, import (a pull from the driver's agent), answer,
// then close and WSACleanup so the next duplicate again finds no agent;
// 'R' and the WSAStartup time in ns say it is ready for the next.
int pull_target() {
  uint64_t zero = 0;
  if (!write_all(4, "R", 1) || !write_all(4, &zero, sizeof(zero))) return 1;
  for (;;) {
    Command command;
    if (!read_all(3, &command, sizeof(command))) return 0;
    uint64_t t0 = now_ns();
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 1;
    uint64_t startup = now_ns() - t0;
    SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                          FROM_PROTOCOL_INFO, &command.token, 0, 0);
    if (!answer(4, s != INVALID_SOCKET, WSAGetLastError())) return 1;
    if (s != INVALID_SOCKET) closesocket(s);
    WSACleanup();
    if (!write_all(4, "R", 1) || !write_all(4, &startup, sizeof(startup))) {
      return 1;
    }
  }
}

// idle_target: a process that never initialises; lives until fd 3 closes.
int idle_target() {
  char byte;
  while (read(3, &byte, 1) > 0) {
  }
  return 0;
}

// sink: fd 3 is a connected TCP socket. Reads rounds of `size` bytes and
// answers one byte after each.
// The data path's writer (either side) and the sink always run on the same
// two CPUs, so the two descriptors are compared under the same placement;
// left to the scheduler, writer and sink sometimes share a CPU, which moved
// single runs by up to 20 % either way.
void pin_self_to(int cpu) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus > 1 ? cpu : 0, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

int sink(uint64_t size) {
  pin_self_to(1);
  std::vector<char> buffer(1 << 20);
  for (;;) {
    uint64_t left = size;
    while (left > 0) {
      ssize_t got = recv(3, buffer.data(),
                         left < buffer.size() ? left : buffer.size(), 0);
      if (got <= 0) return 0;
      left -= static_cast<uint64_t>(got);
    }
    if (send(3, "a", 1, MSG_NOSIGNAL) != 1) return 1;
  }
}

}  // namespace

uint64_t data_round(int socket_fd, uint64_t size) {
  static std::vector<char> chunk(256 * 1024, 'x');
  cpu_set_t before;
  sched_getaffinity(0, sizeof(before), &before);
  pin_self_to(0);
  struct Restore {
    cpu_set_t* set;
    ~Restore() { sched_setaffinity(0, sizeof(*set), set); }
  } restore{&before};
  uint64_t t0 = now_ns();
  uint64_t left = size;
  while (left > 0) {
    size_t piece = left < chunk.size() ? static_cast<size_t>(left) : chunk.size();
    ssize_t sent = send(socket_fd, chunk.data(), piece, MSG_NOSIGNAL);
    if (sent <= 0) return 0;
    left -= static_cast<uint64_t>(sent);
  }
  char ack;
  if (recv(socket_fd, &ack, 1, 0) != 1) return 0;
  return now_ns() - t0;
}

int run_role(const std::string& role, const std::vector<std::string>& args) {
  if (role == "raw_target") return raw_target();
  if (role == "push_target") return push_target();
  if (role == "pull_target") return pull_target();
  if (role == "idle_target") return idle_target();
  if (role == "sink" && !args.empty()) return sink(std::stoull(args[0]));
  if (is_notification_role(role)) return run_notification_role(role, args);
  return 64;
}

}  // namespace wsadup_bench
