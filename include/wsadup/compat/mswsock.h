/* Compatibility include for ported code's "#include <mswsock.h>": its
 * functions (AcceptEx, ConnectEx, GetAcceptExSockaddrs) are overlapped I/O,
 * which wsadup does not provide; a call to one is a compile error that says
 * so. See winsock2.h beside this file and docs/porting.md. */
#ifndef WSADUP_COMPAT_MSWSOCK_H
#define WSADUP_COMPAT_MSWSOCK_H
#include <winsock2.h>
#endif
