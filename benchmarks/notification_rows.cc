// Rows N1 - N3 and the idle measurement: WSAEventSelect notification
// against the kernel's own readiness notification (epoll), in the same
// rounds of the same run.
//
//   N1, N2  one WSAEventSelect call in this process: a registration
//           (FD_READ | FD_CLOSE with an event) and its cancellation, against
//           what the kernel needs for the same effect.
//   N3      one byte through a loopback TCP connection, echoed by another
//           process, until the registrant's wait returned and it enumerated
//           and received the byte; against the same ping-pong with a bare
//           epoll_wait.
//   idle    a child process with many registered sockets that never get
//           data, one thread in WSAWaitForMultipleEvents with a timeout:
//           every context switch of the process is counted.
//
// Each row runs in rounds that alternate every thread of every process
// between one CPU and all CPUs (as rows 1P/1U), and within a round the
// library and the kernel take turns, one call or one echo each, the first
// one alternating, so that neither a slow stretch of the machine, nor where
// the scheduler put the processes, nor the order weighs on one side.
#include "notification_rows.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"
#include "wsadup/wsadup.h"

namespace wsadup_bench {
namespace {

// ------------------------------------------------------------- counts --

struct Counts {
  int cost_calls = 2000;  // register + cancel pairs, each side, per block
  int pingpongs = 2000;   // each side, per block
  int warmup = 100;       // untimed, each side, per block
  int idle_sockets = 1000;
};

Counts g_counts;
NotificationPlan g_plan;

struct NotifyRow {
  std::string id;
  std::string name;
  std::string baseline;  // the id of the row it is compared with, or ""
  std::vector<uint64_t> samples;
  std::string error;
};

std::vector<NotifyRow> g_notify_rows;

// Per round, library p50 over kernel p50: the targets are their medians.
struct Ratios {
  std::vector<double> pinned, unpinned;
};
Ratios g_register, g_cancel, g_wakeup;
uint64_t g_spurious = 0;  // waits that returned with nothing to receive
bool g_failed = false;

std::string winsock_error(const char* call) {
  return std::string(call) + ": " + wsadup_error_name(WSAGetLastError());
}

std::string errno_error(const char* call) {
  return std::string(call) + ": " + std::strerror(errno);
}

double p50_us(std::vector<uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  return percentile_us(samples, 0.5);
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void no_delay(int s) {
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// ----------------------------------------------------- N1, N2: one call --

// The library: a registration of FD_READ | FD_CLOSE with an event, then its
// cancellation, each timed alone. After the first pair the socket's record
// exists with an empty mask, so every timed registration is the steady
// state: no record is created.
std::string library_call(int s, WSAEVENT event, uint64_t* register_ns,
                         uint64_t* cancel_ns) {
  uint64_t t0 = now_ns();
  if (WSAEventSelect(s, event, FD_READ | FD_CLOSE) != 0) {
    return winsock_error("WSAEventSelect");
  }
  uint64_t t1 = now_ns();
  if (WSAEventSelect(s, nullptr, 0) != 0) {
    return winsock_error("WSAEventSelect(0)");
  }
  uint64_t t2 = now_ns();
  *register_ns = t1 - t0;
  *cancel_ns = t2 - t1;
  return "";
}

// The kernel's equivalent of one registration: what WSAEventSelect must do
// by definition, make the socket non-blocking (F_GETFL, F_SETFL) and start
// watching it for the same conditions (EPOLLIN | EPOLLRDHUP, edge-triggered,
// which is what the library watches for FD_READ | FD_CLOSE); epoll_ctl's ADD
// also checks what is ready already, as the registration must. Of a
// cancellation: the DEL. The same socket as the library's.
std::string kernel_call(int s, int epoll, uint64_t* register_ns,
                        uint64_t* cancel_ns) {
  uint64_t t0 = now_ns();
  int flags = fcntl(s, F_GETFL);
  if (flags < 0 || fcntl(s, F_SETFL, flags | O_NONBLOCK) != 0) {
    return errno_error("fcntl");
  }
  epoll_event item{};
  item.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  item.data.fd = s;
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, s, &item) != 0) {
    return errno_error("epoll_ctl ADD");
  }
  uint64_t t1 = now_ns();
  if (epoll_ctl(epoll, EPOLL_CTL_DEL, s, nullptr) != 0) {
    return errno_error("epoll_ctl DEL");
  }
  uint64_t t2 = now_ns();
  *register_ns = t1 - t0;
  *cancel_ns = t2 - t1;
  return "";
}

void rows_select_cost() {
  NotifyRow rows[2][4];
  for (int mode = 0; mode < 2; ++mode) {
    const char* where = mode == 0 ? "one CPU" : "all CPUs";
    const char* suffix = mode == 0 ? "P" : "U";
    rows[mode][0] = {std::string("N1") + suffix,
                     std::string("WSAEventSelect(s, ev, FD_READ|FD_CLOSE), ") + where,
                     std::string("N1k") + suffix, {}, ""};
    rows[mode][1] = {std::string("N1k") + suffix,
                     "  kernel: fcntl F_GETFL + F_SETFL O_NONBLOCK + epoll ADD",
                     "", {}, ""};
    rows[mode][2] = {std::string("N2") + suffix,
                     std::string("WSAEventSelect(s, NULL, 0), cancel, ") + where,
                     std::string("N2k") + suffix, {}, ""};
    rows[mode][3] = {std::string("N2k") + suffix, "  kernel: epoll_ctl DEL",
                     "", {}, ""};
  }
  std::string error;
  int client = -1, server = -1;
  WSAEVENT event = WSA_INVALID_EVENT;
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (!tcp_pair(&client, &server)) error = "tcp_pair failed";
  if (error.empty() && epoll < 0) error = errno_error("epoll_create1");
  if (error.empty()) {
    event = WSACreateEvent();
    if (event == WSA_INVALID_EVENT) error = winsock_error("WSACreateEvent");
  }
  for (int round = 0; round < g_plan.rounds && error.empty(); ++round) {
    for (int mode = 0; mode < 2 && error.empty(); ++mode) {
      g_plan.place(0, mode == 0);
      std::vector<uint64_t> library_register, library_cancel;
      std::vector<uint64_t> kernel_register, kernel_cancel;
      // One call of each side in turn, the first one alternating.
      for (int i = 0; i < g_counts.warmup + g_counts.cost_calls && error.empty(); ++i) {
        uint64_t library[2] = {0, 0}, kernel[2] = {0, 0};
        for (int side = 0; side < 2 && error.empty(); ++side) {
          error = (side == 0) == (i % 2 == 0)
                      ? library_call(server, event, &library[0], &library[1])
                      : kernel_call(server, epoll, &kernel[0], &kernel[1]);
        }
        if (i < g_counts.warmup) continue;
        library_register.push_back(library[0]);
        library_cancel.push_back(library[1]);
        kernel_register.push_back(kernel[0]);
        kernel_cancel.push_back(kernel[1]);
      }
      if (!error.empty()) break;
      (mode == 0 ? g_register.pinned : g_register.unpinned)
          .push_back(p50_us(library_register) / p50_us(kernel_register));
      (mode == 0 ? g_cancel.pinned : g_cancel.unpinned)
          .push_back(p50_us(library_cancel) / p50_us(kernel_cancel));
      std::vector<uint64_t>* sources[4] = {&library_register, &kernel_register,
                                           &library_cancel, &kernel_cancel};
      for (int k = 0; k < 4; ++k) {
        rows[mode][k].samples.insert(rows[mode][k].samples.end(),
                                     sources[k]->begin(), sources[k]->end());
      }
    }
  }
  g_plan.place(0, g_plan.default_pinned);
  // A cancelled registration keeps the socket's record in the user's shared
  // registry (with an empty mask) until the table needs the slot; closing
  // the socket while registered removes it, so the run leaves none behind.
  if (event != WSA_INVALID_EVENT) WSAEventSelect(server, event, FD_READ | FD_CLOSE);
  if (server >= 0) closesocket(server);
  if (event != WSA_INVALID_EVENT) WSACloseEvent(event);
  if (epoll >= 0) close(epoll);
  if (client >= 0) close(client);
  for (auto& mode : rows) {
    for (NotifyRow& row : mode) {
      row.error = error;
      g_notify_rows.push_back(row);
    }
  }
}

// ------------------------------------------------- N3: notification latency --

// The peer of N3: fds 3 and 4 are connected TCP sockets, one per side;
// every byte that arrives on either goes straight back. One process for
// both, so that both sides always meet the same peer on the same CPU.
int echo_peer() {
  for (;;) {
    pollfd sockets[2] = {{3, POLLIN, 0}, {4, POLLIN, 0}};
    int ready = poll(sockets, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return 1;
    for (const pollfd& item : sockets) {
      if (item.revents == 0) continue;
      char byte;
      ssize_t got = recv(item.fd, &byte, 1, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return 0;
      if (send(item.fd, &byte, 1, MSG_NOSIGNAL) != 1) return 1;
    }
  }
}

// One byte out and back, as a server loop driven by WSAEventSelect sees it:
// the wait returns, WSAEnumNetworkEvents says FD_READ (and resets the
// event), WSARecv takes the byte and re-enables FD_READ.
std::string library_pingpong(int s, WSAEVENT event, uint64_t* elapsed) {
  char byte = 'p';
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + static_cast<uint64_t>(kWaitMs) * 1000000ull;
  if (send(s, &byte, 1, MSG_NOSIGNAL) != 1) return errno_error("send");
  for (;;) {
    DWORD woke = WSAWaitForMultipleEvents(1, &event, FALSE, kWaitMs, FALSE);
    if (woke == WSA_WAIT_TIMEOUT) return "no notification within the bound";
    if (woke != WSA_WAIT_EVENT_0) return winsock_error("WSAWaitForMultipleEvents");
    WSANETWORKEVENTS happened{};
    if (WSAEnumNetworkEvents(s, event, &happened) != 0) {
      return winsock_error("WSAEnumNetworkEvents");
    }
    if ((happened.lNetworkEvents & FD_CLOSE) != 0) return "the echo peer closed";
    if ((happened.lNetworkEvents & FD_READ) != 0) break;
    ++g_spurious;
    if (now_ns() > deadline) return "no FD_READ within the bound";
  }
  WSABUF buffer;
  buffer.len = 1;
  buffer.buf = &byte;
  DWORD got = 0, flags = 0;
  if (WSARecv(s, &buffer, 1, &got, &flags, nullptr, nullptr) != 0 || got != 1) {
    return winsock_error("WSARecv");
  }
  *elapsed = now_ns() - t0;
  return "";
}

// The same ping-pong on a non-blocking socket in a level-triggered epoll
// set: epoll_wait, then recv.
std::string kernel_pingpong(int s, int epoll, uint64_t* elapsed) {
  char byte = 'p';
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + static_cast<uint64_t>(kWaitMs) * 1000000ull;
  if (send(s, &byte, 1, MSG_NOSIGNAL) != 1) return errno_error("send");
  for (;;) {
    epoll_event ready;
    int count = epoll_wait(epoll, &ready, 1, kWaitMs);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("epoll_wait");
    if (count == 0) return "no readiness within the bound";
    ssize_t got = recv(s, &byte, 1, 0);
    if (got == 1) break;
    if (got == 0) return "the echo peer closed";
    if (errno != EAGAIN && errno != EINTR) return errno_error("recv");
    ++g_spurious;
    if (now_ns() > deadline) return "no data within the bound";
  }
  *elapsed = now_ns() - t0;
  return "";
}

void rows_wakeup() {
  NotifyRow rows[2][2];
  for (int mode = 0; mode < 2; ++mode) {
    const char* suffix = mode == 0 ? "P" : "U";
    rows[mode][0] = {std::string("N3") + suffix,
                     std::string("1 B echoed -> WSAWait.. + WSAEnum.. + WSARecv, ") +
                         (mode == 0 ? "one CPU" : "all CPUs"),
                     std::string("N3k") + suffix, {}, ""};
    rows[mode][1] = {std::string("N3k") + suffix,
                     "  kernel: the same echo, epoll_wait + recv", "", {}, ""};
  }
  std::string error;
  // Two connections, one per side, both echoed by one process: the two
  // sides differ in nothing but how the driver learns that the byte is back.
  int library_socket = -1, library_peer = -1, kernel_socket = -1, kernel_peer = -1;
  Child echo;
  WSAEVENT event = WSA_INVALID_EVENT;
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (!tcp_pair(&library_socket, &library_peer) ||
      !tcp_pair(&kernel_socket, &kernel_peer)) {
    error = "tcp_pair failed";
  }
  if (error.empty()) {
    for (int s : {library_socket, library_peer, kernel_socket, kernel_peer}) {
      no_delay(s);
    }
    echo = spawn_role("notify_echo", {library_peer, kernel_peer}, {});
    if (echo.pid <= 0) error = "could not start the echo peer";
  }
  if (library_peer >= 0) close(library_peer);
  if (kernel_peer >= 0) close(kernel_peer);
  if (error.empty()) {
    event = WSACreateEvent();
    if (event == WSA_INVALID_EVENT) error = winsock_error("WSACreateEvent");
  }
  if (error.empty() && WSAEventSelect(library_socket, event, FD_READ | FD_CLOSE) != 0) {
    error = winsock_error("WSAEventSelect");
  }
  if (error.empty()) {
    // Non-blocking, as WSAEventSelect made the library's socket.
    int flags = fcntl(kernel_socket, F_GETFL);
    epoll_event item{};
    item.events = EPOLLIN;
    item.data.fd = kernel_socket;
    if (epoll < 0 || flags < 0 ||
        fcntl(kernel_socket, F_SETFL, flags | O_NONBLOCK) != 0 ||
        epoll_ctl(epoll, EPOLL_CTL_ADD, kernel_socket, &item) != 0) {
      error = errno_error("epoll set");
    }
  }
  for (int round = 0; round < g_plan.rounds && error.empty(); ++round) {
    for (int mode = 0; mode < 2 && error.empty(); ++mode) {
      g_plan.place(0, mode == 0);
      g_plan.place(echo.pid, mode == 0);
      // One echo of each side in turn, the first one alternating: unpinned,
      // where the scheduler puts the two processes changes from moment to
      // moment, and both sides meet each placement alike.
      std::vector<uint64_t> library, kernel;
      for (int i = 0; i < g_counts.warmup + g_counts.pingpongs && error.empty(); ++i) {
        uint64_t elapsed[2] = {0, 0};  // library, kernel
        for (int side = 0; side < 2 && error.empty(); ++side) {
          error = (side == 0) == (i % 2 == 0)
                      ? library_pingpong(library_socket, event, &elapsed[0])
                      : kernel_pingpong(kernel_socket, epoll, &elapsed[1]);
        }
        if (i < g_counts.warmup) continue;
        library.push_back(elapsed[0]);
        kernel.push_back(elapsed[1]);
      }
      if (!error.empty()) break;
      (mode == 0 ? g_wakeup.pinned : g_wakeup.unpinned)
          .push_back(p50_us(library) / p50_us(kernel));
      rows[mode][0].samples.insert(rows[mode][0].samples.end(), library.begin(),
                                   library.end());
      rows[mode][1].samples.insert(rows[mode][1].samples.end(), kernel.begin(),
                                   kernel.end());
    }
  }
  g_plan.place(0, g_plan.default_pinned);
  if (epoll >= 0) close(epoll);
  // The peer reads end-of-file and exits. Closed while registered, so that
  // its record leaves the registry too.
  if (library_socket >= 0) closesocket(library_socket);
  if (event != WSA_INVALID_EVENT) WSACloseEvent(event);
  if (kernel_socket >= 0) close(kernel_socket);
  if (echo.pid > 0) reap(echo.pid, kWaitMs);
  for (auto& mode : rows) {
    for (NotifyRow& row : mode) {
      row.error = error;
      g_notify_rows.push_back(row);
    }
  }
}

// ------------------------------------------------------------ idle cost --

// What one idle window cost the whole process, and each kind of thread.
struct IdleWindow {
  uint64_t wall_ns;
  uint64_t process_cpu_ns;       // CLOCK_PROCESS_CPUTIME_ID: every thread
  uint64_t process_voluntary;    // getrusage(RUSAGE_SELF): ru_nvcsw
  uint64_t process_involuntary;  // ru_nivcsw
  uint64_t waiter_cpu_ns;        // the thread in the wait
  uint64_t waiter_switches;      // its voluntary + involuntary (/proc)
  uint64_t agent_cpu_ns;         // wsadup's own thread(s) (schedstat)
  uint64_t agent_switches;
  uint64_t timed_out;            // 1: the wait ended by its timeout
};

struct IdleReport {
  uint64_t ok;  // 1, or 0 and error_step says where it failed
  uint64_t error_step;
  uint64_t error_code;  // errno or Winsock error
  uint64_t sockets;
  IdleWindow kernel;   // a bare epoll_wait on the same sockets
  IdleWindow library;  // WSAWaitForMultipleEvents, every socket registered
};

struct IdleResult {
  IdleReport report{};
  std::string error;
} g_idle_sockets;

// The CPU clocks are read innermost (last before the window, first after
// it), so that the window's CPU time is the wait's own and not the reading
// of /proc; nothing here blocks, so the switch counts are the window's.
struct Snapshot {
  uint64_t process_cpu_ns = 0, waiter_cpu_ns = 0;
  rusage process{};
  uint64_t waiter_switches = 0;
  uint64_t agent_cpu_ns = 0, agent_switches = 0;
  uint64_t at_ns = 0;
};

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

void read_threads(Snapshot* snapshot) {
  pid_t self = getpid();
  for (pid_t tid : thread_ids()) {
    ThreadUsage usage = thread_usage(tid);
    if (tid == self) {
      snapshot->waiter_switches = usage.switches;
    } else {
      snapshot->agent_cpu_ns += usage.cpu_ns;
      snapshot->agent_switches += usage.switches;
    }
  }
}

void read_clocks(Snapshot* snapshot) {
  snapshot->process_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  snapshot->waiter_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

Snapshot snapshot_before() {
  Snapshot snapshot;
  read_threads(&snapshot);
  getrusage(RUSAGE_SELF, &snapshot.process);
  read_clocks(&snapshot);
  snapshot.at_ns = now_ns();
  return snapshot;
}

Snapshot snapshot_after() {
  Snapshot snapshot;
  snapshot.at_ns = now_ns();
  read_clocks(&snapshot);
  getrusage(RUSAGE_SELF, &snapshot.process);
  read_threads(&snapshot);
  return snapshot;
}

IdleWindow window_between(const Snapshot& before, const Snapshot& after) {
  IdleWindow window{};
  window.wall_ns = after.at_ns - before.at_ns;
  window.process_cpu_ns = after.process_cpu_ns - before.process_cpu_ns;
  window.process_voluntary = static_cast<uint64_t>(after.process.ru_nvcsw -
                                                   before.process.ru_nvcsw);
  window.process_involuntary = static_cast<uint64_t>(after.process.ru_nivcsw -
                                                     before.process.ru_nivcsw);
  window.waiter_cpu_ns = after.waiter_cpu_ns - before.waiter_cpu_ns;
  window.waiter_switches = after.waiter_switches - before.waiter_switches;
  window.agent_cpu_ns = after.agent_cpu_ns - before.agent_cpu_ns;
  window.agent_switches = after.agent_switches - before.agent_switches;
  return window;
}

// The idle child: fd 3 is a pipe for its one report. It makes `count`
// connected loopback TCP pairs (both ends its own), none of which ever
// carries data, and measures two windows of window_ms each, the main thread
// waiting with a timeout and nothing else happening: first a bare
// epoll_wait on the accepted ends (the baseline), then, with every accepted
// end registered (FD_READ | FD_CLOSE, one event each),
// WSAWaitForMultipleEvents on one of the events.
int idle_registrant(int count, int window_ms) {
  IdleReport report{};
  report.sockets = static_cast<uint64_t>(count);
  bool started = false;
  auto fail = [&](int step, uint64_t code) {
    // The last WSACleanup ends the registrations made so far.
    if (started) WSACleanup();
    report.ok = 0;
    report.error_step = static_cast<uint64_t>(step);
    report.error_code = code;
    write_all(3, &report, sizeof report);
    return 1;
  };
  // Three descriptors a socket (two ends, one event), and some to spare.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur < static_cast<rlim_t>(3 * count + 64)) {
    return fail(1, limit.rlim_cur);
  }
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return fail(2, 0);
  started = true;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 128) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return fail(3, static_cast<uint64_t>(errno));
  }
  std::vector<int> clients, servers;
  for (int i = 0; i < count; ++i) {
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 ||
        connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return fail(4, static_cast<uint64_t>(errno));
    }
    int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (server < 0) return fail(5, static_cast<uint64_t>(errno));
    clients.push_back(client);
    servers.push_back(server);
  }
  close(listener);
  timespec settle{0, 100000000L};

