/*
 * A layered provider written as Windows layers are (Microsoft's LSP
 * samples' pattern): WSPStartup finds its chain and the next provider with
 * WSCEnumProtocols, gets the next provider's path with WSCGetProviderPath,
 * loads it and calls its WSPStartup, substituting the base provider's own
 * entry when the next provider is the base. Its handles are the lower
 * provider's (IFS), re-owned with WPUModifyIFSHandle. It overrides
 * WSPSocket, WSPDuplicateSocket (which, as the non-IFS sample does, writes
 * its own chain entry over the whole structure and keeps only
 * dwProviderReserved), WSPCloseSocket, WSPEventSelect,
 * WSPEnumNetworkEvents, WSPAddressToString, WSPStringToAddress and
 * WSPCleanup, and logs what each saw, one line per call, to
 * $COUNTING_LAYER_LOG; the notification calls go down to the next provider
 * unchanged, the address conversions with the next provider's own entry.
 *
 * Behaviour for the tests, from the environment:
 *   COUNTING_LAYER_FAIL_DUPLICATE=<code>  WSPDuplicateSocket fails with code
 *                                         (0: SOCKET_ERROR, *lpErrno 0)
 *   COUNTING_LAYER_FAIL_SOCKET=<code>     the first import fails with code
 *   COUNTING_LAYER_PASSTHROUGH_DUPLICATE  WSPDuplicateSocket is the next
 *                                         provider's (the IFS sample)
 *   COUNTING_LAYER_FAIL_EVENT_SELECT=<code>  WSPEventSelect and
 *                                         WSPEnumNetworkEvents fail with
 *                                         code (0: SOCKET_ERROR, *lpErrno 0)
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ws2spi.h>

static WSPUPCALLTABLE upcalls;
static WSPPROC_TABLE next_table;
static WSAPROTOCOL_INFOW layer_entry; /* the chain entry we were started for */
static int started;
static int socket_failures_left = -1;

static void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
static void log_line(const char* format, ...) {
  const char* path = getenv("COUNTING_LAYER_LOG");
  if (path == NULL) return;
  FILE* file = fopen(path, "a");
  if (file == NULL) return;
  va_list arguments;
  va_start(arguments, format);
  vfprintf(file, format, arguments);
  va_end(arguments);
  fputc('\n', file);
  fclose(file);
}

static int find_entry(DWORD id, WSAPROTOCOL_INFOW* out) {
  DWORD length = 0;
  int error = 0;
  WSCEnumProtocols(NULL, NULL, &length, &error);
  WSAPROTOCOL_INFOW* all = (WSAPROTOCOL_INFOW*)malloc(length);
  if (all == NULL) return 0;
  int count = WSCEnumProtocols(NULL, all, &length, &error);
  int found = 0;
  for (int i = 0; i < count && !found; ++i) {
    if (all[i].dwCatalogEntryId == id) {
      *out = all[i];
      found = 1;
    }
  }
  free(all);
  return found;
}

static SOCKET WSPAPI layer_socket(int af, int type, int protocol,
                                  LPWSAPROTOCOL_INFOW info, GROUP g,
                                  DWORD flags, LPINT lpErrno) {
  log_line("socket id=%u chain=%d reserved=%u", info ? info->dwCatalogEntryId : 0,
           info ? info->ProtocolChain.ChainLen : -1,
           info ? info->dwProviderReserved : 0);
  if (info != NULL && info->dwProviderReserved != 0 && socket_failures_left > 0) {
    --socket_failures_left;
    *lpErrno = atoi(getenv("COUNTING_LAYER_FAIL_SOCKET"));
    return INVALID_SOCKET;
  }
  /* Substitute the base provider's entry, keeping what a duplicate needs. */
  WSAPROTOCOL_INFOW next;
  DWORD next_id = layer_entry.ProtocolChain.ChainEntries[1];
  if (!find_entry(next_id, &next)) {
    *lpErrno = WSAEINVAL;
    return INVALID_SOCKET;
  }
  if (info != NULL) next.dwProviderReserved = info->dwProviderReserved;
  SOCKET s = next_table.lpWSPSocket(af, type, protocol, &next, g, flags, lpErrno);
  if (s == INVALID_SOCKET) return s;
  return upcalls.lpWPUModifyIFSHandle(layer_entry.dwCatalogEntryId, s, lpErrno);
}

static int WSPAPI layer_duplicate(SOCKET s, DWORD pid, LPWSAPROTOCOL_INFOW info,
                                  LPINT lpErrno) {
  const char* fail = getenv("COUNTING_LAYER_FAIL_DUPLICATE");
  log_line("duplicate s=%d pid=%u", (int)s, pid);
  if (fail != NULL) {
    *lpErrno = atoi(fail);
    return SOCKET_ERROR;
  }
  int status = next_table.lpWSPDuplicateSocket(s, pid, info, lpErrno);
  if (status != 0) return status;
  DWORD reserved = info->dwProviderReserved;
  log_line("duplicate-returned reserved=%u chain=%d", reserved,
           info->ProtocolChain.ChainLen);
  memcpy(info, &layer_entry, sizeof(*info));
  info->dwProviderReserved = reserved;
  return 0;
}

static int WSPAPI layer_close(SOCKET s, LPINT lpErrno) {
  log_line("close s=%d", (int)s);
  return next_table.lpWSPCloseSocket(s, lpErrno);
}

