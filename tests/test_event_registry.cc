// The POSIX mechanism behind one registration per socket (POSIX only): the
// shared record's crash handling, descriptor reuse, closesocket, and a
// registry file that is not what it should be. The Winsock-level behaviour
// is in test_event_select.cc and runs on both legs.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "posix/event_registry.h"
#include "posix/internal.h"
#include "support.h"

namespace wsadup_test {
namespace {

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

uint64_t cookie_of(SOCKET s) {
  uint64_t cookie = 0;
  socklen_t length = sizeof cookie;
  getsockopt(s, SOL_SOCKET, SO_COOKIE, &cookie, &length);
  return cookie;
}

wsadup::detail::Registry* registry() {
  int error = 0;
  return wsadup::detail::process_registry(&error);
}

bool signalled_within(WSAEVENT event, DWORD ms) {
  return WSAWaitForMultipleEvents(1, &event, FALSE, ms, FALSE) ==
         WSA_WAIT_EVENT_0;
}

// Says "started" once initialised (a token sent before then could land on
// the agent of the harness's warm-up start, which its WSACleanup closes),
// imports the socket whose token is the next frame, registers it for
// FD_READ, says "registered", then does what the next frame says:
//   hold    takes the registry's lock, says "holding", and waits to be killed
//   change  takes the lock, starts changing the socket's record, and exits
//           at once (dying in the middle of a change)
WSADUP_TEST_HELPER(registrant) {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (!helper_write_frame("started")) return 5;
  std::string bytes;
  WSAPROTOCOL_INFOA token;
  if (!helper_read_frame(&bytes) || !token_from_bytes(bytes, &token)) return 3;
  SOCKET s = import_token(&token);
  if (s == INVALID_SOCKET) {
    return helper_write_frame("import " + std::to_string(WSAGetLastError()))
               ? 4 : 5;
  }
  WSAEVENT event = WSACreateEvent();
  if (event == WSA_INVALID_EVENT || WSAEventSelect(s, event, FD_READ) != 0) {
    return helper_write_frame("select " + std::to_string(WSAGetLastError()))
               ? 4 : 5;
  }
  if (!helper_write_frame("registered")) return 5;
  std::string command;
  if (!helper_read_frame(&command)) return 6;
  wsadup::detail::Registry* shared = registry();
  if (shared == nullptr || shared->lock() != 0) return 7;
  if (command == "hold") {
    helper_write_frame("holding");
    helper_read_frame(&command);  // killed while waiting here
    return 8;
  }
  wsadup::detail::RegistryRecord* record = shared->find(cookie_of(s));
  if (record == nullptr) return 9;
  shared->begin_change(record);
  record->mask = 0xFFFF;  // half-changed: nonsense if it survived
  _exit(0);
}

// The child's next frame, or what became of it.
std::string next_frame(ChildProcess& child) {
  std::string reply;
  if (read_frame(child, &reply)) return reply;
  return "no frame; exit code " + std::to_string(child.wait(kProcessTimeoutMs));
}

class RegistryCrash : public ConformanceTest {};

TEST_F(RegistryCrash, ARegistrantKilledHoldingTheLockNeverBlocksTheOthers) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  auto child = ChildProcess::spawn("registrant", {});
  ASSERT_TRUE(child);
  ASSERT_EQ(next_frame(*child), "started");
  ASSERT_TRUE(write_frame(*child, duplicate_for(pair.server, child->pid())));
  ASSERT_EQ(next_frame(*child), "registered");
  ASSERT_TRUE(write_frame(*child, "hold"));
  ASSERT_EQ(next_frame(*child), "holding");
  child->kill();

