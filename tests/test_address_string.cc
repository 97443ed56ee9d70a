// WSAAddressToString and WSAStringToAddress: socket addresses as Windows
// writes and reads them. The expectations are those of suites that pass on
// Windows (Wine's ws2_32 tests): "a.b.c.d[:port]", "addr", "addr%scope",
// "[addr%scope]:port"; a length too short is WSAEFAULT with the length
// needed, counted with the terminating null; an IPv4 address of one to four
// parts in decimal, octal or hexadecimal, a port of 1 to 65535.
#include <cstdio>
#include <cstring>
#include <string>

#include "support.h"

namespace wsadup_test {
namespace {

using AddressToString = ConformanceTest;
using StringToAddress = ConformanceTest;

SOCKADDR_IN ipv4(uint32_t host_order_address, uint16_t port) {
  SOCKADDR_IN address;
  std::memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(host_order_address);
  address.sin_port = htons(port);
  return address;
}

SOCKADDR_IN6 ipv6(const uint16_t (&words)[8], uint32_t scope, uint16_t port) {
  SOCKADDR_IN6 address;
  std::memset(&address, 0, sizeof address);
  address.sin6_family = AF_INET6;
  for (int i = 0; i < 8; ++i) {
    address.sin6_addr.s6_addr[2 * i] = static_cast<unsigned char>(words[i] >> 8);
    address.sin6_addr.s6_addr[2 * i + 1] =
        static_cast<unsigned char>(words[i] & 0xFF);
  }
  address.sin6_scope_id = scope;
  address.sin6_port = htons(port);
  return address;
}

// The A form's text and length, or "error <code>".
template <typename Address>
std::string text_of(const Address& address) {
  char text[96];
  DWORD length = sizeof text;
  Address copy = address;
  if (WSAAddressToStringA(reinterpret_cast<LPSOCKADDR>(&copy), sizeof copy,
                          nullptr, text, &length) != 0) {
    return "error " + std::to_string(WSAGetLastError());
  }
  if (length != std::strlen(text) + 1) return "length " + std::to_string(length);
  return text;
}

// The W form's, narrowed (the text is ASCII).
template <typename Address>
std::string wide_text_of(const Address& address) {
  WCHAR text[96];
  DWORD length = sizeof text / sizeof text[0];
  Address copy = address;
  if (WSAAddressToStringW(reinterpret_cast<LPSOCKADDR>(&copy), sizeof copy,
                          nullptr, text, &length) != 0) {
    return "error " + std::to_string(WSAGetLastError());
  }
  std::string narrow;
  for (DWORD i = 0; text[i] != 0; ++i) narrow += static_cast<char>(text[i]);
  if (length != narrow.size() + 1) return "length " + std::to_string(length);
  return narrow;
}

TEST_F(AddressToString, Ipv4IsDottedWithThePortOnlyWhenItIsNotZero) {
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(text_of(ipv4(0, 0)), "0.0.0.0");
  EXPECT_EQ(text_of(ipv4(0xFFFFFFFF, 0)), "255.255.255.255");
  EXPECT_EQ(text_of(ipv4(0, 65535)), "0.0.0.0:65535");
  EXPECT_EQ(text_of(ipv4(0x7F000001, 8080)), "127.0.0.1:8080");
  EXPECT_EQ(wide_text_of(ipv4(0xFFFFFFFF, 65535)), "255.255.255.255:65535");
}

TEST_F(AddressToString, Ipv6HasItsScopeAfterAPercentAndIsBracketedWithAPort) {
  Session session;
  ASSERT_TRUE(session.ok());
  const uint16_t loopback[8] = {0, 0, 0, 0, 0, 0, 0, 1};
  const uint16_t other[8] = {0x20ab, 0, 0, 0, 0, 0, 0, 0x2001};
  EXPECT_EQ(text_of(ipv6(loopback, 0, 0)), "::1");
  EXPECT_EQ(text_of(ipv6(other, 0, 33274)), "[20ab::2001]:33274");
  EXPECT_EQ(text_of(ipv6(other, 4660, 33274)), "[20ab::2001%4660]:33274");
  EXPECT_EQ(text_of(ipv6(other, 4660, 0)), "20ab::2001%4660");
  EXPECT_EQ(wide_text_of(ipv6(other, 4660, 33274)), "[20ab::2001%4660]:33274");
}

// "The specified address buffer is too small": WSAEFAULT.
TEST_F(AddressToString, AnAddressShorterThanItsFamilysStructureIsWSAEFAULT) {
  Session session;
  ASSERT_TRUE(session.ok());
  if (running_under_wine()) {
    std::printf("[ WINE SKIP ] Wine reads the address whatever its length "
                "says (docs/conformance.md W20)\n");
    return;
  }
  SOCKADDR_IN address = ipv4(0x7F000001, 80);
  char text[64];
  DWORD length = sizeof text;
  WSASetLastError(0);
  EXPECT_EQ(WSAAddressToStringA(reinterpret_cast<LPSOCKADDR>(&address),
                                sizeof address - 1, nullptr, text, &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  SOCKADDR_IN6 address6;
  std::memset(&address6, 0, sizeof address6);
  address6.sin6_family = AF_INET6;
  length = sizeof text;
  EXPECT_EQ(WSAAddressToStringA(reinterpret_cast<LPSOCKADDR>(&address6),
                                sizeof(SOCKADDR_IN), nullptr, text, &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
}

TEST_F(AddressToString, AShortBufferIsWSAEFAULTWithTheLengthNeeded) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKADDR_IN address = ipv4(0, 0);
  char text[16];
  DWORD length = 0;
  WSASetLastError(0);
  EXPECT_EQ(WSAAddressToStringA(reinterpret_cast<LPSOCKADDR>(&address),
                                sizeof address, nullptr, text, &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(length, 8u);  // "0.0.0.0" and its null
  length = 0;
  EXPECT_EQ(WSAAddressToStringW(reinterpret_cast<LPSOCKADDR>(&address),
                                sizeof address, nullptr, nullptr, &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(length, 8u);
  // Exactly the length needed is enough.
  length = 8;
  std::memset(text, 'x', sizeof text);
  EXPECT_EQ(WSAAddressToStringA(reinterpret_cast<LPSOCKADDR>(&address),
                                sizeof address, nullptr, text, &length),
            0);
  EXPECT_STREQ(text, "0.0.0.0");
  EXPECT_EQ(length, 8u);
}

// The A form's result for text, as "<address> <port>" or "error <code>",
// after checking the length and family Windows reports.
std::string ipv4_of(const char* text) {
  SOCKADDR_IN address;
  std::memset(&address, 0xAB, sizeof address);
  INT length = sizeof address + 10;
  std::string copy = text;
  WSASetLastError(0);
  if (WSAStringToAddressA(&copy[0], AF_INET, nullptr,
                          reinterpret_cast<LPSOCKADDR>(&address),
                          &length) != 0) {
    int error = WSAGetLastError();
    if (length != static_cast<INT>(sizeof address + 10)) return "length changed";
    return "error " + std::to_string(error);
  }
  if (length != static_cast<INT>(sizeof address)) return "bad length";
  if (address.sin_family != AF_INET) return "bad family";
  char out[64];
  std::snprintf(out, sizeof out, "%08x %u",
                static_cast<unsigned>(ntohl(address.sin_addr.s_addr)),
                static_cast<unsigned>(ntohs(address.sin_port)));
  return out;
}

TEST_F(StringToAddress, Ipv4TakesOneToFourPartsInThreeBasesAndAPort) {
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(ipv4_of("1.1.1.1"), "01010101 0");
  EXPECT_EQ(ipv4_of("127.127.127.127:123"), "7f7f7f7f 123");
  EXPECT_EQ(ipv4_of("127.127.127.127:65535"), "7f7f7f7f 65535");
  EXPECT_EQ(ipv4_of("127.127.127.127:0xAbCd"), "7f7f7f7f 43981");
  EXPECT_EQ(ipv4_of("127.127.127.127:010"), "7f7f7f7f 8");
  EXPECT_EQ(ipv4_of("1.1.1.0xaA"), "010101aa 0");
  EXPECT_EQ(ipv4_of("1.1.1.010"), "01010108 0");
  EXPECT_EQ(ipv4_of("1"), "00000001 0");
  EXPECT_EQ(ipv4_of("1:1"), "00000001 1");
  EXPECT_EQ(ipv4_of("1.2"), "01000002 0");
  EXPECT_EQ(ipv4_of("1.2.3"), "01020003 0");
  EXPECT_EQ(ipv4_of("1.223756"), "01036a0c 0");
  EXPECT_EQ(ipv4_of("203569230:123"), "0c22384e 123");
  EXPECT_EQ(ipv4_of("0x00010203:10"), "00010203 10");
  EXPECT_EQ(ipv4_of("017700000001"), "7f000001 0");
}

TEST_F(StringToAddress, Ipv4WithAnythingElseIsWSAEINVALAndTheLengthIsKept) {
  Session session;
  ASSERT_TRUE(session.ok());
  const std::string invalid = "error " + std::to_string(WSAEINVAL);
  for (const char* text :
       {"", " ", "a", "127.127.127.127:", "127.127.127.127:0",
        "127.127.127.127:65537", "127.127.127.127::1", "127.127.127.127:0x",
        "127.127.127.127:0x10000", "127.127.127.127:08", "127.127.127.127:0a",
        "255.255.255.256", "1.1.1.0x", "1.1.1.0x100", "1.1.1.08", "1.1.1.-2",
        "-1", "1000.2000", "1.2.", "1..2", "756.3.4", "3.4.65536",
        "3.4.5.6.7", "3.4.5.+6", " 3.4.5.6", "3.4.5.6 ", "3.4.5.6: 7",
        "[0.1.2.3]", "x00010203", "1234BEEF", "::1", ":1"}) {
    EXPECT_EQ(ipv4_of(text), invalid) << '"' << text << '"';
  }
}

// The same for IPv6, as "<16 bytes in hex> <scope> <port>".
std::string ipv6_of(const char* text) {
  SOCKADDR_IN6 address;
  std::memset(&address, 0xAB, sizeof address);
  INT length = sizeof address + 10;
  std::string copy = text;
  if (WSAStringToAddressA(&copy[0], AF_INET6, nullptr,
                          reinterpret_cast<LPSOCKADDR>(&address),
                          &length) != 0) {
    int error = WSAGetLastError();
    if (length != static_cast<INT>(sizeof address + 10)) return "length changed";
    return "error " + std::to_string(error);
  }
  if (length != static_cast<INT>(sizeof address)) return "bad length";
  if (address.sin6_family != AF_INET6) return "bad family";
  std::string out;
  char byte[4];
  for (unsigned char value : address.sin6_addr.s6_addr) {
    std::snprintf(byte, sizeof byte, "%02x", value);
    out += byte;
  }
  return out + " " + std::to_string(address.sin6_scope_id) + " " +
         std::to_string(ntohs(address.sin6_port));
}

TEST_F(StringToAddress, Ipv6TakesBracketsAPortAndAScope) {
  Session session;
  ASSERT_TRUE(session.ok());
  const std::string loopback = "00000000000000000000000000000001";
  EXPECT_EQ(ipv6_of("::1"), loopback + " 0 0");
  EXPECT_EQ(ipv6_of("[::1]"), loopback + " 0 0");
  EXPECT_EQ(ipv6_of("[::1]:65535"), loopback + " 0 65535");
  EXPECT_EQ(ipv6_of("2001::1"), "20010000000000000000000000000001 0 0");
  EXPECT_EQ(ipv6_of("001::1"), "00010000000000000000000000000001 0 0");
  EXPECT_EQ(ipv6_of("fe80::1%4660"), "fe800000000000000000000000000001 4660 0");
  EXPECT_EQ(ipv6_of("[fe80::1%4660]:33274"),
            "fe800000000000000000000000000001 4660 33274");
  const std::string invalid = "error " + std::to_string(WSAEINVAL);
  for (const char* text : {"::1]:65535", "1.2.3.4", "1:2:3:", ""}) {
    EXPECT_EQ(ipv6_of(text), invalid) << '"' << text << '"';
  }
}

TEST_F(StringToAddress, AShortLengthIsWSAEFAULTWithTheLengthNeeded) {
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKADDR_IN address;
  INT length = 0;
  char text[] = "1.2.3.4";
  WSASetLastError(0);
  EXPECT_EQ(WSAStringToAddressA(text, AF_INET, nullptr,
                                reinterpret_cast<LPSOCKADDR>(&address), &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_GE(length, static_cast<INT>(sizeof(SOCKADDR_IN)));
  SOCKADDR_IN6 address6;
  length = sizeof(SOCKADDR_IN);
  char text6[] = "::1";
  EXPECT_EQ(WSAStringToAddressA(text6, AF_INET6, nullptr,
                                reinterpret_cast<LPSOCKADDR>(&address6),
                                &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_GE(length, static_cast<INT>(sizeof(SOCKADDR_IN6)));
}

TEST_F(StringToAddress, WhatAddressToStringWritesReadsBackTheSame) {
  Session session;
  ASSERT_TRUE(session.ok());
  const uint16_t words[8] = {0xfe80, 0, 0, 0, 0x1234, 0, 0, 0x42};
  SOCKADDR_IN6 original = ipv6(words, 7, 443);
  std::string text = text_of(original);
  ASSERT_EQ(text, "[fe80::1234:0:0:42%7]:443");
  WCHAR wide[64];
  for (size_t i = 0; i <= text.size(); ++i) wide[i] = static_cast<WCHAR>(text[i]);
  SOCKADDR_IN6 read;
  std::memset(&read, 0, sizeof read);
  INT length = sizeof read;
  ASSERT_EQ(WSAStringToAddressW(wide, AF_INET6, nullptr,
                                reinterpret_cast<LPSOCKADDR>(&read), &length),
            0)
      << WSAGetLastError();
  EXPECT_EQ(std::memcmp(&read.sin6_addr, &original.sin6_addr,
                        sizeof read.sin6_addr),
            0);
  EXPECT_EQ(read.sin6_port, original.sin6_port);
  EXPECT_EQ(read.sin6_scope_id, original.sin6_scope_id);
}

}  // namespace
}  // namespace wsadup_test
