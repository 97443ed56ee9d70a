// WSAAddressToString and WSAStringToAddress (POSIX): IPv4 and IPv6 socket
// addresses written and read as Windows writes and reads them. The
// conversions here are the base provider's (provider_base.cc's table uses
// them); the exported calls hand them to the catalog entry that serves the
// address family, or the one the protocol info names, as ws2_32 does
// (provider_route_address.cc), and come here directly while no layered
// provider is installed.
//
// The text forms are Windows' (RtlIpv4AddressToStringEx and its
// relatives): "a.b.c.d" and "a.b.c.d:port" when the port is not 0;
// "addr", "addr%scope", "[addr]:port" and "[addr%scope]:port". Reading, an
// IPv4 address may have one to four parts, each decimal, octal (a leading
// 0) or hexadecimal (0x), the last part filling the bytes left; a port
// follows a colon, in the same three bases, 1 to 65535.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "posix/internal.h"
#include "posix/provider.h"

namespace wsadup::detail {
namespace {

// One number of an IPv4 address or a port: decimal, octal after a leading
// 0, hexadecimal after 0x or 0X. Advances *text past it. False when there
// is no number there, or it has a digit its base does not have right after
// it (a letter or digit that would make it another number).
bool read_number(const char** text, uint64_t* value) {
  const char* at = *text;
  unsigned base = 10;
  if (at[0] == '0' && (at[1] == 'x' || at[1] == 'X')) {
    base = 16;
    at += 2;
  } else if (at[0] == '0') {
    base = 8;
  }
  const char* digits = at;
  uint64_t result = 0;
  for (;; ++at) {
    unsigned digit;
    char c = *at;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    if (digit >= base) return false;
    // Large enough for any address and port; more digits are an error.
    if (result > 0xFFFFFFFFull) return false;
    result = result * base + digit;
  }
  if (at == digits) return false;  // "0x" alone, or no digit at all
  *value = result;
  *text = at;
  return true;
}

// "1.2.3.4", "1.2.3", "1.2", "1" and their octal and hexadecimal parts,
// then an optional ":port". Windows reads no space anywhere.
bool parse_ipv4(const char* text, in_addr* address, uint16_t* port) {
  uint64_t parts[4];
  int count = 0;
  const char* at = text;
  for (;;) {
    if (count == 4 || !read_number(&at, &parts[count])) return false;
    ++count;
    if (*at != '.') break;
    ++at;
  }
  // Every part but the last is one byte; the last fills what is left.
  for (int i = 0; i + 1 < count; ++i) {
    if (parts[i] > 0xFF) return false;
  }
  static const uint64_t kLastPartLimit[] = {0xFFFFFFFFull, 0xFFFFFF, 0xFFFF,
                                            0xFF};
  if (parts[count - 1] > kLastPartLimit[count - 1]) return false;
  uint32_t value = static_cast<uint32_t>(parts[count - 1]);
  for (int i = 0; i + 1 < count; ++i) {
    value |= static_cast<uint32_t>(parts[i]) << (24 - 8 * i);
  }
  *port = 0;
  if (*at == ':') {
    ++at;
    uint64_t number = 0;
    if (!read_number(&at, &number) || number == 0 || number > 0xFFFF) {
      return false;
    }
    *port = static_cast<uint16_t>(number);
  }
  if (*at != '\0') return false;
  address->s_addr = htonl(value);
  return true;
}

// "addr", "addr%scope", "[addr]", "[addr%scope]" and either bracketed form
// with ":port".
bool parse_ipv6(const char* text, in6_addr* address, uint32_t* scope,
                uint16_t* port) {
  std::string body = text;
  *port = 0;
  *scope = 0;
  if (!body.empty() && body[0] == '[') {
    size_t close = body.find(']');
    if (close == std::string::npos) return false;
    std::string after = body.substr(close + 1);
    body = body.substr(1, close - 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      const char* at = after.c_str() + 1;
      uint64_t number = 0;
      if (!read_number(&at, &number) || *at != '\0' || number > 0xFFFF) {
        return false;
      }
      *port = static_cast<uint16_t>(number);
    }
  }
  size_t percent = body.find('%');
  if (percent != std::string::npos) {
    std::string digits = body.substr(percent + 1);
    if (digits.empty() || digits.size() > 10) return false;
    uint64_t value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 0xFFFFFFFFull) return false;
    *scope = static_cast<uint32_t>(value);
    body.resize(percent);
  }
  // The address itself: the system's reading of IPv6 text, which takes
  // neither brackets nor a scope.
  return !body.empty() && inet_pton(AF_INET6, body.c_str(), address) == 1;
}

}  // namespace

