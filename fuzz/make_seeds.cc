// Writes the seed corpora: small inputs that each reach one meaningful case
// (a valid token, each message type, each way to be malformed), built with
// the library's own encoders so that they stay valid by construction.
//
//   wsadup_fuzz_seeds <fuzz/corpus>
//
// Run it after changing the wire or token format, and commit what it wrote.
#include <sys/socket.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_nonces.h"
#include "posix/internal.h"

using wsadup::detail::encode_token;
using wsadup::detail::make_message;
using wsadup::detail::MessageType;
using wsadup::detail::Nonce;
using wsadup::detail::TokenKind;
using wsadup::detail::TokenRecord;
using wsadup::detail::WireMessage;
using Bytes = std::vector<uint8_t>;

namespace {

std::filesystem::path g_root;

void write(const std::string& target, const std::string& name,
           const Bytes& bytes) {
  std::filesystem::path directory = g_root / target;
  std::filesystem::create_directories(directory);
  std::ofstream file(directory / name, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
Bytes bytes_of(const T& value) {
  Bytes bytes(sizeof(value));
  std::memcpy(bytes.data(), &value, sizeof(value));
  return bytes;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts)
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

// ------------------------------------------------------------------ token --

TokenRecord record(TokenKind kind, int family, int type, int protocol) {
  TokenRecord result;
  result.kind = kind;
  result.source_pid = 1000;
  result.target_pid = 2000;
  for (size_t i = 0; i < result.nonce.size(); ++i) {
    result.nonce[i] = static_cast<uint8_t>(i + 1);
  }
  result.address_family = family;
  result.socket_type = type;
  result.protocol = protocol;
  return result;
}

Bytes mode(uint8_t value, const Bytes& rest) { return cat({{value}, rest}); }

Bytes text_of(const Bytes& token) {
  std::string text(2 * token.size() + 1, '\0');
  wsadup_token_to_text(token.data(), token.size(), &text[0]);
  text.resize(2 * token.size());
  return Bytes(text.begin(), text.end());
}

void token_seeds() {
  WSAPROTOCOL_INFOA push_tcp4;
  WSAPROTOCOL_INFOA pull_udp6;
  WSAPROTOCOL_INFOW push_unix;
  WSAPROTOCOL_INFOW pull_tcp6;
  encode_token(record(TokenKind::kPush, AF_INET, SOCK_STREAM, 6), &push_tcp4);
  encode_token(record(TokenKind::kPull, AF_INET6, SOCK_DGRAM, 17), &pull_udp6);
  encode_token(record(TokenKind::kPush, AF_UNIX, SOCK_STREAM, 0), &push_unix);
  encode_token(record(TokenKind::kPull, AF_INET6, SOCK_STREAM, 6), &pull_tcp6);
  write("token", "a_push_tcp4", mode(0, bytes_of(push_tcp4)));
  write("token", "a_pull_udp6", mode(0, bytes_of(pull_udp6)));
  write("token", "w_push_unix", mode(1, bytes_of(push_unix)));
  write("token", "w_pull_tcp6", mode(1, bytes_of(pull_tcp6)));
  write("token", "a_all_zero", mode(0, Bytes(sizeof(WSAPROTOCOL_INFOA), 0)));
  Bytes truncated = bytes_of(push_tcp4);
  truncated.resize(200);
  write("token", "a_truncated", mode(0, truncated));

  WSAPROTOCOL_INFOA flipped = push_tcp4;
  flipped.szProtocol[192 + 20] ^= 0x01;  // a nonce byte in the record
  write("token", "a_record_byte_flipped", mode(0, bytes_of(flipped)));
  WSAPROTOCOL_INFOA family = push_tcp4;
  family.iAddressFamily = AF_INET6;  // public field disagrees with record
  write("token", "a_public_field_changed", mode(0, bytes_of(family)));
  WSAPROTOCOL_INFOA unterminated = push_tcp4;
  std::memset(unterminated.szProtocol, 'x', 192);
  write("token", "a_name_unterminated", mode(0, bytes_of(unterminated)));
  WSAPROTOCOL_INFOW wide_unit = push_unix;
  wide_unit.szProtocol[192 + 5] = 0x101;  // kind 1, plus a high byte
  write("token", "w_record_unit_above_255", mode(1, bytes_of(wide_unit)));
  WSAPROTOCOL_INFOW wide_name = pull_tcp6;
  wide_name.szProtocol[0] = 0x4100;  // a name unit that narrows to 0
  write("token", "w_name_unit_above_255", mode(1, bytes_of(wide_name)));
  TokenRecord no_pid = record(TokenKind::kPush, AF_INET, SOCK_STREAM, 6);
  no_pid.source_pid = 0;
  WSAPROTOCOL_INFOA zero_pid;
  encode_token(no_pid, &zero_pid);
  write("token", "a_source_pid_zero", mode(0, bytes_of(zero_pid)));

  Bytes text_a = text_of(bytes_of(push_tcp4));
  Bytes text_w = text_of(bytes_of(pull_tcp6));
  write("token", "text_a_valid", mode(2, text_a));
  write("token", "text_w_valid", mode(3, text_w));
  Bytes upper = text_a;
  for (uint8_t& c : upper) c = static_cast<uint8_t>(std::toupper(c));
  write("token", "text_a_upper_case", mode(2, upper));
  Bytes bad_digit = text_a;
  bad_digit[100] = 'g';
  write("token", "text_a_bad_digit", mode(2, bad_digit));
  write("token", "text_a_one_digit_long", mode(2, cat({text_a, {'0'}})));
  Bytes short_text(text_a.begin(), text_a.end() - 1);
  write("token", "text_a_one_digit_short", mode(2, short_text));
  Bytes embedded_nul = text_w;
  embedded_nul[10] = 0;
  write("token", "text_w_embedded_nul", mode(3, embedded_nul));
  write("token", "text_a_for_w", mode(3, text_a));

  Bytes fields = {1, 0xe8, 0x03, 0, 0, 0xd0, 0x07, 0, 0};  // pull, pids
  for (uint8_t i = 1; i <= 16; ++i) fields.push_back(i);
  Bytes kind_fields = {2, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0};  // TCP/IPv4
  write("token", "round_trip_pull_tcp4", mode(4, cat({fields, kind_fields})));
  write("token", "round_trip_pid_zero", mode(4, {0}));

  // Modes 5 and 6: the target makes the checksum right.
  write("token", "fixed_a_push_tcp4", mode(5, bytes_of(push_tcp4)));
  write("token", "fixed_w_pull_tcp6", mode(6, bytes_of(pull_tcp6)));
  WSAPROTOCOL_INFOA bad_kind = push_tcp4;
  bad_kind.szProtocol[192 + 5] = 3;
  write("token", "fixed_a_kind_3", mode(5, bytes_of(bad_kind)));
  WSAPROTOCOL_INFOA other_family = push_tcp4;
  other_family.iAddressFamily = AF_INET6;
  write("token", "fixed_a_family_disagrees", mode(5, bytes_of(other_family)));
  WSAPROTOCOL_INFOA no_target = push_tcp4;
  std::memset(&no_target.szProtocol[192 + 12], 0, 4);
  write("token", "fixed_a_target_pid_zero", mode(5, bytes_of(no_target)));
  WSAPROTOCOL_INFOA bad_magic = push_tcp4;
  bad_magic.szProtocol[192] = 'X';
  write("token", "fixed_a_bad_magic", mode(5, bytes_of(bad_magic)));
  WSAPROTOCOL_INFOW high_unit = pull_tcp6;
  high_unit.szProtocol[192 + 20] = 0x1ff;
  write("token", "fixed_w_record_unit_above_255", mode(6, bytes_of(high_unit)));
}

// ----------------------------------------------------------------- wire --

// A message as the library makes it, with a fixed source pid so that the
// seeds do not change from one run of this program to the next.
WireMessage message(MessageType type, const Nonce& nonce, uint32_t status) {
  WireMessage result = make_message(type, nonce, status);
  result.source_pid = 4242;
  return result;
}

// One packet of fuzz_support.h's input format.
Bytes packet(uint8_t control, const Bytes& payload) {
  return cat({{control, static_cast<uint8_t>(payload.size())}, payload});
}
Bytes packet(uint8_t control, const WireMessage& payload) {
  return packet(control, bytes_of(payload));
}

constexpr uint8_t kNoDescriptor = 0, kOneDescriptor = 1, kTwoDescriptors = 2,
                  kFiveDescriptors = 3;
constexpr uint8_t kFlag0 = 1 << 2, kFlag1 = 1 << 3;

void wire_seeds() {
  Nonce nonce{};
  for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = 0x40 + i;
  WireMessage push = message(MessageType::kPush, nonce, 0);
  WireMessage pull = message(MessageType::kPull, nonce, 0);
  WireMessage reply = message(MessageType::kReply, nonce, WSAENOBUFS);
  WireMessage commit = message(MessageType::kCommit, nonce, 0);
  write("wire", "push_with_descriptor", packet(kOneDescriptor, push));
  write("wire", "pull", packet(kNoDescriptor, pull));
  write("wire", "reply_with_descriptor", packet(kOneDescriptor, reply));
  write("wire", "commit", packet(kNoDescriptor, commit));
  write("wire", "push_two_descriptors", packet(kTwoDescriptors, push));
  write("wire", "push_five_descriptors", packet(kFiveDescriptors, push));
  write("wire", "push_receiver_out_of_descriptors",
        packet(kOneDescriptor | kFlag0, push));
  write("wire", "empty", packet(kNoDescriptor, Bytes{}));
  write("wire", "empty_with_descriptor", packet(kOneDescriptor, Bytes{}));
  Bytes push_bytes = bytes_of(push);
  write("wire", "truncated",
        packet(kNoDescriptor,
               Bytes(push_bytes.begin(), push_bytes.begin() + 10)));
  write("wire", "one_byte_long", packet(kNoDescriptor, cat({push_bytes, {0}})));
  write("wire", "oversized",
        packet(kOneDescriptor, cat({push_bytes, Bytes(215, 0x78)})));
  WireMessage bad = push;
  bad.magic = 0x12345678;
  write("wire", "bad_magic", packet(kOneDescriptor, bad));
  bad = push;
  bad.version = 2;
  write("wire", "bad_version", packet(kNoDescriptor, bad));
  bad = push;
  bad.length = 0xffffffff;
  write("wire", "bad_length", packet(kNoDescriptor, bad));
  bad = push;
  bad.type = 0;
  write("wire", "type_zero", packet(kNoDescriptor, bad));
  bad.type = 5;
  write("wire", "type_five", packet(kOneDescriptor, bad));
  write("wire", "mailbox",
        packet(kNoDescriptor, message(MessageType::kMailbox, nonce, 0)));
  write("wire", "sequence",
        cat({packet(kOneDescriptor, push), packet(kNoDescriptor, pull),
             packet(kTwoDescriptors, reply), packet(kNoDescriptor, commit)}));
}

// ---------------------------------------------------------------- agent --

void agent_seeds() {
  using wsadup_fuzz::kForeignNonce;
  using wsadup_fuzz::kInboxNonce;
  using wsadup_fuzz::kPendingNonce;
  Nonce fresh{};
  for (size_t i = 0; i < fresh.size(); ++i) fresh[i] = 0x10 + i;
  WireMessage push = message(MessageType::kPush, fresh, 0);
  WireMessage pull = message(MessageType::kPull, kPendingNonce, 0);
  WireMessage commit = message(MessageType::kCommit, kPendingNonce, 0);
  WireMessage give_back =
      message(MessageType::kCommit, kPendingNonce, WSAEMFILE);
  Bytes good_pull =
      cat({packet(kNoDescriptor, pull), packet(kNoDescriptor, commit)});

  write("agent", "push", packet(kOneDescriptor, push));
  write("agent", "push_replayed",
        cat({packet(kOneDescriptor, push), packet(kOneDescriptor, push)}));
  write("agent", "push_without_descriptor", packet(kNoDescriptor, push));
  write("agent", "push_of_inbox_nonce",
        packet(kOneDescriptor, message(MessageType::kPush, kInboxNonce, 0)));
  write("agent", "push_on_two_connections",
        cat({packet(kOneDescriptor, push),
             packet(kOneDescriptor | kFlag0,
                    message(MessageType::kPush, kPendingNonce, 0))}));
  WireMessage mailbox = message(MessageType::kMailbox, fresh, 0);
  Nonce other = fresh;
  other[0] ^= 0xff;
  WireMessage posted_other = message(MessageType::kPush, other, 0);
  write("agent", "mailbox_then_posted",
        cat({packet(kNoDescriptor, mailbox), packet(kOneDescriptor, push),
             packet(kOneDescriptor, posted_other)}));
  write("agent", "mailbox_posted_replay_and_junk",
        cat({packet(kNoDescriptor, mailbox), packet(kOneDescriptor, push),
             packet(kOneDescriptor, push), packet(kTwoDescriptors, posted_other),
             packet(kNoDescriptor, pull), packet(kNoDescriptor, push),
             packet(kOneDescriptor, posted_other)}));
  write("agent", "mailbox_with_descriptor_then_push",
        cat({packet(kOneDescriptor, mailbox), packet(kOneDescriptor, push)}));
  write("agent", "mailbox_closed_then_pull_elsewhere",
        cat({packet(kNoDescriptor, mailbox),
             packet(kOneDescriptor | kFlag1, push), packet(kFlag0, pull),
             packet(kFlag0, commit)}));
  write("agent", "mailbox_empty_message_stalls",
        cat({packet(kNoDescriptor, mailbox), packet(kNoDescriptor, Bytes{}),
             packet(kOneDescriptor, push)}));
  write("agent", "pull_and_commit", good_pull);
  write("agent", "pull_give_back_pull_again",
        cat({packet(kNoDescriptor, pull), packet(kNoDescriptor, give_back),
             good_pull}));
  write("agent", "pull_twice",
        cat({packet(kNoDescriptor, pull), packet(kNoDescriptor, pull)}));
  write("agent", "pull_with_descriptor", packet(kOneDescriptor, pull));
  write("agent", "pull_for_other_process",
        packet(kNoDescriptor, message(MessageType::kPull, kForeignNonce, 0)));
  write("agent", "pull_unknown",
        packet(kNoDescriptor, message(MessageType::kPull, fresh, 0)));
  write("agent", "commit_without_pull", packet(kNoDescriptor, commit));
  write("agent", "commit_on_other_connection",
        cat({packet(kNoDescriptor, pull), packet(kFlag0, commit)}));
  write("agent", "pull_close_pull_elsewhere",
        cat({packet(kNoDescriptor | kFlag1, pull), packet(kFlag0, pull),
             packet(kFlag0, commit)}));
  write("agent", "reply_is_dropped_then_pull",
        cat({packet(kNoDescriptor,
                    message(MessageType::kReply, kPendingNonce, 0)),
             good_pull}));
  Bytes push_bytes = bytes_of(push);
  WireMessage bad = push;
  bad.magic = 0;
  write("agent", "bad_magic_then_pull",
        cat({packet(kOneDescriptor, bad), good_pull}));
  bad = push;
  bad.version = 7;
  write("agent", "bad_version_then_pull",
        cat({packet(kOneDescriptor, bad), good_pull}));
  bad = push;
  bad.length = 41;
  write("agent", "bad_length_then_pull",
        cat({packet(kNoDescriptor, bad), good_pull}));
  write("agent", "truncated_then_pull",
        cat({packet(kOneDescriptor,
                    Bytes(push_bytes.begin(), push_bytes.begin() + 10)),
             good_pull}));
  write("agent", "oversized_then_pull",
        cat({packet(kOneDescriptor, cat({push_bytes, Bytes(100, 0x2a)})),
             good_pull}));
  write("agent", "two_descriptors_then_pull",
        cat({packet(kTwoDescriptors, push), good_pull}));
  write("agent", "five_descriptors_then_pull",
        cat({packet(kFiveDescriptors, push), good_pull}));
  write("agent", "empty_then_pull",
        cat({packet(kNoDescriptor, Bytes{}), good_pull}));
  write("agent", "lent_then_dropped_then_pull",
        cat({packet(kNoDescriptor, pull), packet(kNoDescriptor, Bytes{1}),
             good_pull}));
}

// ---------------------------------------------------------------- reply --

void reply_seeds() {
  using wsadup_fuzz::kCallerNonce;
  const Bytes push_mode = {0}, pull_mode = {1};
  WireMessage ok = message(MessageType::kReply, kCallerNonce, 0);
  WireMessage refused = message(MessageType::kReply, kCallerNonce, WSAENOBUFS);
  WireMessage refusal = message(MessageType::kReply, Nonce{}, WSAEMFILE);
  Nonce other{};
  other[0] = 1;
  WireMessage wrong_nonce = message(MessageType::kReply, other, 0);
  WireMessage wrong_type = message(MessageType::kPush, kCallerNonce, 0);

  write("reply", "push_acknowledged",
        cat({push_mode, packet(kNoDescriptor, ok)}));
  write("reply", "push_refused",
        cat({push_mode, packet(kNoDescriptor, refused)}));
  write("reply", "push_refused_at_accept",
        cat({push_mode, packet(kNoDescriptor, refusal)}));
  write("reply", "push_garbage_then_refusal",
        cat({push_mode, packet(kNoDescriptor | kFlag0, Bytes(40, 0x55)),
             packet(kNoDescriptor, refusal)}));
  write("reply", "push_reply_with_descriptor",
        cat({push_mode, packet(kOneDescriptor, ok)}));
  write("reply", "push_wrong_nonce",
        cat({push_mode, packet(kNoDescriptor, wrong_nonce)}));
  write("reply", "push_unknown_status",
        cat({push_mode,
             packet(kNoDescriptor,
                    message(MessageType::kReply, kCallerNonce, 424242))}));
  write("reply", "pull_unknown_status",
        cat({pull_mode,
             packet(kNoDescriptor,
                    message(MessageType::kReply, kCallerNonce, 424242))}));
  write("reply", "push_no_answer", push_mode);
  write("reply", "push_empty_answer", cat({push_mode, packet(0, Bytes{})}));

  write(
      "reply", "pull_served",
      cat({pull_mode, packet(kOneDescriptor, ok), packet(kNoDescriptor, ok)}));
  write("reply", "pull_served_no_commit_answer",
        cat({pull_mode, packet(kOneDescriptor, ok)}));
  write("reply", "pull_without_descriptor",
        cat({pull_mode, packet(kNoDescriptor, ok), packet(kNoDescriptor, ok)}));
  write("reply", "pull_caller_out_of_descriptors",
        cat({pull_mode, packet(kOneDescriptor | kFlag1, ok),
             packet(kNoDescriptor, ok)}));
  write("reply", "pull_refused",
        cat({pull_mode,
             packet(kNoDescriptor,
                    message(MessageType::kReply, kCallerNonce, WSAEINVAL))}));
  write("reply", "pull_two_descriptors",
        cat({pull_mode, packet(kTwoDescriptors, ok)}));
  write("reply", "pull_five_descriptors",
        cat({pull_mode, packet(kFiveDescriptors, ok)}));
  write("reply", "pull_wrong_type",
        cat({pull_mode, packet(kOneDescriptor, wrong_type)}));
  write("reply", "pull_oversized",
        cat({pull_mode,
             packet(kOneDescriptor, cat({bytes_of(ok), Bytes(60, 1)}))}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  token_seeds();
  wire_seeds();
  agent_seeds();
  reply_seeds();
  return 0;
}
