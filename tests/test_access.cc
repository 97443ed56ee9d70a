// Who may receive a descriptor, and how many may wait.
//
// Same user: a process other than the token's target, a forged token, a raw
// client guessing or replaying nonces on an agent's socket, and a process
// listening at another's rendezvous name all get nothing, and the rightful
// target still imports. Another user (when the suite runs as root): a
// process that dropped to another uid can neither receive, nor enter the
// rendezvous directory, nor squat a directory name a root process would
// use. Bounds: past 4096 waiting descriptors a duplicate is WSAENOBUFS, and
// it works again once tokens drain.
#if !defined(_WIN32)
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "raw_wire.h"
#include "support.h"

#if defined(__linux__) && !defined(SO_PEERPIDFD)
#define SO_PEERPIDFD 77  // Linux 6.5; older C libraries lack the name
#endif

namespace wsadup_test {
namespace {

using Clock = std::chrono::steady_clock;
using Nonce = std::array<uint8_t, 16>;

// The bound on descriptors waiting in one process, for push (the target's
// inbox) and for pull (the source's pending table); see docs/design.md.
constexpr size_t kWaitingBound = 4096;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

// --------------------------------------------------------------- tokens --
// The private record (docs/design.md, "The token"): 48 bytes at element 192
// of szProtocol; kind at 5, target pid at 12, nonce at 16, checksum at 44.

constexpr size_t kRecordOffset = offsetof(WSAPROTOCOL_INFOA, szProtocol) + 192;
constexpr int kPushToken = 1;
constexpr int kPullToken = 2;

const uint8_t* record_of(const WSAPROTOCOL_INFOA& info) {
  return reinterpret_cast<const uint8_t*>(&info) + kRecordOffset;
}

int token_kind(const WSAPROTOCOL_INFOA& info) { return record_of(info)[5]; }

Nonce token_nonce(const WSAPROTOCOL_INFOA& info) {
  Nonce nonce;
  std::memcpy(nonce.data(), record_of(info) + 16, nonce.size());
  return nonce;
}

// The token with another target pid and a checksum that matches again: what
// any process that saw a token can make, since the checksum is FNV-1a and
// no secret. The kernel's checks, not the bytes, must refuse it.
WSAPROTOCOL_INFOA retargeted(const WSAPROTOCOL_INFOA& info, uint32_t pid) {
  WSAPROTOCOL_INFOA forged = info;
  auto* bytes = reinterpret_cast<uint8_t*>(&forged);
  uint8_t* record = bytes + kRecordOffset;
  for (int i = 0; i < 4; ++i) {
    record[12 + i] = static_cast<uint8_t>(pid >> (8 * i));
  }
  uint32_t hash = 2166136261u;
  auto mix = [&hash](const uint8_t* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      hash ^= data[i];
      hash *= 16777619u;
    }
  };
  mix(bytes, offsetof(WSAPROTOCOL_INFOA, szProtocol));
  mix(record, 44);
  for (int i = 0; i < 4; ++i) {
    record[44 + i] = static_cast<uint8_t>(hash >> (8 * i));
  }
  return forged;
}

std::string error_reply(int code) { return "err " + std::to_string(code); }

// The number of descriptors a peer has open, or -1.
long descriptors_of(Peer& peer) {
  std::string reply = peer.call("fds");
  if (reply.compare(0, 3, "ok ") != 0) return -1;
  return std::strtol(reply.c_str() + 3, nullptr, 10);
}

// ----------------------------------------------------------------- wire --
// The rendezvous messages, built by hand (see src/posix/internal.h): a raw
// client uses nothing of the library.


// A listening SOCK_SEQPACKET socket at path (non-blocking), or -1.
int listen_raw(const std::string& path) {
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (bind(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(s, 16) != 0) {
    close(s);
    return -1;
  }
  return s;
}

// Receives one message, counting (and closing) any descriptor attached.
// Returns the byte count, 0 at end of stream, -1 on error.
ssize_t receive_counting(int s, RawMessage* message, int* descriptors,
                         int flags) {
  iovec data{message, sizeof(*message)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  ssize_t got = recvmsg(s, &header, flags | MSG_CMSG_CLOEXEC);
  *descriptors = 0;
  if (got < 0) return -1;
  for (cmsghdr* item = CMSG_FIRSTHDR(&header); item != nullptr;
       item = CMSG_NXTHDR(&header, item)) {
    if (item->cmsg_level != SOL_SOCKET || item->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    size_t count = (item->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(item) + i * sizeof(int), sizeof(int));
      close(received);
      ++*descriptors;
    }
  }
  return got;
}

// One request on a raw connection and what came back.
struct Answer {
  bool replied = false;  // false: the agent closed the connection
  bool timed_out = false;
  RawMessage reply;
  int descriptors = 0;  // attached to the reply (closed here)
};

Answer ask(int s, uint16_t type, const Nonce& nonce, uint32_t claimed_pid) {
  Answer answer;
  RawMessage request;
  request.type = type;
  std::memcpy(request.nonce, nonce.data(), nonce.size());
  // The message's pid field claims to be someone else: the agent must go by
  // the kernel's credentials only.
  request.source_pid = claimed_pid;
  if (send(s, &request, sizeof(request), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(request))) {
    return answer;
  }
  pollfd waiting{s, POLLIN, 0};
  if (poll(&waiting, 1, kProcessTimeoutMs) <= 0) {
    answer.timed_out = true;
    return answer;
  }
  answer.replied = receive_counting(s, &answer.reply, &answer.descriptors, 0) ==
                   static_cast<ssize_t>(sizeof(RawMessage));
  return answer;
}

std::string nonce_text(const Nonce& nonce) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : nonce) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

Nonce nonce_from_text(const std::string& text) {
  Nonce nonce{};
  for (size_t i = 0; i < nonce.size() && 2 * i + 1 < text.size(); ++i) {
    nonce[i] = static_cast<uint8_t>(
        std::strtoul(text.substr(2 * i, 2).c_str(), nullptr, 16));
  }
  return nonce;
}

// What arrived at a raw listener: every connection already queued (accept
// does not wait: a connect to a Unix-domain listener is queued before
// connect returns) and whatever each carried. "none", or "eof" for
// connections that sent nothing, or "message <descriptors>".
std::string drain_listener(int listener) {
  std::string seen;
  for (;;) {
    int accepted =
        accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (accepted < 0) break;
    RawMessage message;
    int descriptors = 0;
    ssize_t got =
        receive_counting(accepted, &message, &descriptors, MSG_DONTWAIT);
    if (!seen.empty()) seen += ",";
    // A source that refused the listener closed without sending: end of
    // stream. Nothing queued and not closed would be "quiet".
    seen += got == 0  ? "eof"
            : got > 0 ? "message " + std::to_string(descriptors)
                      : (errno == EAGAIN ? "quiet" : "error");
    close(accepted);
  }
  return seen.empty() ? "none" : seen;
}

// ---------------------------------------------------------- environment --

// Sets or clears environment variables for the scope. Children started in
// the scope inherit them (and /proc/<pid>/environ shows them).
class ScopedEnvironment {
 public:
  ScopedEnvironment() = default;
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
  ~ScopedEnvironment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had_value) {
        setenv(it->name.c_str(), it->value.c_str(), 1);
      } else {
        unsetenv(it->name.c_str());
      }
    }
  }
  void set(const char* name, const std::string& value) {
    save(name);
    setenv(name, value.c_str(), 1);
  }
  void unset(const char* name) {
    save(name);
    unsetenv(name);
  }

 private:
  struct Saved {
    std::string name;
    bool had_value;
    std::string value;
  };
  void save(const char* name) {
    for (const Saved& saved : saved_) {
      if (saved.name == name) return;
    }
    const char* value = std::getenv(name);
    saved_.push_back(Saved{name, value != nullptr, value ? value : ""});
  }
  std::vector<Saved> saved_;
};

