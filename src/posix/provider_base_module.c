/*
 * The shared object the base entries' path names (provider_base.cc). It is
 * built on its own and embedded, as bytes, in the library; the engine writes
 * it out, loads it into the global scope and binds it to itself. Then:
 *   - a layered provider that loads the base's path and calls its
 *     WSPStartup reaches the engine of the process it runs in;
 *   - the catalog calls and upcalls a layer imports by name (WSCEnumProtocols,
 *     WSCGetProviderPath, WPUModifyIFSHandle, ...), which ws2_32.dll exports
 *     on Windows, resolve to the forwarders below even when the program's
 *     own copies, linked from the static library, are not exported.
 * It has no dependency and no state but the binding.
 */
#include "posix/provider_base_module.h"

static wsadup_base_module_binding binding;
static int bound;

__attribute__((visibility("default"))) void wsadup_base_provider_bind(
    const wsadup_base_module_binding* engine) {
  binding = *engine;
  bound = 1;
}

__attribute__((visibility("default"))) int WSPAPI WSPStartup(
    WORD wVersionRequested, LPWSPDATA lpWSPData,
                      LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      WSPUPCALLTABLE UpcallTable,
                      LPWSPPROC_TABLE lpProcTable) {
  /* Loaded by anything but the engine that bound it: no provider here. */
  if (!bound) return WSASYSNOTREADY;
  return binding.base_startup(wVersionRequested, lpWSPData, lpProtocolInfo,
                              UpcallTable, lpProcTable);
}

static int unbound(LPINT lpErrno) {
  if (lpErrno != 0) *lpErrno = WSANOTINITIALISED;
  return SOCKET_ERROR;
}

int WSPAPI WSCEnumProtocols(LPINT lpiProtocols,
                            LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                            LPDWORD lpdwBufferLength, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.enum_protocols(lpiProtocols, lpProtocolBuffer,
                                lpdwBufferLength, lpErrno);
}

int WSPAPI WSCGetProviderPath(LPGUID lpProviderId, WCHAR* lpszProviderDllPath,
                              LPINT lpProviderDllPathLen, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.get_provider_path(lpProviderId, lpszProviderDllPath,
                                   lpProviderDllPathLen, lpErrno);
}

int WSPAPI WPUGetProviderPath(LPGUID lpProviderId, WCHAR* lpszProviderDllPath,
                              LPINT lpProviderDllPathLen, LPINT lpErrno) {
  return WSCGetProviderPath(lpProviderId, lpszProviderDllPath,
                            lpProviderDllPathLen, lpErrno);
}

int WSPAPI WSCInstallProvider(LPGUID lpProviderId,
                              const WCHAR* lpszProviderDllPath,
                              const LPWSAPROTOCOL_INFOW lpProtocolInfoList,
                              DWORD dwNumberOfEntries, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.install_provider(lpProviderId, lpszProviderDllPath,
                                  lpProtocolInfoList, dwNumberOfEntries,
                                  lpErrno);
}

int WSPAPI WSCDeinstallProvider(LPGUID lpProviderId, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.deinstall_provider(lpProviderId, lpErrno);
}

SOCKET WSPAPI WPUModifyIFSHandle(DWORD dwCatalogEntryId, SOCKET ProposedHandle,
                                 LPINT lpErrno) {
  if (!bound) return (SOCKET)unbound(lpErrno);
  return binding.upcalls.lpWPUModifyIFSHandle(dwCatalogEntryId, ProposedHandle,
                                              lpErrno);
}

SOCKET WSPAPI WPUCreateSocketHandle(DWORD dwCatalogEntryId, DWORD_PTR dwContext,
                                    LPINT lpErrno) {
  if (!bound) return (SOCKET)unbound(lpErrno);
  return binding.upcalls.lpWPUCreateSocketHandle(dwCatalogEntryId, dwContext,
                                                 lpErrno);
}

int WSPAPI WPUQuerySocketHandleContext(SOCKET s, PDWORD_PTR lpContext,
                                       LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.upcalls.lpWPUQuerySocketHandleContext(s, lpContext, lpErrno);
}

int WSPAPI WPUCloseSocketHandle(SOCKET s, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno);
  return binding.upcalls.lpWPUCloseSocketHandle(s, lpErrno);
}

int WSPAPI WPUFDIsSet(SOCKET s, fd_set* fdset) {
  if (!bound) return 0;
  return binding.upcalls.lpWPUFDIsSet(s, fdset);
}

WSAEVENT WSPAPI WPUCreateEvent(LPINT lpErrno) {
  if (!bound) {
    unbound(lpErrno);
    return WSA_INVALID_EVENT;
  }
  return binding.upcalls.lpWPUCreateEvent(lpErrno);
}

WINBOOL WSPAPI WPUCloseEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno) == 0;
  return binding.upcalls.lpWPUCloseEvent(hEvent, lpErrno);
}

WINBOOL WSPAPI WPUSetEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno) == 0;
  return binding.upcalls.lpWPUSetEvent(hEvent, lpErrno);
}

WINBOOL WSPAPI WPUResetEvent(WSAEVENT hEvent, LPINT lpErrno) {
  if (!bound) return unbound(lpErrno) == 0;
  return binding.upcalls.lpWPUResetEvent(hEvent, lpErrno);
}
