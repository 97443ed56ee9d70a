// The caller's side: what push_descriptor and pull_descriptor (the code
// behind WSADuplicateSocket and WSASocket) read from another process's
// agent. This target listens on this process's own rendezvous name as a
// hostile agent would, and answers the caller's real requests with the
// input's messages and descriptors. The caller must return, with a result
// that follows from the first answer, never hang, and keep no descriptor it
// should not: its own socket stays open, and a pulled descriptor arrives
// close-on-exec.
//
// Input: one byte (bit 0: the caller pulls rather than pushes), then packets
// (see fuzz_support.h), the answers, 8 at most. Flag bit 0: send the next
// answer at once instead of waiting for what the caller does with this one
// (how an agent's refusal can already be queued behind a reset). Flag bit 1,
// on the first answer of a group: the caller is out of descriptors
// (RLIMIT_NOFILE lowered) while it reads the group, so an attached
// descriptor cannot be installed (MSG_CTRUNC).
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "fuzz_nonces.h"
#include "fuzz_support.h"
#include "posix/internal.h"

using wsadup::detail::kWireMagic;
using wsadup::detail::kWireVersion;
using wsadup::detail::MessageType;
using wsadup::detail::Nonce;
using wsadup::detail::WireMessage;
using wsadup_fuzz::kCallerNonce;
using wsadup_fuzz::Packet;

namespace {

constexpr size_t kMaxPackets = 8;
constexpr int kCallerRoom = 4;  // descriptors receive_message has room for

struct Fixture {
  std::string listener_path;
  int listener = -1;
  int attached = -1;  // the caller's socket to push; also what answers carry
  int done[2] = {-1, -1};  // the caller's thread writes here when it returns
  size_t baseline = 0;
};

// Runs at exit, after the fixture itself may be gone: it finds the names
// from the environment and the pid, not from the fixture.
void remove_fixture() {
  const char* directory = std::getenv("WSADUP_RUNTIME_DIR");
  if (directory == nullptr) return;
  unlink(wsadup_fuzz::rendezvous_name(directory, getpid()).c_str());
  rmdir(directory);
}

const Fixture& fixture() {
  static const Fixture made = [] {
    Fixture result;
    // The answers a caller reads are the acknowledged push's and the pull's;
    // the posted push (the default) reads none.
    FUZZ_CHECK(wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, 0) == 0);
    std::string directory = wsadup_fuzz::use_private_runtime_directory();
    result.listener_path = wsadup_fuzz::rendezvous_name(directory, getpid());
    result.listener =
        socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    FUZZ_CHECK(result.listener >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    FUZZ_CHECK(result.listener_path.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, result.listener_path.c_str(),
                result.listener_path.size() + 1);
    FUZZ_CHECK(bind(result.listener, reinterpret_cast<sockaddr*>(&address),
                    sizeof(address)) == 0);
    FUZZ_CHECK(listen(result.listener, 8) == 0);
    result.attached = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(result.attached >= 0);
    FUZZ_CHECK(pipe2(result.done, O_CLOEXEC) == 0);
    std::atexit(remove_fixture);
    result.baseline = wsadup_fuzz::open_descriptor_count();
    return result;
  }();
  return made;
}

// An answer the caller's parser takes as the reply to its request: one
// well-formed message of type reply, at most one descriptor, and either the
// request's nonce or the all-zero nonce with an error (a refusal).
bool is_reply_to_caller(const Packet& packet, bool starved,
                        WireMessage* message) {
  int installed = starved ? 0 : std::min(packet.descriptors, kCallerRoom);
  if (packet.payload.size() != sizeof(WireMessage) || installed > 1) {
    return false;
  }
  std::memcpy(message, packet.payload.data(), sizeof(*message));
  bool refusal = message->nonce == Nonce{} && message->status != 0;
  return message->magic == kWireMagic && message->version == kWireVersion &&
         message->length == sizeof(WireMessage) &&
         message->type == static_cast<uint16_t>(MessageType::kReply) &&
         (message->nonce == kCallerNonce || refusal);
}

// Checks one message the caller sent: its request, or a commit.
void check_from_caller(const wsadup_fuzz::Observed& sent, MessageType type,
                       int descriptors) {
  FUZZ_CHECK(sent.bytes.size() == sizeof(WireMessage));
  WireMessage message;
  std::memcpy(&message, sent.bytes.data(), sizeof(message));
  FUZZ_CHECK(message.magic == kWireMagic && message.version == kWireVersion &&
             message.length == sizeof(WireMessage));
  FUZZ_CHECK(message.type == static_cast<uint16_t>(type));
  FUZZ_CHECK(message.nonce == kCallerNonce);
  FUZZ_CHECK(message.source_pid == static_cast<uint32_t>(getpid()));
  FUZZ_CHECK(sent.descriptors == descriptors);
  if (type == MessageType::kCommit) {
    // Taken, or given back because it could not be received.
    FUZZ_CHECK(message.status == 0 || message.status == WSAEMFILE);
  }
}

// Waits for the caller to act on the last answer: send something, close
// the connection, or return. True when it sent a message, now in *sent.
bool caller_acts(const Fixture& fix, int connection,
                 wsadup_fuzz::Observed* sent) {
  pollfd waiting[2] = {{connection, POLLIN, 0}, {fix.done[0], POLLIN, 0}};
  int ready;
  do {
    ready = poll(waiting, 2, wsadup_fuzz::kWaitMs);
  } while (ready < 0 && errno == EINTR);
  FUZZ_CHECK(ready > 0);  // else the caller hangs
  if ((waiting[0].revents & POLLIN) == 0) return false;  // it returned
  FUZZ_CHECK(wsadup_fuzz::observe(connection, 0, sent));
  return !sent->closed;
}

struct CallerResult {
  bool pull = false;
  int status = 0;       // push: its return value; pull: *error
  int descriptor = -1;  // pull: its return value
  bool no_agent = false;
};

void run_caller(const Fixture& fix, CallerResult* result) {
  if (result->pull) {
    result->descriptor = wsadup::detail::pull_descriptor(getpid(), kCallerNonce,
                                                         &result->status);
  } else {
    result->status = wsadup::detail::push_descriptor(
        getpid(), fix.attached, kCallerNonce, &result->no_agent);
  }
  char signal = 1;
  FUZZ_CHECK(write(fix.done[1], &signal, 1) == 1);
}

// What the caller reports for an agent's status: the codes an agent sends
// pass through; any other number is an agent that cannot be trusted.
int expected_status(uint32_t status) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fix = fixture();
  if (size == 0) return 0;
  CallerResult result;
  result.pull = (data[0] & 1) != 0;
  std::vector<Packet> packets =
      wsadup_fuzz::split_packets(data + 1, size - 1, kMaxPackets);

