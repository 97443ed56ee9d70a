/*
 * A layered service provider in the shape of Microsoft's LSP samples, short
 * enough to read at once: it counts the calls that create, hand off, watch
 * and close its sockets, and passes each of them down to the next provider
 * in its chain.
 *
 * WSPStartup finds this layer's chains and the next provider below it with
 * WSCEnumProtocols, gets the next provider's path with the upcall table's
 * WPUGetProviderPath, loads it and calls its WSPStartup. The table it
 * returns is the next provider's, with these entries replaced:
 *   WSPSocket             counted; the next provider creates (or, given a
 *                         token, imports) the socket with its own catalog
 *                         entry, and WPUModifyIFSHandle makes it this
 *                         layer's
 *   WSPDuplicateSocket    counted; the token then names this layer's chain,
 *                         so that the import in the target comes through
 *                         the layer too
 *   WSPCloseSocket, WSPEventSelect, WSPEnumNetworkEvents   counted
 *   WSPCleanup            counted; cleans up and unloads the next provider
 * It is an IFS layer: its sockets are the next provider's handles, so the
 * data path (send, recv and the rest) never passes through it. WSPAccept is
 * the next provider's, so accepted sockets are the next provider's too.
 *
 * CountingLayerCount("WSPSocket") and the like, exported beside WSPStartup,
 * return how many calls of that name reached the layer in this process
 * (examples/layered_handoff.c checks them).
 *
 * The same source builds on Windows, as a DLL against the system's
 * <ws2spi.h>, and on POSIX systems with wsadup, as a shared object against
 * the compatibility directory's <ws2spi.h> (docs/providers.md). What differs,
 * loading the next provider and counting atomically, is the platform
 * section. This layer serves chains that share one next provider (TCP/IPv4
 * and UDP/IPv4 share the base provider); one over providers with different
 * GUIDs keeps a table for each and a record of which socket is whose, as
 * Microsoft's full sample does.
 */
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <ws2spi.h>

/* ------------------------------------------------------------ platform -- */
#if defined(_WIN32)
#include <windows.h>

/* 32-bit Windows decorates __stdcall names (_WSPStartup@20): a layer built
 * for it lists its exports in a .def file instead, as Microsoft's samples
 * do. */
#define LAYER_EXPORT __declspec(dllexport)
#define MAX_PATH_UNITS MAX_PATH

typedef HMODULE provider_library;

/* Windows' catalog keeps paths such as %SystemRoot%\system32\mswsock.dll. */
static provider_library load_provider(const WCHAR* path,
                                      LPWSPSTARTUP* startup) {
  WCHAR expanded[MAX_PATH];
  HMODULE library;
  DWORD length = ExpandEnvironmentStringsW(path, expanded, MAX_PATH);
  if (length == 0 || length > MAX_PATH) return NULL;
  library = LoadLibraryW(expanded);
  if (library != NULL) {
    *startup =
        (LPWSPSTARTUP)(void (*)(void))GetProcAddress(library, "WSPStartup");
  }
  return library;
}

static void unload_provider(provider_library library) { FreeLibrary(library); }

static void count_call(volatile LONG* counter) {
  InterlockedIncrement(counter);
}

static LONG read_count(volatile LONG* counter) {
  return InterlockedCompareExchange(counter, 0, 0);
}

#else /* POSIX, with wsadup */
#include <dlfcn.h>

#define LAYER_EXPORT __attribute__((visibility("default")))
#define MAX_PATH_UNITS 4096

typedef void* provider_library;

/* wsadup keeps paths in UTF-8 and hands them out as UTF-16, as Windows
 * does; dlopen wants the UTF-8. */
