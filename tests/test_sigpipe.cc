// SIGPIPE (POSIX): Windows has no such signal, so Windows code that sends
// on a broken connection expects an error, not death. WSAStartup sets
// SIGPIPE to SIG_IGN when it is still SIG_DFL, unless the program opted out
// with wsadup_set_option(WSADUP_OPTION_IGNORE_SIGPIPE, 0); WSASend never
// raises it either way. Each case runs in a helper process started with the
// default disposition, so this binary's own (ignored) SIGPIPE is untouched.
#include <signal.h>

#include <sstream>
#include <string>

#include "support.h"

namespace wsadup_test {
namespace {

using Sigpipe = ConformanceTest;

volatile sig_atomic_t g_handled_sigpipes = 0;

void count_sigpipe(int) { g_handled_sigpipes = g_handled_sigpipes + 1; }

std::string disposition() {
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) != 0) return "unknown";
  if (current.sa_handler == SIG_IGN) return "ignore";
  if (current.sa_handler == SIG_DFL) return "default";
  if (current.sa_handler == count_sigpipe) return "handler";
  return "other";
}

// Sends one byte twice through s, with send or with WSASend, and lists the
// error codes ("10054,10054"); 0 for a send that succeeded.
std::string two_sends(SOCKET s, bool through_wsasend) {
  std::ostringstream codes;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int code = 0;
    if (through_wsasend) {
      char byte = 'x';
      WSABUF buffer;
      buffer.buf = &byte;
      buffer.len = 1;
      DWORD sent = 0;
      if (WSASend(s, &buffer, 1, &sent, 0, nullptr, nullptr) != 0) {
        code = WSAGetLastError();
      }
    } else if (send(s, "x", 1, 0) == SOCKET_ERROR) {
      code = WSAGetLastError();
    }
    codes << (attempt ? "," : "") << code;
  }
  return codes.str();
}

// A connection whose far end was reset: pair->server is the end left.
bool reset_connection(TcpPair* pair) {
  if (!make_tcp_pair(AF_INET, pair)) return false;
  linger abort_on_close;
  abort_on_close.l_onoff = 1;
  abort_on_close.l_linger = 0;
  if (setsockopt(pair->client, SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof(abort_on_close)) != 0 ||
      closesocket(pair->client) != 0) {
    return false;
  }
  pair->client = INVALID_SOCKET;
  // The reset has arrived once the socket turns readable.
  return !stays_quiet(pair->server, kProcessTimeoutMs);
}

// The probe. Argument: "default" (WSAStartup decides), "opt_out" (the
// option is 0 before WSAStartup) or "handler" (the program installed its
// own handler first). Sends on a reset connection and after its own
// shutdown(SD_SEND): with send and WSASend when SIGPIPE is ignored, only
// with WSASend otherwise (a send would kill it). Reports one line:
// "disposition=<d> reset=<codes> shutdown=<codes>"; if a send raised
// SIGPIPE it dies instead, and reports nothing.
WSADUP_TEST_HELPER(sigpipe_probe) {
  std::string mode = arguments.empty() ? "" : arguments[0];
  // exec passed on the parent's SIG_IGN, and main() set it again: start
  // from what a program gets by default.
  signal(SIGPIPE, mode == "handler" ? count_sigpipe : SIG_DFL);
  if (mode == "opt_out" &&
      wsadup_set_option(WSADUP_OPTION_IGNORE_SIGPIPE, 0) != 0) {
    helper_write_frame("err option " + std::to_string(WSAGetLastError()));
    return 2;
  }
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  std::string seen = disposition();
  // Plain send only where no signal can kill the probe.
  bool plain_send_is_safe = seen == "ignore" || seen == "handler";
  std::ostringstream report;
  report << "disposition=" << seen;

  TcpPair reset;
  if (!reset_connection(&reset)) return 3;
  report << " reset=" << two_sends(reset.server, /*through_wsasend=*/true);
  if (plain_send_is_safe) report << "/" << two_sends(reset.server, false);

  TcpPair shut;
  if (!make_tcp_pair(AF_INET, &shut) || shutdown(shut.client, SD_SEND) != 0) {
    return 3;
  }
  report << " shutdown=" << two_sends(shut.client, /*through_wsasend=*/true);
  if (plain_send_is_safe) report << "/" << two_sends(shut.client, false);
  if (mode == "handler") report << " handled=" << g_handled_sigpipes;

  closesocket(reset.server);
  closesocket(shut.client);
  closesocket(shut.server);
  WSACleanup();
  return helper_write_frame(report.str()) ? 0 : 4;
}

// Runs the probe in mode; its report, or why there is none.
std::string probe(const std::string& mode) {
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("sigpipe_probe", {mode});
  if (!child) return "not started";
  std::string report;
  bool reported = read_frame(*child, &report);
  int code = child->wait(kProcessTimeoutMs);
  if (code == 128 + SIGPIPE) return "killed by SIGPIPE";
  if (!reported || code != 0) {
    return "exit " + std::to_string(code) + ": " + report;
  }
  return report;
}

std::string codes(int first, int second) {
  return std::to_string(first) + "," + std::to_string(second);
}

// The system's own send after this side's shutdown fails with EPIPE, as after
// a reset: it cannot tell them apart and reads as WSAECONNRESET
// (docs/porting.md section 4, docs/conformance.md L2). WSASend, which sees
// the socket, reports Windows' WSAESHUTDOWN.
const std::string kPlainSendAfterShutdown = codes(WSAECONNRESET, WSAECONNRESET);

TEST_F(Sigpipe, AfterWSAStartupABrokenConnectionIsAnErrorNotASignal) {
  const std::string reset = codes(WSAECONNRESET, WSAECONNRESET);
  const std::string shut = codes(WSAESHUTDOWN, WSAESHUTDOWN);
  EXPECT_EQ(probe("default"), "disposition=ignore reset=" + reset + "/" +
                                  reset + " shutdown=" + shut + "/" +
                                  kPlainSendAfterShutdown);
}

TEST_F(Sigpipe, OptingOutLeavesTheDefaultAndWSASendStillRaisesNoSignal) {
  const std::string reset = codes(WSAECONNRESET, WSAECONNRESET);
  const std::string shut = codes(WSAESHUTDOWN, WSAESHUTDOWN);
  EXPECT_EQ(probe("opt_out"),
            "disposition=default reset=" + reset + " shutdown=" + shut);
}

// A program that handles SIGPIPE itself keeps its handler, and WSASend does
// not trigger it.
TEST_F(Sigpipe, AProgramsOwnHandlerIsLeftInPlace) {
  const std::string reset = codes(WSAECONNRESET, WSAECONNRESET);
  const std::string shut = codes(WSAESHUTDOWN, WSAESHUTDOWN);
  const std::string expected = "disposition=handler reset=" + reset + "/" +
                               reset + " shutdown=" + shut + "/" +
                               kPlainSendAfterShutdown + " handled=";
  std::string report = probe("handler");
  EXPECT_EQ(report.compare(0, expected.size(), expected), 0) << report;
}

}  // namespace
}  // namespace wsadup_test
