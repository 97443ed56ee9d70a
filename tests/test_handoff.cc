// Duplicate, ship the raw WSAPROTOCOL_INFO bytes over a pipe, import in
// another real process: both descriptors work on the same socket.
#include <cstring>

#include "support.h"

namespace wsadup_test {
namespace {

class Handoff : public ConformanceTest,
                public ::testing::WithParamInterface<int> {};

std::string family_name(const ::testing::TestParamInfo<int>& info) {
  return info.param == AF_INET ? "IPv4" : "IPv6";
}

TEST_P(Handoff, ConnectedTcpSocketWorksInBothProcesses) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(GetParam(), &pair));
  std::string token = duplicate_for(pair.server, peer->pid());
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_EQ(peer->call("import A", token), "ok 0");
  ASSERT_TRUE(send_all(pair.client, "hello"));
  EXPECT_EQ(peer->call("recv 0 5"), "ok hello");
  EXPECT_EQ(peer->call("send 0 from-target"), "ok");
  ASSERT_TRUE(send_all(pair.server, "|from-source"));
  std::string got;
  ASSERT_TRUE(recv_exact(pair.client, 23, &got));
  EXPECT_EQ(got, "from-target|from-source");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_P(Handoff, ListeningTcpSocketTheTargetAccepts) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  unsigned short port = 0;
  SOCKET listener = make_listener(GetParam(), &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  ASSERT_EQ(peer->call("import A", duplicate_for(listener, peer->pid())), "ok 0");
  // The source may even close its own descriptor: the target still listens.
  ASSERT_EQ(closesocket(listener), 0);
  SOCKET client = connect_to(GetParam(), port);
  ASSERT_NE(client, INVALID_SOCKET);
  ASSERT_EQ(peer->call("accept 0"), "ok 1");
  ASSERT_TRUE(send_all(client, "ping"));
  EXPECT_EQ(peer->call("recv 1 4"), "ok ping");
  EXPECT_EQ(peer->call("close 1"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(client), 0);
}

TEST_P(Handoff, UdpSocketWorksInBothProcesses) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  unsigned short shared_port = 0;
  unsigned short sender_port = 0;
  SOCKET shared = make_udp(GetParam(), &shared_port);
  SOCKET sender = make_udp(GetParam(), &sender_port);
  ASSERT_NE(shared, INVALID_SOCKET);
  ASSERT_NE(sender, INVALID_SOCKET);
  ASSERT_EQ(peer->call("import A", duplicate_for(shared, peer->pid())), "ok 0");
  ASSERT_TRUE(send_udp(sender, GetParam(), shared_port, "datagram"));
  EXPECT_EQ(peer->call("udp_recv 0"), "ok datagram");
  EXPECT_EQ(peer->call("udp_send 0 " + std::to_string(GetParam()) + " " +
                       std::to_string(sender_port) + " reply"),
            "ok");
  std::string got;
  char buffer[64];
  ASSERT_FALSE(stays_quiet(sender, kProcessTimeoutMs));
  int n = recv(sender, buffer, sizeof(buffer), 0);
  ASSERT_EQ(n, 5);
  EXPECT_EQ(std::string(buffer, 5), "reply");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(shared), 0);
  EXPECT_EQ(closesocket(sender), 0);
}

TEST_P(Handoff, WideTokenFromWSADuplicateSocketWImportsWithWSASocketW) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(GetParam(), &pair));
  WSAPROTOCOL_INFOW info;
  ASSERT_EQ(WSADuplicateSocketW(pair.server, peer->pid(), &info), 0);
  ASSERT_EQ(peer->call("import W", token_bytes(info)), "ok 0");
  ASSERT_TRUE(send_all(pair.client, "wide"));
  EXPECT_EQ(peer->call("recv 0 4"), "ok wide");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// With a WSAPROTOCOL_INFO, 0 means "the info's value" as FROM_PROTOCOL_INFO