static int utf8_from_utf16(const WCHAR* text, char* out, size_t size) {
  size_t used = 0;
  for (; *text != 0; ++text) {
    unsigned long code = *text;
    unsigned char bytes[4];
    size_t length;
    if (code >= 0xd800 && code < 0xdc00 && text[1] >= 0xdc00 &&
        text[1] < 0xe000) {
      code = 0x10000 + ((code - 0xd800) << 10) + (text[1] - 0xdc00u);
      ++text;
    }
    if (code < 0x80) {
      bytes[0] = (unsigned char)code;
      length = 1;
    } else if (code < 0x800) {
      bytes[0] = (unsigned char)(0xc0 | (code >> 6));
      bytes[1] = (unsigned char)(0x80 | (code & 0x3f));
      length = 2;
    } else if (code < 0x10000) {
      bytes[0] = (unsigned char)(0xe0 | (code >> 12));
      bytes[1] = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
      bytes[2] = (unsigned char)(0x80 | (code & 0x3f));
      length = 3;
    } else {
      bytes[0] = (unsigned char)(0xf0 | (code >> 18));
      bytes[1] = (unsigned char)(0x80 | ((code >> 12) & 0x3f));
      bytes[2] = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
      bytes[3] = (unsigned char)(0x80 | (code & 0x3f));
      length = 4;
    }
    if (used + length >= size) return -1;
    memcpy(out + used, bytes, length);
    used += length;
  }
  out[used] = '\0';
  return 0;
}

static provider_library load_provider(const WCHAR* path,
                                      LPWSPSTARTUP* startup) {
  char utf8[3 * MAX_PATH_UNITS];
  void* library;
  if (utf8_from_utf16(path, utf8, sizeof(utf8)) != 0) return NULL;
  /* For the base provider this is the object wsadup has already loaded
   * (docs/providers.md, "The base provider's path"): its WSPStartup reaches
   * the program's own engine. */
  library = dlopen(utf8, RTLD_NOW | RTLD_LOCAL);
  if (library != NULL) {
    /* POSIX guarantees that dlsym's object pointer converts to a function
     * pointer. */
    *startup = (LPWSPSTARTUP)dlsym(library, "WSPStartup");
  }
  return library;
}

static void unload_provider(provider_library library) { dlclose(library); }

