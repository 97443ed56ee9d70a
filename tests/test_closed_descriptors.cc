// An application that closes wsadup's descriptors after WSAStartup, as a
// daemon's "close every descriptor above 2" does (POSIX): the calls that need
// them fail with WSAENETDOWN, WSACleanup returns (no abort inside the event
// loop, no hang), and the next WSAStartup works again. Run in a helper
// process, since it closes every descriptor above 2.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support.h"

namespace wsadup_test {
namespace {

// Duplicates s for this process and imports the token; the import's socket
// or INVALID_SOCKET, with *duplicate_error / *import_error set.
SOCKET handoff_to_self(SOCKET s, int* duplicate_error, int* import_error,
                       WSAPROTOCOL_INFOA* token) {
  *duplicate_error = 0;
  *import_error = 0;
  if (WSADuplicateSocketA(s, static_cast<DWORD>(getpid()), token) != 0) {
    *duplicate_error = WSAGetLastError();
    return INVALID_SOCKET;
  }
  SOCKET imported = WSASocketA(0, 0, 0, token, 0, 0);
  if (imported == INVALID_SOCKET) *import_error = WSAGetLastError();
  return imported;
}

// Reports "<step>=<code> ..." on its standard output, one frame.
WSADUP_TEST_HELPER(closes_every_descriptor_above_2) {
  std::ostringstream report;
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  if (s == INVALID_SOCKET) return 3;
  int duplicate_error = 0, import_error = 0;
  WSAPROTOCOL_INFOA warm;
  SOCKET imported = handoff_to_self(s, &duplicate_error, &import_error, &warm);
  report << "before=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  // One token made before, imported after.
  WSAPROTOCOL_INFOA waiting;
  bool made = WSADuplicateSocketA(s, static_cast<DWORD>(getpid()), &waiting) == 0;

  // Whatever the agent's thread is doing at that moment: its loop ends when
  // it next finds its descriptors gone.
  if (close_range(3, ~0U, 0) != 0) return 4;

  s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  report << " socket=" << (s == INVALID_SOCKET ? WSAGetLastError() : 0);
  WSAPROTOCOL_INFOA token;
  imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " duplicate=" << duplicate_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  SOCKET late = made ? WSASocketA(0, 0, 0, &waiting, 0, 0) : INVALID_SOCKET;
  report << " import=" << (late == INVALID_SOCKET ? WSAGetLastError() : 0);
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());

  report << " startup=" << WSAStartup(MAKEWORD(2, 2), &data);
  s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " after=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  if (s != INVALID_SOCKET) closesocket(s);
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());
  // _exit, not a return through exit(): LeakSanitizer's check at exit
  // (ASan builds) cannot run in a process whose descriptors were all closed
  // under it, and aborts. The abandoned agent is kept on purpose anyway.
  _exit(helper_write_frame(report.str()) ? 0 : 5);
}

// The same while another thread hands sockets to this process in a loop,
// so that the agent is busy when its descriptors go: nothing may abort.
WSADUP_TEST_HELPER(closes_descriptors_during_handoffs) {
  WSADATA data;
  // Acknowledged pushes: each one keeps the agent's loop working.
  if (wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0) != 0) return 2;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  std::atomic<int> done{0};
  std::atomic<bool> closed{false};
  std::thread handing([&] {
    SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
    while (!closed.load()) {
      int duplicate_error = 0, import_error = 0;
      WSAPROTOCOL_INFOA token;
      SOCKET imported =
          handoff_to_self(s, &duplicate_error, &import_error, &token);
      if (imported != INVALID_SOCKET) closesocket(imported);
      done.fetch_add(1);
    }
  });
  // Bounded: the thread's handoffs take microseconds each.
  for (long spin = 0; spin < 100000000 && done.load() < 200; ++spin) {
    std::this_thread::yield();
  }
  int before = done.load();
  int status = close_range(3, ~0U, 0);
  closed.store(true);
  handing.join();
  std::ostringstream report;
  report << "handed=" << (before >= 200 ? "yes" : "no")
         << " closed=" << (status == 0 ? 0 : errno)
         << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError())
         << " startup=" << WSAStartup(MAKEWORD(2, 2), &data);
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  int duplicate_error = 0, import_error = 0;
  WSAPROTOCOL_INFOA token;
  SOCKET imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " after=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  if (s != INVALID_SOCKET) closesocket(s);
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());
  _exit(helper_write_frame(report.str()) ? 0 : 5);  // see above
}

