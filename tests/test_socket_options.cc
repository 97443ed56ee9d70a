// What a socket says about itself: getsockopt(SO_PROTOCOL_INFOA/W), which
// describes it as a WSADuplicateSocket token does; its handle's inherit
// flag; and the process id the token is made for.
//
// Built against <winsock2.h>: Windows' own, or on POSIX wsadup's compat
// directory, which gives getsockopt Windows' char* and int* form and the
// SO_PROTOCOL_INFO options.
#include <winsock2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "support.h"

#if !defined(_WIN32)
#include <fcntl.h>
#endif

namespace wsadup_test {
namespace {

using ProtocolInfoOption = ConformanceTest;
using HandleInformation = ConformanceTest;
using ProcessId = ConformanceTest;

struct SocketKind {
  int family;
  int type;
  int protocol;
  const char* name;
};

const SocketKind kKinds[] = {
    {AF_INET, SOCK_STREAM, IPPROTO_TCP, "TCP/IPv4"},
    {AF_INET, SOCK_DGRAM, IPPROTO_UDP, "UDP/IPv4"},
    {AF_INET6, SOCK_STREAM, IPPROTO_TCP, "TCP/IPv6"},
    {AF_INET6, SOCK_DGRAM, IPPROTO_UDP, "UDP/IPv6"},
};

// The fields a token shares with the socket's own description. The rest
// (dwServiceFlags3/4, dwProviderReserved) are the token's own business.
template <typename Info>
void expect_same_public_fields(const Info& option, const Info& token) {
  EXPECT_EQ(option.dwServiceFlags1, token.dwServiceFlags1);
  EXPECT_EQ(option.dwServiceFlags2, token.dwServiceFlags2);
  EXPECT_EQ(option.dwProviderFlags, token.dwProviderFlags);
  EXPECT_EQ(std::memcmp(&option.ProviderId, &token.ProviderId, sizeof(GUID)),
            0);
  EXPECT_EQ(option.dwCatalogEntryId, token.dwCatalogEntryId);
  EXPECT_EQ(option.ProtocolChain.ChainLen, token.ProtocolChain.ChainLen);
  EXPECT_EQ(option.iVersion, token.iVersion);
  EXPECT_EQ(option.iAddressFamily, token.iAddressFamily);
  EXPECT_EQ(option.iMaxSockAddr, token.iMaxSockAddr);
  EXPECT_EQ(option.iMinSockAddr, token.iMinSockAddr);
  EXPECT_EQ(option.iSocketType, token.iSocketType);
  EXPECT_EQ(option.iProtocol, token.iProtocol);
  EXPECT_EQ(option.iProtocolMaxOffset, token.iProtocolMaxOffset);
  EXPECT_EQ(option.iNetworkByteOrder, token.iNetworkByteOrder);
  EXPECT_EQ(option.iSecurityScheme, token.iSecurityScheme);
  EXPECT_EQ(option.dwMessageSize, token.dwMessageSize);
  // The name, up to its terminator: what follows it in a token is the
  // token's own (wsadup keeps its private record there, docs/design.md).
  size_t name_length = 0;
  while (name_length < WSAPROTOCOL_LEN && option.szProtocol[name_length] != 0) {
    ++name_length;
  }
  EXPECT_EQ(std::memcmp(option.szProtocol, token.szProtocol,
                        (name_length + 1) * sizeof(option.szProtocol[0])),
            0);
}

TEST_F(ProtocolInfoOption, DescribesTheSocketAsItsWSADuplicateSocketTokenDoes) {
  Session session;
  ASSERT_TRUE(session.ok());
  for (const SocketKind& kind : kKinds) {
    SCOPED_TRACE(kind.name);
    SOCKET s = WSASocketA(kind.family, kind.type, kind.protocol, nullptr, 0, 0);
    ASSERT_NE(s, INVALID_SOCKET);

    WSAPROTOCOL_INFOA a;
    std::memset(&a, 0, sizeof(a));
    int length = sizeof(a);
    ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA,
                         reinterpret_cast<char*>(&a), &length),
              0)
        << WSAGetLastError();
    EXPECT_EQ(length, static_cast<int>(sizeof(a)));
    EXPECT_EQ(a.iAddressFamily, kind.family);
    EXPECT_EQ(a.iSocketType, kind.type);
    EXPECT_EQ(a.iProtocol, kind.protocol);
    EXPECT_NE(a.dwServiceFlags1 & XP1_IFS_HANDLES, 0u);
    EXPECT_NE(a.szProtocol[0], '\0');

