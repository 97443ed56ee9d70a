// WSAEventSelect and WSAEnumNetworkEvents as ported Windows code uses them,
// and the rule for a socket shared between processes: "Issuing either of
// these calls using any of the shared descriptors cancels any previous event
// registration for the socket, regardless of which descriptor was used to
// make that registration. Thus, for example, a shared socket cannot deliver
// FD_READ events to process A and FD_WRITE events to process B."
//
// Built against <winsock2.h>: Windows' own, or on POSIX wsadup's compat
// directory, whose recv, send, accept and the rest are the calls that
// re-enable FD_READ, FD_WRITE and FD_ACCEPT, as Winsock's are.
//
// Every expectation is Windows' documented behaviour where Windows' own runs
// (Wine's suite, which passes on Windows) agree with it. Left out on
// purpose, because the documentation and those runs disagree: what a
// re-select reports for a connection or data that arrives after it, the
// order of FD_READ and FD_CLOSE when data comes before the close, and
// whether a recv that fails re-enables FD_READ for events.
#include <winsock2.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "support.h"

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace wsadup_test {
namespace {

using EventSelect = ConformanceTest;
using EnumNetworkEvents = ConformanceTest;
using SharedRegistration = ConformanceTest;

// Long enough for an event that should come; short enough that proving one
// does not come costs little.
constexpr DWORD kSignalledMs = 5000;
constexpr DWORD kQuietMs = 300;
// Windows retries a refused connection for a while before it reports it.
constexpr DWORD kRefusedMs = 10000;
// What WSAEnumNetworkEvents must leave in the slots of events it does not
// report: the 0xAB bytes the tests fill the structure with.
constexpr int kUntouched = static_cast<int>(0xABABABABu);

const char* const kEventNames[FD_MAX_EVENTS] = {"FD_READ",
                                                "FD_WRITE",
                                                "FD_OOB",
                                                "FD_ACCEPT",
                                                "FD_CONNECT",
                                                "FD_CLOSE",
                                                "FD_QOS",
                                                "FD_GROUP_QOS",
                                                "FD_ROUTING_INTERFACE_CHANGE",
                                                "FD_ADDRESS_LIST_CHANGE"};

std::string event_names(long events) {
  std::string names;
  for (int bit = 0; bit < FD_MAX_EVENTS; ++bit) {
    if (events & (1L << bit)) {
      names += (names.empty() ? "" : "|") + std::string(kEventNames[bit]);
    }
  }
  return names.empty() ? "none" : names;
}

// An event object for the scope of a test. Tests end with close(), which is
// WSACloseEvent; the destructor closes it if a test stopped early.
class EventObject {
 public:
  EventObject() : handle_(WSACreateEvent()) {}
  ~EventObject() {
    if (handle_ != WSA_INVALID_EVENT) WSACloseEvent(handle_);
  }
  EventObject(const EventObject&) = delete;
  EventObject& operator=(const EventObject&) = delete;
  bool ok() const { return handle_ != WSA_INVALID_EVENT; }
  WSAEVENT get() const { return handle_; }
  bool close() {
    WSAEVENT handle = handle_;
    handle_ = WSA_INVALID_EVENT;
    return WSACloseEvent(handle) != FALSE;
  }

 private:
  WSAEVENT handle_;
};

bool signalled_within(WSAEVENT event, DWORD timeout_ms) {
  return WSAWaitForMultipleEvents(1, &event, FALSE, timeout_ms, FALSE) ==
         WSA_WAIT_EVENT_0;
}

// True when the event is not signalled within kQuietMs.
bool stays_unsignalled(WSAEVENT event) {
  return WSAWaitForMultipleEvents(1, &event, FALSE, kQuietMs, FALSE) ==
         WSA_WAIT_TIMEOUT;
}

// The record holds exactly `events`; each reported event's slot holds 0,
// or `error` for `error_bit`; every other slot is untouched.
::testing::AssertionResult holds(const WSANETWORKEVENTS& got, long events,
                                 int error_bit = -1, int error = 0) {
  if (got.lNetworkEvents != events) {
    return ::testing::AssertionFailure()
           << "reported " << event_names(got.lNetworkEvents) << ", not "
           << event_names(events);
  }
  for (int bit = 0; bit < FD_MAX_EVENTS; ++bit) {
    int expected = !(events & (1L << bit)) ? kUntouched
                   : bit == error_bit      ? error
                                           : 0;
    if (got.iErrorCode[bit] != expected) {
      return ::testing::AssertionFailure()
             << "iErrorCode[" << kEventNames[bit] << "_BIT] is "
             << got.iErrorCode[bit] << ", not " << expected;
    }
  }
  return ::testing::AssertionSuccess();
}

// WSAEnumNetworkEvents(s, event) with the slots filled with 0xAB first.
bool enumerate(SOCKET s, WSAEVENT event, WSANETWORKEVENTS* got) {
  std::memset(got, 0xAB, sizeof(*got));
  return WSAEnumNetworkEvents(s, event, got) == 0;
}

// WSAEnumNetworkEvents(s, event) reports exactly `events` (see holds).
::testing::AssertionResult enumerates(SOCKET s, WSAEVENT event, long events,
                                      int error_bit = -1, int error = 0) {
  WSANETWORKEVENTS got;
  if (!enumerate(s, event, &got)) {
    return ::testing::AssertionFailure()
           << "WSAEnumNetworkEvents failed: " << WSAGetLastError();
  }
  return holds(got, events, error_bit, error);
}

// The peer's enum_events <index> reports exactly `events` (see holds).
::testing::AssertionResult peer_enumerates(Peer& peer, int index, long events,
                                           int error_bit = -1, int error = 0) {
  std::string reply = peer.call("enum_events " + std::to_string(index));
  std::istringstream words(reply);
  std::string status;
  WSANETWORKEVENTS got;
  long reported = 0;
  words >> status >> reported;
  got.lNetworkEvents = reported;
  for (int& code : got.iErrorCode) words >> code;
  if (status != "ok" || words.fail()) {
    return ::testing::AssertionFailure() << "enum_events: " << reply;
  }
  return holds(got, events, error_bit, error);
}

int loopback(unsigned short port, sockaddr_in* address) {
  std::memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons(port);
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(*address);
}

SOCKET tcp_socket() {
  return WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
}

// A receive that blocks by mistake fails the test after a while instead of
// hanging it: SO_RCVTIMEO, as a DWORD of milliseconds.
bool bound_blocking_receives(SOCKET s) {
  DWORD timeout_ms = kSignalledMs;
  return setsockopt(s, SOL_SOCKET, SO_RCVTIMEO,
                    reinterpret_cast<const char*>(&timeout_ms),
                    sizeof(timeout_ms)) == 0;
}

bool recv_would_block(SOCKET s) {
  char byte;
  return recv(s, &byte, 1, 0) == SOCKET_ERROR &&
         WSAGetLastError() == WSAEWOULDBLOCK;
}

// Reads `size` bytes from a blocking socket, in large pieces.
bool drain(SOCKET s, size_t size) {
  std::vector<char> buffer(256 * 1024);
  size_t received = 0;
  while (received < size) {
    if (stays_quiet(s, kProcessTimeoutMs)) return false;
    int n = recv(s, buffer.data(), static_cast<int>(buffer.size()), 0);
    if (n <= 0) return false;
    received += static_cast<size_t>(n);
  }
  return true;
}

// -------------------------------------------------- registration itself --

// "The WSAEventSelect function automatically sets socket s to nonblocking
// mode, regardless of the value of lNetworkEvents."
TEST_F(EventSelect, MakesTheSocketNonBlockingWhateverTheMask) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_TRUE(bound_blocking_receives(pair.server));
  ASSERT_TRUE(bound_blocking_receives(pair.client));
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), 0), 0)
      << WSAGetLastError();
  EXPECT_TRUE(recv_would_block(pair.server));
  ASSERT_EQ(WSAEventSelect(pair.client, event.get(), FD_READ), 0)
      << WSAGetLastError();
  EXPECT_TRUE(recv_would_block(pair.client));
  EXPECT_EQ(WSAEventSelect(pair.client, nullptr, 0), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// ioctlsocket: "The WSAAsyncSelect and WSAEventSelect functions
// automatically set a socket to nonblocking mode. If WSAAsyncSelect or
// WSAEventSelect has been issued on a socket, then any attempt to use
// ioctlsocket to set the socket back to blocking mode will fail with
// WSAEINVAL. To set the socket back to blocking mode, an application must
// first disable WSAAsyncSelect by calling WSAAsyncSelect with the lEvent
// parameter equal to zero, or disable WSAEventSelect by calling
// WSAEventSelect with the lNetworkEvents parameter equal to zero."
TEST_F(EventSelect,
       FionbioZeroIsWSAEINVALWhileRegisteredAndWorksOnceCancelled) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  u_long on = 1;
  u_long off = 0;
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &on), 0) << WSAGetLastError();
  WSASetLastError(0);
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &off), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0) << WSAGetLastError();
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &off), 0) << WSAGetLastError();
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// "Issuing a WSAEventSelect for a socket cancels any previous
// WSAAsyncSelect or WSAEventSelect for the same socket": the second of
// (s, e1, FD_READ) and (s, e2, FD_WRITE) leaves FD_WRITE on e2 alone.
TEST_F(EventSelect, ALaterSelectReplacesTheEarlierEventAndMask) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject first;
  EventObject second;
  ASSERT_TRUE(first.ok() && second.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, first.get(), FD_READ), 0)
      << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, second.get(), FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(WSAResetEvent(first.get()));
  ASSERT_TRUE(send_all(pair.client, "data"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));  // it arrived
  ASSERT_TRUE(signalled_within(second.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, second.get(), FD_WRITE));
  EXPECT_TRUE(stays_unsignalled(first.get()));
  EXPECT_TRUE(enumerates(pair.server, first.get(), 0));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(first.close());
  EXPECT_TRUE(second.close());
}

