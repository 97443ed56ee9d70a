/*
 * The Winsock service provider interface (ws2spi.h): what a layered service
 * provider is written against, and the catalog calls that install one.
 *
 * On Windows this is the system's <ws2spi.h>. On POSIX systems it declares
 * the same names, values, structure layouts and table orders itself, so that
 * a layer written for Windows builds unchanged as a shared object that
 * exports WSPStartup. docs/providers.md says how the catalog, the base
 * provider and layered providers work here, and where they differ from
 * Windows.
 */
#ifndef WSADUP_WS2SPI_H
#define WSADUP_WS2SPI_H

#include "wsadup/wsadup.h"

#if defined(_WIN32)
#include <ws2spi.h>
#else

/* HWND, WPARAM and LPARAM, which the window-message upcalls name. */
#include "wsadup/not_provided.h"

#define WSPAPI WSAAPI
#define WSPDESCRIPTION_LEN 255
#define WSS_OPERATION_IN_PROGRESS 0x00000103L

/* Types the SPI names that the rest of the POSIX headers do not need. */
typedef void VOID;
typedef BOOL WINBOOL;
typedef unsigned int UINT;
typedef GUID* LPGUID;
#ifndef WSADUP_LPWSTR_DEFINED
#define WSADUP_LPWSTR_DEFINED
typedef WCHAR* LPWSTR;
#endif
typedef DWORD_PTR* PDWORD_PTR;

typedef struct WSPData {
  WORD wVersion;
  WORD wHighVersion;
  WCHAR szDescription[WSPDESCRIPTION_LEN + 1];
} WSPDATA, *LPWSPDATA;

typedef struct _WSATHREADID {
  HANDLE ThreadHandle;
  DWORD_PTR Reserved;
} WSATHREADID, *LPWSATHREADID;