// After close_range, the application's own event objects take the lowest
// numbers, the ones the agent's loop had. Every eventfd shares one inode, so
// none of them may be taken for the agent's: the calls still say
// WSAENETDOWN and write into none of them, WSACleanup does not wait for a
// loop nothing can wake, and the next WSAStartup works.
WSADUP_TEST_HELPER(reuses_the_agents_numbers_for_event_objects) {
  std::ostringstream report;
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  if (s == INVALID_SOCKET) return 3;
  int duplicate_error = 0, import_error = 0;
  WSAPROTOCOL_INFOA token;
  SOCKET imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << "before=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);

  if (close_range(3, ~0U, 0) != 0) return 4;
  // More numbers than the agent, its cached connection and the two sockets
  // held: each of theirs is an eventfd now.
  constexpr DWORD kEvents = 24;
  WSAEVENT events[kEvents];
  for (WSAEVENT& event : events) {
    event = WSACreateEvent();
    if (event == WSA_INVALID_EVENT) return 5;
  }
  s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " duplicate=" << duplicate_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  DWORD waited = WSAWaitForMultipleEvents(kEvents, events, FALSE, 0, FALSE);
  report << " signalled="
         << (waited == WSA_WAIT_TIMEOUT ? std::string("none")
                                        : std::to_string(waited));
  // The last WSACleanup closes the event objects with everything else.
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());

  report << " startup=" << WSAStartup(MAKEWORD(2, 2), &data);
  s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " after=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  if (s != INVALID_SOCKET) closesocket(s);
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());
  _exit(helper_write_frame(report.str()) ? 0 : 6);  // see above
}

// A registration, then close_range: the event, the epoll set and the bell
// that served it have numbers the application's own files take next. Those
// files survive everything that follows, a new registration works, and
// WSACleanup and WSAStartup work again.
WSADUP_TEST_HELPER(closes_descriptors_after_event_select) {
  std::ostringstream report;
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  TcpPair pair;
  if (!make_tcp_pair(AF_INET, &pair)) return 3;
  WSAEVENT event = WSACreateEvent();
  if (event == WSA_INVALID_EVENT ||
      WSAEventSelect(pair.server, event, FD_READ) != 0) {
    return 4;
  }
  if (send(pair.client, "x", 1, 0) != 1) return 5;
  report << "before=" << WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE);

  if (close_range(3, ~0U, 0) != 0) return 6;
  // More numbers than wsadup and the sockets above had, each the
  // application's own socket now; each remembered by its inode.
  std::vector<std::pair<int, ino_t>> own;
  for (int i = 0; i < 16; ++i) {
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return 7;
    for (int end : ends) {
      struct stat status;
      if (fstat(end, &status) != 0) return 8;
      own.emplace_back(end, status.st_ino);
    }
  }
  auto kept = [&own] {
    size_t same = 0;
    for (const auto& [descriptor, inode] : own) {
      struct stat status;
      if (fstat(descriptor, &status) == 0 && status.st_ino == inode) ++same;
    }
    return same == own.size() ? std::string("all")
                              : std::to_string(own.size() - same) + " lost";
  };
  // A registration of a socket made now is watched by a set of its own.
  TcpPair fresh;
  if (!make_tcp_pair(AF_INET, &fresh)) return 9;
  WSAEVENT second = WSACreateEvent();
  report << " select="
         << (WSAEventSelect(fresh.server, second, FD_READ) == 0
                 ? 0 : WSAGetLastError());
  if (send(fresh.client, "y", 1, 0) != 1) return 10;
  report << " after=" << WSAWaitForMultipleEvents(1, &second, FALSE, 5000, FALSE);
  WSANETWORKEVENTS events;
  report << " enum="
         << (WSAEnumNetworkEvents(fresh.server, second, &events) == 0
                 ? events.lNetworkEvents : -WSAGetLastError());
  report << " kept=" << kept();
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());
  report << " kept=" << kept();
  report << " startup=" << WSAStartup(MAKEWORD(2, 2), &data);
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  int duplicate_error = 0, import_error = 0;
  WSAPROTOCOL_INFOA token;
  SOCKET imported = handoff_to_self(s, &duplicate_error, &import_error, &token);
  report << " handoff=" << duplicate_error << "," << import_error;
  if (imported != INVALID_SOCKET) closesocket(imported);
  if (s != INVALID_SOCKET) closesocket(s);
  report << " cleanup=" << (WSACleanup() == 0 ? 0 : WSAGetLastError());
  report << " kept=" << kept();
  _exit(helper_write_frame(report.str()) ? 0 : 11);  // see above
}

