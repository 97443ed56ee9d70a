// Private declarations of the POSIX backend. Never installed.
//
// The pieces, one file each:
//   wire.cc             the messages on the rendezvous socket, SCM_RIGHTS
//   rendezvous.cc       the per-user directory, names, kernel credentials
//   agent.cc            the per-process agent thread: inbox and pending
//   event_loop.cc       its epoll loop, which ends when its descriptors go
//   transfer.cc         the caller's side of push and pull, connection reuse
//   token.cc            WSAPROTOCOL_INFO filling and the private record
//   descriptor_table.cc the sockets wsadup created or imported
//   process_state.cc    WSAStartup reference count, agent lifetime, fork
//   sigpipe.cc          SIGPIPE's disposition between WSAStartup and cleanup
//   api.cc              the exported handoff functions
//   last_error.cc       WSAGetLastError after wsadup's and the system's calls
// The calls around a handoff have their own private header, socket_calls.h.
#ifndef WSADUP_SRC_POSIX_INTERNAL_H
#define WSADUP_SRC_POSIX_INTERNAL_H

#include <sys/types.h>

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>


#include "posix/event_loop.h"
#include "posix/last_error.h"
#include "wsadup/wsadup.h"

namespace wsadup::detail {

// ---------------------------------------------------------------- limits --

// Descriptors waiting in one process's inbox (pushed, not yet imported), and
// descriptors one process keeps for pull tokens. Past either: WSAENOBUFS.
constexpr size_t kMaxInboxEntries = 4096;
constexpr size_t kMaxPendingEntries = 4096;
// Connections one agent serves at once; more are accepted and closed.
constexpr size_t kMaxAgentConnections = 512;
// How long a caller waits for another process's agent to answer.
constexpr int kReplyTimeoutMs = 5000;

// ------------------------------------------------------------------ wire --

using Nonce = std::array<uint8_t, 16>;

struct NonceHash {
  size_t operator()(const Nonce& nonce) const noexcept;
};

// Fills nonce with 128 random bits from the kernel, drawn from a per-thread
// pool filled by one getrandom for several nonces and dropped in a forked
// child (which must never repeat its parent's nonces). Returns 0 or a
// Winsock error code.
int make_nonce(Nonce* nonce);

enum class MessageType : uint16_t {
  kPush = 1,    // source -> target agent, carries the descriptor
  kPull = 2,    // target -> source agent, asks for a pending descriptor
  kReply = 3,   // agent -> caller: status, and the descriptor for a pull
  kCommit = 4,  // target -> source agent: the pulled descriptor arrived
  kMailbox = 5, // source -> target agent, first on a connection: it carries
                // posted pushes from now on; nobody answers it or them
};

// Every message on a rendezvous connection has this one fixed size and
// layout; anything else is malformed. The connection is SOCK_SEQPACKET, so
// one recvmsg returns exactly one message, and MSG_TRUNC flags oversize.
struct WireMessage {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t length;  // sizeof(WireMessage), checked on receipt
  uint32_t status;  // 0 or a Winsock error code, in replies
  Nonce nonce;
  uint32_t source_pid;
  uint32_t reserved;
};
static_assert(sizeof(WireMessage) == 40, "wire layout");

constexpr uint32_t kWireMagic = 0x55445357;  // "WSDU" read little-endian
constexpr uint16_t kWireVersion = 1;

WireMessage make_message(MessageType type, const Nonce& nonce,
                         uint32_t status);

// Outcome of receive_message besides a good message.
enum class ReceiveResult {
  kMessage,         // a well-formed message (and maybe a descriptor)
  kWouldBlock,      // nothing to read on a non-blocking socket
  kClosed,          // the peer closed the connection
  kMalformed,       // wrong size, magic, version, type, or extra rights
  kRightsTruncated, // MSG_CTRUNC: the descriptor could not be received
  kError,           // recvmsg failed; errno says why
};

// Sends one message, with descriptor_to_send attached when it is >= 0.
// send_flags is added to sendmsg's flags (MSG_DONTWAIT for a posted push).
// Returns 0 or an errno value.
int send_message(int connection, const WireMessage& message,
                 int descriptor_to_send, int send_flags = 0);

// Receives one message. Any descriptor that arrives is close-on-exec from the
// start (MSG_CMSG_CLOEXEC) and is stored in *received (else -1); a
// descriptor attached to a malformed message is closed here. recv_flags is
// added to recvmsg's flags (MSG_DONTWAIT for the agent).
ReceiveResult receive_message(int connection, WireMessage* message,
                              int* received, int recv_flags);

// Takes the next message off connection without receiving any descriptor it
// carries (the kernel releases its reference): for a message already read
// with MSG_PEEK. Non-blocking.
void discard_message(int connection);

// ------------------------------------------------------------ rendezvous --

// Windows: "dwProcessId: the target process". 0 and values no pid can have
// are WSAEINVAL before anything else is looked at.
inline bool plausible_pid(uint32_t pid) {
  return pid != 0 && pid <= static_cast<uint32_t>(INT32_MAX);
}
// True when pid is a live process this user may hand a socket to (root may
// reach any). A pid that does not exist or belongs to another user when the
// caller is not root: WSAEINVAL.
bool process_reachable(pid_t pid);

// Identity of the process at the other end of a Unix-domain connection, as
// the kernel reports it.
struct PeerIdentity {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
};

// Ensures this user's private rendezvous directory exists (mode 0700, owned
// by the effective uid) and returns its path. Returns 0 or a Winsock error.
int own_rendezvous_directory(std::string* directory);

// The rendezvous directory of process pid, whose effective uid is owner:
// another user's only when the caller is root. Returns 0 or a Winsock error
// code.
int rendezvous_directory_of(pid_t pid, uid_t owner, std::string* directory);

// directory + "/" + pid + ".sock", or an empty string when it would not fit
// in sockaddr_un.
std::string rendezvous_path(const std::string& directory, pid_t pid);
// directory + "/" + pid + suffix, under the same bound: the names a process
// keeps there (".ev": its notification bell, event_select.cc).
std::string rendezvous_name(const std::string& directory, pid_t pid,
                            const char* suffix);

// Reads the kernel's credentials for the peer of connection.
int peer_identity(int connection, PeerIdentity* identity);

// True when a peer with this uid may exchange descriptors with us: the same
// user, or root on either side (root may hand to anyone).
bool uid_allowed(uid_t peer_uid);

// Connects to the agent of process pid and checks, with the kernel's
// credentials, that the listener is exactly that process and an allowed
// user. Returns the connected descriptor (close-on-exec), or -1 with
// *no_agent set when pid has no agent to talk to, or -1 with *error set.
int connect_to_agent(pid_t pid, bool* no_agent, int* error);

// ----------------------------------------------------------------- agent --

// One per process: an event loop on its own thread, listening on the
// rendezvous socket. It receives pushed descriptors into the inbox and
// serves pulls of the descriptors this process keeps for pull tokens.
class Agent {
 public:
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the agent for the calling process. Returns 0 or a Winsock error.
  static int start(std::shared_ptr<Agent>* agent);

