// What every conformance test shares: a fixture that proves no descriptor
// leaked, bounded socket I/O, loopback connections, and the scriptable peer
// process. Written against the Winsock API, so it builds on both backends.
#ifndef WSADUP_TESTS_SUPPORT_H
#define WSADUP_TESTS_SUPPORT_H

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#include "harness/platform.h"
#include "harness/process.h"
#include "wsadup/wsadup.h"

// ThreadSanitizer cannot follow a child of a multi-threaded process that
// starts threads of its own (it dies with "starting new threads after
// multi-threaded fork is not supported"); such a test skips itself there and
// runs in every other build.
#if defined(__SANITIZE_THREAD__)
#define WSADUP_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSADUP_TEST_UNDER_TSAN 1
#endif
#endif

namespace wsadup_test {

#if defined(_WIN32)
using SockLen = int;
#else
using SockLen = socklen_t;
#endif

// Makes this process's WSADuplicateSocket use the acknowledged push
// (WSADUP_OPTION_POSTED_PUSH 0) for the scope, then the default again.
class AcknowledgedPush {
 public:
  AcknowledgedPush() : ok_(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0) == 0) {}
  ~AcknowledgedPush() { wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 1); }
  AcknowledgedPush(const AcknowledgedPush&) = delete;
  AcknowledgedPush& operator=(const AcknowledgedPush&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

// Starts and stops wsadup once, so that whatever the C library opens on first
// use (and keeps) exists before anything is counted.
void warm_up_once();

// Every test ends by proving that it leaked no descriptor.
class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override { baseline_ = open_descriptor_count(); }
  void TearDown() override {
    EXPECT_EQ(open_descriptor_count(), baseline_)
        << "the test leaked descriptors";
  }

 private:
  size_t baseline_ = 0;
};

// WSAStartup(2.2) for the scope; WSACleanup at its end.
class Session {
 public:
  Session();
  ~Session();
  bool ok() const { return status_ == 0; }

 private:
  int status_;
};

// Bounded socket I/O: false on timeout, error or end of stream.
bool send_all(SOCKET s, const std::string& data);
bool recv_exact(SOCKET s, size_t size, std::string* data,
                int timeout_ms = kProcessTimeoutMs);
// True when the peer closed: recv returns 0 within the timeout.
bool sees_end_of_stream(SOCKET s, int timeout_ms = kProcessTimeoutMs);
// True when nothing (not even end of stream) arrives within timeout_ms.
bool stays_quiet(SOCKET s, int timeout_ms);

// A connected TCP pair over loopback (family AF_INET or AF_INET6), both
// created with WSASocket so the last WSACleanup closes them.
struct TcpPair {
  SOCKET client = INVALID_SOCKET;
  SOCKET server = INVALID_SOCKET;
};
bool make_tcp_pair(int family, TcpPair* pair);
// A listening TCP socket on loopback; *port gets its port.
SOCKET make_listener(int family, unsigned short* port);
SOCKET connect_to(int family, unsigned short port);
// A UDP socket bound to loopback; *port gets its port.
SOCKET make_udp(int family, unsigned short* port);
bool send_udp(SOCKET s, int family, unsigned short port,
              const std::string& data);

// Token bytes as a frame, and back.
std::string token_bytes(const WSAPROTOCOL_INFOA& info);
std::string token_bytes(const WSAPROTOCOL_INFOW& info);
bool token_from_bytes(const std::string& bytes, WSAPROTOCOL_INFOA* info);
bool token_from_bytes(const std::string& bytes, WSAPROTOCOL_INFOW* info);

// WSADuplicateSocketA for pid, as the token's raw bytes ("" on failure).
std::string duplicate_for(SOCKET s, uint32_t pid);
// Duplicates s for pid until count tokens are made or a call fails; returns
// the tokens, and in *error the failed call's WSAGetLastError (0: none did).
std::vector<std::string> duplicate_many(SOCKET s, uint32_t pid, size_t count,
                                        int* error);
// WSASocketA(FROM_PROTOCOL_INFO x3, info, 0, 0).
SOCKET import_token(WSAPROTOCOL_INFOA* info);
// A handoff from this process to itself, with bytes through the socket:
// proves this process's agent still serves.
bool handoff_to_self_works();

