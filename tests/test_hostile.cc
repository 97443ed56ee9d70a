// Hostile input on the agent's rendezvous socket: garbage, a truncated or
// oversized message, a wrong version, extra descriptors, a client that sends
// nothing. The agent drops each bad connection and keeps serving everyone.
#if !defined(_WIN32)
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "raw_wire.h"
#include "support.h"

namespace wsadup_test {
namespace {

// Points WSADUP_RUNTIME_DIR at a fresh private directory for the scope, so
// the test knows where this process's agent listens.
class PrivateRuntimeDirectory {
 public:
  PrivateRuntimeDirectory() {
    char pattern[] = "/tmp/wsadup-test-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
    setenv("WSADUP_RUNTIME_DIR", path_.c_str(), 1);
  }
  ~PrivateRuntimeDirectory() {
    unsetenv("WSADUP_RUNTIME_DIR");
    rmdir(path_.c_str());
  }
  std::string agent_path() const {
    return path_ + "/" + std::to_string(getpid()) + ".sock";
  }

 private:
  std::string path_;
};

// True when the agent closes the connection within the bound.
bool agent_drops(int s) {
  pollfd waiting{s, POLLIN, 0};
  if (poll(&waiting, 1, kProcessTimeoutMs) <= 0) return false;
  char buffer[64];
  for (;;) {
    ssize_t got = recv(s, buffer, sizeof(buffer), 0);
    if (got == 0) return true;  // end of stream: dropped
    if (got < 0) return errno == ECONNRESET;
    // A refusal reply may come first; the close must follow it.
    if (poll(&waiting, 1, kProcessTimeoutMs) <= 0) return false;
  }
}

using HostileInput = ConformanceTest;

TEST_F(HostileInput, AgentDropsBadClientsAndKeepsServingEveryoneElse) {
  PrivateRuntimeDirectory directory;
  Session session;
  ASSERT_TRUE(session.ok());
  std::string path = directory.agent_path();

  // A client that connects and sends nothing stays connected throughout.
  int silent = connect_raw(path);
  ASSERT_GE(silent, 0);

  int garbage = connect_raw(path);
  ASSERT_GE(garbage, 0);
  char noise[40];
  for (size_t i = 0; i < sizeof(noise); ++i) noise[i] = static_cast<char>(i * 37 + 11);
  ASSERT_EQ(send(garbage, noise, sizeof(noise), 0), 40);
  EXPECT_TRUE(agent_drops(garbage)) << "garbage";
  close(garbage);

  RawMessage header;
  int truncated = connect_raw(path);
  ASSERT_GE(truncated, 0);
  ASSERT_EQ(send(truncated, &header, 10, 0), 10);
  EXPECT_TRUE(agent_drops(truncated)) << "truncated header";
  close(truncated);

  int oversized = connect_raw(path);
  ASSERT_GE(oversized, 0);
  std::string big(4096, 'x');
  std::memcpy(&big[0], &header, sizeof(header));
  ASSERT_EQ(send(oversized, big.data(), big.size(), 0), 4096);
  EXPECT_TRUE(agent_drops(oversized)) << "oversized message";
  close(oversized);

  RawMessage wrong_version;
  wrong_version.version = 99;
  int versioned = connect_raw(path);
  ASSERT_GE(versioned, 0);
  ASSERT_EQ(send(versioned, &wrong_version, sizeof(wrong_version), 0), 40);
  EXPECT_TRUE(agent_drops(versioned)) << "wrong version";
  close(versioned);

  RawMessage wrong_length;
  wrong_length.length = 0xffffffff;
  int lying = connect_raw(path);
  ASSERT_GE(lying, 0);
  ASSERT_EQ(send(lying, &wrong_length, sizeof(wrong_length), 0), 40);
  EXPECT_TRUE(agent_drops(lying)) << "length field that lies";
  close(lying);

  // A push carrying two descriptors: both are closed by the agent, not kept.
  int extra = connect_raw(path);
  ASSERT_GE(extra, 0);
  int two[2] = {open("/dev/null", O_RDONLY | O_CLOEXEC),
                open("/dev/null", O_RDONLY | O_CLOEXEC)};
  iovec data{&header, sizeof(header)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(two))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(two));
  std::memcpy(CMSG_DATA(rights), two, sizeof(two));
  ASSERT_EQ(sendmsg(extra, &message, 0), 40);
  close(two[0]);
  close(two[1]);
  EXPECT_TRUE(agent_drops(extra)) << "two descriptors";
  close(extra);

  // A client that disappears right after connecting.
  int vanished = connect_raw(path);
  ASSERT_GE(vanished, 0);
  close(vanished);

  // Through all of that, and with the silent client still connected, the
  // agent serves a real handoff promptly.
  EXPECT_TRUE(handoff_to_self_works());
  close(silent);
}

}  // namespace
}  // namespace wsadup_test
#endif
