// WSAPoll: readable, writable, hung up, nothing ready, an invalid socket
// and an entry to skip, under Windows' rules. POLL* keep the system's
// values on POSIX, so the tests name the flags, never their numbers.
#include <cstdio>
#include <string>

#include "support.h"

namespace wsadup_test {
namespace {

using WSAPollCalls = ConformanceTest;

// Not a socket of this process on either system: Windows hands out handle
// values far below it, and POSIX descriptor limits end below it.
const SOCKET kNoSuchSocket = static_cast<SOCKET>(0xabacab);

// An entry whose revents holds garbage, which WSAPoll must overwrite.
WSAPOLLFD entry(SOCKET s, short events) {
  WSAPOLLFD polled;
  polled.fd = s;
  polled.events = events;
  polled.revents = static_cast<short>(0x7ead);
  return polled;
}

int entries_with_events(const WSAPOLLFD* entries, int count) {
  int with_events = 0;
  for (int i = 0; i < count; ++i) {
    if (entries[i].revents != 0) ++with_events;
  }
  return with_events;
}

TEST_F(WSAPollCalls, QueuedDataIsPollrdnormAndPollin) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "x"));
  WSAPOLLFD polled = entry(pair.server, POLLRDNORM);
  ASSERT_EQ(WSAPoll(&polled, 1, kProcessTimeoutMs), 1) << WSAGetLastError();
  EXPECT_EQ(polled.revents, POLLRDNORM);

  // POLLIN is POLLRDNORM | POLLRDBAND on Windows: ordinary data answers it.
  polled = entry(pair.server, POLLIN);
  ASSERT_EQ(WSAPoll(&polled, 1, 0), 1);
  EXPECT_NE(polled.revents & POLLIN, 0);
  EXPECT_EQ(polled.revents & (POLLERR | POLLHUP | POLLNVAL), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(WSAPollCalls, AConnectedSocketIsPollwrnorm) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPOLLFD polled = entry(pair.client, POLLWRNORM);
  ASSERT_EQ(WSAPoll(&polled, 1, kProcessTimeoutMs), 1) << WSAGetLastError();
  EXPECT_EQ(polled.revents, POLLWRNORM);
  polled = entry(pair.server, POLLOUT);
  ASSERT_EQ(WSAPoll(&polled, 1, kProcessTimeoutMs), 1);
  EXPECT_EQ(polled.revents, POLLOUT);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// POLLHUP: "A stream-oriented connection was either disconnected or
// aborted." Windows reports it once the peer has closed, even with no
// event asked for (error conditions are always returned).
TEST_F(WSAPollCalls, APeerThatClosedIsPollhup) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(closesocket(pair.client), 0);
  WSAPOLLFD polled = entry(pair.server, POLLRDNORM);
  ASSERT_EQ(WSAPoll(&polled, 1, kProcessTimeoutMs), 1) << WSAGetLastError();
  EXPECT_NE(polled.revents & POLLHUP, 0) << "revents " << polled.revents;
  EXPECT_EQ(closesocket(pair.server), 0);
}

TEST_F(WSAPollCalls, TimeoutZeroWithNothingReadyReturnsZeroAtOnce) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPOLLFD polled = entry(pair.server, POLLRDNORM);
  EXPECT_EQ(WSAPoll(&polled, 1, 0), 0);
  EXPECT_EQ(polled.revents, 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// POLLNVAL: "An invalid socket was used." The other entries are still
// answered, and the result counts "the elements in fdarray for which an
// revents member ... is nonzero".
TEST_F(WSAPollCalls, AnInvalidSocketIsPollnvalAndTheOthersAreStillAnswered) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "x"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  WSAPOLLFD polled[2] = {entry(pair.server, POLLRDNORM),
                         entry(kNoSuchSocket, POLLRDNORM)};
  int ready = WSAPoll(polled, 2, 0);
  ASSERT_NE(ready, SOCKET_ERROR) << WSAGetLastError();
  EXPECT_EQ(polled[0].revents, POLLRDNORM);
  EXPECT_EQ(polled[1].revents, POLLNVAL);
  if (running_under_wine() && ready == 1) {
    std::printf(
        "[ WINE SKIP ] Wine's WSAPoll leaves POLLNVAL entries out of "
        "its count (docs/conformance.md W8)\n");
  } else {
    EXPECT_EQ(ready, entries_with_events(polled, 2));
  }
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// WSAPOLLFD.fd: "This parameter is ignored if set to a negative value", and
// its revents is cleared on return.
TEST_F(WSAPollCalls, AnEntryWhoseFdIsMinusOneIsIgnored) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "x"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  WSAPOLLFD polled[2] = {entry(INVALID_SOCKET, POLLRDNORM),
                         entry(pair.server, POLLRDNORM)};
  ASSERT_EQ(WSAPoll(polled, 2, 0), 1) << WSAGetLastError();
  if (running_under_wine() && polled[0].revents == POLLNVAL) {
    std::printf(
        "[ WINE SKIP ] Wine's WSAPoll reports POLLNVAL for fd -1 "
        "(docs/conformance.md W9)\n");
  } else {
    EXPECT_EQ(polled[0].revents, 0);
  }
  EXPECT_EQ(polled[1].revents, POLLRDNORM);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

}  // namespace
}  // namespace wsadup_test
