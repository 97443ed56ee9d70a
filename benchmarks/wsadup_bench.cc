// wsadup benchmark driver: prints one table of handoff latency and
// throughput, against the kernel's own descriptor passing (row 1) and the
// handle passing people use today (Node.js, Python), plus the data path,
// WSAStartup cost, memory per pending token and the agent's idle CPU, and
// WSAEventSelect notification against epoll (notification_rows.cc).
//
//   wsadup_bench            full run (about 40 s on 2 cores)
//   --only=a,b              some parts only (see selected())
//   --pin=none              no CPU pinning (see g_pin)
//   wsadup_bench --smoke    tiny counts, checks every row runs (CI); the
//                           numbers of a smoke run mean nothing
//   WSADUP_BENCH_SMOKE=1    same as --smoke
//   --benchmark_*           passed to Google Benchmark (in-process rows)
//
// In-process rows (WSAStartup, an in-process handoff) are Google Benchmark
// benchmarks; the handoff rows need real separate processes and are run by
// the small multi-process driver below (fork/exec of this executable as a
// named --role). Every wait between processes is bounded (kWaitMs).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "catalog_rows.h"
#include "notification_rows.h"
#include "roles.h"
#include "wsadup/wsadup.h"

#ifndef WSADUP_BENCH_SCRIPT_DIR
#define WSADUP_BENCH_SCRIPT_DIR "."
#endif

namespace wsadup_bench {
namespace {

// ------------------------------------------------------------ settings --

struct Settings {
  bool smoke = false;
  int raw = 50000;          // row 1 handoffs
  int push = 50000;         // row 2
  int pull = 3000;          // row 3
  int cold = 500;           // row 4 (one new target process each)
  int node = 10000;         // row 5
  int python = 3000;        // row 6
  int curve_per_target = 10000;
  int warmup = 500;
  int startup = 1000;       // WSAStartup/WSACleanup cycles
  int self = 20000;         // in-process handoffs
  int pending_tokens = 4000;  // below the 4096 bound
  uint64_t data_bytes = 128ull << 20;
  int data_rounds = 21;
  int idle_ms = 2000;
  int rounds = 7;           // interleaved pinned/unpinned rounds
  int per_round = 5000;     // handoffs of each row in each mode and round
  int stalled = 200;        // duplicates to a stopped target
  int wine = 2000;          // row 7

  void make_smoke() {
    smoke = true;
    raw = push = 50;
    pull = 10;
    cold = 4;
    node = python = 10;
    curve_per_target = 10;
    warmup = 5;
    startup = 5;
    self = 10;
    pending_tokens = 32;
    data_bytes = 1ull << 20;
    data_rounds = 1;
    idle_ms = 100;
    rounds = 1;
    per_round = 20;
    stalled = 10;
    wine = 10;
  }
};

Settings g;

// --only=a,b,c runs only those parts (micro, raw, push, pull, cold, node,
// python, curve, data, memory, idle, notify, catalog); for profiling one part at a
// time.
std::string g_only;

// Latency rows run with every process on one CPU by default (--pin=none
// turns it off): on this kind of VM a wake-up that crosses to an idle vCPU
// costs ~60 us and lands on a random subset of handoffs, so unpinned p50s
// are bimodal from run to run. Pinned, the numbers measure the software
// path: system calls and context switches. The curve and the data path run
// on all CPUs.
bool g_pin = true;
cpu_set_t g_all_cpus;

void pin_to_one_cpu() {
  if (!g_pin) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &g_all_cpus)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  sched_setaffinity(0, sizeof(one), &one);
}

void unpin() { sched_setaffinity(0, sizeof(g_all_cpus), &g_all_cpus); }

bool selected(const char* part) {
  if (g_only.empty()) return true;
  std::string list = "," + g_only + ",";
  return list.find("," + std::string(part) + ",") != std::string::npos;
}

// ----------------------------------------------------------------- rows --

struct Row {
  std::string id;
  std::string name;
  std::vector<uint64_t> samples;  // per-handoff latency, ns
  double rate = 0;                // handoffs/s; 0: 1 / mean latency
  std::string error;              // non-empty: the row did not run
  bool derived = false;           // computed from another row's samples
};

std::vector<Row> g_rows;

struct Extra {
  std::string name;
  std::string value;
};
std::vector<Extra> g_extras;

void extra(const std::string& name, const char* format, ...)
    __attribute__((format(printf, 2, 3)));
void extra(const std::string& name, const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  g_extras.push_back({name, buffer});
}

double rate_of(const Row& row) {
  if (row.rate > 0) return row.rate;
  double mean = mean_ns(row.samples);
  return mean > 0 ? 1e9 / mean : 0;
}

void progress(const char* format, ...) __attribute__((format(printf, 1, 2)));
void progress(const char* format, ...) {
  va_list args;
  va_start(args, format);
  static const uint64_t start = now_ns();
  std::fprintf(stderr, "[wsadup_bench %6.2fs] ",
               static_cast<double>(now_ns() - start) / 1e9);
  std::vfprintf(stderr, format, args);
  std::fprintf(stderr, "\n");
  va_end(args);
}

// --------------------------------------------------- in-process (gbench) --

struct InProcess {
  std::vector<uint64_t> startup, cleanup, nested, self;
} g_in;

void BM_WSAStartupFirst(benchmark::State& state) {
  // First WSAStartup of a process (starts the agent) and last WSACleanup.
  std::vector<uint64_t> up, down;
  WSADATA data;
  for (auto _ : state) {
    uint64_t t0 = now_ns();
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
      state.SkipWithError("WSAStartup failed");
      break;
    }
    uint64_t t1 = now_ns();
    WSACleanup();
    uint64_t t2 = now_ns();
    up.push_back(t1 - t0);
    down.push_back(t2 - t1);
  }
  std::sort(up.begin(), up.end());
  std::sort(down.begin(), down.end());
  state.counters["startup_p50_us"] = percentile_us(up, 0.5);
  state.counters["startup_p99_us"] = percentile_us(up, 0.99);
  state.counters["cleanup_p50_us"] = percentile_us(down, 0.5);
  g_in.startup = up;
  g_in.cleanup = down;
}

void BM_WSAStartupNested(benchmark::State& state) {
  // WSAStartup when the process is already initialised: a reference count.
  WSADATA data;
  WSAStartup(MAKEWORD(2, 2), &data);
  std::vector<uint64_t> samples;
  for (auto _ : state) {
    uint64_t t0 = now_ns();
    WSAStartup(MAKEWORD(2, 2), &data);
    samples.push_back(now_ns() - t0);
    WSACleanup();
  }
  WSACleanup();
  std::sort(samples.begin(), samples.end());
  g_in.nested = samples;
}

void BM_SelfHandoff(benchmark::State& state) {
  // WSADuplicateSocket to this process + WSASocket: the push path through
  // the own agent thread, with no second process. Useful to profile.
  WSADATA data;
  WSAStartup(MAKEWORD(2, 2), &data);
  int client = -1, server = -1;
  if (!tcp_pair(&client, &server)) {
    state.SkipWithError("tcp_pair failed");
    WSACleanup();
    return;
  }
  std::vector<uint64_t> samples;
  WSAPROTOCOL_INFOA info;
  for (auto _ : state) {
    uint64_t t0 = now_ns();
    if (WSADuplicateSocketA(server, static_cast<DWORD>(getpid()), &info) != 0) {
      state.SkipWithError("WSADuplicateSocket failed");
      break;
    }
    SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                          FROM_PROTOCOL_INFO, &info, 0, 0);
    if (s == INVALID_SOCKET) {
      state.SkipWithError("WSASocket failed");
      break;
    }
    samples.push_back(now_ns() - t0);
    closesocket(s);
  }
  close(client);
  close(server);
  WSACleanup();
  std::sort(samples.begin(), samples.end());
  state.counters["p50_us"] = percentile_us(samples, 0.5);
  state.counters["p99_us"] = percentile_us(samples, 0.99);
  g_in.self = samples;
}