  // Stops the loop thread, closes every descriptor the agent holds and
  // removes the rendezvous name. When the application has closed the
  // agent's descriptors (intact() is false) it touches none of them: the
  // loop thread ended at epoll_wait's EBADF, or sleeps on an epoll
  // descriptor nothing can reach; it is detached and left with this object.
  void stop();

  // False once the application has closed (or replaced) the pipe the
  // agent's loop is woken through, as a daemon's "close every descriptor
  // above 2" does. One fstat call (EventLoop::intact).
  bool intact() const;
  // True after stop() found it not intact: the object must then outlive
  // the process (its thread still refers to it).
  bool abandoned() const { return abandoned_; }

  // In a forked child: closes the inherited descriptors without touching
  // the parent's rendezvous name or thread (which the child does not have).
  void abandon_after_fork();

  // Takes the pushed descriptor for nonce out of the inbox if it was pushed
  // by source_pid, first reading source_pid's mailboxes into the inbox when
  // it is not there yet, and, when no mailbox has it either, letting the
  // loop thread take in the connections and messages that arrived since it
  // last ran (a source's first post may still wait in the listener's
  // queue). Returns it, or -1 with *error (when given) set: WSAEMFILE when
  // this process has no descriptor free to receive it (the token stays good:
  // it is still queued), WSAENETDOWN when not intact(), else WSAEINVAL.
  int take_pushed(const Nonce& nonce, pid_t source_pid, int* error = nullptr);

  // Keeps a duplicate of descriptor for a pull by target_pid, and watches
  // target_pid so that its entries are released when it exits. Returns 0 or
  // a Winsock error (WSAENOBUFS past the bound, WSAEMFILE, WSAEINVAL when
  // target_pid is no longer a process, WSAENETDOWN when not intact()).
  int add_pending(int descriptor, pid_t target_pid, const Nonce& nonce);

