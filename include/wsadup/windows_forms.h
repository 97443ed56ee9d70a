/*
 * The Windows forms of the socket calls whose POSIX namesakes take other
 * types or mean something else, for code written against Winsock. The
 * compatibility directory's <winsock2.h> includes this file and maps each
 * Windows name to its form (getsockopt to wsadup_getsockopt, ...), so that
 * ported code keeps calling them by their names; <wsadup/wsadup.h> alone
 * never does, so POSIX code keeps the system's meaning. See docs/porting.md.
 */
#ifndef WSADUP_WINDOWS_FORMS_H
#define WSADUP_WINDOWS_FORMS_H

#include "wsadup/wsadup.h"

#if !defined(_WIN32)

/* Option values are char*, lengths int. SO_RCVTIMEO and SO_SNDTIMEO take a
 * DWORD of milliseconds (a struct timeval still works), SO_LINGER takes
 * LINGER (or struct linger), SO_PROTOCOL_INFOA/W read the WSAPROTOCOL_INFO
 * Winsock reports for the socket. A too-short length is WSAEFAULT. */
WSADUP_EXTERN int wsadup_getsockopt(SOCKET s, int level, int optname,
                                    char* optval, int* optlen);
WSADUP_EXTERN int wsadup_setsockopt(SOCKET s, int level, int optname,
                                    const char* optval, int optlen);

/* int* address lengths; a buffer too short for the address: WSAEFAULT. */
WSADUP_EXTERN SOCKET wsadup_accept(SOCKET s, struct sockaddr* addr,
                                   int* addrlen);
WSADUP_EXTERN int wsadup_getsockname(SOCKET s, struct sockaddr* name,
                                     int* namelen);
WSADUP_EXTERN int wsadup_getpeername(SOCKET s, struct sockaddr* name,
                                     int* namelen);

/* char* buffers and int lengths. send and sendto never raise SIGPIPE: on a
 * broken connection they fail with WSAECONNRESET, or WSAESHUTDOWN after this
 * side's own shutdown(SD_SEND). A datagram larger than the buffer: the part
 * that fits, and SOCKET_ERROR with WSAEMSGSIZE. */
WSADUP_EXTERN int wsadup_recv(SOCKET s, char* buf, int len, int flags);
WSADUP_EXTERN int wsadup_recvfrom(SOCKET s, char* buf, int len, int flags,
                                  struct sockaddr* from, int* fromlen);
WSADUP_EXTERN int wsadup_send(SOCKET s, const char* buf, int len, int flags);
WSADUP_EXTERN int wsadup_sendto(SOCKET s, const char* buf, int len, int flags,
                                const struct sockaddr* to, int tolen);

/* Ignores nfds, as Windows does; all three sets NULL or empty is WSAEINVAL;
 * the timeout is read, never changed; a failed non-blocking connect is
 * reported in exceptfds, not writefds, as on Windows. */
WSADUP_EXTERN int wsadup_select(int nfds, fd_set* readfds, fd_set* writefds,
                                fd_set* exceptfds,
                                const struct timeval* timeout);

#endif /* !_WIN32 */

#endif /* WSADUP_WINDOWS_FORMS_H */
