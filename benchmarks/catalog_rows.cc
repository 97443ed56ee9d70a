// Row C1: WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0) and
// closesocket, with no provider installed, against socket() and close() in
// the same rounds, one call pair of each side in turn (the first one
// alternating), each round pinned to one CPU and then unpinned. Routing
// through the catalog adds one relaxed atomic load to each call until a
// provider is installed; the rest of the difference is wsadup's own
// bookkeeping of a socket it creates (the table WSACleanup closes from).
#include "catalog_rows.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"
#include "wsadup/wsadup.h"

namespace wsadup_bench {
namespace {

CatalogPlan g_plan;
std::string g_error;
// Per mode (0 pinned, 1 unpinned): pooled samples of each side, and each
// round's ratio of p50s.
std::vector<uint64_t> g_library[2], g_kernel[2];
std::vector<double> g_ratios[2];

double p50_us(std::vector<uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  return percentile_us(samples, 0.5);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string library_pair(uint64_t* elapsed) {
  uint64_t t0 = now_ns();
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  if (s == INVALID_SOCKET) {
    return "WSASocket failed: " + std::to_string(WSAGetLastError());
  }
  if (closesocket(s) != 0) {
    return "closesocket failed: " + std::to_string(WSAGetLastError());
  }
  *elapsed = now_ns() - t0;
  return "";
}

std::string kernel_pair(uint64_t* elapsed) {
  uint64_t t0 = now_ns();
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s < 0) return std::string("socket failed: ") + std::strerror(errno);
  close(s);
  *elapsed = now_ns() - t0;
  return "";
}

}  // namespace

void run_catalog_rows(const CatalogPlan& plan) {
  g_plan = plan;
  const int warmup = plan.smoke ? 2 : 200;
  const int calls = plan.smoke ? 20 : 20000;
  const int rounds = plan.smoke ? 1 : plan.rounds;
  for (int round = 0; round < rounds && g_error.empty(); ++round) {
    for (int mode = 0; mode < 2 && g_error.empty(); ++mode) {
      plan.place(0, mode == 0);
      std::vector<uint64_t> library, kernel;
      for (int i = 0; i < warmup + calls && g_error.empty(); ++i) {
        uint64_t sides[2] = {0, 0};
        for (int side = 0; side < 2 && g_error.empty(); ++side) {
          bool library_first = i % 2 == 0;
          g_error = (side == 0) == library_first ? library_pair(&sides[0])
                                                 : kernel_pair(&sides[1]);
        }
        if (i < warmup) continue;
        library.push_back(sides[0]);
        kernel.push_back(sides[1]);
      }
      if (!g_error.empty()) break;
      g_ratios[mode].push_back(p50_us(library) / p50_us(kernel));
      g_library[mode].insert(g_library[mode].end(), library.begin(),
                             library.end());
      g_kernel[mode].insert(g_kernel[mode].end(), kernel.begin(),
                            kernel.end());
    }
  }
  plan.place(0, plan.default_pinned);
}

void print_catalog_rows() {
  if (g_ratios[0].empty() && g_error.empty()) return;
  std::printf("protocol catalog, no provider installed, against the system's calls in the same rounds\n");
  std::printf("%-4s %-60s %6s %9s %9s %7s\n", "row", "what", "n", "p50 us",
              "p99 us", "p50/k");
  std::printf("%s\n", std::string(124, '-').c_str());
  if (!g_error.empty()) {
    std::printf("C1   not measured: %s\n\n", g_error.c_str());
    return;
  }
  for (int mode = 0; mode < 2; ++mode) {
    const char* suffix = mode == 0 ? "P" : "U";
    const char* where = mode == 0 ? "one CPU" : "all CPUs";
    std::vector<uint64_t> library = g_library[mode], kernel = g_kernel[mode];
    std::sort(library.begin(), library.end());
    std::sort(kernel.begin(), kernel.end());
    std::printf("C1%-2s WSASocket(AF_INET, SOCK_STREAM) + closesocket, %-12s %6zu %9.2f %9.2f %6.2fx\n",
                suffix, where, library.size(), percentile_us(library, 0.5),
                percentile_us(library, 0.99), median(g_ratios[mode]));
    std::printf("C1k%-1s  kernel: socket + close                                     %6zu %9.2f %9.2f %7s\n",
                suffix, kernel.size(), percentile_us(kernel, 0.5),
                percentile_us(kernel, 0.99), "-");
  }
  std::printf("(one pair of calls each, in this process; p50/k: median of the rounds' ratios of p50s)\n\n");
}

void print_catalog_targets() {
  if (!g_error.empty()) {
    std::printf("%-38s not measured: %s\n", "catalog, no provider: C1 / C1k",
                g_error.c_str());
    return;
  }
  if (g_ratios[0].empty()) return;
  std::printf("%-38s %.2fx pinned, %.2fx unpinned (reported; routing adds one relaxed load)\n",
              "catalog, no provider: C1 / C1k", median(g_ratios[0]),
              median(g_ratios[1]));
}

bool catalog_rows_failed() { return !g_error.empty(); }

}  // namespace wsadup_bench
