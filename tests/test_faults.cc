// Faults: a process killed or gone at the worst moment, a client that
// vanishes with a descriptor in flight, WSACleanup with tokens pending, stale
// rendezvous names, exec, and fork with tokens pending. Each pending
// reference ends where docs/design.md says it ends, nothing hangs, and every
// process that survives proves it leaked no descriptor.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#if !defined(_WIN32)
#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "raw_wire.h"
#include "support.h"

namespace wsadup_test {
namespace {

using Faults = ConformanceTest;

// Long enough to see a wrongly delivered end of stream on loopback; only a
// negative check, never what a test waits on to proceed.
constexpr int kQuietMs = 300;

// A clear error comes back within this, on a loaded machine too (measured:
// well under a millisecond). The library's own reply bound is 5 s.
constexpr int kPromptMs = 1000;

std::string error_reply(int code) { return "err " + std::to_string(code); }

// The peer's socket s goes to the test's listener; returns this side.
SOCKET connection_from(Peer& peer, SOCKET listener, unsigned short port) {
  return peer.connect_from_peer(listener, AF_INET, port);
}

// How a target goes away before importing its token.
enum class Departure {
  kCleanupThenExit,     // WSACleanup, its own leak check, exit
  kExitWithoutCleanup,  // exit() with WSAStartup still in force
  kKilled,              // SIGKILL / TerminateProcess
};

// Makes peer go away as asked; false (with a message) when it did not go
// cleanly.
::testing::AssertionResult depart(Peer& peer, Departure how) {
  switch (how) {
    case Departure::kCleanupThenExit: {
      int code = peer.finish();
      if (code == 3 && running_under_wine()) {
        std::printf(
            "[ WINE SKIP ] Wine's WSACleanup keeps a duplicated "
            "handle the process never imported "
            "(docs/conformance.md W6)\n");
        code = 0;
      }
      if (code != 0) {
        return ::testing::AssertionFailure() << "peer exit code " << code;
      }
      break;
    }
    case Departure::kExitWithoutCleanup: {
      std::string reply = peer.call("exit_without_cleanup");
      int code = peer.process().wait(kProcessTimeoutMs);
      if (reply != "ok" || code != 0) {
        return ::testing::AssertionFailure()
               << "exit without WSACleanup: reply '" << reply << "', exit code "
               << code << " (134: aborted)";
      }
      break;
    }
    case Departure::kKilled:
      peer.process().kill();
      break;
  }
  return ::testing::AssertionSuccess();
}

// A handoff from this process to peer (which must be initialised), with
// bytes through it; the peer closes its socket again.
::testing::AssertionResult handoff_to_peer_works(Peer& peer) {
  TcpPair pair;
  if (!make_tcp_pair(AF_INET, &pair)) {
    return ::testing::AssertionFailure() << "no tcp pair";
  }
  std::string token = duplicate_for(pair.server, peer.pid());
  std::string imported =
      token.empty() ? "duplicate failed " + std::to_string(WSAGetLastError())
                    : peer.call("import A", token);
  std::string index =
      imported.compare(0, 3, "ok ") == 0 ? imported.substr(3) : std::string();
  std::string got;
  bool ok = !index.empty() && peer.call("send " + index + " peer") == "ok" &&
            recv_exact(pair.client, 4, &got) && got == "peer" &&
            peer.call("close " + index) == "ok";
  closesocket(pair.server);
  closesocket(pair.client);
  if (!ok) return ::testing::AssertionFailure() << "import: " << imported;
  return ::testing::AssertionSuccess();
}

#if !defined(_WIN32)
// Points WSADUP_RUNTIME_DIR at a fresh private directory for the scope, so
// the test sees every rendezvous name, and removes whatever names killed
// processes left there.
class PrivateRuntimeDirectory {
 public:
  PrivateRuntimeDirectory() {
    if (const char* previous = std::getenv("WSADUP_RUNTIME_DIR")) {
      previous_ = previous;
      had_previous_ = true;
    }
    char pattern[] = "/tmp/wsadup-faults-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
    setenv("WSADUP_RUNTIME_DIR", path_.c_str(), 1);
  }
  ~PrivateRuntimeDirectory() {
    for (const std::string& name : names())
      unlink((path_ + "/" + name).c_str());
    rmdir(path_.c_str());
    if (had_previous_) {
      setenv("WSADUP_RUNTIME_DIR", previous_.c_str(), 1);
    } else {
      unsetenv("WSADUP_RUNTIME_DIR");
    }
  }
  bool ok() const { return !path_.empty(); }
  std::string name_of(uint32_t pid) const {
    return path_ + "/" + std::to_string(pid) + ".sock";
  }
  // True when a socket file sits at pid's rendezvous name.
  bool has_name(uint32_t pid) const {
    struct stat status;
    return lstat(name_of(pid).c_str(), &status) == 0 &&
           S_ISSOCK(status.st_mode);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> found;
    if (DIR* directory = opendir(path_.c_str())) {
      while (dirent* entry = readdir(directory)) {
        if (entry->d_name[0] != '.') found.push_back(entry->d_name);
      }
      closedir(directory);
    }
    return found;
  }