// ------------------------------------------------------------ plumbing --

struct Pipes {
  int to_child[2] = {-1, -1};
  int from_child[2] = {-1, -1};
  bool open() {
    return pipe2(to_child, O_CLOEXEC) == 0 && pipe2(from_child, O_CLOEXEC) == 0;
  }
  // Drops the child's ends in the driver.
  void parent_side() {
    close(to_child[0]);
    close(from_child[1]);
    to_child[0] = from_child[1] = -1;
  }
  void close_all() {
    for (int* fd : {&to_child[0], &to_child[1], &from_child[0], &from_child[1]}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }
};

// A push_target or pull_target process with its two pipes.
struct Target {
  Pipes pipes;
  pid_t pid = -1;
  bool start(const char* role) {
    if (!pipes.open()) return false;
    Child child = spawn_role(role, {pipes.to_child[0], pipes.from_child[1]}, {});
    pipes.parent_side();
    pid = child.pid;
    return pid > 0;
  }
  // Reads the target's 'R' (and, for a pull target, 8 more bytes).
  bool ready(size_t extra_bytes, uint64_t* value = nullptr) {
    char r;
    if (!read_all_bounded(pipes.from_child[0], &r, 1, kWaitMs) || r != 'R') {
      return false;
    }
    uint64_t v = 0;
    if (extra_bytes > 0 &&
        !read_all_bounded(pipes.from_child[0], &v, sizeof(v), kWaitMs)) {
      return false;
    }
    if (value != nullptr) *value = v;
    return true;
  }
  bool send(char op, const void* payload, size_t size) {
    Command command{};
    command.op = op;
    std::memcpy(&command.token, payload, size);
    return write_all(pipes.to_child[1], &command, sizeof(command));
  }
  // Reads 'A', or 'E' + error; returns "" or a description.
  std::string answer() {
    char a;
    if (!read_all_bounded(pipes.from_child[0], &a, 1, kWaitMs)) {
      return "no answer from target";
    }
    if (a == 'A') return "";
    int error = 0;
    read_all_bounded(pipes.from_child[0], &error, sizeof(error), kWaitMs);
    return std::string("target's WSASocket failed: ") + wsadup_error_name(error);
  }
  void stop() {
    pipes.close_all();  // the target reads end-of-file and exits
    if (pid > 0) reap(pid, kWaitMs);
    pid = -1;
  }
};

// One timed wsadup handoff to target: WSADuplicateSocket, the token over
// the pipe, the target's WSASocket, its one-byte answer.
std::string wsadup_handoff(Target& target, int s, uint64_t* elapsed,
                           uint64_t* duplicate_ns = nullptr) {
  uint64_t t0 = now_ns();
  WSAPROTOCOL_INFOA info;
  if (WSADuplicateSocketA(s, static_cast<DWORD>(target.pid), &info) != 0) {
    return std::string("WSADuplicateSocket: ") +
           wsadup_error_name(WSAGetLastError());
  }
  if (duplicate_ns != nullptr) *duplicate_ns = now_ns() - t0;
  if (!target.send('T', &info, sizeof(info))) return "token pipe write failed";
  std::string error = target.answer();
  *elapsed = now_ns() - t0;
  return error;
}

// A raw target: a connected AF_UNIX pair of the given type.
struct RawTarget {
  int pair[2] = {-1, -1};
  pid_t pid = -1;
  bool start(int type) {
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, pair) != 0) return false;
    Child child = spawn_role("raw_target", {pair[1]}, {});
    close(pair[1]);
    pair[1] = -1;
    pid = child.pid;
    return pid > 0;
  }
  void stop() {
    if (pair[0] >= 0) close(pair[0]);
    pair[0] = -1;
    if (pid > 0) reap(pid, kWaitMs);
    pid = -1;
  }
};

// One timed raw handoff: sendmsg of one descriptor, a one-byte reply.
std::string raw_handoff(RawTarget& target, int s, uint64_t* elapsed) {
  uint64_t t0 = now_ns();
  char byte = 'h';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  cmsghdr* item = CMSG_FIRSTHDR(&header);
  item->cmsg_level = SOL_SOCKET;
  item->cmsg_type = SCM_RIGHTS;
  item->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(item), &s, sizeof(int));
  if (sendmsg(target.pair[0], &header, MSG_NOSIGNAL) != 1) {
    return std::string("sendmsg: ") + std::strerror(errno);
  }
  char reply;
  if (!read_all_bounded(target.pair[0], &reply, 1, kWaitMs) || reply != 'A') {
    return "no answer from raw target";
  }
  *elapsed = now_ns() - t0;
  return "";
}

// --------------------------------------------------------- handoff rows --

void row_raw(const char* id, const char* name, int type, int count, int s) {
  Row row{id, name, {}, 0, "", false};
  RawTarget target;
  if (!target.start(type)) {
    row.error = "could not start the target";
  } else {
    for (int i = 0; i < g.warmup + count && row.error.empty(); ++i) {
      uint64_t elapsed = 0;
      row.error = raw_handoff(target, s, &elapsed);
      if (i >= g.warmup) row.samples.push_back(elapsed);
    }
  }
  target.stop();
  g_rows.push_back(row);
}

// Row 2; leaves the target running for the idle-agent measurement.
void row_push(int s, Target* target) {
  Row pipe{"1c", "  token IPC alone: 373 B over a pipe + 1 B answer, no fd",
           {}, 0, "", false};
  Row row{"2", "wsadup default: WSADuplicateSocket + token pipe + WSASocket",
          {}, 0, "", false};
  Row dup{"2a", "  of which WSADuplicateSocket (queued, never waits)",
          {}, 0, "", true};
  Row posted{"2k", "wsadup acknowledged push (option 0), as row 2",
             {}, 0, "", false};
  Row posted_dup{"2ka", "  of which WSADuplicateSocket (push + agent's ack)",
                 {}, 0, "", true};
  if (!target->start("push_target") || !target->ready(0)) {
    row.error = "could not start the target";
  } else {
    WSAPROTOCOL_INFOA nothing{};
    for (int i = 0; i < g.warmup + g.push && pipe.error.empty(); ++i) {
      uint64_t t0 = now_ns();
      if (!target->send('P', &nothing, sizeof(nothing))) pipe.error = "pipe write";
      std::string error = target->answer();
      if (!error.empty()) pipe.error = error;
      if (i >= g.warmup) pipe.samples.push_back(now_ns() - t0);
    }
    auto run = [&](Row* handoffs, Row* duplicates) {
      for (int i = 0; i < g.warmup + g.push && handoffs->error.empty(); ++i) {
        uint64_t elapsed = 0, duplicate = 0;
        handoffs->error = wsadup_handoff(*target, s, &elapsed, &duplicate);
        if (i >= g.warmup) {
          handoffs->samples.push_back(elapsed);
          duplicates->samples.push_back(duplicate);
        }
      }
    };
    run(&row, &dup);
    // The same target and socket, with the acknowledged push.
    if (wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0) != 0) {
      posted.error = "wsadup_set_option failed";
    } else {
      run(&posted, &posted_dup);
      wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1);
    }
  }
  dup.error = row.error;
  posted_dup.error = posted.error;
  g_rows.push_back(pipe);
  g_rows.push_back(row);
  g_rows.push_back(dup);
  g_rows.push_back(posted);
  g_rows.push_back(posted_dup);
}