// lNetworkEvents 0 cancels ("hEventObject is ignored"), so (s, NULL, 0) is
// the way to stop, and nothing is recorded after it.
TEST_F(EventSelect, AnEmptyMaskWithNoEventCancelsAllRecording) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(
      WSAEventSelect(pair.server, event.get(), FD_READ | FD_WRITE | FD_CLOSE),
      0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  ASSERT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0) << WSAGetLastError();
  ASSERT_TRUE(send_all(pair.client, "data"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));  // it arrived
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// "Any WSAEventSelect association and network events selection set for the
// listening socket apply to the accepted socket", with the same event.
TEST_F(EventSelect, AnAcceptedSocketInheritsTheListenersEventAndMask) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(
      WSAEventSelect(listener, event.get(), FD_ACCEPT | FD_READ | FD_WRITE), 0)
      << WSAGetLastError();
  SOCKET client = connect_to(AF_INET, port);
  ASSERT_NE(client, INVALID_SOCKET);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(listener, event.get(), FD_ACCEPT));
  SOCKET server = accept(listener, nullptr, nullptr);
  ASSERT_NE(server, INVALID_SOCKET) << WSAGetLastError();
  // The accepted socket's FD_WRITE, on the listener's event...
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(server, event.get(), FD_WRITE));
  // ...and its FD_READ, which is in the listener's mask too.
  ASSERT_TRUE(send_all(client, "data"));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(server, event.get(), FD_READ));
  EXPECT_TRUE(enumerates(listener, nullptr, 0));
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_TRUE(event.close());
}

