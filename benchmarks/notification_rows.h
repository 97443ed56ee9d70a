// The notification rows of the benchmark driver (WSAEventSelect and its
// wait), each measured against the nearest kernel equivalent in the same
// rounds: the cost of one WSAEventSelect call, the latency from data
// arriving to the registrant's WSAWaitForMultipleEvents returning, and what
// a process with many idle registered sockets costs while it waits.
#ifndef WSADUP_BENCHMARKS_NOTIFICATION_ROWS_H
#define WSADUP_BENCHMARKS_NOTIFICATION_ROWS_H

#include <sys/types.h>

#include <string>
#include <vector>

namespace wsadup_bench {

struct NotificationPlan {
  bool smoke = false;
  int rounds = 7;        // interleaved rounds, each pinned then unpinned
  int idle_ms = 2000;    // the idle window
  // Sets the CPUs of every thread of process pid (0: this one): one CPU,
  // or all of them (the driver's place()).
  void (*place)(pid_t pid, bool pinned) = nullptr;
  bool default_pinned = true;  // the placement to go back to afterwards
};

// Runs the rows; the driver has called WSAStartup.
void run_notification_rows(const NotificationPlan& plan);
// The rows' own table, the idle measurement, and the target lines.
void print_notification_rows();
void print_notification_targets();
// True when a row could not run (a harness failure, never a timing).
bool notification_rows_failed();

// The child processes these rows start (fork/exec as --role).
bool is_notification_role(const std::string& role);
int run_notification_role(const std::string& role,
                          const std::vector<std::string>& args);

}  // namespace wsadup_bench

#endif  // WSADUP_BENCHMARKS_NOTIFICATION_ROWS_H
