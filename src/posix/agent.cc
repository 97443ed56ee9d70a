// The per-process agent: an event loop (event_loop.h) on its own thread,
// listening on the process's rendezvous socket. It stores descriptors other processes push to
// this one (the inbox) and hands out the descriptors this process keeps for
// pull tokens (the pending table), and watches each process a pending
// entry is kept for, to release its entries when it exits. It runs no
// timers: idle, it sleeps in epoll until a connection, a process exit or the
// stop signal arrives.
//
// A connection a source turned into a mailbox carries posted pushes, which
// nobody answers. The loop does not read it (a posted push wakes no thread
// here); an importer reads it when its token's entry is not in the inbox
// yet, and the loop reads what is left into the inbox when the source closes
// it, so a source that exits loses none of what it posted.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "errno_table.h"
#include "posix/internal.h"

namespace wsadup::detail {

struct Agent::Connection {
  Watch poll;
  int descriptor = -1;
  Agent* agent = nullptr;
  bool closing = false;  // handle close requested; descriptor closes after
  bool mailbox = false;  // carries posted pushes; in mailboxes_
  bool source_gone = false;  // a closed mailbox kept for what it still holds
  Identity identity;  // closed only while still this connection
  PeerIdentity peer;
  std::vector<Nonce> lent;  // pending entries sent here, not yet committed
};

// A target with pending entries: a pidfd, which polls readable once that
// process has exited (a zombie counts: it can no longer import).
struct Agent::TargetWatch {
  Watch poll;
  Agent* agent = nullptr;
  pid_t pid = -1;
  int pidfd = -1;
  size_t entries = 0;    // pending entries counted here; tables_mutex_
  bool polling = false;  // poll handle initialised; loop thread only
};

namespace {

// A descriptor that becomes readable when process pid exits (pidfd_open,
// Linux 5.3; a pidfd is always close-on-exec). Returns -1 with errno set.
int open_process_watch(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

// A process that exits while initialised (much Windows code never calls
// its last WSACleanup; the system cleans up) destroys the agent from a static
// destructor, with its loop thread still running. Destroying a joinable
// std::thread aborts the process, so stop the agent as WSACleanup would: the
// exit is clean and leaves no rendezvous name behind. After a WSACleanup,
// stop() finds nothing left to do.
Agent::~Agent() { stop(); }

int Agent::start(std::shared_ptr<Agent>* agent) {
  std::shared_ptr<Agent> created(new Agent());
  int status = created->open_listener();
  if (status != 0) {
    created->close_all_descriptors();
    return status;
  }
  if (created->loop_.open() != 0) {
    created->close_all_descriptors();
    return WSASYSNOTREADY;
  }
  created->loop_.init(&created->stop_signal_, on_stop, created.get());
  created->loop_.init(&created->watch_signal_, on_watch_signal, created.get());
  created->loop_.init(&created->sync_signal_, on_sync, created.get());
  created->loop_.init(&created->listener_poll_, created->listener_,
                      created.get());
  if (created->loop_.start(&created->listener_poll_, kReadable,
                           on_listener_readable) != 0) {
    created->loop_.close_descriptors();
    created->close_all_descriptors();
    return WSASYSNOTREADY;
  }
  created->listener_identity_ = identity_of(created->listener_);
  try {
    created->thread_ = std::thread([raw = created.get()] { raw->run(); });
  } catch (...) {
    created->loop_.close_descriptors();
    created->close_all_descriptors();
    return WSASYSNOTREADY;
  }
  *agent = std::move(created);
  return 0;
}

int Agent::open_listener() {
  std::string directory;
  int status = own_rendezvous_directory(&directory);
  if (status != 0) return status;
  path_ = rendezvous_path(directory, getpid());
  if (path_.empty()) return WSASYSNOTREADY;
  listener_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener_ < 0) return translate_errno(errno);
  // A name with our pid can only be a stale one left by a process that had
  // this pid before and crashed: no living process but us has this pid.
  unlink(path_.c_str());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0 ||
      listen(listener_, SOMAXCONN) != 0) {
    int saved = errno;
    path_.clear();
    return saved == EMFILE || saved == ENFILE ? WSAEMFILE : WSASYSNOTREADY;
  }
  reserve_descriptor_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return 0;
}

// The loop thread takes no signal: the application's handlers run in its
// own threads. Its loop ends at on_stop, or when the application closed the
// loop's descriptors (then epoll_wait says EBADF and the thread just ends).
void Agent::run() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  loop_.run();
}

