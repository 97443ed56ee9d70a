/* A Windows-style translation unit: its own #include <winsock2.h> resolves
 * to wsadup through the compatibility include directory. */
#include <winsock2.h>
#include <ws2tcpip.h>

int main(void) {
  WSADATA data;
  WSAPROTOCOL_INFO info;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 1;
  if (WSADuplicateSocket(INVALID_SOCKET, 1, &info) != SOCKET_ERROR) return 2;
  if (WSAGetLastError() != WSAENOTSOCK) return 3;
  return WSACleanup() == 0 ? 0 : 4;
}
