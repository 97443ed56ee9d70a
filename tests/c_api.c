/* Proves the public header compiles as C99 and that the C API works from C. */
#include <string.h>

#include <wsadup/wsadup.h>

int wsadup_c_api_round_trip(void) {
  WSADATA data;
  WSAPROTOCOL_INFOA info;
  char text[WSADUP_TOKEN_TEXT_SIZE];
  SOCKET s;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 1;
  s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
  if (s == INVALID_SOCKET) return 2;
  memset(&info, 0, sizeof(info));
  if (wsadup_token_to_text(&info, sizeof(info), text) != 0) return 3;
  if (strlen(text) != 2 * sizeof(info)) return 4;
  if (WSADuplicateSocketA(s, 0, &info) != SOCKET_ERROR) return 5;
  if (WSAGetLastError() != WSAEINVAL) return 6;
  if (closesocket(s) != 0) return 7;
  if (WSACleanup() != 0) return 8;
  if (wsadup_version() != WSADUP_VERSION_HEX) return 9;
  return 0;
}