  // The lock its holder died with is taken over, and this process's
  // registration replaces the dead one's.
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  ASSERT_EQ(WSAEventSelect(pair.server, event, FD_READ), 0)
      << WSAGetLastError();
  ASSERT_EQ(send(pair.client, "x", 1, 0), 1);
  EXPECT_TRUE(signalled_within(event, 5000));
  WSANETWORKEVENTS events;
  std::memset(&events, 0xAB, sizeof events);
  ASSERT_EQ(WSAEnumNetworkEvents(pair.server, event, &events), 0);
  EXPECT_EQ(events.lNetworkEvents, FD_READ);
  EXPECT_EQ(events.iErrorCode[FD_READ_BIT], 0);
  EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(pair.server);  // accepted: not closed by WSACleanup
}

TEST_F(RegistryCrash, ARegistrantDyingMidChangeLeavesTheSocketUnregistered) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  auto child = ChildProcess::spawn("registrant", {});
  ASSERT_TRUE(child);
  ASSERT_EQ(next_frame(*child), "started");
  ASSERT_TRUE(write_frame(*child, duplicate_for(pair.server, child->pid())));
  ASSERT_EQ(next_frame(*child), "registered");
  // Registered by the other process: blocking mode is refused here too.
  ULONG blocking = 0;
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &blocking), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  ASSERT_TRUE(write_frame(*child, "change"));
  EXPECT_EQ(child->wait(kProcessTimeoutMs), 0);

  // The record it was changing is reset, not trusted: no registration.
  EXPECT_EQ(ioctlsocket(pair.server, FIONBIO, &blocking), 0)
      << WSAGetLastError();
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  ASSERT_EQ(WSAEventSelect(pair.server, event, FD_READ), 0);
  ASSERT_EQ(send(pair.client, "x", 1, 0), 1);
  EXPECT_TRUE(signalled_within(event, 5000));
  EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(pair.server);  // accepted: not closed by WSACleanup
}

class RegistryReuse : public ConformanceTest {};

TEST_F(RegistryReuse, ARawCloseEndsTheRegistrationAndTheReusedNumberGetsNone) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair old_pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &old_pair));
  // A second descriptor keeps the old socket alive after the close below,
  // as a duplicate in another process would.
  int keeper = dup(old_pair.server);
  ASSERT_GE(keeper, 0);
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  ASSERT_EQ(WSAEventSelect(old_pair.server, event, FD_READ | FD_CLOSE), 0);
  int number = old_pair.server;
  ASSERT_EQ(close(number), 0);  // the system's close, not closesocket
  TcpPair new_pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &new_pair));
  // The number now names the new connection's accepted end.
  ASSERT_EQ(dup2(new_pair.server, number), number);
  ASSERT_EQ(close(new_pair.server), 0);
  new_pair.server = number;
  SOCKET reused = number;
  SOCKET other_end = new_pair.client;
  ASSERT_EQ(send(old_pair.client, "old", 3, 0), 3);
  ASSERT_EQ(send(other_end, "new", 3, 0), 3);
  EXPECT_FALSE(signalled_within(event, 300));
  WSANETWORKEVENTS events;
  std::memset(&events, 0xAB, sizeof events);
  ASSERT_EQ(WSAEnumNetworkEvents(reused, nullptr, &events), 0);
  EXPECT_EQ(events.lNetworkEvents, 0);
  EXPECT_EQ(events.iErrorCode[FD_READ_BIT], static_cast<int>(0xABABABAB));
  // And the old socket, still alive, is no longer registered.
  ULONG blocking = 0;
  EXPECT_EQ(ioctlsocket(keeper, FIONBIO, &blocking), 0) << WSAGetLastError();
  close(keeper);
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(old_pair.client);
  closesocket(new_pair.server);  // accepted: not closed by WSACleanup
}

class RegistryClose : public ConformanceTest {};

TEST_F(RegistryClose, ClosesocketByTheRegistrantCancelsForEveryHolder) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA token;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &token), 0);
  SOCKET other = import_token(&token);
  ASSERT_NE(other, INVALID_SOCKET);
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  ASSERT_EQ(WSAEventSelect(pair.server, event, FD_READ), 0);
  ASSERT_EQ(closesocket(pair.server), 0);
  ASSERT_EQ(send(pair.client, "x", 1, 0), 1);
  EXPECT_FALSE(signalled_within(event, 300));
  ULONG blocking = 0;
  EXPECT_EQ(ioctlsocket(other, FIONBIO, &blocking), 0) << WSAGetLastError();
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(other);
}

class RegistryBell : public ConformanceTest {};

