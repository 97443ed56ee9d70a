// receive_message, the one parser of every message on a rendezvous
// connection (the agent's requests and the caller's replies alike), fed
// through a real SOCK_SEQPACKET socketpair with real SCM_RIGHTS. Each
// result is checked against an independent statement of the wire rules,
// and no descriptor may outlive the message it came with.
//
// Input: packets (see fuzz_support.h). Flag bit 0: the receiver is out of
// descriptors (RLIMIT_NOFILE lowered) while it receives, so the kernel
// cannot install an attached descriptor and says so with MSG_CTRUNC.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "fuzz_support.h"
#include "posix/internal.h"

using wsadup::detail::kWireMagic;
using wsadup::detail::kWireVersion;
using wsadup::detail::receive_message;
using wsadup::detail::ReceiveResult;
using wsadup::detail::WireMessage;
using wsadup_fuzz::Packet;

namespace {

constexpr size_t kMaxPackets = 32;
// receive_message has room for this many descriptors; more are truncated.
constexpr int kReceiverRoom = 4;

struct Endpoints {
  int sender = -1;
  int receiver = -1;
  int attached = -1;  // what the sender attaches
};

const Endpoints& endpoints() {
  static const Endpoints made = [] {
    Endpoints result;
    int pair[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) ==
               0);
    result.sender = pair[0];
    result.receiver = pair[1];
    result.attached = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(result.attached >= 0);
    return result;
  }();
  return made;
}

// The wire rules, stated apart from the code under test: exactly 40 bytes,
// the magic, version 1, a length field of 40 and one of the five types.
bool follows_wire_rules(const std::vector<uint8_t>& payload) {
  if (payload.size() != sizeof(WireMessage)) return false;
  WireMessage message;
  std::memcpy(&message, payload.data(), sizeof(message));
  return message.magic == kWireMagic && message.version == kWireVersion &&
         message.length == sizeof(WireMessage) && message.type >= 1 &&
         message.type <= 5;
}

ReceiveResult expected_result(const Packet& packet, bool starved) {
  int installed = starved ? 0 : std::min(packet.descriptors, kReceiverRoom);
  if (packet.payload.empty() && installed == 0) return ReceiveResult::kClosed;
  if (installed > 1 || !follows_wire_rules(packet.payload)) {
    return ReceiveResult::kMalformed;
  }
  if (installed < packet.descriptors) return ReceiveResult::kRightsTruncated;
  return ReceiveResult::kMessage;
}

// Lowers the soft descriptor limit to the lowest free number for the scope,
// so that no new descriptor can be installed.
class DescriptorStarvation {
 public:
  explicit DescriptorStarvation(bool active) : active_(active) {
    if (!active_) return;
    FUZZ_CHECK(getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    rlimit lowered = saved_;
    lowered.rlim_cur =
        static_cast<rlim_t>(wsadup_fuzz::lowest_free_descriptor());
    FUZZ_CHECK(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~DescriptorStarvation() {
    if (active_) FUZZ_CHECK(setrlimit(RLIMIT_NOFILE, &saved_) == 0);
  }

 private:
  bool active_;
  rlimit saved_{};
};

void check_one(const Endpoints& ends, const Packet& packet) {
  if (wsadup_fuzz::send_packet(ends.sender, packet, ends.attached) != 0) {
    return;  // the kernel refused to send it: nothing to receive
  }
  bool starved = (packet.flags & 1) != 0;
  ReceiveResult expected = expected_result(packet, starved);
  WireMessage message;
  int received = -2;
  ReceiveResult result;
  {
    DescriptorStarvation starvation(starved);
    result = receive_message(ends.receiver, &message, &received, MSG_DONTWAIT);
  }
  FUZZ_CHECK(result == expected);
  bool carries = result == ReceiveResult::kMessage && packet.descriptors == 1;
  if (carries) {
    // The one descriptor, close-on-exec from the start.
    int flags = fcntl(received, F_GETFD);
    FUZZ_CHECK(flags >= 0 && (flags & FD_CLOEXEC) != 0);
    close(received);
  } else {
    FUZZ_CHECK(received == -1);
  }
  if (result == ReceiveResult::kMessage ||
      result == ReceiveResult::kRightsTruncated) {
    FUZZ_CHECK(std::memcmp(&message, packet.payload.data(), sizeof(message)) ==
               0);
  }
  // One message per receive: nothing of this one is left behind.
  WireMessage after;
  int after_received = -2;
  FUZZ_CHECK(receive_message(ends.receiver, &after, &after_received,
                             MSG_DONTWAIT) == ReceiveResult::kWouldBlock);
  FUZZ_CHECK(after_received == -1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Endpoints& ends = endpoints();
  static const int next_free = wsadup_fuzz::lowest_free_descriptor();
  for (const Packet& packet :
       wsadup_fuzz::split_packets(data, size, kMaxPackets)) {
    check_one(ends, packet);
    // Every descriptor that came with a message was closed or handed out
    // (and closed above): none is left over.
    FUZZ_CHECK(wsadup_fuzz::lowest_free_descriptor() == next_free);
  }
  return 0;
}