void row_pull(int s) {
  Row row{"3", "wsadup pull: target calls WSAStartup after the duplicate",
          {}, 0, "", false};
  Row net{"3b", "  pull path less the target's own WSAStartup", {}, 0, "", true};
  Target target;
  if (!target.start("pull_target") || !target.ready(8)) {
    row.error = "could not start the target";
  } else {
    int warm = std::min(g.warmup, 50);
    for (int i = 0; i < warm + g.pull && row.error.empty(); ++i) {
      uint64_t elapsed = 0, startup = 0;
      row.error = wsadup_handoff(target, s, &elapsed);
      // Untimed: the target has called WSACleanup and has no agent again.
      if (row.error.empty() && !target.ready(8, &startup)) {
        row.error = "pull target did not get ready";
      }
      if (i >= warm) {
        row.samples.push_back(elapsed);
        net.samples.push_back(elapsed > startup ? elapsed - startup : 0);
      }
    }
  }
  target.stop();
  net.error = row.error;
  g_rows.push_back(row);
  g_rows.push_back(net);
}

void row_cold(int s) {
  Row row{"4", "wsadup cold: first handoff to a new target (connect+check)",
          {}, 0, "", false};
  const int batch = 16;
  int done = 0;
  while (done < g.cold && row.error.empty()) {
    int n = std::min(batch, g.cold - done);
    std::vector<Target> targets(static_cast<size_t>(n));
    for (Target& target : targets) {
      if (!target.start("push_target")) row.error = "could not start a target";
    }
    for (Target& target : targets) {
      if (row.error.empty() && !target.ready(0)) row.error = "target not ready";
    }
    for (Target& target : targets) {
      if (!row.error.empty()) break;
      uint64_t elapsed = 0;
      row.error = wsadup_handoff(target, s, &elapsed);
      row.samples.push_back(elapsed);
    }
    for (Target& target : targets) target.stop();
    done += n;
  }
  g_rows.push_back(row);

  // The same first handoff on a new connection, but to a warm target: the
  // source drops its cached connections (WSACleanup + WSAStartup, untimed)
  // before each one. Row 4 less this row is the target process's own
  // first-time cost (page faults, its agent thread's first allocation).
  Row warm{"4b", "  new connection to a warm target (no cached connection)",
           {}, 0, "", false};
  Target target;
  if (!target.start("push_target") || !target.ready(0)) {
    warm.error = "could not start the target";
  }
  for (int i = 0; i < std::min(g.warmup, 20) + g.cold && warm.error.empty(); ++i) {
    WSADATA data;
    WSACleanup();
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0) warm.error = "WSAStartup failed";
    uint64_t elapsed = 0;
    if (warm.error.empty()) warm.error = wsadup_handoff(target, s, &elapsed);
    if (i >= std::min(g.warmup, 20)) warm.samples.push_back(elapsed);
  }
  target.stop();
  g_rows.push_back(warm);
}

// Parses "SAMPLES n n n ..." from a peer script's output.
std::string parse_samples(const std::string& output, std::vector<uint64_t>* samples) {
  size_t at = output.find("SAMPLES");
  if (at == std::string::npos) {
    size_t error = output.find("ERROR");
    return error == std::string::npos ? "no samples in the script's output"
                                      : output.substr(error);
  }
  std::istringstream in(output.substr(at + 7));
  uint64_t value;
  while (in >> value) samples->push_back(value);
  return samples->empty() ? "empty sample list" : "";
}

bool have_program(const char* program) {
  std::string output;
  return run_capture({program, "--version"}, &output, 10000) == 0;
}

void row_script(const char* id, const char* name, const char* program,
                const char* script, int count, std::string* version) {
  Row row{id, name, {}, 0, "", false};
  std::string output;
  if (!have_program(program)) {
    row.error = std::string(program) + " not found: row skipped";
  } else {
    run_capture({program, "--version"}, version, 10000);
    while (!version->empty() && (version->back() == '\n')) version->pop_back();
    std::string path = std::string(WSADUP_BENCH_SCRIPT_DIR) + "/" + script;
    int status = run_capture(
        {program, path, std::to_string(count), std::to_string(g.warmup)},
        &output, 300000);
    row.error = parse_samples(output, &row.samples);
    if (row.error.empty() && status != 0) {
      row.error = std::string(program) + " exited with " + std::to_string(status);
    }
  }
  g_rows.push_back(row);
}

// -------------------------------------------------------------- curve --

// N source threads, each with its own target and its own socket, in closed
// loops; the rate is all handoffs over the wall time of the timed part.
template <typename TargetType>
void curve_row(const std::string& id, const std::string& name, int n,
               const std::function<bool(TargetType&)>& start,
               const std::function<std::string(TargetType&, int, uint64_t*)>& handoff,
               const std::function<void(TargetType&)>& stop) {
  Row row{id, name, {}, 0, "", false};
  std::vector<TargetType> targets(static_cast<size_t>(n));
  std::vector<int> sockets;
  for (TargetType& target : targets) {
    if (!start(target)) row.error = "could not start a target";
    int client = -1, server = -1;
    if (!tcp_pair(&client, &server)) row.error = "tcp_pair failed";
    close(client);
    sockets.push_back(server);
  }
  if (row.error.empty()) {
    std::mutex mutex;
    std::condition_variable cv;
    int warmed = 0;
    bool go = false;
    std::vector<std::vector<uint64_t>> samples(static_cast<size_t>(n));
    std::vector<std::string> errors(static_cast<size_t>(n));
    std::vector<uint64_t> finish(static_cast<size_t>(n));
    uint64_t begin = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&, t] {
        size_t i = static_cast<size_t>(t);
        uint64_t elapsed = 0;
        for (int w = 0; w < std::min(g.warmup, 100) && errors[i].empty(); ++w) {
          errors[i] = handoff(targets[i], sockets[i], &elapsed);
        }
        {
          std::unique_lock<std::mutex> lock(mutex);
          if (++warmed == n) {
            go = true;
            begin = now_ns();
            cv.notify_all();
          }
          // Bounded: every thread arrives after its own bounded warm-up.
          cv.wait_for(lock, std::chrono::milliseconds(kWaitMs * 4),
                      [&] { return go; });
        }
        for (int k = 0; k < g.curve_per_target && errors[i].empty(); ++k) {
          errors[i] = handoff(targets[i], sockets[i], &elapsed);
          samples[i].push_back(elapsed);
        }
        finish[i] = now_ns();
      });
    }
    for (std::thread& thread : threads) thread.join();
    uint64_t end = *std::max_element(finish.begin(), finish.end());
    size_t total = 0;
    for (int t = 0; t < n; ++t) {
      if (!errors[static_cast<size_t>(t)].empty() && row.error.empty()) {
        row.error = errors[static_cast<size_t>(t)];
      }
      total += samples[static_cast<size_t>(t)].size();
      row.samples.insert(row.samples.end(), samples[static_cast<size_t>(t)].begin(),
                         samples[static_cast<size_t>(t)].end());
    }
    if (begin > 0 && end > begin) {
      row.rate = static_cast<double>(total) * 1e9 / static_cast<double>(end - begin);
    }
  }
  for (TargetType& target : targets) stop(target);
  for (int s : sockets) close(s);
  g_rows.push_back(row);
}