 private:
  std::string path_;
  std::string previous_;
  bool had_previous_ = false;
};

// The token's kind as its private record says (docs/design.md: record at
// szProtocol[192], kind at record offset 5: 1 push, 2 pull).
int token_kind(const std::string& token) {
  WSAPROTOCOL_INFOA info;
  if (!token_from_bytes(token, &info)) return -1;
  return static_cast<unsigned char>(info.szProtocol[192 + 5]);
}
constexpr int kPushKind = 1;
constexpr int kPullKind = 2;

#if defined(__linux__)
// The processes this process holds a pidfd for, in ascending order: its
// agent's watches on pull targets (docs/design.md, Lifetime). The kernel
// names a pidfd "anon_inode:[pidfd]" (or "pidfd:[...]" since Linux 6.9) and
// gives its process in /proc/self/fdinfo; -1 once that process is reaped.
std::vector<long> watched_pids() {
  std::vector<long> pids;
  for (int descriptor : open_descriptors()) {
    std::string fd = std::to_string(descriptor);
    char link[128] = {};
    ssize_t size =
        readlink(("/proc/self/fd/" + fd).c_str(), link, sizeof(link) - 1);
    if (size <= 0 || std::strstr(link, "pidfd") == nullptr) continue;
    std::ifstream info("/proc/self/fdinfo/" + fd);
    std::string line;
    while (std::getline(info, line)) {
      if (line.compare(0, 4, "Pid:") == 0) {
        pids.push_back(std::strtol(line.c_str() + 4, nullptr, 10));
      }
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<long> pids_of(std::initializer_list<uint32_t> pids) {
  std::vector<long> sorted(pids.begin(), pids.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}
#endif

// A client that knows only the wire format (src/posix/internal.h): one
// fixed-size message, here a PUSH.

// Connects to the agent listening at path and sends a PUSH carrying
// descriptor under a nonce made from seed. Returns the connection (the reply
// is left unread), or -1. With refuse_reply the client shuts its reading
// side first, so the agent's reply fails (EPIPE) whenever the agent gets to
// it.
int raw_push(const std::string& path, int descriptor, uint8_t seed,
             bool refuse_reply) {
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  RawMessage push;
  for (size_t i = 0; i < sizeof(push.nonce); ++i) {
    push.nonce[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  }
  push.source_pid = static_cast<uint32_t>(getpid());
  iovec data{&push, sizeof(push)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(rights), &descriptor, sizeof(int));
  if (connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      (refuse_reply && shutdown(s, SHUT_RD) != 0) ||
      sendmsg(s, &message, MSG_NOSIGNAL) != sizeof(push)) {
    close(s);
    return -1;
  }
  return s;
}

// The raw client of the killed-pusher test: connects to port on loopback
// with a plain socket, pushes that socket to the agent at path, waits until
// the agent's reply is queued (without reading it), says "sent", and waits
// to be killed.
WSADUP_TEST_HELPER(fault_raw_pusher) {
  if (arguments.size() != 2) return 2;
  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port =
      htons(static_cast<unsigned short>(std::atoi(arguments[1].c_str())));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (tcp < 0 || connect(tcp, reinterpret_cast<sockaddr*>(&address),
                         sizeof(address)) != 0) {
    return 3;
  }
  int connection = raw_push(arguments[0], tcp, 9, /*refuse_reply=*/false);
  if (connection < 0) return 4;
  // The agent's reply is queued here, and left unread.
  pollfd replied{connection, POLLIN, 0};
  if (poll(&replied, 1, kProcessTimeoutMs) != 1) return 5;
  if (!helper_write_frame("sent")) return 6;
  std::string never;
  helper_read_frame(&never);  // the test kills this process meanwhile
  return 7;
}
#endif

// ------------------------------------------------ 1. the source is killed --

TEST_F(Faults, SourceKilledRightAfterAPushDuplicateTheTargetStillImports) {
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::unique_ptr<Peer> source = Peer::start();
  ASSERT_TRUE(source);
  SOCKET server = connection_from(*source, listener, port);
  ASSERT_NE(server, INVALID_SOCKET);
  std::string reply =
      source->call("duplicate 0 " + std::to_string(current_pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  source->process().kill();
  // The kill closed the source's own descriptor; the pushed one, already in
  // this process, holds the connection open.
  EXPECT_TRUE(stays_quiet(server, kQuietMs))
      << "the pushed reference died with its source";
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_bytes(reply.substr(3), &info));
  SOCKET imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  ASSERT_TRUE(sends_through(imported, server, "after-kill"));
  ASSERT_TRUE(sends_through(server, imported, "back"));
  // This process held the last reference: closing it ends the stream.
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_TRUE(sees_end_of_stream(server));
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

#if !defined(_WIN32)
// POSIX only: Windows has no pull path.
TEST_F(Faults, SourceKilledWithAPullTokenPendingTheImportFailsPromptly) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(source && target);
  SOCKET server = connection_from(*source, listener, port);
  ASSERT_NE(server, INVALID_SOCKET);
  std::string reply =
      source->call("duplicate 0 " + std::to_string(target->pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  std::string token = reply.substr(3);
  ASSERT_EQ(token_kind(token), kPullKind);
  source->process().kill();
  EXPECT_TRUE(directory.has_name(source->pid()))
      << "expected the killed source's name to be left behind";
  // The source's own descriptor and the one it kept for the token both died
  // with it: the remote end sees the end of the stream.
  EXPECT_TRUE(sees_end_of_stream(server)) << "a reference outlived the source";
  ASSERT_EQ(target->call("startup"), "ok");
  auto started = std::chrono::steady_clock::now();
  std::string imported = target->call("import A", token);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
  EXPECT_EQ(imported, error_reply(WSAEINVAL));
  // Well below the library's 5 s reply bound: the import saw at once that
  // nothing listens at the stale name; it did not wait for an answer.
  EXPECT_LT(took, kPromptMs * 1000) << "import took " << took << " us";
  RecordProperty("import_after_source_sigkill_us", static_cast<int>(took));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}
#endif

// -------------------------------- 2. the target goes before importing --

// This process pushes a socket to the target, closes its own descriptor, and
// the target goes away without importing: the reference in its inbox ends
// with it, so the remote end sees the end of the stream.
void push_target_departs_before_importing(Departure how) {
#if !defined(_WIN32)
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
#endif
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start();
  ASSERT_TRUE(target);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.client, target->pid());
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(stays_quiet(pair.server, kQuietMs))
      << "the pushed reference is gone while the target lives";
  uint32_t target_pid = target->pid();
  ASSERT_TRUE(depart(*target, how));
  EXPECT_TRUE(sees_end_of_stream(pair.server))
      << "the reference in the departed target's inbox outlived it";
#if !defined(_WIN32)
  // Only a process that did not exit (was killed) leaves its name behind.
  EXPECT_EQ(directory.has_name(target_pid), how == Departure::kKilled);
#else
  (void)target_pid;
#endif
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(closesocket(pair.server), 0);
}

TEST_F(Faults, PushTargetThatCleansUpAndExitsBeforeImportingReleasesIt) {
  push_target_departs_before_importing(Departure::kCleanupThenExit);
}

TEST_F(Faults, PushTargetThatExitsWithoutWSACleanupExitsCleanlyAndReleasesIt) {
  push_target_departs_before_importing(Departure::kExitWithoutCleanup);
}

TEST_F(Faults, PushTargetKilledBeforeImportingReleasesIt) {
  push_target_departs_before_importing(Departure::kKilled);
}

#if !defined(_WIN32)
// This process keeps the descriptor for a pull token; the target goes away
// without ever pulling. The agent watches the target and releases the entry
// when it exits: the remote end sees the end of the stream while this
// process is still initialised, and neither the entry's descriptor nor the
// watch is left behind.
#define SKIP_WITHOUT_PIDFD()                                              \
  if (!watches_pull_targets())                                            \
  GTEST_SKIP() << "no pidfd_open here: pull entries are released at the " \
                  "source's WSACleanup, not when their target dies"

void pull_target_departs_before_importing(Departure how) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(target);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  size_t before = open_descriptor_count();
  std::string token = duplicate_for(pair.client, target->pid());
  ASSERT_FALSE(token.empty()) << WSAGetLastError();
  ASSERT_EQ(token_kind(token), kPullKind);
  ASSERT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(stays_quiet(pair.server, kQuietMs))
      << "the pending reference is gone before the target went";
#if defined(__linux__)
  EXPECT_EQ(watched_pids(), pids_of({target->pid()}));
#endif
  ASSERT_TRUE(depart(*target, how));
  EXPECT_TRUE(sees_end_of_stream(pair.server))
      << "the departed target's pending reference outlived it";
  // Only pair.client is gone from what was open before the duplicate: the
  // entry's descriptor and the watch closed before the end of stream.
  EXPECT_EQ(open_descriptor_count(), before - 1)
      << "the entry or the watch on the departed target is still open";
  EXPECT_TRUE(handoff_to_self_works()) << "the agent stopped serving";
  EXPECT_EQ(closesocket(pair.server), 0);
}

TEST_F(Faults, PullTargetThatExitsBeforeImportingIsReleasedWhenItExits) {
  SKIP_WITHOUT_PIDFD();
  pull_target_departs_before_importing(Departure::kCleanupThenExit);
}

TEST_F(Faults, PullTargetKilledBeforeImportingIsReleasedWhenItDies) {
  SKIP_WITHOUT_PIDFD();
  pull_target_departs_before_importing(Departure::kKilled);
}

TEST_F(Faults, PullTargetKilledWithTwoTokensPendingReleasesBoth) {
  SKIP_WITHOUT_PIDFD();
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(target);
  TcpPair first;
  TcpPair second;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &first));
  ASSERT_TRUE(make_tcp_pair(AF_INET, &second));
  size_t before = open_descriptor_count();
  ASSERT_EQ(token_kind(duplicate_for(first.client, target->pid())), kPullKind);
  ASSERT_EQ(token_kind(duplicate_for(second.client, target->pid())), kPullKind);
  ASSERT_EQ(closesocket(first.client), 0);
  ASSERT_EQ(closesocket(second.client), 0);
#if defined(__linux__)
  // One watch serves every entry for the same target.
  EXPECT_EQ(watched_pids(), pids_of({target->pid()}));
#endif
  target->process().kill();  // returns once the target is reaped
  auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(sees_end_of_stream(first.server)) << "the first entry outlived";
  EXPECT_TRUE(sees_end_of_stream(second.server)) << "the second entry outlived";
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - killed)
                  .count();
  RecordProperty("release_after_target_sigkill_us", static_cast<int>(took));
  EXPECT_EQ(open_descriptor_count(), before - 2);
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(closesocket(first.server), 0);
  EXPECT_EQ(closesocket(second.server), 0);
}

TEST_F(Faults, PullTargetKilledReleasesOnlyItsOwnEntriesAnotherStillImports) {
  SKIP_WITHOUT_PIDFD();
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> doomed = Peer::start(/*init=*/false);
  std::unique_ptr<Peer> survivor = Peer::start(/*init=*/false);
  ASSERT_TRUE(doomed && survivor);
  TcpPair lost;
  TcpPair kept;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &lost));
  ASSERT_TRUE(make_tcp_pair(AF_INET, &kept));
  ASSERT_EQ(token_kind(duplicate_for(lost.client, doomed->pid())), kPullKind);
  std::string token = duplicate_for(kept.client, survivor->pid());
  ASSERT_EQ(token_kind(token), kPullKind);
  ASSERT_EQ(closesocket(lost.client), 0);
  ASSERT_EQ(closesocket(kept.client), 0);
#if defined(__linux__)
  EXPECT_EQ(watched_pids(), pids_of({doomed->pid(), survivor->pid()}));
#endif
  doomed->process().kill();
  EXPECT_TRUE(sees_end_of_stream(lost.server))
      << "the killed target's entry outlived it";
  EXPECT_TRUE(stays_quiet(kept.server, kQuietMs))
      << "the living target's entry went with the other target";
#if defined(__linux__)
  EXPECT_EQ(watched_pids(), pids_of({survivor->pid()}));
#endif
  ASSERT_EQ(survivor->call("startup"), "ok");
  ASSERT_EQ(survivor->call("import A", token), "ok 0");
  ASSERT_TRUE(peer_sends_through(*survivor, 0, kept.server, "alive"));
  // The import took this process's reference: the survivor's is the last.
  ASSERT_EQ(survivor->call("close 0"), "ok");
  EXPECT_TRUE(sees_end_of_stream(kept.server));
  EXPECT_EQ(survivor->finish(), 0);
  // Both entries and both watches are gone. (The whole count is not
  // compared here: this process's agent closes its end of the survivor's
  // pull connection whenever it sees the hang-up; the fixture counts after
  // WSACleanup.)
#if defined(__linux__)
  EXPECT_TRUE(watched_pids().empty());
#endif
  EXPECT_EQ(closesocket(lost.server), 0);
  EXPECT_EQ(closesocket(kept.server), 0);
}

// Watches never outnumber the targets with entries: the commit of a
// target's last entry closes its watch, with the target still alive.
TEST_F(Faults, PullTargetThatImportsEveryTokenLeavesNoWatchBehind) {
  SKIP_WITHOUT_PIDFD();
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(target);
  TcpPair first;
  TcpPair second;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &first));
  ASSERT_TRUE(make_tcp_pair(AF_INET, &second));
  std::string first_token = duplicate_for(first.client, target->pid());
  std::string second_token = duplicate_for(second.client, target->pid());
  ASSERT_EQ(token_kind(first_token), kPullKind);
  ASSERT_EQ(token_kind(second_token), kPullKind);
  ASSERT_EQ(target->call("startup"), "ok");
  ASSERT_EQ(target->call("import A", first_token), "ok 0");
#if defined(__linux__)
  // The import returns only after this process closed its reference, and
  // the watch stays for the entry still pending.
  EXPECT_EQ(watched_pids(), pids_of({target->pid()}));
#endif
  ASSERT_EQ(target->call("import A", second_token), "ok 1");
#if defined(__linux__)
  EXPECT_TRUE(watched_pids().empty()) << "the watch outlived the last entry";
#endif
  ASSERT_TRUE(peer_sends_through(*target, 1, second.server, "second"));
  EXPECT_EQ(target->finish(), 0);
  for (TcpPair* pair : {&first, &second}) {
    EXPECT_EQ(closesocket(pair->client), 0);
    EXPECT_TRUE(sees_end_of_stream(pair->server));
    EXPECT_EQ(closesocket(pair->server), 0);
  }
}

// A dispatcher that never calls WSACleanup and hands sockets to workers that
// die before pulling them: nothing piles up.
TEST_F(Faults, ManyShortLivedPullTargetsLeaveNothingBehind) {
  SKIP_WITHOUT_PIDFD();
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(handoff_to_self_works());
  size_t baseline = open_descriptor_count();
  constexpr int kTargets = 50;
  for (int i = 0; i < kTargets; ++i) {
    std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
    ASSERT_TRUE(target) << "target " << i;
    TcpPair pair;
    ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
    ASSERT_EQ(token_kind(duplicate_for(pair.client, target->pid())), kPullKind)
        << "target " << i;
    ASSERT_EQ(closesocket(pair.client), 0);
    // Half exit, half are killed.
    ASSERT_TRUE(depart(*target, i % 2 == 0 ? Departure::kKilled
                                           : Departure::kCleanupThenExit));
    ASSERT_TRUE(sees_end_of_stream(pair.server))
        << "target " << i << "'s entry outlived it";
    ASSERT_EQ(closesocket(pair.server), 0);
    target.reset();  // its pipes
    ASSERT_EQ(open_descriptor_count(), baseline) << "after target " << i;
  }
#if defined(__linux__)
  EXPECT_TRUE(watched_pids().empty());
#endif
  EXPECT_TRUE(handoff_to_self_works());
}

#if defined(__linux__)
// The target has exited (a zombie, not yet reaped) before the agent's loop
// starts watching it: the watch fires at once, as for any exit after it.
TEST_F(Faults, PullTokenForATargetThatHasAlreadyExitedIsReleasedAtOnce) {
  SKIP_WITHOUT_PIDFD();
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Bounded wait for the exit, leaving the child unreaped.
  int exited = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(exited, 0) << errno;
  pollfd waiting{exited, POLLIN, 0};
  EXPECT_EQ(poll(&waiting, 1, kProcessTimeoutMs), 1) << "the child lives on";
  close(exited);
  size_t before = open_descriptor_count();
  // kill(pid, 0) still finds a zombie, so the duplicate is made; the pull
  // entry it leaves is released at once.
  std::string token = duplicate_for(pair.client, static_cast<uint32_t>(child));
  EXPECT_EQ(token_kind(token), kPullKind) << WSAGetLastError();
  ASSERT_EQ(closesocket(pair.client), 0);
  EXPECT_TRUE(sees_end_of_stream(pair.server))
      << "the exited target's entry was kept";
  EXPECT_EQ(open_descriptor_count(), before - 1);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(closesocket(pair.server), 0);
}

// A thread's id is not a process id (on Windows neither: they share one
// number space): no token for it, push or pull.
TEST_F(Faults, DuplicateForAThreadIdIsWSAEINVAL) {
  SKIP_WITHOUT_PIDFD();
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::mutex mutex;
  std::condition_variable changed;
  long thread_id = 0;
  bool done = false;
  std::thread thread([&] {
    std::unique_lock<std::mutex> lock(mutex);
    thread_id = syscall(SYS_gettid);
    changed.notify_all();
    changed.wait(lock, [&] { return done; });
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return thread_id != 0; });
  }
  ASSERT_NE(thread_id, static_cast<long>(getpid()));
  size_t before = open_descriptor_count();
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(
      WSADuplicateSocketA(pair.server, static_cast<DWORD>(thread_id), &info),
      SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(open_descriptor_count(), before);
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  changed.notify_all();
  thread.join();
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

// ------------------ 3. a raw client vanishes with a descriptor in flight --

TEST_F(Faults, ClientClosingRightAfterAPushLeavesItPendingUntilWSACleanup) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  int connection = raw_push(directory.name_of(current_pid()), pair.client, 1,
                            /*refuse_reply=*/true);
  ASSERT_GE(connection, 0);
  // Gone before the agent's reply, which fails (EPIPE): the agent must not
  // die of SIGPIPE. No source was told the push arrived, so no
  // token can name the descriptor: keeping it until WSACleanup or dropping it
  // at once are both sound; leaking it past WSACleanup is not.
  close(connection);
  ASSERT_EQ(closesocket(pair.client), 0);
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  EXPECT_TRUE(handoff_to_peer_works(*peer));
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(peer->finish(), 0);
  ASSERT_EQ(WSACleanup(), 0);
  EXPECT_TRUE(sees_end_of_stream(pair.server))
      << "WSACleanup kept the vanished client's descriptor";
  EXPECT_EQ(close(pair.server), 0);
}

TEST_F(Faults, ClientKilledAfterAPushLeavesItPendingUntilWSACleanup) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  std::unique_ptr<ChildProcess> pusher = ChildProcess::spawn(
      "fault_raw_pusher",
      {directory.name_of(current_pid()), std::to_string(port)});
  ASSERT_TRUE(pusher);
  pollfd waiting{static_cast<int>(listener), POLLIN, 0};
  ASSERT_EQ(poll(&waiting, 1, kProcessTimeoutMs), 1) << "pusher never came";
  int server = accept(static_cast<int>(listener), nullptr, nullptr);
  ASSERT_GE(server, 0);
  std::string said;
  ASSERT_TRUE(read_frame(*pusher, &said));
  ASSERT_EQ(said, "sent");
  // Killed with the agent's reply unread in its socket, and its own copy of
  // the pushed socket closed by the kernel. To the agent this is a source
  // that exited right after its push was acknowledged, which a source may
  // do: the descriptor stays pending for its token until WSACleanup.
  pusher->kill();
  EXPECT_TRUE(stays_quiet(server, kQuietMs))
      << "the agent dropped a descriptor it had received";
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  EXPECT_TRUE(handoff_to_peer_works(*peer));
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_EQ(peer->finish(), 0);
  ASSERT_EQ(WSACleanup(), 0);  // also closes the listener wsadup created
  EXPECT_TRUE(sees_end_of_stream(server))
      << "WSACleanup kept the killed client's descriptor";
  EXPECT_EQ(close(server), 0);
}