Agent::Identity Agent::identity_of(int descriptor) {
  Identity identity;
  struct stat status;
  if (descriptor >= 0 && fstat(descriptor, &status) == 0) {
    identity.descriptor = descriptor;
    identity.device = status.st_dev;
    identity.inode = status.st_ino;
  }
  return identity;
}

bool Agent::still(const Identity& identity) {
  struct stat status;
  return identity.descriptor >= 0 &&
         fstat(identity.descriptor, &status) == 0 &&
         status.st_dev == identity.device && status.st_ino == identity.inode;
}

// One fstat on the import path: a daemon's close_range closes the loop's
// wake-up pipe with everything else. (The listener is checked where
// it is closed, close_all_descriptors.)
bool Agent::intact() const { return loop_.intact(); }

void Agent::stop() {
  if (thread_.joinable() && !intact()) {
    // The application closed what the loop runs on: nothing can be closed
    // here (those numbers may be the application's files now), and the
    // loop cannot be woken: its thread ended at EBADF, or sleeps on an
    // epoll descriptor nothing can reach. Only the name is ours to remove.
    thread_.detach();
    if (!path_.empty()) unlink(path_.c_str());
    path_.clear();
    listener_ = -1;
    reserve_descriptor_ = -1;
    abandoned_ = true;
    return;
  }
  if (abandoned_) return;
  if (thread_.joinable()) {
    loop_.send(&stop_signal_);
    thread_.join();
    loop_.close_descriptors();
  }
  close_all_descriptors();
}

void Agent::on_stop(Signal* signal) {
  auto* agent = static_cast<Agent*>(signal->data);
  // Connection handles are closed here; their descriptors and lent entries
  // are released in close_connection's callback.
  std::vector<Connection*> connections = agent->connections_;
  for (Connection* connection : connections) agent->close_connection(connection);
  {
    // From here add_pending opens no more watches and no longer signals
    // watch_signal_; the entries themselves are closed after the loop ends.
    std::lock_guard<std::mutex> lock(agent->tables_mutex_);
    agent->loop_stopping_ = true;
    std::vector<TargetWatch*> watches;
    for (auto& item : agent->watches_) watches.push_back(item.second);
    for (TargetWatch* watch : watches) agent->forget_watch_locked(watch);
  }
  {
    // No more catch-up rounds: a waiting importer goes on without one.
    std::lock_guard<std::mutex> lock(agent->sync_mutex_);
    agent->sync_closed_ = true;
  }
  agent->sync_done_.notify_all();
  agent->loop_.close(&agent->listener_poll_, nullptr);
  agent->loop_.close(&agent->watch_signal_);
  agent->loop_.close(&agent->sync_signal_);
  agent->loop_.close(&agent->stop_signal_);
  agent->loop_.stop_running();
}

void Agent::close_all_descriptors() {
  if (!path_.empty()) {
    unlink(path_.c_str());
    path_.clear();
  }
  // Not a number the application closed and reused meanwhile.
  if (listener_ >= 0 &&
      (listener_identity_.descriptor < 0 || still(listener_identity_))) {
    close(listener_);
  }
  listener_ = -1;
  if (reserve_descriptor_ >= 0) close(reserve_descriptor_);
  reserve_descriptor_ = -1;
  std::lock_guard<std::mutex> lock(tables_mutex_);
  for (auto& item : inbox_) {
    if (item.second.descriptor >= 0) close(item.second.descriptor);
  }
  inbox_.clear();
  mailboxes_.clear();  // their connections were closed with the others
  for (auto& item : pending_) close(item.second.descriptor);
  pending_.clear();
  // Watches are left here only when the loop did not close them: before it
  // ran, or in a forked child, whose copy of the loop never runs again and
  // so never looks at their handles.
  for (auto& item : watches_) {
    close(item.second->pidfd);
    delete item.second;
  }
  watches_.clear();
  watches_to_start_.clear();
}

