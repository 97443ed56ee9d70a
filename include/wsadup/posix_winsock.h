/*
 * The Winsock calls that sit next to a handoff in real servers, on POSIX
 * systems: ioctlsocket and WSAIoctl, the WSABUF calls, WSAConnect, WSAAccept,
 * WSAPoll, and the few Win32 calls that handoff code makes on a SOCKET
 * (SetHandleInformation, GetCurrentProcessId). Do not include this file
 * directly: include <wsadup/wsadup.h>.
 *
 * Names that POSIX already gives another meaning (u_long, the FIONBIO family's
 * numbers, getsockopt's int* length, select's first argument) keep their
 * POSIX meaning here; the Windows forms come only with the compatibility
 * directory's <winsock2.h> (see include/wsadup/windows_forms.h and
 * docs/porting.md).
 */
#ifndef WSADUP_POSIX_WINSOCK_H
#define WSADUP_POSIX_WINSOCK_H

#include <poll.h>
#include <sys/ioctl.h>

/* Calling conventions: x64 Windows has one, and so has POSIX. */
#define WINAPI
#define CALLBACK

/* Win32 types, with Windows' widths. */
typedef int BOOL;
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
typedef void* HANDLE;
typedef HANDLE* LPHANDLE;
typedef void* PVOID;
typedef void* LPVOID;
typedef short SHORT;
typedef unsigned short USHORT;
typedef uint32_t ULONG; /* Windows' unsigned long is 32 bits */
typedef ULONG* PULONG;
typedef DWORD* LPDWORD;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef char* LPSTR;
#ifndef WSADUP_LPWSTR_DEFINED
#define WSADUP_LPWSTR_DEFINED
typedef WCHAR* LPWSTR;
#endif
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)

/* The upper-case socket address types are the system's structures. */
typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE,
    *LPSOCKADDR_STORAGE;
typedef struct in_addr IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
typedef struct in6_addr IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;
typedef struct timeval TIMEVAL, *PTIMEVAL, *LPTIMEVAL;
typedef struct addrinfo ADDRINFOA, *PADDRINFOA;

/* Windows' struct linger has u_short fields (4 bytes); POSIX's has ints.
 * LINGER is Windows' layout. The compatibility directory's setsockopt and
 * getsockopt take either; the system's take only struct linger. */
typedef struct wsadup_linger {
  USHORT l_onoff;
  USHORT l_linger;
} LINGER, *PLINGER, *LPLINGER;

/* WSABUF: the length comes first, as on Windows. */
typedef struct _WSABUF {
  ULONG len;
  CHAR* buf;
} WSABUF, *LPWSABUF;

typedef struct _WSAOVERLAPPED {
  ULONG_PTR Internal;
  ULONG_PTR InternalHigh;
  DWORD Offset;
  DWORD OffsetHigh;
  HANDLE hEvent;
} WSAOVERLAPPED, *LPWSAOVERLAPPED;

typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(
    DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED lpOverlapped,
    DWORD dwFlags);

/* Quality of service, as WSAConnect and WSAAccept's condition see it. */
typedef ULONG SERVICETYPE;
typedef struct _flowspec {
  ULONG TokenRate;
  ULONG TokenBucketSize;
  ULONG PeakBandwidth;
  ULONG Latency;
  ULONG DelayVariation;
  SERVICETYPE ServiceType;
  ULONG MaxSduSize;
  ULONG MinimumPolicedSize;
} FLOWSPEC, *PFLOWSPEC, *LPFLOWSPEC;
typedef struct _QualityOfService {
  FLOWSPEC SendingFlowspec;
  FLOWSPEC ReceivingFlowspec;
  WSABUF ProviderSpecific;
} QOS, *LPQOS;

/* WSAAccept's condition function and its answers. */
#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002
typedef int (*LPCONDITIONPROC)(LPWSABUF lpCallerId, LPWSABUF lpCallerData,
                               LPQOS lpSQOS, LPQOS lpGQOS,
                               LPWSABUF lpCalleeId, LPWSABUF lpCalleeData,
                               GROUP* g, DWORD_PTR dwCallbackData);

/* WSAPoll takes the system's struct pollfd, whose members have Windows'
 * names (fd, events, revents); POLLIN, POLLOUT and the rest keep the system's
 * values, since <poll.h> owns those names. */
typedef struct pollfd WSAPOLLFD, *PWSAPOLLFD, *LPWSAPOLLFD;
/* glibc hides these four without an X/Open feature macro (strict -std=c99);
 * Windows code uses them with WSAPoll. Linux's values. */
