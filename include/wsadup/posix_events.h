/*
 * Event objects and network-event notification on POSIX systems:
 * WSACreateEvent and its siblings, WSAWaitForMultipleEvents, WSAEventSelect
 * and WSAEnumNetworkEvents, with Windows' names, values and layouts. Do not
 * include this file directly: include <wsadup/wsadup.h>.
 *
 * A socket has one registration, whichever process holds it: a
 * WSAEventSelect through any descriptor of the socket, in any process of the
 * same user, replaces the previous one (docs/api.md, "Notification").
 * FD_READ, FD_OOB, FD_WRITE and FD_ACCEPT are re-enabled by the calls that
 * consume them when those are wsadup's (WSARecv, WSASend, WSAAccept, and the
 * compatibility directory's recv, send, accept and the rest); docs/porting.md
 * says what happens with the system's own.
 */
#ifndef WSADUP_POSIX_EVENTS_H
#define WSADUP_POSIX_EVENTS_H

/* An event object: manual-reset, created non-signalled, private to the
 * process that creates it. */
typedef HANDLE WSAEVENT, *LPWSAEVENT;
typedef int32_t LONG; /* Windows' long is 32 bits */

#define WSA_INVALID_EVENT ((WSAEVENT)NULL)
#define MAXIMUM_WAIT_OBJECTS 64
#define WSA_MAXIMUM_WAIT_EVENTS MAXIMUM_WAIT_OBJECTS

/* WSAWaitForMultipleEvents' results (winbase.h's WAIT_* values). */
#define WAIT_OBJECT_0 0x00000000UL
#define WAIT_IO_COMPLETION 0x000000C0UL
#define WAIT_TIMEOUT 0x00000102UL
#define WAIT_FAILED 0xFFFFFFFFUL
#define INFINITE 0xFFFFFFFFUL
#define WSA_WAIT_EVENT_0 ((DWORD)WAIT_OBJECT_0)
#define WSA_WAIT_IO_COMPLETION ((DWORD)WAIT_IO_COMPLETION)
#define WSA_WAIT_TIMEOUT ((DWORD)WAIT_TIMEOUT)
#define WSA_WAIT_FAILED ((DWORD)WAIT_FAILED)
#define WSA_INFINITE ((DWORD)INFINITE)

/* Network events: FD_x == 1 << FD_x_BIT. */
#define FD_READ_BIT 0
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE_BIT 1
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB_BIT 2
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT_BIT 3
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT_BIT 4
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE_BIT 5
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_QOS_BIT 6
#define FD_QOS (1 << FD_QOS_BIT)
#define FD_GROUP_QOS_BIT 7
#define FD_GROUP_QOS (1 << FD_GROUP_QOS_BIT)
#define FD_ROUTING_INTERFACE_CHANGE_BIT 8
#define FD_ROUTING_INTERFACE_CHANGE (1 << FD_ROUTING_INTERFACE_CHANGE_BIT)
#define FD_ADDRESS_LIST_CHANGE_BIT 9
#define FD_ADDRESS_LIST_CHANGE (1 << FD_ADDRESS_LIST_CHANGE_BIT)
#define FD_MAX_EVENTS 10
#define FD_ALL_EVENTS ((1 << FD_MAX_EVENTS) - 1)

/* What WSAEnumNetworkEvents reports: 44 bytes, as on Windows. */
typedef struct _WSANETWORKEVENTS {
  LONG lNetworkEvents;
  int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *PWSANETWORKEVENTS, *LPWSANETWORKEVENTS;

typedef char wsadup_check_wsanetworkevents_size
    [sizeof(WSANETWORKEVENTS) == 44 ? 1 : -1];

/* The window-message forms' helpers (WSAAsyncSelect is not provided:
 * docs/porting.md). */
#define WSAMAKESELECTREPLY(event, error) \
  ((LONG)(((WORD)(event)) | (((DWORD)(WORD)(error)) << 16)))
#define WSAGETSELECTEVENT(lParam) ((WORD)((DWORD)(lParam) & 0xFFFF))
#define WSAGETSELECTERROR(lParam) ((WORD)(((DWORD)(lParam) >> 16) & 0xFFFF))

/* WSA_INVALID_EVENT with WSAGetLastError set when it fails. */
WSADUP_EXTERN WSAEVENT WSAAPI WSACreateEvent(void);
/* FALSE with WSA_INVALID_HANDLE for a handle that is not an open event. */
WSADUP_EXTERN BOOL WSAAPI WSACloseEvent(WSAEVENT hEvent);
WSADUP_EXTERN BOOL WSAAPI WSASetEvent(WSAEVENT hEvent);
WSADUP_EXTERN BOOL WSAAPI WSAResetEvent(WSAEVENT hEvent);
/* Up to WSA_MAXIMUM_WAIT_EVENTS events; fAlertable is accepted, but POSIX
 * has no APCs, so WSA_WAIT_IO_COMPLETION is never returned. */
WSADUP_EXTERN DWORD WSAAPI WSAWaitForMultipleEvents(
    DWORD cEvents, const WSAEVENT FAR* lphEvents, BOOL fWaitAll,
    DWORD dwTimeout, BOOL fAlertable);

WSADUP_EXTERN int WSAAPI WSAEventSelect(SOCKET s, WSAEVENT hEventObject,
                                        long lNetworkEvents);
WSADUP_EXTERN int WSAAPI WSAEnumNetworkEvents(
    SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents);

#endif /* WSADUP_POSIX_EVENTS_H */