  // Locks held across fork() so the child sees consistent tables and no
  // round of the loop half done; in this order.
  std::mutex& loop_mutex() { return loop_.busy_mutex(); }
  std::mutex& table_mutex() { return tables_mutex_; }

 private:
  struct Connection;
  struct TargetWatch;
  struct InboxEntry {
    int descriptor;
    pid_t source_pid;
  };
  struct PendingEntry {
    int descriptor;
    pid_t target_pid;
    bool lent;     // sent to a puller, waiting for its commit
    bool watched;  // counted in its target's TargetWatch
  };

  Agent() = default;
  int open_listener();
  struct Identity {
    int descriptor = -1;
    dev_t device = 0;
    ino_t inode = 0;
  };
  static Identity identity_of(int descriptor);
  static bool still(const Identity& identity);
  void run();
  static void on_listener_readable(Watch* watch, int status, uint32_t events);
  static void on_connection_readable(Watch* watch, int status,
                                     uint32_t events);
  static void on_stop(Signal* signal);
  static void on_sync(Signal* signal);
  // From an importing thread: has the loop accept and read everything that
  // is already queued, and waits (bounded) until it has.
  void catch_up();
  void resume_listener();
  static void on_watch_signal(Signal* signal);
  static void on_target_exited(Watch* watch, int status, uint32_t events);
  void accept_connections();
  // Handles one queued message; false when none was queued or the
  // connection closed or became a mailbox.
  bool handle_message(Connection* connection);
  void handle_push(Connection* connection, const WireMessage& message,
                   int received);
  void handle_pull(Connection* connection, const WireMessage& message);
  void handle_commit(Connection* connection, const WireMessage& message);
  void handle_mailbox(Connection* connection, const WireMessage& message,
                      int received);
  static void on_mailbox_closed(Watch* watch, int status, uint32_t events);
  void retire_mailbox(Connection* connection);
  enum class Drained { kFound, kNotFound, kOutOfDescriptors };
  Drained drain_mailbox_locked(const Connection& mailbox, const Nonce* wanted);
  void release_lent(Connection* connection);
  void close_connection(Connection* connection);
  void reply(Connection* connection, const Nonce& nonce, uint32_t status,
             int descriptor);
  void close_all_descriptors();
  int watch_target_locked(pid_t target_pid, bool* watched);
  void start_watches();
  void release_target(TargetWatch* watch, bool exited);
  void forget_watch_locked(TargetWatch* watch);

  EventLoop loop_;
  Signal stop_signal_;
  Signal watch_signal_;  // watches_to_start_ has something
  Signal sync_signal_;   // an importer waits for a catch-up round
  std::mutex sync_mutex_;
  std::condition_variable sync_done_;
  uint64_t sync_requested_ = 0;  // rounds asked for; under sync_mutex_
  uint64_t sync_completed_ = 0;  // rounds done; under sync_mutex_
  bool sync_closed_ = false;     // the loop is stopping; under sync_mutex_
  bool listener_paused_ = false;  // out of descriptors: not accepting
  bool abandoned_ = false;  // stop() found its descriptors closed under it
  Watch listener_poll_;
  std::thread thread_;
  int listener_ = -1;
  int reserve_descriptor_ = -1;  // spent to take a connection at EMFILE
  Identity listener_identity_;  // recorded when the loop starts
  std::string path_;
  std::vector<Connection*> connections_;

