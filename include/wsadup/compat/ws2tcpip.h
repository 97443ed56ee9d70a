/* Compatibility include for ported code's "#include <ws2tcpip.h>": the
 * POSIX headers wsadup.h includes already declare getaddrinfo, inet_pton and
 * the IPv6 socket options. See winsock2.h beside this file. */
#ifndef WSADUP_COMPAT_WS2TCPIP_H
#define WSADUP_COMPAT_WS2TCPIP_H
#include <winsock2.h>
#endif
