// The Windows forms of the calls whose POSIX namesakes differ, as ported
// code writes them after "#include <winsock2.h>": char* option values and
// int lengths, SO_RCVTIMEO as a DWORD of milliseconds, LINGER with u_short
// fields, select ignoring its first argument, a 32-bit u_long and Windows'
// ioctl numbers.
//
// On POSIX this file is built with wsadup's compat directory on the include
// path, so <winsock2.h> is wsadup's; on Windows it is Windows' own, against
// which the same expectations are checked.
#include <winsock2.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "support.h"

namespace wsadup_test {
namespace {

using CompatForms = ConformanceTest;

int loopback(unsigned short port, sockaddr_in* address) {
  std::memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons(port);
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(*address);
}

TEST_F(CompatForms, TypesAndIoctlNumbersHaveWindowsSizesAndValues) {
  EXPECT_EQ(sizeof(u_long), 4u);
  EXPECT_EQ(sizeof(LINGER), 4u);
  LINGER linger_value;
  EXPECT_EQ(sizeof(linger_value.l_onoff), sizeof(u_short));
  EXPECT_EQ(sizeof(linger_value.l_linger), sizeof(u_short));
  EXPECT_EQ(static_cast<uint32_t>(FIONBIO), 0x8004667eu);
  EXPECT_EQ(static_cast<uint32_t>(FIONREAD), 0x4004667fu);
  EXPECT_EQ(static_cast<uint32_t>(SIOCATMARK), 0x40047307u);
}

TEST_F(CompatForms, FionbioWithWindowsValueAndAULongMakesRecvWouldBlock) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  u_long on = 1;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &on), 0);
  char byte;
  EXPECT_EQ(recv(pair.server, &byte, 1, 0), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
  ASSERT_TRUE(send_all(pair.client, "abc"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  u_long queued = 0;
  ASSERT_EQ(ioctlsocket(pair.server, FIONREAD, &queued), 0);
  EXPECT_EQ(queued, 3u);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// A connected pair made with WSA_FLAG_OVERLAPPED: setsockopt's SO_RCVTIMEO
// note, "If the socket is created using the WSASocket function, then the
// dwFlags parameter must have the WSA_FLAG_OVERLAPPED attribute set for the
// timeout to function properly. Otherwise the timeout never takes effect."
bool make_overlapped_pair(TcpPair* pair) {
  SOCKET listener = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                               WSA_FLAG_OVERLAPPED);
  sockaddr_in address;
  int length = loopback(0, &address);
  bool ok =
      listener != INVALID_SOCKET &&
      bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) ==
          0 &&
      listen(listener, 1) == 0;
  if (ok) {
    pair->client = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                              WSA_FLAG_OVERLAPPED);
    ok = pair->client != INVALID_SOCKET &&
         connect(pair->client, reinterpret_cast<sockaddr*>(&address), length) ==
             0;
  }
  if (ok) {
    pair->server = accept(listener, nullptr, nullptr);
    ok = pair->server != INVALID_SOCKET;
  }
  if (listener != INVALID_SOCKET) closesocket(listener);
  return ok;
}

// SO_RCVTIMEO: "a DWORD in milliseconds"; "If a blocking receive call times
// out, ... the error WSAETIMEDOUT". The timeout only bounds the test: what
// is checked is the error, never how long it took.
TEST_F(CompatForms,
       RcvtimeoIsADwordOfMillisecondsAndATimedOutRecvIsWSAETIMEDOUT) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_overlapped_pair(&pair));
  DWORD timeout = 200;
  ASSERT_EQ(
      setsockopt(pair.server, SOL_SOCKET, SO_RCVTIMEO,
                 reinterpret_cast<const char*>(&timeout), sizeof(timeout)),
      0)
      << WSAGetLastError();
  DWORD read_back = 0;
  int length = sizeof(read_back);
  ASSERT_EQ(getsockopt(pair.server, SOL_SOCKET, SO_RCVTIMEO,
                       reinterpret_cast<char*>(&read_back), &length),
            0);
  EXPECT_EQ(length, static_cast<int>(sizeof(DWORD)));
  EXPECT_EQ(read_back, 200u);
  char buffer[4];
  EXPECT_EQ(recv(pair.server, buffer, sizeof(buffer), 0), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAETIMEDOUT);
  // After a timeout Windows leaves the socket "in an indeterminate state":
  // it is only closed.
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// select: "nfds: Ignored. The nfds parameter is included only for
// compatibility with Berkeley sockets."
TEST_F(CompatForms, SelectIgnoresItsFirstArgumentAndSeesAReadableSocket) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "ready"));
  fd_set readable;
  FD_ZERO(&readable);
  FD_SET(pair.server, &readable);
  timeval timeout;
  timeout.tv_sec = kProcessTimeoutMs / 1000;
  timeout.tv_usec = 0;
  EXPECT_EQ(select(0, &readable, nullptr, nullptr, &timeout), 1)
      << WSAGetLastError();
  EXPECT_TRUE(FD_ISSET(pair.server, &readable));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// "Any two of the parameters, readfds, writefds, or exceptfds, can be given
