// ioctlsocket and WSAIoctl: the modes and queries Windows code sets and
// reads through them (FIONBIO, FIONREAD, SIOCATMARK, SIO_KEEPALIVE_VALS),
// their errors, and the same calls on a socket imported by another process.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#if !defined(_WIN32)
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>
#endif

#include "support.h"

#if defined(_WIN32)
// struct tcp_keepalive and SIO_KEEPALIVE_VALS; after <winsock2.h>, which
// support.h includes. On POSIX <wsadup/wsadup.h> declares them.
#include <mstcpip.h>
#endif

namespace wsadup_test {
namespace {

#if defined(_WIN32)
constexpr bool kWindowsHost = true;
#else
constexpr bool kWindowsHost = false;
#endif

using Ioctlsocket = ConformanceTest;
using WSAIoctlCalls = ConformanceTest;

// FIONREAD through ioctlsocket; ~0 when the call fails.
ULONG queued_bytes(SOCKET s) {
  ULONG queued = 0;
  if (ioctlsocket(s, FIONREAD, &queued) != 0) return ~0u;
  return queued;
}

// What FIONREAD reports once at least `expected` bytes are queued, or when
// the bound passes first. Loopback delivers what was sent before send
// returns; the bound only keeps a broken FIONREAD from hanging the test.
ULONG queued_bytes_once_at_least(SOCKET s, ULONG expected) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(kProcessTimeoutMs);
  ULONG queued = queued_bytes(s);
  while (queued != ~0u && queued < expected &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    queued = queued_bytes(s);
  }
  return queued;
}

// recv on s fails, and WSAGetLastError (read at once) says why.
int recv_error(SOCKET s) {
  char byte;
  int n = recv(s, &byte, 1, 0);
  int error = WSAGetLastError();
  return n == SOCKET_ERROR ? error : 0;
}

// An unconnected TCP socket, for the calls that need only a socket.
SOCKET tcp_socket() {
  return WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
}

// ---------------------------------------------------------- ioctlsocket --

TEST_F(Ioctlsocket, FionbioOneMakesRecvWouldBlockAndZeroMakesItWaitForData) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ULONG on = 1;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &on), 0);
  EXPECT_EQ(recv_error(pair.server), WSAEWOULDBLOCK);

  ULONG off = 0;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &off), 0);
  // Nothing is queued when recv starts; the bytes are sent only once this
  // thread is about to call it. A socket left non-blocking fails at once
  // with WSAEWOULDBLOCK; a blocking one waits for them. The sender always
  // sends, so the wait is bounded by the data, not by a clock.
  std::atomic<bool> receiving{false};
  std::thread sender([&] {
    while (!receiving.load()) std::this_thread::yield();
    send_all(pair.client, "late");
  });
  char buffer[4];
  receiving.store(true);
  int n = recv(pair.server, buffer, sizeof(buffer), 0);
  int error = WSAGetLastError();
  sender.join();
  ASSERT_GT(n, 0) << "recv failed with " << error;
  std::string rest;
  ASSERT_TRUE(recv_exact(pair.server, 4 - static_cast<size_t>(n), &rest));
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)) + rest, "late");
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Ioctlsocket, FionreadCountsTheQueuedTcpBytesExactly) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EXPECT_EQ(queued_bytes(pair.server), 0u);
  ASSERT_TRUE(send_all(pair.client, "hello world"));
  EXPECT_EQ(queued_bytes_once_at_least(pair.server, 11), 11u);
  char buffer[16];
  ASSERT_EQ(recv(pair.server, buffer, 5, 0), 5);
  EXPECT_EQ(queued_bytes(pair.server), 6u);
  ASSERT_EQ(recv(pair.server, buffer, sizeof(buffer), 0), 6);
  EXPECT_EQ(queued_bytes(pair.server), 0u);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// ioctlsocket: "If s is message oriented (for example, type SOCK_DGRAM),