// --------------------- 4. WSACleanup with tokens pending, then WSAStartup --

TEST_F(Faults, WSACleanupWithTokensPendingReleasesThemAndStartupServesAgain) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  std::unique_ptr<Peer> pusher = Peer::start();
  std::unique_ptr<Peer> puller = Peer::start(/*init=*/false);
  ASSERT_TRUE(pusher && puller);
  size_t before = open_descriptor_count();
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  EXPECT_TRUE(directory.has_name(current_pid()));

  // In the inbox, pushed by this process itself.
  TcpPair self;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &self));
  std::string self_token = duplicate_for(self.client, current_pid());
  ASSERT_EQ(token_kind(self_token), kPushKind);
  ASSERT_EQ(closesocket(self.client), 0);
  // In the inbox, pushed by another process that then closed its own.
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET pushed_server = connection_from(*pusher, listener, port);
  ASSERT_NE(pushed_server, INVALID_SOCKET);
  ASSERT_EQ(closesocket(listener), 0);
  std::string reply =
      pusher->call("duplicate 0 " + std::to_string(current_pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  std::string pushed_token = reply.substr(3);
  ASSERT_EQ(pusher->call("close 0"), "ok");
  // In the pending table, for a target with no agent yet.
  TcpPair pulled;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pulled));
  std::string pull_token = duplicate_for(pulled.client, puller->pid());
  ASSERT_EQ(token_kind(pull_token), kPullKind);
  ASSERT_EQ(closesocket(pulled.client), 0);
  EXPECT_TRUE(stays_quiet(self.server, kQuietMs));
  EXPECT_TRUE(stays_quiet(pushed_server, kQuietMs));
  EXPECT_TRUE(stays_quiet(pulled.server, kQuietMs));

  ASSERT_EQ(WSACleanup(), 0);
  // Every pending reference ended: the remote ends see the end of stream.
  EXPECT_TRUE(sees_end_of_stream(self.server)) << "inbox entry (self)";
  EXPECT_TRUE(sees_end_of_stream(pushed_server)) << "inbox entry (peer)";
  EXPECT_TRUE(sees_end_of_stream(pulled.server)) << "pending entry";
  // Only the three accepted sockets (the application's) remain open.
  EXPECT_EQ(open_descriptor_count(), before + 3);
  EXPECT_FALSE(directory.has_name(current_pid())) << "name left after cleanup";

  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  EXPECT_TRUE(directory.has_name(current_pid())) << "no name after restart";
  // The old tokens are dead, cleanly.
  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_bytes(self_token, &info));
  EXPECT_EQ(import_token(&info), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_TRUE(token_from_bytes(pushed_token, &info));
  EXPECT_EQ(import_token(&info), INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_EQ(puller->call("startup"), "ok");
  EXPECT_EQ(puller->call("import A", pull_token), error_reply(WSAEINVAL));
  // And fresh handoffs work, to itself and to other processes.
  EXPECT_TRUE(handoff_to_self_works());
  EXPECT_TRUE(handoff_to_peer_works(*puller));
  EXPECT_TRUE(handoff_to_peer_works(*pusher));
  EXPECT_EQ(pusher->finish(), 0);
  EXPECT_EQ(puller->finish(), 0);
  ASSERT_EQ(WSACleanup(), 0);
  // Nothing but the user's registry of event registrations, which outlives
  // every process (docs/design.md, "Notification").
  std::vector<std::string> left = directory.names();
  EXPECT_TRUE(left.empty() ||
              (left.size() == 1 && left[0] == "events.v1"));
  EXPECT_EQ(close(self.server), 0);
  EXPECT_EQ(close(static_cast<int>(pushed_server)), 0);
  EXPECT_EQ(close(pulled.server), 0);
}

// -------------------------------------------- 5. stale rendezvous names --

TEST_F(Faults, StaleNameAtAProcesssOwnPidIsReplacedByItsWSAStartup) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start(/*init=*/false);
  ASSERT_TRUE(peer);
  // The peer leaves a socket file at exactly the name its own WSAStartup
  // will want, with nothing listening: what a crash leaves behind.
  std::string planted = peer->call("plant_stale_name");
  ASSERT_EQ(planted, "ok " + directory.name_of(peer->pid()));
  ASSERT_TRUE(directory.has_name(peer->pid()));
  ASSERT_EQ(peer->call("startup"), "ok");
  // Its agent now listens there: a handoff to it is a push, not the pull a
  // source falls back to when nothing listens.
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.server, peer->pid());
  ASSERT_EQ(token_kind(token), kPushKind);
  ASSERT_EQ(peer->call("import A", token), "ok 0");
  ASSERT_TRUE(peer_sends_through(*peer, 0, pair.client, "fresh"));
  // And it serves pulls at that name: it hands its socket to a target that
  // has no agent, which pulls it from the peer.
  std::unique_ptr<Peer> target = Peer::start(/*init=*/false);
  ASSERT_TRUE(target);
  std::string reply =
      peer->call("duplicate 0 " + std::to_string(target->pid()));
  ASSERT_EQ(reply.compare(0, 3, "ok "), 0) << reply;
  ASSERT_EQ(token_kind(reply.substr(3)), kPullKind);
  ASSERT_EQ(target->call("startup"), "ok");
  ASSERT_EQ(target->call("import A", reply.substr(3)), "ok 0");
  ASSERT_TRUE(peer_sends_through(*target, 0, pair.client, "pulled"));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_FALSE(directory.has_name(peer->pid()));
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Faults, StaleNameOfAKilledProcessDoesNotDisturbOtherHandoffs) {
  PrivateRuntimeDirectory directory;
  ASSERT_TRUE(directory.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> crashed = Peer::start();
  std::unique_ptr<Peer> live = Peer::start();
  ASSERT_TRUE(crashed && live);
  uint32_t crashed_pid = crashed->pid();
  crashed->process().kill();
  ASSERT_TRUE(directory.has_name(crashed_pid))
      << "expected the killed peer's name to be left behind";
  EXPECT_TRUE(handoff_to_peer_works(*live));
  EXPECT_TRUE(handoff_to_self_works());
  // The dead pid itself is refused as Windows refuses it.
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, crashed_pid, &info), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(live->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// --------------------------------------------------------------- 6. exec --

// The peer imports a socket, keeps another unimported in its inbox, keeps a
// third for a pull token, and has a cached connection to this process's
// agent; then it execs a probe. Without WSADUP_FLAG_HANDLE_INHERIT nothing
// of that, and nothing of its agent, reaches the probe.
TEST_F(Faults, ExecPassesOnNoImportedSocketAndNoneOfTheAgentsDescriptors) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  std::unique_ptr<Peer> puller = Peer::start(/*init=*/false);
  ASSERT_TRUE(peer && puller);
  TcpPair imported;
  TcpPair waiting;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &imported));
  ASSERT_TRUE(make_tcp_pair(AF_INET, &waiting));
  ASSERT_EQ(peer->call("import A", duplicate_for(imported.client, peer->pid())),
            "ok 0");
  std::string waiting_token = duplicate_for(waiting.client, peer->pid());
  ASSERT_FALSE(waiting_token.empty());
  std::string reply =
      peer->call("duplicate 0 " + std::to_string(puller->pid()));
  ASSERT_EQ(token_kind(reply.substr(3)), kPullKind) << reply;
  reply = peer->call("duplicate 0 " + std::to_string(current_pid()));
  ASSERT_EQ(token_kind(reply.substr(3)), kPushKind) << reply;
  // And a socket it created itself with WSASocket (default flags).
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET created = connection_from(*peer, listener, port);
  ASSERT_NE(created, INVALID_SOCKET);

  EXPECT_EQ(peer->call("exec_probe 0"), "ok extra= target=closed sent=no");
  EXPECT_EQ(peer->call("exec_probe 1"), "ok extra= target=closed sent=no");

  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(created), 0);
  EXPECT_EQ(closesocket(listener), 0);
  EXPECT_EQ(puller->finish(), 0);
  EXPECT_EQ(closesocket(imported.client), 0);
  EXPECT_EQ(closesocket(imported.server), 0);
  EXPECT_EQ(closesocket(waiting.client), 0);
  EXPECT_EQ(closesocket(waiting.server), 0);
}

