// WSAEventSelect and WSAEnumNetworkEvents through the entry that owns the
// socket, as ws2_32 hands them to the owner's WSPEventSelect and
// WSPEnumNetworkEvents once it has checked WSAStartup and the handle
// (ReactOS's ws2_32 event.c does the same two checks, nothing more).
// event_select.cc calls in here only once a provider has been installed.
//
// A layer's handle is the base's descriptor (IFS) or a placeholder of its
// own (non-IFS); either way the base's table entries register the
// descriptor they are given, so one socket keeps one registration whatever
// chain its holders reach it through.
#include "posix/provider.h"

namespace wsadup::detail {
namespace {

// The started table of the entry that owns s, or nullptr when the base owns
// it or its owner cannot be reached any more (deinstalled, or failing to
// start): then the engine registers the descriptor itself, as closesocket
// closes it itself.
const WSPPROC_TABLE* owner_table(SOCKET s) {
  DWORD owner = owner_of(s);
  if (owner == 0) return nullptr;
  int ignored = 0;
  return started_provider_for_entry(owner, &ignored);
}

}  // namespace

bool route_event_select(SOCKET s, WSAEVENT event, long network_events,
                        int* error) {
  const WSPPROC_TABLE* table = owner_table(s);
  if (table == nullptr) return false;
  int provider_status = 0;
  int status =
      table->lpWSPEventSelect(s, event, network_events, &provider_status);
  *error = status == 0 ? 0 : provider_error(provider_status);
  return true;
}

bool route_enum_network_events(SOCKET s, WSAEVENT event,
                               LPWSANETWORKEVENTS network_events, int* error) {
  const WSPPROC_TABLE* table = owner_table(s);
  if (table == nullptr) return false;
  int provider_status = 0;
  int status =
      table->lpWSPEnumNetworkEvents(s, event, network_events, &provider_status);
  *error = status == 0 ? 0 : provider_error(provider_status);
  return true;
}

}  // namespace wsadup::detail