  std::mutex tables_mutex_;
  std::unordered_map<Nonce, InboxEntry, NonceHash> inbox_;
  std::unordered_map<Nonce, PendingEntry, NonceHash> pending_;
  // Connections that carry posted pushes: read by whoever needs what they
  // hold (an importer, or the loop thread when the source closes one). Their
  // descriptor and peer never change while they are listed.
  std::vector<Connection*> mailboxes_;
  // One watch per target pid that has pending entries; opened by the
  // caller's thread, started and closed by the loop thread.
  std::unordered_map<pid_t, TargetWatch*> watches_;
  std::vector<TargetWatch*> watches_to_start_;
  bool loop_stopping_ = false;  // watch_signal_ is closed or about to be
};

// -------------------------------------------------------------- transfer --

// Pushes descriptor into process target's inbox under nonce. Returns 0 once
// the target's agent acknowledged it; *no_agent when target has no agent
// (the caller falls back to pull); WSAEINVAL when target is not a process
// this user may reach; else a Winsock error code.
// With WSADUP_OPTION_POSTED_PUSH set, the push is posted on a mailbox
// connection when the kernel takes it at once, and acknowledged otherwise
// (first contact refused, or the mailbox full).
int push_descriptor(pid_t target, int descriptor, const Nonce& nonce,
                    bool* no_agent);

// WSADUP_OPTION_POSTED_PUSH, process-wide.
void set_posted_push(bool enabled);
bool posted_push();

// Pulls the descriptor kept under nonce by process source's agent. Returns
// the descriptor (close-on-exec) or -1 with *error set.
int pull_descriptor(pid_t source, const Nonce& nonce, int* error);

// Closes every cached connection to other agents (WSACleanup).
void close_cached_connections();
// In a forked child, with idle_connections_mutex() held since before fork:
// closes the child's copies of the parent's cached connections.
void forget_cached_connections_after_fork();
std::mutex& idle_connections_mutex();

// ----------------------------------------------------------------- token --

enum class TokenKind : uint8_t { kPush = 1, kPull = 2 };

// The private record a token carries besides its public fields.
struct TokenRecord {
  TokenKind kind = TokenKind::kPush;
  uint32_t source_pid = 0;
  uint32_t target_pid = 0;
  Nonce nonce{};
  int32_t address_family = 0;
  int32_t socket_type = 0;
  int32_t protocol = 0;
};

// Fills info for a socket of this family, type and protocol as Winsock fills
// it, and writes record into its private space.
void encode_token(const TokenRecord& record, WSAPROTOCOL_INFOA* info);
void encode_token(const TokenRecord& record, WSAPROTOCOL_INFOW* info);

// Fills info's public fields as Winsock reports them for a socket of this
// family, type and protocol (getsockopt SO_PROTOCOL_INFO): what a token
// carries, without the private record.
void describe_protocol(int family, int type, int protocol,
                       WSAPROTOCOL_INFOA* info);
void describe_protocol(int family, int type, int protocol,
                       WSAPROTOCOL_INFOW* info);

// Writes record into a token whose public fields a layered provider chain
// filled (dwCatalogEntryId, chain, name: docs/providers.md), after the
// whole chain has returned, so that decode_token accepts it; a name that
// reaches the private space is cut short.
void seal_token(const TokenRecord& record, WSAPROTOCOL_INFOW* info);

// An import's af, type or protocol against the token's: with a
// WSAPROTOCOL_INFO, FROM_PROTOCOL_INFO and 0 both mean "the info's value"
// (Wine's and ReactOS's suites, which pass on Windows, import with
// WSASocket(0, 0, 0, &info, ...)); a value equal to the info's is accepted
// too, as Rust's std passes them; anything else contradicts the token.
inline bool matches_token(int requested, int token_value) {
  return requested == FROM_PROTOCOL_INFO || requested == 0 ||
         requested == token_value;
}

// Reads and checks the private record. Returns 0 or WSAEINVAL.
int decode_token(const WSAPROTOCOL_INFOA& info, TokenRecord* record);
int decode_token(const WSAPROTOCOL_INFOW& info, TokenRecord* record);

// ------------------------------------------------------ descriptor table --

// Remembers each socket wsadup created or imported, so that the final
// WSACleanup can close them as Windows does. The identity (device, inode) is
// kept so a descriptor number the application closed and reused for
// something else is never closed by mistake.
void track_descriptor(int descriptor);
void untrack_descriptor(int descriptor);
void close_tracked_descriptors();
std::mutex& descriptor_table_mutex();

// --------------------------------------------------------- process state --

// True between the first successful WSAStartup and the last WSACleanup.
// Lock-free: it is on every call's path.
bool is_initialised();

// This process's pid, cached (glibc's getpid is a system call) and renewed
// in a forked child by the fork handlers. A child made by a raw clone(2)
// that skips them must not call into wsadup before it execs.
pid_t current_pid();
// Counts the forks this process's line has gone through; per-thread caches
// (the nonce pool) compare it to drop what a forked child inherited.
uint64_t fork_generation();

// WSADUP_OPTION_IGNORE_SIGPIPE, process-wide. The first startup() ignores
// SIGPIPE when it is at its default and the option is on; the last cleanup()
// puts the default back if it is still the one startup() set.
void set_ignore_sigpipe(bool enabled);
void ignore_sigpipe_at_startup();
void restore_sigpipe_at_cleanup();

// Increments the reference count and starts the agent on the first call.
int startup();
// Decrements it; the last call stops the agent and closes tracked sockets.
int cleanup();

// The process's agent, held for the duration of one call. With
// start_if_missing, a process that has none (a forked child of an
// initialised parent) starts its own; else nullptr means none runs. Returns
// nullptr with *error set when starting fails.
std::shared_ptr<Agent> process_agent(bool start_if_missing, int* error);

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_INTERNAL_H