int remove_entry(const char* path, const struct stat*, int, FTW*) {
  remove(path);
  return 0;
}

void remove_tree(const std::string& path) {
  if (!path.empty()) nftw(path.c_str(), remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

// A scratch tree, removed at the end: base (0755, so other users reach
// inside), base/run (0700, this user's private rendezvous directory) and
// base/tmp (1777, a stand-in for /tmp that every user may write to). The
// real /tmp is never touched: other runs of the suite use its names.
class ScratchTree {
 public:
  ScratchTree() {
    char pattern[] = "/tmp/wsadup-access-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;
    std::string base = pattern;
    if (chmod(base.c_str(), 0755) == 0 &&
        mkdir((base + "/run").c_str(), 0700) == 0 &&
        mkdir((base + "/tmp").c_str(), 0700) == 0 &&
        chmod((base + "/tmp").c_str(), 01777) == 0) {
      base_ = base;
    } else {
      remove_tree(base);
    }
  }
  ScratchTree(const ScratchTree&) = delete;
  ScratchTree& operator=(const ScratchTree&) = delete;
  ~ScratchTree() { remove_tree(base_); }

  bool ok() const { return !base_.empty(); }
  const std::string& base() const { return base_; }
  std::string run() const { return base_ + "/run"; }
  std::string tmp() const { return base_ + "/tmp"; }

 private:
  std::string base_;
};

std::string agent_name(const std::string& directory, uint32_t pid) {
  return directory + "/" + std::to_string(pid) + ".sock";
}

// ------------------------------------------------------------- accounts --

struct Account {
  uid_t uid;
  gid_t gid;
};

Account nobody_account() {
  if (passwd* entry = getpwnam("nobody")) {
    return Account{entry->pw_uid, entry->pw_gid};
  }
  return Account{65534, 65534};
}

// A second unprivileged user. The kernel needs no passwd entry for a uid.
Account second_account() {
  Account nobody = nobody_account();
  return Account{nobody.uid - 1, nobody.gid - 1};
}

bool drop_privileges(const Account& account) {
  return setgroups(0, nullptr) == 0 && setgid(account.gid) == 0 &&
         setuid(account.uid) == 0 && geteuid() == account.uid &&
         getegid() == account.gid && setuid(0) != 0;
}

// True when a process can become account and then execute path (every
// directory on the way searchable; an empty path: only become it). Checked
// by a forked child.
bool can_become(const Account& account, const std::string& path) {
  pid_t child = fork();
  if (child == 0) {
    _exit(drop_privileges(account) &&
                  (path.empty() || access(path.c_str(), X_OK) == 0)
              ? 0
              : 1);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Starts "helper arguments..." as another user. exec: the helper drops
// privileges and execs the binary at executable (a process started by a
// launcher the usual way); else it drops and runs the helper in place (a
// worker forked by a privileged parent, which the kernel marks not
// dumpable).
std::unique_ptr<ChildProcess> spawn_as(const Account& account,
                                       const std::string& executable,
                                       const std::vector<std::string>& helper) {
  std::vector<std::string> arguments = {std::to_string(account.uid),
                                        std::to_string(account.gid),
                                        executable.empty() ? "-" : executable};
  arguments.insert(arguments.end(), helper.begin(), helper.end());
  return ChildProcess::spawn("as_user", arguments);
}

// ------------------------------------------------------------ same user --

using AccessControl = ConformanceTest;

// The "runtime directory" for same-user tests: every process of the test
// finds every other's agent in scratch.run().
struct SameUserSetup {
  ScratchTree scratch;
  ScopedEnvironment environment;
  SameUserSetup() {
    if (scratch.ok()) environment.set("WSADUP_RUNTIME_DIR", scratch.run());
  }
};

TEST_F(AccessControl, PushTokenInAnotherProcessIsWSAEINVALForgedOrNot) {
  SameUserSetup setup;
  ASSERT_TRUE(setup.scratch.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start();
  std::unique_ptr<Peer> thief = Peer::start();
  ASSERT_TRUE(target && thief);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0);
  ASSERT_EQ(token_kind(info), kPushToken);
  // The forger recomputes the checksum correctly: a token retargeted back
  // to the real target is byte for byte the original.
  WSAPROTOCOL_INFOA same = retargeted(info, target->pid());
  ASSERT_EQ(std::memcmp(&same, &info, sizeof(info)), 0);

  long thief_before = descriptors_of(*thief);
  ASSERT_GT(thief_before, 0);
  EXPECT_EQ(thief->call("import A", token_bytes(info)), error_reply(WSAEINVAL))
      << "the token as it was sent";
  EXPECT_EQ(
      thief->call("import A", token_bytes(retargeted(info, thief->pid()))),
      error_reply(WSAEINVAL))
      << "the token rewritten to name the thief";
  EXPECT_EQ(descriptors_of(*thief), thief_before)
      << "a descriptor reached the thief";

  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, pair.client, "rightful"));
  EXPECT_EQ(thief->finish(), 0);
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(AccessControl, PullTokenInAnotherProcessIsWSAEINVALForgedOrNot) {
  SameUserSetup setup;
  ASSERT_TRUE(setup.scratch.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  // The target has not called WSAStartup: the descriptor waits here, in the
  // source, for a pull.
  std::unique_ptr<Peer> target = Peer::start(false);
  std::unique_ptr<Peer> thief = Peer::start();
  ASSERT_TRUE(target && thief);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0);
  ASSERT_EQ(token_kind(info), kPullToken);

  long thief_before = descriptors_of(*thief);
  ASSERT_GT(thief_before, 0);
  EXPECT_EQ(thief->call("import A", token_bytes(info)), error_reply(WSAEINVAL))
      << "the token as it was sent";
  // Retargeted, the token passes the thief's own check and the thief asks
  // this process's agent for the descriptor: the agent refuses, because the
  // kernel says the caller is not the target.
  EXPECT_EQ(
      thief->call("import A", token_bytes(retargeted(info, thief->pid()))),
      error_reply(WSAEINVAL))
      << "the token rewritten to name the thief";
  EXPECT_EQ(descriptors_of(*thief), thief_before)
      << "a descriptor reached the thief";

  EXPECT_EQ(target->call("startup"), "ok");
  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, pair.client, "rightful"));
  EXPECT_EQ(thief->finish(), 0);
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(AccessControl,
       RawClientGuessingOrReplayingNoncesGetsWSAEINVALAndNoDescriptor) {
  SameUserSetup setup;
  ASSERT_TRUE(setup.scratch.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> pull_target = Peer::start(false);
  std::unique_ptr<Peer> push_target = Peer::start();
  ASSERT_TRUE(source && pull_target && push_target);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  WSAPROTOCOL_INFOA pull_token;
  WSAPROTOCOL_INFOA push_token;
  ASSERT_TRUE(token_from_reply(
      source->call("duplicate 0 " + std::to_string(pull_target->pid())),
      &pull_token));
  ASSERT_TRUE(token_from_reply(
      source->call("duplicate 0 " + std::to_string(push_target->pid())),
      &push_token));
  ASSERT_EQ(token_kind(pull_token), kPullToken);
  ASSERT_EQ(token_kind(push_token), kPushToken);

  // This process is neither target. It talks to the source's agent with
  // hand-made messages, claiming in each to be the pull target.
  int error = 0;
  int at_source =
      connect_raw(agent_name(setup.scratch.run(), source->pid()), &error);
  ASSERT_GE(at_source, 0) << std::strerror(error);
  size_t before = open_descriptor_count();
  auto refused = [&](int s, uint16_t type, const Nonce& nonce,
                     const char* what) {
    Answer answer = ask(s, type, nonce, pull_target->pid());
    EXPECT_TRUE(answer.replied)
        << what << (answer.timed_out ? ": no answer" : ": dropped");
    EXPECT_EQ(answer.reply.type, kRawReply) << what;
    EXPECT_EQ(answer.reply.status, static_cast<uint32_t>(WSAEINVAL)) << what;
    EXPECT_EQ(answer.descriptors, 0) << what << ": a descriptor was sent";
    return answer.replied && answer.reply.status == WSAEINVAL &&
           answer.descriptors == 0;
  };
  std::mt19937_64 random(std::random_device{}());
  const int kGuesses = 1000;
  int refusals = 0;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < kGuesses; ++i) {
    Nonce guess;
    for (uint8_t& byte : guess) byte = static_cast<uint8_t>(random());
    if (refused(at_source, kRawPull, guess, "random nonce")) ++refusals;
  }
  double guessing_ms = elapsed_ms(start);
  EXPECT_EQ(refusals, kGuesses);
  refused(at_source, kRawPull, Nonce{}, "zero nonce");
  // The strongest guess: the very nonce of the pending descriptor, copied
  // from the real token.
  refused(at_source, kRawPull, token_nonce(pull_token),
          "the pull token's nonce");
  refused(at_source, kRawCommit, token_nonce(pull_token),
          "a commit for a pull this connection never made");
  refused(at_source, kRawPull, token_nonce(push_token),
          "the push token's nonce, at the source");
  // The push token's descriptor waits in its target's inbox; that agent
  // hands nothing out of its inbox over the wire at all.
  int at_target =
      connect_raw(agent_name(setup.scratch.run(), push_target->pid()), &error);
  ASSERT_GE(at_target, 0) << std::strerror(error);
  refused(at_target, kRawPull, token_nonce(push_token),
          "the push token's nonce, at its target");
  refused(at_target, kRawCommit, token_nonce(push_token),
          "a commit at the push target");
  close(at_target);
  EXPECT_EQ(open_descriptor_count(), before)
      << "a descriptor reached this process";
  close(at_source);
  std::printf(
      "[ MEASURED ] %d guessed nonces refused in %.1f ms (%.1f us each)\n",
      kGuesses, guessing_ms, guessing_ms * 1000 / kGuesses);

  // The rightful targets are unaffected.
  EXPECT_EQ(pull_target->call("startup"), "ok");
  EXPECT_EQ(pull_target->call("import A", token_bytes(pull_token)), "ok 0");
  EXPECT_EQ(push_target->call("import A", token_bytes(push_token)), "ok 0");
  EXPECT_EQ(pull_target->call("send 0 pulled"), "ok");
  EXPECT_EQ(push_target->call("send 0 pushed"), "ok");
  std::string got;
  EXPECT_TRUE(recv_exact(server, 12, &got));
  EXPECT_NE(got.find("pulled"), std::string::npos) << got;
  EXPECT_NE(got.find("pushed"), std::string::npos) << got;
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(pull_target->finish(), 0);
  EXPECT_EQ(push_target->finish(), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(AccessControl,
       AListenerAtTheTargetsNameThatIsNotTheTargetReceivesNothing) {
  SameUserSetup setup;
  ASSERT_TRUE(setup.scratch.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> source = Peer::start();
  std::unique_ptr<Peer> target = Peer::start();
  ASSERT_TRUE(source && target);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  // This process (same user) takes over the target's rendezvous name.
  std::string name = agent_name(setup.scratch.run(), target->pid());
  ASSERT_EQ(unlink(name.c_str()), 0);
  int squatter = listen_raw(name);
  ASSERT_GE(squatter, 0);

  WSAPROTOCOL_INFOA info;
  ASSERT_TRUE(token_from_reply(
      source->call("duplicate 0 " + std::to_string(target->pid())), &info));
  // The source found this listener, saw from the kernel's credentials that
  // it is not the target, and sent nothing: the handoff went the pull way.
  EXPECT_EQ(drain_listener(squatter), "eof");
  EXPECT_EQ(token_kind(info), kPullToken);
  close(squatter);
  unlink(name.c_str());

  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, server, "rightful"));
  EXPECT_EQ(source->finish(), 0);
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

#if defined(__linux__) && defined(SYS_clone3)
bool kernel_has_peer_pidfd() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return false;
  int pidfd = -1;
  socklen_t length = sizeof(pidfd);
  bool supported =
      getsockopt(pair[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) == 0;
  if (supported) close(pidfd);
  close(pair[0]);
  close(pair[1]);
  return supported;
}

// A process that exits while the listener it created lives on in its
// child, and a new process that then gets the dead one's pid: SO_PEERCRED
// still names that pid for the listener, so only the pidfd tells that the
// listener is not the new process's.
TEST_F(AccessControl, AListenerLeftByADeadProcessIsNotItsPidsNewOwner) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: choosing a pid (clone3 set_tid) needs "
                    "CAP_SYS_ADMIN";
  }
  if (!kernel_has_peer_pidfd()) {
    GTEST_SKIP() << "kernel without SO_PEERPIDFD (before Linux 6.5): a "
                    "reused pid cannot be told from its old owner";
  }
  SameUserSetup setup;
  ASSERT_TRUE(setup.scratch.ok());
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<ChildProcess> orphaned =
      ChildProcess::spawn("orphaned_listener", {setup.scratch.run()});
  ASSERT_TRUE(orphaned);
  std::string hello;
  ASSERT_TRUE(read_frame(*orphaned, &hello));
  ASSERT_EQ(hello, "listening " + std::to_string(orphaned->pid()));
  uint32_t reused = orphaned->pid();
  // The process that listened has exited and is reaped; its child still
  // holds the listener at <reused>.sock.
  ASSERT_EQ(orphaned->wait(kProcessTimeoutMs), 0);

  std::string greeting;
  std::unique_ptr<Peer> target =
      Peer::adopt(ChildProcess::spawn(
                      "with_pid", {std::to_string(reused), "peer", "noinit"}),
                  &greeting);
  if (!target && greeting.compare(0, 11, "unavailable") == 0) {
    write_frame(*orphaned, "exit");
    GTEST_SKIP() << "pid " << reused << " could not be reused: " << greeting;
  }
  ASSERT_TRUE(target) << greeting;
  ASSERT_EQ(target->pid(), reused);

  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, reused, &info), 0)
      << WSAGetLastError();
  ASSERT_TRUE(write_frame(*orphaned, "drain"));
  std::string seen;
  ASSERT_TRUE(read_frame(*orphaned, &seen));
  EXPECT_EQ(seen, "eof") << "what the dead process's listener received";
  EXPECT_EQ(token_kind(info), kPullToken);
  ASSERT_TRUE(write_frame(*orphaned, "exit"));

  EXPECT_EQ(target->call("startup"), "ok");
  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, pair.client, "rightful"));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