// -------------------------------------------------------------- FD_READ --

// One FD_READ for data that arrives, none for more data until a recv
// re-enables it, and a recv that leaves data records FD_READ again: "a
// single recv in response to each FD_READ network event is appropriate".
TEST_F(EventSelect, FdReadIsRecordedOnceAndAgainAfterARecvThatLeavesData) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  ASSERT_TRUE(send_all(pair.client, std::string(100, 'a')));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  // More data before any recv: still no second FD_READ.
  ASSERT_TRUE(send_all(pair.client, std::string(10, 'b')));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  u_long queued = 0;
  ASSERT_EQ(ioctlsocket(pair.server, FIONREAD, &queued), 0);
  ASSERT_EQ(queued, 110u);  // the 10 bytes had arrived
  char buffer[110];
  ASSERT_EQ(recv(pair.server, buffer, 50, 0), 50);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ));
  // The recv that drains it records nothing.
  ASSERT_EQ(recv(pair.server, buffer, sizeof(buffer), 0), 60);
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// Eight bytes read one at a time: FD_READ after each recv but the last.
TEST_F(EventSelect, EachOneByteRecvRecordsFdReadAgainUntilTheLastByte) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  ASSERT_TRUE(send_all(pair.client, "abcdefgh"));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ));
  u_long queued = 0;
  ASSERT_EQ(ioctlsocket(pair.server, FIONREAD, &queued), 0);
  ASSERT_EQ(queued, 8u);
  for (int i = 0; i < 8; ++i) {
    char byte = 0;
    ASSERT_EQ(recv(pair.server, &byte, 1, 0), 1) << "byte " << i;
    EXPECT_EQ(byte, "abcdefgh"[i]);
    if (i < 7) {
      ASSERT_TRUE(signalled_within(event.get(), kSignalledMs)) << "byte " << i;
      EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ))
          << "byte " << i;
    } else {
      EXPECT_TRUE(stays_unsignalled(event.get()));
      EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
    }
  }
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// ------------------------------------------------------------- FD_WRITE --