  // The baseline: the same sockets in a bare epoll set, level-triggered.
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return fail(6, static_cast<uint64_t>(errno));
  for (int s : servers) {
    epoll_event item{};
    item.events = EPOLLIN | EPOLLRDHUP;
    item.data.fd = s;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, s, &item) != 0) {
      return fail(7, static_cast<uint64_t>(errno));
    }
  }
  // Lets the connections' last segments and the agent thread settle; not a
  // wait for anything.
  nanosleep(&settle, nullptr);
  {
    epoll_event ready[16];
    Snapshot before = snapshot_before();
    int got = epoll_wait(epoll, ready, 16, window_ms);
    Snapshot after = snapshot_after();
    report.kernel = window_between(before, after);
    report.kernel.timed_out = got == 0 ? 1 : 0;
  }
  close(epoll);

  // The library: every accepted end registered, one event each.
  std::vector<WSAEVENT> events;
  for (int s : servers) {
    WSAEVENT event = WSACreateEvent();
    if (event == WSA_INVALID_EVENT) {
      return fail(8, static_cast<uint64_t>(WSAGetLastError()));
    }
    events.push_back(event);
    if (WSAEventSelect(s, event, FD_READ | FD_CLOSE) != 0) {
      return fail(9, static_cast<uint64_t>(WSAGetLastError()));
    }
  }
  nanosleep(&settle, nullptr);
  {
    WSAEVENT watched = events[events.size() / 2];
    Snapshot before = snapshot_before();
    DWORD woke = WSAWaitForMultipleEvents(1, &watched, FALSE,
                                          static_cast<DWORD>(window_ms), FALSE);
    Snapshot after = snapshot_after();
    report.library = window_between(before, after);
    report.library.timed_out = woke == WSA_WAIT_TIMEOUT ? 1 : 0;
  }
  // Closed while registered: each record leaves the shared registry.
  for (size_t i = 0; i < servers.size(); ++i) {
    closesocket(servers[i]);
    WSACloseEvent(events[i]);
    close(clients[i]);
  }
  WSACleanup();
  report.ok = 1;
  return write_all(3, &report, sizeof report) ? 0 : 1;
}