void rows_curve(const std::vector<int>& counts, const char* suffix,
                const char* where) {
  for (int n : counts) {
    curve_row<RawTarget>(
        "C" + std::to_string(n) + suffix,
        "raw SCM_RIGHTS, " + std::to_string(n) + " target(s) at once, " + where,
        n, [](RawTarget& t) { return t.start(SOCK_STREAM); }, raw_handoff,
        [](RawTarget& t) { t.stop(); });
  }
  // wsadup's default, the posted push (P), then the acknowledged one (W).
  for (bool posted : {true, false}) {
    wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, posted ? 1 : 0);
    for (int n : counts) {
      curve_row<Target>(
          (posted ? "P" : "W") + std::to_string(n) + suffix,
          std::string(posted ? "wsadup default (posted), " : "wsadup acknowledged push, ") +
              std::to_string(n) + " target(s) at once, " + where,
          n, [](Target& t) { return t.start("push_target") && t.ready(0); },
          [](Target& t, int s, uint64_t* e) { return wsadup_handoff(t, s, e); },
          [](Target& t) { t.stop(); });
    }
  }
  wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1);
}

// ------------------------------------------ pinned and unpinned, interleaved --

// Sets the CPUs of every thread of process pid (0: this one): one CPU, or
// all. Threads keep their own affinity, so each is set.
void place(pid_t pid, bool pinned) {
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &g_all_cpus)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  for (pid_t tid : thread_ids_of(pid)) {
    sched_setaffinity(tid, sizeof(cpu_set_t), pinned ? &one : &g_all_cpus);
  }
}

struct Interleaved {
  // Per round: p50 of row 2 over p50 of row 1, and rate over rate; the same
  // p50 ratio for the first handoff on a new connection (4b) and the pull
  // path less the target's own WSAStartup (3b).
  std::vector<double> pinned_p50, unpinned_p50, pinned_rate, unpinned_rate;
  std::vector<double> pinned_new, unpinned_new, pinned_pull, unpinned_pull;
  std::string error;
} g_interleaved;

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Rows 1P/1U and 2P/2U: the kernel's bare descriptor passing and wsadup's
// default handoff, in rounds that alternate every process between one CPU
// (the software cost) and all CPUs (as users run it), so that a slow stretch
// of the machine weighs on both modes and both rows alike.
void rows_interleaved(int s) {
  Row raw_pinned{"1P", "raw SCM_RIGHTS, one CPU (rounds interleaved)", {}, 0, "", false};
  Row raw_free{"1U", "raw SCM_RIGHTS, all CPUs (rounds interleaved)", {}, 0, "", false};
  Row push_pinned{"2P", "wsadup default handoff, one CPU (as row 2)", {}, 0, "", false};
  Row push_free{"2U", "wsadup default handoff, all CPUs (as row 2)", {}, 0, "", false};
  Row new_pinned{"4bP", "new connection to a warm target, one CPU (as 4b)", {}, 0, "", false};
  Row new_free{"4bU", "new connection to a warm target, all CPUs (as 4b)", {}, 0, "", false};
  Row pull_pinned{"3bP", "pull path less target's WSAStartup, one CPU (as 3b)", {}, 0, "", false};
  Row pull_free{"3bU", "pull path less target's WSAStartup, all CPUs (as 3b)", {}, 0, "", false};
  RawTarget raw;
  Target target, puller;
  if (!raw.start(SOCK_STREAM) || !target.start("push_target") || !target.ready(0) ||
      !puller.start("pull_target") || !puller.ready(8)) {
    g_interleaved.error = "could not start the targets";
  }
  const int slow_rounds = std::max(1, g.per_round / 50);  // 4b and 3b: 100 a round
  for (int round = 0; round < g.rounds && g_interleaved.error.empty(); ++round) {
    for (bool pinned : {true, false}) {
      for (pid_t pid : {static_cast<pid_t>(0), raw.pid, target.pid, puller.pid}) {
        place(pid, pinned);
      }
      std::vector<uint64_t> raw_samples, push_samples;
      uint64_t raw_begin = now_ns();
      for (int i = 0; i < g.per_round && g_interleaved.error.empty(); ++i) {
        uint64_t elapsed = 0;
        g_interleaved.error = raw_handoff(raw, s, &elapsed);
        raw_samples.push_back(elapsed);
      }
      uint64_t raw_wall = now_ns() - raw_begin;
      uint64_t push_begin = now_ns();
      for (int i = 0; i < g.per_round && g_interleaved.error.empty(); ++i) {
        uint64_t elapsed = 0;
        g_interleaved.error = wsadup_handoff(target, s, &elapsed);
        push_samples.push_back(elapsed);
      }
      uint64_t push_wall = now_ns() - push_begin;
      // A new connection each time: the source drops its cached ones first
      // (WSACleanup + WSAStartup, untimed), as row 4b.
      std::vector<uint64_t> new_samples, pull_samples;
      for (int i = 0; i < slow_rounds && g_interleaved.error.empty(); ++i) {
        WSADATA data;
        WSACleanup();
        if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
          g_interleaved.error = "WSAStartup failed";
          break;
        }
        place(0, pinned);  // the new agent thread
        uint64_t elapsed = 0;
        g_interleaved.error = wsadup_handoff(target, s, &elapsed);
        new_samples.push_back(elapsed);
      }
      // A pull, as row 3b: the target's own WSAStartup is taken out.
      for (int i = 0; i < slow_rounds && g_interleaved.error.empty(); ++i) {
        uint64_t elapsed = 0, startup = 0;
        g_interleaved.error = wsadup_handoff(puller, s, &elapsed);
        if (g_interleaved.error.empty() && !puller.ready(8, &startup)) {
          g_interleaved.error = "pull target did not get ready";
        }
        pull_samples.push_back(elapsed > startup ? elapsed - startup : 0);
        place(puller.pid, pinned);  // its new agent thread
      }
      if (!g_interleaved.error.empty()) break;
      Row& new_row = pinned ? new_pinned : new_free;
      Row& pull_row = pinned ? pull_pinned : pull_free;
      new_row.samples.insert(new_row.samples.end(), new_samples.begin(), new_samples.end());
      pull_row.samples.insert(pull_row.samples.end(), pull_samples.begin(), pull_samples.end());
      std::sort(new_samples.begin(), new_samples.end());
      std::sort(pull_samples.begin(), pull_samples.end());
      Row& raw_row = pinned ? raw_pinned : raw_free;
      Row& push_row = pinned ? push_pinned : push_free;
      raw_row.samples.insert(raw_row.samples.end(), raw_samples.begin(), raw_samples.end());
      push_row.samples.insert(push_row.samples.end(), push_samples.begin(), push_samples.end());
      std::sort(raw_samples.begin(), raw_samples.end());
      std::sort(push_samples.begin(), push_samples.end());
      double p50 = percentile_us(push_samples, 0.5) / percentile_us(raw_samples, 0.5);
      double rate = static_cast<double>(raw_wall) / static_cast<double>(push_wall);
      (pinned ? g_interleaved.pinned_p50 : g_interleaved.unpinned_p50).push_back(p50);
      (pinned ? g_interleaved.pinned_rate : g_interleaved.unpinned_rate).push_back(rate);
      double raw_p50 = percentile_us(raw_samples, 0.5);
      (pinned ? g_interleaved.pinned_new : g_interleaved.unpinned_new)
          .push_back(percentile_us(new_samples, 0.5) / raw_p50);
      (pinned ? g_interleaved.pinned_pull : g_interleaved.unpinned_pull)
          .push_back(percentile_us(pull_samples, 0.5) / raw_p50);
    }
  }
  place(0, g_pin);
  raw.stop();
  target.stop();
  puller.stop();
  for (Row* row : {&raw_pinned, &raw_free, &push_pinned, &push_free, &new_pinned,
                   &new_free, &pull_pinned, &pull_free}) {
    row->error = g_interleaved.error;
    g_rows.push_back(*row);
  }
}