// FD_WRITE is recorded when the socket is first connected and "only after a
// send failed with WSAEWOULDBLOCK and buffer space became available": a
// send that succeeds records nothing.
TEST_F(EventSelect, FdWriteIsRecordedOnceAndASuccessfulSendDoesNotRecordIt) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  ASSERT_EQ(send(pair.server, "data", 4, 0), 4) << WSAGetLastError();
  std::string got;
  ASSERT_TRUE(recv_exact(pair.client, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

TEST_F(EventSelect, FdWriteIsRecordedAgainWhenASendThatWouldBlockGetsRoom) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  // Fill both ends' buffers: the client reads nothing yet.
  const std::string chunk(64 * 1024, 'w');
  size_t sent = 0;
  int n = 0;
  while ((n = send(pair.server, chunk.data(), static_cast<int>(chunk.size()),
                   0)) > 0) {
    sent += static_cast<size_t>(n);
    ASSERT_LT(sent, size_t{1} << 30) << "the send buffer never filled";
  }
  ASSERT_EQ(n, SOCKET_ERROR);
  ASSERT_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
  ASSERT_TRUE(drain(pair.client, sent));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// ------------------------------------------------------------ FD_ACCEPT --

// "If a network event has already happened when the application calls
// WSAEventSelect ... then a network event is recorded": a connection that
// waits before the select is FD_ACCEPT at once.
TEST_F(EventSelect, AConnectionPendingBeforeTheSelectIsFdAcceptAtOnce) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET client = connect_to(AF_INET, port);
  ASSERT_NE(client, INVALID_SOCKET);
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(listener, event.get(), FD_ACCEPT), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(listener, event.get(), FD_ACCEPT));
  SOCKET server = accept(listener, nullptr, nullptr);
  EXPECT_NE(server, INVALID_SOCKET) << WSAGetLastError();
  if (server != INVALID_SOCKET) EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_TRUE(event.close());
}

// FD_ACCEPT is re-enabled by accept: a second connection that arrives
// before it records nothing, and the accept that leaves it waiting records
// FD_ACCEPT again.
TEST_F(EventSelect, FdAcceptIsRecordedAgainAfterAnAcceptThatLeavesAConnection) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(listener, event.get(), FD_ACCEPT), 0)
      << WSAGetLastError();
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(listener, event.get(), 0));
  SOCKET first_client = connect_to(AF_INET, port);
  ASSERT_NE(first_client, INVALID_SOCKET);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(listener, event.get(), FD_ACCEPT));
  SOCKET second_client = connect_to(AF_INET, port);
  ASSERT_NE(second_client, INVALID_SOCKET);
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(listener, event.get(), 0));
  SOCKET first_server = accept(listener, nullptr, nullptr);
  ASSERT_NE(first_server, INVALID_SOCKET) << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(listener, event.get(), FD_ACCEPT));
  SOCKET second_server = accept(listener, nullptr, nullptr);
  ASSERT_NE(second_server, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(listener, event.get(), 0));
  EXPECT_EQ(closesocket(second_server), 0);
  EXPECT_EQ(closesocket(first_server), 0);
  EXPECT_EQ(closesocket(second_client), 0);
  EXPECT_EQ(closesocket(first_client), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_TRUE(event.close());
}

// ----------------------------------------------------------- FD_CONNECT --

// A non-blocking connect records FD_CONNECT (error 0), with FD_WRITE once
// connected; an unconnected socket records nothing before it.
TEST_F(EventSelect, ANonBlockingConnectIsFdConnectThenFdWrite) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET client = tcp_socket();
  ASSERT_NE(client, INVALID_SOCKET);
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(client, event.get(),
                           FD_CONNECT | FD_WRITE | FD_READ | FD_CLOSE),
            0)
      << WSAGetLastError();
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(client, event.get(), 0));
  sockaddr_in address;
  int length = loopback(port, &address);
  int result = connect(client, reinterpret_cast<sockaddr*>(&address), length);
  if (result == SOCKET_ERROR) ASSERT_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
  // Both may come in one record; FD_WRITE never before FD_CONNECT.
  long seen = 0;
  for (int round = 0; round < 2 && seen != (FD_CONNECT | FD_WRITE); ++round) {
    ASSERT_TRUE(signalled_within(event.get(), kSignalledMs))
        << "seen so far: " << event_names(seen);
    WSANETWORKEVENTS got;
    ASSERT_TRUE(enumerate(client, event.get(), &got)) << WSAGetLastError();
    if (round == 0) {
      EXPECT_TRUE(got.lNetworkEvents & FD_CONNECT)
          << "first reported: " << event_names(got.lNetworkEvents);
    }
    EXPECT_TRUE(holds(got, got.lNetworkEvents & (FD_CONNECT | FD_WRITE)));
    seen |= got.lNetworkEvents;
  }
  EXPECT_EQ(seen, FD_CONNECT | FD_WRITE) << event_names(seen);
  bool quiet = stays_unsignalled(event.get());
  WSANETWORKEVENTS after;
  ASSERT_TRUE(enumerate(client, event.get(), &after)) << WSAGetLastError();
  if (running_under_wine() && !quiet && after.lNetworkEvents == 0) {
    std::printf(
        "[ WINE SKIP ] Wine sets the event once more, with nothing "
        "recorded, after a non-blocking connect (docs/conformance.md W19)\n");
  } else {
    EXPECT_TRUE(quiet);
    EXPECT_TRUE(holds(after, 0));
  }
  SOCKET server = accept(listener, nullptr, nullptr);
  EXPECT_NE(server, INVALID_SOCKET) << WSAGetLastError();
  if (server != INVALID_SOCKET) EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_TRUE(event.close());
}

