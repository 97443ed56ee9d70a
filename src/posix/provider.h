// Private declarations of the provider side (ws2spi.h):
//   provider_catalog.cc   the catalog: entries, install, enumeration, the
//                         catalog file, starting and cleaning up providers
//   provider_upcalls.cc   WPU*: which entry owns a descriptor, handle context
//   provider_base.cc      wsadup's engine as the base provider (its WSPStartup
//                         and 30-entry table) and the path that reaches it
//   provider_route.cc     WSASocket, WSADuplicateSocket and closesocket
//                         through a layered entry (token.cc seals the token)
//   provider_route_events.cc  WSAEventSelect and WSAEnumNetworkEvents through
//                         the entry that owns the socket
//   provider_route_address.cc  WSAAddressToString and WSAStringToAddress
//                         through the entry for the address family
// docs/providers.md says how they fit.
#ifndef WSADUP_SRC_POSIX_PROVIDER_H
#define WSADUP_SRC_POSIX_PROVIDER_H

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "posix/internal.h"
#include "wsadup/ws2spi.h"

namespace wsadup::detail {

// ----------------------------------------------------------- fast path --

// True from the first install of a provider other than the built-in base
// entries in this process on. Until then WSASocket, WSADuplicateSocket and
// closesocket go straight to the engine after this one relaxed load.
// So do WSAEventSelect and WSAEnumNetworkEvents.
extern std::atomic<bool> g_layers_installed;
inline bool layers_installed() {
  return g_layers_installed.load(std::memory_order_relaxed);
}

// The built-in base entries' catalog ids (token.cc fills the same values).
constexpr DWORD kFirstInstalledEntryId = 1008;
inline bool is_builtin_entry(DWORD id) { return id >= 1000 && id < 1008; }

// ---------------------------------------------------- the engine (api.cc) --
// The base provider's work, shared by the exported calls and the base
// provider's table. Each returns 0 or a Winsock error code and never sets
// the last error.
int engine_create_socket(int af, int type, int protocol, DWORD flags,
                         SOCKET* created);
int engine_import_socket(const TokenRecord& record, DWORD flags,
                         SOCKET* imported);
int engine_duplicate_socket(SOCKET s, DWORD pid, WSAPROTOCOL_INFOW* info,
                            TokenRecord* record);
// Closes s after closesocket's own checks; cancel_registration_on_close has
// already run.
int engine_close_socket(SOCKET s);
// WSAEventSelect's and WSAEnumNetworkEvents' work after ws2_32's own checks
// (WSAStartup, s a socket), in event_select.cc: the registration is the
// socket's, whichever entry owns s.
int engine_event_select(SOCKET s, WSAEVENT event, long network_events);
int engine_enum_network_events(SOCKET s, WSAEVENT event,
                               LPWSANETWORKEVENTS network_events);
// The address conversions, in address_string.cc: Windows' text forms of
// IPv4 and IPv6 socket addresses. A too short *text_length or *length is
// set to what is needed (WSAEFAULT).
int engine_address_to_string(const sockaddr* address, DWORD length,
                             std::string* text);
int engine_string_to_address(const std::string& text, int family,
                             sockaddr* address, int* length);
int engine_address_to_string_w(const sockaddr* address, DWORD length,
                               WCHAR* text, DWORD* text_length);
int engine_string_to_address_w(const WCHAR* text, int family,
                               sockaddr* address, int* length);

// --------------------------------------------------------------- catalog --

struct Provider;

// A catalog entry's provider, started (WSPStartup) on first use in the
// process. Returns its table, or nullptr with *error set.
const WSPPROC_TABLE* started_provider_for_entry(DWORD catalog_entry_id,
                                                int* error);
// The entry with this id, copied into *info; false when there is none.
bool find_entry(DWORD catalog_entry_id, WSAPROTOCOL_INFOW* info);
// The first entry in catalog order a WSASocket(af, type, protocol, NULL)
// would use, as ws2_32 picks one; false when no entry matches.
bool find_entry_for_triplet(int af, int type, int protocol,
                            WSAPROTOCOL_INFOW* info);

// The first WSAStartup of a process (count 0 -> 1): installs what the
// catalog file names (docs/providers.md). The last WSACleanup: WSPCleanup
// once for every successful WSPStartup, and the handle table is forgotten.
void providers_at_startup();
void providers_at_cleanup();
// Held across fork() (process_state.cc), so that a child never inherits the
// catalog half changed by another thread.
std::recursive_mutex& catalog_mutex();
// In a forked child, instead of unlocking it.
void reset_catalog_mutex_after_fork();

// ------------------------------------------------------------- upcalls --

// The entry that owns s through WPUModifyIFSHandle or WPUCreateSocketHandle
// of an installed (non-built-in) entry; 0 when the base owns it.
DWORD owner_of(SOCKET s);
// closesocket(s) through its owner returned: s is no longer owned.
void forget_owner(SOCKET s);
void forget_all_owners();
const WSPUPCALLTABLE& upcall_table();

// ------------------------------------------------------------ the base --

// The base provider's WSPStartup: what the base entries' path reaches.
int base_wsp_startup(WORD requested, LPWSPDATA data,
                     LPWSAPROTOCOL_INFOW protocol_info, WSPUPCALLTABLE upcalls,
                     LPWSPPROC_TABLE table);
// The path WSCGetProviderPath reports for the base entries: a shared object
// whose WSPStartup is base_wsp_startup of this process. Empty when it could
// not be made (docs/providers.md says when).
std::string base_provider_path();

// What the base provider saw, for the conformance suite.
struct BaseObservations {
  int startups = 0;
  int cleanups = 0;
  WSAPROTOCOL_INFOW startup_info{};
  int sockets = 0;
  WSAPROTOCOL_INFOW socket_info{};
  bool socket_had_info = false;
  int duplicates = 0;
  int closes = 0;
  int event_selects = 0;
  int enum_network_events = 0;
  int conversions = 0;  // WSPAddressToString and WSPStringToAddress
  WSAPROTOCOL_INFOW conversion_info{};
  bool conversion_had_info = false;
};
BaseObservations base_observations();

// An import in progress through a layered entry: the base's WSPSocket
// recognises the token by dwProviderReserved == key alone, and takes the
// record from here (a layer may have replaced every other field).
struct ImportContext {
  DWORD key = 0;
  TokenRecord record;
};
void set_import_context(const ImportContext* context);

// The record the base's WSPDuplicateSocket made on this thread, by key;
// false when it made none since clear_duplicate_record().
void clear_duplicate_record();
bool take_duplicate_record(DWORD key, TokenRecord* record);

// --------------------------------------------------------------- route --

// A provider's SOCKET_ERROR that sets no code is reported as
// WSASYSCALLFAILURE, as ws2_32 does.
inline int provider_error(int error) {
  return error != 0 ? error : WSASYSCALLFAILURE;
}

// Each returns true when the call went through an installed entry; the
// result (0, a socket, or SOCKET_ERROR) is in *result and a failure's code
// in *error. false: the engine handles the call as before.
bool route_socket(int af, int type, int protocol,
                  const WSAPROTOCOL_INFOW* info, GROUP group, DWORD flags,
                  SOCKET* result, int* error);
bool route_duplicate(SOCKET s, DWORD pid, WSAPROTOCOL_INFOW* info,
                     int* error);
bool route_close(SOCKET s, int* error);
bool route_event_select(SOCKET s, WSAEVENT event, long network_events,
                        int* error);
bool route_enum_network_events(SOCKET s, WSAEVENT event,
                               LPWSANETWORKEVENTS network_events, int* error);
// WSAAddressToStringW and WSAStringToAddressW through the entry info names,
// else the first entry for the address family (provider_route_address.cc).
// The pointers are not NULL: the exported calls check them first.
bool route_address_to_string(const sockaddr* address, DWORD length,
                             const WSAPROTOCOL_INFOW* info, WCHAR* text,
                             DWORD* text_length, int* result, int* error);
bool route_string_to_address(const WCHAR* text, int family,
                             const WSAPROTOCOL_INFOW* info, sockaddr* address,
                             int* length, int* result, int* error);

// A and W forms of one entry: numeric fields as they are, szProtocol element
// by element (a WCHAR above 255 becomes '?').
void widen_info(const WSAPROTOCOL_INFOA& from, WSAPROTOCOL_INFOW* to);
void narrow_info(const WSAPROTOCOL_INFOW& from, WSAPROTOCOL_INFOA* to);

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_PROVIDER_H
