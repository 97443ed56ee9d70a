// Threads: many threads duplicating and importing at once give each token to
// exactly one import. fork: a child of an initialised process does not serve
// or disturb its parent's agent, and can itself be a source or a target.
#include <atomic>
#include <cstring>
#include <thread>

#if !defined(_WIN32)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "support.h"

namespace wsadup_test {
namespace {

using Threads = ConformanceTest;

TEST_F(Threads, ManyThreadsDuplicatingAndImportingLoseNothing) {
  Session session;
  ASSERT_TRUE(session.ok());
  constexpr int kThreads = 8;
  constexpr int kRounds = 50;
  std::atomic<int> verified{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        TcpPair pair;
        if (!make_tcp_pair(AF_INET, &pair)) {
          ++failures;
          continue;
        }
        WSAPROTOCOL_INFOA info;
        SOCKET imported = INVALID_SOCKET;
        if (WSADuplicateSocketA(pair.server, current_pid(), &info) == 0) {
          imported = import_token(&info);
        }
        std::string message = std::to_string(t * 1000 + round);
        std::string got;
        if (imported != INVALID_SOCKET && send_all(imported, message) &&
            recv_exact(pair.client, message.size(), &got) && got == message) {
          ++verified;
        } else {
          ++failures;
        }
        if (imported != INVALID_SOCKET) closesocket(imported);
        closesocket(pair.server);
        closesocket(pair.client);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(verified.load(), kThreads * kRounds);
}

TEST_F(Threads, ThreadsRacingForOneTokenExactlyOneWins) {
  Session session;
  ASSERT_TRUE(session.ok());
  if (running_under_wine()) {
    GTEST_SKIP() << "Wine imports a token more than once (docs/conformance.md)";
  }
  for (int round = 0; round < 20; ++round) {
    SOCKET s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0);
    ASSERT_NE(s, INVALID_SOCKET);
    WSAPROTOCOL_INFOA info;
    ASSERT_EQ(WSADuplicateSocketA(s, current_pid(), &info), 0);
    constexpr int kRacers = 4;
    SOCKET results[kRacers];
    std::vector<std::thread> racers;
    for (int i = 0; i < kRacers; ++i) {
      racers.emplace_back([&, i] {
        WSAPROTOCOL_INFOA copy = info;
        results[i] = import_token(&copy);
      });
    }
    for (std::thread& racer : racers) racer.join();
    int winners = 0;
    for (SOCKET result : results) {
      if (result != INVALID_SOCKET) {
        ++winners;
        closesocket(result);
      }
    }
    EXPECT_EQ(winners, 1) << "round " << round;
    closesocket(s);
  }
}

// The cross-process twin: threads of one source hand sockets to one target
// process at once; the target imports every token exactly once.
TEST_F(Threads, ThreadsHandingOffToAnotherProcessAtOnceLoseNothing) {
  Session session;
  ASSERT_TRUE(session.ok());
  std::unique_ptr<Peer> peer = Peer::start();
  ASSERT_TRUE(peer);
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<TcpPair> pairs(kThreads * kEach);
  for (TcpPair& pair : pairs) ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::vector<std::string> tokens(pairs.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kEach; i < (t + 1) * kEach; ++i) {
        WSAPROTOCOL_INFOA info;
        if (WSADuplicateSocketA(pairs[i].server, peer->pid(), &info) == 0) {
          tokens[i] = token_bytes(info);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_FALSE(tokens[i].empty()) << i;
    ASSERT_EQ(peer->call("import A", tokens[i]), "ok " + std::to_string(i));
    ASSERT_EQ(peer->call("send " + std::to_string(i) + " m" + std::to_string(i)),
              "ok");
    std::string expected = "m" + std::to_string(i);
    std::string got;
    ASSERT_TRUE(recv_exact(pairs[i].client, expected.size(), &got));
    EXPECT_EQ(got, expected);
  }
  EXPECT_EQ(peer->finish(), 0);
  for (TcpPair& pair : pairs) {
    closesocket(pair.server);
    closesocket(pair.client);
  }
}

#if !defined(_WIN32)
using Fork = ConformanceTest;

bool write_all_fd(int fd, const void* data, size_t size) {
  return write(fd, data, size) == static_cast<ssize_t>(size);
}

bool read_all_fd(int fd, void* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t got = read(fd, static_cast<char*>(data) + done, size - done);
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

int wait_child(pid_t child) {
  // The child's own steps are bounded (kProcessTimeoutMs each); it exits.
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// Forks a child that duplicates s for this process and sends the token
// back over a pipe, then exits (with 10 + its error on failure). Returns the
// child's exit code, 0 with *info filled when all went well.
int token_from_forked_child(SOCKET s, WSAPROTOCOL_INFOA* info) {
  int to_parent[2];
  if (pipe(to_parent) != 0) return -1;
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    close(to_parent[0]);
    close(to_parent[1]);
    return -1;
  }
  if (child == 0) {
    close(to_parent[0]);
    WSAPROTOCOL_INFOA made;
    int status = WSADuplicateSocketA(s, static_cast<DWORD>(parent), &made);
    bool sent = status == 0 && write_all_fd(to_parent[1], &made, sizeof(made));
    _exit(sent ? 0 : 10 + (status == 0 ? 0 : WSAGetLastError() % 50));
  }
  close(to_parent[1]);
  bool got_token = read_all_fd(to_parent[0], info, sizeof(*info));
  close(to_parent[0]);
  int exit_code = wait_child(child);
  return exit_code == 0 && !got_token ? -1 : exit_code;
}

TEST_F(Fork, ChildIsASourceForItsParentAndDoesNotDisturbTheParentsAgent) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(token_from_forked_child(pair.server, &info), 0);
  SOCKET imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  ASSERT_TRUE(send_all(imported, "from-child-token"));
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 16, &got));
  // The parent's agent still serves: a handoff to itself works after fork.
  WSAPROTOCOL_INFOA again;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &again), 0);
  SOCKET second = import_token(&again);
  EXPECT_NE(second, INVALID_SOCKET);
  EXPECT_EQ(closesocket(second), 0);
  EXPECT_EQ(closesocket(imported), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}

