// Errors, with Windows' codes and in Windows' order: the socket is checked
// first, then the process id, then the output buffer. Bad tokens of every
// kind get WSAEINVAL, leak nothing, and never consume a good token.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "support.h"

namespace wsadup_test {
namespace {

using DuplicateErrors = ConformanceTest;
using ImportErrors = ConformanceTest;

TEST_F(DuplicateErrors, NotASocketIsWSAENOTSOCKAndIsCheckedFirst) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  ASSERT_EQ(closesocket(s), 0);
  // A closed socket, a bad process id and no buffer: the socket wins.
  EXPECT_EQ(WSADuplicateSocketA(s, 0, nullptr), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(INVALID_SOCKET, current_pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  EXPECT_EQ(closesocket(s), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
}

TEST_F(DuplicateErrors, ProcessIdZeroOrNonexistentIsWSAEINVALBeforeTheBuffer) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  EXPECT_EQ(WSADuplicateSocketA(s, 0, nullptr), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  // A process that has exited and been reaped, after a handoff to it (so
  // this process had a connection to it that it may have kept).
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  uint32_t gone = peer->pid();
  ASSERT_EQ(peer->call("import A", duplicate_for(s, gone)), "ok 0");
  ASSERT_EQ(peer->finish(), 0);
  WSAPROTOCOL_INFOA info;
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine duplicates for a process that has exited "
                "(docs/conformance.md W3)\n");
  } else {
    EXPECT_EQ(WSADuplicateSocketA(s, gone, &info), SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
    EXPECT_EQ(WSADuplicateSocketA(s, gone, nullptr), SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(DuplicateErrors, NullProtocolInfoIsWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  EXPECT_EQ(WSADuplicateSocketA(s, current_pid(), nullptr), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(WSADuplicateSocketW(s, current_pid(), nullptr), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(ImportErrors, ZeroedTokenIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAPROTOCOL_INFOA info;
  std::memset(&info, 0, sizeof(info));
  EXPECT_EQ(import_token(&info), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  WSAPROTOCOL_INFOW wide;
  std::memset(&wide, 0, sizeof(wide));
  EXPECT_EQ(WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &wide, 0, 0),
            INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
}

#if !defined(_WIN32)
// The bytes of a token that carry meaning here: every numeric field and the
// private record. (Windows keeps its own state and ignores most of them.)
TEST_F(ImportErrors, CorruptedTokenIsWSAEINVALAndTheGoodTokenStillImports) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA good;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &good), 0);
  const size_t record_start = offsetof(WSAPROTOCOL_INFOA, szProtocol) + 192;
  size_t tried = 0;
  for (size_t i = 0; i < sizeof(good); ++i) {
    if (i >= offsetof(WSAPROTOCOL_INFOA, szProtocol) &&
        (i < record_start || i >= record_start + 48)) {
      continue;  // the display name and unused space
    }
    WSAPROTOCOL_INFOA bad = good;
    reinterpret_cast<unsigned char*>(&bad)[i] ^= 0x41;
    ASSERT_EQ(import_token(&bad), INVALID_SOCKET) << "byte " << i;
    ASSERT_EQ(WSAGetLastError(), WSAEINVAL) << "byte " << i;
    ++tried;
  }
  EXPECT_EQ(tried, 116u + 48u);
  // Truncated: a token whose second half never arrived.
  WSAPROTOCOL_INFOA truncated = good;
  std::memset(reinterpret_cast<char*>(&truncated) + sizeof(truncated) / 2, 0,
              sizeof(truncated) / 2);
  EXPECT_EQ(import_token(&truncated), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  SOCKET imported = import_token(&good);
  ASSERT_NE(imported, INVALID_SOCKET);
  EXPECT_TRUE(sends_through(imported, pair.client, "still-good"));
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

#if !defined(_WIN32)
// Tokens nobody made for this process: random bytes, random bytes behind a
// good token's public fields (so the private record is what is judged), a
// token saved from an earlier run of the library (tests/data), and this
// process's own token replayed after its agent restarted.
TEST_F(ImportErrors, RandomTokensAndTokensFromAnotherRunAreWSAEINVAL) {
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  WSAPROTOCOL_INFOA good;
  ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &good), 0);
  const size_t record_start = offsetof(WSAPROTOCOL_INFOA, szProtocol) + 192;
  std::mt19937_64 random(20261121);
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    WSAPROTOCOL_INFOA bad = good;
    unsigned char* bytes = reinterpret_cast<unsigned char*>(&bad);
    size_t from = i % 2 == 0 ? 0 : record_start;
    size_t to = i % 2 == 0 ? sizeof(bad) : record_start + 48;
    for (size_t b = from; b < to; ++b) {
      bytes[b] = static_cast<unsigned char>(random());
    }
    if (import_token(&bad) == INVALID_SOCKET &&
        WSAGetLastError() == WSAEINVAL) {
      ++refused;
    }
  }
  EXPECT_EQ(refused, 20000);

  std::ifstream saved(WSADUP_TEST_DATA_DIR "/push_token_from_another_run.txt");
  std::string text;
  ASSERT_TRUE(std::getline(saved, text)) << "tests/data is missing";
  WSAPROTOCOL_INFOA foreign;
  ASSERT_EQ(wsadup_token_from_text(text.c_str(), &foreign, sizeof(foreign)),
            0);
  EXPECT_EQ(import_token(&foreign), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);

  // The last WSACleanup ends the run: its inbox, and s, are gone.
  ASSERT_EQ(WSACleanup(), 0);
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  EXPECT_EQ(import_token(&good), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_EQ(WSACleanup(), 0);
}
#endif

TEST_F(ImportErrors, ATokenWorksOnceASecondImportIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &info), 0);
  WSAPROTOCOL_INFOA replay = info;
  SOCKET first = import_token(&info);
  ASSERT_NE(first, INVALID_SOCKET);
  if (running_under_wine()) {
    GTEST_SKIP() << "Wine imports a token more than once (docs/conformance.md)";
  }
  EXPECT_EQ(import_token(&replay), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(closesocket(first), 0);
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(ImportErrors, ATokenForAnotherProcessFailsAndTheRightfulTargetImportsIt) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, peer->pid(), &info), 0);
  WSAPROTOCOL_INFOA stolen = info;
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine imports a token in any process "
                "(docs/conformance.md W2)\n");
  } else {
    EXPECT_EQ(import_token(&stolen), INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  EXPECT_EQ(peer->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.client, "rightful"));
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(ImportErrors, MismatchedFamilyOrTypeIsWSAEINVALAndKeepsTheToken) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &info), 0);
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine ignores af/type/protocol given with a "
                "token (docs/conformance.md W4)\n");
  } else {
    EXPECT_EQ(WSASocketA(AF_INET, SOCK_STREAM, FROM_PROTOCOL_INFO, &info, 0, 0),
              INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  }
  SOCKET imported = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, &info, 0, 0);
  EXPECT_NE(imported, INVALID_SOCKET);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(s), 0);
}