// Row S: WSADuplicateSocket alone, to a target stopped with SIGSTOP after its
// WSAStartup and before any handoff (the first call sets up the connection).
// The target imports them all once it runs again (untimed).
void row_stalled(int s) {
  Row row{"S", "WSADuplicateSocket alone, to a SIGSTOPped target", {}, 0, "", false};
  Target target;
  std::vector<WSAPROTOCOL_INFOA> tokens;
  if (!target.start("push_target") || !target.ready(0)) {
    row.error = "could not start the target";
  } else if (kill(target.pid, SIGSTOP) != 0) {
    row.error = "SIGSTOP failed";
  }
  for (int i = 0; i < g.stalled && row.error.empty(); ++i) {
    WSAPROTOCOL_INFOA info;
    uint64_t t0 = now_ns();
    if (WSADuplicateSocketA(s, static_cast<DWORD>(target.pid), &info) != 0) {
      row.error = std::string("WSADuplicateSocket: ") +
                  wsadup_error_name(WSAGetLastError());
      break;
    }
    row.samples.push_back(now_ns() - t0);
    tokens.push_back(info);
  }
  if (target.pid > 0) kill(target.pid, SIGCONT);
  for (const WSAPROTOCOL_INFOA& info : tokens) {
    if (!target.send('T', &info, sizeof(info))) break;
    std::string error = target.answer();
    if (!error.empty() && row.error.empty()) row.error = error;
  }
  target.stop();
  g_rows.push_back(row);
}

// Row 7: the same Winsock-style handoff, cross-built with MinGW-w64 and run
// under Wine (benchmarks/wine_handoff.c), in its own prefix.
void row_wine(std::string* version) {
  Row row{"7", "Wine: WSADuplicateSocket + pipe + WSASocket (MinGW build)", {}, 0, "", false};
#if defined(WSADUP_BENCH_WINE_EXE)
  if (!have_program("wine")) {
    row.error = "wine not found: row skipped";
  } else {
    run_capture({"wine", "--version"}, version, 10000);
    while (!version->empty() && version->back() == '\n') version->pop_back();
    setenv("WINEPREFIX", WSADUP_BENCH_WINE_PREFIX, 1);
    setenv("WINEDEBUG", "-all", 1);
    setenv("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d", 1);
    unsetenv("DISPLAY");
    std::string output;
    int status = run_capture({"wine", WSADUP_BENCH_WINE_EXE, std::to_string(g.wine),
                              std::to_string(std::min(g.warmup, 100))},
                             &output, 300000);
    row.error = parse_samples(output, &row.samples);
    if (row.error.empty() && status != 0) {
      row.error = "wine exited with " + std::to_string(status);
    }
  }
#else
  (void)version;
  row.error = "MinGW-w64 not found at configure time: row skipped";
#endif
  g_rows.push_back(row);
}

// ------------------------------------------------------ other measures --

struct DataPath {
  // ratio: the median of each round's imported/original, the two measured
  // back to back, so a slow stretch of the machine weighs on both alike.
  double original_mbps = 0, imported_mbps = 0, ratio = 0;
  std::string error;
} g_data;

void measure_data_path() {
  int client = -1, server = -1;
  if (!tcp_pair(&client, &server)) {
    g_data.error = "tcp_pair failed";
    return;
  }
  // Bounds for both descriptors alike: socket options belong to the socket.
  timeval bound{kWaitMs / 1000, 0};
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
  Child sink = spawn_role("sink", {server}, {std::to_string(g.data_bytes)});
  close(server);
  Target target;
  std::vector<uint64_t> original, imported;
  if (!target.start("push_target") || !target.ready(0)) {
    g_data.error = "could not start the target";
  } else {
    WSAPROTOCOL_INFOA info;
    if (WSADuplicateSocketA(client, static_cast<DWORD>(target.pid), &info) != 0 ||
        !target.send('D', &info, sizeof(info)) || !target.answer().empty()) {
      g_data.error = "handoff of the data socket failed";
    }
    for (int r = 0; r < g.data_rounds + 1 && g_data.error.empty(); ++r) {
      // Alternate who goes first; round 0 of each is a warm-up.
      for (int side = 0; side < 2; ++side) {
        bool mine = ((r + side) % 2) == 0;
        uint64_t ns = 0;
        if (mine) {
          ns = data_round(client, g.data_bytes);
        } else {
          uint64_t size = g.data_bytes;
          if (!target.send('W', &size, sizeof(size)) ||
              !read_all_bounded(target.pipes.from_child[0], &ns, sizeof(ns), kWaitMs)) {
            ns = 0;
          }
        }
        if (ns == 0) {
          g_data.error = "a data round failed";
          break;
        }
        if (r > 0 || g.data_rounds == 1) (mine ? original : imported).push_back(ns);
      }
    }
  }
  target.stop();
  close(client);
  reap(sink.pid, kWaitMs);
  if (!g_data.error.empty() || original.empty() || imported.empty()) return;
  std::vector<double> ratios;
  for (size_t i = 0; i < original.size() && i < imported.size(); ++i) {
    ratios.push_back(static_cast<double>(original[i]) /
                     static_cast<double>(imported[i]));
  }
  std::sort(ratios.begin(), ratios.end());
  g_data.ratio = ratios[ratios.size() / 2];
  std::sort(original.begin(), original.end());
  std::sort(imported.begin(), imported.end());
  auto mbps = [](uint64_t bytes, uint64_t ns) {
    return static_cast<double>(bytes) / 1e6 / (static_cast<double>(ns) / 1e9);
  };
  g_data.original_mbps = mbps(g.data_bytes, original[original.size() / 2]);
  g_data.imported_mbps = mbps(g.data_bytes, imported[imported.size() / 2]);
}

struct Memory {
  double pull_heap = 0, pull_rss = 0, push_heap = 0, push_rss = 0;
  std::string error;
} g_memory;

