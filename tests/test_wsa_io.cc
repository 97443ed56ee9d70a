// WSASend, WSARecv, WSASendTo and WSARecvFrom without overlapped I/O: many
// buffers in one call, the byte count and flags they report, the sender's
// address, truncated datagrams, end of stream and their errors.
#include <cstdio>
#include <cstring>
#include <string>

#include "support.h"

namespace wsadup_test {
namespace {

using WSAIo = ConformanceTest;

class WSAIoFamilies : public ConformanceTest,
                      public ::testing::WithParamInterface<int> {};

std::string family_name(const ::testing::TestParamInfo<int>& info) {
  return info.param == AF_INET ? "IPv4" : "IPv6";
}

WSABUF buffer_of(char* data, ULONG length) {
  WSABUF buffer;
  buffer.buf = data;
  buffer.len = length;
  return buffer;
}

TEST_F(WSAIo, WSASendGathersBuffersAndWSARecvScattersThem) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  char a[] = "ab";
  char b[] = "cde";
  char c[] = "f";
  WSABUF out[3] = {buffer_of(a, 2), buffer_of(b, 3), buffer_of(c, 1)};
  DWORD sent = 0xdeadbeef;
  ASSERT_EQ(WSASend(pair.client, out, 3, &sent, 0, nullptr, nullptr), 0)
      << WSAGetLastError();
  EXPECT_EQ(sent, 6u);

  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  char first[4];
  char second[10];
  WSABUF in[2] = {buffer_of(first, sizeof(first)),
                  buffer_of(second, sizeof(second))};
  DWORD received = 0xdeadbeef;
  DWORD flags = 0;
  ASSERT_EQ(WSARecv(pair.server, in, 2, &received, &flags, nullptr, nullptr), 0)
      << WSAGetLastError();
  EXPECT_EQ(received, 6u);
  EXPECT_EQ(flags, 0u);
  EXPECT_EQ(std::string(first, 4), "abcd");
  EXPECT_EQ(std::string(second, 2), "ef");
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(WSAIo, WSARecvWithMsgPeekLeavesTheBytesQueued) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "peekaboo"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  char first[4];
  char second[4];
  WSABUF in[2] = {buffer_of(first, sizeof(first)),
                  buffer_of(second, sizeof(second))};
  DWORD received = 0;
  DWORD flags = MSG_PEEK;
  ASSERT_EQ(WSARecv(pair.server, in, 2, &received, &flags, nullptr, nullptr), 0)
      << WSAGetLastError();
  EXPECT_EQ(received, 8u);
  EXPECT_EQ(std::string(first, 4) + std::string(second, 4), "peekaboo");
  std::memset(first, 0, sizeof(first));
  std::memset(second, 0, sizeof(second));
  received = 0;
  flags = 0;
  ASSERT_EQ(WSARecv(pair.server, in, 2, &received, &flags, nullptr, nullptr),
            0);
  EXPECT_EQ(received, 8u) << "the peek consumed the bytes";
  EXPECT_EQ(std::string(first, 4) + std::string(second, 4), "peekaboo");
  EXPECT_EQ(flags, 0u);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// "If the connection has been gracefully closed ... WSARecv will return
// immediately with zero bytes received."
TEST_F(WSAIo, WSARecvAfterAGracefulCloseReturnsZeroBytes) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "last"));
  ASSERT_EQ(shutdown(pair.client, SD_SEND), 0);
  char data[16];
  WSABUF in = buffer_of(data, sizeof(data));
  DWORD received = 0;
  DWORD flags = 0;
  std::string got;
  // The bytes before the close first, then the end of stream.
  while (got.size() < 4) {
    ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
    ASSERT_EQ(WSARecv(pair.server, &in, 1, &received, &flags, nullptr, nullptr),
              0);
    ASSERT_GT(received, 0u);
    got.append(data, received);
  }
  EXPECT_EQ(got, "last");
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  received = 0xdeadbeef;
  flags = 0;
  ASSERT_EQ(WSARecv(pair.server, &in, 1, &received, &flags, nullptr, nullptr),
            0)
      << WSAGetLastError();
  EXPECT_EQ(received, 0u);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(WSAIo, WSARecvOnANonBlockingSocketWithNothingQueuedIsWSAEWOULDBLOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ULONG on = 1;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &on), 0);
  char data[4];
  WSABUF in = buffer_of(data, sizeof(data));
  DWORD received = 0;
  DWORD flags = 0;
  EXPECT_EQ(WSARecv(pair.server, &in, 1, &received, &flags, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// lpNumberOfBytesRecvd / lpNumberOfBytesSent may be NULL only with an
// overlapped structure, which is where the count goes then.
TEST_F(WSAIo, NullByteCountWithoutOverlappedIsWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  char data[] = "data";
  WSABUF buffer = buffer_of(data, 4);
  EXPECT_EQ(WSASend(pair.client, &buffer, 1, nullptr, 0, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  ASSERT_TRUE(send_all(pair.client, "data"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  DWORD flags = 0;
  int result =
      WSARecv(pair.server, &buffer, 1, nullptr, &flags, nullptr, nullptr);
  int error = WSAGetLastError();
  if (running_under_wine() && result == 0) {
    std::printf(
        "[ WINE SKIP ] Wine's WSARecv takes a NULL byte count "
        "without an overlapped structure (docs/conformance.md W10)\n");
  } else {
    EXPECT_EQ(result, SOCKET_ERROR);
    EXPECT_EQ(error, WSAEFAULT);
  }
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(WSAIo, NotASocketIsWSAENOTSOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  char data[4] = {};
  WSABUF buffer = buffer_of(data, sizeof(data));
  DWORD count = 0;
  DWORD flags = 0;
  EXPECT_EQ(WSASend(INVALID_SOCKET, &buffer, 1, &count, 0, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  EXPECT_EQ(
      WSARecv(INVALID_SOCKET, &buffer, 1, &count, &flags, nullptr, nullptr),
      SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
}

TEST_P(WSAIoFamilies, WSASendToAndWSARecvFromCarryTheDatagramAndTheSender) {
  Session session;
  ASSERT_TRUE(session.ok());
  const int family = GetParam();
  unsigned short receiver_port = 0;
  unsigned short sender_port = 0;
  SOCKET receiver = make_udp(family, &receiver_port);
  SOCKET sender = make_udp(family, &sender_port);
  ASSERT_NE(receiver, INVALID_SOCKET);
  ASSERT_NE(sender, INVALID_SOCKET);

  sockaddr_storage to;
  SockLen to_length = sizeof(to);
  ASSERT_EQ(getsockname(receiver, reinterpret_cast<sockaddr*>(&to), &to_length),
            0);
  char head[] = "dat";
  char tail[] = "agram";
  WSABUF out[2] = {buffer_of(head, 3), buffer_of(tail, 5)};
  DWORD sent = 0;
  ASSERT_EQ(
      WSASendTo(sender, out, 2, &sent, 0, reinterpret_cast<sockaddr*>(&to),
                static_cast<int>(to_length), nullptr, nullptr),
      0)
      << WSAGetLastError();
  EXPECT_EQ(sent, 8u);

  ASSERT_FALSE(stays_quiet(receiver, kProcessTimeoutMs));
  char data[32];
  WSABUF in = buffer_of(data, sizeof(data));
  DWORD received = 0;
  DWORD flags = 0;
  sockaddr_storage from;
  std::memset(&from, 0, sizeof(from));
  int from_length = sizeof(from);
  ASSERT_EQ(WSARecvFrom(receiver, &in, 1, &received, &flags,
                        reinterpret_cast<sockaddr*>(&from), &from_length,
                        nullptr, nullptr),
            0)
      << WSAGetLastError();
  EXPECT_EQ(received, 8u);
  EXPECT_EQ(std::string(data, received), "datagram");
  EXPECT_EQ(flags, 0u);
  ASSERT_EQ(from.ss_family, family);
  if (family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&from);
    EXPECT_EQ(from_length, static_cast<int>(sizeof(sockaddr_in)));
    EXPECT_EQ(ntohs(in4->sin_port), sender_port);
    EXPECT_EQ(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&from);
    EXPECT_EQ(from_length, static_cast<int>(sizeof(sockaddr_in6)));
    EXPECT_EQ(ntohs(in6->sin6_port), sender_port);
    EXPECT_EQ(std::memcmp(&in6->sin6_addr, &in6addr_loopback,
                          sizeof(in6addr_loopback)),
              0);
  }
  EXPECT_EQ(closesocket(receiver), 0);
  EXPECT_EQ(closesocket(sender), 0);
}

// "For message-oriented sockets ... if the message is larger than the
// buffers, the buffers are filled with the first part of the message ...
// and WSARecvFrom generates the error WSAEMSGSIZE"; for UDP the rest is
// discarded: the next call gets the next datagram.
TEST_P(WSAIoFamilies, ATruncatedDatagramIsWSAEMSGSIZEAndItsRestIsDiscarded) {
  Session session;
  ASSERT_TRUE(session.ok());
  const int family = GetParam();
  unsigned short receiver_port = 0;
  unsigned short sender_port = 0;
  SOCKET receiver = make_udp(family, &receiver_port);
  SOCKET sender = make_udp(family, &sender_port);
  ASSERT_NE(receiver, INVALID_SOCKET);
  ASSERT_NE(sender, INVALID_SOCKET);
  ASSERT_TRUE(send_udp(sender, family, receiver_port, "0123456789"));
  ASSERT_TRUE(send_udp(sender, family, receiver_port, "next"));
  ASSERT_FALSE(stays_quiet(receiver, kProcessTimeoutMs));

  char first[3];
  char second[1];
  WSABUF in[2] = {buffer_of(first, sizeof(first)),
                  buffer_of(second, sizeof(second))};
  DWORD received = 0;
  DWORD flags = 0;
  sockaddr_storage from;
  int from_length = sizeof(from);
  EXPECT_EQ(WSARecvFrom(receiver, in, 2, &received, &flags,
                        reinterpret_cast<sockaddr*>(&from), &from_length,
                        nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEMSGSIZE);
  EXPECT_EQ(std::string(first, 3) + std::string(second, 1), "0123");

  char data[32];
  WSABUF whole = buffer_of(data, sizeof(data));
  received = 0;
  flags = 0;
  from_length = sizeof(from);
  ASSERT_FALSE(stays_quiet(receiver, kProcessTimeoutMs));
  ASSERT_EQ(WSARecvFrom(receiver, &whole, 1, &received, &flags,
                        reinterpret_cast<sockaddr*>(&from), &from_length,
                        nullptr, nullptr),
            0)
      << WSAGetLastError();
  EXPECT_EQ(std::string(data, received), "next");
  EXPECT_EQ(closesocket(receiver), 0);
  EXPECT_EQ(closesocket(sender), 0);
}

INSTANTIATE_TEST_SUITE_P(Families, WSAIoFamilies,
                         ::testing::Values(AF_INET, AF_INET6), family_name);

#if !defined(_WIN32)
// wsadup's WSASend and WSARecv are synchronous: an overlapped request or a
// completion routine is refused, and nothing is sent or consumed.
TEST_F(WSAIo, OverlappedOrCompletionRoutineIsWSAEOPNOTSUPP) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAOVERLAPPED overlapped;
  std::memset(&overlapped, 0, sizeof(overlapped));
  LPWSAOVERLAPPED_COMPLETION_ROUTINE routine = [](DWORD, DWORD, LPWSAOVERLAPPED,
                                                  DWORD) {};
  char data[] = "nope";
  WSABUF buffer = buffer_of(data, 4);
  DWORD count = 0;
  DWORD flags = 0;
  EXPECT_EQ(WSASend(pair.client, &buffer, 1, &count, 0, &overlapped, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(WSASend(pair.client, &buffer, 1, &count, 0, nullptr, routine),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  // Had a refused WSASend sent "nope", it would arrive before "kept".
  ASSERT_TRUE(send_all(pair.client, "kept"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  EXPECT_EQ(
      WSARecv(pair.server, &buffer, 1, &count, &flags, &overlapped, nullptr),
      SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(
      WSARecv(pair.server, &buffer, 1, &count, &flags, &overlapped, routine),
      SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  unsigned short port = 0;
  SOCKET udp = make_udp(AF_INET, &port);
  ASSERT_NE(udp, INVALID_SOCKET);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int from_length = sizeof(to);
  EXPECT_EQ(
      WSASendTo(udp, &buffer, 1, &count, 0, reinterpret_cast<sockaddr*>(&to),
                sizeof(to), &overlapped, nullptr),
      SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(WSARecvFrom(udp, &buffer, 1, &count, &flags,
                        reinterpret_cast<sockaddr*>(&to), &from_length, nullptr,
                        routine),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(closesocket(udp), 0);
  // The refused receives consumed nothing, and nothing came before it.
  std::string got;
  ASSERT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "kept");
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