// --------------------------------------------------------------- bounds --

// Raises the soft descriptor limit to at least wanted for the scope
// (children started in the scope inherit it).
class DescriptorHeadroom {
 public:
  explicit DescriptorHeadroom(rlim_t wanted) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    if (saved_.rlim_cur >= wanted) {
      ok_ = true;
    } else if (saved_.rlim_max == RLIM_INFINITY || saved_.rlim_max >= wanted) {
      rlimit raised = saved_;
      raised.rlim_cur = wanted;
      ok_ = setrlimit(RLIMIT_NOFILE, &raised) == 0;
    }
  }
  ~DescriptorHeadroom() { setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }
  rlim_t hard_limit() const { return saved_.rlim_max; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

using Bounds = ConformanceTest;

// The acknowledged push (option 0) stores each descriptor in the target's
// inbox, whose bound this checks. (The posted push's bound is the kernel's
// queue: PostedPush.AFullMailboxIsWSAENOBUFSAtOnceAndLosesNothing.)
TEST_F(Bounds, FullInboxPushIsWSAENOBUFSAndWorksAgainOnceTokensDrain) {
  AcknowledgedPush acknowledged;
  ASSERT_TRUE(acknowledged.ok());
  DescriptorHeadroom headroom(kWaitingBound + 512);
  if (!headroom.ok()) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << headroom.hard_limit()
                 << " is below the " << kWaitingBound + 512
                 << " descriptors a full inbox needs";
  }
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = Peer::start();
  ASSERT_TRUE(target);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  long target_idle = descriptors_of(*target);
  ASSERT_GT(target_idle, 0);

  // The first push also leaves the source's connection open in the target
  // (it is reused for the others): count from there.
  WSAPROTOCOL_INFOA first;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &first), 0);
  ASSERT_EQ(token_kind(first), kPushToken);
  long target_connected = descriptors_of(*target);
  WSAPROTOCOL_INFOA info;
  Clock::time_point start = Clock::now();
  for (size_t i = 1; i < kWaitingBound; ++i) {
    ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0)
        << "duplicate " << i << ": " << WSAGetLastError();
    ASSERT_EQ(token_kind(info), kPushToken) << i;
  }
  double filling_ms = elapsed_ms(start);
  EXPECT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(descriptors_of(*target),
            target_connected + static_cast<long>(kWaitingBound) - 1)
      << "the refused descriptor stayed in the target";
  std::printf(
      "[ MEASURED ] %zu pushes filled the inbox in %.0f ms; the next "
      "is WSAENOBUFS\n",
      kWaitingBound, filling_ms);

  // One import frees one place, exactly.
  EXPECT_EQ(target->call("import A", token_bytes(first)), "ok 0");
  WSAPROTOCOL_INFOA after_one;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &after_one), 0)
      << WSAGetLastError();
  EXPECT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(target->call("import A", token_bytes(after_one)), "ok 1");
  EXPECT_EQ(target->call("send 0 first"), "ok");
  EXPECT_EQ(target->call("send 1 after"), "ok");
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 10, &got));
  EXPECT_EQ(got, "firstafter");

  // The target's last WSACleanup releases what still waits; started again,
  // it has an empty inbox.
  EXPECT_EQ(target->call("cleanup"), "ok");
  EXPECT_EQ(target->call("startup"), "ok");
  EXPECT_EQ(descriptors_of(*target), target_idle)
      << "WSACleanup left waiting descriptors behind";
  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0)
      << WSAGetLastError();
  EXPECT_EQ(token_kind(info), kPushToken);
  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 2");
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Bounds, FullPendingTablePullIsWSAENOBUFSAndWorksAgainOnceTokensDrain) {
  DescriptorHeadroom headroom(kWaitingBound + 512);
  if (!headroom.ok()) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << headroom.hard_limit()
                 << " is below the " << kWaitingBound + 512
                 << " descriptors a full pending table needs";
  }
  // Neither target calls WSAStartup: every duplicate keeps a descriptor in
  // this process's pending table.
  std::unique_ptr<Peer> first_target = Peer::start(false);
  std::unique_ptr<Peer> second_target = Peer::start(false);
  ASSERT_TRUE(first_target && second_target);
  size_t uninitialised = open_descriptor_count();
  WSADATA data;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  size_t before = open_descriptor_count();

  WSAPROTOCOL_INFOA first;
  WSAPROTOCOL_INFOA info;
  Clock::time_point start = Clock::now();
  for (size_t i = 0; i < kWaitingBound; ++i) {
    ASSERT_EQ(WSADuplicateSocketA(pair.server, first_target->pid(), &info), 0)
        << "duplicate " << i << ": " << WSAGetLastError();
    ASSERT_EQ(token_kind(info), kPullToken) << i;
    if (i == 0) first = info;
  }
  double filling_ms = elapsed_ms(start);
  // One descriptor a pending token, and one watch of the target's life.
  const size_t kWatches = watches_pull_targets() ? 1 : 0;
  EXPECT_EQ(open_descriptor_count(), before + kWaitingBound + kWatches);
  // The table is the source's, whatever the target.
  EXPECT_EQ(WSADuplicateSocketA(pair.server, first_target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(WSADuplicateSocketA(pair.server, second_target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(open_descriptor_count(), before + kWaitingBound + kWatches)
      << "a refused duplicate kept or lost a descriptor";
  std::printf(
      "[ MEASURED ] %zu pull tokens filled the pending table in "
      "%.0f ms; the next is WSAENOBUFS\n",
      kWaitingBound, filling_ms);

  // One pull frees one place. The target then calls WSACleanup, so that it
  // has no agent again and a new duplicate for it is a pull.
  EXPECT_EQ(first_target->call("startup"), "ok");
  EXPECT_EQ(first_target->call("import A", token_bytes(first)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*first_target, 0, pair.client, "first"));
  EXPECT_EQ(first_target->call("cleanup"), "ok");
  // (This process's count is not compared here: the agent closes its end
  // of the puller's connection whenever it sees the hang-up.)
  WSAPROTOCOL_INFOA after_one;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, second_target->pid(), &after_one),
            0)
      << WSAGetLastError();
  EXPECT_EQ(token_kind(after_one), kPullToken);
  EXPECT_EQ(WSADuplicateSocketA(pair.server, first_target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(second_target->call("startup"), "ok");
  EXPECT_EQ(second_target->call("import A", token_bytes(after_one)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*second_target, 0, pair.client, "after"));

  // Nothing expires while the target lives: the 4095 tokens never redeemed
  // wait until this process's last WSACleanup, which releases them all.
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_EQ(WSACleanup(), 0);
  EXPECT_EQ(open_descriptor_count(), uninitialised)
      << "WSACleanup left pending descriptors behind";
  EXPECT_EQ(first_target->finish(), 0);
  EXPECT_EQ(second_target->finish(), 0);
}

// ----------------------------------------------------------- other user --

// Cross-user tests run as root (as CI does), with children that drop to
// other uids. Every process finds its rendezvous directory the default way,
// under a scratch TMPDIR: wsadup-<uid> there.
class CrossUser : public ConformanceTest {
 protected:
  void SetUp() override {
    ConformanceTest::SetUp();
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the test starts processes of other users "
                      "(run the suite as root, as CI does)";
    }
    ASSERT_TRUE(scratch_.ok());
    environment_.unset("WSADUP_RUNTIME_DIR");
    environment_.unset("XDG_RUNTIME_DIR");
    environment_.set("TMPDIR", scratch_.tmp());
    if (!can_become(nobody_, std::string()) ||
        !can_become(second_, std::string())) {
      GTEST_SKIP() << "this root cannot become uid " << nobody_.uid << " and "
                   << second_.uid << " (a user namespace that maps no others?)";
    }
    executable_ = executable_path();
    if (!can_become(nobody_, executable_) ||
        !can_become(second_, executable_)) {
      // The build directory is closed to other users (a home directory):
      // they run a copy that they can reach.
      executable_ = scratch_.base() + "/wsadup_tests";
      std::ifstream from(executable_path(), std::ios::binary);
      std::ofstream to(executable_, std::ios::binary);
      to << from.rdbuf();
      to.close();
      ASSERT_TRUE(to) << "could not copy the test binary for other users";
      ASSERT_EQ(chmod(executable_.c_str(), 0755), 0);
    }
  }

  // The rendezvous directory of a process of uid started in this test.
  std::string directory_of(uid_t uid) const {
    return scratch_.tmp() + "/wsadup-" + std::to_string(uid);
  }

  // Starts the peer helper as account, by exec (see spawn_as).
  std::unique_ptr<Peer> peer_as(const Account& account, bool init) {
    std::string greeting;
    std::unique_ptr<Peer> peer = Peer::adopt(
        spawn_as(account, executable_, {"peer", init ? "init" : "noinit"}),
        &greeting);
    EXPECT_TRUE(peer) << "peer as uid " << account.uid << ": " << greeting;
    return peer;
  }

  std::unique_ptr<Peer> prober_as(const Account& account) {
    std::string greeting;
    std::unique_ptr<Peer> prober =
        Peer::adopt(spawn_as(account, executable_, {"prober"}), &greeting);
    EXPECT_TRUE(prober) << "prober as uid " << account.uid << ": " << greeting;
    return prober;
  }

  ScratchTree scratch_;
  ScopedEnvironment environment_;
  Account nobody_ = nobody_account();
  Account second_ = second_account();
  std::string executable_;
};

TEST_F(CrossUser, AnotherUsersProcessNeitherReceivesNorTakesADescriptor) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> other_source = peer_as(second_, true);
  std::unique_ptr<Peer> target = peer_as(nobody_, true);
  std::unique_ptr<Peer> idle_target = peer_as(nobody_, false);
  ASSERT_TRUE(other_source && target && idle_target);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET from_other = other_source->connect_from_peer(listener, AF_INET, port);
  SOCKET from_target = target->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(from_other, INVALID_SOCKET);
  ASSERT_NE(from_target, INVALID_SOCKET);
  long target_before = descriptors_of(*target);
  long idle_before = descriptors_of(*idle_target);
  ASSERT_GT(target_before, 0);
  ASSERT_GT(idle_before, 0);

  // Between two unprivileged users, in either direction, initialised or
  // not: refused at the source, before anything is sent.
  EXPECT_EQ(other_source->call("duplicate 0 " + std::to_string(target->pid())),
            error_reply(WSAEINVAL));
  EXPECT_EQ(
      other_source->call("duplicate 0 " + std::to_string(idle_target->pid())),
      error_reply(WSAEINVAL));
  EXPECT_EQ(target->call("duplicate 0 " + std::to_string(other_source->pid())),
            error_reply(WSAEINVAL));
  // Nor to root: it could not enter root's directory to push, and root
  // has no pull path from it.
  EXPECT_EQ(target->call("duplicate 0 " + std::to_string(current_pid())),
            error_reply(WSAEINVAL));

  // Tokens root made for its own processes, stolen or rewritten to name the
  // other user's process: refused there.
  std::unique_ptr<Peer> root_target = Peer::start();
  std::unique_ptr<Peer> root_idle = Peer::start(false);
  ASSERT_TRUE(root_target && root_idle);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA push_token;
  WSAPROTOCOL_INFOA pull_token;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, root_target->pid(), &push_token),
            0);
  ASSERT_EQ(WSADuplicateSocketA(pair.server, root_idle->pid(), &pull_token), 0);
  ASSERT_EQ(token_kind(push_token), kPushToken);
  ASSERT_EQ(token_kind(pull_token), kPullToken);
  EXPECT_EQ(target->call("import A", token_bytes(push_token)),
            error_reply(WSAEINVAL));
  EXPECT_EQ(target->call("import A", token_bytes(pull_token)),
            error_reply(WSAEINVAL));
  EXPECT_EQ(target->call("import A",
                         token_bytes(retargeted(push_token, target->pid()))),
            error_reply(WSAEINVAL));
  EXPECT_EQ(target->call("import A",
                         token_bytes(retargeted(pull_token, target->pid()))),
            error_reply(WSAEINVAL));
  EXPECT_EQ(descriptors_of(*target), target_before)
      << "a descriptor reached another user's process";
  EXPECT_EQ(descriptors_of(*idle_target), idle_before)
      << "a descriptor reached another user's process";

  // The rightful targets are unaffected.
  EXPECT_EQ(root_target->call("import A", token_bytes(push_token)), "ok 0");
  EXPECT_EQ(root_idle->call("startup"), "ok");
  EXPECT_EQ(root_idle->call("import A", token_bytes(pull_token)), "ok 0");
  EXPECT_EQ(root_target->call("send 0 push"), "ok");
  EXPECT_EQ(root_idle->call("send 0 pull"), "ok");
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 8, &got));
  EXPECT_NE(got.find("push"), std::string::npos) << got;
  EXPECT_NE(got.find("pull"), std::string::npos) << got;
  EXPECT_EQ(other_source->finish(), 0);
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(idle_target->finish(), 0);
  EXPECT_EQ(root_target->finish(), 0);
  EXPECT_EQ(root_idle->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_EQ(closesocket(from_other), 0);
  EXPECT_EQ(closesocket(from_target), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(CrossUser, AnotherUserCannotEnterTheRendezvousDirectoryOrUseAnAgent) {
  Session session;
  ASSERT_TRUE(session.ok());
  // The directory this process made for itself is private.
  std::string own = directory_of(0);
  struct stat status;
  ASSERT_EQ(lstat(own.c_str(), &status), 0) << own;
  EXPECT_TRUE(S_ISDIR(status.st_mode));
  EXPECT_EQ(status.st_uid, 0u);
  EXPECT_EQ(status.st_mode & 0777, 0700u);
  std::string own_name = agent_name(own, current_pid());
  ASSERT_EQ(lstat(own_name.c_str(), &status), 0) << own_name;

  std::unique_ptr<Peer> prober = prober_as(nobody_);
  ASSERT_TRUE(prober);
  std::string denied = error_reply(EACCES);
  EXPECT_EQ(prober->call("list " + own), denied);
  EXPECT_EQ(prober->call("connect " + own_name), denied);

  // A pull token pending in this process, for a process of this user.
  std::unique_ptr<Peer> root_idle = Peer::start(false);
  ASSERT_TRUE(root_idle);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA pull_token;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, root_idle->pid(), &pull_token), 0);
  ASSERT_EQ(token_kind(pull_token), kPullToken);
  std::string stolen = nonce_text(token_nonce(pull_token));
  EXPECT_EQ(prober->call("pull " + own_name + " " + stolen), denied);

  // Behind the directory, the agents check too. Opened by mistake (an
  // administrator's chmod), root's agent serves any user (root may hand to
  // anyone) but only to the token's target process; another unprivileged
  // user's agent drops the connection unread.
  ASSERT_EQ(chmod(own.c_str(), 0711), 0);
  ASSERT_EQ(chmod(own_name.c_str(), 0777), 0);
  EXPECT_EQ(prober->call("pull " + own_name + " " + stolen),
            "reply " + std::to_string(WSAEINVAL) + " 0");
  ASSERT_EQ(chmod(own.c_str(), 0700), 0);

  std::unique_ptr<Peer> other_source = peer_as(second_, true);
  std::unique_ptr<Peer> other_idle = peer_as(second_, false);
  ASSERT_TRUE(other_source && other_idle);
  unsigned short port = 0;
  SOCKET listener = make_listener(AF_INET, &port);
  ASSERT_NE(listener, INVALID_SOCKET);
  SOCKET server = other_source->connect_from_peer(listener, AF_INET, port);
  ASSERT_NE(server, INVALID_SOCKET);
  WSAPROTOCOL_INFOA other_token;
  ASSERT_TRUE(token_from_reply(
      other_source->call("duplicate 0 " + std::to_string(other_idle->pid())),
      &other_token));
  ASSERT_EQ(token_kind(other_token), kPullToken);
  std::string other_dir = directory_of(second_.uid);
  std::string other_name = agent_name(other_dir, other_source->pid());
  std::string other_nonce = nonce_text(token_nonce(other_token));
  EXPECT_EQ(prober->call("list " + other_dir), denied);
  EXPECT_EQ(prober->call("pull " + other_name + " " + other_nonce), denied);
  ASSERT_EQ(chmod(other_dir.c_str(), 0711), 0);
  ASSERT_EQ(chmod(other_name.c_str(), 0777), 0);
  EXPECT_EQ(prober->call("pull " + other_name + " " + other_nonce), "dropped");
  ASSERT_EQ(chmod(other_dir.c_str(), 0700), 0);
  EXPECT_EQ(prober->finish(), 0);

  // The rightful targets are unaffected.
  EXPECT_EQ(root_idle->call("startup"), "ok");
  EXPECT_EQ(root_idle->call("import A", token_bytes(pull_token)), "ok 0");
  EXPECT_EQ(other_idle->call("startup"), "ok");
  EXPECT_EQ(other_idle->call("import A", token_bytes(other_token)), "ok 0");
  EXPECT_EQ(root_idle->call("send 0 root"), "ok");
  EXPECT_EQ(other_idle->call("send 0 other"), "ok");
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 4, &got));
  EXPECT_EQ(got, "root");
  EXPECT_TRUE(recv_exact(server, 5, &got));
  EXPECT_EQ(got, "other");
  EXPECT_EQ(root_idle->finish(), 0);
  EXPECT_EQ(other_idle->finish(), 0);
  EXPECT_EQ(other_source->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
  EXPECT_EQ(closesocket(server), 0);
  EXPECT_EQ(closesocket(listener), 0);
}