void Agent::abandon_after_fork() {
  // The child has no loop thread; only the descriptors are really here. The
  // parent's rendezvous name stays: it is still the parent's.
  path_.clear();
  for (Connection* connection : connections_) {
    if (connection->descriptor >= 0) close(connection->descriptor);
    connection->descriptor = -1;
  }
  // The loop's own two descriptors; the child never runs it.
  loop_.close_descriptors();
  close_all_descriptors();
}

void Agent::on_listener_readable(Watch* watch, int status, uint32_t) {
  if (status < 0) return;
  static_cast<Agent*>(watch->data)->accept_connections();
}

void Agent::accept_connections() {
  for (;;) {
    int accepted =
        accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (accepted < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors. A connection is never refused: the first
        // message on it may already be a posted push whose source returned,
        // and closing the connection would lose that socket. The reserve is
        // spent to take one connection in (a push on it is answered with
        // WSAEMFILE as usual); then the listener rests until a descriptor
        // is free again (resume_listener), and whatever connects meanwhile
        // waits in the kernel's queue, its descriptors held there. (Linux's
        // accept4 claims a descriptor before it looks at the queue, so
        // EMFILE does not mean a connection waits; the rest is harmless.)
        if (reserve_descriptor_ >= 0) {
          close(reserve_descriptor_);
          reserve_descriptor_ = -1;
          accepted =
              accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          reserve_descriptor_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (accepted < 0 || reserve_descriptor_ < 0) {
          listener_paused_ = true;
          loop_.stop(&listener_poll_);
        }
        if (accepted < 0) return;
      } else {
        return;  // EAGAIN: the queue is empty.
      }
    }
    PeerIdentity peer;
    if (connections_.size() >= kMaxAgentConnections ||
        peer_identity(accepted, &peer) != 0 || !uid_allowed(peer.uid)) {
      close(accepted);
      continue;
    }
    auto* connection = new Connection();
    connection->descriptor = accepted;
    connection->agent = this;
    connection->peer = peer;
    connection->identity = identity_of(accepted);
    loop_.init(&connection->poll, accepted, connection);
    if (loop_.start(&connection->poll, kReadable | kDisconnect,
                    on_connection_readable) != 0) {
      close(accepted);
      delete connection;
      continue;
    }
    connections_.push_back(connection);
  }
}

void Agent::on_connection_readable(Watch* watch, int status, uint32_t) {
  auto* connection = static_cast<Connection*>(watch->data);
  if (status < 0) {
    connection->agent->close_connection(connection);
    return;
  }
  connection->agent->handle_message(connection);
}

bool Agent::handle_message(Connection* connection) {
  // One message a wake-up: a push is answered without a second recvmsg that
  // would only say EAGAIN. The poll is level-triggered, so anything else
  // queued wakes the loop again at once.
  {
    WireMessage message;
    int received = -1;
    ReceiveResult result = receive_message(connection->descriptor, &message,
                                           &received, MSG_DONTWAIT);
    if (result == ReceiveResult::kWouldBlock) return false;
    if (result == ReceiveResult::kRightsTruncated &&
        message.type == static_cast<uint16_t>(MessageType::kPush)) {
      reply(connection, message.nonce, WSAEMFILE, -1);
      return !connection->closing;
    }
    if (result != ReceiveResult::kMessage) {
      // Closed, malformed, or an error: drop this connection only; the
      // agent goes on serving everyone else.
      close_connection(connection);
      return false;
    }
    switch (static_cast<MessageType>(message.type)) {
      case MessageType::kPush:
        handle_push(connection, message, received);
        break;
      case MessageType::kPull:
        if (received >= 0) close(received);
        handle_pull(connection, message);
        break;
      case MessageType::kCommit:
        if (received >= 0) close(received);
        handle_commit(connection, message);
        break;
      case MessageType::kMailbox:
        handle_mailbox(connection, message, received);
        break;
      case MessageType::kReply:
        if (received >= 0) close(received);
        close_connection(connection);
        return false;
    }
  }
  return !connection->closing && !connection->mailbox;
}