// Pull tokens pending in this process (the target never initialises), and
// pushed descriptors waiting in a target's inbox (never imported).
void measure_memory(int s) {
  const int k = g.pending_tokens;
  Pipes idle;
  if (!idle.open()) {
    g_memory.error = "pipe";
    return;
  }
  Child child = spawn_role("idle_target", {idle.to_child[0]}, {});
  idle.parent_side();
  size_t heap0 = heap_bytes(), rss0 = rss_bytes();
  for (int i = 0; i < k && g_memory.error.empty(); ++i) {
    WSAPROTOCOL_INFOA info;
    if (WSADuplicateSocketA(s, static_cast<DWORD>(child.pid), &info) != 0) {
      g_memory.error = std::string("pull duplicate: ") +
                       wsadup_error_name(WSAGetLastError());
    }
  }
  g_memory.pull_heap = (static_cast<double>(heap_bytes()) - static_cast<double>(heap0)) / k;
  g_memory.pull_rss = (static_cast<double>(rss_bytes()) - static_cast<double>(rss0)) / k;
  idle.close_all();
  reap(child.pid, kWaitMs);

  // Tokens stored in the target's inbox: the acknowledged push's (a posted
  // one waits in the kernel's queue, bounded to a few hundred, and costs the
  // target nothing until it is imported).
  struct Acknowledged {
    Acknowledged() { wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0); }
    ~Acknowledged() { wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1); }
  } acknowledged;
  Target target;
  if (!target.start("push_target") || !target.ready(0)) {
    g_memory.error = "could not start the target";
    return;
  }
  uint64_t before[2] = {0, 0}, after[2] = {0, 0};
  if (!target.send('M', "", 0) ||
      !read_all_bounded(target.pipes.from_child[0], before, sizeof(before), kWaitMs)) {
    g_memory.error = "no memory report";
  }
  for (int i = 0; i < k && g_memory.error.empty(); ++i) {
    WSAPROTOCOL_INFOA info;
    if (WSADuplicateSocketA(s, static_cast<DWORD>(target.pid), &info) != 0) {
      g_memory.error = std::string("push duplicate: ") +
                       wsadup_error_name(WSAGetLastError());
    }
  }
  if (g_memory.error.empty() &&
      (!target.send('M', "", 0) ||
       !read_all_bounded(target.pipes.from_child[0], after, sizeof(after), kWaitMs))) {
    g_memory.error = "no memory report";
  }
  g_memory.push_heap = (static_cast<double>(after[0]) - static_cast<double>(before[0])) / k;
  g_memory.push_rss = (static_cast<double>(after[1]) - static_cast<double>(before[1])) / k;
  target.stop();
}

struct Idle {
  double fresh_cpu_us = -1, fresh_wakeups = -1;
  double busy_cpu_us = -1, busy_wakeups = -1;
  double watching_cpu_us = -1, watching_wakeups = -1;
  std::string error;
} g_idle;

// s: a socket to hand to a live target that never initialises, so that a
// pull token is pending and the agent watches that target (a pidfd).
void measure_idle_fresh(int s) {
  // This process, freshly initialised: the agent is the new thread.
  std::vector<pid_t> before = thread_ids();
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    g_idle.error = "WSAStartup failed";
    return;
  }
  std::vector<pid_t> after = thread_ids();
  pid_t agent = -1;
  for (pid_t tid : after) {
    if (!std::binary_search(before.begin(), before.end(), tid)) agent = tid;
  }
  // A first window lets the new thread settle into its loop; the second is
  // the measurement. Neither is a wait for anything.
  timespec settle{0, 100000000L};
  nanosleep(&settle, nullptr);
  ThreadUsage u0 = thread_usage(agent);
  timespec window{g.idle_ms / 1000, (g.idle_ms % 1000) * 1000000L};
  nanosleep(&window, nullptr);  // the measurement window, not a wait
  ThreadUsage u1 = thread_usage(agent);
  // The same agent, now watching a live pull target.
  ThreadUsage u2, u3;
  Pipes idle;
  if (idle.open()) {
    Child child = spawn_role("idle_target", {idle.to_child[0]}, {});
    idle.parent_side();
    WSAPROTOCOL_INFOA info;
    if (WSADuplicateSocketA(s, static_cast<DWORD>(child.pid), &info) == 0) {
      nanosleep(&settle, nullptr);
      u2 = thread_usage(agent);
      nanosleep(&window, nullptr);  // the measurement window, not a wait
      u3 = thread_usage(agent);
    }
    idle.close_all();
    reap(child.pid, kWaitMs);
  }
  WSACleanup();
  if (agent < 0 || !u0.ok || !u1.ok) {
    g_idle.error = "could not read the agent thread's usage";
    return;
  }
  g_idle.fresh_cpu_us = static_cast<double>(u1.cpu_ns - u0.cpu_ns) / 1000.0;
  g_idle.fresh_wakeups = static_cast<double>(u1.switches - u0.switches);
  if (u2.ok && u3.ok) {
    g_idle.watching_cpu_us = static_cast<double>(u3.cpu_ns - u2.cpu_ns) / 1000.0;
    g_idle.watching_wakeups = static_cast<double>(u3.switches - u2.switches);
  }
}

// The push target of row 2, after all its handoffs, with the driver's
// cached connection to its agent still open.
void measure_idle_busy(Target& target) {
  uint32_t window = static_cast<uint32_t>(g.idle_ms);
  uint64_t values[3] = {0, 0, 0};
  if (target.pid <= 0 || !target.send('I', &window, sizeof(window)) ||
      !read_all_bounded(target.pipes.from_child[0], values, sizeof(values),
                        kWaitMs + g.idle_ms) ||
      values[2] != 1) {
    return;
  }
  g_idle.busy_cpu_us = static_cast<double>(values[0]) / 1000.0;
  g_idle.busy_wakeups = static_cast<double>(values[1]);
}

// ---------------------------------------------------------------- table --

const Row* find_row(const std::string& id) {
  for (const Row& row : g_rows) {
    if (row.id == id && row.error.empty() && !row.samples.empty()) return &row;
  }
  return nullptr;
}

std::string machine_description() {
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname name{};
  uname(&name);
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), "%s, %ld CPU(s), Linux %s %s", cpu.c_str(),
                sysconf(_SC_NPROCESSORS_ONLN), name.release, name.machine);
  return buffer;
}