void measure_idle_sockets() {
  int report_pipe[2];
  if (pipe2(report_pipe, O_CLOEXEC) != 0) {
    g_idle_sockets.error = errno_error("pipe2");
    return;
  }
  Child child = spawn_role("notify_idle", {report_pipe[1]},
                           {std::to_string(g_counts.idle_sockets),
                            std::to_string(g_plan.idle_ms)});
  close(report_pipe[1]);
  IdleReport& report = g_idle_sockets.report;
  if (child.pid <= 0) {
    g_idle_sockets.error = "could not start the idle process";
  } else if (!read_all_bounded(report_pipe[0], &report, sizeof report,
                               kWaitMs + 2 * g_plan.idle_ms)) {
    g_idle_sockets.error = "no report from the idle process";
  } else if (report.ok != 1) {
    static const char* const steps[] = {
        "",        "the descriptor limit (code: the soft limit, raised to the hard one)",
        "WSAStartup", "listener", "connect", "accept", "epoll_create1",
        "epoll_ctl", "WSACreateEvent", "WSAEventSelect"};
    char text[160];
    std::snprintf(text, sizeof text, "idle process failed at %s (code %llu)",
                  report.error_step < 10 ? steps[report.error_step] : "?",
                  static_cast<unsigned long long>(report.error_code));
    g_idle_sockets.error = text;
  } else if (report.library.timed_out != 1 || report.kernel.timed_out != 1) {
    g_idle_sockets.error = "a wait in the idle process did not time out";
  }
  close(report_pipe[0]);
  if (child.pid > 0 && reap(child.pid, kWaitMs) != 0 &&
      g_idle_sockets.error.empty()) {
    g_idle_sockets.error = "the idle process failed";
  }
}