void Agent::handle_push(Connection* connection, const WireMessage& message,
                        int received) {
  if (received < 0) {
    reply(connection, message.nonce, WSAEINVAL, -1);
    return;
  }
  uint32_t status = 0;
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    if (inbox_.size() >= kMaxInboxEntries) {
      status = WSAENOBUFS;
    } else if (!inbox_.emplace(message.nonce,
                               InboxEntry{received, connection->peer.pid})
                    .second) {
      status = WSAEINVAL;  // a nonce seen twice is a replay, not a handoff
    }
  }
  if (status != 0) close(received);
  // The reply goes out only once the descriptor is in the inbox, so a token
  // can never reach this process before its descriptor has.
  reply(connection, message.nonce, status, -1);
}

void Agent::handle_pull(Connection* connection, const WireMessage& message) {
  int descriptor = -1;
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    auto found = pending_.find(message.nonce);
    // The kernel's view of who asks decides, never the message's bytes.
    if (found != pending_.end() && !found->second.lent &&
        found->second.target_pid == connection->peer.pid) {
      found->second.lent = true;
      descriptor = found->second.descriptor;
    }
  }
  if (descriptor < 0) {
    reply(connection, message.nonce, WSAEINVAL, -1);
    return;
  }
  connection->lent.push_back(message.nonce);
  // The entry stays until the puller commits: a puller that could not
  // receive the descriptor (EMFILE) leaves the token good for another try.
  reply(connection, message.nonce, 0, descriptor);
}

void Agent::handle_commit(Connection* connection, const WireMessage& message) {
  auto lent = std::find(connection->lent.begin(), connection->lent.end(),
                        message.nonce);
  if (lent == connection->lent.end()) {
    reply(connection, message.nonce, WSAEINVAL, -1);
    return;
  }
  connection->lent.erase(lent);
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    auto found = pending_.find(message.nonce);
    if (found != pending_.end()) {
      if (message.status == 0) {
        close(found->second.descriptor);
        pid_t target_pid = found->second.target_pid;
        bool watched = found->second.watched;
        pending_.erase(found);
        // The target's last entry is redeemed: stop watching it, so the
        // watches never outnumber the pending entries.
        auto watch = watched ? watches_.find(target_pid) : watches_.end();
        if (watch != watches_.end() && --watch->second->entries == 0) {
          forget_watch_locked(watch->second);
        }
      } else {
        found->second.lent = false;  // the puller gave it back
      }
    }
  }
  // Answered after the close, so the puller returns only once this
  // process's reference is gone.
  reply(connection, message.nonce, 0, -1);
}

// Nobody answers a mailbox: its source posted right behind it without
// waiting, and may have returned from WSADuplicateSocket already. A
// mailbox that is malformed (it came with a descriptor) is dropped. There is
// no bound of their own on mailboxes: each is one of the agent's
// connections (kMaxAgentConnections), and what waits on it is bounded by the
// kernel's queue.
void Agent::handle_mailbox(Connection* connection, const WireMessage&,
                           int received) {
  if (received >= 0) {
    close(received);
    close_connection(connection);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    mailboxes_.push_back(connection);
    connection->mailbox = true;
  }
  // From here the loop only learns when the source closes the connection
  // (or shuts it down); a posted push wakes no one.
  if (loop_.start(&connection->poll, kDisconnect, on_mailbox_closed) != 0) {
    close_connection(connection);
  }
}

void Agent::on_sync(Signal* signal) {
  auto* agent = static_cast<Agent*>(signal->data);
  uint64_t round;
  {
    std::lock_guard<std::mutex> lock(agent->sync_mutex_);
    round = agent->sync_requested_;
  }
  // An importer freed a descriptor, maybe: accept again if resting.
  agent->resume_listener();
  agent->accept_connections();
  // Pointers stay valid through this callback: a closed connection is
  // freed in its handle's close callback, which runs later.
  std::vector<Connection*> connections = agent->connections_;
  for (Connection* connection : connections) {
    while (!connection->closing && !connection->mailbox &&
           agent->handle_message(connection)) {
    }
    if (connection->source_gone && !connection->closing) {
      agent->retire_mailbox(connection);
    }
  }
  {
    std::lock_guard<std::mutex> lock(agent->sync_mutex_);
    agent->sync_completed_ = round;
  }
  agent->sync_done_.notify_all();
}

