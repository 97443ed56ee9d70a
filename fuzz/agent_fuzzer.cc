// The live agent. WSAStartup in this process starts it; the target connects
// to its rendezvous socket as another process would and sends the input's
// messages, with real descriptors attached. Each answer is checked against a
// model of what the agent promises (docs/design.md): a well-formed request
// gets exactly one well-formed reply that echoes its nonce, and anything else
// drops that connection only. After each input the agent's tables hold
// exactly what the model says, it still serves a real pull, and no
// descriptor leaked.
//
// Input: packets (see fuzz_support.h), 32 at most. Flag bit 0: send on the
// second connection instead of the first. Flag bit 1: close that connection
// after this packet's answer. A connection that is closed, by either side,
// is opened anew by the next packet sent on it.
//
// A connection the agent agreed to make a mailbox gets no answers from then
// on: what is sent there is not observed. The model queues each push with
// one descriptor on that link, and moves the queue into the inbox (a nonce
// the inbox already holds is dropped) when the connection closes, which is
// when the agent reads it here: until then, an acknowledged push of a queued
// nonce is no replay to the agent, and the queued copy is the one dropped
// later. An empty message
// there reads like the end of the stream: the agent stops reading at it, so
// what follows it on that connection is released unread.
//
// Fixed entries the messages can name (fuzz_nonces.h): kPendingNonce,
// pending for this process, added before each input; kForeignNonce, pending
// for another process; kInboxNonce, already in the inbox.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "fuzz_nonces.h"
#include "fuzz_support.h"
#include "posix/internal.h"

using wsadup::detail::kWireMagic;
using wsadup::detail::kWireVersion;
using wsadup::detail::make_message;
using wsadup::detail::MessageType;
using wsadup::detail::Nonce;
using wsadup::detail::WireMessage;
using wsadup_fuzz::kForeignNonce;
using wsadup_fuzz::kInboxNonce;
using wsadup_fuzz::kPendingNonce;
using wsadup_fuzz::Packet;