// Context switches of the whole process in a window, less the one the wait
// itself makes: its thread blocks once and runs again when its timeout
// expires (ru_nvcsw counts the block).
int64_t extra_wakeups(const IdleWindow& window) {
  return static_cast<int64_t>(window.process_voluntary +
                              window.process_involuntary) - 1;
}

// -------------------------------------------------------------- printing --

const NotifyRow* find(const std::string& id) {
  for (const NotifyRow& row : g_notify_rows) {
    if (row.id == id && row.error.empty() && !row.samples.empty()) return &row;
  }
  return nullptr;
}

void show(const std::string& target, const char* value, bool met) {
  std::printf("%-38s %-8s %s\n", target.c_str(), value, met ? "MET" : "MISSED");
}

std::string range_of(std::vector<double> values) {
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  char text[64];
  std::snprintf(text, sizeof text, "%.2f-%.2f", values.front(), values.back());
  return text;
}

void print_window(const char* name, const IdleWindow& window) {
  std::printf("%-46s %.1f us CPU (process), %llu+%llu switches (voluntary+involuntary) in %.0f ms:\n",
              name, static_cast<double>(window.process_cpu_ns) / 1000.0,
              static_cast<unsigned long long>(window.process_voluntary),
              static_cast<unsigned long long>(window.process_involuntary),
              static_cast<double>(window.wall_ns) / 1e6);
  std::printf("%-46s waiting thread %.1f us, %llu switch(es); agent %.1f us, %llu\n", "",
              static_cast<double>(window.waiter_cpu_ns) / 1000.0,
              static_cast<unsigned long long>(window.waiter_switches),
              static_cast<double>(window.agent_cpu_ns) / 1000.0,
              static_cast<unsigned long long>(window.agent_switches));
}

}  // namespace