static void count_call(volatile LONG* counter) {
  __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static LONG read_count(volatile LONG* counter) {
  return __atomic_load_n(counter, __ATOMIC_RELAXED);
}
#endif

/* -------------------------------------------------------------- counts -- */

enum counted_call {
  COUNT_STARTUP,
  COUNT_SOCKET,
  COUNT_DUPLICATE,
  COUNT_CLOSE,
  COUNT_EVENT_SELECT,
  COUNT_ENUM_NETWORK_EVENTS,
  COUNT_CLEANUP,
  COUNTED_CALLS
};

static const char* const counted_names[COUNTED_CALLS] = {
    "WSPStartup",     "WSPSocket",      "WSPDuplicateSocket",
    "WSPCloseSocket", "WSPEventSelect", "WSPEnumNetworkEvents",
    "WSPCleanup"};

static volatile LONG counts[COUNTED_CALLS];

/* The calls of that name that reached this layer in this process since it
 * was loaded; -1 for a name it does not count. */
LAYER_EXPORT LONG CountingLayerCount(const char* call);
LAYER_EXPORT LONG CountingLayerCount(const char* call) {
  int i;
  for (i = 0; i < COUNTED_CALLS; ++i) {
    if (strcmp(call, counted_names[i]) == 0) return read_count(&counts[i]);
  }
  return -1;
}

/* ------------------------------------------------------------- catalog -- */

/* This layer's own (hidden, layered) catalog entry, as its installer
 * registers it; Microsoft's samples build theirs in the same way.
 * examples/layered_handoff.c installs the layer under this GUID. */
static const GUID layered_provider_id = {
    0x5a3c0d1e,
    0x7b2f,
    0x4c61,
    {0x9e, 0x48, 0x21, 0xd7, 0x6a, 0x0b, 0x53, 0xc4}};

/* One of this layer's chains and what it needs to pass a call down. */
typedef struct layer_chain {
  WSAPROTOCOL_INFOW chain; /* the chain's own entry, as the catalog has it */
  WSAPROTOCOL_INFOW next;  /* the entry below this layer in the chain */
  /* What the next provider is given: its own entry when it is the base
   * provider, the chain's when it is another layer (which finds its own
   * place in the chain, as this one does). */
  WSAPROTOCOL_INFOW given;
} layer_chain;

#define MAX_CHAINS 16

static WSPUPCALLTABLE upcalls;
static WSPPROC_TABLE next_table;
static provider_library next_library;
static GUID next_provider_id;
static layer_chain chains[MAX_CHAINS];
static int chain_count;

static int same_guid(const GUID* a, const GUID* b) {
  return memcmp(a, b, sizeof(GUID)) == 0;
}

/* Every catalog entry, in a buffer to free; NULL on failure. */
static WSAPROTOCOL_INFOW* all_entries(int* count) {
  DWORD length = 0;
  int error = 0;
  WSAPROTOCOL_INFOW* entries;
  if (WSCEnumProtocols(NULL, NULL, &length, &error) != SOCKET_ERROR ||
      error != WSAENOBUFS) {
    return NULL;
  }
  entries = (WSAPROTOCOL_INFOW*)malloc(length);
  if (entries == NULL) return NULL;
  *count = WSCEnumProtocols(NULL, entries, &length, &error);
  if (*count == SOCKET_ERROR) {
    free(entries);
    return NULL;
  }
  return entries;
}

/* Finds this layer's entry in the catalog and every chain that has it above
 * another entry. Returns 0, or -1 when the layer is not installed. */
static int find_chains(void) {
  int count = 0, i, j;
  DWORD layered_id = 0;
  WSAPROTOCOL_INFOW* entries = all_entries(&count);
  if (entries == NULL) return -1;
  for (i = 0; i < count; ++i) {
    if (entries[i].ProtocolChain.ChainLen == LAYERED_PROTOCOL &&
        same_guid(&entries[i].ProviderId, &layered_provider_id)) {
      layered_id = entries[i].dwCatalogEntryId;
    }
  }
  chain_count = 0;
  for (i = 0; i < count && layered_id != 0 && chain_count < MAX_CHAINS; ++i) {
    const WSAPROTOCOLCHAIN* links = &entries[i].ProtocolChain;
    DWORD next_id = 0;
    int place;
    for (place = 0; place + 1 < links->ChainLen; ++place) {
      if (links->ChainEntries[place] == layered_id) {
        next_id = links->ChainEntries[place + 1];
        break;
      }
    }
    for (j = 0; j < count && next_id != 0; ++j) {
      if (entries[j].dwCatalogEntryId != next_id) continue;
      chains[chain_count].chain = entries[i];
      chains[chain_count].next = entries[j];
      chains[chain_count].given =
          entries[j].ProtocolChain.ChainLen == BASE_PROTOCOL ? entries[j]
                                                             : entries[i];
      ++chain_count;
      break;
    }
  }
  free(entries);
  return layered_id != 0 ? 0 : -1;
}

/* The chain with this catalog id whose next provider is the one loaded. */
static const layer_chain* chain_with_id(DWORD catalog_entry_id) {
  int i;
  for (i = 0; i < chain_count; ++i) {
    if (chains[i].chain.dwCatalogEntryId == catalog_entry_id &&
        same_guid(&chains[i].next.ProviderId, &next_provider_id)) {
      return &chains[i];
    }
  }
  return NULL;
}

/* The chain for a socket of this family, type and protocol. */
static const layer_chain* chain_for_socket(const WSAPROTOCOL_INFOW* info) {
  int i;
  for (i = 0; i < chain_count; ++i) {
    const WSAPROTOCOL_INFOW* entry = &chains[i].chain;
    if (entry->iAddressFamily == info->iAddressFamily &&
        entry->iSocketType == info->iSocketType &&
        entry->iProtocol == info->iProtocol &&
        same_guid(&chains[i].next.ProviderId, &next_provider_id)) {
      return &chains[i];
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ the layer -- */

static SOCKET WSPAPI layer_socket(int af, int type, int protocol,
                                  LPWSAPROTOCOL_INFOW info, GROUP group,
                                  DWORD flags, LPINT error) {
  const layer_chain* chain =
      info != NULL ? chain_with_id(info->dwCatalogEntryId) : NULL;
  WSAPROTOCOL_INFOW given;
  SOCKET s, owned;
  int ignored = 0;
  count_call(&counts[COUNT_SOCKET]);
  if (chain == NULL) {
    *error = WSAEINVALIDPROVIDER;
    return INVALID_SOCKET;
  }
  /* dwProviderReserved is what an import's token carries for the provider
   * that made it (0 for a new socket): it must reach the next provider. */
  given = chain->given;
  given.dwProviderReserved = info->dwProviderReserved;
  s = next_table.lpWSPSocket(af, type, protocol, &given, group, flags, error);
  if (s == INVALID_SOCKET) return INVALID_SOCKET;
  /* IFS: the next provider's handle becomes this layer's, so that the calls
   * on it come here. */
  owned = upcalls.lpWPUModifyIFSHandle(chain->chain.dwCatalogEntryId, s, error);
  if (owned == INVALID_SOCKET) next_table.lpWSPCloseSocket(s, &ignored);
  return owned;
}

static int WSPAPI layer_duplicate_socket(SOCKET s, DWORD process_id,
                                         LPWSAPROTOCOL_INFOW info,
                                         LPINT error) {
  const layer_chain* chain;
  DWORD reserved;
  count_call(&counts[COUNT_DUPLICATE]);
  if (next_table.lpWSPDuplicateSocket(s, process_id, info, error) != 0) {
    return SOCKET_ERROR;
  }
  /* The next provider filled in its own entry. The target routes the import
   * by the token's entry, so this layer writes its chain's over it and
   * keeps only dwProviderReserved, by which the next provider finds the
   * socket again, as Microsoft's sample does. */
  chain = chain_for_socket(info);
  if (chain != NULL) {
    reserved = info->dwProviderReserved;
    *info = chain->chain;
    info->dwProviderReserved = reserved;
  }
  return 0;
}

static int WSPAPI layer_close_socket(SOCKET s, LPINT error) {
  count_call(&counts[COUNT_CLOSE]);
  return next_table.lpWSPCloseSocket(s, error);
}

static int WSPAPI layer_event_select(SOCKET s, WSAEVENT event,
                                     long network_events, LPINT error) {
  count_call(&counts[COUNT_EVENT_SELECT]);
  return next_table.lpWSPEventSelect(s, event, network_events, error);
}

static int WSPAPI layer_enum_network_events(SOCKET s, WSAEVENT event,
                                            LPWSANETWORKEVENTS network_events,
                                            LPINT error) {
  count_call(&counts[COUNT_ENUM_NETWORK_EVENTS]);
  return next_table.lpWSPEnumNetworkEvents(s, event, network_events, error);
}

static int WSPAPI layer_cleanup(LPINT error) {
  int status;
  count_call(&counts[COUNT_CLEANUP]);
  status = next_table.lpWSPCleanup(error);
  unload_provider(next_library);
  next_library = NULL;
  return status;
}

LAYER_EXPORT int WSPAPI WSPStartup(WORD version, LPWSPDATA data,
                                   LPWSAPROTOCOL_INFOW info,
                                   WSPUPCALLTABLE upcall_table,
                                   LPWSPPROC_TABLE table) {
  const layer_chain* chain = NULL;
  WSAPROTOCOL_INFOW given;
  LPWSPSTARTUP next_startup = NULL;
  WCHAR path[MAX_PATH_UNITS];
  int path_length = MAX_PATH_UNITS, error = 0, i, status;
  count_call(&counts[COUNT_STARTUP]);
  upcalls = upcall_table;
  /* Started for one of its chains: the next provider is the one below this
   * layer there. */
  if (find_chains() != 0) return WSAEPROVIDERFAILEDINIT;
  for (i = 0; i < chain_count; ++i) {
    if (chains[i].chain.dwCatalogEntryId == info->dwCatalogEntryId) {
      chain = &chains[i];
    }
  }
  if (chain == NULL) return WSAEPROVIDERFAILEDINIT;
  next_provider_id = chain->next.ProviderId;
  given = chain->given;
  if (upcalls.lpWPUGetProviderPath(&next_provider_id, path, &path_length,
                                   &error) != 0) {
    return WSAEPROVIDERFAILEDINIT;
  }
  next_library = load_provider(path, &next_startup);
  if (next_startup == NULL) {
    if (next_library != NULL) unload_provider(next_library);
    next_library = NULL;
    return WSAEPROVIDERFAILEDINIT;
  }
  status = next_startup(version, data, &given, upcall_table, &next_table);
  if (status != 0) {
    unload_provider(next_library);
    next_library = NULL;
    return status;
  }
  *table = next_table;
  table->lpWSPSocket = layer_socket;
  table->lpWSPDuplicateSocket = layer_duplicate_socket;
  table->lpWSPCloseSocket = layer_close_socket;
  table->lpWSPEventSelect = layer_event_select;
  table->lpWSPEnumNetworkEvents = layer_enum_network_events;
  table->lpWSPCleanup = layer_cleanup;
  return 0;
}
