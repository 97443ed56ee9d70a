// The messages exchanged on rendezvous connections, and SCM_RIGHTS.
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "posix/internal.h"

namespace wsadup::detail {

size_t NonceHash::operator()(const Nonce& nonce) const noexcept {
  // The nonce is uniformly random: any eight of its bytes hash it well.
  uint64_t value;
  std::memcpy(&value, nonce.data(), sizeof(value));
  return static_cast<size_t>(value);
}

int make_nonce(Nonce* nonce) {
  // 16 nonces a getrandom. The pool is this thread's alone, and a forked
  // child (whose fork generation differs) refills before drawing from it.
  constexpr size_t kPoolNonces = 16;
  struct Pool {
    uint64_t generation = 0;
    size_t used = kPoolNonces;
    std::array<uint8_t, kPoolNonces * sizeof(Nonce)> bytes;
  };
  thread_local Pool pool;
  uint64_t generation = fork_generation();
  if (pool.used == kPoolNonces || pool.generation != generation) {
    size_t filled = 0;
    while (filled < pool.bytes.size()) {
      ssize_t got = getrandom(pool.bytes.data() + filled,
                              pool.bytes.size() - filled, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        return WSAENOBUFS;
      }
      filled += static_cast<size_t>(got);
    }
    pool.generation = generation;
    pool.used = 0;
  }
  uint8_t* next = pool.bytes.data() + pool.used * sizeof(Nonce);
  std::memcpy(nonce->data(), next, sizeof(Nonce));
  std::memset(next, 0, sizeof(Nonce));  // each nonce is handed out once
  ++pool.used;
  return 0;
}

WireMessage make_message(MessageType type, const Nonce& nonce,
                         uint32_t status) {
  WireMessage message{};
  message.magic = kWireMagic;
  message.version = kWireVersion;
  message.type = static_cast<uint16_t>(type);
  message.length = sizeof(WireMessage);
  message.status = status;
  message.nonce = nonce;
  message.source_pid = static_cast<uint32_t>(current_pid());
  return message;
}

int send_message(int connection, const WireMessage& message,
                 int descriptor_to_send, int send_flags) {
  iovec data{const_cast<WireMessage*>(&message), sizeof(message)};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (descriptor_to_send >= 0) {
    std::memset(control, 0, sizeof(control));
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &descriptor_to_send, sizeof(int));
  }
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away is an error code, not SIGPIPE.
    ssize_t sent = sendmsg(connection, &header, MSG_NOSIGNAL | send_flags);
    if (sent == static_cast<ssize_t>(sizeof(message))) return 0;
    if (sent >= 0) return EMSGSIZE;
    if (errno != EINTR) return errno;
  }
}

namespace {

// Closes every descriptor in a control buffer; returns how many there were.
size_t close_received_rights(msghdr* header, int* first) {
  size_t count = 0;
  *first = -1;
  for (cmsghdr* item = CMSG_FIRSTHDR(header); item != nullptr;
       item = CMSG_NXTHDR(header, item)) {
    if (item->cmsg_level != SOL_SOCKET || item->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    size_t payload = item->cmsg_len - CMSG_LEN(0);
    for (size_t i = 0; i + sizeof(int) <= payload; i += sizeof(int)) {
      int descriptor;
      std::memcpy(&descriptor, CMSG_DATA(item) + i, sizeof(int));
      if (count == 0) {
        *first = descriptor;
      } else {
        close(descriptor);
      }
      ++count;
    }
  }
  return count;
}

bool well_formed(const WireMessage& message) {
  if (message.magic != kWireMagic || message.version != kWireVersion ||
      message.length != sizeof(WireMessage)) {
    return false;
  }
  switch (static_cast<MessageType>(message.type)) {
    case MessageType::kPush:
    case MessageType::kPull:
    case MessageType::kReply:
    case MessageType::kCommit:
    case MessageType::kMailbox:
      return true;
  }
  return false;
}

}  // namespace

ReceiveResult receive_message(int connection, WireMessage* message,
                              int* received, int recv_flags) {
  *received = -1;
  // One byte more than a message, so an oversized one shows as MSG_TRUNC or
  // as a length mismatch rather than passing as a good one.
  alignas(WireMessage) char buffer[sizeof(WireMessage) + 1];
  iovec data{buffer, sizeof(buffer)};
  // Room for a few descriptors: a sender that attaches more than one is
  // malformed, and every extra is closed rather than leaked.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  ssize_t got;
  do {
    got = recvmsg(connection, &header, MSG_CMSG_CLOEXEC | recv_flags);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return ReceiveResult::kWouldBlock;
    }
    return ReceiveResult::kError;
  }
  int descriptor = -1;
  size_t count = close_received_rights(&header, &descriptor);
  if (got == 0 && count == 0) return ReceiveResult::kClosed;
  bool malformed = count > 1 || (header.msg_flags & MSG_TRUNC) != 0 ||
                   got != static_cast<ssize_t>(sizeof(WireMessage));
  if (!malformed) {
    std::memcpy(message, buffer, sizeof(WireMessage));
    malformed = !well_formed(*message);
  }
  if (malformed) {
    if (descriptor >= 0) close(descriptor);
    return ReceiveResult::kMalformed;
  }
  if ((header.msg_flags & MSG_CTRUNC) != 0) {
    // The kernel could not install the descriptor (EMFILE, a security
    // module): say so rather than lose the socket silently.
    if (descriptor >= 0) close(descriptor);
    return ReceiveResult::kRightsTruncated;
  }
  *received = descriptor;
  return ReceiveResult::kMessage;
}

void discard_message(int connection) {
  char buffer[sizeof(WireMessage) + 1];
  iovec data{buffer, sizeof(buffer)};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  ssize_t got;
  do {
    got = recvmsg(connection, &header, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
}

}  // namespace wsadup::detail