void run_notification_rows(const NotificationPlan& plan) {
  g_plan = plan;
  if (plan.smoke) {
    g_counts.cost_calls = 10;
    g_counts.pingpongs = 10;
    g_counts.warmup = 2;
    g_counts.idle_sockets = 16;
  }
  rows_select_cost();
  rows_wakeup();
  measure_idle_sockets();
  for (const NotifyRow& row : g_notify_rows) {
    if (!row.error.empty()) g_failed = true;
  }
  if (!g_idle_sockets.error.empty()) g_failed = true;
}

bool notification_rows_failed() { return g_failed; }

void print_notification_rows() {
  if (g_notify_rows.empty() && g_idle_sockets.error.empty() &&
      g_idle_sockets.report.ok == 0) {
    return;
  }
  std::printf("notification (WSAEventSelect), each row against its kernel baseline (the k row) in the same rounds\n");
  std::printf("%-4s %-60s %7s %9s %9s %12s %8s\n", "row", "what", "n", "p50 us",
              "p99 us", "per s", "p50/k");
  std::printf("%s\n", std::string(124, '-').c_str());
  for (const NotifyRow& row : g_notify_rows) {
    if (!row.error.empty()) {
      std::printf("%-4s %-60s   %s\n", row.id.c_str(), row.name.c_str(), row.error.c_str());
      continue;
    }
    std::vector<uint64_t> sorted = row.samples;
    std::sort(sorted.begin(), sorted.end());
    double p50 = percentile_us(sorted, 0.5), p99 = percentile_us(sorted, 0.99);
    double mean = mean_ns(sorted);
    char ratio[32] = "-";
    const NotifyRow* baseline = row.baseline.empty() ? nullptr : find(row.baseline);
    if (baseline != nullptr) {
      std::snprintf(ratio, sizeof ratio, "%.2fx", p50 / p50_us(baseline->samples));
    }
    std::printf("%-4s %-60s %7zu %9.2f %9.2f %12.0f %8s\n", row.id.c_str(),
                row.name.c_str(), sorted.size(), p50, p99, mean > 0 ? 1e9 / mean : 0,
                ratio);
  }
  std::printf("(N1/N2: one call each, in this process; N3: round trip from the send to the byte received, echoed by another process; per s = 1 / mean;"
              " p50/k of the pooled samples, the targets below use the medians of the rounds' ratios)\n");
  if (g_spurious > 0) {
    std::printf("(N3: %llu wait(s) returned with nothing to receive)\n",
                static_cast<unsigned long long>(g_spurious));
  }
  std::printf("\n");
  const IdleReport& report = g_idle_sockets.report;
  if (!g_idle_sockets.error.empty()) {
    std::printf("%-46s not measured: %s\n\n", "idle registered sockets",
                g_idle_sockets.error.c_str());
    return;
  }
  char name[96];
  std::snprintf(name, sizeof name, "%llu idle sockets, WSAWaitForMultipleEvents",
                static_cast<unsigned long long>(report.sockets));
  print_window(name, report.library);
  std::snprintf(name, sizeof name, "  same sockets, bare epoll_wait (baseline)");
  print_window(name, report.kernel);
  std::printf("(one child process: both ends of every connection, one event per registered socket, the main thread waiting with a timeout;"
              " the wait's own block, ended by its timeout, is one voluntary switch)\n\n");
}