// FD_CONNECT's error slot says why the connection failed: WSAECONNREFUSED
// from a port where nothing listens (a bound socket that never listens
// holds it meanwhile).
TEST_F(EventSelect, ARefusedConnectIsFdConnectWithWSAECONNREFUSED) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET holder = tcp_socket();
  ASSERT_NE(holder, INVALID_SOCKET);
  sockaddr_in address;
  int length = loopback(0, &address);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length),
            0);
  SOCKET client = tcp_socket();
  ASSERT_NE(client, INVALID_SOCKET);
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(client, event.get(), FD_CONNECT), 0)
      << WSAGetLastError();
  int result = connect(client, reinterpret_cast<sockaddr*>(&address), length);
  ASSERT_EQ(result, SOCKET_ERROR);
  ASSERT_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
  ASSERT_TRUE(signalled_within(event.get(), kRefusedMs));
  EXPECT_TRUE(enumerates(client, event.get(), FD_CONNECT, FD_CONNECT_BIT,
                         WSAECONNREFUSED));
  EXPECT_EQ(closesocket(client), 0);
  EXPECT_EQ(closesocket(holder), 0);
  EXPECT_TRUE(event.close());
}

// ------------------------------------------------------------- FD_CLOSE --

// The peer's closesocket with nothing queued: FD_CLOSE once, error 0, and
// no FD_READ for the end of the stream, also after the recv that sees it.
TEST_F(EventSelect, APeersCloseIsFdCloseOnceWithErrorZero) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_CLOSE), 0)
      << WSAGetLastError();
  ASSERT_EQ(closesocket(pair.client), 0);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_CLOSE, FD_CLOSE_BIT, 0));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  char byte;
  EXPECT_EQ(recv(pair.server, &byte, 1, 0), 0);
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(event.close());
}

TEST_F(EventSelect, APeersShutdownSendIsFdCloseOnce) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_CLOSE), 0)
      << WSAGetLastError();
  ASSERT_EQ(shutdown(pair.client, SD_SEND), 0);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_CLOSE, FD_CLOSE_BIT, 0));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  // The peer's closesocket afterwards adds nothing.
  ASSERT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(event.close());
}

// An abortive close (SO_LINGER on with a zero timeout) resets the
// connection: FD_CLOSE with WSAECONNRESET.
TEST_F(EventSelect, APeersAbortiveCloseIsFdCloseWithWSAECONNRESET) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_CLOSE), 0)
      << WSAGetLastError();
  LINGER abortive;
  abortive.l_onoff = 1;
  abortive.l_linger = 0;
  ASSERT_EQ(
      setsockopt(pair.client, SOL_SOCKET, SO_LINGER,
                 reinterpret_cast<const char*>(&abortive), sizeof(abortive)),
      0);
  ASSERT_EQ(closesocket(pair.client), 0);
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  WSANETWORKEVENTS got;
  ASSERT_TRUE(enumerate(pair.server, event.get(), &got)) << WSAGetLastError();
  if (running_under_wine() && got.lNetworkEvents == FD_CLOSE &&
      got.iErrorCode[FD_CLOSE_BIT] == 0) {
    std::printf(
        "[ WINE SKIP ] Wine reports a reset as FD_CLOSE with error 0, "
        "not WSAECONNRESET (docs/conformance.md W18)\n");
  } else {
    EXPECT_TRUE(holds(got, FD_CLOSE, FD_CLOSE_BIT, WSAECONNRESET));
  }
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_TRUE(event.close());
}

// Neither the peer's shutdown(SD_RECEIVE) nor the socket's own
// shutdown(SD_BOTH) records an event.
TEST_F(EventSelect, ShutdownReceiveOrBothRecordsNothing) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_CLOSE), 0)
      << WSAGetLastError();
  ASSERT_EQ(shutdown(pair.client, SD_RECEIVE), 0);
  ASSERT_EQ(shutdown(pair.server, SD_BOTH), 0);
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// ------------------------------------------------------------ re-select --