#ifdef __cplusplus
extern "C" {
#endif

typedef WINBOOL(CALLBACK* LPBLOCKINGCALLBACK)(DWORD_PTR dwContext);
typedef VOID(CALLBACK* LPWSAUSERAPC)(DWORD_PTR dwContext);

/* The provider's entry points, in the order of WSPPROC_TABLE. */
typedef SOCKET(WSPAPI* LPWSPACCEPT)(SOCKET s, struct sockaddr* addr,
                                    LPINT addrlen,
                                    LPCONDITIONPROC lpfnCondition,
                                    DWORD_PTR dwCallbackData, LPINT lpErrno);
typedef INT(WSPAPI* LPWSPADDRESSTOSTRING)(
    LPSOCKADDR lpsaAddress, DWORD dwAddressLength,
    LPWSAPROTOCOL_INFOW lpProtocolInfo, LPWSTR lpszAddressString,
    LPDWORD lpdwAddressStringLength, LPINT lpErrno);
typedef int(WSPAPI* LPWSPASYNCSELECT)(SOCKET s, HWND hWnd, unsigned int wMsg,
                                      long lEvent, LPINT lpErrno);
typedef int(WSPAPI* LPWSPBIND)(SOCKET s, const struct sockaddr* name,
                               int namelen, LPINT lpErrno);
typedef int(WSPAPI* LPWSPCANCELBLOCKINGCALL)(LPINT lpErrno);
typedef int(WSPAPI* LPWSPCLEANUP)(LPINT lpErrno);
typedef int(WSPAPI* LPWSPCLOSESOCKET)(SOCKET s, LPINT lpErrno);
typedef int(WSPAPI* LPWSPCONNECT)(SOCKET s, const struct sockaddr* name,
                                  int namelen, LPWSABUF lpCallerData,
                                  LPWSABUF lpCalleeData, LPQOS lpSQOS,
                                  LPQOS lpGQOS, LPINT lpErrno);
typedef int(WSPAPI* LPWSPDUPLICATESOCKET)(SOCKET s, DWORD dwProcessId,
                                          LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                          LPINT lpErrno);
typedef int(WSPAPI* LPWSPENUMNETWORKEVENTS)(SOCKET s, WSAEVENT hEventObject,
                                            LPWSANETWORKEVENTS lpNetworkEvents,
                                            LPINT lpErrno);
typedef int(WSPAPI* LPWSPEVENTSELECT)(SOCKET s, WSAEVENT hEventObject,
                                      long lNetworkEvents, LPINT lpErrno);
typedef WINBOOL(WSPAPI* LPWSPGETOVERLAPPEDRESULT)(
    SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer,
    WINBOOL fWait, LPDWORD lpdwFlags, LPINT lpErrno);
typedef int(WSPAPI* LPWSPGETPEERNAME)(SOCKET s, struct sockaddr* name,
                                      LPINT namelen, LPINT lpErrno);
typedef int(WSPAPI* LPWSPGETSOCKNAME)(SOCKET s, struct sockaddr* name,
                                      LPINT namelen, LPINT lpErrno);
typedef int(WSPAPI* LPWSPGETSOCKOPT)(SOCKET s, int level, int optname,
                                     char* optval, LPINT optlen,
                                     LPINT lpErrno);
typedef WINBOOL(WSPAPI* LPWSPGETQOSBYNAME)(SOCKET s, LPWSABUF lpQOSName,
                                           LPQOS lpQOS, LPINT lpErrno);
typedef int(WSPAPI* LPWSPIOCTL)(
    SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
    LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
    LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef SOCKET(WSPAPI* LPWSPJOINLEAF)(SOCKET s, const struct sockaddr* name,
                                      int namelen, LPWSABUF lpCallerData,
                                      LPWSABUF lpCalleeData, LPQOS lpSQOS,
                                      LPQOS lpGQOS, DWORD dwFlags,
                                      LPINT lpErrno);
typedef int(WSPAPI* LPWSPLISTEN)(SOCKET s, int backlog, LPINT lpErrno);
typedef int(WSPAPI* LPWSPRECV)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
    LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI* LPWSPRECVDISCONNECT)(SOCKET s,
                                         LPWSABUF lpInboundDisconnectData,
                                         LPINT lpErrno);
typedef int(WSPAPI* LPWSPRECVFROM)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags, struct sockaddr* lpFrom,
    LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI* LPWSPSELECT)(int nfds, fd_set* readfds, fd_set* writefds,
                                 fd_set* exceptfds,
                                 const struct timeval* timeout, LPINT lpErrno);
typedef int(WSPAPI* LPWSPSEND)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesSent, DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI* LPWSPSENDDISCONNECT)(SOCKET s,
                                         LPWSABUF lpOutboundDisconnectData,
                                         LPINT lpErrno);
typedef int(WSPAPI* LPWSPSENDTO)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
    LPDWORD lpNumberOfBytesSent, DWORD dwFlags, const struct sockaddr* lpTo,
    int iTolen, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI* LPWSPSETSOCKOPT)(SOCKET s, int level, int optname,
                                     const char* optval, int optlen,
                                     LPINT lpErrno);
typedef int(WSPAPI* LPWSPSHUTDOWN)(SOCKET s, int how, LPINT lpErrno);
typedef SOCKET(WSPAPI* LPWSPSOCKET)(int af, int type, int protocol,
                                    LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                    GROUP g, DWORD dwFlags, LPINT lpErrno);
typedef INT(WSPAPI* LPWSPSTRINGTOADDRESS)(LPWSTR AddressString,
                                          INT AddressFamily,
                                          LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                          LPSOCKADDR lpAddress,
                                          LPINT lpAddressLength,
                                          LPINT lpErrno);