void print_notification_targets() {
  char value[32];
  if (!g_wakeup.pinned.empty()) {
    double pinned = median_of(g_wakeup.pinned);
    double unpinned = median_of(g_wakeup.unpinned);
    std::snprintf(value, sizeof value, "%.2fx", pinned);
    show("notification p50 <= 1.5x epoll, pinned", value, pinned <= 1.5);
    std::printf("%-38s rounds %s\n", "", range_of(g_wakeup.pinned).c_str());
    std::snprintf(value, sizeof value, "%.2fx", unpinned);
    show("notification p50 <= 1.5x epoll, unpinned", value, unpinned <= 1.5);
    std::printf("%-38s rounds %s\n", "", range_of(g_wakeup.unpinned).c_str());
  } else {
    std::printf("%-38s not measured\n", "notification p50 <= 1.5x epoll");
  }
  if (!g_register.pinned.empty()) {
    std::printf("%-38s register %.2fx, cancel %.2fx pinned; %.2fx, %.2fx unpinned (no target: reported)\n",
                "WSAEventSelect against the kernel", median_of(g_register.pinned),
                median_of(g_cancel.pinned), median_of(g_register.unpinned),
                median_of(g_cancel.unpinned));
  }
  const IdleReport& report = g_idle_sockets.report;
  if (g_idle_sockets.error.empty() && report.ok == 1) {
    int64_t wakeups = extra_wakeups(report.library);
    std::snprintf(value, sizeof value, "%lld", static_cast<long long>(wakeups));
    std::string target = std::to_string(report.sockets) + " idle sockets: 0 wake-ups";
    show(target, value, wakeups <= 0 && report.library.agent_switches == 0);
    std::printf("%-38s process switches less the wait's own; agent %llu; bare epoll_wait %lld\n",
                "", static_cast<unsigned long long>(report.library.agent_switches),
                static_cast<long long>(extra_wakeups(report.kernel)));
  } else {
    std::printf("%-38s not measured: %s\n", "idle sockets: 0 wake-ups",
                g_idle_sockets.error.c_str());
  }
}

bool is_notification_role(const std::string& role) {
  return role == "notify_echo" || role == "notify_idle";
}

int run_notification_role(const std::string& role,
                          const std::vector<std::string>& args) {
  if (role == "notify_echo") return echo_peer();
  if (role == "notify_idle" && args.size() == 2) {
    return idle_registrant(std::stoi(args[0]), std::stoi(args[1]));
  }
  return 64;
}

}  // namespace wsadup_bench