// does (Wine's and ReactOS's suites import with WSASocket(0, 0, 0, &info)),
// and the info's own values import too (Rust's std passes them).
TEST_P(Handoff, ZeroOrTheTokensOwnFamilyTypeAndProtocolImport) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET sockets[2] = {make_listener(GetParam(), &port),
                       make_udp(GetParam(), &port)};
  for (SOCKET s : sockets) {
    ASSERT_NE(s, INVALID_SOCKET);
    WSAPROTOCOL_INFOA info;
    ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &info), 0)
        << WSAGetLastError();
    SOCKET zeros = WSASocketA(0, 0, 0, &info, 0, 0);
    EXPECT_NE(zeros, INVALID_SOCKET) << WSAGetLastError();
    WSAPROTOCOL_INFOW wide;
    ASSERT_EQ(WSADuplicateSocketW(s, current_pid(), &wide), 0)
        << WSAGetLastError();
    SOCKET own_values = WSASocketW(wide.iAddressFamily, wide.iSocketType,
                                   wide.iProtocol, &wide, 0, 0);
    EXPECT_NE(own_values, INVALID_SOCKET) << WSAGetLastError();
    // Each is the same socket: its type reads through the new descriptor.
    for (SOCKET imported : {zeros, own_values}) {
      int type = 0;
      SockLen length = sizeof(type);
      EXPECT_EQ(getsockopt(imported, SOL_SOCKET, SO_TYPE,
                           reinterpret_cast<char*>(&type), &length),
                0);
      EXPECT_EQ(type, info.iSocketType);
      EXPECT_EQ(closesocket(imported), 0);
    }
    EXPECT_EQ(closesocket(s), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Handoff, ::testing::Values(AF_INET, AF_INET6),
                         family_name);

using ProtocolInfo = ConformanceTest;

struct Expected {
  int family;
  int type;
  int protocol;
  int address_size;
  const char* name_part;
};