TEST_F(Fork, ChildIsATargetOfItsParent) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  int to_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(to_child[1]);
    WSAPROTOCOL_INFOA token;
    if (!read_all_fd(to_child[0], &token, sizeof(token))) _exit(20);
    SOCKET s = import_token(&token);
    if (s == INVALID_SOCKET) _exit(21);
    bool ok = send_all(s, "child");
    closesocket(s);
    _exit(ok ? 0 : 22);
  }
  close(to_child[0]);
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, static_cast<DWORD>(child), &info),
            0);
  ASSERT_TRUE(write_all_fd(to_child[1], &info, sizeof(info)));
  close(to_child[1]);
  std::string got;
  EXPECT_TRUE(recv_exact(pair.client, 5, &got));
  EXPECT_EQ(got, "child");
  EXPECT_EQ(wait_child(child), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
TEST_F(Fork, AForkedChildNeverRepeatsItsParentsTokens) {
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  // A handoff before fork, so whatever the parent keeps for its next tokens
  // is there to be inherited.
  WSAPROTOCOL_INFOA before;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &before), 0);
  SOCKET first = import_token(&before);
  ASSERT_NE(first, INVALID_SOCKET) << WSAGetLastError();
  WSAPROTOCOL_INFOA from_child;
  ASSERT_EQ(token_from_forked_child(pair.server, &from_child), 0);
  // The child's token waits in this process's inbox; the parent's next one
  // goes to the same inbox and must not collide with it.
  WSAPROTOCOL_INFOA after;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &after), 0)
      << WSAGetLastError();
  SOCKET second = import_token(&from_child);
  EXPECT_NE(second, INVALID_SOCKET) << WSAGetLastError();
  SOCKET third = import_token(&after);
  EXPECT_NE(third, INVALID_SOCKET) << WSAGetLastError();
  if (second != INVALID_SOCKET) EXPECT_EQ(closesocket(second), 0);
  if (third != INVALID_SOCKET) EXPECT_EQ(closesocket(third), 0);
  EXPECT_EQ(closesocket(first), 0);
  EXPECT_EQ(closesocket(pair.server), 0);
  EXPECT_EQ(closesocket(pair.client), 0);
}
#endif

}  // namespace
}  // namespace wsadup_test