void Agent::catch_up() {
  std::unique_lock<std::mutex> lock(sync_mutex_);
  if (sync_closed_) return;
  uint64_t round = ++sync_requested_;
  loop_.send(&sync_signal_);
  // This process's own thread, never another process: bounded only
  // against a loop that cannot run (a debugger stopping that thread alone).
  sync_done_.wait_for(lock, std::chrono::milliseconds(kReplyTimeoutMs), [&] {
    return sync_completed_ >= round || sync_closed_;
  });
}

void Agent::resume_listener() {
  if (!listener_paused_) return;
  if (reserve_descriptor_ < 0) {
    reserve_descriptor_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (reserve_descriptor_ < 0) return;
  }
  listener_paused_ = false;
  loop_.start(&listener_poll_, kReadable, on_listener_readable);
}

void Agent::on_mailbox_closed(Watch* watch, int, uint32_t) {
  auto* connection = static_cast<Connection*>(watch->data);
  connection->agent->retire_mailbox(connection);
}

// The source closed the mailbox: what it posted and nobody imported yet
// moves into the inbox, and the connection closes. A process with no
// descriptor free to receive them keeps the connection instead (its queue
// outlives the source's end), still listed for importers, and tries again at
// the next catch-up round.
void Agent::retire_mailbox(Connection* connection) {
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    if (drain_mailbox_locked(*connection, nullptr) ==
        Drained::kOutOfDescriptors) {
      if (!connection->source_gone) {
        connection->source_gone = true;
        loop_.stop(&connection->poll);
      }
      return;
    }
  }
  close_connection(connection);
}

// With tables_mutex_ held. Moves the posted pushes queued on mailbox into
// the inbox, up to and including wanted's when given (kFound when it was
// read). Each message is first peeked at, which installs a copy of its
// descriptor and leaves the message queued, and only then taken. So a
// process with no descriptor free (MSG_CTRUNC on the peek) loses nothing:
// the reading stops there (kOutOfDescriptors) and the message waits for a
// later import, or retire_mailbox's next try. Anything but a push is read
// and dropped. An empty message reads like the end of the stream and stops
// the reading; no source sends one, so only a peer posing as a source loses
// what it sent after it.
Agent::Drained Agent::drain_mailbox_locked(const Connection& mailbox,
                                           const Nonce* wanted) {
  for (;;) {
    WireMessage message;
    int received = -1;
    ReceiveResult result = receive_message(
        mailbox.descriptor, &message, &received, MSG_DONTWAIT | MSG_PEEK);
    if (result == ReceiveResult::kRightsTruncated) {
      return Drained::kOutOfDescriptors;
    }
    if (result == ReceiveResult::kMessage ||
        result == ReceiveResult::kMalformed) {
      // Take the message itself, with no room for its descriptor: the
      // kernel drops its own reference instead of installing a second copy
      // of the one peeked at.
      discard_message(mailbox.descriptor);
    }
    if (result == ReceiveResult::kMalformed) continue;
    if (result != ReceiveResult::kMessage) return Drained::kNotFound;
    if (message.type != static_cast<uint16_t>(MessageType::kPush) ||
        received < 0) {
      if (received >= 0) close(received);
      continue;
    }
    InboxEntry entry{received, mailbox.peer.pid};
    // Posted entries are not held to kMaxInboxEntries: the kernel already
    // bounded them, by the sender's socket buffer, while they were queued.
    if (!inbox_.emplace(message.nonce, entry).second) {
      if (received >= 0) close(received);  // a replayed nonce
      continue;
    }
    if (wanted != nullptr && message.nonce == *wanted) return Drained::kFound;
  }
}

void Agent::release_lent(Connection* connection) {
  std::lock_guard<std::mutex> lock(tables_mutex_);
  for (const Nonce& nonce : connection->lent) {
    auto found = pending_.find(nonce);
    if (found != pending_.end()) found->second.lent = false;
  }
  connection->lent.clear();
}