// The public fields as Winsock fills them for that socket.
TEST_F(ProtocolInfo, PublicFieldsAreFilledAsWinsockFillsThem) {
  Session session;
  ASSERT_TRUE(session.ok());
  const Expected cases[] = {
      {AF_INET, SOCK_STREAM, IPPROTO_TCP, sizeof(sockaddr_in), "TCP/IP"},
      {AF_INET, SOCK_DGRAM, IPPROTO_UDP, sizeof(sockaddr_in), "UDP/IP"},
      {AF_INET6, SOCK_STREAM, IPPROTO_TCP, sizeof(sockaddr_in6), "TCP/IPv6"},
      {AF_INET6, SOCK_DGRAM, IPPROTO_UDP, sizeof(sockaddr_in6), "UDP/IPv6"},
  };
  for (const Expected& expected : cases) {
    SCOPED_TRACE(expected.name_part);
    SOCKET s = WSASocketA(expected.family, expected.type, expected.protocol,
                          nullptr, 0, 0);
    ASSERT_NE(s, INVALID_SOCKET);
    WSAPROTOCOL_INFOA a;
    WSAPROTOCOL_INFOW w;
    ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &a), 0);
    ASSERT_EQ(WSADuplicateSocketW(s, current_pid(), &w), 0);
    EXPECT_EQ(a.iAddressFamily, expected.family);
    EXPECT_EQ(a.iSocketType, expected.type);
    EXPECT_EQ(a.iProtocol, expected.protocol);
    EXPECT_EQ(a.iVersion, 2);
    EXPECT_EQ(a.iMaxSockAddr, expected.address_size);
    EXPECT_EQ(a.iMinSockAddr, expected.address_size);
    EXPECT_EQ(a.ProtocolChain.ChainLen, BASE_PROTOCOL);
    EXPECT_EQ(a.iNetworkByteOrder, BIGENDIAN);
    EXPECT_TRUE(a.dwServiceFlags1 & XP1_IFS_HANDLES);
    if (expected.type == SOCK_STREAM) {
      EXPECT_TRUE(a.dwServiceFlags1 & XP1_GUARANTEED_DELIVERY);
      EXPECT_TRUE(a.dwServiceFlags1 & XP1_GUARANTEED_ORDER);
      EXPECT_TRUE(a.dwServiceFlags1 & XP1_GRACEFUL_CLOSE);
      EXPECT_FALSE(a.dwServiceFlags1 & XP1_CONNECTIONLESS);
      EXPECT_EQ(a.dwMessageSize, 0u);
    } else {
      EXPECT_TRUE(a.dwServiceFlags1 & XP1_CONNECTIONLESS);
      EXPECT_TRUE(a.dwServiceFlags1 & XP1_MESSAGE_ORIENTED);
      EXPECT_GT(a.dwMessageSize, 0u);
    }
    EXPECT_TRUE(a.dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO);
    EXPECT_NE(std::strstr(a.szProtocol, expected.name_part), nullptr)
        << a.szProtocol;
    // A and W describe the same socket the same way.
    EXPECT_EQ(w.iAddressFamily, a.iAddressFamily);
    EXPECT_EQ(w.iSocketType, a.iSocketType);
    EXPECT_EQ(w.iProtocol, a.iProtocol);
    EXPECT_EQ(w.dwServiceFlags1, a.dwServiceFlags1);
    EXPECT_EQ(w.dwProviderFlags, a.dwProviderFlags);
    EXPECT_EQ(std::memcmp(&w.ProviderId, &a.ProviderId, sizeof(GUID)), 0);
    for (size_t i = 0; a.szProtocol[i] != '\0'; ++i) {
      EXPECT_EQ(w.szProtocol[i], static_cast<WCHAR>(a.szProtocol[i]));
    }
    // Redeem both, so nothing stays pending.
    SOCKET from_a = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                               FROM_PROTOCOL_INFO, &a, 0, 0);
    SOCKET from_w = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                               FROM_PROTOCOL_INFO, &w, 0, 0);
    EXPECT_NE(from_a, INVALID_SOCKET);
    EXPECT_NE(from_w, INVALID_SOCKET);
    EXPECT_EQ(closesocket(from_a), 0);
    EXPECT_EQ(closesocket(from_w), 0);
    EXPECT_EQ(closesocket(s), 0);
  }
}

using SharedState = ConformanceTest;

// "A setsockopt operation performed using one descriptor is subsequently
// visible using a getsockopt from any or all descriptors."
TEST_F(SharedState, SetsockoptThroughOneDescriptorIsSeenThroughTheOther) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(peer->call("import A", duplicate_for(pair.server, peer->pid())),
            "ok 0");
  int on = 1;
  int rcvbuf = 96 * 1024;
  ASSERT_EQ(setsockopt(pair.server, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<const char*>(&on), sizeof(on)),
            0);
  ASSERT_EQ(setsockopt(pair.server, IPPROTO_TCP, TCP_NODELAY,
                       reinterpret_cast<const char*>(&on), sizeof(on)),
            0);
  ASSERT_EQ(setsockopt(pair.server, SOL_SOCKET, SO_RCVBUF,
                       reinterpret_cast<const char*>(&rcvbuf), sizeof(rcvbuf)),
            0);
  int seen_here = 0;
  SockLen length = sizeof(seen_here);
  ASSERT_EQ(getsockopt(pair.server, SOL_SOCKET, SO_RCVBUF,
                       reinterpret_cast<char*>(&seen_here), &length),
            0);
  EXPECT_EQ(peer->call("getopt 0 keepalive"), "ok 1");
  EXPECT_EQ(peer->call("getopt 0 nodelay"), "ok 1");
  EXPECT_EQ(peer->call("getopt 0 rcvbuf"), "ok " + std::to_string(seen_here));
  // Non-blocking mode is socket state too.
  ULONG nonblocking = 1;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &nonblocking), 0);
  EXPECT_EQ(peer->call("would_block 0"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

}  // namespace
}  // namespace wsadup_test
