/*
 * Windows: the Winsock subset is Winsock itself. Do not include this file
 * directly: include <wsadup/wsadup.h>.
 */
#ifndef WSADUP_WIN_H
#define WSADUP_WIN_H

#include <winsock2.h>
#include <ws2tcpip.h>
/* struct tcp_keepalive and SIO_KEEPALIVE_VALS. */
#include <mstcpip.h>

#include <stddef.h>

#ifdef __cplusplus
#define WSADUP_EXTERN extern "C"
#else
#define WSADUP_EXTERN extern
#endif

#endif /* WSADUP_WIN_H */
