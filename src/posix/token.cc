// The token: a WSAPROTOCOL_INFO whose public fields are filled as Winsock
// fills them for the socket, plus a private record that says where the
// descriptor waits.
//
// The record lives in szProtocol after the name's terminator, at a fixed
// index, one byte per character: a char in the A structure, a WCHAR holding
// a value below 256 in the W structure. An A<->W conversion that converts the
// whole array element by element therefore keeps it. It holds no pointers,
// and its checksum covers the public fields too, so a token altered anywhere
// outside the display name is refused. None of it is a secret: the kernel's
// credential checks decide who may receive the descriptor.
#include <cstring>
#include <type_traits>
#include <utility>

#include "posix/internal.h"

namespace wsadup::detail {
namespace {

constexpr size_t kRecordIndex = 192;  // in szProtocol, past any name we write
constexpr size_t kRecordSize = 48;
constexpr uint8_t kRecordMagic[4] = {'W', 'S', 'D', 'P'};
constexpr uint8_t kRecordVersion = 1;
constexpr size_t kPublicFieldsSize = offsetof(WSAPROTOCOL_INFOA, szProtocol);
static_assert(kPublicFieldsSize == offsetof(WSAPROTOCOL_INFOW, szProtocol),
              "A and W share their numeric fields");
static_assert(kRecordIndex + kRecordSize <= WSAPROTOCOL_LEN, "record fits");

constexpr GUID kTcpipProvider = {
    0xe70f1aa0, 0xab8b, 0x11cf, {0x8c, 0xa3, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}};
constexpr GUID kTcpip6Provider = {
    0xf9eab0c0, 0x26d4, 0x11d0, {0xbb, 0xbf, 0x00, 0xaa, 0x00, 0x6c, 0x34, 0xe4}};
constexpr GUID kUnixProvider = {
    0xa00943d9, 0x9c2e, 0x4633, {0x9b, 0x59, 0x00, 0x57, 0xa3, 0x16, 0x09, 0x94}};

constexpr DWORD kStreamServiceFlags =
    XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE |
    XP1_EXPEDITED_DATA | XP1_IFS_HANDLES;
constexpr DWORD kDatagramServiceFlags =
    XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST |
    XP1_SUPPORT_MULTIPOINT | XP1_IFS_HANDLES;
// Largest UDP payload Winsock reports for its TCP/IP providers.
constexpr DWORD kUdpMessageSize = 0xffbb;

// The public fields, as Winsock's catalog entry for that protocol has them.
struct PublicFields {
  DWORD service_flags;
  GUID provider;
  DWORD catalog_entry;
  int max_address;
  int min_address;
  DWORD message_size;
  char name[64];
};

PublicFields public_fields_for(int family, int type) {
  bool stream = type == SOCK_STREAM;
  PublicFields fields{};
  fields.service_flags = stream ? kStreamServiceFlags : kDatagramServiceFlags;
  fields.message_size = stream ? 0 : kUdpMessageSize;
  if (family == AF_INET) {
    fields.provider = kTcpipProvider;
    fields.catalog_entry = stream ? 1001 : 1002;
    fields.max_address = fields.min_address = sizeof(sockaddr_in);
    std::strcpy(fields.name,
                stream ? "MSAFD Tcpip [TCP/IP]" : "MSAFD Tcpip [UDP/IP]");
  } else if (family == AF_INET6) {
    fields.provider = kTcpip6Provider;
    fields.catalog_entry = stream ? 1004 : 1005;
    fields.max_address = fields.min_address = sizeof(sockaddr_in6);
    std::strcpy(fields.name,
                stream ? "MSAFD Tcpip [TCP/IPv6]" : "MSAFD Tcpip [UDP/IPv6]");
  } else if (family == AF_UNIX) {
    fields.provider = kUnixProvider;
    fields.catalog_entry = 1007;
    fields.service_flags =
        kStreamServiceFlags & ~static_cast<uint32_t>(XP1_EXPEDITED_DATA);
    fields.max_address = 110;  // Windows' sizeof(SOCKADDR_UN)
    fields.min_address = 2;
    fields.message_size = 0;
    std::strcpy(fields.name, "AF_UNIX");
  } else {
    fields.catalog_entry = 1000;
    fields.max_address = fields.min_address = sizeof(sockaddr_storage);
    std::strcpy(fields.name, stream ? "wsadup [stream]" : "wsadup [datagram]");
  }
  return fields;
}

void put32(uint8_t* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t get32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

// FNV-1a: a self-check against truncation and corruption, not a secret.
uint32_t checksum(const void* public_fields, const uint8_t* record) {
  uint32_t hash = 2166136261u;
  auto mix = [&hash](const uint8_t* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      hash ^= bytes[i];
      hash *= 16777619u;
    }
  };
  mix(static_cast<const uint8_t*>(public_fields), kPublicFieldsSize);
  mix(record, kRecordSize - 4);
  return hash;
}

// One szProtocol element holding the byte value b (CHAR or WCHAR).
template <typename Info>
auto protocol_unit(uint8_t b) {
  using Unit =
      std::remove_reference_t<decltype(std::declval<Info>().szProtocol[0])>;
  return static_cast<Unit>(b);
}

template <typename Info>
void describe(int family, int type, int protocol, Info* info) {
  std::memset(info, 0, sizeof(*info));
  PublicFields fields = public_fields_for(family, type);
  info->dwServiceFlags1 = fields.service_flags;
  info->dwProviderFlags = PFL_MATCHES_PROTOCOL_ZERO;
  info->ProviderId = fields.provider;
  info->dwCatalogEntryId = fields.catalog_entry;
  info->ProtocolChain.ChainLen = BASE_PROTOCOL;
  info->iVersion = 2;
  info->iAddressFamily = family;
  info->iMaxSockAddr = fields.max_address;
  info->iMinSockAddr = fields.min_address;
  info->iSocketType = type;
  info->iProtocol = protocol;
  info->iProtocolMaxOffset = 0;
  info->iNetworkByteOrder = BIGENDIAN;
  info->iSecurityScheme = SECURITY_PROTOCOL_NONE;
  info->dwMessageSize = fields.message_size;
  for (size_t i = 0; fields.name[i] != '\0'; ++i) {
    info->szProtocol[i] =
        protocol_unit<Info>(static_cast<uint8_t>(fields.name[i]));
  }
}

// Writes record into info's private space, its checksum over info's public
// fields as they are now.
template <typename Info>
void write_record(const TokenRecord& record, Info* info) {
  uint8_t bytes[kRecordSize] = {};
  std::memcpy(bytes, kRecordMagic, 4);
  bytes[4] = kRecordVersion;
  bytes[5] = static_cast<uint8_t>(record.kind);
  put32(bytes + 8, record.source_pid);
  put32(bytes + 12, record.target_pid);
  std::memcpy(bytes + 16, record.nonce.data(), record.nonce.size());
  put32(bytes + 32, static_cast<uint32_t>(record.address_family));
  put32(bytes + 36, static_cast<uint32_t>(record.socket_type));
  put32(bytes + 40, static_cast<uint32_t>(record.protocol));
  put32(bytes + 44, checksum(info, bytes));
  for (size_t i = 0; i < kRecordSize; ++i) {
    info->szProtocol[kRecordIndex + i] = protocol_unit<Info>(bytes[i]);
  }
}

template <typename Info>
void encode(const TokenRecord& record, Info* info) {
  describe(record.address_family, record.socket_type, record.protocol, info);
  // Reserved for the provider, as on Windows; here a short tag of the token.
  info->dwProviderReserved = get32(record.nonce.data());
  write_record(record, info);
}

// The value of one szProtocol element: char is signed on most ABIs, so the
// A structure's bytes above 127 must be read as unsigned.
uint32_t unit_value(char unit) {
  return static_cast<unsigned char>(unit);
}
uint32_t unit_value(WCHAR unit) { return unit; }

template <typename Info>
int decode(const Info& info, TokenRecord* record) {
  // The name must end before the record starts.
  bool terminated = false;
  for (size_t i = 0; i < kRecordIndex && !terminated; ++i) {
    terminated = info.szProtocol[i] == 0;
  }
  if (!terminated) return WSAEINVAL;
  uint8_t bytes[kRecordSize];
  for (size_t i = 0; i < kRecordSize; ++i) {
    uint32_t unit = unit_value(info.szProtocol[kRecordIndex + i]);
    if (unit > 0xff) return WSAEINVAL;
    bytes[i] = static_cast<uint8_t>(unit);
  }
  if (std::memcmp(bytes, kRecordMagic, 4) != 0 || bytes[4] != kRecordVersion ||
      bytes[6] != 0 || bytes[7] != 0 ||
      get32(bytes + 44) != checksum(&info, bytes)) {
    return WSAEINVAL;
  }
  TokenRecord decoded;
  if (bytes[5] != static_cast<uint8_t>(TokenKind::kPush) &&
      bytes[5] != static_cast<uint8_t>(TokenKind::kPull)) {
    return WSAEINVAL;
  }
  decoded.kind = static_cast<TokenKind>(bytes[5]);
  decoded.source_pid = get32(bytes + 8);
  decoded.target_pid = get32(bytes + 12);
  std::memcpy(decoded.nonce.data(), bytes + 16, decoded.nonce.size());
  decoded.address_family = static_cast<int32_t>(get32(bytes + 32));
  decoded.socket_type = static_cast<int32_t>(get32(bytes + 36));
  decoded.protocol = static_cast<int32_t>(get32(bytes + 40));
  if (decoded.address_family != info.iAddressFamily ||
      decoded.socket_type != info.iSocketType ||
      decoded.protocol != info.iProtocol || decoded.source_pid == 0 ||
      decoded.target_pid == 0) {
    return WSAEINVAL;
  }
  *record = decoded;
  return 0;
}

}  // namespace

void describe_protocol(int family, int type, int protocol,
                       WSAPROTOCOL_INFOA* info) {
  describe(family, type, protocol, info);
}

void describe_protocol(int family, int type, int protocol,
                       WSAPROTOCOL_INFOW* info) {
  describe(family, type, protocol, info);
}

void encode_token(const TokenRecord& record, WSAPROTOCOL_INFOA* info) {
  encode(record, info);
}

void encode_token(const TokenRecord& record, WSAPROTOCOL_INFOW* info) {
  encode(record, info);
}

void seal_token(const TokenRecord& record, WSAPROTOCOL_INFOW* info) {
  // The name must end before the record: a longer one is cut short.
  bool terminated = false;
  for (size_t i = 0; i < kRecordIndex && !terminated; ++i) {
    terminated = info->szProtocol[i] == 0;
  }
  if (!terminated) info->szProtocol[kRecordIndex - 1] = 0;
  write_record(record, info);
  for (size_t i = kRecordIndex + kRecordSize; i <= WSAPROTOCOL_LEN; ++i) {
    info->szProtocol[i] = 0;
  }
}

int decode_token(const WSAPROTOCOL_INFOA& info, TokenRecord* record) {
  return decode(info, record);
}

int decode_token(const WSAPROTOCOL_INFOW& info, TokenRecord* record) {
  return decode(info, record);
}

}  // namespace wsadup::detail