TEST_F(RegistryBell, DatagramsOfAnyShapeAtTheBellChangeNothing) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  ASSERT_EQ(WSAEventSelect(pair.server, event, FD_READ), 0);
  std::string directory;
  ASSERT_EQ(wsadup::detail::own_rendezvous_directory(&directory), 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = directory + "/" + std::to_string(current_pid()) + ".ev";
  ASSERT_LT(path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  uint64_t cookie = cookie_of(pair.server);
  const std::string shapes[] = {
      std::string(), std::string(3, 'x'), std::string(4096, '\xff'),
      std::string(reinterpret_cast<char*>(&cookie), sizeof cookie)};
  for (const std::string& shape : shapes) {
    EXPECT_EQ(sendto(s, shape.data(), shape.size(), 0,
                     reinterpret_cast<sockaddr*>(&address), sizeof address),
              static_cast<ssize_t>(shape.size()));
  }
  close(s);
  // Nothing was recorded for them: the socket has no data.
  EXPECT_FALSE(signalled_within(event, 200));
  ASSERT_EQ(send(pair.client, "x", 1, 0), 1);
  EXPECT_TRUE(signalled_within(event, 5000));
  EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(pair.server);  // accepted: not closed by WSACleanup
}

// ------------------------------------------------------ the registry file --

// In its own runtime directory (argument 0), whose events.v1 the test has
// prepared: WSAStartup, then reports WSAEventSelect's result and whether
// a handoff to itself still works ("select=<code> handoff=<yes|no>").
WSADUP_TEST_HELPER(registry_user) {
  if (arguments.empty()) return 2;
  setenv("WSADUP_RUNTIME_DIR", arguments[0].c_str(), 1);
  size_t before = open_descriptor_count();
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 3;
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  WSAEVENT event = WSACreateEvent();
  if (s == INVALID_SOCKET || event == WSA_INVALID_EVENT) return 4;
  int select = WSAEventSelect(s, event, FD_READ) == 0 ? 0 : WSAGetLastError();
  bool handoff = handoff_to_self_works();
  closesocket(s);
  WSACloseEvent(event);
  WSACleanup();
  bool leaked = open_descriptor_count() != before;
  return helper_write_frame("select=" + std::to_string(select) +
                            " handoff=" + (handoff ? "yes" : "no") +
                            (leaked ? " leaked" : ""))
             ? 0
             : 5;
}

class RegistryFile : public ConformanceTest {
 protected:
  void SetUp() override {
    ConformanceTest::SetUp();
    char pattern[] = "/tmp/wsadup-registry-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    file_ = directory_ + "/events.v1";
  }
  void TearDown() override {
    unlink(file_.c_str());
    std::string remove = "rm -rf '" + directory_ + "'";
    EXPECT_EQ(std::system(remove.c_str()), 0);
    ConformanceTest::TearDown();
  }
  void write_file(const std::string& bytes, mode_t mode = 0600) {
    int descriptor = open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_GE(descriptor, 0);
    ASSERT_EQ(write(descriptor, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    ASSERT_EQ(fchmod(descriptor, mode), 0);
    close(descriptor);
  }
  std::string run() {
    auto child = ChildProcess::spawn("registry_user", {directory_});
    if (!child) return "not started";
    std::string reply;
    if (!read_frame(*child, &reply)) reply = "no answer";
    int code = child->wait(kProcessTimeoutMs);
    if (code != 0) reply += " exit=" + std::to_string(code);
    return reply;
  }
  std::string directory_;
  std::string file_;
};

// A file of the right size made by a real process's WSAStartup, to corrupt.
std::string registry_bytes(const std::string& directory) {
  std::ifstream in(directory + "/events.v1", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(RegistryFile, AFreshOneIsCreatedAndWorks) {
  EXPECT_EQ(run(), "select=0 handoff=yes");
  struct stat info;
  ASSERT_EQ(stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(RegistryFile, OneNeverFinishedIsWSAENETDOWNAndHandoffsGoOn) {
  ASSERT_EQ(run(), "select=0 handoff=yes");
  std::string bytes = registry_bytes(directory_);
  ASSERT_GT(bytes.size(), 32u);
  bytes[16] = 0;  // "ready" never written
  write_file(bytes);
  EXPECT_EQ(run(), "select=10050 handoff=yes");
  write_file(std::string());  // never sized
  EXPECT_EQ(run(), "select=10050 handoff=yes");
}

TEST_F(RegistryFile, ACorruptOneIsWSAENETDOWNAndHandoffsGoOn) {
  ASSERT_EQ(run(), "select=0 handoff=yes");
  std::string bytes = registry_bytes(directory_);
  ASSERT_GT(bytes.size(), 32u);
  bytes[0] ^= 0x5A;  // magic
  write_file(bytes);
  EXPECT_EQ(run(), "select=10050 handoff=yes");
}

TEST_F(RegistryFile, ATruncatedOneIsWSAENETDOWNAndHandoffsGoOn) {
  ASSERT_EQ(run(), "select=0 handoff=yes");
  std::string bytes = registry_bytes(directory_);
  write_file(bytes.substr(0, 200));
  EXPECT_EQ(run(), "select=10050 handoff=yes");
}

TEST_F(RegistryFile, OneOthersCanWriteIsWSAENETDOWN) {
  ASSERT_EQ(run(), "select=0 handoff=yes");
  ASSERT_EQ(chmod(file_.c_str(), 0666), 0);
  EXPECT_EQ(run(), "select=10050 handoff=yes");
}

TEST_F(RegistryFile, ASymlinkIsWSAENETDOWN) {
  std::string target = directory_ + "/elsewhere";
  write_file(std::string());
  ASSERT_EQ(rename(file_.c_str(), target.c_str()), 0);
  ASSERT_EQ(symlink(target.c_str(), file_.c_str()), 0);
  EXPECT_EQ(run(), "select=10050 handoff=yes");
  unlink(target.c_str());
}

TEST_F(RegistryFile, OneOwnedByAnotherUserIsWSAENETDOWN) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  ASSERT_EQ(run(), "select=0 handoff=yes");
  ASSERT_EQ(chown(file_.c_str(), 65534, 65534), 0);
  EXPECT_EQ(run(), "select=10050 handoff=yes");
}

// Fills every record of the registry in argument 0 with registrations of
// process argument 1 (alive or gone), then reports WSAEventSelect's result.
WSADUP_TEST_HELPER(fills_the_registry) {
  if (arguments.size() < 2) return 2;
  setenv("WSADUP_RUNTIME_DIR", arguments[0].c_str(), 1);
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 3;
  wsadup::detail::Registry* shared = registry();
  if (shared == nullptr || shared->lock() != 0) return 4;
  pid_t owner = static_cast<pid_t>(std::stol(arguments[1]));
  uint64_t start = wsadup::detail::process_start_time(owner);
  for (size_t i = 0; i < shared->slot_count(); ++i) {
    wsadup::detail::RegistryRecord* record = shared->insert(~0ull - i);
    if (record == nullptr) return 5;
    record->mask = FD_READ;
    record->owner_pid = owner;
    record->owner_start = start != 0 ? start : 1;
    shared->count_registration(1);
  }
  shared->unlock();
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  WSAEVENT event = WSACreateEvent();
  int select = WSAEventSelect(s, event, FD_READ) == 0 ? 0 : WSAGetLastError();
  bool handoff = handoff_to_self_works();
  closesocket(s);
  WSACloseEvent(event);
  WSACleanup();
  return helper_write_frame("select=" + std::to_string(select) +
                            " handoff=" + (handoff ? "yes" : "no"))
             ? 0
             : 6;
}

TEST_F(RegistryFile, AFullOneIsWSAENOBUFSUntilItsRegistrantsAreGone) {
  auto full = ChildProcess::spawn(
      "fills_the_registry", {directory_, std::to_string(current_pid())});
  ASSERT_TRUE(full);
  std::string reply;
  ASSERT_TRUE(read_frame(*full, &reply));
  EXPECT_EQ(reply, "select=10055 handoff=yes");
  EXPECT_EQ(full->wait(kProcessTimeoutMs), 0);

  // Registrations of a process that has exited make room.
  auto gone = ChildProcess::spawn("registry_user", {directory_});
  ASSERT_TRUE(gone);
  uint32_t gone_pid = gone->pid();
  ASSERT_TRUE(read_frame(*gone, &reply));
  ASSERT_EQ(gone->wait(kProcessTimeoutMs), 0);
  unlink(file_.c_str());
  auto refill = ChildProcess::spawn(
      "fills_the_registry", {directory_, std::to_string(gone_pid)});
  ASSERT_TRUE(refill);
  ASSERT_TRUE(read_frame(*refill, &reply));
  EXPECT_EQ(reply, "select=0 handoff=yes");
  EXPECT_EQ(refill->wait(kProcessTimeoutMs), 0);
}

}  // namespace
}  // namespace wsadup_test
