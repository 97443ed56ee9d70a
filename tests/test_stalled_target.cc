// WSADuplicateSocket never waits for another process (POSIX): on Windows the
// handle is duplicated into the target without the target running at all,
// so a stopped, busy or debugger-stopped worker never delays the dispatcher.
// Here the target is a real process stopped with SIGSTOP after its
// WSAStartup, before any handoff reaches it (the first one opens the
// connection too).
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "support.h"

namespace wsadup_test {
namespace {

using StalledTarget = ConformanceTest;

// Stops the peer and returns once the kernel reports it stopped (waitid
// with WNOWAIT leaves the report for the harness's own wait later).
bool stop(Peer& peer) {
  pid_t pid = static_cast<pid_t>(peer.pid());
  if (kill(pid, SIGSTOP) != 0) return false;
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WNOWAIT) ==
             0 &&
         info.si_code == CLD_STOPPED;
}

bool resume(Peer& peer) {
  return kill(static_cast<pid_t>(peer.pid()), SIGCONT) == 0;
}

TEST_F(StalledTarget, HandoffsToAStoppedTargetReturnAndAllImportOnceItRuns) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(stop(*peer));
  // Every call returns while the target cannot run: were one to wait for
  // it, this would hang (ctest's timeout bounds that), or fail with the
  // WSAENETDOWN of a reply that never came.
  int error = 0;
  std::vector<std::string> tokens =
      duplicate_many(pair.server, peer->pid(), 200, &error);
  EXPECT_EQ(error, 0) << "after " << tokens.size() << " handoffs";
  ASSERT_TRUE(resume(*peer));
  ASSERT_TRUE(peer_imports_all(*peer, tokens));
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(peer_sends_through(*peer, static_cast<int>(i), pair.client,
                                   "w" + std::to_string(i)));
  }
  EXPECT_EQ(peer->call("cleanup"), "ok");
  EXPECT_EQ(peer->call("startup"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// "WSAENOBUFS: No buffer space is available": a stopped target's queue
// fills, and the next handoff fails at once; nothing made before is lost.
TEST_F(StalledTarget, AFullQueueIsWSAENOBUFSAtOnceAndNothingIsLost) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(stop(*peer));
  int error = 0;
  std::vector<std::string> tokens =
      duplicate_many(pair.server, peer->pid(), 10000, &error);
  EXPECT_EQ(error, WSAENOBUFS) << "after " << tokens.size() << " handoffs";
  ASSERT_TRUE(resume(*peer));
  ASSERT_TRUE(peer_imports_all(*peer, tokens));
  ASSERT_FALSE(tokens.empty());
  EXPECT_TRUE(peer_sends_through(*peer, static_cast<int>(tokens.size()) - 1,
                                 pair.client, "last"));
  EXPECT_EQ(peer->call("cleanup"), "ok");
  EXPECT_EQ(peer->call("startup"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// A target killed while stopped releases every socket queued for it: the
// peers see end of stream once the source has closed its own descriptors,
// and the source keeps nothing.
TEST_F(StalledTarget, ATargetKilledWhileStoppedReleasesEverySocketQueuedForIt) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(stop(*peer));
  constexpr int kSockets = 20;
  std::vector<SOCKET> clients;
  for (int i = 0; i < kSockets; ++i) {
    TcpPair pair;
    ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
    ASSERT_FALSE(duplicate_for(pair.server, peer->pid()).empty())
        << i << ": " << WSAGetLastError();
    EXPECT_EQ(closesocket(pair.server), 0);
    clients.push_back(pair.client);
  }
  peer->process().kill();
  for (SOCKET client : clients) {
    EXPECT_TRUE(sees_end_of_stream(client));
    EXPECT_EQ(closesocket(client), 0);
  }
}

}  // namespace
}  // namespace wsadup_test
