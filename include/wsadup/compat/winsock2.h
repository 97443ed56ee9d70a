/*
 * Compatibility include: lets ported code keep its own
 * "#include <winsock2.h>" on POSIX systems. Opt in by linking the CMake
 * target wsadup::compat, or by adding <prefix>/include/wsadup/compat to the
 * include path. Never put this directory on the path on Windows.
 *
 * Besides <wsadup/wsadup.h>, it gives the names that POSIX uses with another
 * meaning their Windows meaning, for the rest of the translation unit:
 *   - getsockopt, setsockopt, accept, getsockname, getpeername, recv,
 *     recvfrom, send, sendto and select are Windows' forms
 *     (include/wsadup/windows_forms.h);
 *   - u_long is 32 bits; FIONBIO, FIONREAD and SIOCATMARK have Windows'
 *     numbers;
 *   - casts between SOCKET and HANDLE, the same size on Windows, do not warn;
 *   - overlapped I/O, completion ports and WSAAsyncSelect are declared
 *     unavailable: a call to one is a compile error naming it
 *     (include/wsadup/not_provided.h).
 * docs/porting.md lists them.
 */
#ifndef WSADUP_COMPAT_WINSOCK2_H
#define WSADUP_COMPAT_WINSOCK2_H
#include <wsadup/wsadup.h>
#include <wsadup/windows_forms.h>
#include <wsadup/not_provided.h>

#if !defined(_WIN32)

#define getsockopt wsadup_getsockopt
#define setsockopt wsadup_setsockopt
#define accept wsadup_accept
#define getsockname wsadup_getsockname
#define getpeername wsadup_getpeername
#define recv wsadup_recv
#define recvfrom wsadup_recvfrom
#define send wsadup_send
#define sendto wsadup_sendto
#define select wsadup_select

/* Windows' u_long is 32 bits. The system's headers may have declared their
 * own (64-bit) u_long already; the macro wins from here on. */
#define u_long ULONG
#ifndef __u_char_defined
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
#define __u_char_defined
#endif

#undef FIONBIO
#undef FIONREAD
#undef SIOCATMARK
#define FIONBIO ((long)WSADUP_WIN_FIONBIO)
#define FIONREAD ((long)WSADUP_WIN_FIONREAD)
#define SIOCATMARK ((long)WSADUP_WIN_SIOCATMARK)

/* (HANDLE)s and (SOCKET)h are how Windows code passes a socket to the Win32
 * handle calls; SOCKET is an int here, so GCC and Clang would warn that the
 * sizes differ. They are pointer-sized on Windows, where the casts are
 * silent. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic ignored "-Wint-to-pointer-cast"
#if !defined(__cplusplus)
#pragma GCC diagnostic ignored "-Wpointer-to-int-cast"
#endif
#endif

#endif /* !_WIN32 */

#endif /* WSADUP_COMPAT_WINSOCK2_H */