#if !defined(_WIN32)
TEST_F(ImportErrors, ImporterOutOfDescriptorsPushFailsWithWSAEMFILEAtTheSource) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  // The acknowledged push (option 0) waits for this process's agent, so it
  // can report the agent's lack of descriptors at the source, as Windows'
  // handle duplication does. (The default posted push reports it at the
  // import: PostedPush.TargetWithoutDescriptorsGetsWSAEMFILEAndTheRetryImports.)
  ASSERT_EQ(source->call("post 0"), "ok");
  std::string reply;
  {
    DescriptorExhaustion exhausted;
    reply = source->call("duplicate 0 " + std::to_string(current_pid()));
  }
  EXPECT_EQ(reply, "err " + std::to_string(WSAEMFILE));
  // With descriptors back, the same socket hands off: nothing was lost.
  reply = source->call("duplicate 0 " + std::to_string(current_pid()));
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_reply(reply, &info)) << reply;
  SOCKET imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET);
  EXPECT_TRUE(sends_through(imported, server, "x"));
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(ImportErrors, ImporterOutOfDescriptorsPullIsWSAEMFILEAndKeepsTheToken) {
  // This process is not initialised when the source duplicates: pull path.
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  unsigned short port = 0;
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  ASSERT_EQ(closesocket(listener), 0);
  // Make this process look uninitialised to the source: no agent listens.
  // The accepted socket is not wsadup's, so WSACleanup leaves it open.
  ASSERT_EQ(WSACleanup(), 0);
  std::string reply = source->call("duplicate 0 " + std::to_string(current_pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_bytes(reply.substr(3), &info));
  WSAPROTOCOL_INFOA again = info;
  SOCKET failed;
  {
    DescriptorExhaustion exhausted;
    failed = import_token(&info);
    int error = WSAGetLastError();
    exhausted.release();
    EXPECT_EQ(error, WSAEMFILE);
  }
  EXPECT_EQ(failed, INVALID_SOCKET);
  SOCKET imported = import_token(&again);
  ASSERT_NE(imported, INVALID_SOCKET);
  EXPECT_TRUE(sends_through(imported, server, "y"));
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(server), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