void Agent::reply(Connection* connection, const Nonce& nonce, uint32_t status,
                  int descriptor) {
  WireMessage message = make_message(MessageType::kReply, nonce, status);
  // The connection is non-blocking: a peer that does not read its replies
  // is dropped rather than allowed to stall the agent.
  if (send_message(connection->descriptor, message, descriptor) != 0) {
    close_connection(connection);
  }
}

void Agent::close_connection(Connection* connection) {
  if (connection->closing) return;
  connection->closing = true;
  release_lent(connection);
  if (connection->mailbox) {
    // Unlisted before its descriptor closes, so no importer reads a
    // descriptor number that may be reused meanwhile.
    std::lock_guard<std::mutex> lock(tables_mutex_);
    mailboxes_.erase(
        std::remove(mailboxes_.begin(), mailboxes_.end(), connection),
        mailboxes_.end());
  }
  connections_.erase(
      std::remove(connections_.begin(), connections_.end(), connection),
      connections_.end());
  loop_.close(&connection->poll, [](Watch* watch) {
    auto* closed = static_cast<Connection*>(watch->data);
    Agent* agent = closed->agent;
    // Not a number the application closed and reused meanwhile.
    if (still(closed->identity)) close(closed->descriptor);
    delete closed;
    // A descriptor is free again: accept if out of them before.
    if (!agent->loop_stopping_) agent->resume_listener();
  });
}

int Agent::take_pushed(const Nonce& nonce, pid_t source_pid, int* error) {
  int ignored = 0;
  if (error == nullptr) error = &ignored;
  // The mailboxes' numbers may be the application's files now.
  if (!intact()) {
    *error = WSAENETDOWN;
    return -1;
  }
  *error = WSAEINVAL;
  bool out_of_descriptors = false;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      // Not in the inbox nor in a mailbox the loop has seen: a first post
      // from this source may still wait in the listener's queue, on a
      // connection the loop has not read yet. Let it catch up, once.
      if (out_of_descriptors) break;
      catch_up();
    }
    std::lock_guard<std::mutex> lock(tables_mutex_);
    auto found = inbox_.find(nonce);
    if (found == inbox_.end()) {
      // Posted, not read yet: it is queued on one of the source's mailboxes
      // (queued before the source's WSADuplicateSocket returned, so before
      // the token could exist).
      for (const Connection* mailbox : mailboxes_) {
        if (mailbox->peer.pid != source_pid) continue;
        Drained drained = drain_mailbox_locked(*mailbox, &nonce);
        if (drained == Drained::kOutOfDescriptors) out_of_descriptors = true;
        if (drained != Drained::kNotFound) break;
      }
      found = inbox_.find(nonce);
    }
    if (found != inbox_.end() && found->second.source_pid == source_pid) {
      int descriptor = found->second.descriptor;
      inbox_.erase(found);
      return descriptor;
    }
    if (found != inbox_.end()) return -1;  // another source's nonce
  }
  if (out_of_descriptors) *error = WSAEMFILE;
  return -1;
}

int Agent::add_pending(int descriptor, pid_t target_pid, const Nonce& nonce) {
  if (!intact()) return WSAENETDOWN;  // its watch could never be started
  int copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return translate_errno(errno);
  std::lock_guard<std::mutex> lock(tables_mutex_);
  if (pending_.size() >= kMaxPendingEntries) {
    close(copy);
    return WSAENOBUFS;
  }
  auto added =
      pending_.emplace(nonce, PendingEntry{copy, target_pid, false, false});
  if (!added.second) {
    close(copy);
    return WSAEINVAL;
  }
  int status;
  try {
    status = watch_target_locked(target_pid, &added.first->second.watched);
  } catch (...) {
    status = WSAENOBUFS;
  }
  if (status != 0) {
    pending_.erase(added.first);
    close(copy);
  }
  return status;
}