TEST_F(CrossUser, ADirectoryNotPrivateToThisUserIsRefusedWithWSASYSNOTREADY) {
  std::unique_ptr<Peer> squatter = prober_as(nobody_);
  ASSERT_TRUE(squatter);
  std::string expected = directory_of(0);
  auto clear = [&] { remove_tree(expected); };
  auto refused = [&](const std::string& what) {
    WSADATA data;
    int status = WSAStartup(MAKEWORD(2, 2), &data);
    EXPECT_EQ(status, WSASYSNOTREADY) << what;
    if (status == 0) {
      WSACleanup();
      return;
    }
    // Not initialised: nothing can be duplicated into anything.
    SOCKET s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    WSAPROTOCOL_INFOA info;
    EXPECT_EQ(WSADuplicateSocketA(s, current_pid(), &info), SOCKET_ERROR)
        << what;
    EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED) << what;
    close(s);
  };
  std::string ok = "ok";
  // (The helpers' own start-up, as root, may have made it already.)
  clear();

  // Another user made the directory first: private to it, or open.
  ASSERT_EQ(squatter->call("mkdir " + expected + " 700"), ok);
  ASSERT_EQ(squatter->call("listen " + agent_name(expected, current_pid())),
            ok);
  refused("another user's private directory at the expected name");
  EXPECT_EQ(squatter->call("accepted"), "none");
  clear();
  ASSERT_EQ(squatter->call("mkdir " + expected + " 777"), ok);
  refused("another user's open directory");
  EXPECT_EQ(squatter->call("list " + expected), "ok 0")
      << "something was made in it";
  clear();
  // A symbolic link, to the other user's directory or even to one private
  // to this user: never followed.
  std::string theirs = scratch_.tmp() + "/theirs";
  ASSERT_EQ(squatter->call("mkdir " + theirs + " 700"), ok);
  ASSERT_EQ(squatter->call("symlink " + theirs + " " + expected), ok);
  refused("a link to another user's directory");
  clear();
  std::string mine = scratch_.base() + "/mine";
  ASSERT_EQ(mkdir(mine.c_str(), 0700), 0);
  ASSERT_EQ(squatter->call("symlink " + mine + " " + expected), ok);
  refused("another user's link to a directory private to this user");
  clear();
  ASSERT_EQ(symlink(mine.c_str(), expected.c_str()), 0);
  refused("this user's own link to its private directory");
  clear();
  ASSERT_EQ(squatter->call("file " + expected), ok);
  refused("a file at the expected name");
  clear();
  // This user's own directory, left open to group or others.
  for (mode_t mode : {0755, 0750, 0705, 0701, 0710, 0770, 0707}) {
    ASSERT_EQ(mkdir(expected.c_str(), 0700), 0);
    ASSERT_EQ(chmod(expected.c_str(), mode), 0);
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%o", static_cast<unsigned>(mode));
    refused(std::string("this user's directory with mode ") + octal);
    clear();
  }

  // WSADUP_RUNTIME_DIR naming another user's directory.
  {
    ScopedEnvironment environment;
    environment.set("WSADUP_RUNTIME_DIR", theirs);
    ASSERT_EQ(squatter->call("listen " + agent_name(theirs, current_pid())),
              ok);
    refused("WSADUP_RUNTIME_DIR owned by another user");
    EXPECT_EQ(squatter->call("accepted"), "none");
  }

  // XDG_RUNTIME_DIR of another user (a process that dropped privileges
  // keeps it, or was given one): not used, even with a wsadup directory
  // ready in it; the temp directory is used instead.
  std::string xdg = scratch_.tmp() + "/xdg";
  ASSERT_EQ(squatter->call("mkdir " + xdg + " 700"), ok);
  ASSERT_EQ(squatter->call("mkdir " + xdg + "/wsadup 700"), ok);
  ASSERT_EQ(
      squatter->call("listen " + agent_name(xdg + "/wsadup", current_pid())),
      ok);
  {
    ScopedEnvironment environment;
    environment.set("XDG_RUNTIME_DIR", xdg);
    Session session;
    EXPECT_TRUE(session.ok());
    struct stat status;
    EXPECT_EQ(lstat(agent_name(expected, current_pid()).c_str(), &status), 0)
        << "the agent is not in the temp directory";
    // A handoff to itself goes through its own, private directory.
    TcpPair pair;
    ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
    WSAPROTOCOL_INFOA info;
    ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &info), 0);
    SOCKET imported = import_token(&info);
    EXPECT_NE(imported, INVALID_SOCKET);
    EXPECT_EQ(closesocket(imported), 0);
    EXPECT_EQ(closesocket(pair.server), 0);
    EXPECT_EQ(closesocket(pair.client), 0);
  }
  EXPECT_EQ(squatter->call("accepted"), "none");

  // With the squats gone, the same process starts normally.
  {
    Session session;
    EXPECT_TRUE(session.ok());
  }
  EXPECT_EQ(squatter->finish(), 0);
}