static int WSPAPI layer_event_select(SOCKET s, WSAEVENT event, long events,
                                     LPINT lpErrno) {
  const char* fail = getenv("COUNTING_LAYER_FAIL_EVENT_SELECT");
  log_line("event-select s=%d events=%ld", (int)s, events);
  if (fail != NULL) {
    *lpErrno = atoi(fail);
    return SOCKET_ERROR;
  }
  return next_table.lpWSPEventSelect(s, event, events, lpErrno);
}

static int WSPAPI layer_enum_network_events(SOCKET s, WSAEVENT event,
                                            LPWSANETWORKEVENTS events,
                                            LPINT lpErrno) {
  const char* fail = getenv("COUNTING_LAYER_FAIL_EVENT_SELECT");
  log_line("enum-network-events s=%d", (int)s);
  if (fail != NULL) {
    *lpErrno = atoi(fail);
    return SOCKET_ERROR;
  }
  return next_table.lpWSPEnumNetworkEvents(s, event, events, lpErrno);
}

/* The address conversions: logged with the entry they were given, and
 * passed down with the next provider's own entry (the base's, which needs
 * no chain), as the reference says a layer does. */
static INT WSPAPI layer_address_to_string(LPSOCKADDR address, DWORD length,
                                          LPWSAPROTOCOL_INFOW info,
                                          LPWSTR text, LPDWORD text_length,
                                          LPINT lpErrno) {
  log_line("address-to-string id=%u chain=%d", info ? info->dwCatalogEntryId : 0,
           info ? info->ProtocolChain.ChainLen : -1);
  WSAPROTOCOL_INFOW next;
  if (!find_entry(layer_entry.ProtocolChain.ChainEntries[1], &next)) {
    *lpErrno = WSAEINVAL;
    return SOCKET_ERROR;
  }
  return next_table.lpWSPAddressToString(address, length, &next, text,
                                         text_length, lpErrno);
}

static INT WSPAPI layer_string_to_address(LPWSTR text, INT family,
                                          LPWSAPROTOCOL_INFOW info,
                                          LPSOCKADDR address, LPINT length,
                                          LPINT lpErrno) {
  log_line("string-to-address id=%u chain=%d", info ? info->dwCatalogEntryId : 0,
           info ? info->ProtocolChain.ChainLen : -1);
  WSAPROTOCOL_INFOW next;
  if (!find_entry(layer_entry.ProtocolChain.ChainEntries[1], &next)) {
    *lpErrno = WSAEINVAL;
    return SOCKET_ERROR;
  }
  return next_table.lpWSPStringToAddress(text, family, &next, address, length,
                                         lpErrno);
}

static int WSPAPI layer_cleanup(LPINT lpErrno) {
  log_line("cleanup");
  started = 0;
  return next_table.lpWSPCleanup(lpErrno);
}

typedef int(WSPAPI* startup_function)(WORD, LPWSPDATA, LPWSAPROTOCOL_INFOW,
                                      WSPUPCALLTABLE, LPWSPPROC_TABLE);

__attribute__((visibility("default"))) int WSPAPI WSPStartup(
    WORD version, LPWSPDATA data, LPWSAPROTOCOL_INFOW info,
    WSPUPCALLTABLE upcall_table, LPWSPPROC_TABLE table) {
  log_line("startup id=%u chain=%d", info->dwCatalogEntryId,
           info->ProtocolChain.ChainLen);
  if (info->ProtocolChain.ChainLen < 2) return WSAEPROVIDERFAILEDINIT;
  upcalls = upcall_table;
  layer_entry = *info;
  WSAPROTOCOL_INFOW next;
  if (!find_entry(info->ProtocolChain.ChainEntries[1], &next)) {
    return WSAEPROVIDERFAILEDINIT;
  }
  WCHAR wide_path[512];
  int length = 512, error = 0;
  if (WSCGetProviderPath(&next.ProviderId, wide_path, &length, &error) != 0) {
    return WSAEPROVIDERFAILEDINIT;
  }
  char path[512];
  for (int i = 0; i < length; ++i) path[i] = (char)wide_path[i];
  void* library = dlopen(path, RTLD_NOW);
  startup_function next_startup =
      library ? (startup_function)dlsym(library, "WSPStartup") : NULL;
  if (next_startup == NULL) return WSAEPROVIDERFAILEDINIT;
  /* The base gets its own entry; another layer gets ours, unmodified. */
  WSAPROTOCOL_INFOW* given = next.ProtocolChain.ChainLen == BASE_PROTOCOL ? &next : info;
  WSPDATA next_data;
  int status = next_startup(version, &next_data, given, upcall_table, &next_table);
  if (status != 0) return status;
  *table = next_table;
  table->lpWSPSocket = layer_socket;
  if (getenv("COUNTING_LAYER_PASSTHROUGH_DUPLICATE") == NULL) {
    table->lpWSPDuplicateSocket = layer_duplicate;
  }
  table->lpWSPCloseSocket = layer_close;
  table->lpWSPEventSelect = layer_event_select;
  table->lpWSPEnumNetworkEvents = layer_enum_network_events;
  table->lpWSPAddressToString = layer_address_to_string;
  table->lpWSPStringToAddress = layer_string_to_address;
  table->lpWSPCleanup = layer_cleanup;
  *data = next_data;
  const char* fail = getenv("COUNTING_LAYER_FAIL_SOCKET");
  socket_failures_left = fail != NULL ? 1 : -1;
  started = 1;
  return 0;
}