/* 30 entries, in Windows' order. */
typedef struct _WSPPROC_TABLE {
  LPWSPACCEPT lpWSPAccept;
  LPWSPADDRESSTOSTRING lpWSPAddressToString;
  LPWSPASYNCSELECT lpWSPAsyncSelect;
  LPWSPBIND lpWSPBind;
  LPWSPCANCELBLOCKINGCALL lpWSPCancelBlockingCall;
  LPWSPCLEANUP lpWSPCleanup;
  LPWSPCLOSESOCKET lpWSPCloseSocket;
  LPWSPCONNECT lpWSPConnect;
  LPWSPDUPLICATESOCKET lpWSPDuplicateSocket;
  LPWSPENUMNETWORKEVENTS lpWSPEnumNetworkEvents;
  LPWSPEVENTSELECT lpWSPEventSelect;
  LPWSPGETOVERLAPPEDRESULT lpWSPGetOverlappedResult;
  LPWSPGETPEERNAME lpWSPGetPeerName;
  LPWSPGETSOCKNAME lpWSPGetSockName;
  LPWSPGETSOCKOPT lpWSPGetSockOpt;
  LPWSPGETQOSBYNAME lpWSPGetQOSByName;
  LPWSPIOCTL lpWSPIoctl;
  LPWSPJOINLEAF lpWSPJoinLeaf;
  LPWSPLISTEN lpWSPListen;
  LPWSPRECV lpWSPRecv;
  LPWSPRECVDISCONNECT lpWSPRecvDisconnect;
  LPWSPRECVFROM lpWSPRecvFrom;
  LPWSPSELECT lpWSPSelect;
  LPWSPSEND lpWSPSend;
  LPWSPSENDDISCONNECT lpWSPSendDisconnect;
  LPWSPSENDTO lpWSPSendTo;
  LPWSPSETSOCKOPT lpWSPSetSockOpt;
  LPWSPSHUTDOWN lpWSPShutdown;
  LPWSPSOCKET lpWSPSocket;
  LPWSPSTRINGTOADDRESS lpWSPStringToAddress;
} WSPPROC_TABLE, *LPWSPPROC_TABLE;

/* The upcalls the catalog offers a provider, in the order of
 * WSPUPCALLTABLE. */