#ifndef POLLRDNORM
#define POLLRDNORM 0x040
#define POLLRDBAND 0x080
#define POLLWRNORM 0x100
#define POLLWRBAND 0x200
#endif

/* struct tcp_keepalive (Windows' <mstcpip.h>), for SIO_KEEPALIVE_VALS. */
struct tcp_keepalive {
  ULONG onoff;
  ULONG keepalivetime;     /* milliseconds of idleness before the first probe */
  ULONG keepaliveinterval; /* milliseconds between probes */
};

/* WSAIoctl codes, with Windows' values. FIONBIO, FIONREAD and SIOCATMARK
 * keep the system's values here (<sys/ioctl.h> owns the names); ioctlsocket
 * and WSAIoctl accept both the system's and Windows' numbers, and the
 * compatibility directory gives the names Windows' numbers. */
#define IOC_UNIX 0x00000000u
#define IOC_WS2 0x08000000u
#define IOC_PROTOCOL 0x10000000u
#define IOC_VENDOR 0x18000000u
#define _WSAIO(x, y) (0x20000000u | (x) | (y))
#define _WSAIOR(x, y) (0x40000000u | (x) | (y))
#define _WSAIOW(x, y) (0x80000000u | (x) | (y))
#define _WSAIORW(x, y) (0xc0000000u | (x) | (y))
#define SIO_GET_EXTENSION_FUNCTION_POINTER _WSAIORW(IOC_WS2, 6)
#define SIO_BASE_HANDLE _WSAIOR(IOC_WS2, 34)
#define SIO_KEEPALIVE_VALS _WSAIOW(IOC_VENDOR, 4)
/* Windows' own numbers for the three socket ioctls. */
#define WSADUP_WIN_FIONBIO 0x8004667eu
#define WSADUP_WIN_FIONREAD 0x4004667fu
#define WSADUP_WIN_SIOCATMARK 0x40047307u

/* getsockopt(SOL_SOCKET) options that only Winsock has. Through the
 * compatibility directory's getsockopt. */
#define SO_PROTOCOL_INFOA 0x2004
#define SO_PROTOCOL_INFOW 0x2005
#ifdef UNICODE
#define SO_PROTOCOL_INFO SO_PROTOCOL_INFOW
#else
#define SO_PROTOCOL_INFO SO_PROTOCOL_INFOA
#endif

/* Win32 handle flags (SetHandleInformation). */
#define HANDLE_FLAG_INHERIT 0x00000001
#define HANDLE_FLAG_PROTECT_FROM_CLOSE 0x00000002

/* Error codes that are not WSAE*, with Windows' values. GetLastError and
 * WSAGetLastError read the same value, as on Windows. */
#define ERROR_INVALID_HANDLE 6L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_INVALID_PARAMETER 87L
#define WSA_INVALID_HANDLE 6
#define WSA_NOT_ENOUGH_MEMORY 8
#define WSA_INVALID_PARAMETER 87
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997
#define WSAHOST_NOT_FOUND 11001
#define WSATRY_AGAIN 11002
#define WSANO_RECOVERY 11003
#define WSANO_DATA 11004
#define WSANO_ADDRESS WSANO_DATA

/* Layout checks (a negative array size fails): the parts of these structures
 * that Windows code reaches by offset. */
typedef char wsadup_check_ulong_size[sizeof(ULONG) == 4 ? 1 : -1];
typedef char wsadup_check_linger_size[sizeof(LINGER) == 4 ? 1 : -1];
typedef char wsadup_check_wsabuf_length_first
    [offsetof(WSABUF, len) == 0 && offsetof(WSABUF, buf) == sizeof(void*)
         ? 1
         : -1];
typedef char wsadup_check_tcp_keepalive_size
    [sizeof(struct tcp_keepalive) == 12 ? 1 : -1];
typedef char wsadup_check_flowspec_size[sizeof(FLOWSPEC) == 32 ? 1 : -1];

/* ioctlsocket: FIONBIO (non-zero *argp: non-blocking), FIONREAD (bytes
 * queued), SIOCATMARK (TRUE unless urgent data waits). */
WSADUP_EXTERN int WSAAPI ioctlsocket(SOCKET s, long cmd, ULONG FAR* argp);

/* Synchronous only: an lpOverlapped or lpCompletionRoutine is WSAEOPNOTSUPP
 * (docs/porting.md: overlapped I/O is not provided). */
