// Small helpers shared by the benchmark driver's parts: clocks, bounded
// waits, process spawning (fork/exec of this executable as a named role) and
// percentiles. Every wait on another process is bounded; nothing sleeps as
// synchronisation.
#ifndef WSADUP_BENCHMARKS_BENCH_UTIL_H
#define WSADUP_BENCHMARKS_BENCH_UTIL_H

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsadup_bench {

// How long the driver waits for any single answer from another process
// before it gives up on the row. Only bounds a hang; never a measurement.
constexpr int kWaitMs = 20000;

uint64_t now_ns();

// Blocking, complete I/O (children): false on EOF or error.
bool write_all(int fd, const void* data, size_t size);
bool read_all(int fd, void* data, size_t size);
// Driver side: every read waits at most timeout_ms in all.
bool read_all_bounded(int fd, void* data, size_t size, int timeout_ms);

// A child started as "<this executable> --role <role> <args...>" with the
// given descriptors at 3, 4, 5, ... in order. Everything else is closed.
struct Child {
  pid_t pid = -1;
};
Child spawn_role(const std::string& role, const std::vector<int>& fds,
                 const std::vector<std::string>& args);
// Runs an external program with stdout captured into *output; waits at most
// timeout_ms, killing it after that. Returns the exit status or -1.
int run_capture(const std::vector<std::string>& argv, std::string* output,
                int timeout_ms);
// Reaps the child, waiting at most timeout_ms; kills it after that.
int reap(pid_t pid, int timeout_ms);

// A connected TCP pair on loopback: *client (connected) and *server
// (accepted). Returns false on failure.
bool tcp_pair(int* client, int* server);

// Nearest-rank percentile of sorted samples, in microseconds.
double percentile_us(const std::vector<uint64_t>& sorted_ns, double p);
double mean_ns(const std::vector<uint64_t>& samples_ns);

// Resident set of this process in bytes (/proc/self/statm).
size_t rss_bytes();
// Heap bytes in use (glibc mallinfo2).
size_t heap_bytes();

// CPU time (ns, from /proc/<pid>/task/<tid>/stat clock ticks) and context
// switches (voluntary + involuntary) of one thread of this process.
struct ThreadUsage {
  uint64_t cpu_ns = 0;
  uint64_t switches = 0;
  bool ok = false;
};
ThreadUsage thread_usage(pid_t tid);
std::vector<pid_t> thread_ids();
// The thread ids of process pid (/proc/<pid>/task).
std::vector<pid_t> thread_ids_of(pid_t pid);

}  // namespace wsadup_bench

#endif  // WSADUP_BENCHMARKS_BENCH_UTIL_H