// FIONREAD still returns the amount of pending data in the network buffer";
// one recv still reads one datagram.
TEST_F(Ioctlsocket, FionreadOnUdpCountsEveryQueuedDatagram) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short receiver_port = 0;
  unsigned short sender_port = 0;
  SOCKET receiver = make_udp(AF_INET, &receiver_port);
  SOCKET sender = make_udp(AF_INET, &sender_port);
  ASSERT_NE(receiver, INVALID_SOCKET);
  ASSERT_NE(sender, INVALID_SOCKET);
  EXPECT_EQ(queued_bytes(receiver), 0u);
  ASSERT_TRUE(send_udp(sender, AF_INET, receiver_port, "first"));
  ASSERT_TRUE(send_udp(sender, AF_INET, receiver_port, "seventh"));
  ASSERT_FALSE(stays_quiet(receiver, kProcessTimeoutMs));
  if (running_under_wine()) {
    std::printf(
        "[ WINE SKIP ] Wine's FIONREAD on UDP is the first datagram's "
        "size, %lu (docs/conformance.md W7)\n",
        static_cast<unsigned long>(queued_bytes(receiver)));
  } else if (!kWindowsHost) {
    // Linux reports only the first datagram and has no call that sums the
    // queue (docs/conformance.md L1).
    std::printf(
        "[ POSIX SKIP ] Linux's FIONREAD on UDP is the first "
        "datagram's size, %lu (docs/conformance.md L1)\n",
        static_cast<unsigned long>(queued_bytes(receiver)));
  } else {
    EXPECT_EQ(queued_bytes_once_at_least(receiver, 12), 12u);
  }
  char buffer[32];
  ASSERT_EQ(recv(receiver, buffer, sizeof(buffer), 0), 5);
  EXPECT_EQ(std::string(buffer, 5), "first");
  EXPECT_EQ(queued_bytes_once_at_least(receiver, 7), 7u);
  ASSERT_EQ(recv(receiver, buffer, sizeof(buffer), 0), 7);
  EXPECT_EQ(queued_bytes(receiver), 0u);
  EXPECT_EQ(closesocket(receiver), 0);
  EXPECT_EQ(closesocket(sender), 0);
}