// A condition already reported is not reported again by re-selecting (event
// mode): five WSAEventSelect + WSAEnumNetworkEvents rounds on a connected
// TCP socket and on a UDP socket report FD_WRITE in the first round only.
TEST_F(EventSelect, FiveReselectsReportFdWriteOnlyInTheFirstRound) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  unsigned short port = 0;
  SOCKET udp = make_udp(AF_INET, &port);
  ASSERT_NE(udp, INVALID_SOCKET);
  const long all =
      FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE;
  for (SOCKET s : {pair.server, udp}) {
    const char* kind = s == udp ? "UDP" : "TCP";
    EventObject event;
    ASSERT_TRUE(event.ok()) << WSAGetLastError();
    for (int round = 0; round < 5; ++round) {
      ASSERT_EQ(WSAEventSelect(s, event.get(), all), 0)
          << kind << " round " << round << ": " << WSAGetLastError();
      if (round == 0) {
        ASSERT_TRUE(signalled_within(event.get(), kSignalledMs)) << kind;
        EXPECT_TRUE(enumerates(s, event.get(), FD_WRITE)) << kind;
      } else {
        EXPECT_TRUE(stays_unsignalled(event.get()))
            << kind << " round " << round;
        EXPECT_TRUE(enumerates(s, event.get(), 0))
            << kind << " round " << round;
      }
    }
    EXPECT_EQ(WSAEventSelect(s, nullptr, 0), 0);
    EXPECT_TRUE(event.close());
  }
  EXPECT_EQ(closesocket(udp), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// --------------------------------------------------------------- errors --

TEST_F(EventSelect, NotASocketIsWSAENOTSOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  SOCKET closed = tcp_socket();
  ASSERT_NE(closed, INVALID_SOCKET);
  ASSERT_EQ(closesocket(closed), 0);
  WSASetLastError(0);
  EXPECT_EQ(WSAEventSelect(INVALID_SOCKET, event.get(), FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  WSASetLastError(0);
  EXPECT_EQ(WSAEventSelect(closed, event.get(), FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
#if !defined(_WIN32)
  // A descriptor that is open but is no socket.
  int ends[2];
  ASSERT_EQ(pipe(ends), 0);
  WSASetLastError(0);
  EXPECT_EQ(WSAEventSelect(ends[0], event.get(), FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  close(ends[0]);
  close(ends[1]);
#endif
  EXPECT_TRUE(event.close());
}

// FD_ALL_EVENTS is every event there is; a bit above it is WSAEINVAL ("One
// of the specified parameters was invalid").
TEST_F(EventSelect, AnEventBitAboveFdAllEventsIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(FD_ALL_EVENTS, 0x3FF);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  WSASetLastError(0);
  int result =
      WSAEventSelect(pair.server, event.get(), FD_READ | (1L << FD_MAX_EVENTS));
  int error = WSAGetLastError();
  if (running_under_wine() && result == 0) {
    std::printf(
        "[ WINE SKIP ] Wine accepts event bits above FD_ALL_EVENTS "
        "(docs/conformance.md W14)\n");
  } else {
    EXPECT_EQ(result, SOCKET_ERROR);
    EXPECT_EQ(error, WSAEINVAL);
  }
  EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

TEST_F(EventSelect, BeforeWSAStartupItIsWSANOTINITIALISED) {
  WSANETWORKEVENTS got;
  WSASetLastError(0);
  EXPECT_EQ(WSAEventSelect(INVALID_SOCKET, WSA_INVALID_EVENT, FD_READ),
            SOCKET_ERROR);
  int select_error = WSAGetLastError();
  WSASetLastError(0);
  EXPECT_EQ(WSAEnumNetworkEvents(INVALID_SOCKET, WSA_INVALID_EVENT, &got),
            SOCKET_ERROR);
  int enum_error = WSAGetLastError();
  if (running_under_wine() &&
      (select_error == WSAENOTSOCK || enum_error == WSAENOTSOCK)) {
    std::printf(
        "[ WINE SKIP ] Wine checks the socket before initialisation "
        "(WSAENOTSOCK, docs/conformance.md W15)\n");
    return;
  }
  EXPECT_EQ(select_error, WSANOTINITIALISED);
  EXPECT_EQ(enum_error, WSANOTINITIALISED);
}

// ------------------------------------------------- WSAEnumNetworkEvents --

// "The Windows Sockets provider guarantees that the operations of copying
// the network event record, clearing it and resetting any associated event
// object are atomic"; only the reported events' slots are written.
TEST_F(EnumNetworkEvents, CopiesClearsAndResetsTheEventInOneCall) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ | FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  EXPECT_FALSE(signalled_within(event.get(), 0));        // reset
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));  // cleared
  // The next occurrence sets the event again.
  ASSERT_TRUE(send_all(pair.client, "x"));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// hEventObject is optional: without it the record is copied and cleared,
// and the event object is left as it is.
TEST_F(EnumNetworkEvents, WithoutAnEventItClearsTheRecordAndLeavesTheEventSet) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, WSA_INVALID_EVENT, FD_WRITE));
  EXPECT_TRUE(signalled_within(event.get(), 0));
  EXPECT_TRUE(enumerates(pair.server, WSA_INVALID_EVENT, 0));
  EXPECT_TRUE(signalled_within(event.get(), 0));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// WSAEFAULT: "The lpNetworkEvents parameter is not a valid part of the user
// address space"; and "If this function returns SOCKET_ERROR, the
// associated event object is not reset and the record of network events is
// not cleared."
TEST_F(EnumNetworkEvents, ANullRecordIsWSAEFAULTAndChangesNothing) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_WRITE), 0)
      << WSAGetLastError();
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  if (running_under_wine()) {
    // Not even called: the process would die.
    std::printf(
        "[ WINE SKIP ] Wine's WSAEnumNetworkEvents writes through a NULL "
        "lpNetworkEvents (page fault; docs/conformance.md W16)\n");
    EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
    EXPECT_EQ(closesocket(pair.server), 0);
    EXPECT_EQ(closesocket(pair.client), 0);
    EXPECT_TRUE(event.close());
    return;
  }
  WSASetLastError(0);
  EXPECT_EQ(WSAEnumNetworkEvents(pair.server, event.get(), nullptr),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_TRUE(signalled_within(event.get(), 0));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_WRITE));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

TEST_F(EnumNetworkEvents, NotASocketIsWSAENOTSOCK) {
  Session session;
  ASSERT_TRUE(session.ok());
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_TRUE(WSASetEvent(event.get()));
  SOCKET closed = tcp_socket();
  ASSERT_NE(closed, INVALID_SOCKET);
  ASSERT_EQ(closesocket(closed), 0);
  // "If this function returns SOCKET_ERROR, the associated event object is
  // not reset".
  for (SOCKET s : {INVALID_SOCKET, closed}) {
    WSANETWORKEVENTS got;
    WSASetLastError(0);
    EXPECT_EQ(WSAEnumNetworkEvents(s, event.get(), &got), SOCKET_ERROR);
    EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
    bool still_set = signalled_within(event.get(), 0);
    if (running_under_wine() && !still_set) {
      std::printf(
          "[ WINE SKIP ] Wine's WSAEnumNetworkEvents resets the event "
          "even when it fails with WSAENOTSOCK (docs/conformance.md W17)\n");
      ASSERT_TRUE(WSASetEvent(event.get()));
    } else {
      EXPECT_TRUE(still_set);
    }
  }
  EXPECT_TRUE(event.close());
}

// ---------------------------------------------- across processes --------

// The peer imports a duplicate of s as its socket 0.
::testing::AssertionResult peer_shares(Peer& peer, SOCKET s) {
  return peer_imports_all(peer, {duplicate_for(s, peer.pid())});
}

// The reference sentence, A here and B the peer: A registers for FD_READ,
// B for FD_WRITE through its own descriptor; data then arrives. A's event
// is never set, B gets FD_WRITE alone, FD_READ is never reported, and the
// data is still there. B enumerates first: there is one record per socket,
// so A enumerating first could legitimately see B's FD_WRITE.
TEST_F(SharedRegistration, AnotherProcessesRegistrationCancelsThisOnes) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_WRITE)), "ok");
  ASSERT_TRUE(WSAResetEvent(event.get()));
  ASSERT_TRUE(send_all(pair.client, "data"));
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kSignalledMs)),
            "ok signalled");
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));  // it arrived
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(peer_enumerates(*peer, 0, FD_WRITE));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_TRUE(peer_enumerates(*peer, 0, 0));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// The reverse order: the peer registers first, this process then
// registers through its own descriptor, and the peer's event stops.
// The same when both register for the same event: whichever process would
// record FD_READ first, only the current registrant's event is set.
TEST_F(SharedRegistration,
       AnotherProcessesRegistrationForTheSameEventsStillCancelsThisOnes) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  ASSERT_TRUE(WSAResetEvent(event.get()));
  ASSERT_TRUE(send_all(pair.client, "data"));
  // This process waits first: the data is there, and still its event must
  // not be set.
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kSignalledMs)),
            "ok signalled");
  EXPECT_TRUE(peer_enumerates(*peer, 0, FD_READ, FD_READ_BIT, 0));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  EXPECT_EQ(peer->call("event_select 0 0"), "ok");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// The record is the socket's: a recv through this process's descriptor
