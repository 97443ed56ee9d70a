// The protocol catalog's row of the benchmark driver: what routing through
// the catalog costs a process with no provider installed (every process
// that uses no layered provider), measured as WSASocket + closesocket
// against the system's socket + close in the same rounds.
#ifndef WSADUP_BENCHMARKS_CATALOG_ROWS_H
#define WSADUP_BENCHMARKS_CATALOG_ROWS_H

#include <sys/types.h>

namespace wsadup_bench {

struct CatalogPlan {
  bool smoke = false;
  int rounds = 7;
  void (*place)(pid_t pid, bool pinned) = nullptr;
  bool default_pinned = true;
};

// Runs the row; the driver has called WSAStartup.
void run_catalog_rows(const CatalogPlan& plan);
void print_catalog_rows();
void print_catalog_targets();
bool catalog_rows_failed();

}  // namespace wsadup_bench

#endif  // WSADUP_BENCHMARKS_CATALOG_ROWS_H
