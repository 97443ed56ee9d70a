/* Must not compile: AcceptEx is overlapped I/O, which wsadup does not
 * provide on POSIX. The test expects the compiler to say so by name. */
#include <winsock2.h>
#include <mswsock.h>

int main(void) {
  char buffer[64];
  DWORD received = 0;
  OVERLAPPED overlapped;
  return AcceptEx(0, 1, buffer, 0, 16, 16, &received, &overlapped) ? 0 : 1;
}
