// The caller's side of a handoff: push a descriptor into another process's
// agent, or pull one from the agent that keeps it.
//
// Push connections are kept and reused while the target lives, so a
// steady-state handoff is one sendmsg and one recvmsg here. A cached
// connection whose target exited fails its send at once (EPIPE); the push is
// then retried once on a fresh connection, which finds whether the pid has a
// new agent, or none.
//
// The posted push (the default; WSADUP_OPTION_POSTED_PUSH 1) goes over a
// second kind of cached connection, a mailbox, on which the target's agent
// never answers: it returns as soon as the kernel has queued the descriptor
// there, and never waits for the target, not even on first contact (the
// connect completes in the kernel, and the MAILBOX message that makes it a
// mailbox is queued right before the first push, unanswered). The
// acknowledged push (option 0) waits for the target's agent to answer.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <utility>

#include "errno_table.h"
#include "posix/internal.h"

namespace wsadup::detail {
namespace {

// Bound on idle cached connections in all: the oldest is closed first, so a
// server whose workers come and go does not collect connections to the dead.
constexpr size_t kMaxIdleConnections = 64;

struct IdleConnection {
  pid_t target;
  int descriptor;
  bool mailbox;  // carries posted pushes only
  dev_t device;  // the connection's identity: the application may have
  ino_t inode;   // closed the number and reused it for a file of its own
};

bool same_file(int descriptor, dev_t device, ino_t inode) {
  struct stat status;
  return fstat(descriptor, &status) == 0 && status.st_dev == device &&
         status.st_ino == inode;
}

std::mutex g_idle_mutex;
std::deque<IdleConnection> g_idle;  // most recently used at the back
std::atomic<bool> g_posted_push{true};

int take_idle_connection(pid_t target, bool mailbox) {
  std::lock_guard<std::mutex> lock(g_idle_mutex);
  for (auto it = g_idle.rbegin(); it != g_idle.rend(); ++it) {
    if (it->target == target && it->mailbox == mailbox) {
      IdleConnection found = *it;
      g_idle.erase(std::next(it).base());
      // Closed by the application (a daemon's close_range): forgotten, not
      // closed, and a fresh connection is made.
      if (!same_file(found.descriptor, found.device, found.inode)) return -1;
      return found.descriptor;
    }
  }
  return -1;
}

void keep_idle_connection(pid_t target, int descriptor, bool mailbox) {
  struct stat status;
  if (fstat(descriptor, &status) != 0) {
    close(descriptor);
    return;
  }
  int evicted = -1;
  {
    std::lock_guard<std::mutex> lock(g_idle_mutex);
    g_idle.push_back(IdleConnection{target, descriptor, mailbox,
                                    status.st_dev, status.st_ino});
    if (g_idle.size() > kMaxIdleConnections) {
      evicted = g_idle.front().descriptor;
      g_idle.pop_front();
    }
  }
  if (evicted >= 0) close(evicted);
}

// Bounds every wait on this connection: an agent that never answers costs
// the caller kReplyTimeoutMs, not a hang.
void bound_waits(int connection) {
  timeval timeout{};
  timeout.tv_sec = kReplyTimeoutMs / 1000;
  timeout.tv_usec = (kReplyTimeoutMs % 1000) * 1000;
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

// An agent answers with one of the codes it is written to send; anything
// else (from a process posing as an agent) must not become the caller's
// error as it stands.
int agent_status(uint32_t status) {
  switch (status) {
    case 0:
    case WSAEINVAL:
    case WSAENOBUFS:
    case WSAEMFILE:
      return static_cast<int>(status);
    default:
      return WSAENETDOWN;
  }
}

bool is_dead_connection_error(int error) {
  return error == EPIPE || error == ECONNRESET || error == ENOTCONN;
}

// Reads one reply for nonce. A reply with an all-zero nonce is the agent
// refusing the connection itself (it was out of descriptors). Returns 0 and
// fills *reply, or WSAENETDOWN when no well-formed reply came in time.
int await_reply(int connection, const Nonce& nonce, WireMessage* reply,
                int* received, bool* rights_truncated) {
  *rights_truncated = false;
  ReceiveResult result = receive_message(connection, reply, received, 0);
  if (result == ReceiveResult::kRightsTruncated) {
    *rights_truncated = true;
  } else if (result != ReceiveResult::kMessage) {
    return WSAENETDOWN;
  }
  bool refused = reply->nonce == Nonce{} && reply->status != 0;
  if (reply->type != static_cast<uint16_t>(MessageType::kReply) ||
      (reply->nonce != nonce && !refused)) {
    if (*received >= 0) close(*received);
    *received = -1;
    return WSAENETDOWN;
  }
  return 0;
}

// The status of a refusal already queued on connection, or 0 if none.
int read_refusal(int connection) {
  WireMessage reply;
  int received = -1;
  ReceiveResult result =
      receive_message(connection, &reply, &received, MSG_DONTWAIT);
  if (received >= 0) close(received);
  if (result == ReceiveResult::kMessage &&
      reply.type == static_cast<uint16_t>(MessageType::kReply) &&
      reply.nonce == Nonce{}) {
    return agent_status(reply.status);
  }
  return 0;
}

// A connection to target's agent: a cached one of the kind asked for, else a
// new one. A cached connection proves its target alive; a new one is only
// made to a process this user may reach, which includes one whose cached
// connection just failed. Returns it, with *reused saying which, or -1 with
// *no_agent set (target has no agent) or *error set (WSAEINVAL: not a
// process this user may reach).
int agent_connection(pid_t target, bool mailbox, bool* reused, bool* no_agent,
                     int* error) {
  int connection = take_idle_connection(target, mailbox);
  *reused = connection >= 0;
  if (*reused) return connection;
  if (!process_reachable(target)) {
    *error = WSAEINVAL;
    return -1;
  }
  connection = connect_to_agent(target, no_agent, error);
  if (connection >= 0) bound_waits(connection);
  return connection;
}

// Posts descriptor to target's agent under nonce, without waiting for the
// target. Returns 0 once the kernel queued it on a mailbox (or with
// *no_agent when target has no agent: the caller keeps it for a pull), or
// at once WSAENOBUFS when the mailbox is full (the target has not imported
// what it holds) or the target's listener queue is, WSAEINVAL when target is
// not a process this user may reach, WSAENETDOWN when its agent went away
// mid-call.
int post_descriptor(pid_t target, int descriptor, const Nonce& nonce,
                    bool* no_agent) {
  WireMessage push = make_message(MessageType::kPush, nonce, 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    int error = 0;
    int connection =
        agent_connection(target, /*mailbox=*/true, &reused, no_agent, &error);
    if (connection < 0) return *no_agent ? 0 : error;
    int sent = 0;
    if (!reused) {
      Nonce tag;
      sent = make_nonce(&tag) != 0
                 ? ENOBUFS
                 : send_message(connection,
                                make_message(MessageType::kMailbox, tag, 0), -1,
                                MSG_DONTWAIT);
    }
    if (sent == 0) sent = send_message(connection, push, descriptor, MSG_DONTWAIT);
    // EAGAIN: the mailbox is full. ETOOMANYREFS: this user has as many
    // descriptors in flight as its RLIMIT_NOFILE. Either way the mailbox
    // stays good for later posts.
    if (sent == 0 || sent == EAGAIN || sent == EWOULDBLOCK ||
        sent == ETOOMANYREFS) {
      keep_idle_connection(target, connection, /*mailbox=*/true);
      return sent == 0 ? 0 : WSAENOBUFS;
    }
    close(connection);
    // A cached mailbox whose agent is gone (the target exited or cleaned
    // up): try once more, which finds a new agent, or none.
    if (!is_dead_connection_error(sent)) return WSAENETDOWN;
  }
  return WSAENETDOWN;
}

}  // namespace

void set_posted_push(bool enabled) {
  g_posted_push.store(enabled, std::memory_order_relaxed);
}

bool posted_push() { return g_posted_push.load(std::memory_order_relaxed); }

bool process_reachable(pid_t pid) {
  if (kill(pid, 0) == 0) return true;
  return errno == EPERM && geteuid() == 0;
}

int push_descriptor(pid_t target, int descriptor, const Nonce& nonce,
                    bool* no_agent) {
  *no_agent = false;
  if (posted_push()) return post_descriptor(target, descriptor, nonce, no_agent);
  WireMessage push = make_message(MessageType::kPush, nonce, 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    int error = 0;
    int connection =
        agent_connection(target, /*mailbox=*/false, &reused, no_agent, &error);
    if (connection < 0) return *no_agent ? 0 : error;
    int sent = send_message(connection, push, descriptor);
    if (sent != 0) {
      // An agent out of descriptors answers a new connection with a refusal
      // and closes it, possibly before our push went out: read its reason.
      int refusal = reused ? 0 : read_refusal(connection);
      close(connection);
      if (refusal != 0) return refusal;
      if (reused && is_dead_connection_error(sent)) continue;
      return translate_errno(sent) == WSAEMFILE ? WSAEMFILE : WSAENETDOWN;
    }
    WireMessage reply;
    int received = -1;
    bool truncated = false;
    int status = await_reply(connection, nonce, &reply, &received, &truncated);
    if (received >= 0) close(received);  // replies to a push carry none
    if (status != 0) {
      // A reset reported first may hide a queued refusal behind it.
      int refusal = reused ? 0 : read_refusal(connection);
      close(connection);
      return refusal != 0 ? refusal : status;
    }
    if (reply.nonce == Nonce{}) {
      close(connection);  // refused at accept; the agent closed it
    } else {
      keep_idle_connection(target, connection, /*mailbox=*/false);
    }
    return agent_status(reply.status);
  }
  return WSAENETDOWN;
}

int pull_descriptor(pid_t source, const Nonce& nonce, int* error) {
  bool no_agent = false;
  int connection = connect_to_agent(source, &no_agent, error);
  if (connection < 0) {
    // The source exited or called WSACleanup: what it kept is gone with it.
    if (no_agent) *error = WSAEINVAL;
    return -1;
  }
  bound_waits(connection);
  int received = -1;
  int status = send_message(connection, make_message(MessageType::kPull, nonce, 0), -1);
  WireMessage reply;
  bool truncated = false;
  if (status != 0) {
    status = translate_errno(status) == WSAEMFILE ? WSAEMFILE : WSAENETDOWN;
  } else {
    status = await_reply(connection, nonce, &reply, &received, &truncated);
  }
  if (status == 0 && reply.status != 0) status = agent_status(reply.status);
  if (status == 0 && (truncated || received < 0)) {
    // Lent to us but not received (out of descriptors): give it back so the
    // token stays good for another try.
    send_message(connection,
                 make_message(MessageType::kCommit, nonce, WSAEMFILE), -1);
    await_reply(connection, nonce, &reply, &received, &truncated);
    if (received >= 0) close(received);
    received = -1;
    status = WSAEMFILE;
  }
  if (status == 0) {
    // Commit, and wait until the source has closed its own reference.
    send_message(connection, make_message(MessageType::kCommit, nonce, 0), -1);
    int ignored = -1;
    await_reply(connection, nonce, &reply, &ignored, &truncated);
    if (ignored >= 0) close(ignored);
  }
  close(connection);
  if (status != 0) {
    if (received >= 0) close(received);
    *error = status;
    return -1;
  }
  return received;
}

void close_cached_connections() {
  std::deque<IdleConnection> idle;
  {
    std::lock_guard<std::mutex> lock(g_idle_mutex);
    idle.swap(g_idle);
  }
  for (const IdleConnection& connection : idle) {
    if (same_file(connection.descriptor, connection.device, connection.inode)) {
      close(connection.descriptor);
    }
  }
}

std::mutex& idle_connections_mutex() { return g_idle_mutex; }

void forget_cached_connections_after_fork() {
  // The child closes its copies; the connections remain the parent's.
  for (const IdleConnection& connection : g_idle) close(connection.descriptor);
  g_idle.clear();
}

}  // namespace wsadup::detail