namespace {

constexpr size_t kMaxPackets = 32;
constexpr int kAgentRoom = 4;  // descriptors receive_message has room for

struct Fixture {
  std::string directory;
  std::string agent_path;
  int attached = -1;  // what requests carry, and what pending entries copy
  size_t baseline = 0;
};

// One of the target's connections to the agent.
struct Link {
  int descriptor = -1;
  int serial = 0;  // tells connections apart across reopenings
  bool mailbox = false;  // the agent agreed; it answers nothing here
  bool stalled = false;  // an empty message was posted: nothing after counts
  std::vector<Nonce> posted;  // pushes queued on the mailbox, not read yet
};

// What the agent's tables should hold, by the rules in docs/design.md.
struct Model {
  std::set<Nonce> inbox;
  bool pending_present = true;
  int pending_lent_to = -1;  // serial of the link it was sent to, or -1
};

// What one request should get back.
struct Expected {
  bool dropped = false;
  bool unanswered = false;  // a mailbox: nothing comes back
  uint32_t status = 0;
  bool with_descriptor = false;
};

std::shared_ptr<wsadup::detail::Agent> agent() {
  int error = 0;
  auto running = wsadup::detail::process_agent(false, &error);
  FUZZ_CHECK(running != nullptr);
  return running;
}

Packet request(MessageType type, const Nonce& nonce, uint32_t status,
               int descriptors) {
  WireMessage message = make_message(type, nonce, status);
  Packet packet;
  packet.payload.resize(sizeof(message));
  std::memcpy(packet.payload.data(), &message, sizeof(message));
  packet.descriptors = descriptors;
  return packet;
}

bool parse(const Packet& packet, WireMessage* message) {
  if (packet.payload.size() != sizeof(WireMessage)) return false;
  std::memcpy(message, packet.payload.data(), sizeof(*message));
  return message->magic == kWireMagic && message->version == kWireVersion &&
         message->length == sizeof(WireMessage) && message->type >= 1 &&
         message->type <= 5;
}

Expected expect(Model* model, const Link& link, const Packet& packet) {
  Expected result;
  int installed = std::min(packet.descriptors, kAgentRoom);
  WireMessage message;
  if (installed > 1 || !parse(packet, &message)) {
    result.dropped = true;  // malformed, or (empty) the end of the stream
    return result;
  }
  switch (static_cast<MessageType>(message.type)) {
    case MessageType::kPush:
      if (installed == 0 || !model->inbox.insert(message.nonce).second) {
        result.status = WSAEINVAL;  // nothing to keep, or a replay
      }
      break;
    case MessageType::kPull:
      if (message.nonce == kPendingNonce && model->pending_present &&
          model->pending_lent_to < 0) {
        model->pending_lent_to = link.serial;
        result.with_descriptor = true;
      } else {
        result.status = WSAEINVAL;  // unknown, lent, or for someone else
      }
      break;
    case MessageType::kCommit:
      if (message.nonce == kPendingNonce &&
          model->pending_lent_to == link.serial) {
        model->pending_lent_to = -1;
        if (message.status == 0) model->pending_present = false;
      } else {
        result.status = WSAEINVAL;  // nothing was lent to this connection
      }
      break;
    case MessageType::kMailbox:
      // Never answered: from here the connection is a mailbox. One that
      // came with a descriptor is malformed and dropped.
      if (installed != 0) {
        result.dropped = true;
      } else {
        result.unanswered = true;
      }
      break;
    case MessageType::kReply:
      result.dropped = true;  // the agent never takes replies
      break;
  }
  return result;
}

// What a packet on a mailbox does: a push with one descriptor is queued
// there; everything else is dropped when it is read.
void post(Link* link, const Packet& packet) {
  if (packet.payload.empty() && packet.descriptors == 0) link->stalled = true;
  WireMessage message;
  if (!link->stalled && std::min(packet.descriptors, kAgentRoom) == 1 &&
      parse(packet, &message) &&
      message.type == static_cast<uint16_t>(MessageType::kPush)) {
    link->posted.push_back(message.nonce);
  }
}

void forget_link(Model* model, Link* link) {
  close(link->descriptor);
  link->descriptor = -1;
  // A closed mailbox has been read into the inbox; a nonce it already held
  // is dropped.
  for (const Nonce& nonce : link->posted) model->inbox.insert(nonce);
  link->posted.clear();
  link->mailbox = false;
  link->stalled = false;
  // A connection's lent entries go back when it closes.
  if (model->pending_lent_to == link->serial) model->pending_lent_to = -1;
}

// Sends packet on link and checks the one answer it gets.
void exchange(const Fixture& fixture, Model* model, Link* link,
              const Packet& packet, const Nonce* echoed) {
  FUZZ_CHECK(wsadup_fuzz::send_packet(link->descriptor, packet,
                                      fixture.attached) == 0);
  Expected expected = expect(model, *link, packet);
  if (expected.unanswered) {
    link->mailbox = true;  // what follows is posted
    return;
  }
  wsadup_fuzz::Observed answer;
  // No answer at all within the bound is a hang.
  FUZZ_CHECK(
      wsadup_fuzz::observe(link->descriptor, wsadup_fuzz::kWaitMs, &answer));
  if (expected.dropped) {
    FUZZ_CHECK(answer.closed);
    forget_link(model, link);
    return;
  }
  FUZZ_CHECK(!answer.closed);
  FUZZ_CHECK(answer.bytes.size() == sizeof(WireMessage));
  WireMessage reply;
  std::memcpy(&reply, answer.bytes.data(), sizeof(reply));
  FUZZ_CHECK(reply.magic == kWireMagic && reply.version == kWireVersion &&
             reply.length == sizeof(WireMessage));
  FUZZ_CHECK(reply.type == static_cast<uint16_t>(MessageType::kReply));
  FUZZ_CHECK(reply.source_pid == static_cast<uint32_t>(getpid()));
  FUZZ_CHECK(echoed == nullptr || reply.nonce == *echoed);
  FUZZ_CHECK(reply.status == expected.status);
  FUZZ_CHECK(answer.descriptors == (expected.with_descriptor ? 1 : 0));
}

void open_link(const Fixture& fixture, Link* link, int* next_serial) {
  link->descriptor = wsadup_fuzz::connect_seqpacket(fixture.agent_path);
  FUZZ_CHECK(link->descriptor >= 0);
  link->serial = (*next_serial)++;
}

// Ends the stream and waits for the agent to close its side: then the
// agent has handled everything sent and released the connection.
void close_link(Model* model, Link* link) {
  if (link->descriptor < 0) return;
  FUZZ_CHECK(shutdown(link->descriptor, SHUT_WR) == 0);
  wsadup_fuzz::Observed answer;
  FUZZ_CHECK(
      wsadup_fuzz::observe(link->descriptor, wsadup_fuzz::kWaitMs, &answer));
  FUZZ_CHECK(answer.closed);  // and no message nobody asked for
  forget_link(model, link);
}

void remove_fixture() {
  WSACleanup();
  const char* directory = std::getenv("WSADUP_RUNTIME_DIR");
  if (directory != nullptr) rmdir(directory);
}

const Fixture& fixture() {
  static const Fixture made = [] {
    Fixture result;
    result.directory = wsadup_fuzz::use_private_runtime_directory();
    result.agent_path =
        wsadup_fuzz::rendezvous_name(result.directory, getpid());
    WSADATA data;
    FUZZ_CHECK(WSAStartup(MAKEWORD(2, 2), &data) == 0);
    std::atexit(remove_fixture);
    result.attached = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(result.attached >= 0);
    // A pending entry for another process (the parent is never us).
    FUZZ_CHECK(
        agent()->add_pending(result.attached, getppid(), kForeignNonce) == 0);
    // An inbox entry, pushed the way any process pushes.
    Model model;
    Link link;
    int serial = 0;
    open_link(result, &link, &serial);
    exchange(result, &model, &link,
             request(MessageType::kPush, kInboxNonce, 0, 1), &kInboxNonce);
    close_link(&model, &link);
    result.baseline = wsadup_fuzz::open_descriptor_count();
    return result;
  }();
  return made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fix = fixture();
  // The previous input ended with this entry gone, so it is new again.
  FUZZ_CHECK(agent()->add_pending(fix.attached, getpid(), kPendingNonce) == 0);

  Model model;
  model.inbox.insert(kInboxNonce);
  Link links[2];
  int next_serial = 1;
  std::vector<Packet> packets =
      wsadup_fuzz::split_packets(data, size, kMaxPackets);
  for (const Packet& packet : packets) {
    Link& link = links[packet.flags & 1];
    if (link.descriptor < 0) open_link(fix, &link, &next_serial);
    WireMessage message;
    bool well_formed = parse(packet, &message);
    if (link.mailbox) {
      FUZZ_CHECK(wsadup_fuzz::send_packet(link.descriptor, packet,
                                          fix.attached) == 0);
      post(&link, packet);
    } else {
      exchange(fix, &model, &link, packet,
               well_formed ? &message.nonce : nullptr);
    }
    if ((packet.flags & 2) != 0) close_link(&model, &link);
  }
  for (Link& link : links) close_link(&model, &link);

  // The inbox holds what was acknowledged, and nothing else.
  auto running = agent();
  for (const Nonce& nonce : model.inbox) {
    if (nonce == kInboxNonce) continue;  // kept throughout
    int descriptor = running->take_pushed(nonce, getpid());
    FUZZ_CHECK(descriptor >= 0);
    close(descriptor);
  }
  for (const Packet& packet : packets) {
    WireMessage message;
    if (packet.payload.size() != sizeof(message)) continue;
    std::memcpy(&message, packet.payload.data(), sizeof(message));
    if (message.nonce == kInboxNonce) continue;
    FUZZ_CHECK(running->take_pushed(message.nonce, getpid()) == -1);
  }

  // The agent still serves a pull, exactly as the model says, and the
  // pending entry is gone afterwards.
  Link last;
  open_link(fix, &last, &next_serial);
  exchange(fix, &model, &last, request(MessageType::kPull, kPendingNonce, 0, 0),
           &kPendingNonce);
  if (model.pending_lent_to == last.serial) {
    exchange(fix, &model, &last,
             request(MessageType::kCommit, kPendingNonce, 0, 0),
             &kPendingNonce);
  }
  close_link(&model, &last);
  FUZZ_CHECK(!model.pending_present);

  FUZZ_CHECK(wsadup_fuzz::open_descriptor_count() == fix.baseline);
  return 0;
}