TEST_F(Faults, ExecPassesOnASocketImportedWithHandleInheritAndItWorks) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(
      peer->call("import A inherit", duplicate_for(pair.client, peer->pid())),
      "ok 0");
  ASSERT_EQ(closesocket(pair.client), 0);
  // The exec'd program gets the socket and nothing else of wsadup's, and
  // its byte arrives.
  EXPECT_EQ(peer->call("exec_probe 0"), "ok extra= target=open sent=yes");
  std::string got;
  EXPECT_TRUE(recv_exact(pair.server, 1, &got));
  EXPECT_EQ(got, "x");
  // The probe's copy died with it; the peer's is the last.
  EXPECT_EQ(peer->call("close 0"), "ok");
  EXPECT_TRUE(sees_end_of_stream(pair.server));
  EXPECT_EQ(peer->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
}

// --------------------------------------------------------------- 7. fork --

bool write_fd(int fd, const void* data, size_t size) {
  return write(fd, data, size) == static_cast<ssize_t>(size);
}

bool read_fd(int fd, void* data, size_t size) {
  pollfd waiting{fd, POLLIN, 0};
  if (poll(&waiting, 1, kProcessTimeoutMs) != 1) return false;
  return read(fd, data, size) == static_cast<ssize_t>(size);
}

// A child forked while this process holds an inbox entry and a pull-pending
// entry: it cannot redeem either, keeps no copy of either, and the parent
// redeems both afterwards.
TEST_F(Faults, ForkedChildCannotRedeemOrKeepItsParentsPendingTokens) {
#if defined(WSADUP_TEST_UNDER_TSAN)
  GTEST_SKIP() << "the forked child starts its own agent thread, which "
                  "ThreadSanitizer does not support; the other builds run it";
#endif
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> puller = Peer::start(/*init=*/false);
  ASSERT_TRUE(puller);
  TcpPair pushed;
  TcpPair pulled;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pushed));
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pulled));
  WSAPROTOCOL_INFOA push_token;
  ASSERT_EQ(WSADuplicateSocketA(pushed.client, current_pid(), &push_token), 0);
  std::string pull_token = duplicate_for(pulled.client, puller->pid());
  ASSERT_EQ(token_kind(pull_token), kPullKind);
  WSAPROTOCOL_INFOA pull_info;
  ASSERT_TRUE(token_from_bytes(pull_token, &pull_info));
  // From here only the inbox and the pending table hold the two sockets.
  ASSERT_EQ(closesocket(pushed.client), 0);
  ASSERT_EQ(closesocket(pulled.client), 0);

  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    // Both tokens name another process: refused, whatever the child's
    // memory says about its parent's tables, before and after it starts an
    // agent of its own.
    size_t at_start = open_descriptor_count();
