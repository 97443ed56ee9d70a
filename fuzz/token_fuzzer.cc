// Token decoding: arbitrary bytes as a WSAPROTOCOL_INFOA or _INFOW, as the
// text form, or as the fields of a record to encode. A token comes from
// another process (a pipe, a command line, an environment variable), so its
// bytes are untrusted: decoding must refuse anything but a well-formed token
// with WSAEINVAL, never crash, and never create a descriptor.
//
// Input: one mode byte (taken modulo 7), then the mode's bytes:
//   0  the raw bytes of a WSAPROTOCOL_INFOA (zero-filled or cut to size)
//   1  the raw bytes of a WSAPROTOCOL_INFOW
//   2  text for wsadup_token_from_text into a WSAPROTOCOL_INFOA
//   3  text for wsadup_token_from_text into a WSAPROTOCOL_INFOW
//   4  the fields of a TokenRecord, encoded and decoded back
//   5  as 0, with the record's checksum made right
//   6  as 1, with the record's checksum made right
//   7  a layered provider's token: the fields of a TokenRecord, then the
//      bytes of the WSAPROTOCOL_INFOW a layer wrote over the base's (its own
//      entry, chain, name: anything), sealed as the library seals it once
//      the chain has returned (seal_token)
// Modes 5 and 6 let the fuzzer past the checksum, to every check behind it:
// a random change almost never keeps a 32-bit checksum right by itself.
#include <cstddef>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "posix/internal.h"

using wsadup::detail::decode_token;
using wsadup::detail::encode_token;
using wsadup::detail::seal_token;
using wsadup::detail::TokenKind;
using wsadup::detail::TokenRecord;