// "If no OOB data is waiting to be read, the operation returns TRUE."
TEST_F(Ioctlsocket, SiocatmarkWithoutUrgentDataIsTrue) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ULONG at_mark = 0;
  ASSERT_EQ(ioctlsocket(pair.server, SIOCATMARK, &at_mark), 0);
  EXPECT_NE(at_mark, 0u);
  // Ordinary data queued changes nothing.
  ASSERT_TRUE(send_all(pair.client, "plain"));
  ASSERT_EQ(queued_bytes_once_at_least(pair.server, 5), 5u);
  at_mark = 0;
  ASSERT_EQ(ioctlsocket(pair.server, SIOCATMARK, &at_mark), 0);
  EXPECT_NE(at_mark, 0u);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Ioctlsocket, NullArgumentIsWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  const long commands[] = {static_cast<long>(FIONBIO),
                           static_cast<long>(FIONREAD),
                           static_cast<long>(SIOCATMARK)};
  for (long command : commands) {
    SCOPED_TRACE(command);
    WSASetLastError(0);
    EXPECT_EQ(ioctlsocket(s, command, nullptr), SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  }
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(Ioctlsocket, NotASocketIsWSAENOTSOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET closed = tcp_socket();
  ASSERT_NE(closed, INVALID_SOCKET);
  ASSERT_EQ(closesocket(closed), 0);
  ULONG on = 1;
  EXPECT_EQ(ioctlsocket(INVALID_SOCKET, FIONBIO, &on), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  EXPECT_EQ(ioctlsocket(closed, FIONREAD, &on), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
#if !defined(_WIN32)
  // A descriptor that is open but is no socket: the system's own ioctl
  // would set a pipe non-blocking without complaint.
  int ends[2];
  ASSERT_EQ(pipe(ends), 0);
  EXPECT_EQ(ioctlsocket(ends[0], FIONBIO, &on), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  EXPECT_EQ(fcntl(ends[0], F_GETFL) & O_NONBLOCK, 0);
  close(ends[0]);
  close(ends[1]);
#endif
}

TEST_F(Ioctlsocket, UnknownCommandIsWSAEOPNOTSUPP) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  ULONG value = 0;
  // No command of Winsock's, nor (on POSIX) of the system's.
  EXPECT_EQ(ioctlsocket(s, static_cast<long>(0x4004fe01), &value),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(closesocket(s), 0);
}

// ------------------------------------------------------------- WSAIoctl --

TEST_F(WSAIoctlCalls, FionbioAndFionreadWorkAndReportTheBytesReturned) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ULONG on = 1;
  DWORD returned = 0xdeadbeef;
  ASSERT_EQ(WSAIoctl(pair.server, FIONBIO, &on, sizeof(on), nullptr, 0,
                     &returned, nullptr, nullptr),
            0);
  EXPECT_EQ(returned, 0u) << "FIONBIO has no output";
  EXPECT_EQ(recv_error(pair.server), WSAEWOULDBLOCK);

  ASSERT_TRUE(send_all(pair.client, "abcdefg"));
  ASSERT_EQ(queued_bytes_once_at_least(pair.server, 7), 7u);
  ULONG queued = 0;
  returned = 0xdeadbeef;
  ASSERT_EQ(WSAIoctl(pair.server, FIONREAD, nullptr, 0, &queued, sizeof(queued),
                     &returned, nullptr, nullptr),
            0);
  EXPECT_EQ(queued, 7u);
  EXPECT_EQ(returned, sizeof(queued));

  ULONG at_mark = 0;
  returned = 0xdeadbeef;
  ASSERT_EQ(WSAIoctl(pair.server, SIOCATMARK, nullptr, 0, &at_mark,
                     sizeof(at_mark), &returned, nullptr, nullptr),
            0);
  EXPECT_NE(at_mark, 0u);
  EXPECT_EQ(returned, sizeof(at_mark));

  std::string got;
  ASSERT_TRUE(recv_exact(pair.server, 7, &got));
  EXPECT_EQ(got, "abcdefg");
  ULONG off = 0;
  ASSERT_EQ(WSAIoctl(pair.server, FIONBIO, &off, sizeof(off), nullptr, 0,
                     &returned, nullptr, nullptr),
            0);
  // Blocking again: with nothing queued, recv waits for the byte sent only
  // once it is about to be called (see the ioctlsocket test).
  char byte = 0;
  std::atomic<bool> receiving{false};
  std::thread sender([&] {
    while (!receiving.load()) std::this_thread::yield();
    send_all(pair.client, "h");
  });
  receiving.store(true);
  int n = recv(pair.server, &byte, 1, 0);
  int error = WSAGetLastError();
  sender.join();
  ASSERT_EQ(n, 1) << "recv failed with " << error;
  EXPECT_EQ(byte, 'h');
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(WSAIoctlCalls, KeepaliveValsTurnsKeepaliveOnAndOff) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  int keepalive = 0;
  SockLen length = sizeof(keepalive);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<char*>(&keepalive), &length),
            0);
  EXPECT_EQ(keepalive, 0);

  tcp_keepalive values;
  values.onoff = 1;
  values.keepalivetime = 4000;
  values.keepaliveinterval = 2000;
  DWORD returned = 0xdeadbeef;
  ASSERT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), nullptr, 0,
                     &returned, nullptr, nullptr),
            0)
      << WSAGetLastError();
  EXPECT_EQ(returned, 0u) << "SIO_KEEPALIVE_VALS has no output";
  keepalive = 0;
  length = sizeof(keepalive);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<char*>(&keepalive), &length),
            0);
  EXPECT_EQ(keepalive, 1);

  values.onoff = 0;
  ASSERT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), nullptr, 0,
                     &returned, nullptr, nullptr),
            0);
  keepalive = 1;
  length = sizeof(keepalive);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<char*>(&keepalive), &length),
            0);
  EXPECT_EQ(keepalive, 0);
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(WSAIoctlCalls, ShortOrMissingBuffersAreWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  tcp_keepalive values;
  values.onoff = 1;
  values.keepalivetime = 4000;
  values.keepaliveinterval = 2000;
  DWORD returned = 0;
  EXPECT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values) - 1,
                     nullptr, 0, &returned, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, nullptr, sizeof(values), nullptr, 0,
                     &returned, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  ULONG on = 1;
  EXPECT_EQ(WSAIoctl(s, FIONBIO, &on, sizeof(on) - 1, nullptr, 0, &returned,
                     nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  ULONG queued = 0;
  EXPECT_EQ(WSAIoctl(s, FIONREAD, nullptr, 0, &queued, sizeof(queued) - 1,
                     &returned, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(WSAIoctl(s, FIONREAD, nullptr, 0, nullptr, sizeof(queued),
                     &returned, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  // Without an overlapped structure the byte count has nowhere to go.
  EXPECT_EQ(WSAIoctl(s, FIONREAD, nullptr, 0, &queued, sizeof(queued), nullptr,
                     nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  // None of them changed the socket: it is still blocking and keepalive off.
  int keepalive = 0;
  SockLen length = sizeof(keepalive);
  ASSERT_EQ(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<char*>(&keepalive), &length),
            0);
  EXPECT_EQ(keepalive, 0);
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(WSAIoctlCalls, UnknownCodeIsWSAEOPNOTSUPPWithNoBytesReturned) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  // 0xdeadbeef, and FIOASYNC, which Winsock names but does not implement.
  const DWORD codes[] = {0xdeadbeef, 0x8004667d};
  for (DWORD code : codes) {
    SCOPED_TRACE(code);
    DWORD returned = 0xdeadbeef;
    EXPECT_EQ(
        WSAIoctl(s, code, nullptr, 0, nullptr, 0, &returned, nullptr, nullptr),
        SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
    EXPECT_EQ(returned, 0u);
  }
  EXPECT_EQ(closesocket(s), 0);
}

TEST_F(WSAIoctlCalls, NotASocketIsWSAENOTSOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  ULONG on = 1;
  DWORD returned = 0;
  EXPECT_EQ(WSAIoctl(INVALID_SOCKET, FIONBIO, &on, sizeof(on), nullptr, 0,
                     &returned, nullptr, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
}

#if !defined(_WIN32)
int tcp_option(SOCKET s, int option) {
  int value = -1;
  socklen_t length = sizeof(value);
  if (getsockopt(s, IPPROTO_TCP, option, &value, &length) != 0) return -1;
  return value;
}

// The POSIX form of SIO_KEEPALIVE_VALS: the idle time and the probe
// interval become TCP_KEEPIDLE and TCP_KEEPINTVL, in whole seconds rounded
// up (the kernel counts seconds; rounding down could reach 0, which it
// refuses).
TEST_F(WSAIoctlCalls, KeepaliveValsSetsTheKernelsIdleAndIntervalInSeconds) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  tcp_keepalive values;
  values.onoff = 1;
  values.keepalivetime = 4000;
  values.keepaliveinterval = 2000;
  DWORD returned = 0;
  ASSERT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), nullptr, 0,
                     &returned, nullptr, nullptr),
            0);
  EXPECT_EQ(tcp_option(s, TCP_KEEPIDLE), 4);
  EXPECT_EQ(tcp_option(s, TCP_KEEPINTVL), 2);
  values.keepalivetime = 2500;
  values.keepaliveinterval = 1;
  ASSERT_EQ(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), nullptr, 0,
                     &returned, nullptr, nullptr),
            0);
  EXPECT_EQ(tcp_option(s, TCP_KEEPIDLE), 3);
  EXPECT_EQ(tcp_option(s, TCP_KEEPINTVL), 1);
  EXPECT_EQ(closesocket(s), 0);
}

// wsadup's calls are synchronous: an overlapped request or a completion
// routine is refused, not silently run synchronously.
TEST_F(WSAIoctlCalls, OverlappedOrCompletionRoutineIsWSAEOPNOTSUPP) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET s = tcp_socket();
  ASSERT_NE(s, INVALID_SOCKET);
  WSAOVERLAPPED overlapped;
  std::memset(&overlapped, 0, sizeof(overlapped));
  ULONG on = 1;
  DWORD returned = 0;
  EXPECT_EQ(WSAIoctl(s, FIONBIO, &on, sizeof(on), nullptr, 0, &returned,
                     &overlapped, nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, 0) << "FIONBIO was applied";
  EXPECT_EQ(WSAIoctl(s, FIONBIO, &on, sizeof(on), nullptr, 0, &returned,
                     &overlapped, [](DWORD, DWORD, LPWSAOVERLAPPED, DWORD) {}),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEOPNOTSUPP);
  EXPECT_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, 0) << "FIONBIO was applied";
  EXPECT_EQ(closesocket(s), 0);
}
#endif

// ----------------------------------------- on a socket another process got --

// The target's half of the cross-process test. It imports the token that
// arrives as its first frame, then answers with one line:
// "fionread=<n> atmark=<0|1> recv=<bytes>|<bytes> flags=<n> again=<error>"
// after FIONREAD and SIOCATMARK through ioctlsocket, FIONBIO and
// SIO_KEEPALIVE_VALS through WSAIoctl, a WSARecv into two buffers and a
// second WSARecv that must find nothing. It exits with 3 when it leaked.
WSADUP_TEST_HELPER(ioctl_target) {
  size_t baseline = open_descriptor_count();
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (!helper_write_frame("pid " + std::to_string(current_pid()))) return 2;
  std::string token;
  WSAPROTOCOL_INFOA info;
  if (!helper_read_frame(&token) || !token_from_bytes(token, &info)) return 4;
  SOCKET s = import_token(&info);
  std::ostringstream report;
  if (s == INVALID_SOCKET) {
    report << "err import " << WSAGetLastError();
  } else {
    ULONG queued = 0;
    ULONG at_mark = 0;
    ULONG on = 1;
    tcp_keepalive values;
    values.onoff = 1;
    values.keepalivetime = 60000;
    values.keepaliveinterval = 1000;
    DWORD returned = 0;
    char first[3];
    char second[8];
    WSABUF buffers[2];
    buffers[0].buf = first;
    buffers[0].len = sizeof(first);
    buffers[1].buf = second;
    buffers[1].len = sizeof(second);
    DWORD received = 0;
    DWORD flags = 0;
    if (ioctlsocket(s, FIONREAD, &queued) != 0 ||
        ioctlsocket(s, SIOCATMARK, &at_mark) != 0 ||
        WSAIoctl(s, FIONBIO, &on, sizeof(on), nullptr, 0, &returned, nullptr,
                 nullptr) != 0 ||
        WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), nullptr, 0,
                 &returned, nullptr, nullptr) != 0 ||
        WSARecv(s, buffers, 2, &received, &flags, nullptr, nullptr) != 0) {
      report << "err call " << WSAGetLastError();
    } else {
      DWORD again_received = 0;
      DWORD again_flags = 0;
      int again = WSARecv(s, buffers, 2, &again_received, &again_flags, nullptr,
                          nullptr);
      int again_error = again == SOCKET_ERROR ? WSAGetLastError() : 0;
      size_t in_first = received < sizeof(first) ? received : sizeof(first);
      report << "fionread=" << queued << " atmark=" << (at_mark ? 1 : 0)
             << " recv=" << std::string(first, in_first) << "|"
             << std::string(second, received - in_first) << " flags=" << flags
             << " again=" << again_error;
    }
  }
  if (!helper_write_frame(report.str())) return 5;
  std::string bye;
  helper_read_frame(&bye);  // the test has checked the shared state
  if (s != INVALID_SOCKET) closesocket(s);
  WSACleanup();
  return open_descriptor_count() == baseline ? 0 : 3;
}