// With tables_mutex_ held. Counts one more entry for target_pid in its watch,
// opening the watch if it has none. Returns 0, with *watched saying whether
// a watch counts the entry, or a Winsock error.
int Agent::watch_target_locked(pid_t target_pid, bool* watched) {
  auto found = watches_.find(target_pid);
  if (found != watches_.end()) {
    ++found->second->entries;
    *watched = true;
    return 0;
  }
  if (loop_stopping_) return 0;  // the stop closes the entry anyway
  // The caller checked that target_pid was reachable. If it has exited since
  // and its pid was reused, this watches the new process, which the token
  // names anyway: the same window as every pid check before a handoff.
  int pidfd = open_process_watch(target_pid);
  if (pidfd < 0) {
    switch (errno) {
      case ESRCH:   // exited (and was reaped) since the caller's check
      case EINVAL:  // a thread of some process, not a process
      case ENOENT:  // the same, as recent kernels (pidfs) report it
        return WSAEINVAL;
      case EMFILE:
      case ENFILE:
      case ENOMEM:
        return translate_errno(errno);
      default:
        // No pidfds here (ENOSYS before Linux 5.3, EPERM under a seccomp
        // filter): the entry is kept unwatched and released at the last
        // WSACleanup or the exit of this process, as docs/porting.md says.
        return 0;
    }
  }
  std::unique_ptr<TargetWatch> watch(new TargetWatch());
  watch->agent = this;
  watch->pid = target_pid;
  watch->pidfd = pidfd;
  watch->entries = 1;
  try {
    watches_to_start_.reserve(watches_to_start_.size() + 1);
    watches_.emplace(target_pid, watch.get());
  } catch (...) {
    close(pidfd);
    throw;
  }
  watches_to_start_.push_back(watch.release());
  // Sent with the lock held, so on_stop cannot close the signal meanwhile.
  loop_.send(&watch_signal_);
  *watched = true;
  return 0;
}

void Agent::on_watch_signal(Signal* signal) {
  static_cast<Agent*>(signal->data)->start_watches();
}

void Agent::start_watches() {
  std::vector<TargetWatch*> queued;
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    queued.swap(watches_to_start_);
  }
  // Only this thread changes a watch once it is queued, so the handles are
  // set up without the lock. A target that exited before this point polls
  // readable at once: its pidfd is level-triggered.
  for (TargetWatch* watch : queued) {
    loop_.init(&watch->poll, watch->pidfd, watch);
    watch->polling = true;
    if (loop_.start(&watch->poll, kReadable, on_target_exited) == 0) {
      continue;
    }
    release_target(watch, /*exited=*/false);
  }
}

void Agent::on_target_exited(Watch* poll, int status, uint32_t) {
  auto* watch = static_cast<TargetWatch*>(poll->data);
  // A pidfd reports only its process's exit. An error says nothing about the
  // process, so its entries are kept (until the last WSACleanup) rather than
  // taken from a target that may still import them.
  watch->agent->release_target(watch, /*exited=*/status == 0);
}

// The loop thread stops watching a target. When it exited, its entries go:
// only it could redeem them. An entry lent to it is released too; its
// connection's later commit or close finds the entry gone and does nothing.
void Agent::release_target(TargetWatch* watch, bool exited) {
  std::vector<int> released;
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    for (auto entry = pending_.begin(); entry != pending_.end();) {
      if (entry->second.target_pid != watch->pid) {
        ++entry;
      } else if (exited) {
        released.push_back(entry->second.descriptor);
        entry = pending_.erase(entry);
      } else {
        entry->second.watched = false;
        ++entry;
      }
    }
    forget_watch_locked(watch);
  }
  for (int descriptor : released) close(descriptor);
}

// With tables_mutex_ held, on the loop thread (or in on_stop).
void Agent::forget_watch_locked(TargetWatch* watch) {
  watches_.erase(watch->pid);
  if (watch->polling) {
    // Closing stops the watch at once (it leaves the epoll set), so the
    // pidfd closes now and only the watch's memory waits for the callback.
    // Closed before the entries' descriptors are, so a peer that sees end of
    // stream finds it gone too.
    loop_.close(&watch->poll, [](Watch* poll) {
      delete static_cast<TargetWatch*>(poll->data);
    });
    close(watch->pidfd);
    return;
  }
  // Still queued for start_watches: redeemed before the loop got to it.
  watches_to_start_.erase(
      std::remove(watches_to_start_.begin(), watches_to_start_.end(), watch),
      watches_to_start_.end());
  close(watch->pidfd);
  delete watch;
}

}  // namespace wsadup::detail