namespace {

bool same_record(const TokenRecord& a, const TokenRecord& b) {
  return a.kind == b.kind && a.source_pid == b.source_pid &&
         a.target_pid == b.target_pid && a.nonce == b.nonce &&
         a.address_family == b.address_family &&
         a.socket_type == b.socket_type && a.protocol == b.protocol;
}

// What every successful decode promises the import path.
template <typename Info>
void check_decoded(const Info& info, const TokenRecord& record) {
  FUZZ_CHECK(record.kind == TokenKind::kPush ||
             record.kind == TokenKind::kPull);
  FUZZ_CHECK(record.source_pid != 0 && record.target_pid != 0);
  FUZZ_CHECK(record.address_family == info.iAddressFamily);
  FUZZ_CHECK(record.socket_type == info.iSocketType);
  FUZZ_CHECK(record.protocol == info.iProtocol);
  // What the library encodes from a decoded record decodes to it again, in
  // both structures.
  WSAPROTOCOL_INFOA again_a;
  WSAPROTOCOL_INFOW again_w;
  encode_token(record, &again_a);
  encode_token(record, &again_w);
  TokenRecord from_a;
  TokenRecord from_w;
  FUZZ_CHECK(decode_token(again_a, &from_a) == 0);
  FUZZ_CHECK(decode_token(again_w, &from_w) == 0);
  FUZZ_CHECK(same_record(from_a, record));
  FUZZ_CHECK(same_record(from_w, record));
}

// An A structure widened element by element to W (what an A->W conversion
// of szProtocol does) decodes exactly as the A structure does, and a W
// structure that decodes narrows to an A structure that decodes the same.
WSAPROTOCOL_INFOW widen(const WSAPROTOCOL_INFOA& narrow) {
  WSAPROTOCOL_INFOW wide;
  std::memcpy(&wide, &narrow, offsetof(WSAPROTOCOL_INFOA, szProtocol));
  for (size_t i = 0; i < WSAPROTOCOL_LEN + 1; ++i) {
    wide.szProtocol[i] = static_cast<unsigned char>(narrow.szProtocol[i]);
  }
  return wide;
}

WSAPROTOCOL_INFOA narrow(const WSAPROTOCOL_INFOW& wide) {
  WSAPROTOCOL_INFOA result;
  std::memcpy(&result, &wide, offsetof(WSAPROTOCOL_INFOW, szProtocol));
  for (size_t i = 0; i < WSAPROTOCOL_LEN + 1; ++i) {
    result.szProtocol[i] = static_cast<char>(wide.szProtocol[i] & 0xff);
  }
  return result;
}

void decode_a(const WSAPROTOCOL_INFOA& info) {
  TokenRecord record;
  int status = decode_token(info, &record);
  FUZZ_CHECK(status == 0 || status == WSAEINVAL);
  TokenRecord wide_record;
  int wide_status = decode_token(widen(info), &wide_record);
  FUZZ_CHECK(wide_status == status);
  if (status != 0) return;
  check_decoded(info, record);
  FUZZ_CHECK(same_record(wide_record, record));
}

void decode_w(const WSAPROTOCOL_INFOW& info) {
  TokenRecord record;
  int status = decode_token(info, &record);
  FUZZ_CHECK(status == 0 || status == WSAEINVAL);
  if (status != 0) return;
  check_decoded(info, record);
  TokenRecord narrow_record;
  FUZZ_CHECK(decode_token(narrow(info), &narrow_record) == 0);
  FUZZ_CHECK(same_record(narrow_record, record));
}

template <typename Info>
Info from_bytes(const uint8_t* data, size_t size) {
  Info info;
  std::memset(&info, 0, sizeof(info));
  std::memcpy(&info, data, size < sizeof(info) ? size : sizeof(info));
  return info;
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

// wsadup_token_from_text accepts exactly 2 * sizeof(Info) hex digits, writes
// nothing when it refuses, and reads back to the same text (in lower case).
template <typename Info>
void decode_text(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const char* c_text = text.c_str();  // stops at an embedded NUL, as C does
  size_t length = std::strlen(c_text);
  bool valid = length == 2 * sizeof(Info);
  for (size_t i = 0; valid && i < length; ++i) valid = is_hex_digit(c_text[i]);

  Info info;
  std::memset(&info, 0x5a, sizeof(info));
  Info untouched = info;
  WSASetLastError(0);
  int status = wsadup_token_from_text(c_text, &info, sizeof(info));
  if (!valid) {
    FUZZ_CHECK(status == SOCKET_ERROR);
    FUZZ_CHECK(WSAGetLastError() == WSAEINVAL);
    FUZZ_CHECK(std::memcmp(&info, &untouched, sizeof(info)) == 0);
    return;
  }
  FUZZ_CHECK(status == 0);
  char again[WSADUP_TOKEN_TEXT_SIZE];
  FUZZ_CHECK(wsadup_token_to_text(&info, sizeof(info), again) == 0);
  for (size_t i = 0; i < length; ++i) {
    char c = c_text[i];
    char lower = c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
    FUZZ_CHECK(again[i] == lower);
  }
  FUZZ_CHECK(again[length] == '\0');
  if constexpr (sizeof(Info) == sizeof(WSAPROTOCOL_INFOA)) {
    decode_a(info);
  } else {
    decode_w(info);
  }
}

// The record's checksum as docs/design.md states it, written apart from the
// library's: FNV-1a over the 116 bytes of numeric fields and record bytes
// 0-43, stored little-endian in record bytes 44-47. In the W structure each
// record element holds one byte.
constexpr size_t kRecordIndex = 192;
template <typename Info>
void make_checksum_right(Info* info) {
  uint32_t hash = 2166136261u;
  auto mix = [&hash](uint8_t byte) {
    hash ^= byte;
    hash *= 16777619u;
  };
  const auto* numeric = reinterpret_cast<const uint8_t*>(info);
  for (size_t i = 0; i < offsetof(Info, szProtocol); ++i) mix(numeric[i]);
  for (size_t i = 0; i < 44; ++i) {
    mix(static_cast<uint8_t>(info->szProtocol[kRecordIndex + i]));
  }
  for (size_t i = 0; i < 4; ++i) {
    info->szProtocol[kRecordIndex + 44 + i] =
        static_cast<uint8_t>(hash >> (8 * i));
  }
}

uint32_t take32(const uint8_t* data, size_t size, size_t* offset) {
  uint32_t value = 0;
  for (int i = 0; i < 4 && *offset < size; ++i) {
    value |= static_cast<uint32_t>(data[(*offset)++]) << (8 * i);
  }
  return value;
}

// The fields of a record, from the input; *offset moves past them.
TokenRecord record_from(const uint8_t* data, size_t size, size_t* at) {
  size_t offset = *at;
  TokenRecord record;
  record.kind = offset < size && (data[offset++] & 1) ? TokenKind::kPull
                                                      : TokenKind::kPush;
  record.source_pid = take32(data, size, &offset);
  record.target_pid = take32(data, size, &offset);
  for (uint8_t& byte : record.nonce) byte = offset < size ? data[offset++] : 0;
  record.address_family = static_cast<int32_t>(take32(data, size, &offset));
  record.socket_type = static_cast<int32_t>(take32(data, size, &offset));
  record.protocol = static_cast<int32_t>(take32(data, size, &offset));
  *at = offset;
  return record;
}

// A token a layered chain filled and the library then sealed: it decodes
// to the record exactly when the record names no pid 0 and the layer kept
// the family, type and protocol (a layer's entry is over the same
// protocol); the public fields the layer wrote are kept, and its name is
// kept up to where the record starts.
void seal_layered(const uint8_t* data, size_t size) {
  size_t offset = 0;
  bool keep_triplet = offset < size && (data[offset++] & 1) != 0;
  TokenRecord record = record_from(data, size, &offset);
  WSAPROTOCOL_INFOW info =
      from_bytes<WSAPROTOCOL_INFOW>(data + offset, size - offset);
  if (keep_triplet) {
    info.iAddressFamily = record.address_family;
    info.iSocketType = record.socket_type;
    info.iProtocol = record.protocol;
  }
  WSAPROTOCOL_INFOW before = info;
  seal_token(record, &info);
  FUZZ_CHECK(std::memcmp(&info, &before,
                         offsetof(WSAPROTOCOL_INFOW, szProtocol)) == 0);
  bool terminated = false;
  for (size_t i = 0; i < kRecordIndex; ++i) {
    if (!terminated) {
      FUZZ_CHECK(info.szProtocol[i] == before.szProtocol[i] ||
                 (i == kRecordIndex - 1 && info.szProtocol[i] == 0));
    }
    terminated = terminated || before.szProtocol[i] == 0;
  }
  bool decodable = record.source_pid != 0 && record.target_pid != 0 &&
                   info.iAddressFamily == record.address_family &&
                   info.iSocketType == record.socket_type &&
                   info.iProtocol == record.protocol;
  TokenRecord decoded;
  FUZZ_CHECK((decode_token(info, &decoded) == 0) == decodable);
  if (!decodable) return;
  FUZZ_CHECK(same_record(decoded, record));
  decode_w(info);
}

// A record the library encodes decodes back to itself, unless it names pid
// 0 (which no token may).
void round_trip(const uint8_t* data, size_t size) {
  size_t offset = 0;
  TokenRecord record = record_from(data, size, &offset);
  bool decodable = record.source_pid != 0 && record.target_pid != 0;

  WSAPROTOCOL_INFOA info_a;
  WSAPROTOCOL_INFOW info_w;
  encode_token(record, &info_a);
  encode_token(record, &info_w);
  TokenRecord from_a;
  TokenRecord from_w;
  FUZZ_CHECK((decode_token(info_a, &from_a) == 0) == decodable);
  FUZZ_CHECK((decode_token(info_w, &from_w) == 0) == decodable);
  if (!decodable) return;
  FUZZ_CHECK(same_record(from_a, record));
  FUZZ_CHECK(same_record(from_w, record));
  decode_a(info_a);
  decode_w(info_w);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int next_free = wsadup_fuzz::lowest_free_descriptor();
  if (size == 0) return 0;
  const uint8_t* rest = data + 1;
  size_t rest_size = size - 1;
  switch (data[0] % 8) {
    case 0:
      decode_a(from_bytes<WSAPROTOCOL_INFOA>(rest, rest_size));
      break;
    case 1:
      decode_w(from_bytes<WSAPROTOCOL_INFOW>(rest, rest_size));
      break;
    case 2:
      decode_text<WSAPROTOCOL_INFOA>(rest, rest_size);
      break;
    case 3:
      decode_text<WSAPROTOCOL_INFOW>(rest, rest_size);
      break;
    case 4:
      round_trip(rest, rest_size);
      break;
    case 5: {
      auto info = from_bytes<WSAPROTOCOL_INFOA>(rest, rest_size);
      make_checksum_right(&info);
      decode_a(info);
      break;
    }
    case 6: {
      auto info = from_bytes<WSAPROTOCOL_INFOW>(rest, rest_size);
      make_checksum_right(&info);
      decode_w(info);
      break;
    }
    default:
      seal_layered(rest, rest_size);
      break;
  }
  // Decoding is pure: no descriptor may appear.
  FUZZ_CHECK(wsadup_fuzz::lowest_free_descriptor() == next_free);
  return 0;
}