WSADUP_EXTERN int WSAAPI WSAIoctl(
    SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
    LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
    LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

WSADUP_EXTERN int WSAAPI WSARecv(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
    LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
WSADUP_EXTERN int WSAAPI WSASend(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesSent, DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
WSADUP_EXTERN int WSAAPI WSARecvFrom(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags, struct sockaddr* lpFrom,
    LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
WSADUP_EXTERN int WSAAPI WSASendTo(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesSent, DWORD dwFlags, const struct sockaddr* lpTo,
    int iTolen, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* No connect data and no QoS: WSAEPROTONOSUPPORT / WSAEOPNOTSUPP for them. */
WSADUP_EXTERN int WSAAPI WSAConnect(SOCKET s, const struct sockaddr* name,
                                    int namelen, LPWSABUF lpCallerData,
                                    LPWSABUF lpCalleeData, LPQOS lpSQOS,
                                    LPQOS lpGQOS);
WSADUP_EXTERN SOCKET WSAAPI WSAAccept(SOCKET s, struct sockaddr* addr,
                                      LPINT addrlen,
                                      LPCONDITIONPROC lpfnCondition,
                                      DWORD_PTR dwCallbackData);
WSADUP_EXTERN int WSAAPI WSAPoll(LPWSAPOLLFD fdArray, ULONG fds, INT timeout);

/* The protocol catalog's entries without the layered ones (ChainLen 0): the
 * built-in TCP and UDP over IPv4 and IPv6 (and AF_UNIX stream), and the
 * chains of installed layered providers (docs/providers.md). Needs
 * WSAStartup. */
WSADUP_EXTERN int WSAAPI WSAEnumProtocolsA(LPINT lpiProtocols,
                                           LPWSAPROTOCOL_INFOA lpProtocolBuffer,
                                           LPDWORD lpdwBufferLength);
WSADUP_EXTERN int WSAAPI WSAEnumProtocolsW(LPINT lpiProtocols,
                                           LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                                           LPDWORD lpdwBufferLength);
#ifdef UNICODE
#define WSAEnumProtocols WSAEnumProtocolsW
#else
#define WSAEnumProtocols WSAEnumProtocolsA
#endif

/* Socket addresses as text and back, in Windows' forms ("a.b.c.d:port",
 * "[addr%scope]:port"), through the catalog entry for the family (or the
 * one lpProtocolInfo names). IPv4 and IPv6. Needs WSAStartup. */
WSADUP_EXTERN INT WSAAPI WSAAddressToStringA(
    LPSOCKADDR lpsaAddress, DWORD dwAddressLength,
    LPWSAPROTOCOL_INFOA lpProtocolInfo, LPSTR lpszAddressString,
    LPDWORD lpdwAddressStringLength);
WSADUP_EXTERN INT WSAAPI WSAAddressToStringW(
    LPSOCKADDR lpsaAddress, DWORD dwAddressLength,
    LPWSAPROTOCOL_INFOW lpProtocolInfo, LPWSTR lpszAddressString,
    LPDWORD lpdwAddressStringLength);
WSADUP_EXTERN INT WSAAPI WSAStringToAddressA(
    LPSTR AddressString, INT AddressFamily,
    LPWSAPROTOCOL_INFOA lpProtocolInfo, LPSOCKADDR lpAddress,
    LPINT lpAddressLength);
WSADUP_EXTERN INT WSAAPI WSAStringToAddressW(
    LPWSTR AddressString, INT AddressFamily,
    LPWSAPROTOCOL_INFOW lpProtocolInfo, LPSOCKADDR lpAddress,
    LPINT lpAddressLength);
#ifdef UNICODE
#define WSAAddressToString WSAAddressToStringW
#define WSAStringToAddress WSAStringToAddressW
#else
#define WSAAddressToString WSAAddressToStringA
#define WSAStringToAddress WSAStringToAddressA
#endif

/* Win32 calls that handoff code makes on a SOCKET. They need no WSAStartup.
 * HANDLE_FLAG_INHERIT is the descriptor's close-on-exec flag, inverted. */
WSADUP_EXTERN BOOL SetHandleInformation(HANDLE hObject, DWORD dwMask,
                                        DWORD dwFlags);
WSADUP_EXTERN BOOL GetHandleInformation(HANDLE hObject, LPDWORD lpdwFlags);
WSADUP_EXTERN DWORD GetCurrentProcessId(void);
WSADUP_EXTERN DWORD GetLastError(void);
WSADUP_EXTERN void SetLastError(DWORD dwErrCode);

#endif /* WSADUP_POSIX_WINSOCK_H */