TEST_F(CrossUser,
       RootHandsToAnotherUsersInitialisedProcessThroughItsPrivateDirectory) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = peer_as(nobody_, true);
  // A worker a privileged parent forked and dropped without exec'ing: the
  // kernel makes it not dumpable, which hides most of /proc/<pid> from
  // its own user but not its owner or its environment from root.
  std::string greeting;
  std::unique_ptr<Peer> worker = Peer::adopt(
      spawn_as(nobody_, std::string(), {"peer", "init"}), &greeting);
  ASSERT_TRUE(target);
  ASSERT_TRUE(worker) << greeting;
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  long before = descriptors_of(*target);
  ASSERT_GT(before, 0);
  // The target's directory, found from its environment, must be private to
  // its user: opened, it is refused.
  std::string theirs = directory_of(nobody_.uid);
  ASSERT_EQ(chmod(theirs.c_str(), 0750), 0);
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(descriptors_of(*target), before);
  ASSERT_EQ(chmod(theirs.c_str(), 0700), 0);

  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0)
      << WSAGetLastError();
  EXPECT_EQ(token_kind(info), kPushToken);
  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, pair.client, "dropped"));
  ASSERT_EQ(WSADuplicateSocketA(pair.server, worker->pid(), &info), 0)
      << WSAGetLastError();
  EXPECT_EQ(token_kind(info), kPushToken);
  EXPECT_EQ(worker->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*worker, 0, pair.client, "forked"));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(worker->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

// Root cannot leave a pull token for another user's process: that process
// may not enter root's rendezvous directory to pull. The duplicate fails
// at once instead of handing out a token no one can redeem (and keeping
// its descriptor until WSACleanup); once the target has an agent, the push
// works.
TEST_F(CrossUser,
       RootDuplicatingForAnotherUsersProcessWithoutAnAgentIsWSAEINVAL) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> target = peer_as(nobody_, false);
  ASSERT_TRUE(target);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  size_t before = open_descriptor_count();
  long target_before = descriptors_of(*target);
  WSAPROTOCOL_INFOA info;
  EXPECT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info),
            SOCKET_ERROR)
      << "token kind " << token_kind(info);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(open_descriptor_count(), before) << "a pending descriptor was kept";
  EXPECT_EQ(descriptors_of(*target), target_before);

  EXPECT_EQ(target->call("startup"), "ok");
  ASSERT_EQ(WSADuplicateSocketA(pair.server, target->pid(), &info), 0)
      << WSAGetLastError();
  EXPECT_EQ(token_kind(info), kPushToken);
  EXPECT_EQ(target->call("import A", token_bytes(info)), "ok 0");
  EXPECT_TRUE(peer_sends_through(*target, 0, pair.client, "late"));
  EXPECT_EQ(target->finish(), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

}  // namespace