void print_table(const std::string& node_version, const std::string& python_version,
                 const std::string& wine_version) {
  const Row* raw = find_row("1");
  double raw_p50 = 0, raw_rate = 0;
  if (raw != nullptr) {
    std::vector<uint64_t> sorted = raw->samples;
    std::sort(sorted.begin(), sorted.end());
    raw_p50 = percentile_us(sorted, 0.5);
    raw_rate = rate_of(*raw);
  }
  std::printf("\nwsadup handoff benchmarks%s\n", g.smoke ? "  [SMOKE RUN: tiny counts, numbers mean nothing]" : "");
  std::printf("machine: %s\n", machine_description().c_str());
  std::printf("peers:   node %s, %s, %s\n", node_version.empty() ? "(missing)" : node_version.c_str(),
              python_version.empty() ? "python3 (missing)" : python_version.c_str(),
              wine_version.empty() ? "wine (missing)" : wine_version.c_str());
  std::printf("cpus:    %s\n", g_pin ? "every process pinned to one CPU, except rows 1U, 2U, C8*, W8*, P8*, 5, 6, 7 (peers) and the data path (all CPUs)"
                                  : "nothing pinned (--pin=none), except rows 1P and 2P");
  std::printf("handoff = source makes the socket available, target holds a descriptor and its 1-byte ack is back at the source\n\n");
  std::printf("%-4s %-60s %7s %9s %9s %12s %8s %8s\n", "row", "handoff", "n", "p50 us",
              "p99 us", "handoffs/s", "p50/raw", "rate/raw");
  std::printf("%s\n", std::string(124, '-').c_str());
  for (const Row& row : g_rows) {
    if (!row.error.empty()) {
      std::printf("%-4s %-60s   %s\n", row.id.c_str(), row.name.c_str(), row.error.c_str());
      continue;
    }
    std::vector<uint64_t> sorted = row.samples;
    std::sort(sorted.begin(), sorted.end());
    double p50 = percentile_us(sorted, 0.5), p99 = percentile_us(sorted, 0.99);
    double rate = rate_of(row);
    char p50r[32] = "-", rater[32] = "-";
    if (raw_p50 > 0) std::snprintf(p50r, sizeof(p50r), "%.2fx", p50 / raw_p50);
    if (raw_rate > 0) std::snprintf(rater, sizeof(rater), "%.2fx", rate / raw_rate);
    std::printf("%-4s %-60s %7zu %9.1f %9.1f %12.0f %8s %8s\n", row.id.c_str(),
                row.name.c_str(), sorted.size(), p50, p99, rate, p50r, rater);
  }
  std::printf("(p50/raw and rate/raw: against row 1 of this run. C*/W*/P*: one source thread per target, closed loops; p50/p99 per handoff, rate = all handoffs / wall time)\n\n");

  print_notification_rows();
  print_catalog_rows();

  std::printf("other measurements\n%s\n", std::string(124, '-').c_str());
  for (const Extra& item : g_extras) {
    std::printf("%-46s %s\n", item.name.c_str(), item.value.c_str());
  }

  // Targets from the issue.
  std::printf("\ntargets, ratios from this run\n%s\n", std::string(124, '-').c_str());
  auto p50_of = [](const Row* row) {
    std::vector<uint64_t> sorted = row->samples;
    std::sort(sorted.begin(), sorted.end());
    return percentile_us(sorted, 0.5);
  };
  const Row* node = find_row("5");
  const Row* python = find_row("6");
  auto show = [](const std::string& target, const char* value, bool met) {
    std::printf("%-38s %-8s %s\n", target.c_str(), value, met ? "MET" : "MISSED");
  };
  auto missing = [](const std::string& target, const char* why) {
    std::printf("%-38s not measured: %s\n", target.c_str(), why);
  };
  char value[32];
  auto ratio_of = [&](const char* id, const char* base) -> double {
    const Row* row = find_row(id);
    const Row* reference = find_row(base);
    if (row == nullptr || reference == nullptr || !row->error.empty() ||
        !reference->error.empty() || row->samples.empty() ||
        reference->samples.empty()) {
      return 0;
    }
    return p50_of(row) / p50_of(reference);
  };
  // The default handoff against the kernel's, as medians of the interleaved
  // rounds' ratios (rows 1P/2P, 1U/2U).
  if (g_interleaved.error.empty() && !g_interleaved.pinned_p50.empty()) {
    auto range = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      char text[64];
      std::snprintf(text, sizeof(text), "%.2f-%.2f", v.front(), v.back());
      return std::string(text);
    };
    double pinned = median_of(g_interleaved.pinned_p50);
    double unpinned = median_of(g_interleaved.unpinned_p50);
    double rate = median_of(g_interleaved.pinned_rate);
    double rate_free = median_of(g_interleaved.unpinned_rate);
    std::snprintf(value, sizeof(value), "%.2fx", pinned);
    show("default p50 <= 1.2x raw, pinned", value, pinned <= 1.2);
    std::printf("%-38s rounds %s\n", "", range(g_interleaved.pinned_p50).c_str());
    std::snprintf(value, sizeof(value), "%.2fx", unpinned);
    show("default p50 <= 1.5x raw, unpinned", value, unpinned <= 1.5);
    std::printf("%-38s rounds %s\n", "", range(g_interleaved.unpinned_p50).c_str());
    std::snprintf(value, sizeof(value), "%.2fx", rate);
    show("default rate >= 0.85x raw, pinned", value, rate >= 0.85);
    std::printf("%-38s rounds %s; unpinned %.2fx\n", "",
                range(g_interleaved.pinned_rate).c_str(), rate_free);
  } else {
    missing("default p50 and rate against raw", g_interleaved.error.empty()
                                                    ? "not selected"
                                                    : g_interleaved.error.c_str());
  }
  double cold = ratio_of("4", "1");
  if (cold > 0) {
    std::snprintf(value, sizeof(value), "%.2fx", cold);
    show("first handoff to a new process <= 3x raw", value, cold <= 3);
  }
  if (g_interleaved.error.empty() && !g_interleaved.pinned_new.empty()) {
    double pinned = median_of(g_interleaved.pinned_new);
    std::snprintf(value, sizeof(value), "%.2fx", pinned);
    show("first handoff, warm target (4b), pinned", value, pinned <= 3);
    std::printf("%-38s unpinned %.2fx (medians of the rounds)\n", "",
                median_of(g_interleaved.unpinned_new));
    pinned = median_of(g_interleaved.pinned_pull);
    std::snprintf(value, sizeof(value), "%.2fx", pinned);
    show("pull path <= 4x raw (3b), pinned", value, pinned <= 4);
    std::printf("%-38s unpinned %.2fx (medians of the rounds)\n", "",
                median_of(g_interleaved.unpinned_pull));
  }
  const Row* push = find_row("2");
  const Row* wine = find_row("7");
  if (push != nullptr && push->error.empty()) {
    if (node != nullptr && node->error.empty()) {
      double ratio = p50_of(node) / p50_of(push);
      std::snprintf(value, sizeof(value), "%.2fx", ratio);
      show(">= 5x faster than Node", value, ratio >= 5);
    } else {
      missing(">= 5x faster than Node", "Node row missing");
    }
    if (python != nullptr && python->error.empty()) {
      double ratio = p50_of(python) / p50_of(push);
      std::snprintf(value, sizeof(value), "%.2fx", ratio);
      show(">= 20x faster than Python", value, ratio >= 20);
    } else {
      missing(">= 20x faster than Python", "Python row missing");
    }
    if (wine != nullptr && wine->error.empty()) {
      double ratio = p50_of(wine) / p50_of(push);
      std::printf("%-38s %.1fx (no target: reported)\n",
                  "speed-up over the same code under Wine", ratio);
    } else {
      missing("speed-up over Wine", wine == nullptr ? "not selected"
                                                     : wine->error.c_str());
    }
  }
  const Row* stalled = find_row("S");
  if (stalled != nullptr && stalled->error.empty() && !stalled->samples.empty()) {
    std::vector<uint64_t> sorted = stalled->samples;
    std::sort(sorted.begin(), sorted.end());
    double p99 = percentile_us(sorted, 0.99);
    std::snprintf(value, sizeof(value), "%.1f us", p99);
    show("stopped target: p99 <= 100 us", value, p99 <= 100);
  } else {
    missing("stopped target: p99 <= 100 us",
            stalled == nullptr ? "not selected" : stalled->error.c_str());
  }
  if (g_data.error.empty() && g_data.original_mbps > 0) {
    std::snprintf(value, sizeof(value), "%.3f", g_data.ratio);
    show("data path ratio in 0.95..1.05", value,
         g_data.ratio >= 0.95 && g_data.ratio <= 1.05);
  } else {
    missing("data path ratio in 0.95..1.05", g_data.error.c_str());
  }
  print_notification_targets();
  print_catalog_targets();
  if (g.smoke) std::printf("(smoke run: verdicts above are not meaningful)\n");
}