// re-enables FD_READ for the other process's registration, which records it
// again while data remains.
TEST_F(SharedRegistration, ARecvInAnotherProcessReEnablesTheRegistrantsFdRead) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  ASSERT_TRUE(send_all(pair.client, "abcd"));
  ASSERT_EQ(peer->call("event_wait " + std::to_string(kSignalledMs)),
            "ok signalled");
  EXPECT_TRUE(peer_enumerates(*peer, 0, FD_READ, FD_READ_BIT, 0));
  // Nothing re-enabled it yet.
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kQuietMs)),
            "ok timeout");
  char two[2];
  ASSERT_EQ(recv(pair.server, two, 2, 0), 2) << WSAGetLastError();
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kSignalledMs)),
            "ok signalled");
  EXPECT_TRUE(peer_enumerates(*peer, 0, FD_READ, FD_READ_BIT, 0));
  EXPECT_EQ(peer->call("event_select 0 0"), "ok");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(SharedRegistration, ThisProcessesRegistrationCancelsAnotherProcesses) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  ASSERT_EQ(peer->call("event_reset"), "ok");
  ASSERT_TRUE(send_all(pair.client, "data"));
  ASSERT_TRUE(signalled_within(event.get(), kSignalledMs));
  EXPECT_TRUE(enumerates(pair.server, event.get(), FD_READ));
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kQuietMs)), "ok timeout");
  EXPECT_TRUE(peer_enumerates(*peer, 0, 0));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// WSAEventSelect(sA, e, 0) here cancels the registration the peer made.