// -------------------------------------------------------------- helpers --

namespace {

// The prober: raw file-system and socket operations as whatever user it
// runs as, over the same command frames as the peer. Every reply is "ok
// ...", "err <errno>", or an outcome word.
class Prober {
 public:
  int run() {
    size_t baseline = open_descriptor_count();
    if (!helper_write_frame("pid " + std::to_string(getpid()))) return 2;
    for (;;) {
      std::string command;
      if (!helper_read_frame(&command)) return 5;
      std::istringstream words(command);
      std::string verb;
      words >> verb;
      if (verb == "exit") {
        for (int listener : listeners_) close(listener);
        size_t now = open_descriptor_count();
        helper_write_frame(now == baseline ? "ok" : "leak");
        return now == baseline ? 0 : 3;
      }
      if (!helper_write_frame(handle(verb, words))) return 5;
    }
  }

 private:
  static std::string failed() { return error_reply(errno); }

  std::string handle(const std::string& verb, std::istringstream& words) {
    std::string path;
    words >> path;
    if (verb == "list") {
      DIR* directory = opendir(path.c_str());
      if (directory == nullptr) return failed();
      size_t count = 0;
      while (dirent* entry = readdir(directory)) {
        if (std::strcmp(entry->d_name, ".") != 0 &&
            std::strcmp(entry->d_name, "..") != 0) {
          ++count;
        }
      }
      closedir(directory);
      return "ok " + std::to_string(count);
    }
    if (verb == "connect") {
      int error = 0;
      int s = connect_raw(path, &error);
      if (s < 0) return error_reply(error);
      close(s);
      return "ok";
    }
    if (verb == "pull") {
      std::string nonce;
      words >> nonce;
      int error = 0;
      int s = connect_raw(path, &error);
      if (s < 0) return error_reply(error);
      Answer answer = ask(s, kRawPull, nonce_from_text(nonce),
                          static_cast<uint32_t>(getpid()));
      close(s);
      if (answer.timed_out) return "timeout";
      if (!answer.replied) return "dropped";
      return "reply " + std::to_string(answer.reply.status) + " " +
             std::to_string(answer.descriptors);
    }
    if (verb == "mkdir") {
      std::string mode;
      words >> mode;
      mode_t bits = static_cast<mode_t>(std::strtoul(mode.c_str(), nullptr, 8));
      if (mkdir(path.c_str(), 0700) != 0 || chmod(path.c_str(), bits) != 0) {
        return failed();
      }
      return "ok";
    }
    if (verb == "symlink") {
      std::string link;
      words >> link;
      return symlink(path.c_str(), link.c_str()) == 0 ? "ok" : failed();
    }
    if (verb == "file") {
      int file =
          open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
      if (file < 0) return failed();
      close(file);
      return "ok";
    }
    if (verb == "listen") {
      int listener = listen_raw(path);
      if (listener < 0) return failed();
      listeners_.push_back(listener);
      return "ok";
    }
    if (verb == "accepted") {
      std::string seen;
      for (int listener : listeners_) {
        std::string one = drain_listener(listener);
        if (one != "none") seen += (seen.empty() ? "" : ",") + one;
      }
      return seen.empty() ? "none" : seen;
    }
    return "err unknown-command";
  }

