// SIGPIPE between the first WSAStartup and the last WSACleanup. Windows has
// no such signal: a send on a broken connection fails with WSAECONNRESET.
// Ported code calls the system's send directly on the SOCKET, so the only
// way to give it Windows' answer is the disposition: SIG_IGN makes the
// kernel return EPIPE instead, which WSAGetLastError reports as
// WSAECONNRESET. The disposition is process-wide and survives exec, so it is
// changed only when it is the default, and put back when wsadup ends.
#include <signal.h>

#include <atomic>

#include "posix/internal.h"

namespace wsadup::detail {
namespace {

std::atomic<bool> g_ignore_sigpipe{true};
// True while the disposition is SIG_IGN because startup() set it. Read and
// written under process_state.cc's lock (startup and cleanup hold it).
bool g_sigpipe_ignored_by_us = false;

}  // namespace

void set_ignore_sigpipe(bool enabled) {
  g_ignore_sigpipe.store(enabled, std::memory_order_relaxed);
}

void ignore_sigpipe_at_startup() {
  if (!g_ignore_sigpipe.load(std::memory_order_relaxed)) return;
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) {
    return;  // the program chose a disposition itself
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  g_sigpipe_ignored_by_us = sigaction(SIGPIPE, &ignore, nullptr) == 0;
}

void restore_sigpipe_at_cleanup() {
  if (!g_sigpipe_ignored_by_us) return;
  g_sigpipe_ignored_by_us = false;
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_IGN) {
    return;  // changed by the program since
  }
  struct sigaction restored {};
  restored.sa_handler = SIG_DFL;
  sigemptyset(&restored.sa_mask);
  sigaction(SIGPIPE, &restored, nullptr);
}

}  // namespace wsadup::detail
