// WSAStringToAddress on any text, as a server meets it in a configuration
// file or a request: whatever the bytes, the call fails with WSAEINVAL or
// reads an address; the A and W forms agree; and what it read, written back
// with WSAAddressToString, reads as the same address again.
//
// Input: [form][text...]: form bit 0 picks AF_INET6 over AF_INET; the text
// is the rest (an embedded zero ends it, as it would end a C string).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "wsadup/wsadup.h"

namespace {

struct Read {
  int status = 0;
  int error = 0;
  sockaddr_storage address{};
  INT length = 0;
};

Read read_a(const std::string& text, int family) {
  Read result;
  std::memset(&result.address, 0xAB, sizeof result.address);
  result.length = sizeof result.address;
  std::string copy = text;
  result.status = WSAStringToAddressA(
      &copy[0], family, nullptr, reinterpret_cast<LPSOCKADDR>(&result.address),
      &result.length);
  result.error = result.status == 0 ? 0 : WSAGetLastError();
  return result;
}

Read read_w(const std::string& text, int family) {
  Read result;
  std::memset(&result.address, 0xAB, sizeof result.address);
  result.length = sizeof result.address;
  std::basic_string<WCHAR> wide;
  for (char c : text) wide += static_cast<WCHAR>(static_cast<unsigned char>(c));
  result.status = WSAStringToAddressW(
      &wide[0], family, nullptr, reinterpret_cast<LPSOCKADDR>(&result.address),
      &result.length);
  result.error = result.status == 0 ? 0 : WSAGetLastError();
  return result;
}

bool same_address(const Read& a, const Read& b) {
  return a.length == b.length &&
         std::memcmp(&a.address, &b.address, static_cast<size_t>(a.length)) ==
             0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool started = [] {
    wsadup_fuzz::use_private_runtime_directory();
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa) == 0;
  }();
  FUZZ_CHECK(started);
  static const int next_free = wsadup_fuzz::lowest_free_descriptor();
  if (size == 0) return 0;
  int family = (data[0] & 1) != 0 ? AF_INET6 : AF_INET;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  text = text.c_str();  // up to an embedded zero

  Read narrow = read_a(text, family);
  Read wide = read_w(text, family);
  FUZZ_CHECK(narrow.status == wide.status && narrow.error == wide.error);
  if (narrow.status != 0) {
    FUZZ_CHECK(narrow.error == WSAEINVAL);
    FUZZ_CHECK(narrow.length == static_cast<INT>(sizeof(sockaddr_storage)));
  } else {
    FUZZ_CHECK(same_address(narrow, wide));
    FUZZ_CHECK(narrow.address.ss_family == family);
    FUZZ_CHECK(narrow.length ==
               static_cast<INT>(family == AF_INET ? sizeof(sockaddr_in)
                                                  : sizeof(sockaddr_in6)));
    char written[128];
    DWORD written_length = sizeof written;
    FUZZ_CHECK(WSAAddressToStringA(
                   reinterpret_cast<LPSOCKADDR>(&narrow.address),
                   static_cast<DWORD>(narrow.length), nullptr, written,
                   &written_length) == 0);
    FUZZ_CHECK(written_length == std::strlen(written) + 1);
    Read again = read_a(written, family);
    FUZZ_CHECK(again.status == 0);
    FUZZ_CHECK(same_address(narrow, again));
  }
  FUZZ_CHECK(wsadup_fuzz::lowest_free_descriptor() == next_free);
  return 0;
}
