/*
 * wsadup: WSADuplicateSocket / WSASocket(FROM_PROTOCOL_INFO) on every
 * platform.
 *
 * On Windows this header includes <winsock2.h> and adds only the wsadup_*
 * extras below. On POSIX systems it declares the Winsock subset itself, with
 * Windows' names, numeric values and x64 structure layouts, so that one
 * source builds on both.
 */
#ifndef WSADUP_WSADUP_H
#define WSADUP_WSADUP_H

#include "wsadup/version.h"

#if defined(_WIN32)
#include "wsadup/win.h"
#else
#include "wsadup/posix.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Extra flag for WSASocket: keep the new descriptor open across exec (POSIX).
 * Without it, wsadup's descriptors are close-on-exec, so that a received
 * socket never leaks into an unrelated child program. Windows sockets are
 * inheritable by default and the flag is 0 there, so Winsock never sees an
 * unknown bit. On POSIX the value sits in a bit Winsock does not define. */
#if defined(_WIN32)
#define WSADUP_FLAG_HANDLE_INHERIT 0u
#else
#define WSADUP_FLAG_HANDLE_INHERIT 0x40000000u
#endif

/* Size of the text form of a token made by wsadup_token_to_text, including
 * the terminating NUL. */
#define WSADUP_TOKEN_TEXT_SIZE (2 * 628 + 1)

/* Options for wsadup_set_option. */
/* How WSADuplicateSocket hands a socket to a target process that has called
 * WSAStartup. 1 (the default): a posted push. The call returns once the
 * kernel holds the descriptor on this process's connection to the target,
 * without waiting for the target to run, as Windows duplicates a handle into
 * a process that need not run: a stopped or busy worker never delays the
 * dispatcher. A full queue is WSAENOBUFS at once. A target that has no free
 * descriptor when it imports gets WSAEMFILE from its WSASocket, and the token
 * stays good for a retry. 0: an acknowledged push. The call returns once the
 * target's agent holds the descriptor, so a target out of descriptors fails
 * the call itself (WSAEMFILE); it waits for the target (5 s at most). Only
 * the duplicating process's setting matters; every target accepts both. On
 * Windows the option is accepted and changes nothing. */
#define WSADUP_OPTION_POSTED_PUSH 1
/* Whether WSAStartup makes a send on a broken connection fail instead of
 * killing the process. 1 (the default): the first WSAStartup sets SIGPIPE's
 * disposition to SIG_IGN when it is SIG_DFL, and the last WSACleanup puts
 * SIG_DFL back if it is still SIG_IGN; a send on a connection the peer has
 * reset then returns SOCKET_ERROR with WSAECONNRESET, as on Windows. A
 * handler the program installed itself is left alone. 0: WSAStartup leaves
 * SIGPIPE alone. WSASend, WSASendTo and the compatibility directory's send
 * and sendto never raise SIGPIPE, whatever this says. Set it before
 * WSAStartup. Windows has no SIGPIPE: there the option is accepted and
 * changes nothing. */
#define WSADUP_OPTION_IGNORE_SIGPIPE 2

/* Sets a process-wide option (WSADUP_OPTION_*) for the calls made after it,
 * in every thread; callable before WSAStartup. Returns 0, or SOCKET_ERROR with
 * WSAEINVAL for an unknown option or a value the option does not take. */
WSADUP_EXTERN int wsadup_set_option(int option, int value);

/* The version of the library linked in, as WSADUP_VERSION_HEX / _STRING. */
WSADUP_EXTERN unsigned int wsadup_version(void);
WSADUP_EXTERN const char* wsadup_version_string(void);

/* The symbolic name of a Winsock error code ("WSAEINVAL"), or "WSAE_UNKNOWN"
 * for a code wsadup does not know. Never NULL. */
WSADUP_EXTERN const char* wsadup_error_name(int wsa_error);

/* Maps an errno value to the Winsock error code Windows would report for the
 * same condition (EBADF -> WSAENOTSOCK, EAGAIN -> WSAEWOULDBLOCK, ...).
 * Codes with no closer match map to WSAEINVAL. On Windows it maps the C
 * runtime's errno values the same way. */
WSADUP_EXTERN int wsadup_translate_errno(int errno_value);

/* Writes a token (the raw bytes of a WSAPROTOCOL_INFOA or _INFOW) as
 * lowercase hexadecimal text into text[WSADUP_TOKEN_TEXT_SIZE], for IPC that
 * carries only text (a command line, an environment variable). Returns 0, or
 * SOCKET_ERROR with WSAEFAULT for a NULL pointer and WSAEINVAL for a size
 * that is not one of the two structures'. */
WSADUP_EXTERN int wsadup_token_to_text(const void* token, size_t token_size,
                                       char* text);

/* Reverses wsadup_token_to_text: fills token (token_size bytes, one of the
 * two structures' sizes) from text. Returns 0, or SOCKET_ERROR with
 * WSAEFAULT for a NULL pointer and WSAEINVAL for text of the wrong length or
 * with a character that is not a hexadecimal digit. */
WSADUP_EXTERN int wsadup_token_from_text(const char* text, void* token,
                                         size_t token_size);

#ifdef __cplusplus
}
#endif

#endif /* WSADUP_WSADUP_H */