// as null. At least one must be non-null, and any non-null descriptor set
// must contain at least one handle to a socket." Otherwise WSAEINVAL.
TEST_F(CompatForms, SelectWithNoSocketToWaitForIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  timeval timeout;
  timeout.tv_sec = 0;
  timeout.tv_usec = 0;
  EXPECT_EQ(select(0, nullptr, nullptr, nullptr, &timeout), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  fd_set readable;
  fd_set writable;
  fd_set failed;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  EXPECT_EQ(select(0, &readable, &writable, &failed, &timeout), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
}

TEST_F(CompatForms, AcceptGetsocknameAndRecvfromTakeIntLengths) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET client = connect_to(AF_INET, port);
  ASSERT_NE(client, INVALID_SOCKET);
  sockaddr_in client_address;
  int length = sizeof(client_address);
  ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&client_address),
                        &length),
            0);
  EXPECT_EQ(length, static_cast<int>(sizeof(sockaddr_in)));
  ASSERT_FALSE(stays_quiet(listener, kProcessTimeoutMs));
  sockaddr_in peer;
  std::memset(&peer, 0, sizeof(peer));
  length = sizeof(peer);
  SOCKET server = accept(listener, reinterpret_cast<sockaddr*>(&peer), &length);
  ASSERT_NE(server, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_EQ(length, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(peer.sin_port, client_address.sin_port);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);

  unsigned short receiver_port = 0;
  unsigned short sender_port = 0;
  SOCKET receiver = make_udp(AF_INET, &receiver_port);
  SOCKET sender = make_udp(AF_INET, &sender_port);
  ASSERT_NE(receiver, INVALID_SOCKET);
  ASSERT_NE(sender, INVALID_SOCKET);
  sockaddr_in to;
  int to_length = loopback(receiver_port, &to);
  ASSERT_EQ(sendto(sender, "dgram", 5, 0, reinterpret_cast<sockaddr*>(&to),
                   to_length),
            5);
  ASSERT_FALSE(stays_quiet(receiver, kProcessTimeoutMs));
  char buffer[16];
  sockaddr_in from;
  int from_length = sizeof(from);
  ASSERT_EQ(recvfrom(receiver, buffer, sizeof(buffer), 0,
                     reinterpret_cast<sockaddr*>(&from), &from_length),
            5);
  EXPECT_EQ(std::string(buffer, 5), "dgram");
  EXPECT_EQ(from_length, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(ntohs(from.sin_port), sender_port);
  EXPECT_EQ(closesocket(receiver), 0);
  EXPECT_EQ(closesocket(sender), 0);
}

TEST_F(CompatForms, LingerWithUShortFieldsRoundTripsThroughTheOptionCalls) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  LINGER set;
  set.l_onoff = 1;
  set.l_linger = 7;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER,
                       reinterpret_cast<const char*>(&set), sizeof(set)),
            0)
      << WSAGetLastError();
  LINGER got;
  std::memset(&got, 0xff, sizeof(got));
  int length = sizeof(got);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&got),
                       &length),
            0);
  EXPECT_EQ(length, static_cast<int>(sizeof(LINGER)));
  EXPECT_NE(got.l_onoff, 0);
  EXPECT_EQ(got.l_linger, 7);
  set.l_onoff = 0;
  ASSERT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER,
                       reinterpret_cast<const char*>(&set), sizeof(set)),
            0);
  length = sizeof(got);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&got),
                       &length),
            0);
  EXPECT_EQ(got.l_onoff, 0);
  EXPECT_EQ(closesocket(s), 0);
}

}  // namespace
}  // namespace wsadup_test