typedef WINBOOL(WSPAPI* LPWPUCLOSEEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int(WSPAPI* LPWPUCLOSESOCKETHANDLE)(SOCKET s, LPINT lpErrno);
typedef WSAEVENT(WSPAPI* LPWPUCREATEEVENT)(LPINT lpErrno);
typedef SOCKET(WSPAPI* LPWPUCREATESOCKETHANDLE)(DWORD dwCatalogEntryId,
                                                DWORD_PTR dwContext,
                                                LPINT lpErrno);
typedef int(WSPAPI* LPWPUFDISSET)(SOCKET s, fd_set* fdset);
typedef int(WSPAPI* LPWPUGETPROVIDERPATH)(LPGUID lpProviderId,
                                          WCHAR* lpszProviderDllPath,
                                          LPINT lpProviderDllPathLen,
                                          LPINT lpErrno);
typedef SOCKET(WSPAPI* LPWPUMODIFYIFSHANDLE)(DWORD dwCatalogEntryId,
                                             SOCKET ProposedHandle,
                                             LPINT lpErrno);
typedef WINBOOL(WSPAPI* LPWPUPOSTMESSAGE)(HWND hWnd, UINT Msg, WPARAM wParam,
                                          LPARAM lParam);
typedef int(WSPAPI* LPWPUQUERYBLOCKINGCALLBACK)(
    DWORD dwCatalogEntryId, LPBLOCKINGCALLBACK* lplpfnCallback,
    PDWORD_PTR lpdwContext, LPINT lpErrno);
typedef int(WSPAPI* LPWPUQUERYSOCKETHANDLECONTEXT)(SOCKET s,
                                                   PDWORD_PTR lpContext,
                                                   LPINT lpErrno);
typedef int(WSPAPI* LPWPUQUEUEAPC)(LPWSATHREADID lpThreadId,
                                   LPWSAUSERAPC lpfnUserApc,
                                   DWORD_PTR dwContext, LPINT lpErrno);
typedef WINBOOL(WSPAPI* LPWPURESETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef WINBOOL(WSPAPI* LPWPUSETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int(WSPAPI* LPWPUOPENCURRENTTHREAD)(LPWSATHREADID lpThreadId,
                                            LPINT lpErrno);
typedef int(WSPAPI* LPWPUCLOSETHREAD)(LPWSATHREADID lpThreadId,
                                      LPINT lpErrno);

/* 15 entries, in Windows' order. */
typedef struct _WSPUPCALLTABLE {
  LPWPUCLOSEEVENT lpWPUCloseEvent;
  LPWPUCLOSESOCKETHANDLE lpWPUCloseSocketHandle;
  LPWPUCREATEEVENT lpWPUCreateEvent;
  LPWPUCREATESOCKETHANDLE lpWPUCreateSocketHandle;
  LPWPUFDISSET lpWPUFDIsSet;
  LPWPUGETPROVIDERPATH lpWPUGetProviderPath;
  LPWPUMODIFYIFSHANDLE lpWPUModifyIFSHandle;
  LPWPUPOSTMESSAGE lpWPUPostMessage;
  LPWPUQUERYBLOCKINGCALLBACK lpWPUQueryBlockingCallback;
  LPWPUQUERYSOCKETHANDLECONTEXT lpWPUQuerySocketHandleContext;
  LPWPUQUEUEAPC lpWPUQueueApc;
  LPWPURESETEVENT lpWPUResetEvent;
  LPWPUSETEVENT lpWPUSetEvent;
  LPWPUOPENCURRENTTHREAD lpWPUOpenCurrentThread;
  LPWPUCLOSETHREAD lpWPUCloseThread;
} WSPUPCALLTABLE, *LPWSPUPCALLTABLE;

typedef int(WSPAPI* LPWSPSTARTUP)(WORD wVersionRequested, LPWSPDATA lpWSPData,
                                  LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                  WSPUPCALLTABLE UpcallTable,
                                  LPWSPPROC_TABLE lpProcTable);
typedef int(WSPAPI* LPWSCENUMPROTOCOLS)(LPINT lpiProtocols,
                                        LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                                        LPDWORD lpdwBufferLength,
                                        LPINT lpErrno);
typedef int(WSPAPI* LPWSCDEINSTALLPROVIDER)(LPGUID lpProviderId,
                                            LPINT lpErrno);
typedef int(WSPAPI* LPWSCINSTALLPROVIDER)(
    LPGUID lpProviderId, const WCHAR* lpszProviderDllPath,
    const LPWSAPROTOCOL_INFOW lpProtocolInfoList, DWORD dwNumberOfEntries,
    LPINT lpErrno);
typedef int(WSPAPI* LPWSCGETPROVIDERPATH)(LPGUID lpProviderId,
                                          WCHAR* lpszProviderDllPath,
                                          LPINT lpProviderDllPathLen,
                                          LPINT lpErrno);

/* What a provider exports. wsadup looks it up by this name with dlsym. */
int WSPAPI WSPStartup(WORD wVersionRequested, LPWSPDATA lpWSPData,
                      LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable);

/* The catalog, in this process (docs/providers.md). Callable before
 * WSAStartup; entries installed after it are seen by the sockets created
 * after the install. */
WSADUP_EXTERN int WSPAPI WSCInstallProvider(
    LPGUID lpProviderId, const WCHAR* lpszProviderDllPath,
    const LPWSAPROTOCOL_INFOW lpProtocolInfoList, DWORD dwNumberOfEntries,
    LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WSCDeinstallProvider(LPGUID lpProviderId,
                                              LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WSCEnumProtocols(LPINT lpiProtocols,
                                          LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                                          LPDWORD lpdwBufferLength,
                                          LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WSCGetProviderPath(LPGUID lpProviderId,
                                            WCHAR* lpszProviderDllPath,
                                            LPINT lpProviderDllPathLen,
                                            LPINT lpErrno);

/* The upcalls, also reachable through the table WSPStartup receives. */
WSADUP_EXTERN WINBOOL WSPAPI WPUCloseEvent(WSAEVENT hEvent, LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUCloseSocketHandle(SOCKET s, LPINT lpErrno);
WSADUP_EXTERN WSAEVENT WSPAPI WPUCreateEvent(LPINT lpErrno);
WSADUP_EXTERN SOCKET WSPAPI WPUCreateSocketHandle(DWORD dwCatalogEntryId,
                                                  DWORD_PTR dwContext,
                                                  LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUFDIsSet(SOCKET s, fd_set* fdset);
WSADUP_EXTERN int WSPAPI WPUGetProviderPath(LPGUID lpProviderId,
                                            WCHAR* lpszProviderDllPath,
                                            LPINT lpProviderDllPathLen,
                                            LPINT lpErrno);
WSADUP_EXTERN SOCKET WSPAPI WPUModifyIFSHandle(DWORD dwCatalogEntryId,
                                               SOCKET ProposedHandle,
                                               LPINT lpErrno);
WSADUP_EXTERN WINBOOL WSPAPI WPUPostMessage(HWND hWnd, UINT Msg,
                                            WPARAM wParam, LPARAM lParam);
WSADUP_EXTERN int WSPAPI WPUQueryBlockingCallback(
    DWORD dwCatalogEntryId, LPBLOCKINGCALLBACK* lplpfnCallback,
    PDWORD_PTR lpdwContext, LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUQuerySocketHandleContext(SOCKET s,
                                                     PDWORD_PTR lpContext,
                                                     LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUQueueApc(LPWSATHREADID lpThreadId,
                                     LPWSAUSERAPC lpfnUserApc,
                                     DWORD_PTR dwContext, LPINT lpErrno);
WSADUP_EXTERN WINBOOL WSPAPI WPUResetEvent(WSAEVENT hEvent, LPINT lpErrno);
WSADUP_EXTERN WINBOOL WSPAPI WPUSetEvent(WSAEVENT hEvent, LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUOpenCurrentThread(LPWSATHREADID lpThreadId,
                                              LPINT lpErrno);
WSADUP_EXTERN int WSPAPI WPUCloseThread(LPWSATHREADID lpThreadId,
                                        LPINT lpErrno);

/* WSAEnumProtocolsA/W, the application side, are in <wsadup/wsadup.h>
 * (posix_winsock.h), as winsock2.h has them on Windows. */

/* wsadup's extra: installs a provider whose WSPStartup is a function of the
 * program itself rather than a shared object's export, with the entries and
 * errors of WSCInstallProvider. WSCGetProviderPath reports an empty path for
 * it. */
WSADUP_EXTERN int wsadup_install_provider(
    LPGUID lpProviderId, LPWSPSTARTUP lpfnStartup,
    const LPWSAPROTOCOL_INFOW lpProtocolInfoList, DWORD dwNumberOfEntries,
    LPINT lpErrno);

#ifdef __cplusplus
}
#endif

/* Layout checks, as Windows x64 has them (C99 and C++). */
typedef char wsadup_check_wspdata_size[sizeof(WSPDATA) == 516 ? 1 : -1];
typedef char wsadup_check_wspproc_table_size
    [sizeof(WSPPROC_TABLE) == 30 * sizeof(void*) ? 1 : -1];
typedef char wsadup_check_wspupcall_table_size
    [sizeof(WSPUPCALLTABLE) == 15 * sizeof(void*) ? 1 : -1];
typedef char wsadup_check_wspproc_table_socket_slot
    [offsetof(WSPPROC_TABLE, lpWSPSocket) == 28 * sizeof(void*) ? 1 : -1];
typedef char wsadup_check_wspproc_table_duplicate_slot
    [offsetof(WSPPROC_TABLE, lpWSPDuplicateSocket) == 8 * sizeof(void*) ? 1
                                                                        : -1];
typedef char wsadup_check_wspupcall_modify_slot
    [offsetof(WSPUPCALLTABLE, lpWPUModifyIFSHandle) == 6 * sizeof(void*) ? 1
                                                                         : -1];
typedef char wsadup_check_wsathreadid_size
    [sizeof(WSATHREADID) == 2 * sizeof(void*) ? 1 : -1];

#endif /* _WIN32 */

#endif /* WSADUP_WS2SPI_H */