TEST_F(SharedRegistration, AnEmptyMaskHereCancelsAnotherProcessesRegistration) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), 0), 0)
      << WSAGetLastError();
  ASSERT_EQ(peer->call("event_reset"), "ok");
  ASSERT_TRUE(send_all(pair.client, "data"));
  ASSERT_FALSE(stays_quiet(pair.server, kProcessTimeoutMs));  // it arrived
  EXPECT_EQ(peer->call("event_wait " + std::to_string(kQuietMs)), "ok timeout");
  EXPECT_TRUE(peer_enumerates(*peer, 0, 0));
  EXPECT_TRUE(stays_unsignalled(event.get()));
  EXPECT_TRUE(enumerates(pair.server, event.get(), 0));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 4, &got));
  EXPECT_EQ(got, "data");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// Non-blocking mode belongs to the socket: a registration made in either
// process makes a recv with nothing queued WSAEWOULDBLOCK in both.
TEST_F(SharedRegistration, MakesTheSocketNonBlockingInEveryProcessThatHoldsIt) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(bound_blocking_receives(pair.server));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  EXPECT_EQ(peer->call("would_block 0"), "ok");
  ASSERT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0) << WSAGetLastError();
  u_long off = 0;
  ASSERT_EQ(ioctlsocket(pair.server, FIONBIO, &off), 0) << WSAGetLastError();
  // Now the peer registers: this process's descriptor stops blocking.
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  EXPECT_TRUE(recv_would_block(pair.server));
  EXPECT_EQ(peer->call("event_select 0 0"), "ok");
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

// While the socket is registered, from whichever process, FIONBIO 0 is
// WSAEINVAL in every process that holds it (FIONBIO 1 works); once the
// registration is cancelled, FIONBIO 0 works everywhere.
TEST_F(SharedRegistration,
       FionbioZeroIsWSAEINVALInEveryProcessWhileRegistered) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_TRUE(peer_shares(*peer, pair.server));
  EventObject event;
  ASSERT_TRUE(event.ok()) << WSAGetLastError();
  const std::string einval = "err " + std::to_string(WSAEINVAL);
  // Registered here.
  ASSERT_EQ(WSAEventSelect(pair.server, event.get(), FD_READ), 0)
      << WSAGetLastError();
  EXPECT_EQ(peer->call("fionbio 0 1"), "ok");
  EXPECT_EQ(peer->call("fionbio 0 0"), einval);
  ASSERT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0) << WSAGetLastError();
  EXPECT_EQ(peer->call("fionbio 0 0"), "ok");
  // Registered there.
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  u_long on = 1;
  u_long off = 0;
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &on), 0) << WSAGetLastError();
  WSASetLastError(0);
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &off), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_EQ(peer->call("event_select 0 0"), "ok");
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &off), 0) << WSAGetLastError();
  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(event.close());
}

}  // namespace
}  // namespace wsadup_test