  std::thread caller(run_caller, std::cref(fix), &result);
  FUZZ_CHECK(wsadup_fuzz::wait_readable(fix.listener, wsadup_fuzz::kWaitMs));
  int connection = accept4(fix.listener, nullptr, nullptr, SOCK_CLOEXEC);
  FUZZ_CHECK(connection >= 0);

  wsadup_fuzz::Observed sent;
  FUZZ_CHECK(caller_acts(fix, connection, &sent));
  if (result.pull) {
    check_from_caller(sent, MessageType::kPull, 0);
  } else {
    check_from_caller(sent, MessageType::kPush, 1);
  }
  // While an answer that starves the caller is in flight, the soft limit is
  // the lowest free descriptor number: the caller is blocked reading, so
  // nothing else in the process opens descriptors meanwhile.
  rlimit saved{};
  bool starving = false;
  for (size_t i = 0; i < packets.size(); ++i) {
    // Only at the start of a group: inside one, the caller may still be
    // reading an earlier answer, which would then be starved by chance.
    bool group_start = i == 0 || (packets[i - 1].flags & 1) == 0;
    if ((packets[i].flags & 2) != 0 && group_start) {
      FUZZ_CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
      rlimit lowered = saved;
      lowered.rlim_cur =
          static_cast<rlim_t>(wsadup_fuzz::lowest_free_descriptor());
      FUZZ_CHECK(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
      starving = true;
    }
    if (wsadup_fuzz::send_packet(connection, packets[i], fix.attached) != 0) {
      break;  // the caller has closed the connection
    }
    bool grouped = (packets[i].flags & 1) != 0 && i + 1 < packets.size();
    if (grouped) continue;
    bool acted = caller_acts(fix, connection, &sent);
    if (starving) {
      FUZZ_CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
      starving = false;
    }
    if (!acted) break;
    // The one thing a caller sends after its request: a pull's commit.
    FUZZ_CHECK(result.pull);
    check_from_caller(sent, MessageType::kCommit, 0);
  }
  if (starving) FUZZ_CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Out of answers: a caller still waiting sees the end of the stream.
  close(connection);
  char signal;
  FUZZ_CHECK(wsadup_fuzz::wait_readable(fix.done[0], wsadup_fuzz::kWaitMs));
  FUZZ_CHECK(read(fix.done[0], &signal, 1) == 1);
  caller.join();
  wsadup::detail::close_cached_connections();

  FUZZ_CHECK(!result.no_agent);  // it reached an agent, if a hostile one
  WireMessage first;
  bool starved = !packets.empty() && (packets[0].flags & 2) != 0;
  bool replied =
      !packets.empty() && is_reply_to_caller(packets[0], starved, &first);
  if (result.pull) {
    FUZZ_CHECK((result.descriptor >= 0) == (result.status == 0));
    if (result.descriptor >= 0) {
      int flags = fcntl(result.descriptor, F_GETFD);
      FUZZ_CHECK(flags >= 0 && (flags & FD_CLOEXEC) != 0);
      close(result.descriptor);
    }
    if (!replied) {
      FUZZ_CHECK(result.status == WSAENETDOWN);
    } else if (first.status != 0) {
      FUZZ_CHECK(result.status == expected_status(first.status));
    } else if (packets[0].descriptors == 1 && !starved) {
      FUZZ_CHECK(result.status == 0);
    } else {
      FUZZ_CHECK(result.status == WSAEMFILE);  // lent, but nothing came
    }
  } else {
    // The caller's socket is still the caller's.
    FUZZ_CHECK(fcntl(fix.attached, F_GETFD) >= 0);
    if (replied) {
      FUZZ_CHECK(result.status == expected_status(first.status));
    } else {
      FUZZ_CHECK(result.status != 0);
    }
  }
  FUZZ_CHECK(wsadup_fuzz::open_descriptor_count() == fix.baseline);
  return 0;
}