void collect_extras() {
  auto us = [](std::vector<uint64_t> v, double p) {
    std::sort(v.begin(), v.end());
    return percentile_us(v, p);
  };
  if (!g_in.startup.empty()) {
    extra("WSAStartup, first (starts the agent)", "p50 %.1f us, p99 %.1f us (n=%zu)",
          us(g_in.startup, 0.5), us(g_in.startup, 0.99), g_in.startup.size());
    extra("WSACleanup, last (stops the agent)", "p50 %.1f us, p99 %.1f us",
          us(g_in.cleanup, 0.5), us(g_in.cleanup, 0.99));
  }
  if (!g_in.nested.empty()) {
    extra("WSAStartup, nested (reference count)", "p50 %.3f us, p99 %.3f us",
          us(g_in.nested, 0.5), us(g_in.nested, 0.99));
  }
  if (!g_in.self.empty()) {
    extra("in-process handoff to own agent (dup+import)", "p50 %.1f us, p99 %.1f us (n=%zu)",
          us(g_in.self, 0.5), us(g_in.self, 0.99), g_in.self.size());
  }
  if (g_data.error.empty()) {
    extra("data path, original descriptor (source)", "%.0f MB/s (median of %d x %.0f MiB)",
          g_data.original_mbps, g.data_rounds,
          static_cast<double>(g.data_bytes) / (1 << 20));
    extra("data path, imported descriptor (target)", "%.0f MB/s", g_data.imported_mbps);
    extra("data path ratio imported/original", "%.3f (median of the rounds' ratios)",
          g_data.ratio);
  } else {
    extra("data path", "not measured: %s", g_data.error.c_str());
  }
  if (g_memory.error.empty()) {
    extra("memory per pending pull token (source)",
          "%.0f B heap, %.0f B RSS, + 1 descriptor (n=%d)", g_memory.pull_heap,
          g_memory.pull_rss, g.pending_tokens);
    extra("memory per pushed, unimported token (target, acknowledged push)",
          "%.0f B heap, %.0f B RSS, + 1 descriptor (n=%d)", g_memory.push_heap,
          g_memory.push_rss, g.pending_tokens);
  } else {
    extra("memory per pending token", "not measured: %s", g_memory.error.c_str());
  }
  if (g_idle.fresh_cpu_us >= 0) {
    extra("agent idle, fresh (this process)", "%.1f us CPU, %.0f wake-ups in %d ms",
          g_idle.fresh_cpu_us, g_idle.fresh_wakeups, g.idle_ms);
  } else {
    extra("agent idle, fresh", "not measured: %s", g_idle.error.c_str());
  }
  if (g_idle.watching_cpu_us >= 0) {
    extra("agent idle, watching a live pull target", "%.1f us CPU, %.0f wake-ups in %d ms",
          g_idle.watching_cpu_us, g_idle.watching_wakeups, g.idle_ms);
  } else {
    extra("agent idle, watching a pull target", "not measured");
  }
  if (g_idle.busy_cpu_us >= 0) {
    extra("agent idle, after rows 2/2p (connections open)", "%.1f us CPU, %.0f wake-ups in %d ms",
          g_idle.busy_cpu_us, g_idle.busy_wakeups, g.idle_ms);
  } else {
    extra("agent idle, after row 2", "not measured");
  }
}

int driver_main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const char* env = std::getenv("WSADUP_BENCH_SMOKE");
  if (env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0) g.make_smoke();
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      g.make_smoke();
    } else if (std::strcmp(argv[i], "--pin=none") == 0) {
      g_pin = false;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      g_only = argv[i] + 7;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_count = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  sched_getaffinity(0, sizeof(g_all_cpus), &g_all_cpus);
  pin_to_one_cpu();

  // In-process rows: Google Benchmark.
  benchmark::RegisterBenchmark("WSAStartupFirst+WSACleanupLast", BM_WSAStartupFirst)
      ->Iterations(g.startup)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("WSAStartupNested", BM_WSAStartupNested)
      ->Iterations(g.self * 5)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("InProcessHandoff", BM_SelfHandoff)
      ->Iterations(g.self)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::Initialize(&rest_count, rest.data());
  if (selected("micro")) {
    progress("in-process rows (Google Benchmark)");
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();

  // Multi-process rows.
  int client = -1, handed = -1;
  if (!tcp_pair(&client, &handed)) {
    std::fprintf(stderr, "cannot make a loopback TCP connection\n");
    return 1;
  }
  if (selected("raw")) {
    progress("row 1: raw SCM_RIGHTS");
    row_raw("1", "raw SCM_RIGHTS over socketpair(SOCK_STREAM) (the limit)",
            SOCK_STREAM, g.raw, handed);
    row_raw("1b", "  same over socketpair(SOCK_SEQPACKET), wsadup's type",
            SOCK_SEQPACKET, g.raw, handed);
  }

  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    std::fprintf(stderr, "WSAStartup failed\n");
    return 1;
  }
  Target push_target;
  if (selected("push")) {
    progress("row 2: wsadup push");
    row_push(handed, &push_target);
  }
  if (selected("pull")) {
    progress("row 3: wsadup pull");
    row_pull(handed);
  }
  if (selected("cold")) {
    progress("row 4: wsadup cold");
    row_cold(handed);
  }
  if (selected("interleaved")) {
    progress("rows 1P/1U/2P/2U: pinned and unpinned, interleaved");
    rows_interleaved(handed);
  }
  if (selected("stalled")) {
    progress("row S: a stopped target");
    row_stalled(handed);
  }
  if (selected("notify")) {
    progress("rows N1-N3 and idle sockets: WSAEventSelect against epoll");
    NotificationPlan plan;
    plan.smoke = g.smoke;
    plan.rounds = g.rounds;
    plan.idle_ms = g.idle_ms;
    plan.place = place;
    plan.default_pinned = g_pin;
    run_notification_rows(plan);
  }
  if (selected("catalog")) {
    progress("row C1: WSASocket + closesocket with no provider installed");
    CatalogPlan plan;
    plan.smoke = g.smoke;
    plan.rounds = g.rounds;
    plan.place = place;
    plan.default_pinned = g_pin;
    run_catalog_rows(plan);
  }
  std::string node_version, python_version;
  if (selected("node")) {
    progress("row 5: Node.js");
    row_script("5", "Node.js child_process send(msg, socket)", "node",
               "node_handoff.js", g.node, &node_version);
  }
  if (selected("python")) {
    progress("row 6: Python");
    row_script("6", "Python multiprocessing.reduction.DupFd", "python3",
               "python_dupfd.py", g.python, &python_version);
  }
  std::string wine_version;
  if (selected("wine")) {
    progress("row 7: Wine");
    row_wine(&wine_version);
  }
  if (selected("curve")) {
    progress("throughput curve, one CPU");
    rows_curve({1, 2, 4, 8}, "", g_pin ? "one CPU" : "unpinned");
  }
  unpin();
  if (selected("curve") && g_pin) {
    progress("throughput curve, all CPUs");
    rows_curve({8}, "*", "all CPUs");
  }
  if (selected("data")) {
    progress("data path");
    measure_data_path();
  } else {
    g_data.error = "not selected";
  }
  if (selected("memory")) {
    progress("memory per pending token");
    measure_memory(handed);
  } else {
    g_memory.error = "not selected";
  }
  if (selected("idle")) {
    progress("agent idle CPU");
    measure_idle_busy(push_target);
  }
  push_target.stop();
  WSACleanup();  // also ends the pull tokens of the memory measurement
  if (selected("idle")) {
    measure_idle_fresh(handed);
  } else {
    g_idle.error = "not selected";
  }
  close(client);
  close(handed);

  collect_extras();
  print_table(node_version, python_version, wine_version);
  for (const Row& row : g_rows) {
    if (!row.error.empty() && row.error.find("not found") == std::string::npos) {
      return 1;  // a harness failure, never a timing verdict
    }
  }
  if (notification_rows_failed()) return 1;
  if (catalog_rows_failed()) return 1;
  return 0;
}

}  // namespace
}  // namespace wsadup_bench

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--role") == 0) {
    std::vector<std::string> args(argv + 3, argv + argc);
    return wsadup_bench::run_role(argv[2], args);
  }
  return wsadup_bench::driver_main(argc, argv);
}
