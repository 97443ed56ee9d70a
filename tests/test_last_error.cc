// WSAGetLastError reports the thread's last failure, whichever call made
// it: a system call on the SOCKET itself (recv, connect, send, accept...),
// with the code Windows reports for the same condition, or a wsadup call,
// with its own code. WSASetLastError sets what it returns next, and on
// POSIX errno keeps the system's value throughout.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "support.h"

namespace wsadup_test {
namespace {

using LastError = ConformanceTest;

int loopback(unsigned short port, sockaddr_in* address) {
  std::memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons(port);
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(*address);
}

bool set_non_blocking(SOCKET s) {
  ULONG on = 1;
  return ioctlsocket(s, FIONBIO, &on) == 0;
}

TEST_F(LastError, RecvOnANonBlockingSocketWithNothingQueuedIsWSAEWOULDBLOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(set_non_blocking(pair.server));
  WSASetLastError(0);
  char byte;
  int n = recv(pair.server, &byte, 1, 0);
  int error = WSAGetLastError();
  // GetLastError is the same thread value on Windows, and so in wsadup.
  int last = static_cast<int>(GetLastError());
  EXPECT_EQ(n, SOCKET_ERROR);
  EXPECT_EQ(error, WSAEWOULDBLOCK);
  EXPECT_EQ(last, WSAEWOULDBLOCK);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// Windows reports a connect under way as WSAEWOULDBLOCK (EINPROGRESS on
// POSIX).
TEST_F(LastError, ANonBlockingConnectIsWSAEWOULDBLOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET client = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(client, INVALID_SOCKET);
  ASSERT_TRUE(set_non_blocking(client));
  sockaddr_in address;
  int length = loopback(port, &address);
  WSASetLastError(0);
  int result = connect(client, reinterpret_cast<sockaddr*>(&address), length);
  int error = WSAGetLastError();
  EXPECT_EQ(result, SOCKET_ERROR);
  EXPECT_EQ(error, WSAEWOULDBLOCK);
  // Let the connection finish before both ends close.
  ASSERT_FALSE(stays_quiet(listener, kProcessTimeoutMs));
  SOCKET server = accept(listener, nullptr, nullptr);
  EXPECT_NE(server, INVALID_SOCKET);
  if (server != INVALID_SOCKET) EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

// An abortive close (SO_LINGER on with a zero timeout) resets the
// connection; the other end's next send is WSAECONNRESET, and so is the one
// after it (EPIPE on POSIX).
TEST_F(LastError, SendAfterThePeerResetTheConnectionIsWSAECONNRESET) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  linger abort_on_close;
  abort_on_close.l_onoff = 1;
  abort_on_close.l_linger = 0;
  ASSERT_EQ(setsockopt(pair.client, SOL_SOCKET, SO_LINGER,
                       reinterpret_cast<const char*>(&abort_on_close),
                       sizeof(abort_on_close)),
            0);
  ASSERT_EQ(closesocket(pair.client), 0);
  // The reset makes the socket readable once it has arrived.
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    WSASetLastError(0);
    int n = send(pair.server, "x", 1, 0);
    int error = WSAGetLastError();
    EXPECT_EQ(n, SOCKET_ERROR);
    EXPECT_EQ(error, WSAECONNRESET);
  }
  EXPECT_EQ(closesocket(pair.server), 0);
}

// After its own shutdown(SD_SEND) a socket cannot send: WSAESHUTDOWN, not
// the reset a broken connection reports.
TEST_F(LastError, SendAfterItsOwnShutdownIsWSAESHUTDOWN) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(shutdown(pair.client, SD_SEND), 0);
  WSASetLastError(0);
  char byte = 'x';
  WSABUF buffer{1, &byte};
  DWORD sent = 0;
  EXPECT_EQ(WSASend(pair.client, &buffer, 1, &sent, 0, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAESHUTDOWN);
  WSASetLastError(0);
  int n = send(pair.client, "x", 1, 0);
  int error = WSAGetLastError();
  EXPECT_EQ(n, SOCKET_ERROR);
#if defined(_WIN32)
  EXPECT_EQ(error, WSAESHUTDOWN);
#else
  // The system's send reports EPIPE, as after a reset (docs/conformance.md
  // L2): only wsadup's own calls can tell, as WSASend just did.
  std::printf(
      "[ POSIX SKIP ] the system's send after its own shutdown reads "
      "%d, not WSAESHUTDOWN (docs/conformance.md L2)\n",
      error);
  EXPECT_EQ(error, WSAECONNRESET);
#endif
  EXPECT_TRUE(sees_end_of_stream(pair.server));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// accept: "WSAEINVAL: The listen function was not invoked prior to accept."
TEST_F(LastError, AcceptOnASocketThatIsNotListeningIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  ASSERT_NE(s, INVALID_SOCKET);
  sockaddr_in address;
  int length = loopback(0, &address);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&address), length), 0);
  WSASetLastError(0);
  SOCKET accepted = accept(s, nullptr, nullptr);
  int error = WSAGetLastError();
  EXPECT_EQ(accepted, INVALID_SOCKET);
  EXPECT_EQ(error, WSAEINVAL);
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(LastError, WSASetLastErrorSetsWhatWSAGetLastErrorReturns) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSASetLastError(WSAENOBUFS);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  // Any value, not only the ones wsadup or the errno table know.
  WSASetLastError(12345);
  EXPECT_EQ(WSAGetLastError(), 12345);
  WSASetLastError(0);
  EXPECT_EQ(WSAGetLastError(), 0);
}

// The most recent failure is the one reported, whichever of a system call
// and a wsadup call made it; a stale errno left by an earlier failure does
// not leak into a wsadup call's code.
TEST_F(LastError, TheMostRecentFailureWinsBetweenSystemAndWsadupCalls) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(set_non_blocking(pair.server));
  char byte;
  ASSERT_EQ(recv(pair.server, &byte, 1, 0), SOCKET_ERROR);
  int error = WSAGetLastError();
  EXPECT_EQ(error, WSAEWOULDBLOCK);
#if !defined(_WIN32)
  // As if something else had failed too: errno now says "not a socket".
  errno = EBADF;
#endif
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, 0, &info), SOCKET_ERROR);
  error = WSAGetLastError();
  EXPECT_EQ(error, WSAEINVAL);
  // And a system call failing after it is reported again.
  ASSERT_EQ(recv(pair.server, &byte, 1, 0), SOCKET_ERROR);
  error = WSAGetLastError();
  EXPECT_EQ(error, WSAEWOULDBLOCK);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

#if !defined(_WIN32)
// WSAGetLastError reads errno; it does not replace it. Code that checks
// errno after a failed recv (as POSIX code does) still sees EAGAIN.
TEST_F(LastError, ErrnoKeepsTheSystemsValueAcrossWSAGetLastError) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(set_non_blocking(pair.server));
  char byte;
  errno = 0;
  ASSERT_EQ(recv(pair.server, &byte, 1, 0), SOCKET_ERROR);
  int after_recv = errno;
  int error = WSAGetLastError();
  int after_get = errno;
  EXPECT_TRUE(after_recv == EAGAIN || after_recv == EWOULDBLOCK) << after_recv;
  EXPECT_EQ(error, WSAEWOULDBLOCK);
  EXPECT_EQ(after_get, after_recv);
  // A failed wsadup call does not rewrite errno into a Winsock code either.
  errno = EAGAIN;
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, 0, &info), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_NE(errno, WSAEINVAL);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
