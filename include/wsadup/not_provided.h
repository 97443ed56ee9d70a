/*
 * Windows calls that wsadup does not provide on POSIX, declared so that a
 * call to one is a compile error that says so and where to look, instead of
 * an implicit declaration or a link error. The compatibility directory's
 * <winsock2.h> and <mswsock.h> include it. docs/porting.md, "Not provided",
 * says what to use instead:
 *   - overlapped I/O and completion ports (AcceptEx, ConnectEx,
 *     GetAcceptExSockaddrs, WSAGetOverlappedResult, CreateIoCompletionPort,
 *     GetQueuedCompletionStatus, PostQueuedCompletionStatus);
 *   - window-message notification (WSAAsyncSelect).
 * At run time, WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) and an
 * lpOverlapped or completion routine given to WSARecv, WSASend or WSAIoctl
 * fail with WSAEOPNOTSUPP.
 */
#ifndef WSADUP_NOT_PROVIDED_H
#define WSADUP_NOT_PROVIDED_H

#include "wsadup/wsadup.h"

#if !defined(_WIN32)

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define WSADUP_NOT_PROVIDED(what)                                           \
  __attribute__((unavailable(what " is not provided on POSIX: see "         \
                                  "docs/porting.md, Not provided")))
#elif defined(__GNUC__)
#define WSADUP_NOT_PROVIDED(what)                                           \
  __attribute__((error(what " is not provided on POSIX: see "               \
                            "docs/porting.md, Not provided")))
#else
#define WSADUP_NOT_PROVIDED(what)
#endif

typedef WSAOVERLAPPED OVERLAPPED, *LPOVERLAPPED;
typedef void* HWND;
typedef uintptr_t WPARAM;
typedef intptr_t LPARAM;

#ifdef __cplusplus
extern "C" {
#endif

WSADUP_NOT_PROVIDED("AcceptEx (overlapped I/O)")
BOOL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer,
              DWORD dwReceiveDataLength, DWORD dwLocalAddressLength,
              DWORD dwRemoteAddressLength, LPDWORD lpdwBytesReceived,
              LPOVERLAPPED lpOverlapped);
WSADUP_NOT_PROVIDED("ConnectEx (overlapped I/O)")
BOOL ConnectEx(SOCKET s, const struct sockaddr* name, int namelen,
               PVOID lpSendBuffer, DWORD dwSendDataLength,
               LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped);
WSADUP_NOT_PROVIDED("GetAcceptExSockaddrs (overlapped I/O)")
void GetAcceptExSockaddrs(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
                          DWORD dwLocalAddressLength,
                          DWORD dwRemoteAddressLength,
                          struct sockaddr** LocalSockaddr,
                          LPINT LocalSockaddrLength,
                          struct sockaddr** RemoteSockaddr,
                          LPINT RemoteSockaddrLength);
WSADUP_NOT_PROVIDED("WSAGetOverlappedResult (overlapped I/O)")
BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
                            LPDWORD lpcbTransfer, BOOL fWait,
                            LPDWORD lpdwFlags);
WSADUP_NOT_PROVIDED("CreateIoCompletionPort (completion ports)")
HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort,
                              ULONG_PTR CompletionKey,
                              DWORD NumberOfConcurrentThreads);
WSADUP_NOT_PROVIDED("GetQueuedCompletionStatus (completion ports)")
BOOL GetQueuedCompletionStatus(HANDLE CompletionPort,
                               LPDWORD lpNumberOfBytesTransferred,
                               ULONG_PTR* lpCompletionKey,
                               LPOVERLAPPED* lpOverlapped,
                               DWORD dwMilliseconds);
WSADUP_NOT_PROVIDED("PostQueuedCompletionStatus (completion ports)")
BOOL PostQueuedCompletionStatus(HANDLE CompletionPort,
                                DWORD dwNumberOfBytesTransferred,
                                ULONG_PTR dwCompletionKey,
                                LPOVERLAPPED lpOverlapped);
WSADUP_NOT_PROVIDED("WSAAsyncSelect (window messages)")
int WSAAsyncSelect(SOCKET s, HWND hWnd, unsigned int wMsg, long lEvent);

#ifdef __cplusplus
}
#endif

#endif /* !_WIN32 */

#endif /* WSADUP_NOT_PROVIDED_H */
