// The posted push (the default; WSADUP_OPTION_POSTED_PUSH 1): the source's
// WSADuplicateSocket returns once the descriptor is queued for the target,
// without waiting for it, even on first contact. Every handoff must work as
// the acknowledged one does; what changes is where a target short of
// descriptors learns it (its WSASocket, and the token stays good), and that
// what waits in a mailbox is not in the target's descriptor table yet.
#include <cstdio>
#include <string>
#include <vector>

#include "support.h"

namespace wsadup_test {
namespace {

class PostedPush : public ConformanceTest {};

// Sets the option for the scope (it is the default already: this says so
// where the test depends on it) and puts the default back.
class PostedPushOn {
 public:
  PostedPushOn() : ok_(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1) == 0) {}
  ~PostedPushOn() { wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1); }
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

TEST_F(PostedPush, OptionTakesOnlyKnownOptionsAndValues) {
  // Callable before WSAStartup: it sets how later calls behave.
  WSASetLastError(0);
  EXPECT_EQ(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH + 100, 1),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  WSASetLastError(0);
  EXPECT_EQ(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 2), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  WSASetLastError(0);
  EXPECT_EQ(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, -1), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1), 0);
  EXPECT_EQ(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0), 0);
}

TEST_F(PostedPush, ConnectedListeningAndUdpSocketsHandOff) {
  PostedPushOn posted;
  ASSERT_TRUE(posted.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);

  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(peer->call("import A", duplicate_for(pair.server, peer->pid())),
            "ok 0");
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.client, "tcp"));

  // The source closes its listener before the target imports: the queued
  // descriptor alone keeps the socket.
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET6, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::string token = duplicate_for(listener, peer->pid());
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_EQ(closesocket(listener), 0);
  ASSERT_EQ(peer->call("import A", token), "ok 1");
  SOCKET client = connect_to(AF_INET6, port);
  ASSERT_NE(client, INVALID_SOCKET);
  ASSERT_EQ(peer->call("accept 1"), "ok 2");
  EXPECT_TRUE(peer_sends_through(*peer, 2, client, "accepted"));
  EXPECT_EQ(peer->call("close 2"), "ok");  // accept()ed: not wsadup's

  unsigned short udp_port = 0;
  SOCKET udp = make_udp(AF_INET, &udp_port);
  ASSERT_NE(udp, INVALID_SOCKET);
  ASSERT_EQ(peer->call("import A", duplicate_for(udp, peer->pid())), "ok 3");
  SOCKET sender = make_udp(AF_INET, &port);
  ASSERT_NE(sender, INVALID_SOCKET);
  ASSERT_TRUE(send_udp(sender, AF_INET, udp_port, "datagram"));
  EXPECT_EQ(peer->call("udp_recv 3"), "ok datagram");

  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(sender), 0);
  EXPECT_EQ(closesocket(udp), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(PostedPush, TokensImportInAnyOrderAndEachOnlyOnce) {
  PostedPushOn posted;
  ASSERT_TRUE(posted.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  constexpr int kSockets = 5;
  TcpPair pairs[kSockets];
  std::string tokens[kSockets];
  for (int i = 0; i < kSockets; ++i) {
    ASSERT_TRUE(make_tcp_pair(AF_INET, &pairs[i]));
    tokens[i] = duplicate_for(pairs[i].server, peer->pid());
    ASSERT_FALSE(tokens[i].empty()) << WSAGetLastError();
  }
  // Last first: the target reads past the others to find it, and keeps them.
  for (int i = kSockets - 1, index = 0; i >= 0; --i, ++index) {
    ASSERT_EQ(peer->call("import A", tokens[i]),
              "ok " + std::to_string(index));
    EXPECT_TRUE(peer_sends_through(*peer, index, pairs[i].client,
                                   "socket" + std::to_string(i)));
  }
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine imports a token more than once "
                "(docs/conformance.md W1)\n");
  } else {
    EXPECT_EQ(peer->call("import A", tokens[2]),
              "err " + std::to_string(WSAEINVAL));
  }
  EXPECT_EQ(peer->finish(), 0);
  for (TcpPair& pair : pairs) {
    EXPECT_EQ(closesocket(pair.server), 0);
    EXPECT_EQ(closesocket(pair.client), 0);
  }
}