using ClosedDescriptors = ConformanceTest;

TEST_F(ClosedDescriptors,
       CloseRangeAfterWSAStartupIsWSAENETDOWNAndCleanupAndStartupWorkAgain) {
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("closes_every_descriptor_above_2", {});
  ASSERT_TRUE(child);
  std::string report;
  bool reported = read_frame(*child, &report);
  int code = child->wait(kProcessTimeoutMs);
  ASSERT_EQ(code, 0) << "the helper died or failed (an abort is "
                     << 128 + 6 << "): " << report;
  ASSERT_TRUE(reported);
  const std::string down = std::to_string(WSAENETDOWN);
  EXPECT_EQ(report, "before=0,0 socket=0 duplicate=" + down + " import=" +
                        down + " cleanup=0 startup=0 after=0,0 cleanup=0");
}

TEST_F(ClosedDescriptors, CloseRangeDuringHandoffsNeverAbortsAndStartupWorksAgain) {
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("closes_descriptors_during_handoffs", {});
  ASSERT_TRUE(child);
  std::string report;
  bool reported = read_frame(*child, &report);
  int code = child->wait(kProcessTimeoutMs);
  ASSERT_EQ(code, 0) << "the helper died or failed (an abort is "
                     << 128 + 6 << "): " << report;
  ASSERT_TRUE(reported);
  EXPECT_EQ(report,
            "handed=yes closed=0 cleanup=0 startup=0 after=0,0 cleanup=0");
}

TEST_F(ClosedDescriptors, EventObjectsOnTheAgentsOldNumbersAreNotTakenForIt) {
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("reuses_the_agents_numbers_for_event_objects", {});
  ASSERT_TRUE(child);
  std::string report;
  bool reported = read_frame(*child, &report);
  int code = child->wait(kProcessTimeoutMs);
  ASSERT_EQ(code, 0) << "the helper died, failed or hung: " << report;
  ASSERT_TRUE(reported);
  const std::string down = std::to_string(WSAENETDOWN);
  EXPECT_EQ(report, "before=0,0 duplicate=" + down +
                        " signalled=none cleanup=0 startup=0 after=0,0"
                        " cleanup=0");
}

TEST_F(ClosedDescriptors,
       AfterARegistrationTheApplicationsFilesOnItsNumbersAreLeftAlone) {
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("closes_descriptors_after_event_select", {});
  ASSERT_TRUE(child);
  std::string report;
  bool reported = read_frame(*child, &report);
  int code = child->wait(kProcessTimeoutMs);
  ASSERT_EQ(code, 0) << "the helper died, failed or hung: " << report;
  ASSERT_TRUE(reported);
  EXPECT_EQ(report, "before=0 select=0 after=0 enum=" +
                        std::to_string(FD_READ) +
                        " kept=all cleanup=0 kept=all startup=0 handoff=0,0"
                        " cleanup=0 kept=all");
}

}  // namespace
}  // namespace wsadup_test
