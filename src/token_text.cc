// The text form of a token, for IPC that carries only text. Shared by both
// backends: the bytes are the same WSAPROTOCOL_INFO structure everywhere.
#include <cstring>

#include "wsadup/wsadup.h"

namespace {

bool is_token_size(size_t size) {
  return size == sizeof(WSAPROTOCOL_INFOA) || size == sizeof(WSAPROTOCOL_INFOW);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int fail(int wsa_error) {
  WSASetLastError(wsa_error);
  return SOCKET_ERROR;
}

}  // namespace

extern "C" int wsadup_token_to_text(const void* token, size_t token_size,
                                    char* text) {
  if (token == nullptr || text == nullptr) return fail(WSAEFAULT);
  if (!is_token_size(token_size)) return fail(WSAEINVAL);
  static const char kDigits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(token);
  for (size_t i = 0; i < token_size; ++i) {
    text[2 * i] = kDigits[bytes[i] >> 4];
    text[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  text[2 * token_size] = '\0';
  return 0;
}

extern "C" int wsadup_token_from_text(const char* text, void* token,
                                      size_t token_size) {
  if (token == nullptr || text == nullptr) return fail(WSAEFAULT);
  if (!is_token_size(token_size)) return fail(WSAEINVAL);
  // Bounded scan: never read past what a valid text could hold.
  size_t length = 0;
  while (length <= 2 * token_size && text[length] != '\0') ++length;
  if (length != 2 * token_size) return fail(WSAEINVAL);
  // Check every digit before writing one byte: a failed call leaves the
  // caller's buffer as it was.
  for (size_t i = 0; i < length; ++i) {
    if (hex_value(text[i]) < 0) return fail(WSAEINVAL);
  }
  auto* bytes = static_cast<unsigned char*>(token);
  for (size_t i = 0; i < token_size; ++i) {
    bytes[i] = static_cast<unsigned char>((hex_value(text[2 * i]) << 4) |
                                          hex_value(text[2 * i + 1]));
  }
  return 0;
}