#if defined(__linux__)
    // The parent watches the puller; the child closed its copy of the watch.
    int inherited_watches = static_cast<int>(watched_pids().size());
#else
    int inherited_watches = 0;
#endif
    int results[4];
    results[0] =
        import_token(&push_token) == INVALID_SOCKET ? WSAGetLastError() : 0;
    results[1] =
        import_token(&pull_info) == INVALID_SOCKET ? WSAGetLastError() : 0;
    WSADATA data;
    bool started = WSAStartup(MAKEWORD(2, 2), &data) == 0;
    results[2] =
        import_token(&push_token) == INVALID_SOCKET ? WSAGetLastError() : 0;
    results[3] =
        import_token(&pull_info) == INVALID_SOCKET ? WSAGetLastError() : 0;
    // Two WSACleanups: one for the WSAStartup above, and the last one, for
    // the WSAStartup the child inherited, which stops the child's own agent.
    bool cleaned = started && WSACleanup() == 0 && WSACleanup() == 0;
    int leaked =
        static_cast<int>(open_descriptor_count()) - static_cast<int>(at_start);
    int report[7] = {results[0],      results[1], results[2],       results[3],
                     cleaned ? 1 : 0, leaked,     inherited_watches};
    write_fd(to_parent[1], report, sizeof(report));
    // Stays alive, holding whatever it holds, while the parent checks.
    char go;
    read_fd(to_child[0], &go, 1);
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  int report[7] = {};
  bool reported = read_fd(to_parent[0], report, sizeof(report));
  EXPECT_TRUE(reported) << "the child did not report";
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(report[i], WSAEINVAL) << "attempt " << i;
  EXPECT_EQ(report[4], 1) << "the child's WSAStartup/WSACleanup failed";
  EXPECT_EQ(report[5], 0) << "the child leaked descriptors";
  EXPECT_EQ(report[6], 0) << "the child kept its parent's watch on the puller";

  // The parent redeems both, and with the child still alive the remote ends
  // see the end of stream when the redeemed sockets close: the child kept
  // no copy of the inbox or pending descriptors.
  SOCKET from_inbox = import_token(&push_token);
  ASSERT_NE(from_inbox, INVALID_SOCKET) << WSAGetLastError();
  ASSERT_TRUE(send_all(from_inbox, "inbox"));
  std::string got;
  EXPECT_TRUE(recv_exact(pushed.server, 5, &got));
  EXPECT_EQ(closesocket(from_inbox), 0);
  EXPECT_TRUE(sees_end_of_stream(pushed.server)) << "the child kept a copy";
  ASSERT_EQ(puller->call("startup"), "ok");
  ASSERT_EQ(puller->call("import A", pull_token), "ok 0");
  ASSERT_EQ(puller->call("send 0 pulled"), "ok");
  EXPECT_TRUE(recv_exact(pulled.server, 6, &got));
  ASSERT_EQ(puller->call("close 0"), "ok");
  EXPECT_TRUE(sees_end_of_stream(pulled.server)) << "the child kept a copy";
  EXPECT_TRUE(handoff_to_self_works());

  write_fd(to_child[1], "g", 1);
  close(to_child[1]);
  close(to_parent[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(puller->finish(), 0);
  EXPECT_EQ(closesocket(pushed.server), 0);
  EXPECT_EQ(closesocket(pulled.server), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