  std::vector<int> listeners_;
};

}  // namespace
}  // namespace wsadup_test

// Drops to uid and gid, then runs a helper: exec'd from the given binary,
// or, with "-", in this very process. Arguments: uid gid binary|- helper
// [arguments...]. Exits 2 without a word when privileges could not be
// dropped.
WSADUP_TEST_HELPER(as_user) {
  if (arguments.size() < 4) return 2;
  wsadup_test::Account account{
      static_cast<uid_t>(std::strtoul(arguments[0].c_str(), nullptr, 10)),
      static_cast<gid_t>(std::strtoul(arguments[1].c_str(), nullptr, 10))};
  const std::string& binary = arguments[2];
  if (!wsadup_test::drop_privileges(account)) return 2;
  std::vector<std::string> words = {binary == "-" ? "as_user" : binary,
                                    "--wsadup-helper"};
  words.insert(words.end(), arguments.begin() + 3, arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(&word[0]);
  argv.push_back(nullptr);
  if (binary != "-") {
    // The exec'd program keeps this pid: a launcher that names its logs by
    // pid (cmake/memcheck-run.sh) tells the two stages apart by this.
    setenv("WSADUP_EXEC_STAGE", ("as_user_" + arguments[0]).c_str(), 1);
    execv(binary.c_str(), argv.data());
    return 126;
  }
  int exit_code = 2;
  wsadup_test::run_helper_from_command_line(static_cast<int>(words.size()),
                                            argv.data(), &exit_code);
  return exit_code;
}

WSADUP_TEST_HELPER(prober) {
  wsadup_test::Prober prober;
  return prober.run();
}

#if defined(__linux__) && defined(SYS_clone3)
// Listens at <directory>/<own pid>.sock, leaves the listener to a child and
// exits. The child says "listening <pid>", then answers "drain" with what
// reached the listener, and exits on "exit" or when the test goes away.
WSADUP_TEST_HELPER(orphaned_listener) {
  if (arguments.empty()) return 2;
  int listener = wsadup_test::listen_raw(
      wsadup_test::agent_name(arguments[0], static_cast<uint32_t>(getpid())));
  if (listener < 0) return 2;
  std::string hello = "listening " + std::to_string(getpid());
  pid_t child = fork();
  if (child != 0) return child > 0 ? 0 : 2;
  wsadup_test::helper_write_frame(hello);
  for (;;) {
    std::string command;
    if (!wsadup_test::helper_read_frame(&command) || command == "exit") break;
    wsadup_test::helper_write_frame(wsadup_test::drain_listener(listener));
  }
  close(listener);
  _exit(0);
}

// Runs a helper in a child that gets the given pid (clone3 with set_tid,
// which needs CAP_SYS_ADMIN), waits for it and exits with its code. Says
// "unavailable <errno>" when the pid cannot be had. The child runs the
// helper in place rather than exec'ing this binary, whose start-up calls
// WSAStartup once and would clear the very name the test is about.
WSADUP_TEST_HELPER(with_pid) {
  if (arguments.size() < 2) return 2;
  pid_t wanted =
      static_cast<pid_t>(std::strtol(arguments[0].c_str(), nullptr, 10));
  std::vector<std::string> words = {"with_pid", "--wsadup-helper"};
  words.insert(words.end(), arguments.begin() + 1, arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(&word[0]);
  argv.push_back(nullptr);
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
        stack_size, tls, set_tid, set_tid_size, cgroup;
  } clone_arguments{};
  clone_arguments.exit_signal = SIGCHLD;
  clone_arguments.set_tid = reinterpret_cast<uintptr_t>(&wanted);
  clone_arguments.set_tid_size = 1;
  long child = syscall(SYS_clone3, &clone_arguments, sizeof(clone_arguments));
  if (child == 0) {
    int exit_code = 2;
    wsadup_test::run_helper_from_command_line(static_cast<int>(words.size()),
                                              argv.data(), &exit_code);
    _exit(exit_code);
  }
  if (child < 0) {
    wsadup_test::helper_write_frame("unavailable " + std::to_string(errno));
    return 0;
  }
  int status = 0;
  while (waitpid(static_cast<pid_t>(child), &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
#endif

#endif  // !defined(_WIN32)
