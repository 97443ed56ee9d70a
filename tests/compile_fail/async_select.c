/* Must not compile: WSAAsyncSelect needs window messages, which POSIX lacks.
 * The test expects the compiler to say so by name. */
#include <winsock2.h>

int main(void) { return WSAAsyncSelect(0, NULL, 0x400, 1); }