int engine_address_to_string(const sockaddr* address, DWORD length,
                              std::string* text) {
  if (address == nullptr || length < sizeof(address->sa_family)) {
    return WSAEFAULT;
  }
  char buffer[INET6_ADDRSTRLEN + 32];
  if (address->sa_family == AF_INET) {
    if (length < sizeof(sockaddr_in)) return WSAEFAULT;
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    char host[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host) == nullptr) {
      return WSAEINVAL;
    }
    if (v4.sin_port != 0) {
      std::snprintf(buffer, sizeof buffer, "%s:%u", host, ntohs(v4.sin_port));
    } else {
      std::snprintf(buffer, sizeof buffer, "%s", host);
    }
  } else if (address->sa_family == AF_INET6) {
    if (length < sizeof(sockaddr_in6)) return WSAEFAULT;
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    char host[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host) == nullptr) {
      return WSAEINVAL;
    }
    std::string with_scope = host;
    if (v6.sin6_scope_id != 0) {
      with_scope += "%" + std::to_string(v6.sin6_scope_id);
    }
    if (v6.sin6_port != 0) {
      std::snprintf(buffer, sizeof buffer, "[%s]:%u", with_scope.c_str(),
                    ntohs(v6.sin6_port));
    } else {
      std::snprintf(buffer, sizeof buffer, "%s", with_scope.c_str());
    }
  } else {
    return WSAEINVAL;
  }
  *text = buffer;
  return 0;
}

int engine_string_to_address(const std::string& text, int family,
                             sockaddr* address, int* length) {
  if (address == nullptr || length == nullptr) return WSAEFAULT;
  if (family == AF_INET) {
    if (*length < static_cast<int>(sizeof(sockaddr_in))) {
      *length = static_cast<int>(sizeof(sockaddr_in));
      return WSAEFAULT;
    }
    sockaddr_in v4{};
    uint16_t port = 0;
    if (!parse_ipv4(text.c_str(), &v4.sin_addr, &port)) return WSAEINVAL;
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(address, &v4, sizeof v4);
    *length = static_cast<int>(sizeof v4);
    return 0;
  }
  if (family == AF_INET6) {
    if (*length < static_cast<int>(sizeof(sockaddr_in6))) {
      *length = static_cast<int>(sizeof(sockaddr_in6));
      return WSAEFAULT;
    }
    sockaddr_in6 v6{};
    uint16_t port = 0;
    uint32_t scope = 0;
    if (!parse_ipv6(text.c_str(), &v6.sin6_addr, &scope, &port)) {
      return WSAEINVAL;
    }
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    v6.sin6_scope_id = scope;
    std::memcpy(address, &v6, sizeof v6);
    *length = static_cast<int>(sizeof v6);
    return 0;
  }
  return WSAEINVAL;
}

// The base provider's entries, in the SPI's wide form.
int engine_address_to_string_w(const sockaddr* address, DWORD length,
                               WCHAR* text, DWORD* text_length) {
  if (text_length == nullptr) return WSAEFAULT;
  std::string narrow;
  int error = engine_address_to_string(address, length, &narrow);
  if (error != 0) return error;
  DWORD needed = static_cast<DWORD>(narrow.size() + 1);
  if (text == nullptr || *text_length < needed) {
    *text_length = needed;
    return WSAEFAULT;
  }
  for (size_t i = 0; i < narrow.size(); ++i) {
    text[i] = static_cast<WCHAR>(static_cast<unsigned char>(narrow[i]));
  }
  text[narrow.size()] = 0;
  *text_length = needed;
  return 0;
}

