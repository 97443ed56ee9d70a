/* Compatibility include for ported code's "#include <mstcpip.h>":
 * struct tcp_keepalive and SIO_KEEPALIVE_VALS come with <wsadup/wsadup.h>.
 * See winsock2.h beside this file. */
#ifndef WSADUP_COMPAT_MSTCPIP_H
#define WSADUP_COMPAT_MSTCPIP_H
#include <winsock2.h>
#endif