// The calls act on the socket itself: another process that imported it
// sees the bytes this one left queued, reads them, and the modes it sets
// there (non-blocking, keepalive) are the socket's, seen here too.
TEST_F(WSAIoctlCalls, AnImportedSocketAnswersTheCallsInTheTargetProcess) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<ChildProcess> target =
      ChildProcess::spawn("ioctl_target", {});
  ASSERT_TRUE(target);
  std::string hello;
  ASSERT_TRUE(read_frame(*target, &hello));
  ASSERT_EQ(hello.compare(0, 4, "pid "), 0) << hello;
  uint32_t pid =
      static_cast<uint32_t>(std::strtoul(hello.c_str() + 4, nullptr, 10));
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(send_all(pair.client, "queued-8"));
  ASSERT_EQ(queued_bytes_once_at_least(pair.server, 8), 8u);
  std::string token = duplicate_for(pair.server, pid);
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_TRUE(write_frame(*target, token));
  std::string report;
  ASSERT_TRUE(read_frame(*target, &report));
  EXPECT_EQ(report, "fionread=8 atmark=1 recv=que|ued-8 flags=0 again=" +
                        std::to_string(WSAEWOULDBLOCK));
  // The target set these on the socket; this descriptor is the same socket.
  EXPECT_EQ(recv_error(pair.server), WSAEWOULDBLOCK);
  int keepalive = 0;
  SockLen length = sizeof(keepalive);
  ASSERT_EQ(getsockopt(pair.server, SOL_SOCKET, SO_KEEPALIVE,
                       reinterpret_cast<char*>(&keepalive), &length),
            0);
  EXPECT_EQ(keepalive, 1);
  ASSERT_TRUE(write_frame(*target, "bye"));
  EXPECT_EQ(target->wait(kProcessTimeoutMs), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

}  // namespace
}  // namespace wsadup_test
