// WSAAddressToString and WSAStringToAddress through the catalog, as ws2_32
// hands them to a provider: the entry the protocol info names (by
// dwCatalogEntryId), else the first entry in catalog order for the address
// family, a chain before the base entry it ends in. The provider is given
// that entry's own WSAPROTOCOL_INFOW (a chain's, for a layer); a layer
// passes its next provider the base's entry when that is the base, as the
// reference says of WSPAddressToString and WSPStringToAddress.
// address_string.cc calls in here only once a provider has been installed.
#include "posix/provider.h"

namespace wsadup::detail {
namespace {

// The started table of the installed entry that serves the call, with that
// entry in *entry; nullptr when it is a built-in entry (the engine answers)
// or, with *error set, when the named entry does not exist or cannot start.
const WSPPROC_TABLE* conversion_table(const WSAPROTOCOL_INFOW* info,
                                      int family, WSAPROTOCOL_INFOW* entry,
                                      int* error) {
  *error = 0;
  if (info != nullptr) {
    if (!find_entry(info->dwCatalogEntryId, entry)) {
      *error = WSAEINVAL;
      return nullptr;
    }
  } else if (!find_entry_for_triplet(family, 0, 0, entry)) {
    return nullptr;  // no entry for it: the engine says WSAEINVAL
  }
  if (is_builtin_entry(entry->dwCatalogEntryId)) return nullptr;
  return started_provider_for_entry(entry->dwCatalogEntryId, error);
}

}  // namespace

bool route_address_to_string(const sockaddr* address, DWORD length,
                             const WSAPROTOCOL_INFOW* info, WCHAR* text,
                             DWORD* text_length, int* result, int* error) {
  WSAPROTOCOL_INFOW entry;
  const WSPPROC_TABLE* table =
      conversion_table(info, address->sa_family, &entry, error);
  if (table == nullptr) {
    *result = *error == 0 ? 0 : SOCKET_ERROR;
    return *error != 0;
  }
  int provider_status = 0;
  *result = table->lpWSPAddressToString(const_cast<sockaddr*>(address),
                                        length, &entry, text, text_length,
                                        &provider_status);
  *error = *result == 0 ? 0 : provider_error(provider_status);
  return true;
}

bool route_string_to_address(const WCHAR* text, int family,
                             const WSAPROTOCOL_INFOW* info, sockaddr* address,
                             int* length, int* result, int* error) {
  WSAPROTOCOL_INFOW entry;
  const WSPPROC_TABLE* table = conversion_table(info, family, &entry, error);
  if (table == nullptr) {
    *result = *error == 0 ? 0 : SOCKET_ERROR;
    return *error != 0;
  }
  int provider_status = 0;
  *result = table->lpWSPStringToAddress(const_cast<WCHAR*>(text), family,
                                        &entry, address, length,
                                        &provider_status);
  *error = *result == 0 ? 0 : provider_error(provider_status);
  return true;
}

}  // namespace wsadup::detail