#if !defined(_WIN32)
// The descriptors open in this process now, in ascending order.
std::vector<int> open_descriptors();
// The descriptors this process had when exec started it, recorded before
// main() opened any of its own: what its parent let exec pass on.
const std::vector<int>& descriptors_open_at_start();
#endif

class Peer;
// The peer sends word through its socket index; true when exactly word
// arrives at receiver (the other end of that connection).
::testing::AssertionResult peer_sends_through(Peer& peer, int index,
                                              SOCKET receiver,
                                              const std::string& word);
// The peer imports every token, in order, as its sockets first, first+1, ...
::testing::AssertionResult peer_imports_all(
    Peer& peer, const std::vector<std::string>& tokens, size_t first = 0);
// The same from this process: sender sends word, exactly word arrives at
// receiver.
::testing::AssertionResult sends_through(SOCKET sender, SOCKET receiver,
                                         const std::string& word);
// The token in a peer's "ok <token bytes>" reply to duplicate; false for
// any other reply.
bool token_from_reply(const std::string& reply, WSAPROTOCOL_INFOA* info);

// The scriptable peer: a real separate process running the "peer" helper.
// Each call sends one command frame and returns the reply frame ("ok ...",
// "err <code>"), or "" when the peer did not answer in time.
//
// Commands: startup, cleanup, import <A|W> [inherit] (token frame follows),
// duplicate <i> <pid>, connect <family> <port>, accept <i>, send <i> <word>,
// recv <i> <n>, eof <i>, close <i>, udp_send, udp_recv, getopt, would_block,
// fds (its open descriptor count), post <0|1> (wsadup_set_option with
// WSADUP_OPTION_POSTED_PUSH),
// exit (WSACleanup, leak check, exit), exit_without_cleanup (answers, then
// exits with WSAStartup still in force, as much Windows code does); POSIX
// only: plant_stale_name (binds and abandons a socket at the rendezvous name
// WSAStartup will want for this pid, as a crashed process leaves it),
// exec_probe <i> (starts this executable with posix_spawn and reports which
// descriptors exec passed to it, see support.cc).
// Network events, with the peer's one event object (made at its first
// event_select): event_select <i> <mask> (WSAEventSelect of socket i with it;
// mask 0 cancels, with no event), event_wait <ms> ("ok signalled" or
// "ok timeout"), event_reset, event_close (WSACloseEvent; call it before
// exit), enum_events <i> (WSAEnumNetworkEvents with the event, slots filled
// with 0xAB first: "ok <lNetworkEvents> <iErrorCode[0]> ... <iErrorCode[9]>"),
// fionbio <i> <0|1> (ioctlsocket FIONBIO: "ok" or "err <code>").
class Peer {
 public:
  // init: whether the peer calls WSAStartup before it reports its pid.
  static std::unique_ptr<Peer> start(bool init = true);
  // A peer started by other means: child is a helper that ends up running
  // the peer's command loop (after dropping privileges, say). Returns
  // nullptr when its first frame is not the peer's "pid" greeting; *greeting
  // then holds what it said instead.
  static std::unique_ptr<Peer> adopt(std::unique_ptr<ChildProcess> child,
                                     std::string* greeting = nullptr);
  ~Peer();

  uint32_t pid() const { return pid_; }
  std::string call(const std::string& command,
                   const std::string& payload = std::string());
  // The peer connects to listener (on loopback, at port) as its socket 0;
  // returns this side of the connection, or INVALID_SOCKET.
  SOCKET connect_from_peer(SOCKET listener, int family, unsigned short port);
  // Asks the peer to check its own descriptors and exit; returns its exit
  // code (0: clean, 3: it leaked descriptors).
  int finish();
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  uint32_t pid_ = 0;
};

#if !defined(_WIN32)
// Lowers the soft descriptor limit so that the next new descriptor fails with
// EMFILE (filling any hole below the limit), and restores it on scope exit.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion();
  ~DescriptorExhaustion() { release(); }
  void release();

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

// The agent watches a pull target's life through a pidfd. Where there is
// none (Linux before 5.3, a seccomp filter, Valgrind, which does not know
// the call) it keeps the entries until the source's last WSACleanup instead
// (docs/design.md); the tests of the watch skip themselves there.
bool watches_pull_targets();
#endif

}  // namespace wsadup_test

#endif  // WSADUP_TESTS_SUPPORT_H