int engine_string_to_address_w(const WCHAR* text, int family,
                               sockaddr* address, int* length) {
  if (text == nullptr) return WSAEINVAL;
  std::string narrow;
  for (const WCHAR* at = text; *at != 0; ++at) {
    // Address text is ASCII; anything else cannot be part of one.
    narrow += *at < 0x80 ? static_cast<char>(*at) : '\x7f';
  }
  return engine_string_to_address(narrow, family, address, length);
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

extern "C" INT WSAAddressToStringW(LPSOCKADDR lpsaAddress,
                                   DWORD dwAddressLength,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                   LPWSTR lpszAddressString,
                                   LPDWORD lpdwAddressStringLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    // Checked before any provider sees the call.
    if (lpsaAddress == nullptr || lpdwAddressStringLength == nullptr ||
        dwAddressLength < sizeof(lpsaAddress->sa_family)) {
      return fail(WSAEFAULT);  // not even the family can be read
    }
    int error = 0;
    int result = 0;
    if (layers_installed() &&
        route_address_to_string(lpsaAddress, dwAddressLength, lpProtocolInfo,
                                lpszAddressString, lpdwAddressStringLength,
                                &result, &error)) {
      return result == 0 ? 0 : fail(error);
    }
    error = engine_address_to_string_w(lpsaAddress, dwAddressLength,
                                       lpszAddressString,
                                       lpdwAddressStringLength);
    return error == 0 ? 0 : fail(error);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" INT WSAAddressToStringA(LPSOCKADDR lpsaAddress,
                                   DWORD dwAddressLength,
                                   LPWSAPROTOCOL_INFOA lpProtocolInfo,
                                   LPSTR lpszAddressString,
                                   LPDWORD lpdwAddressStringLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (lpdwAddressStringLength == nullptr) return fail(WSAEFAULT);
    WSAPROTOCOL_INFOW wide_info;
    if (lpProtocolInfo != nullptr) widen_info(*lpProtocolInfo, &wide_info);
    // The text is ASCII: as many wide characters as bytes.
    WCHAR wide[INET6_ADDRSTRLEN + 32];
    DWORD wide_length = sizeof wide / sizeof wide[0];
    if (WSAAddressToStringW(lpsaAddress, dwAddressLength,
                            lpProtocolInfo != nullptr ? &wide_info : nullptr,
                            wide, &wide_length) != 0) {
      return SOCKET_ERROR;  // its error is set
    }
    if (lpszAddressString == nullptr || *lpdwAddressStringLength < wide_length) {
      *lpdwAddressStringLength = wide_length;
      return fail(WSAEFAULT);
    }
    for (DWORD i = 0; i < wide_length; ++i) {
      lpszAddressString[i] = static_cast<char>(wide[i]);
    }
    *lpdwAddressStringLength = wide_length;
    return 0;
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" INT WSAStringToAddressW(LPWSTR AddressString, INT AddressFamily,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                   LPSOCKADDR lpAddress, LPINT lpAddressLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    // Checked before any provider sees the call.
    if (AddressString == nullptr) return fail(WSAEINVAL);
    if (lpAddress == nullptr || lpAddressLength == nullptr) {
      return fail(WSAEFAULT);
    }
    int error = 0;
    int result = 0;
    if (layers_installed() &&
        route_string_to_address(AddressString, AddressFamily, lpProtocolInfo,
                                lpAddress, lpAddressLength, &result, &error)) {
      return result == 0 ? 0 : fail(error);
    }
    error = engine_string_to_address_w(AddressString, AddressFamily,
                                       lpAddress, lpAddressLength);
    return error == 0 ? 0 : fail(error);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" INT WSAStringToAddressA(LPSTR AddressString, INT AddressFamily,
                                   LPWSAPROTOCOL_INFOA lpProtocolInfo,
                                   LPSOCKADDR lpAddress, LPINT lpAddressLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (AddressString == nullptr) return fail(WSAEINVAL);
    std::basic_string<WCHAR> wide;
    for (const char* at = AddressString; *at != '\0'; ++at) {
      wide += static_cast<WCHAR>(static_cast<unsigned char>(*at));
    }
    WSAPROTOCOL_INFOW wide_info;
    if (lpProtocolInfo != nullptr) widen_info(*lpProtocolInfo, &wide_info);
    return WSAStringToAddressW(&wide[0], AddressFamily,
                               lpProtocolInfo != nullptr ? &wide_info : nullptr,
                               lpAddress, lpAddressLength);
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}