    WSAPROTOCOL_INFOW w;
    std::memset(&w, 0, sizeof(w));
    length = sizeof(w);
    ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW,
                         reinterpret_cast<char*>(&w), &length),
              0)
        << WSAGetLastError();
    EXPECT_EQ(length, static_cast<int>(sizeof(w)));
    EXPECT_EQ(w.iAddressFamily, kind.family);
    EXPECT_EQ(w.iSocketType, kind.type);
    EXPECT_EQ(w.iProtocol, kind.protocol);
    EXPECT_NE(w.dwServiceFlags1 & XP1_IFS_HANDLES, 0u);
    // The two describe the socket alike: every field before the name, and
    // the name itself, widened.
    EXPECT_EQ(std::memcmp(&a, &w, offsetof(WSAPROTOCOL_INFOA, szProtocol)), 0);
    for (size_t i = 0; i <= std::strlen(a.szProtocol); ++i) {
      EXPECT_EQ(w.szProtocol[i], static_cast<WCHAR>(a.szProtocol[i]));
    }

    WSAPROTOCOL_INFOA token_a;
    WSAPROTOCOL_INFOW token_w;
    ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &token_a), 0);
    ASSERT_EQ(WSADuplicateSocketW(s, current_pid(), &token_w), 0);
    {
      SCOPED_TRACE("A");
      expect_same_public_fields(a, token_a);
    }
    {
      SCOPED_TRACE("W");
      expect_same_public_fields(w, token_w);
    }
    // Redeem both tokens, so nothing stays pending.
    SOCKET from_a = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                               FROM_PROTOCOL_INFO, &token_a, 0, 0);
    SOCKET from_w = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                               FROM_PROTOCOL_INFO, &token_w, 0, 0);
    EXPECT_NE(from_a, INVALID_SOCKET);
    EXPECT_NE(from_w, INVALID_SOCKET);
    if (from_a != INVALID_SOCKET) EXPECT_EQ(closesocket(from_a), 0);
    if (from_w != INVALID_SOCKET) EXPECT_EQ(closesocket(from_w), 0);
    EXPECT_EQ(closesocket(s), 0);
  }
}

// getsockopt: "WSAEFAULT: ... the optlen parameter is too small."
TEST_F(ProtocolInfoOption, ATooShortOptlenIsWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  WSAPROTOCOL_INFOW w;
  const int short_lengths[] = {static_cast<int>(sizeof(WSAPROTOCOL_INFOA)) - 1,
                               static_cast<int>(sizeof(WSAPROTOCOL_INFOA)) / 2,
                               0};
  for (int short_length : short_lengths) {
    SCOPED_TRACE(short_length);
    int length = short_length;
    EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA,
                         reinterpret_cast<char*>(&w), &length),
              SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  }
  // The wide structure is the larger one: the narrow one's size is too
  // short for it.
  int length = sizeof(WSAPROTOCOL_INFOA);
  EXPECT_EQ(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW,
                       reinterpret_cast<char*>(&w), &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(closesocket(s), 0);
}

// ---------------------------------------------------- handle information --

HANDLE handle_of(SOCKET s) { return (HANDLE)(uintptr_t)s; }

#if !defined(_WIN32)
bool close_on_exec(SOCKET s) { return (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0; }
#endif

// HANDLE_FLAG_INHERIT on a SOCKET, which Windows code sets before starting
// a child that is to inherit it (or clears so that none does). On POSIX the
// flag is the descriptor's close-on-exec bit, inverted.
TEST_F(HandleInformation, HandleFlagInheritOnASocketReadsBackAsSet) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  DWORD flags = 0xdeadbeef;

  ASSERT_TRUE(SetHandleInformation(handle_of(s), HANDLE_FLAG_INHERIT,
                                   HANDLE_FLAG_INHERIT));
  ASSERT_TRUE(GetHandleInformation(handle_of(s), &flags));
  EXPECT_NE(flags & HANDLE_FLAG_INHERIT, 0u);
#if !defined(_WIN32)
  EXPECT_FALSE(close_on_exec(s));
#endif

  ASSERT_TRUE(SetHandleInformation(handle_of(s), HANDLE_FLAG_INHERIT, 0));
  flags = 0xdeadbeef;
  ASSERT_TRUE(GetHandleInformation(handle_of(s), &flags));
  EXPECT_EQ(flags & HANDLE_FLAG_INHERIT, 0u);
#if !defined(_WIN32)
  EXPECT_TRUE(close_on_exec(s));
#endif

  // A mask without the flag leaves it alone.
  ASSERT_TRUE(SetHandleInformation(handle_of(s), 0, HANDLE_FLAG_INHERIT));
  ASSERT_TRUE(GetHandleInformation(handle_of(s), &flags));
  EXPECT_EQ(flags & HANDLE_FLAG_INHERIT, 0u);
#if !defined(_WIN32)
  EXPECT_TRUE(close_on_exec(s));
#endif
  EXPECT_EQ(closesocket(s), 0);
}

// ------------------------------------------------------------ process id --

// Writes the id GetCurrentProcessId gives this process, and exits.
WSADUP_TEST_HELPER(report_process_id) {
  return helper_write_frame(std::to_string(GetCurrentProcessId())) ? 0 : 2;
}

// The id a dispatcher passes to WSADuplicateSocket: GetCurrentProcessId in
// the target is the id its parent got when it started it.
TEST_F(ProcessId, GetCurrentProcessIdIsTheIdTheProcessWasStartedWith) {
  EXPECT_EQ(static_cast<uint32_t>(GetCurrentProcessId()), current_pid());
  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("report_process_id", {});
  ASSERT_TRUE(child);
  uint32_t started_as = child->pid();
  std::string reported;
  ASSERT_TRUE(read_frame(*child, &reported));
  EXPECT_EQ(child->wait(kProcessTimeoutMs), 0);
  EXPECT_EQ(reported, std::to_string(started_as));
}

}  // namespace
}  // namespace wsadup_test