#if !defined(_WIN32)
// "WSAENOBUFS: No buffer space is available": a target that imports
// nothing fills its mailbox (the kernel's queue, a few hundred messages by
// default); the next duplicate fails at once, never waiting, and loses
// nothing: every token made before imports, and after imports free room the
// same socket hands off again.
TEST_F(PostedPush, AFullMailboxIsWSAENOBUFSAtOnceAndLosesNothing) {
  PostedPushOn posted;
  ASSERT_TRUE(posted.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  int error = 0;
  std::vector<std::string> tokens =
      duplicate_many(pair.server, peer->pid(), 10000, &error);  // far past the queue
  EXPECT_EQ(error, WSAENOBUFS) << "after " << tokens.size() << " tokens";
  ASSERT_GT(tokens.size(), 0u);
  ASSERT_TRUE(peer_imports_all(*peer, tokens));
  EXPECT_TRUE(peer_sends_through(*peer, static_cast<int>(tokens.size()) - 1,
                                 pair.client, "last"));
  std::string again = duplicate_for(pair.server, peer->pid());
  ASSERT_FALSE(again.empty()) << WSAGetLastError();
  EXPECT_EQ(peer->call("import A", again),
            "ok " + std::to_string(tokens.size()));
  // The target's WSACleanup closes every imported socket.
  EXPECT_EQ(peer->call("cleanup"), "ok");
  EXPECT_EQ(peer->call("startup"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// A token the target cannot import for lack of descriptors fails with
// WSAEMFILE and is not consumed: the descriptor is still queued, and the
// import succeeds once the application has freed one.
TEST_F(PostedPush, TargetWithoutDescriptorsGetsWSAEMFILEAndTheRetryImports) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  ASSERT_EQ(source->call("post 1"), "ok");
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  // A first handoff opens the source's mailbox here (accepting it takes a
  // descriptor too).
  std::string reply =
      source->call("duplicate 0 " + std::to_string(current_pid()));
  WSAPROTOCOL_INFOA first;
  ASSERT_TRUE(token_from_reply(reply, &first)) << reply;
  SOCKET imported = import_token(&first);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_EQ(closesocket(imported), 0);
  int error = 0;
  {
    DescriptorExhaustion exhausted;
    // The source does not wait for this process, so it cannot know.
    reply = source->call("duplicate 0 " + std::to_string(current_pid()));
    WSAPROTOCOL_INFOA info;
    ASSERT_TRUE(token_from_reply(reply, &info)) << reply;
    EXPECT_EQ(import_token(&info), INVALID_SOCKET);
    error = WSAGetLastError();
    exhausted.release();
    SOCKET retried = import_token(&info);
    EXPECT_NE(retried, INVALID_SOCKET) << WSAGetLastError();
    EXPECT_TRUE(sends_through(retried, server, "retry"));
    EXPECT_EQ(closesocket(retried), 0);
    // Imported once: a second import fails.
    EXPECT_EQ(import_token(&info), INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  EXPECT_EQ(error, WSAEMFILE);
  // The source's own socket is untouched and hands off again.
  reply = source->call("duplicate 0 " + std::to_string(current_pid()));
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_reply(reply, &info)) << reply;
  imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_TRUE(sends_through(imported, server, "x"));
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

// A source that exits while this process has no descriptor free: what it
// posted stays queued on its closed mailbox (the agent cannot move it into
// the inbox without a descriptor for it) and imports once one is free,
// instead of being lost to MSG_CTRUNC.
TEST_F(PostedPush, WhatASourceLeftWhileTheTargetWasOutOfDescriptorsStillImports) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> other = Peer::start();
  ASSERT_TRUE(source && other);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  SOCKET other_end = other->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  ASSERT_NE(other_end, INVALID_SOCKET);
  // Both sources' mailboxes exist here; the other's token is spent, and
  // importing it again makes this process's agent run one catch-up round.
  std::string here = std::to_string(current_pid());
  WSAPROTOCOL_INFOA warm, spent, posted;
  ASSERT_TRUE(token_from_reply(source->call("duplicate 0 " + here), &warm));
  ASSERT_TRUE(token_from_reply(other->call("duplicate 0 " + here), &spent));
  SOCKET first = import_token(&warm);
  SOCKET second = import_token(&spent);
  ASSERT_NE(first, INVALID_SOCKET);
  ASSERT_NE(second, INVALID_SOCKET);
  {
    DescriptorExhaustion exhausted;
    ASSERT_TRUE(token_from_reply(source->call("duplicate 0 " + here), &posted));
    source->process().kill();  // reaped: its end of the mailbox is closed
    // Two rounds of this process's agent after the close: by the end of the
    // second it has handled the mailbox's end (epoll reported it, with
    // everything else ready, no later than the batch of the first round, and
    // the loop runs a whole batch before it waits again).
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(import_token(&spent), INVALID_SOCKET);
      EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
    }
  }
  SOCKET imported = import_token(&posted);
  ASSERT_NE(imported, INVALID_SOCKET) << wsadup_error_name(WSAGetLastError());
  EXPECT_TRUE(sends_through(imported, server, "kept"));
  EXPECT_EQ(other->finish(), 0);
  for (SOCKET s : {imported, first, second, server, other_end, listener}) {
    EXPECT_EQ(closesocket(s), 0);
  }
}

TEST_F(PostedPush, WhatASourceKilledAfterPostingLeftIsStillImported) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  ASSERT_EQ(source->call("post 1"), "ok");
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    std::string reply =
        source->call("duplicate 0 " + std::to_string(current_pid()));
    ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
    tokens.push_back(reply.substr(3));
  }
  source->process().kill();
  // Whether this process's agent has read the closed mailbox yet or not,
  // each token imports once.
  for (const std::string& token : tokens) {
    WSAPROTOCOL_INFOA info;
    ASSERT_TRUE(token_from_bytes(token, &info));
    SOCKET imported = import_token(&info);
    ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
    EXPECT_TRUE(sends_through(imported, server, "k"));
    EXPECT_EQ(closesocket(imported), 0);
    EXPECT_EQ(import_token(&info), INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(PostedPush, TargetCleanupReleasesWhatWaitsAndTheSourceReconnects) {
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  ASSERT_EQ(source->call("post 1"), "ok");
  size_t before = open_descriptor_count();
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  ASSERT_EQ(closesocket(listener), 0);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    std::string reply =
        source->call("duplicate 0 " + std::to_string(current_pid()));
    ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
    tokens.push_back(reply.substr(3));
  }
  // The accepted socket is not wsadup's: WSACleanup leaves it open.
  ASSERT_EQ(WSACleanup(), 0);
  EXPECT_EQ(open_descriptor_count(), before + 1)
      << "WSACleanup left descriptors behind";
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  for (const std::string& token : tokens) {
    WSAPROTOCOL_INFOA info;
    ASSERT_TRUE(token_from_bytes(token, &info));
    EXPECT_EQ(import_token(&info), INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  // The source's cached mailbox is dead now; its next push finds the new
  // agent.
  std::string reply = source->call("duplicate 0 " + std::to_string(current_pid()));
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_reply(reply, &info)) << reply;
  SOCKET imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_TRUE(sends_through(imported, server, "again"));
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(server), 0);
}

TEST_F(PostedPush, ToATargetThatExitedIsWSAEINVAL) {
  PostedPushOn posted;
  ASSERT_TRUE(posted.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  ASSERT_FALSE(duplicate_for(s, peer->pid()).empty());  // opens the mailbox
  uint32_t pid = peer->pid();
  EXPECT_EQ(peer->finish(), 0);
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(s, pid, &info), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(closesocket(s), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
