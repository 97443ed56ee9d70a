// Lifetime: every descriptor is a reference, and the socket lives until the
// last one closes, including the one an unredeemed token holds. The source
// may close or exit as soon as WSADuplicateSocket returns (push path); a
// target that had not called WSAStartup still imports (pull path).
#include <cstdio>

#include "support.h"

namespace wsadup_test {
namespace {

using Lifetime = ConformanceTest;

// Long enough to see a wrongly delivered end of stream on loopback; only a
// negative check, never what the test waits on to proceed.
constexpr int kQuietMs = 300;

TEST_F(Lifetime, ClosingTheSourceLeavesTheTargetWorking) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(peer->call("import A", duplicate_for(pair.server, peer->pid())),
            "ok 0");
  ASSERT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(stays_quiet(pair.client, kQuietMs)) << "closed too early";
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.client, "alive"));
  // The last descriptor closes: now the peer sees the end of the stream.
  EXPECT_EQ(peer->call("close 0"), "ok");
  EXPECT_TRUE(sees_end_of_stream(pair.client));
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Lifetime, APendingUnredeemedPushTokenHoldsTheSocketOpen) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.server, peer->pid());
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(stays_quiet(pair.client, kQuietMs)) << "token lost its reference";
  ASSERT_EQ(peer->call("import A", token), "ok 0");
  EXPECT_EQ(peer->call("send 0 late"), "ok");
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 4, &got));
  EXPECT_EQ(peer->call("close 0"), "ok");
  EXPECT_TRUE(sees_end_of_stream(pair.client));
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Lifetime, APendingUnredeemedPullTokenHoldsTheSocketOpen) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start(/*init=*/false);
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.server, peer->pid());
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(stays_quiet(pair.client, kQuietMs)) << "token lost its reference";
  ASSERT_EQ(peer->call("startup"), "ok");
  ASSERT_EQ(peer->call("import A", token), "ok 0");
  EXPECT_EQ(peer->call("close 0"), "ok");
  // The import committed only after this process dropped its reference, so
  // the target's close was the last one.
  EXPECT_TRUE(sees_end_of_stream(pair.client));
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Lifetime, TheSourceMayExitRightAfterWSADuplicateSocketReturns) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> target = Peer::start();
  ASSERT_TRUE(source && target);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  std::string reply =
      source->call("duplicate 0 " + std::to_string(target->pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  // The source exits (closing everything it had) before the target imports.
  EXPECT_EQ(source->finish(), 0);
  ASSERT_EQ(target->call("import A", reply.substr(3)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, server, "survived"));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_TRUE(sees_end_of_stream(server));
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(Lifetime, TargetWithoutWSAStartupImportsLaterThroughThePullPath) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start(/*init=*/false);
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET6, &pair));
  std::string token = duplicate_for(pair.server, peer->pid());
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_EQ(peer->call("startup"), "ok");
  ASSERT_EQ(peer->call("import A", token), "ok 0");
  ASSERT_TRUE(send_all(pair.client, "pulled"));
  EXPECT_EQ(peer->call("recv 0 6"), "ok pulled");
  // Pull tokens work once, too.
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine imports a token more than once "
                "(docs/conformance.md W1)\n");
  } else {
    EXPECT_EQ(peer->call("import A", token),
              "err " + std::to_string(WSAEINVAL));
  }
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

#if !defined(_WIN32)
// POSIX only: Windows places the handle in the target at duplication time,
// so there is no pull path there. docs/design.md documents this behaviour.
TEST_F(Lifetime, PullTokenWhoseSourceExitedFailsPromptlyWithWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(source && target);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  std::string reply =
      source->call("duplicate 0 " + std::to_string(target->pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  EXPECT_EQ(source->finish(), 0);
  // Every reference is gone with the source: the peer sees end of stream,
  // and the target's import is a clear error, not a hang.
  EXPECT_TRUE(sees_end_of_stream(server));
  ASSERT_EQ(target->call("startup"), "ok");
  EXPECT_EQ(target->call("import A", reply.substr(3)),
            "err " + std::to_string(WSAEINVAL));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
